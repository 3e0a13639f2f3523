"""Tables of the channels domain: configured channel accounts (a mailbox, a bot, a feed) with
their health, and the cursors their pollers keep so nothing is fetched twice or missed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cuida.db.base import Base, BigId, JsonDoc, UtcDateTime


class ChannelAccount(Base):
    """One configured connection to a channel: an email mailbox, later a Telegram bot, a feed."""

    __tablename__ = "channel_accounts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))  # a channel name: "email", "telegram", ...
    name: Mapped[str] = mapped_column(String(200), unique=True)
    config: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    # Passwords and tokens the adapter needs in clear (it logs in with them), so they cannot be
    # hashed; they never leave through the API, which only says which ones are set.
    secrets: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Health, shown to admins: when it last worked, the last failure, what is still waiting.
    last_success_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    backlog: Mapped[int] = mapped_column(Integer, default=0)
    # Polling (wall time, like leases): when the next poll is due and who holds the account now.
    next_poll_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    poll_lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_channel_accounts_kind_enabled", "kind", "enabled"),)


class ChannelCursor(Base):
    """Where a poller stands in one source of an account (an IMAP mailbox: UIDVALIDITY and last
    UID; a feed: its ETag). Advanced in the same transaction that stores what was fetched."""

    __tablename__ = "channel_cursors"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("channel_accounts.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(300))
    value: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (Index("uq_channel_cursors_account_key", "account_id", "key", unique=True),)
