"""Tables of the routing domain: each team's routing mode and round-robin cursor."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from cuida.db.base import Base, UtcDateTime

MODES = ("round_robin", "least_loaded")


class TeamRouting(Base):
    """How a team hands out conversations; `last_agent_id` is the round-robin cursor."""

    __tablename__ = "team_routing"
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    mode: Mapped[str] = mapped_column(String(16), default="round_robin")  # MODES
    last_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
