"""Auth shapes for the API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cuida.auth.permissions import parse_scopes
from cuida.common.text import SafeStr

Role = Literal["agent", "lead", "manager", "admin"]


class LoginRequest(BaseModel):
    email: SafeStr = Field(max_length=320)
    password: SafeStr = Field(max_length=500)


class TeamRef(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    slug: str
    name: str


class AgentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    email: str
    name: str
    role: str
    language: str
    active: bool
    away: bool = False
    capacity: int | None = None
    teams: list[TeamRef]


class LoginResult(BaseModel):
    agent: AgentRead
    csrf_token: str = Field(description="Send it as X-CSRF-Token on every unsafe request.")


class Me(BaseModel):
    kind: Literal["agent", "token"]
    id: int
    name: str
    role: str | None
    scopes: list[str]
    csrf_token: str | None = None


class AgentCreate(BaseModel):
    email: SafeStr = Field(max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    name: SafeStr = Field(min_length=1, max_length=200)
    password: SafeStr = Field(min_length=10, max_length=500)
    role: Role = "agent"
    language: Literal["es", "en"] = "es"
    team_slugs: list[str] = Field(default_factory=list)


class TeamCreate(BaseModel):
    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")
    name: SafeStr = Field(min_length=1, max_length=200)
    kind: Literal["care", "social", "call_centre", "claims", "sales", "marketing", "other"] = "care"


class TeamRead(TeamRef):
    kind: str


class TokenCreate(BaseModel):
    name: SafeStr = Field(min_length=1, max_length=200)
    scopes: list[str]
    note: SafeStr | None = Field(default=None, max_length=2000)

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, value: list[str]) -> list[str]:
        return parse_scopes(value)


class TokenRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenRead):
    token: str = Field(description="Shown once; only its hash is kept.")
