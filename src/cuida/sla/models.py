"""Tables of the sla domain: calendars, policies, and the clocks running on conversations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from cuida.db.base import Base, BigId, JsonDoc, UtcDateTime

CLOCK_KINDS = ("first_response", "next_response", "resolution")


class SlaCalendar(Base):
    __tablename__ = "business_calendars"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    timezone: Mapped[str] = mapped_column(String(64))
    # {"mon": [["09:00", "18:00"]], ...} in local wall time
    hours: Mapped[dict[str, list[list[str]]]] = mapped_column(JsonDoc, default=dict)
    holidays: Mapped[list[str]] = mapped_column(JsonDoc, default=list)  # ISO dates
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SlaPolicy(Base):
    __tablename__ = "sla_policies"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    position: Mapped[int] = mapped_column(Integer, default=100)  # first matching by position wins
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    conditions: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    first_response_minutes: Mapped[int | None] = mapped_column(Integer)
    next_response_minutes: Mapped[int | None] = mapped_column(Integer)
    resolution_minutes: Mapped[int | None] = mapped_column(Integer)
    calendar_id: Mapped[int | None] = mapped_column(ForeignKey("business_calendars.id", ondelete="SET NULL"))
    risk_factors: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    escalation: Mapped[list[dict[str, Any]]] = mapped_column(JsonDoc, default=list)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SlaClock(Base):
    """One deadline on a conversation. Restarting a kind reuses its row; the events keep history."""

    __tablename__ = "sla_clocks"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("sla_policies.id", ondelete="SET NULL"))
    policy_name: Mapped[str] = mapped_column(String(200))
    # Snapshots taken when the clock starts, so editing a policy never moves a running deadline.
    calendar: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    ladder: Mapped[list[dict[str, Any]]] = mapped_column(JsonDoc, default=list)
    generation: Mapped[int] = mapped_column(Integer, default=1)  # bumped on each restart
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    base_target_minutes: Mapped[float] = mapped_column(Float)
    target_minutes: Mapped[float] = mapped_column(Float)  # after risk tightening
    base_due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    factor: Mapped[float] = mapped_column(Float, default=1.0)
    reasons: Mapped[list[str]] = mapped_column(JsonDoc, default=list)
    paused_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    paused_minutes: Mapped[float] = mapped_column(Float, default=0.0)  # business minutes spent paused
    met_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    breached_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    level: Mapped[int] = mapped_column(Integer, default=0)  # ladder steps reached (1 = first step)
    # The visible marks: one per ladder step reached, with when it was due and when it fired.
    marks: Mapped[list[dict[str, Any]]] = mapped_column(JsonDoc, default=list)

    __table_args__ = (UniqueConstraint("conversation_id", "kind"),)


# Running clocks by due time, carrying what the board and inbox test (see migration 0020).
_RUNNING = text("met_at IS NULL AND cancelled_at IS NULL")
Index(
    "ix_sla_clocks_running_due",
    SlaClock.due_at,
    SlaClock.conversation_id,
    SlaClock.breached_at,
    SlaClock.paused_at,
    sqlite_where=_RUNNING,
    postgresql_where=_RUNNING,
)
