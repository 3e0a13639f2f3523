"""Shapes of brand listening sources for the API: terms, feeds, polls and imports."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cuida.common.text import SafeStr

Phrase = SafeStr


def _term(value: str) -> str:
    value = " ".join(value.split())
    if not any(ch.isalnum() for ch in value):
        raise ValueError("a term needs at least one letter or digit")
    return value


def _phrases(values: list[str]) -> list[str]:
    cleaned = []
    for value in values:
        value = " ".join(value.split())
        if not value:
            raise ValueError("an exclusion cannot be empty")
        if len(value) > 200:
            raise ValueError("an exclusion has at most 200 characters")
        if value not in cleaned:
            cleaned.append(value)
    return cleaned


class TermCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    term: Phrase = Field(min_length=1, max_length=200, description="A word or phrase naming the brand.")
    exclusions: list[Phrase] = Field(
        default_factory=list,
        max_length=100,
        description='Phrases that mean the text is about something else ("cuidabank arena"): a text '
        "that contains one does not count as naming this term.",
    )
    enabled: bool = True

    @field_validator("term")
    @classmethod
    def _term(cls, value: str) -> str:
        return _term(value)

    @field_validator("exclusions")
    @classmethod
    def _exclusions(cls, value: list[str]) -> list[str]:
        return _phrases(value)


class TermUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    term: Phrase | None = Field(default=None, min_length=1, max_length=200)
    exclusions: list[Phrase] | None = Field(default=None, max_length=100)
    enabled: bool | None = None

    @field_validator("term")
    @classmethod
    def _term(cls, value: str | None) -> str | None:
        return None if value is None else _term(value)

    @field_validator("exclusions")
    @classmethod
    def _exclusions(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _phrases(value)


class TermRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    term: str
    exclusions: list[str]
    enabled: bool
    created_at: datetime
    updated_at: datetime


def _web_address(value: str) -> str:
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("give the feed's web address, starting with http:// or https://")
    return value


class FeedCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: SafeStr = Field(min_length=8, max_length=2000, description="The RSS or Atom address.")
    name: SafeStr | None = Field(default=None, max_length=200, description="Defaults to the site's host.")
    enabled: bool = True
    interval_minutes: int | None = Field(
        default=None,
        ge=1,
        le=7 * 24 * 60,
        description="Minutes between polls; defaults to CUIDA_LISTENING_FEED_MINUTES.",
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _web_address(value)


class FeedUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: SafeStr | None = Field(default=None, min_length=8, max_length=2000)
    name: SafeStr | None = Field(default=None, min_length=1, max_length=200)
    enabled: bool | None = None
    interval_minutes: int | None = Field(default=None, ge=1, le=7 * 24 * 60)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else _web_address(value)


class FeedRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    url: str
    enabled: bool
    interval_minutes: int
    health: str = Field(description="new (never polled), ok, or failing (see last_error).")
    etag: str | None
    last_modified: str | None
    last_polled_at: datetime | None
    last_success_at: datetime | None
    last_error_at: datetime | None
    last_error: str | None
    last_status: int | None = Field(description="HTTP status of the last answer (304: nothing new).")
    failures: int = Field(description="Failed polls in a row; the next poll waits longer after each.")
    entries_seen: int
    mentions_kept: int
    next_poll_at: datetime | None
    created_at: datetime
    updated_at: datetime


class PollResult(BaseModel):
    feed_id: int
    polled: bool = Field(description="False when another worker was polling it, or it is disabled.")
    status: int | None = Field(default=None, description="HTTP status; 304 means nothing new.")
    entries: int = 0
    matched: int = Field(default=0, description="Entries naming a brand term (and no exclusion).")
    stored: int = Field(default=0, description="New mentions (messages) stored.")
    duplicates: int = Field(default=0, description="Matching entries whose link was already stored.")
    quarantined: list[int] = Field(default_factory=list, description="Quarantine ids of malformed entries.")
    error: str | None = None
    message_ids: list[int] = Field(default_factory=list)


class PollDetail(BaseModel):
    result: PollResult
    feed: FeedRead


class RowError(BaseModel):
    row: int = Field(description="Position of the record in the file, from 1 (the CSV header is not a row).")
    line: int | None = Field(default=None, description="CSV: the line where the record starts.")
    errors: list[dict[str, str]]
    quarantine_id: int | None = None


class ImportResult(BaseModel):
    rows: int
    stored: int = Field(description="New mentions (messages) stored.")
    duplicates: int = Field(description="Rows whose link was already stored (or repeated in the file).")
    snapshots: int = Field(description="Engagement readings recorded on mentions that already existed.")
    failed: int
    errors: list[RowError]
    message_ids: list[int]
