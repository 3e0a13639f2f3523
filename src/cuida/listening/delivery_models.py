"""The outbox of crisis alerts sent beyond the workspace: one row per alert, level and step (raised,
escalated), holding the email exactly as it will be sent, so a retry sends the same thing and a
repeated raise finds the row and sends nothing."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cuida.db.base import Base, BigId, JsonDoc, UtcDateTime

DELIVERY_STEPS = ("raised", "escalated")
# pending: to send (or being retried); sent: the SMTP server took it; failed: refused for good or out
# of attempts; skipped: nobody to write to, or no email account that can send.
DELIVERY_STATUSES = ("pending", "sent", "failed", "skipped")


class AlertDelivery(Base):
    __tablename__ = "listening_alert_deliveries"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("listening_alerts.id", ondelete="CASCADE"))
    level: Mapped[int] = mapped_column(Integer)
    step: Mapped[str] = mapped_column(String(16))  # DELIVERY_STEPS
    status: Mapped[str] = mapped_column(String(16))  # DELIVERY_STATUSES
    account_id: Mapped[int | None] = mapped_column(ForeignKey("channel_accounts.id", ondelete="SET NULL"))
    agent_ids: Mapped[list[int]] = mapped_column(JsonDoc, default=list)
    recipients: Mapped[list[str]] = mapped_column(JsonDoc, default=list)
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    webhooks: Mapped[int] = mapped_column(Integer, default=0)  # webhook deliveries enqueued with it
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        UniqueConstraint("alert_id", "level", "step"),
        Index("ix_listening_alert_deliveries_status_next", "status", "next_attempt_at"),
    )
