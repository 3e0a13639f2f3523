"""Ratings shapes for the API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from cuida.common.text import SafeStr

COMMENT_MAX = 2000


class RatingAnswer(BaseModel):
    score: int = Field(ge=1, le=5, description="1 (very unhappy) to 5 (very happy).")
    comment: SafeStr | None = Field(default=None, max_length=COMMENT_MAX)


class RatingRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    request_id: int
    conversation_id: int
    score: int
    comment: str | None
    via: str = Field(description='"web" (the rating page), "api", or the channel the customer replied on.')
    message_id: int | None
    answered_at: datetime
    first_answered_at: datetime
    changes: int


class RatingRequestRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    conversation_id: int
    team_id: int | None
    channel: str
    language: str
    status: str
    resolved_at: datetime
    due_at: datetime
    sent_at: datetime | None
    expires_at: datetime | None
    message_id: int | None
    cancelled_at: datetime | None
    cancel_reason: str | None
    rating: RatingRead | None = None


class AnswerReceipt(BaseModel):
    """What the customer's client gets back: their answer, and until when it may change."""

    score: int
    comment: str | None
    answered_at: datetime
    changeable_until: datetime | None


class CsatReport(BaseModel):
    from_: datetime = Field(alias="from")
    to: datetime
    team_id: int | None
    definitions: dict[str, str]
    sent: int
    count: int
    average: float | None
    satisfied_share: float | None
    distribution: dict[str, int]
    response_rate: float | None

    model_config = ConfigDict(populate_by_name=True)
