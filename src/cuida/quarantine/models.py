"""Tables of the quarantine domain: inbound webhook channels, the signatures they have seen
(replay protection) and the quarantine of payloads that could not be parsed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cuida.db.base import Base, BigId, JsonDoc, UtcDateTime


class InboundWebhook(Base):
    """A signed endpoint, POST /api/v1/webhooks/{slug}, that posts messages as one channel."""

    __tablename__ = "inbound_webhooks"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    # A shared secret, not a password: the HMAC needs the key itself, so it cannot be hashed.
    secret: Mapped[str] = mapped_column(String(200))
    # After a rotation the old secret may stay valid for a grace period, so senders can switch over.
    previous_secret: Mapped[str | None] = mapped_column(String(200))
    previous_secret_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    channel: Mapped[str] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    secret_rotated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(String(2000))


class WebhookSignatureSeen(Base):
    """Signatures accepted in the last minutes: the same (webhook, signature) again is a replay."""

    __tablename__ = "inbound_webhook_signatures"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("inbound_webhooks.id", ondelete="CASCADE"))
    signature: Mapped[str] = mapped_column(String(128))
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        Index("uq_inbound_webhook_signatures_webhook_signature", "webhook_id", "signature", unique=True),
        Index("ix_inbound_webhook_signatures_seen_at", "seen_at"),
    )


class QuarantinedPayload(Base):
    """A payload that reached us but could not be turned into messages. The raw bytes are kept
    as they came (never decoded, never lost); an agent reprocesses or discards it."""

    __tablename__ = "quarantine"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # What brought it: "webhook" for the signed endpoint; other adapters use their own name and
    # may register a parser for reprocessing (cuida.quarantine.service.register_parser).
    source: Mapped[str] = mapped_column(String(64))
    source_ref: Mapped[str | None] = mapped_column(String(300))  # e.g. the webhook's slug
    webhook_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_webhooks.id", ondelete="SET NULL"))
    channel: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    preview: Mapped[str] = mapped_column(String(300))  # lists show this, never load `raw`
    content_type: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="new")  # new | reprocessed | discarded
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(300))
    message_ids: Mapped[list[int]] = mapped_column(JsonDoc, default=list)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_quarantine_status_id", "status", "id"),
        Index("ix_quarantine_source_id", "source", "id"),
    )
