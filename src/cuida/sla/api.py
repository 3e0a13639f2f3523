"""JSON routes of the sla domain: calendars, policies, and a conversation's clocks."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from cuida.conversations import access
from cuida.runtime import Runtime
from cuida.sla import service
from cuida.sla.schemas import (
    CalendarCreate,
    CalendarRead,
    CalendarUpdate,
    ConversationSla,
    PolicyCreate,
    PolicyRead,
    PolicyUpdate,
)
from cuida.web.deps import Principal, get_runtime, require

router = APIRouter(prefix="/api/v1", tags=["sla"])


@router.get("/conversations/{conversation_id}/sla", response_model=ConversationSla)
def conversation_sla(
    conversation_id: int,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("conversations:read")),
) -> ConversationSla:
    """The conversation's clocks: due, working minutes left, breached, escalation level, and why a
    deadline was shortened."""
    with runtime.db.sessions() as session:
        access.get_for(session, principal, conversation_id)
        return service.conversation_sla(session=session, conversation_id=conversation_id)


@router.get("/sla/calendars", response_model=list[CalendarRead])
def list_calendars(
    runtime: Runtime = Depends(get_runtime), principal: Principal = Depends(require("conversations:read"))
) -> list[CalendarRead]:
    with runtime.db.sessions() as session:
        return [CalendarRead.model_validate(r) for r in service.list_calendars(session=session)]


@router.post("/sla/calendars", response_model=CalendarRead, status_code=201)
def create_calendar(
    data: CalendarCreate,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("admin")),
) -> CalendarRead:
    with runtime.db.session() as session:
        row = service.create_calendar(session=session, data=data, actor=principal.actor)
        return CalendarRead.model_validate(row)


@router.get("/sla/calendars/{calendar_id}", response_model=CalendarRead)
def get_calendar(
    calendar_id: int,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("conversations:read")),
) -> CalendarRead:
    with runtime.db.sessions() as session:
        return CalendarRead.model_validate(service.get_calendar(session=session, calendar_id=calendar_id))


@router.patch("/sla/calendars/{calendar_id}", response_model=CalendarRead)
def update_calendar(
    calendar_id: int,
    data: CalendarUpdate,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("admin")),
) -> CalendarRead:
    with runtime.db.session() as session:
        row = service.update_calendar(
            session=session, calendar_id=calendar_id, data=data, actor=principal.actor
        )
        return CalendarRead.model_validate(row)


@router.delete("/sla/calendars/{calendar_id}", status_code=204)
def delete_calendar(
    calendar_id: int,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("admin")),
) -> None:
    with runtime.db.session() as session:
        service.delete_calendar(session=session, calendar_id=calendar_id, actor=principal.actor)


@router.get("/sla/policies", response_model=list[PolicyRead])
def list_policies(
    runtime: Runtime = Depends(get_runtime), principal: Principal = Depends(require("conversations:read"))
) -> list[PolicyRead]:
    """Policies in the order they are tried; the built-in default (id null) applies after them all."""
    with runtime.db.sessions() as session:
        return [service.policy_read(r) for r in service.list_policies(session=session)]


@router.get("/sla/policies/default", response_model=PolicyRead)
def default_policy(principal: Principal = Depends(require("conversations:read"))) -> PolicyRead:
    """What applies when no policy matches, so no conversation is ever without a clock."""
    return service.DEFAULT_POLICY


@router.post("/sla/policies", response_model=PolicyRead, status_code=201)
def create_policy(
    data: PolicyCreate,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("admin")),
) -> PolicyRead:
    with runtime.db.session() as session:
        return service.policy_read(service.create_policy(session=session, data=data, actor=principal.actor))


@router.get("/sla/policies/{policy_id}", response_model=PolicyRead)
def get_policy(
    policy_id: int,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("conversations:read")),
) -> PolicyRead:
    with runtime.db.sessions() as session:
        return service.policy_read(service.get_policy(session=session, policy_id=policy_id))


@router.patch("/sla/policies/{policy_id}", response_model=PolicyRead)
def update_policy(
    policy_id: int,
    data: PolicyUpdate,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("admin")),
) -> PolicyRead:
    with runtime.db.session() as session:
        row = service.update_policy(session=session, policy_id=policy_id, data=data, actor=principal.actor)
        return service.policy_read(row)


@router.delete("/sla/policies/{policy_id}", status_code=204)
def delete_policy(
    policy_id: int,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("admin")),
) -> None:
    with runtime.db.session() as session:
        service.delete_policy(session=session, policy_id=policy_id, actor=principal.actor)
