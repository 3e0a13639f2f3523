"""What the channel accounts API accepts and answers. Secrets go in, never out: a Read says only
which secrets are set."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cuida.common.text import SafeStr


class ChannelAccountCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(description="The channel this account connects: email (more kinds to come).")
    name: SafeStr = Field(min_length=1, max_length=200, description="A name for people, unique.")
    config: dict[str, Any] = Field(default_factory=dict, description="Settings of the kind (see its docs).")
    secrets: dict[str, SafeStr] = Field(
        default_factory=dict, description="Passwords and tokens, e.g. imap_password. Never shown again."
    )
    enabled: bool = True


class ChannelAccountUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: SafeStr | None = Field(default=None, min_length=1, max_length=200)
    config: dict[str, Any] | None = Field(
        default=None, description="Keys given replace the stored ones; a key set to null is removed."
    )
    secrets: dict[str, SafeStr | None] | None = Field(
        default=None, description="Secrets given replace the stored ones; a secret set to null is removed."
    )
    enabled: bool | None = None


class ChannelHealth(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    last_success_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    backlog: int = Field(description="Items waiting at the source after the last poll (emails not fetched).")
    next_poll_at: datetime | None


class ChannelAccountRead(BaseModel):
    id: int
    kind: str
    name: str
    config: dict[str, Any]
    secrets_set: list[str] = Field(description="Names of the secrets that are set (values are never shown).")
    enabled: bool
    created_at: datetime
    updated_at: datetime
    health: ChannelHealth


class PollAnswer(BaseModel):
    account_id: int
    polled: bool = Field(description="false when another worker holds the account right now")
    fetched: int = 0
    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    backlog: int = 0
    error: str | None = None
