"""Understanding each message on arrival: `analyze(text) -> Analysis`."""

from cuida.triage.service import Analysis, analyze

__all__ = ["Analysis", "analyze"]
