"""Commitments: a promise to a customer, who owns it and when it falls due."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cuida.db.base import Base, BigId, UtcDateTime

STATUSES = ("proposed", "open", "fulfilled", "cancelled")


class Commitment(Base):
    __tablename__ = "commitments"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="SET NULL"))
    # The reply that made the promise, when it came from one.
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)  # what was promised, in words
    source_text: Mapped[str | None] = mapped_column(Text)  # the sentence that made the promise
    kind: Mapped[str] = mapped_column(String(32))  # contact, callback, refund, replacement, visit, other
    channel: Mapped[str | None] = mapped_column(String(32))  # the promised contact's channel, if any
    status: Mapped[str] = mapped_column(String(16))  # STATUSES
    owner_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    owner_team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    fulfilled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    overdue_alerted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_commitments_status_due", "status", "due_at"),)
