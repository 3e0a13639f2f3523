"""Tables of brand listening sources: the brand's terms (with exclusions) and the RSS/Atom feeds
polled for mentions of them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cuida.db.base import Base, BigId, JsonDoc, UtcDateTime

FEED_HEALTH = ("new", "ok", "failing")


class BrandTerm(Base):
    """A word or phrase that names the brand ("Cuidabank"), and phrases that, when present, mean the
    text is about something else ("cuidabank arena"). Matched on whole words, folded for case and
    accents."""

    __tablename__ = "listening_terms"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    term: Mapped[str] = mapped_column(String(200))
    # The folded form, unique: "Cuidabank" and "cuidabank" are one term.
    term_key: Mapped[str] = mapped_column(String(200), unique=True)
    exclusions: Mapped[list[str]] = mapped_column(JsonDoc, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ListeningFeed(Base):
    """An RSS or Atom feed (a blog, a news site, a review site) polled for mentions of the brand."""

    __tablename__ = "listening_feeds"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(2000), unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    interval_minutes: Mapped[int] = mapped_column(Integer)
    # The validators of the last full answer, sent back so an unchanged feed answers 304.
    etag: Mapped[str | None] = mapped_column(String(500))
    last_modified: Mapped[str | None] = mapped_column(String(200))
    health: Mapped[str] = mapped_column(String(16), default="new")  # FEED_HEALTH
    last_polled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(String(2000))
    failures: Mapped[int] = mapped_column(Integer, default=0)  # in a row; backs the next poll off
    last_status: Mapped[int | None] = mapped_column(Integer)  # HTTP status of the last answer
    entries_seen: Mapped[int] = mapped_column(Integer, default=0)
    mentions_kept: Mapped[int] = mapped_column(Integer, default=0)
    # Domain clock: when the next poll is due. Wall clock: until when a worker holds the feed.
    next_poll_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    poll_lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_listening_feeds_enabled_next_poll_at", "enabled", "next_poll_at"),)
