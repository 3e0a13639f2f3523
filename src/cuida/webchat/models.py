"""Tables of the web chat: widgets (one per site), visitors (one per browser), what each visitor
sees (their feed, the stream's source) and the token buckets that limit abuse."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cuida.db.base import Base, BigId, JsonDoc, UtcDateTime


class WebchatWidget(Base):
    """One pasted script tag: its public key, the sites that may embed it and how it looks."""

    __tablename__ = "webchat_widgets"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    public_key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # The team whose presence decides online/offline; no team: any agent.
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    allowed_origins: Mapped[list[str]] = mapped_column(JsonDoc, default=list)
    language: Mapped[str] = mapped_column(String(8), default="es")
    theme: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    greeting: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    offline_behaviour: Mapped[str] = mapped_column(String(16), default="email")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class WebchatVisitor(Base):
    """A browser that opened the widget. Only the token's SHA-256 is kept; `handle` is the
    visitor's identity on the webchat channel (what agents see), never the secret."""

    __tablename__ = "webchat_visitors"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    widget_id: Mapped[int] = mapped_column(ForeignKey("webchat_widgets.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    handle: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str | None] = mapped_column(String(300))
    email: Mapped[str | None] = mapped_column(String(320))
    ip: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)


class WebchatFeedEntry(Base):
    """One line of a visitor's chat as the visitor sees it: what they wrote, what an agent
    answered (written by the webchat adapter when the outbox delivers), notices. The id is the
    stream's event id, so a reconnect resumes after the last line seen."""

    __tablename__ = "webchat_feed"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    visitor_id: Mapped[int] = mapped_column(ForeignKey("webchat_visitors.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # visitor | agent | notice
    text: Mapped[str] = mapped_column(Text)
    author_name: Mapped[str | None] = mapped_column(String(300))
    # The message shown; unique, so a repeated delivery or a retried post adds no second line.
    message_id: Mapped[int | None] = mapped_column(BigId, unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_webchat_feed_visitor_id", "visitor_id", "id"),)


class WebchatRateBucket(Base):
    """A token bucket (see webchat/ratelimit.py), in the database so every process shares it."""

    __tablename__ = "webchat_rate_buckets"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
