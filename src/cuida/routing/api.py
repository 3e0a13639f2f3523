"""JSON routes of routing: agents' presence and capacity, team routing modes, routing a
conversation now."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from cuida.routing import service
from cuida.routing.schemas import (
    PresenceRead,
    PresenceUpdate,
    RouteRequest,
    RouteResult,
    TeamRoutingRead,
    TeamRoutingUpdate,
)
from cuida.runtime import Runtime
from cuida.web.deps import Principal, authenticated, get_runtime, require

router = APIRouter(prefix="/api/v1", tags=["routing"])


@router.patch("/agents/{agent_id}/presence", response_model=PresenceRead)
def set_presence(
    agent_id: int,
    data: PresenceUpdate,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(authenticated),
) -> PresenceRead:
    """Set `away` (an agent may set their own) and `capacity` (leads and admins, `routing:manage`)."""
    with runtime.db.session() as session:
        agent = service.set_presence(
            session=session,
            agent_id=agent_id,
            data=data,
            actor=principal.actor,
            may_manage="routing:manage" in principal.scopes,
        )
        return PresenceRead.model_validate(agent)


@router.get("/routing/teams/{team_id}", response_model=TeamRoutingRead)
def get_team_routing(
    team_id: int,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("conversations:read")),
) -> TeamRoutingRead:
    """The team's routing mode and each member's presence, capacity and load."""
    with runtime.db.sessions() as session:
        return service.team_routing(session=session, team_id=team_id)


@router.put("/routing/teams/{team_id}", response_model=TeamRoutingRead)
def put_team_routing(
    team_id: int,
    data: TeamRoutingUpdate,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("routing:manage")),
) -> TeamRoutingRead:
    with runtime.db.session() as session:
        return service.set_team_mode(session=session, team_id=team_id, mode=data.mode, actor=principal.actor)


@router.post("/conversations/{conversation_id}/route", response_model=RouteResult)
def route(
    conversation_id: int,
    data: RouteRequest,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("conversations:write")),
) -> RouteResult:
    """Give the conversation to the next available agent of the team (its own by default)."""
    with runtime.db.session() as session:
        routed = service.route(
            session=session,
            conversation_id=conversation_id,
            team_id=data.team_id,
            mode=data.mode,
            actor=principal.actor,
        )
        return RouteResult(
            conversation_id=routed.conversation_id,
            team_id=routed.team_id,
            agent_id=routed.agent_id,
            mode=routed.mode,  # type: ignore[arg-type]
            reason=routed.reason,
        )
