"""JSON routes of the goodwill domain.

Authority comes from the caller: a signed-in agent acts with their role's limits. An API token has
no role, so it has no authority of its own (what it records waits for a manager's approval) unless
it carries the "admin" scope, which acts with the admin role's limits.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query

from cuida.goodwill import service
from cuida.goodwill.schemas import Decision, GestureCreate, GestureRead, LimitRead, LimitsUpdate, Report
from cuida.runtime import Runtime
from cuida.web.deps import Principal, get_runtime, require

router = APIRouter(prefix="/api/v1", tags=["goodwill"])


def authority_of(principal: Principal) -> service.Authority:
    if principal.kind == "agent":
        return service.Authority("agent", principal.id, principal.name, principal.role)
    role = "admin" if "admin" in principal.scopes else None
    return service.Authority("token", principal.id, principal.name, role)


@router.post("/customers/{customer_id}/goodwill", response_model=GestureRead, status_code=201)
def record_gesture(
    customer_id: int,
    data: GestureCreate,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("goodwill:request")),
) -> GestureRead:
    """Record a gesture: granted at once within your authority, else sent to your leads to approve."""
    with runtime.db.session() as session:
        gesture = service.record_gesture(
            session=session, customer_id=customer_id, data=data, authority=authority_of(principal)
        )
        return GestureRead.model_validate(gesture)


@router.get("/customers/{customer_id}/goodwill", response_model=list[GestureRead])
def customer_gestures(
    customer_id: int,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("customers:read")),
) -> list[GestureRead]:
    with runtime.db.sessions() as session:
        return [
            GestureRead.model_validate(g)
            for g in service.gestures_of(session=session, customer_id=customer_id)
        ]


@router.post("/goodwill/{goodwill_id}/approve", response_model=GestureRead)
def approve(
    goodwill_id: int,
    data: Decision | None = None,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("goodwill:decide")),
) -> GestureRead:
    """One click: approve a pending gesture (a lead or above whose own limit covers it)."""
    with runtime.db.session() as session:
        gesture = service.decide(
            session=session,
            goodwill_id=goodwill_id,
            approve=True,
            decision=data or Decision(),
            authority=authority_of(principal),
        )
        return GestureRead.model_validate(gesture)


@router.post("/goodwill/{goodwill_id}/reject", response_model=GestureRead)
def reject(
    goodwill_id: int,
    data: Decision | None = None,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("goodwill:decide")),
) -> GestureRead:
    with runtime.db.session() as session:
        gesture = service.decide(
            session=session,
            goodwill_id=goodwill_id,
            approve=False,
            decision=data or Decision(),
            authority=authority_of(principal),
        )
        return GestureRead.model_validate(gesture)


@router.get("/goodwill/limits", response_model=list[LimitRead])
def get_limits(
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("conversations:read")),
) -> list[LimitRead]:
    """Each role's authority per gesture and per calendar month (UTC), by kind; null means no limit."""
    with runtime.db.sessions() as session:
        return service.list_limits(session=session)


@router.put("/goodwill/limits", response_model=list[LimitRead])
def put_limits(
    data: LimitsUpdate,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("admin")),
) -> list[LimitRead]:
    """Set the limits of the given roles and kinds (others are left as they are)."""
    with runtime.db.session() as session:
        return service.set_limits(session=session, limits=data.limits, actor=principal.actor)


@router.get("/goodwill/report", response_model=Report, response_model_by_alias=True)
def report(
    from_: datetime | None = Query(None, alias="from", description="Default: 30 days before 'to'."),
    to: datetime | None = Query(None, description="Exclusive; default: now."),
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("goodwill:report")),
) -> Report:
    """Cost against outcome for each gesture recorded in [from, to); `definitions` says how each
    figure is counted."""
    with runtime.db.sessions() as session:
        return service.report(session=session, start=from_, end=to)
