"""Tables of listening: brand mentions (public posts), their engagement snapshots, and crisis alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cuida.db.base import Base, BigId, JsonDoc, UtcDateTime

ALERT_STATUSES = ("open", "acknowledged")
ALERT_KINDS = ("reach", "spike")
# 1 "watch": only the upper bound of the forecast (or the risk score) crosses a line;
# 2 "crisis": the median forecast, or what has already been seen, crosses it; a volume spike.
ALERT_LEVELS = {1: "watch", 2: "crisis"}


class Mention(Base):
    """A public post that names the brand: one per public inbound message, whatever the adapter."""

    __tablename__ = "mentions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), unique=True)
    channel: Mapped[str] = mapped_column(String(32))
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    # The public thread the post was threaded into, and the author's open private case (the complaint
    # the post is most likely about), when they have one; otherwise the same as conversation_id.
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL"), index=True
    )
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL"), index=True
    )
    author: Mapped[str | None] = mapped_column(String(320))
    author_followers: Mapped[int | None] = mapped_column(Integer)
    url: Mapped[str | None] = mapped_column(String(2000))
    text: Mapped[str] = mapped_column(Text, default="")
    # The labels of the message's triage that listening reads (sentiment, threats); the full
    # analysis stays on the message.
    triage: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    posted_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Engagement: the metric forecast (reshares, else views, else the largest), the latest counts.
    metric: Mapped[str | None] = mapped_column(String(32))
    counts: Mapped[dict[str, int]] = mapped_column(JsonDoc, default=dict)
    snapshot_count: Mapped[int] = mapped_column(Integer, default=0)
    last_snapshot_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The latest forecast of the metric's final count (80% interval), remade at each snapshot.
    forecast_final: Mapped[float | None] = mapped_column(Float)
    forecast_low: Mapped[float | None] = mapped_column(Float)
    forecast_high: Mapped[float | None] = mapped_column(Float)
    forecast_model: Mapped[str | None] = mapped_column(String(200))
    forecast_made_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    forecast_observed: Mapped[int | None] = mapped_column(Integer)
    risk_score: Mapped[float] = mapped_column(Float, default=0.0)
    risk_reasons: Mapped[list[str]] = mapped_column(JsonDoc, default=list)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        Index("ix_mentions_created", "created_at"),
        Index("ix_mentions_forecast", "forecast_final"),
    )


class MentionSnapshot(Base):
    """Engagement counts of a mention at one moment (cumulative, as the source reports them)."""

    __tablename__ = "mention_snapshots"
    __table_args__ = (UniqueConstraint("mention_id", "observed_at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    mention_id: Mapped[int] = mapped_column(ForeignKey("mentions.id", ondelete="CASCADE"))
    observed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    counts: Mapped[dict[str, int]] = mapped_column(JsonDoc, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ListeningAlert(Base):
    """A crisis alert: one per case (or per mention without a case, or per volume spike), raised to a
    higher level in place, escalated when nobody acknowledges it in time."""

    __tablename__ = "listening_alerts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # De-duplication: "case:<conversation id>", "mention:<id>" or "spike:<series>:<start>".
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # ALERT_KINDS
    level: Mapped[int] = mapped_column(Integer)  # ALERT_LEVELS
    status: Mapped[str] = mapped_column(String(16), default="open")  # ALERT_STATUSES
    mention_id: Mapped[int | None] = mapped_column(ForeignKey("mentions.id", ondelete="SET NULL"), index=True)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="SET NULL"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    reasons: Mapped[list[str]] = mapped_column(JsonDoc, default=list)
    # What the team needs to act, as of the last raise: mention, forecast, customer, case, related.
    details: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    notified: Mapped[list[int]] = mapped_column(JsonDoc, default=list)  # agent ids told so far
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    raised_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    acknowledged_by_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    acknowledged_by_name: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (Index("ix_listening_alerts_status_updated", "status", "updated_at"),)
