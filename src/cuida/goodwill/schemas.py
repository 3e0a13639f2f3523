"""Goodwill shapes for the API."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from cuida.common.text import SafeStr

Kind = Literal["refund", "replacement", "gift", "discount", "upgrade", "other"]
Role = Literal["agent", "lead", "manager", "admin"]


def _cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


# Amounts always carry two decimals, whatever the database gives back ("12" -> "12.00").
Money = Annotated[Decimal, AfterValidator(_cents)]


class GestureCreate(BaseModel):
    kind: Kind
    cost: Money = Field(ge=0, max_digits=12, decimal_places=2, description="What it costs the company.")
    currency: Literal["EUR"] = Field(default="EUR", description="Authority limits are kept in EUR.")
    description: SafeStr = Field(min_length=1, max_length=2000, description="What is given.")
    reason: SafeStr | None = Field(default=None, max_length=2000, description="Why it is given.")
    conversation_id: int | None = Field(default=None, description="The case it belongs to.")


class Decision(BaseModel):
    note: SafeStr | None = Field(default=None, max_length=2000)


class GestureRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    customer_id: int
    conversation_id: int | None
    kind: str
    description: str
    cost: Money
    currency: str
    status: str
    reason: str | None
    requested_by_agent_id: int | None
    requested_by_token_id: int | None
    requested_by_name: str | None
    requested_role: str | None
    decided_by_agent_id: int | None
    decided_by_token_id: int | None
    decided_by_name: str | None
    decision_note: str | None
    created_at: datetime
    decided_at: datetime | None


class LimitIn(BaseModel):
    role: Role
    kind: Kind
    per_gesture_limit: Money | None = Field(ge=0, max_digits=12, decimal_places=2, description="null: none")
    per_month_limit: Money | None = Field(ge=0, max_digits=12, decimal_places=2, description="null: none")


class LimitRead(LimitIn):
    currency: str


class LimitsUpdate(BaseModel):
    limits: list[LimitIn] = Field(min_length=1, max_length=100)


class SentimentMix(BaseModel):
    messages: int
    negative: float | None = Field(description="Share of these messages; null when there are none.")
    neutral: float | None
    positive: float | None


class GestureOutcome(BaseModel):
    gesture: GestureRead
    sentiment_before: SentimentMix
    sentiment_after: SentimentMix
    later_messages: int
    wrote_again: bool
    customer_value_before: Money | None
    customer_value_now: Money | None
    bought_again: bool | None = Field(description="Value went up since the gesture; null when unknown.")
    public_mentions: int
    public_reach: int
    ratings_after: int = Field(description="CSAT answers the customer gave after the gesture.")
    last_rating_after: int | None = Field(description="The latest of them, 1-5; null when none.")
    outcome: Literal["positive", "neutral", "negative", "unknown"]


class ReportTotals(BaseModel):
    gestures: int
    given: int = Field(description="Granted at once or approved.")
    cost: Money = Field(description="Cost of the given gestures.")
    by_status: dict[str, int]
    approval_share: float | None = Field(description="Share of gestures that needed a lead's approval.")
    approved_share: float | None = Field(description="Of those decided by a lead, the share approved.")
    positive_outcomes: int = Field(description="Given gestures with a positive outcome.")
    cost_per_positive_outcome: Money | None


class Report(BaseModel):
    from_: datetime = Field(alias="from")
    to: datetime
    definitions: dict[str, str]
    items: list[GestureOutcome]
    totals: ReportTotals

    model_config = ConfigDict(populate_by_name=True)
