"""Customer shapes for the API."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cuida.channels.registry import check_channel
from cuida.common.text import SafeStr


class IdentityIn(BaseModel):
    channel: str = Field(description="email, phone, twitter, instagram, ...")
    value: SafeStr = Field(min_length=1, max_length=320)

    _channel = field_validator("channel")(lambda cls, v: check_channel(v))


class IdentityRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    channel: str
    value: str
    display: str | None
    followers: int | None


class CustomerCreate(BaseModel):
    name: SafeStr | None = Field(default=None, max_length=300)
    company: SafeStr | None = Field(default=None, max_length=300)
    lifetime_value: Decimal | None = Field(default=None, ge=0, max_digits=14, decimal_places=2)
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    tier: SafeStr | None = Field(default=None, max_length=32)
    tags: list[SafeStr] = Field(default_factory=list, max_length=100)
    notes: SafeStr | None = Field(default=None, max_length=20000)
    attributes: dict[str, object] = Field(default_factory=dict)
    identities: list[IdentityIn] = Field(default_factory=list, max_length=100)


class CustomerUpdate(BaseModel):
    name: SafeStr | None = Field(default=None, max_length=300)
    company: SafeStr | None = Field(default=None, max_length=300)
    lifetime_value: Decimal | None = Field(default=None, ge=0, max_digits=14, decimal_places=2)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    tier: SafeStr | None = Field(default=None, max_length=32)
    tags: list[SafeStr] | None = Field(default=None, max_length=100)
    notes: SafeStr | None = Field(default=None, max_length=20000)
    attributes: dict[str, object] | None = None


class CustomerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str | None
    company: str | None
    lifetime_value: Decimal | None
    currency: str
    tier: str | None
    tags: list[str]
    notes: str | None
    attributes: dict[str, object]
    identities: list[IdentityRead]
    created_at: datetime
    updated_at: datetime


class MergeRequest(BaseModel):
    source_id: int = Field(description="The profile that is merged away into this one.")


class MergeResult(BaseModel):
    customer: CustomerRead
    merge_id: int | None = Field(default=None, description="Undo with POST /customers/merges/{merge_id}/undo")
    moved_identities: int
    moved_conversations: int
    moved_messages: int


class TimelineItem(BaseModel):
    kind: str = "message"
    message_id: int
    conversation_id: int | None
    channel: str
    direction: str
    public: bool
    author: str | None
    text: str
    occurred_at: datetime
    language: str | None


class Timeline(BaseModel):
    customer_id: int
    items: list[TimelineItem]
    next_cursor: str | None


class Evidence(BaseModel):
    kind: str = Field(description="same_phone_other_channel, phone_in_signature, email_in_dm, ...")
    score: float = Field(description="What this piece alone says (0-1).")
    text: str = Field(description="The evidence in words.")
    data: dict[str, object] = Field(description="The value found, the channel, the message id...")


class MergeSuggestionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    customer_a: int
    customer_b: int
    score: float = Field(description="0-1: how likely the two profiles are one person.")
    evidence: list[Evidence]
    status: str = Field(description="pending, accepted or rejected")
    decided_by: int | None
    decided_by_name: str | None
    decided_at: datetime | None
    merge_id: int | None
    created_at: datetime
    updated_at: datetime


class AcceptSuggestion(BaseModel):
    keep_id: int | None = Field(
        default=None, description="The profile to keep (one of the pair); the older one when left out."
    )


class MergeRecordRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    target_id: int
    source_id: int
    suggestion_id: int | None
    moved: dict[str, object]
    actor_type: str
    actor_id: int | None
    actor_name: str | None
    merged_at: datetime
    undone_at: datetime | None
    undone_by: int | None
    undone_by_name: str | None


class AcceptResult(BaseModel):
    suggestion: MergeSuggestionRead
    merge: MergeResult
