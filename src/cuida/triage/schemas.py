"""The result of triage, as stored on each message and returned by the API."""

from __future__ import annotations

from pydantic import BaseModel, Field

LANGUAGES = ("es", "en", "pt", "ca", "other")


class Analysis(BaseModel):
    language: str = Field(description="es, en, pt, ca or other")
    language_scores: dict[str, float] = Field(default_factory=dict)
    reasons: dict[str, list[str]] = Field(default_factory=dict)
    version: str = "1"
