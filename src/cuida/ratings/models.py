"""Tables of the ratings domain: the survey sent after a resolution, and the customer's answer."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cuida.db.base import Base, BigId, UtcDateTime

# scheduled: waiting for the delay; sent: in the outbox, waiting for an answer; answered: rated
# (the answer may still change until expires_at); cancelled: the case reopened before sending.
REQUEST_STATUSES = ("scheduled", "sent", "answered", "cancelled")
NEGATIVE_SCORES = (1, 2)
SATISFIED_SCORES = (4, 5)


class RatingRequest(Base):
    """One CSAT survey for one resolution of a conversation."""

    __tablename__ = "rating_requests"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    # The team the case belonged to when it was resolved: the report counts it there.
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))  # REQUEST_STATUSES
    # SHA-256 of the link's token: the token itself is only in the message sent to the customer.
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    resolved_at: Mapped[datetime] = mapped_column(UtcDateTime)
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_rating_requests_sent_at", "sent_at"),)


class Rating(Base):
    """The customer's answer to one survey: 1–5 and a comment. Changing it updates this row."""

    __tablename__ = "ratings"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("rating_requests.id", ondelete="CASCADE"), unique=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    # Where the answer came from: "web" (the rating page), "api", or the channel of a reply.
    via: Mapped[str] = mapped_column(String(32))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    answered_at: Mapped[datetime] = mapped_column(UtcDateTime)
    first_answered_at: Mapped[datetime] = mapped_column(UtcDateTime)
    changes: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (Index("ix_ratings_answered_at", "answered_at"),)

    @property
    def mood(self) -> str:
        """The rating read like a message's sentiment label."""
        if self.score in NEGATIVE_SCORES:
            return "negative"
        return "positive" if self.score in SATISFIED_SCORES else "neutral"
