"""Saved inbox filters: an agent's named views (a view, a sort, a search, a channel)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from cuida.conversations.models import Conversation
from cuida.db.base import Base, BigId, JsonDoc, UtcDateTime


class SavedFilter(Base):
    __tablename__ = "saved_filters"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    params: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


# The inbox's sorts, as indexes in the same column order and direction (id, the tiebreaker, is the
# index's implicit last column): a page is read in index order and stops after PAGE_SIZE + 1 rows
# instead of sorting every open conversation.
Index(
    "ix_conversations_inbox_priority",
    Conversation.priority.desc(),
    Conversation.risk_score.desc(),
    Conversation.last_message_at.asc(),
)
Index("ix_conversations_inbox_activity", Conversation.last_message_at.desc())
Index("ix_conversations_inbox_age", Conversation.created_at.asc())
