"""The manual clock's single row (used only when CUIDA_MANUAL_CLOCK is on)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer
from sqlalchemy.orm import Mapped, mapped_column

from cuida.db.base import Base, UtcDateTime


class ClockState(Base):
    __tablename__ = "clock_state"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    manual_now: Mapped[datetime | None] = mapped_column(UtcDateTime)
