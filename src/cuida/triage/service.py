"""Triage entry point. The triage issue fills in sentiment, intents, toxicity and entities."""

from __future__ import annotations

from cuida.triage.language import detect
from cuida.triage.schemas import Analysis


def analyze(text: str) -> Analysis:
    language, confidence = detect(text)
    return Analysis(
        language=language,
        language_scores={language: round(confidence, 4)},
        reasons={"language": [f"py3langid {confidence:.2f}"]},
    )


__all__ = ["Analysis", "analyze"]
