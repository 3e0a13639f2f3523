"""The append-only events table: the audit log and the source of every live update."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from cuida.db.base import Base, BigId, JsonDoc, UtcDateTime


class Event(Base):
    __tablename__ = "events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column()
    actor_name: Mapped[str | None] = mapped_column(String(200))
    customer_id: Mapped[int | None] = mapped_column()
    conversation_id: Mapped[int | None] = mapped_column()
    message_id: Mapped[int | None] = mapped_column()
    payload: Mapped[dict[str, object]] = mapped_column(JsonDoc, default=dict)


Index("ix_events_customer", Event.customer_id, Event.id)
Index("ix_events_conversation", Event.conversation_id, Event.id)
