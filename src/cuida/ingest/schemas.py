"""What an integration posts to `/api/v1/messages`."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from cuida.channels.registry import check_channel
from cuida.common.text import SafeStr, check_storable

MAX_TEXT_CHARS = 1_000_000


class AuthorIn(BaseModel):
    value: SafeStr = Field(
        min_length=1,
        max_length=320,
        description="The author's identity on the channel: email, phone, @handle, site.",
    )
    name: SafeStr | None = Field(default=None, max_length=300, description="Display name.")
    followers: int | None = Field(default=None, ge=0, description="Audience of a public author.")


# Where an agent logs what a customer said in person or on the phone: the customer may be named
# by id, since a caller's number or a visitor's identity is often not on record.
LOGGED_CHANNELS = ("phone", "store", "workshop")


class MessageIn(BaseModel):
    channel: str = Field(description="One of the known channels (see GET /api/v1/channels).")
    external_id: SafeStr | None = Field(
        default=None,
        min_length=1,
        max_length=300,
        description="The message's id on its channel. Posting the same (channel, external_id) "
        "again returns the first message instead of storing a copy. Omit only if the source has none.",
    )
    direction: Literal["in", "out", "note"] = "in"
    author: AuthorIn | None = Field(default=None, description="Required for inbound messages.")
    recipient: SafeStr | None = Field(
        default=None,
        max_length=320,
        description="For outbound messages logged from elsewhere: the customer's identity on the channel.",
    )
    customer_id: int | None = Field(
        default=None,
        ge=1,
        description="For outbound messages and notes: the customer it concerns, when they have no "
        "identity on this channel (a sales call to a customer known only by email). Inbound messages "
        "are linked by their author, except a call or visit an agent logs for a known customer "
        "(phone, store, workshop), which may name the customer instead.",
    )
    text: SafeStr = Field(default="", max_length=MAX_TEXT_CHARS)
    html: SafeStr | None = Field(
        default=None,
        max_length=MAX_TEXT_CHARS * 2,
        description="HTML body, when the channel gives one; it is sanitised.",
    )
    public: bool = Field(default=False, description="A public post (true) or a private message.")
    occurred_at: datetime | None = Field(default=None, description="When it was written; defaults to now.")
    in_reply_to: SafeStr | None = Field(
        default=None, max_length=300, description="external_id of the message this one answers."
    )
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("metadata")
    @classmethod
    def _storable_metadata(cls, value: dict[str, Any]) -> dict[str, Any]:
        # PostgreSQL's JSONB refuses NUL characters; say so here rather than fail at insert.
        _check_nested(value, "metadata")
        return value

    @field_validator("channel")
    @classmethod
    def _known_channel(cls, value: str) -> str:
        return check_channel(value)

    @field_validator("author", mode="before")
    @classmethod
    def _author_string(cls, value: Any) -> Any:
        return {"value": value} if isinstance(value, str) else value

    @field_validator("occurred_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("must include a time zone offset, e.g. 2026-03-01T10:00:00Z")
        return value

    @model_validator(mode="after")
    def _who(self) -> MessageIn:
        if self.direction == "in" and self.customer_id is not None:
            if self.channel not in LOGGED_CHANNELS:
                raise ValueError(
                    "customer_id on an inbound message is for a call or visit an agent logs "
                    f"({', '.join(LOGGED_CHANNELS)}); other inbound messages are linked by their author"
                )
            if self.author is not None:
                raise ValueError("give the author or the customer_id of an inbound message, not both")
        elif self.direction == "in" and self.author is None:
            raise ValueError("an inbound message needs an author")
        if self.direction != "in" and not (self.recipient or self.in_reply_to or self.customer_id):
            raise ValueError("an outbound message or note needs a recipient, a customer_id or in_reply_to")
        if not self.text and not self.html:
            raise ValueError("a message needs text or html")
        return self


class BatchIn(BaseModel):
    messages: list[MessageIn] = Field(min_length=1)


class Accepted(BaseModel):
    message_id: int
    conversation_id: int | None = Field(description="null until the message is threaded")
    customer_id: int | None = Field(description="null until the author is linked")
    stage: str = Field(description="received, linked or done")
    duplicate: bool = Field(description="true when this (channel, external_id) was already stored")


class BatchAccepted(BaseModel):
    items: list[Accepted]
    stored: int
    duplicates: int


def _check_nested(value: Any, where: str) -> None:
    if isinstance(value, str):
        try:
            check_storable(value)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_nested(str(key), f"{where} key")
            _check_nested(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_nested(item, f"{where}[{index}]")
