"""SLA shapes for the API: calendars, policies (conditions, risk factors, ladder) and clocks."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cuida.channels.registry import check_channel
from cuida.common.text import SafeStr
from cuida.sla.calendar import BusinessCalendar, CalendarError
from cuida.triage.schemas import INTENTS

Priority = Literal["low", "normal", "high", "urgent"]
Recipient = Literal["assignee", "leads", "managers"]


class CalendarCreate(BaseModel):
    name: SafeStr = Field(min_length=1, max_length=200)
    timezone: str = Field(default="Europe/Madrid", max_length=64, description="IANA zone, e.g. Europe/Madrid")
    hours: dict[str, list[list[str]]] = Field(
        description='Working intervals per weekday in local time: {"mon": [["09:00", "14:00"], '
        '["15:00", "18:00"]], ...}; a missing weekday is closed; "24:00" ends at midnight.'
    )
    holidays: list[date] = Field(default_factory=list, max_length=1000)

    @model_validator(mode="after")
    def _valid_calendar(self) -> CalendarCreate:
        check_calendar(self.timezone, self.hours, self.holidays)
        return self


class CalendarUpdate(BaseModel):
    name: SafeStr | None = Field(default=None, min_length=1, max_length=200)
    timezone: str | None = Field(default=None, max_length=64)
    hours: dict[str, list[list[str]]] | None = None
    holidays: list[date] | None = Field(default=None, max_length=1000)


class CalendarRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    timezone: str
    hours: dict[str, list[list[str]]]
    holidays: list[str]
    created_at: datetime
    updated_at: datetime


def check_calendar(timezone: str, hours: dict[str, list[list[str]]], holidays: list[date]) -> None:
    try:
        BusinessCalendar.from_spec(timezone=timezone, hours=hours, holidays=[d.isoformat() for d in holidays])
    except CalendarError as exc:
        raise ValueError(str(exc)) from None


class Conditions(BaseModel):
    """All given conditions must hold; an empty set matches every conversation."""

    model_config = ConfigDict(extra="forbid")
    channels: list[str] | None = Field(default=None, description="The message's channel is one of these.")
    public: bool | None = Field(default=None, description="The message is public (a post, a review) or not.")
    intents: list[str] | None = Field(
        default=None,
        description="Any of these intents in the message's triage, at or above intent_threshold.",
    )
    intent_threshold: float = Field(default=0.5, gt=0, le=1)
    min_lifetime_value: float | None = Field(default=None, ge=0, description="Customer's lifetime value.")
    tiers: list[str] | None = Field(default=None, description="Customer's tier is one of these.")
    min_priority: Priority | None = Field(default=None, description="Conversation priority at least this.")

    @field_validator("channels")
    @classmethod
    def _known_channels(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else [check_channel(c) for c in value]

    @field_validator("intents")
    @classmethod
    def _known_intents(cls, value: list[str] | None) -> list[str] | None:
        unknown = [i for i in value or [] if i not in INTENTS]
        if unknown:
            raise ValueError(f"unknown intent(s) {', '.join(unknown)}; known: {', '.join(INTENTS)}")
        return value


class RiskFactors(BaseModel):
    """Multipliers applied to a deadline when a risk is present (1 disables one); the smallest
    applicable factor wins, they do not compound."""

    model_config = ConfigDict(extra="forbid")
    public_reach: float = Field(
        default=0.5, gt=0, le=1, description="Public message from an author with reach."
    )
    public_reach_followers: int = Field(default=1000, ge=0)
    churn_threat: float = Field(default=0.5, gt=0, le=1)
    legal_threat: float = Field(default=0.5, gt=0, le=1)
    public_escalation_threat: float = Field(default=0.25, gt=0, le=1)
    reputation_risk: float = Field(default=0.5, gt=0, le=1, description="Conversation risk score is high.")
    reputation_risk_at: float = Field(default=0.7, ge=0, le=1)
    intent_threshold: float = Field(default=0.5, gt=0, le=1)


class EscalationStep(BaseModel):
    model_config = ConfigDict(extra="forbid")
    at: float = Field(gt=0, le=20, description="Fraction of the target: 0.8 warns before, 1 is the breach.")
    notify: list[Recipient] = Field(default_factory=list)


DEFAULT_LADDER = [
    EscalationStep(at=0.8, notify=["assignee"]),
    EscalationStep(at=1.0, notify=["leads"]),
    EscalationStep(at=2.0, notify=["managers"]),
]


def normalise_ladder(steps: list[EscalationStep]) -> list[EscalationStep]:
    """Ordered by `at`, with a step at the breach (1.0) so every clock can be marked breached."""
    steps = sorted(steps, key=lambda s: s.at)
    if len({s.at for s in steps}) != len(steps):
        raise ValueError("two escalation steps at the same point")
    if not any(s.at == 1 for s in steps):
        steps = sorted([*steps, EscalationStep(at=1.0)], key=lambda s: s.at)
    return steps


class PolicyCreate(BaseModel):
    name: SafeStr = Field(min_length=1, max_length=200)
    position: int = Field(default=100, ge=0, le=1_000_000, description="Lower is tried first.")
    active: bool = True
    conditions: Conditions = Field(default_factory=Conditions)
    first_response_minutes: int = Field(ge=1, le=525_600, description="Business minutes.")
    next_response_minutes: int | None = Field(default=None, ge=1, le=525_600)
    resolution_minutes: int | None = Field(default=None, ge=1, le=525_600)
    calendar_id: int | None = Field(default=None, description="None: 24/7.")
    risk_factors: RiskFactors = Field(default_factory=RiskFactors)
    escalation: list[EscalationStep] = Field(default_factory=lambda: list(DEFAULT_LADDER), max_length=10)

    @field_validator("escalation")
    @classmethod
    def _ladder(cls, value: list[EscalationStep]) -> list[EscalationStep]:
        return normalise_ladder(value)


class PolicyUpdate(BaseModel):
    name: SafeStr | None = Field(default=None, min_length=1, max_length=200)
    position: int | None = Field(default=None, ge=0, le=1_000_000)
    active: bool | None = None
    conditions: Conditions | None = None
    first_response_minutes: int | None = Field(default=None, ge=1, le=525_600)
    next_response_minutes: int | None = Field(default=None, ge=1, le=525_600)
    resolution_minutes: int | None = Field(default=None, ge=1, le=525_600)
    calendar_id: int | None = None
    risk_factors: RiskFactors | None = None
    escalation: list[EscalationStep] | None = Field(default=None, max_length=10)

    @field_validator("escalation")
    @classmethod
    def _ladder(cls, value: list[EscalationStep] | None) -> list[EscalationStep] | None:
        return None if value is None else normalise_ladder(value)


class PolicyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int | None = Field(description="None for the built-in default policy.")
    name: str
    position: int
    active: bool
    conditions: dict[str, Any]
    first_response_minutes: int | None
    next_response_minutes: int | None
    resolution_minutes: int | None
    calendar_id: int | None
    risk_factors: dict[str, Any]
    escalation: list[dict[str, Any]]


class ClockRead(BaseModel):
    kind: str
    state: Literal["running", "paused", "met", "stopped"]
    policy_id: int | None
    policy_name: str
    started_at: datetime
    due_at: datetime
    base_due_at: datetime = Field(description="The deadline before risk tightening.")
    target_minutes: float
    base_target_minutes: float
    factor: float
    reasons: list[str] = Field(description='Why the deadline was shortened, e.g. "legal threat: ×0.5".')
    remaining_business_minutes: float | None = Field(
        description="Working minutes left (negative when overdue); None once met or stopped."
    )
    paused_at: datetime | None
    paused_minutes: float
    met_at: datetime | None
    stopped_at: datetime | None
    breached: bool
    breached_at: datetime | None
    level: int = Field(description="Escalation steps reached (0 none).")
    marks: list[dict[str, Any]] = Field(
        description="One per escalation step reached: who, when due, when fired."
    )


class ConversationSla(BaseModel):
    conversation_id: int
    now: datetime
    clocks: list[ClockRead]
