"""What the inbound webhook accepts and answers, its admin API, and the quarantine's views."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cuida.channels.registry import check_channel
from cuida.common.text import SafeStr
from cuida.ingest.schemas import Accepted, AuthorIn, MessageIn

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$"
QUARANTINE_STATUSES = ("new", "reprocessed", "discarded")


# --- the payload ---------------------------------------------------------------------------------


class WebhookAuthor(AuthorIn):
    model_config = ConfigDict(extra="forbid")


class WebhookMessage(MessageIn):
    """MessageIn, strict about unknown fields: a misspelt `external_id` would otherwise pass
    silently and every retry would store a copy."""

    model_config = ConfigDict(extra="forbid")
    author: WebhookAuthor | None = Field(default=None, description="Required for inbound messages.")


class WebhookBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    messages: list[WebhookMessage] = Field(min_length=1)


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON Schema with its `$defs` resolved in place, so it can sit anywhere in the OpenAPI
    document (a `#/$defs/...` reference would point at the document's root)."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return walk(copy.deepcopy(defs[ref.removeprefix("#/$defs/")]))
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(value) for value in node]
        return node

    return dict(walk(schema))


def webhook_payload_schema() -> dict[str, Any]:
    """The documented body of POST /api/v1/webhooks/{slug}: one message or {"messages": [...]}.
    `channel` may be left out (it is the webhook's); if given it must be the webhook's."""
    message = _inline(WebhookMessage.model_json_schema())
    message["required"] = [name for name in message.get("required", []) if name != "channel"]
    message["properties"]["channel"]["description"] = (
        "Optional: the webhook's channel. A different channel is refused (quarantined)."
    )
    message["title"] = "WebhookMessage"
    return {
        "title": "WebhookPayload",
        "oneOf": [
            message,
            {
                "title": "WebhookBatch",
                "type": "object",
                "properties": {"messages": {"type": "array", "items": message, "minItems": 1}},
                "required": ["messages"],
                "additionalProperties": False,
            },
        ],
    }


class WebhookAnswer(BaseModel):
    items: list[Accepted] = Field(description="The messages stored (or found stored), in payload order.")
    stored: int
    duplicates: int
    quarantined: int | None = Field(
        default=None, description="Id of the quarantine entry holding what could not be parsed."
    )
    reason: str | None = Field(default=None, description="Why it was quarantined.")
    quarantined_indexes: list[int] = Field(
        default_factory=list, description="Positions in `messages` that were quarantined (a batch)."
    )


# --- webhook channels (admin) --------------------------------------------------------------------


class InboundWebhookCreate(BaseModel):
    name: SafeStr = Field(min_length=1, max_length=200)
    channel: str = Field(description="The channel its messages arrive on (see GET /api/v1/channels).")
    slug: str | None = Field(
        default=None,
        pattern=SLUG_PATTERN,
        description="The URL part: POST /api/v1/webhooks/{slug}. Made from the name when omitted.",
    )

    @field_validator("channel")
    @classmethod
    def _known_channel(cls, value: str) -> str:
        return check_channel(value)


class InboundWebhookRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    slug: str
    channel: str
    active: bool
    url: str = Field(description="Path to POST signed messages to.")
    created_at: datetime
    secret_rotated_at: datetime | None
    previous_secret_until: datetime | None = Field(
        description="Until when the secret before the last rotation is still accepted."
    )
    disabled_at: datetime | None
    last_success_at: datetime | None = Field(description="Last accepted delivery (to the minute).")
    last_error_at: datetime | None
    last_error: str | None


class InboundWebhookCreated(InboundWebhookRead):
    secret: str = Field(
        description="Shown only here: sign each request with it "
        '(X-Cuida-Signature: sha256=hex(HMAC-SHA256(secret, f"{timestamp}.{body}"))).'
    )


class RotateIn(BaseModel):
    grace_seconds: int = Field(
        default=0,
        ge=0,
        le=7 * 24 * 3600,
        description="How long the old secret keeps working (0: at once, e.g. after a leak).",
    )


# --- the quarantine ------------------------------------------------------------------------------


class QuarantineRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    source: str = Field(description="What brought it: 'webhook', or an adapter's name.")
    source_ref: str | None = Field(description="Which one: the webhook's slug, a mailbox...")
    webhook_id: int | None
    channel: str | None
    reason: str
    status: str = Field(description="new, reprocessed or discarded")
    size: int = Field(description="Bytes of the raw payload.")
    content_type: str | None
    received_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None
    message_ids: list[int] = Field(description="Messages it became when reprocessed.")
    attempts: int = Field(description="Reprocessing attempts.")
    last_error: str | None = Field(description="Why the last reprocessing failed.")
    preview: str = Field(description="The start of the payload as text.")


class QuarantineDetail(QuarantineRead):
    details: dict[str, Any] = Field(
        description="What was wrong, field by field; for a batch, the positions that failed."
    )
    raw_text: str = Field(
        description="The payload as text: UTF-8, with any byte that is not shown as \\xNN. "
        "Cut at 1 MB; GET .../raw gives the original bytes."
    )
    raw_is_utf8: bool
    raw_truncated: bool


class QuarantinePage(BaseModel):
    items: list[QuarantineRead]
    next_cursor: str | None


class ReprocessIn(BaseModel):
    payload: dict[str, Any] | None = Field(
        default=None,
        description="A corrected payload (one message or {'messages': [...]}, as the webhook takes). "
        "Omitted: the stored payload is parsed again.",
    )


class ReprocessAnswer(BaseModel):
    quarantine: QuarantineRead
    items: list[Accepted]
