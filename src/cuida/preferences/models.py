"""Tables of the preferences domain: one row per agent who changed a default."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from cuida.db.base import Base, BigId, JsonDoc, UtcDateTime


class AgentPreferences(Base):
    """Notification choices: {kind: {"workspace": bool, "email": bool}}; a missing kind uses the default."""

    __tablename__ = "agent_preferences"
    agent_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    notifications: Mapped[dict[str, dict[str, bool]]] = mapped_column(JsonDoc, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
