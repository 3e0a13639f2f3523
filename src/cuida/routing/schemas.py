"""Routing shapes for the API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Mode = Literal["round_robin", "least_loaded"]


class PresenceUpdate(BaseModel):
    away: bool | None = Field(default=None, description="True: gets no new conversations.")
    capacity: int | None = Field(
        default=None, ge=0, le=10_000, description="Most open + pending conversations; null: no cap."
    )


class PresenceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    active: bool
    away: bool
    capacity: int | None


class TeamRoutingUpdate(BaseModel):
    mode: Mode


class AgentLoad(BaseModel):
    agent_id: int
    name: str
    active: bool
    away: bool
    capacity: int | None
    load: int = Field(description="Open and pending conversations assigned to the agent.")
    available: bool


class TeamRoutingRead(BaseModel):
    team_id: int
    mode: Mode
    last_agent_id: int | None
    updated_at: datetime | None
    agents: list[AgentLoad]


class RouteRequest(BaseModel):
    team_id: int | None = Field(default=None, description="Defaults to the conversation's team.")
    mode: Mode | None = Field(default=None, description="Defaults to the team's mode.")


class RouteResult(BaseModel):
    conversation_id: int
    team_id: int
    agent_id: int | None = Field(description="null: nobody could take it; it waits in the team queue.")
    mode: Mode
    reason: str
