"""Tables of the contactability domain: legal opt-outs, the query log, the last state pushed to
campaign tools, and the signed webhooks that push it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cuida.db.base import Base, BigId, JsonDoc, UtcDateTime

# Purposes a caller asks about; "all" exists only for opt-outs (out of everything, service too).
PURPOSES = ("marketing", "sales", "service")
PREFERENCE_PURPOSES = ("marketing", "sales", "all")
DELIVERY_STATUSES = ("pending", "sent", "failed")


class ContactPreference(Base):
    """A customer's legal choice for one purpose: opted out since `opted_out_at`, or back in."""

    __tablename__ = "contact_preferences"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(16))  # PREFERENCE_PURPOSES
    opted_out_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # null: opted (back) in
    opted_in_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    source: Mapped[str] = mapped_column(String(200))  # where the choice was made: "web form", "call"...
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (UniqueConstraint("customer_id", "purpose"),)


class ContactabilityQuery(Base):
    """Every question asked, who asked it and what they were told (an audit log)."""

    __tablename__ = "contactability_queries"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    principal_type: Mapped[str] = mapped_column(String(16))  # agent | token
    principal_id: Mapped[int | None] = mapped_column(BigId)
    principal_name: Mapped[str | None] = mapped_column(String(300))
    identity: Mapped[str | None] = mapped_column(String(400))  # as asked, before normalising
    customer_id: Mapped[int | None] = mapped_column(BigId)  # null when the identity is unknown
    purpose: Mapped[str] = mapped_column(String(16))
    contactable: Mapped[bool | None] = mapped_column(Boolean)  # null: unknown identity (404)
    reasons: Mapped[list[str]] = mapped_column(JsonDoc, default=list)  # reason codes
    until: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_contactability_queries_customer_at", "customer_id", "at"),)


class ContactabilityState(Base):
    """The last answer pushed for (customer, purpose): a flip against it is pushed again. No row:
    never pushed, so contactable (what a campaign tool assumes of a customer it was never told of)."""

    __tablename__ = "contactability_state"
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16), primary_key=True)
    contactable: Mapped[bool] = mapped_column(Boolean)
    until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    reasons: Mapped[list[str]] = mapped_column(JsonDoc, default=list)
    computed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    pushed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class WebhookSubscription(Base):
    __tablename__ = "webhook_subscriptions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(200))  # HMAC-SHA256 key; the receiver holds it too
    events: Mapped[list[str]] = mapped_column(JsonDoc, default=list)
    description: Mapped[str | None] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class WebhookDelivery(Base):
    """One event for one subscription; its id is the idempotency key the receiver sees."""

    __tablename__ = "webhook_deliveries"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, object]] = mapped_column(JsonDoc, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # DELIVERY_STATUSES
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_webhook_deliveries_subscription_status", "subscription_id", "status"),)
