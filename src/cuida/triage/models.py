"""Agents' corrections of triage labels: the company's own training data."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cuida.db.base import Base, BigId, JsonDoc, UtcDateTime


class TriageCorrection(Base):
    __tablename__ = "triage_corrections"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    # "sentiment", "complaint", "intent:churn_threat", "toxicity:insult", "emotion", "urgency", ...
    field: Mapped[str] = mapped_column(String(64))
    value: Mapped[object] = mapped_column(JsonDoc)
    previous: Mapped[object | None] = mapped_column(JsonDoc)
    text: Mapped[str] = mapped_column(Text)  # what was judged, so training survives edits
    language: Mapped[str] = mapped_column(String(8))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
