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
