"""Understanding each message on arrival: `analyze(text) -> Analysis`; reviewing a reply draft
before it is sent: `review_reply(draft, context) -> ReplyReview`.

Imported lazily: loading the model is work the API process only does when it triages."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cuida.triage.schemas import Analysis
    from cuida.triage.service import analyze
    from cuida.triage.tone import ReplyContext, ReplyReview, review_reply

__all__ = ["Analysis", "ReplyContext", "ReplyReview", "analyze", "review_reply"]


def __getattr__(name: str) -> Any:
    if name == "analyze":
        from cuida.triage import service

        return service.analyze
    if name == "Analysis":
        from cuida.triage import schemas

        return schemas.Analysis
    if name in ("review_reply", "ReplyContext", "ReplyReview"):
        from cuida.triage import tone

        return getattr(tone, name)
    raise AttributeError(f"module 'cuida.triage' has no attribute {name!r}")
