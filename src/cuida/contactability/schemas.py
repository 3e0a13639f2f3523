"""Contactability shapes for the API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cuida.common.text import SafeStr

Purpose = Literal["marketing", "sales", "service"]
PreferencePurpose = Literal["marketing", "sales", "all"]

# What a subscription may ask for.
WEBHOOK_EVENTS = (
    "contactability.suppressed",
    "contactability.released",
    "contactability.violation",
    "listening.alert_raised",  # a crisis alert raised, or raised to a higher level (listening.delivery)
    "listening.alert_escalated",  # nobody acknowledged it in time: the managers were told
)


class Reason(BaseModel):
    code: str = Field(
        description="opted_out, open_complaint, recently_resolved_complaint, churn_threat, legal_threat, "
        "public_escalation_threat, overdue_commitment, negative_trend"
    )
    detail: str = Field(description="In words, for the person deciding.")
    since: datetime | None = Field(description="When this reason began.")
    until: datetime | None = Field(
        description="When it ends if nothing changes; null: unknown or indefinite."
    )


class Answer(BaseModel):
    customer_id: int = Field(description="The live profile (after merges) the answer is about.")
    contactable: bool
    purpose: Purpose
    reasons: list[Reason]
    until: datetime | None = Field(
        description="When the customer becomes contactable again if nothing changes; null when they are "
        "contactable now, or when it is unknown (an open case) or indefinite (an opt-out)."
    )
    until_condition: str | None = Field(
        default=None,
        description="When `until` cannot be a date: what must happen first, in words ('the open complaint "
        "is resolved, then a 14-day cooling period').",
    )
    checked_at: datetime


class PreferenceChange(BaseModel):
    customer_id: int | None = Field(default=None, description="The customer, or give `identity`.")
    identity: SafeStr | None = Field(
        default=None, max_length=400, description="<channel>:<value>, e.g. phone:+34612345678."
    )
    purpose: PreferencePurpose = Field(description="marketing, sales, or all (everything, service too).")
    source: SafeStr = Field(
        min_length=1, max_length=200, description="Where the customer said so: 'web form', 'phone call'..."
    )

    @model_validator(mode="after")
    def _one_target(self) -> PreferenceChange:
        if (self.customer_id is None) == (self.identity is None):
            raise ValueError("give exactly one of customer_id or identity")
        return self


class PreferenceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    customer_id: int
    purpose: str
    opted_out: bool
    opted_out_at: datetime | None
    opted_in_at: datetime | None
    source: str
    updated_at: datetime


def _check_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http:// or https:// URL")
    return value


def _check_events(value: list[str]) -> list[str]:
    unknown = [e for e in value if e not in WEBHOOK_EVENTS]
    if unknown:
        raise ValueError(f"unknown event(s) {', '.join(unknown)}; known: {', '.join(WEBHOOK_EVENTS)}")
    return sorted(set(value))


class WebhookCreate(BaseModel):
    url: str = Field(max_length=2000, description="Where to POST; http(s).")
    secret: SafeStr | None = Field(
        default=None,
        min_length=16,
        max_length=200,
        description="HMAC-SHA256 key for X-Cuida-Signature; generated (and shown once) when omitted.",
    )
    events: list[str] = Field(default_factory=lambda: list(WEBHOOK_EVENTS), min_length=1)
    description: SafeStr | None = Field(default=None, max_length=300)
    active: bool = True

    _url = field_validator("url")(lambda cls, v: _check_url(v))
    _events = field_validator("events")(lambda cls, v: _check_events(v))


class WebhookUpdate(BaseModel):
    url: str | None = Field(default=None, max_length=2000)
    secret: SafeStr | None = Field(default=None, min_length=16, max_length=200)
    events: list[str] | None = Field(default=None, min_length=1)
    description: SafeStr | None = Field(default=None, max_length=300)
    active: bool | None = None

    _url = field_validator("url")(lambda cls, v: v if v is None else _check_url(v))
    _events = field_validator("events")(lambda cls, v: v if v is None else _check_events(v))


class WebhookRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    url: str
    events: list[str]
    description: str | None
    active: bool
    created_at: datetime
    updated_at: datetime


class WebhookCreated(WebhookRead):
    secret: str = Field(description="Shown only here: keep it to verify X-Cuida-Signature.")


class WebhookDeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    subscription_id: int
    event: str
    payload: dict[str, object]
    status: str
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
