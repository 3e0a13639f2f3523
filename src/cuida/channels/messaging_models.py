"""Receipts the messaging providers send about our replies (WhatsApp statuses), and the index
that finds a delivery by the provider's id of what it sent."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cuida.conversations.models import Delivery
from cuida.db.base import Base, BigId, UtcDateTime


class DeliveryReceipt(Base):
    """One state a provider reported for a delivery (sent, delivered, read, failed), kept once."""

    __tablename__ = "delivery_receipts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (Index("uq_delivery_receipts_delivery_status", "delivery_id", "status", unique=True),)


# Status webhooks and replies to our messages name what we sent by the provider's id.
Index("ix_deliveries_channel_provider_id", Delivery.channel, Delivery.provider_id)
