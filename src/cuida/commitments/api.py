"""JSON routes of the commitments domain: thin wrappers over commitments.service."""

from __future__ import annotations

from fastapi import APIRouter, Body, Depends, Query
from sqlalchemy.orm import Session

from cuida.clock.service import now
from cuida.commitments import service
from cuida.commitments.models import Commitment
from cuida.commitments.schemas import (
    CommitmentClose,
    CommitmentCreate,
    CommitmentRead,
    CommitmentUpdate,
    Status,
)
from cuida.runtime import Runtime
from cuida.web.deps import Principal, get_runtime, require

router = APIRouter(prefix="/api/v1", tags=["commitments"])

# Every department sees a customer's promises (scope customers:read); changing them is care work.
READ = "customers:read"
WRITE = "conversations:write"


def _read(session: Session, commitment: Commitment) -> CommitmentRead:
    read = CommitmentRead.model_validate(commitment)
    read.overdue = service.is_overdue(commitment, now(session=session))
    return read


@router.post("/customers/{customer_id}/commitments", response_model=CommitmentRead, status_code=201)
def create_commitment(
    customer_id: int,
    data: CommitmentCreate,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require(WRITE)),
) -> CommitmentRead:
    """Record a promise made to the customer; owned by the calling agent unless another is named."""
    with runtime.db.session() as session:
        commitment = service.create(
            session=session,
            customer_id=customer_id,
            data=data,
            actor=principal.actor,
            agent_id=principal.agent_id,
        )
        return _read(session, commitment)


@router.get("/customers/{customer_id}/commitments", response_model=list[CommitmentRead])
def customer_commitments(
    customer_id: int,
    status: list[Status] | None = Query(None, description="Repeat for several."),
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require(READ)),
) -> list[CommitmentRead]:
    """Every promise made to the customer (following merges), soonest due first."""
    with runtime.db.sessions() as session:
        rows = service.list_commitments(
            session=session, customer_id=customer_id, statuses=list(status) if status else None
        )
        return [_read(session, c) for c in rows]


@router.get("/commitments", response_model=list[CommitmentRead])
def list_commitments(
    status: list[Status] | None = Query(None, description="Repeat for several."),
    owner_agent_id: int | None = None,
    owner_team_id: int | None = None,
    overdue: bool | None = Query(None, description="true: pending and past due; false: the rest."),
    limit: int = Query(200, ge=1, le=1000),
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require(READ)),
) -> list[CommitmentRead]:
    with runtime.db.sessions() as session:
        rows = service.list_commitments(
            session=session,
            statuses=list(status) if status else None,
            owner_agent_id=owner_agent_id,
            owner_team_id=owner_team_id,
            overdue=overdue,
            limit=limit,
        )
        return [_read(session, c) for c in rows]


@router.get("/commitments/{commitment_id}", response_model=CommitmentRead)
def get_commitment(
    commitment_id: int,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require(READ)),
) -> CommitmentRead:
    with runtime.db.sessions() as session:
        return _read(session, service.get(session=session, commitment_id=commitment_id))


@router.post("/commitments/{commitment_id}/confirm", response_model=CommitmentRead)
def confirm_commitment(
    commitment_id: int,
    data: CommitmentUpdate | None = Body(None, description="Corrections to the proposal, if any."),
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require(WRITE)),
) -> CommitmentRead:
    """Accept a proposed commitment (409 if it is not a proposal); it becomes open."""
    with runtime.db.session() as session:
        commitment = service.confirm(
            session=session,
            commitment_id=commitment_id,
            data=data,
            actor=principal.actor,
            agent_id=principal.agent_id,
        )
        return _read(session, commitment)


@router.patch("/commitments/{commitment_id}", response_model=CommitmentRead)
def edit_commitment(
    commitment_id: int,
    data: CommitmentUpdate,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require(WRITE)),
) -> CommitmentRead:
    """Change text, due time, kind, channel or owner of a pending commitment; a new due time
    reschedules its alerts."""
    with runtime.db.session() as session:
        commitment = service.edit(
            session=session, commitment_id=commitment_id, data=data, actor=principal.actor
        )
        return _read(session, commitment)


@router.post("/commitments/{commitment_id}/fulfil", response_model=CommitmentRead)
def fulfil_commitment(
    commitment_id: int,
    data: CommitmentClose | None = Body(None),
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require(WRITE)),
) -> CommitmentRead:
    """Mark the promise kept; its alerts stop. 409 if it is already fulfilled or cancelled."""
    with runtime.db.session() as session:
        commitment = service.fulfil(
            session=session,
            commitment_id=commitment_id,
            actor=principal.actor,
            note=data.note if data else None,
        )
        return _read(session, commitment)


@router.post("/commitments/{commitment_id}/cancel", response_model=CommitmentRead)
def cancel_commitment(
    commitment_id: int,
    data: CommitmentClose | None = Body(None),
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require(WRITE)),
) -> CommitmentRead:
    """Withdraw a proposal (not a promise after all) or an open commitment; its alerts stop."""
    with runtime.db.session() as session:
        commitment = service.cancel(
            session=session,
            commitment_id=commitment_id,
            actor=principal.actor,
            note=data.note if data else None,
        )
        return _read(session, commitment)
