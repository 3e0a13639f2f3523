"""Conversation and message shapes for the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cuida.channels.registry import check_channel
from cuida.common.text import SafeStr
from cuida.conversations.models import PRIORITIES

Status = Literal["open", "pending", "snoozed", "resolved"]
Priority = Literal["low", "normal", "high", "urgent"]


class ConversationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    customer_id: int
    channel: str
    channels: list[str]
    status: str
    priority: Priority
    assignee_id: int | None
    team_id: int | None
    subject: str | None
    risk_score: float
    is_public: bool
    tags: list[str] = Field(default_factory=list)
    message_count: int
    created_at: datetime
    updated_at: datetime
    last_message_at: datetime
    last_inbound_at: datetime | None
    first_response_at: datetime | None
    resolved_at: datetime | None

    @field_validator("priority", mode="before")
    @classmethod
    def _priority_name(cls, value: Any) -> Any:
        return PRIORITIES[value] if isinstance(value, int) else value

    @field_validator("tags", mode="before")
    @classmethod
    def _no_tags(cls, value: Any) -> Any:
        return [] if value is None else value


class ConversationPage(BaseModel):
    items: list[ConversationRead]
    next_cursor: str | None


class ConversationUpdate(BaseModel):
    status: Status | None = None
    priority: Priority | None = None
    team_id: int | None = None
    subject: SafeStr | None = Field(default=None, max_length=300)


class AssignRequest(BaseModel):
    agent_id: int | None = Field(default=None, description="null unassigns")
    team_id: int | None = None


class MessageRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    conversation_id: int | None
    customer_id: int | None
    channel: str
    external_id: str
    direction: str
    author_value: str | None
    author_name: str | None
    author_followers: int | None
    agent_id: int | None
    text: str
    html: str | None
    public: bool
    in_reply_to: str | None
    occurred_at: datetime
    received_at: datetime
    language: str | None
    triage: dict[str, Any] | None
    stage: str
    meta: dict[str, Any]


class ReplyCreate(BaseModel):
    text: SafeStr = Field(min_length=1, max_length=100_000)
    channel: str | None = Field(default=None, description="Defaults to the conversation's channel.")
    public: bool = Field(default=False, description="Public post (true) or private/direct (false).")
    recipient: SafeStr | None = Field(
        default=None, max_length=320, description="Defaults to the customer's identity on the channel."
    )
    status: Literal["open", "pending", "resolved"] | None = Field(
        default=None,
        description="The case's status once sent. By default: pending (waiting on the customer), "
        "unless the reply says the team is still working on it ('su reclamación está en estudio', "
        "'we are looking into it'), which keeps it open so its resolution clock keeps running.",
    )

    @field_validator("channel")
    @classmethod
    def _known(cls, value: str | None) -> str | None:
        return None if value is None else check_channel(value)


class NoteCreate(BaseModel):
    text: SafeStr = Field(min_length=1, max_length=100_000)


class DeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    message_id: int
    channel: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    provider_id: str | None
    sent_at: datetime | None


class ReplyRead(BaseModel):
    message: MessageRead
    delivery: DeliveryRead
