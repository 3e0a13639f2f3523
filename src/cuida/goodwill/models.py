"""Tables of the goodwill domain: authority limits per role and kind, and the gestures themselves."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cuida.db.base import Base, BigId, UtcDateTime

KINDS = ("refund", "replacement", "gift", "discount", "upgrade", "other")
STATUSES = ("granted", "pending_approval", "approved", "rejected")
# Gestures that were actually given (and cost money).
GIVEN = ("granted", "approved")
CURRENCY = "EUR"


class GoodwillLimit(Base):
    """How much one role may give on its own authority; null means no limit."""

    __tablename__ = "goodwill_limits"
    __table_args__ = (UniqueConstraint("role", "kind"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    role: Mapped[str] = mapped_column(String(16))  # agent, lead, manager, admin
    kind: Mapped[str] = mapped_column(String(32))  # KINDS
    per_gesture_limit: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    per_month_limit: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(String(3), default=CURRENCY)
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class GoodwillGesture(Base):
    """A refund, replacement, gift... given to a customer, with who asked and who authorised it."""

    __tablename__ = "goodwill_gestures"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text)
    cost: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(String(3), default=CURRENCY)
    status: Mapped[str] = mapped_column(String(20))  # STATUSES
    reason: Mapped[str | None] = mapped_column(Text)  # why the requester gave it
    # The requester: an agent, or an integration token (tokens have no agent row).
    requested_by_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    requested_by_token_id: Mapped[int | None] = mapped_column(
        ForeignKey("api_tokens.id", ondelete="SET NULL")
    )
    requested_by_name: Mapped[str | None] = mapped_column(String(200))
    # The role whose limits were applied when it was recorded (roles change; the decision must not).
    requested_role: Mapped[str | None] = mapped_column(String(16))
    # Who approved or rejected it; empty for a gesture granted on the requester's own authority.
    decided_by_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    decided_by_token_id: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id", ondelete="SET NULL"))
    decided_by_name: Mapped[str | None] = mapped_column(String(200))
    decision_note: Mapped[str | None] = mapped_column(Text)
    # The customer's value (lifetime_value, else attributes["value"]) when it was recorded, so the
    # report can tell whether they bought again afterwards.
    customer_value_before: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        Index("ix_goodwill_gestures_created", "created_at"),
        Index("ix_goodwill_gestures_status", "status"),
    )
