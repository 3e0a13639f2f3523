"""Automation shapes for the API. Conditions and actions are JSON checked by the service (so a
mistake is answered with the exact place, e.g. `conditions.all[1].op`, and what is allowed)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cuida.common.text import SafeStr

TRIGGERS = ("message.triaged", "conversation.updated", "conversation.assigned", "reply.created")


class RuleCreate(BaseModel):
    name: SafeStr = Field(min_length=1, max_length=200)
    description: SafeStr | None = Field(default=None, max_length=2000)
    enabled: bool = True
    position: int = Field(default=100, ge=0, le=1_000_000, description="Lower runs first; ties by id.")
    triggers: list[str] = Field(
        default_factory=lambda: ["message.triaged"],
        min_length=1,
        description="message.triaged (a new customer message, after triage), conversation.updated, "
        "conversation.assigned, reply.created.",
    )
    conditions: dict[str, Any] = Field(
        default_factory=dict, description='{"all"|"any": [...]}, {"not": ...} or {"field", "op", "value"}.'
    )
    actions: list[dict[str, Any]] = Field(min_length=1, max_length=20)
    stop_processing: bool = Field(default=False, description="A match stops later rules for this event.")


class RuleUpdate(BaseModel):
    name: SafeStr | None = Field(default=None, min_length=1, max_length=200)
    description: SafeStr | None = Field(default=None, max_length=2000)
    enabled: bool | None = None
    position: int | None = Field(default=None, ge=0, le=1_000_000)
    triggers: list[str] | None = Field(default=None, min_length=1)
    conditions: dict[str, Any] | None = None
    actions: list[dict[str, Any]] | None = Field(default=None, min_length=1, max_length=20)
    stop_processing: bool | None = None


class RuleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    description: str | None
    enabled: bool
    position: int
    triggers: list[str]
    conditions: dict[str, Any]
    actions: list[dict[str, Any]]
    stop_processing: bool
    created_by: str | None
    created_at: datetime
    updated_at: datetime


class RuleTest(BaseModel):
    """A dry run: a stored rule (rule_id) or a draft (rule), against a stored message."""

    message_id: int
    rule_id: int | None = None
    rule: RuleCreate | None = None


class TestResult(BaseModel):
    matched: bool
    conditions: list[dict[str, Any]] = Field(description="Each test: where, field, op, value, actual, holds.")
    actions: list[dict[str, Any]] = Field(description="What would be done (nothing is done).")


class RunRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    rule_id: int | None
    rule_name: str
    trigger: str
    event_id: int | None
    message_id: int | None
    conversation_id: int | None
    matched: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    at: datetime


class CannedCreate(BaseModel):
    name: SafeStr = Field(min_length=1, max_length=200)
    language: str = Field(default="es", pattern=r"^[a-z]{2}$")
    body: SafeStr = Field(
        min_length=1,
        max_length=20_000,
        description="Text with {{customer.name}}-style variables; {{name | fallback}} when it may be empty.",
    )


class CannedUpdate(BaseModel):
    name: SafeStr | None = Field(default=None, min_length=1, max_length=200)
    language: str | None = Field(default=None, pattern=r"^[a-z]{2}$")
    body: SafeStr | None = Field(default=None, min_length=1, max_length=20_000)


class CannedRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    language: str
    body: str
    created_at: datetime
    updated_at: datetime


class RenderRequest(BaseModel):
    conversation_id: int
    message_id: int | None = Field(default=None, description="Default: the latest customer message.")


class Rendered(BaseModel):
    canned_id: int
    language: str
    text: str
    missing: list[str] = Field(description="Variables that had no value and no fallback (left empty).")
