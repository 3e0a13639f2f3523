"""What the widget admin API and the public widget endpoints read and answer."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cuida.common.text import SafeStr

MAX_MESSAGE_CHARS = 2000  # a chat line, not a letter: longer text is refused with 422
LANGUAGES = ("es", "en")
_COLOUR = r"^#[0-9a-fA-F]{6}$"


class Theme(BaseModel):
    """Values that end up in the widget's CSS, so each is a strict pattern, never free text."""

    model_config = ConfigDict(extra="forbid")
    primary: str = Field(default="#0f766e", pattern=_COLOUR, description="Launcher and header colour.")
    on_primary: str = Field(default="#ffffff", pattern=_COLOUR, description="Text on the primary colour.")
    position: Literal["right", "left"] = "right"


class Greeting(BaseModel):
    model_config = ConfigDict(extra="forbid")
    es: SafeStr | None = Field(default=None, max_length=500)
    en: SafeStr | None = Field(default=None, max_length=500)


def _origin(value: str) -> str:
    value = value.strip().rstrip("/").lower()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an origin like https://www.example.com")
    if parts.path or parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"{value!r} must be only scheme, host and port, e.g. https://www.example.com")
    return f"{parts.scheme}://{parts.netloc}"


class WidgetCreate(BaseModel):
    name: SafeStr = Field(min_length=1, max_length=200)
    team_id: int | None = Field(default=None, ge=1, description="Whose presence makes the chat online.")
    allowed_origins: list[str] = Field(
        min_length=1, max_length=50, description="Sites that may embed it: https://www.example.com"
    )
    language: Literal["es", "en"] = "es"
    theme: Theme = Field(default_factory=Theme)
    greeting: Greeting = Field(default_factory=Greeting)
    offline_behaviour: Literal["email", "hide"] = Field(
        default="email",
        description="email: with nobody available, ask for an email and open an email conversation; "
        "hide: show nothing while nobody is available.",
    )
    enabled: bool = True

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        return sorted({_origin(v) for v in value})


class WidgetUpdate(BaseModel):
    name: SafeStr | None = Field(default=None, min_length=1, max_length=200)
    team_id: int | None = Field(default=None, ge=1)
    allowed_origins: list[str] | None = Field(default=None, min_length=1, max_length=50)
    language: Literal["es", "en"] | None = None
    theme: Theme | None = None
    greeting: Greeting | None = None
    offline_behaviour: Literal["email", "hide"] | None = None
    enabled: bool | None = None

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else sorted({_origin(v) for v in value})


class WidgetRead(BaseModel):
    id: int
    public_key: str
    name: str
    team_id: int | None
    allowed_origins: list[str]
    language: str
    theme: Theme
    greeting: Greeting
    offline_behaviour: str
    enabled: bool
    created_at: datetime
    updated_at: datetime
    snippet: str = Field(description="The tag to paste into the site's pages.")


class PublicConfig(BaseModel):
    """What the script needs before the visitor opens the chat; nothing secret."""

    language: str
    theme: Theme
    greeting: str | None
    online: bool
    offline_behaviour: str
    max_message_chars: int
    strings: dict[str, str]


class SessionRead(BaseModel):
    token: str | None = Field(description="Only when a new session was made: keep it (localStorage).")
    visitor: str = Field(description="The visitor's handle, as agents see it.")
    name: str | None
    email: str | None
    online: bool


class IdentifyIn(BaseModel):
    name: SafeStr | None = Field(default=None, max_length=100)
    email: SafeStr | None = Field(default=None, max_length=320)


class VisitorMessageIn(BaseModel):
    text: SafeStr = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    client_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]{8,64}$",
        description="Made by the widget per message: a retried post is not stored twice.",
    )

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the message is empty")
        return value


class VisitorMessageOut(BaseModel):
    mode: Literal["chat", "email"] = Field(description="chat: agents see it live; email: answered by email.")
    message_id: int
    duplicate: bool


class FeedItem(BaseModel):
    id: int
    kind: str
    text: str
    author: str | None
    at: datetime

