"""Commitment shapes for the API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from cuida.channels.registry import check_channel
from cuida.common.text import SafeStr

Kind = Literal["contact", "callback", "refund", "replacement", "repair", "visit", "offer", "other"]
Status = Literal["proposed", "open", "fulfilled", "cancelled"]


def _channel(value: str | None) -> str | None:
    # "dm": the direct messages of the social channel the promise was made on.
    return value if value is None or value == "dm" else check_channel(value)


class CommitmentCreate(BaseModel):
    text: SafeStr = Field(min_length=1, max_length=2000, description="What was promised, in words.")
    due_at: AwareDatetime = Field(description="When it must be kept, with its offset.")
    kind: Kind = "other"
    channel: str | None = Field(
        default=None, description="The promised contact's channel: a channel name, or 'dm'."
    )
    conversation_id: int | None = None
    owner_agent_id: int | None = Field(default=None, description="Defaults to the agent creating it.")
    owner_team_id: int | None = Field(
        default=None, description="Defaults to the conversation's team, else the owner's first team."
    )
    source_text: SafeStr | None = Field(default=None, max_length=10_000)

    @field_validator("channel")
    @classmethod
    def _known_channel(cls, value: str | None) -> str | None:
        return _channel(value)


class CommitmentUpdate(BaseModel):
    """Fields to change; the ones left out stay as they are."""

    text: SafeStr | None = Field(default=None, min_length=1, max_length=2000)
    due_at: AwareDatetime | None = None
    kind: Kind | None = None
    channel: str | None = None
    owner_agent_id: int | None = None
    owner_team_id: int | None = None

    @field_validator("channel")
    @classmethod
    def _known_channel(cls, value: str | None) -> str | None:
        return _channel(value)


class CommitmentClose(BaseModel):
    note: SafeStr | None = Field(default=None, max_length=2000, description="Why, for the audit log.")


class CommitmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    customer_id: int
    conversation_id: int | None
    message_id: int | None
    text: str
    source_text: str | None
    kind: str
    channel: str | None
    status: Status
    owner_agent_id: int | None
    owner_team_id: int | None
    due_at: datetime
    created_at: datetime
    fulfilled_at: datetime | None
    overdue_alerted_at: datetime | None
    overdue: bool = Field(
        default=False, description="Still to keep (proposed or open) and past its due time."
    )
