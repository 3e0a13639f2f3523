"""A notification for one agent (in the workspace; email and webhooks are sent from it)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cuida.db.base import Base, BigId, JsonDoc, UtcDateTime


class Notification(Base):
    __tablename__ = "notifications"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(64))  # "sla.warning", "sla.breached", "commitment.due", ...
    text: Mapped[str] = mapped_column(Text)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    payload: Mapped[dict[str, object]] = mapped_column(JsonDoc, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_notifications_agent_unread", "agent_id", "read_at"),)
