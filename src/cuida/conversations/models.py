"""Conversations, their messages, and the outbox of replies to deliver."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cuida.db.base import Base, BigId, JsonDoc, UtcDateTime

STATUSES = ("open", "pending", "snoozed", "resolved")
PRIORITIES = ("low", "normal", "high", "urgent")  # stored as their index, so sorting is numeric
DIRECTIONS = ("in", "out", "note")
# Pipeline stages of an inbound message; each is committed before the next begins.
STAGES = ("received", "linked", "done")
DELIVERY_STATUSES = ("pending", "sent", "failed")


class Conversation(Base):
    __tablename__ = "conversations"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    channels: Mapped[list[str]] = mapped_column(JsonDoc, default=list)
    status: Mapped[str] = mapped_column(String(16), default="open")
    priority: Mapped[int] = mapped_column(Integer, default=1)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"), index=True)
    subject: Mapped[str | None] = mapped_column(String(300))
    risk_score: Mapped[float] = mapped_column(Float, default=0.0)
    is_public: Mapped[bool] = mapped_column(Boolean, default=False)
    tags: Mapped[list[str]] = mapped_column(JsonDoc, default=list)  # set by agents or automation rules
    message_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_message_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_inbound_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    first_response_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


Index("ix_conversations_status_updated", Conversation.status, Conversation.updated_at)
Index("ix_conversations_customer_status", Conversation.customer_id, Conversation.status)
Index("ix_conversations_team_status_risk", Conversation.team_id, Conversation.status, Conversation.risk_score)


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(300))
    direction: Mapped[str] = mapped_column(String(8))
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    author_identity_id: Mapped[int | None] = mapped_column(ForeignKey("identities.id"))
    author_value: Mapped[str | None] = mapped_column(String(320))
    author_name: Mapped[str | None] = mapped_column(String(300))
    author_followers: Mapped[int | None] = mapped_column(Integer)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text, default="")
    html: Mapped[str | None] = mapped_column(Text)
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    in_reply_to: Mapped[str | None] = mapped_column(String(300))
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    raw: Mapped[dict[str, object] | None] = mapped_column(JsonDoc)
    meta: Mapped[dict[str, object]] = mapped_column(JsonDoc, default=dict)
    language: Mapped[str | None] = mapped_column(String(8))
    triage: Mapped[dict[str, object] | None] = mapped_column(JsonDoc)
    search_text: Mapped[str] = mapped_column(Text, default="")
    # Pipeline bookkeeping: the database, not the queue, says what is done (see jobs/).
    stage: Mapped[str] = mapped_column(String(16), default="received")
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    enqueued_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    processed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


Index("ix_messages_stage", Message.stage, Message.enqueued_at)
Index("ix_messages_customer_occurred", Message.customer_id, Message.occurred_at)
Index("ix_messages_conversation_occurred", Message.conversation_id, Message.occurred_at)
# Newest first across every conversation: the inbox search for a common word (0015_ui_indexes).
Index("ix_messages_occurred", Message.occurred_at, Message.id)


class Delivery(Base):
    """One outbound message waiting for, or done with, its channel adapter (the outbox)."""

    __tablename__ = "deliveries"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), unique=True)
    channel: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    provider_id: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


Index("ix_deliveries_due", Delivery.status, Delivery.next_attempt_at)
