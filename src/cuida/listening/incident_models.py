"""Tables of incidents: mentions about the same thing (a link, a hashtag, one post and its replies or
reshares, or nearly the same words) grouped into one story with its figures and its answer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cuida.db.base import Base, BigId, JsonDoc, UtcDateTime

INCIDENT_STATUSES = ("open", "closed")


class Incident(Base):
    __tablename__ = "incidents"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16), default="open")  # INCIDENT_STATUSES
    first_seen: Mapped[datetime] = mapped_column(UtcDateTime)  # the earliest post
    last_seen: Mapped[datetime] = mapped_column(UtcDateTime)  # the latest post
    mention_count: Mapped[int] = mapped_column(Integer, default=0)
    # How mentions came together ("link", "hashtag", "reply", "similar text"), for the reader.
    grouped_by: Mapped[list[str]] = mapped_column(JsonDoc, default=list)
    # The leading mention (the largest forecast; before any forecast, the first post) and its
    # forecast of the final count of `metric`, with the 80% interval.
    lead_mention_id: Mapped[int | None] = mapped_column(ForeignKey("mentions.id", ondelete="SET NULL"))
    metric: Mapped[str | None] = mapped_column(String(32))
    forecast_final: Mapped[float | None] = mapped_column(Float)
    forecast_low: Mapped[float | None] = mapped_column(Float)
    forecast_high: Mapped[float | None] = mapped_column(Float)
    forecast_model: Mapped[str | None] = mapped_column(String(200))
    # Reach: the sum over its mentions of their latest count of `metric`; the peak is the largest
    # seen, the final one is frozen when the incident is closed.
    reach: Mapped[int] = mapped_column(Integer, default=0)
    peak_reach: Mapped[int] = mapped_column(Integer, default=0)
    final_reach: Mapped[int | None] = mapped_column(Integer)
    public_answer: Mapped[str | None] = mapped_column(Text)
    answer_message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    answered_by_name: Mapped[str | None] = mapped_column(String(200))
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_by_name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_incidents_status_last_seen", "status", "last_seen"),)


class IncidentMention(Base):
    """One row per grouped mention: its incident once it has joined one (null while it stands alone),
    how it joined, and the term set the text similarity compares."""

    __tablename__ = "incident_mentions"
    mention_id: Mapped[int] = mapped_column(ForeignKey("mentions.id", ondelete="CASCADE"), primary_key=True)
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), index=True
    )
    joined_by: Mapped[str | None] = mapped_column(String(200))
    terms: Mapped[list[str]] = mapped_column(JsonDoc, default=list)
    posted_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class IncidentKey(Base):
    """What a mention points at or is known by ("link:...", "tag:...", "post:<channel>:<id>"): two
    mentions sharing a key are about the same thing. Indexed, so grouping is a lookup, not a scan."""

    __tablename__ = "incident_keys"
    __table_args__ = (
        UniqueConstraint("mention_id", "key"),
        Index("ix_incident_keys_key_posted", "key", "posted_at"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    mention_id: Mapped[int] = mapped_column(ForeignKey("mentions.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(300))
    posted_at: Mapped[datetime] = mapped_column(UtcDateTime)


def incident_columns(incident: Incident) -> dict[str, Any]:
    return {c.key: getattr(incident, c.key) for c in Incident.__table__.columns}
