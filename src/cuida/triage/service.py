"""Triage entry point: `analyze(text) -> Analysis`."""

from __future__ import annotations

from cuida.triage.language import detect
from cuida.triage.schemas import EMOTIONS, INTENTS, Analysis, Complaint, Sentiment, Toxicity, Urgency


def analyze(text: str) -> Analysis:
    language, confidence = detect(text)
    return Analysis(
        language=language,
        language_scores={language: round(confidence, 4)},
        sentiment=Sentiment(label="neutral", scores={"negative": 0.0, "neutral": 1.0, "positive": 0.0}),
        complaint=Complaint(label=False, probability=0.0),
        intents={name: 0.0 for name in INTENTS},
        toxicity=Toxicity(insult=0.0, threat=0.0, profanity=0.0),
        urgency=Urgency(label="normal"),
        emotion={name: 0.0 for name in EMOTIONS},
        reasons={"language": [f"py3langid {confidence:.2f}"]},
    )


__all__ = ["Analysis", "analyze"]
