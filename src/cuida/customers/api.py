"""Customer routes: thin wrappers over customers.service."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query

from cuida.conversations import access
from cuida.customers import service
from cuida.customers.schemas import (
    AcceptResult,
    AcceptSuggestion,
    CustomerCreate,
    CustomerRead,
    CustomerUpdate,
    IdentityIn,
    IdentityRead,
    MergeRecordRead,
    MergeRequest,
    MergeResult,
    MergeSuggestionRead,
    Timeline,
    TimelineItem,
)
from cuida.runtime import Runtime
from cuida.web.deps import Principal, get_runtime, require

router = APIRouter(prefix="/api/v1/customers", tags=["customers"])


@router.post("", response_model=CustomerRead, status_code=201)
def create_customer(
    data: CustomerCreate,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("customers:write")),
) -> CustomerRead:
    with runtime.db.session() as session:
        customer = service.create_customer(session=session, data=data, actor=principal.actor)
        return CustomerRead.model_validate(customer)


@router.get("", response_model=list[CustomerRead])
def search_customers(
    q: str = Query(min_length=1, max_length=200, description="Name, company, email, phone..."),
    limit: int = Query(20, ge=1, le=100),
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("customers:read")),
) -> list[CustomerRead]:
    with runtime.db.sessions() as session:
        return [
            CustomerRead.model_validate(c)
            for c in service.search_customers(session=session, q=q, limit=limit)
        ]


# Identity resolution. Declared before "/{customer_id}" so "suggestions" and "merges" are not read
# as customer ids.


def _merge_result(result: dict[str, Any]) -> MergeResult:
    return MergeResult(
        customer=CustomerRead.model_validate(result["customer"]),
        merge_id=getattr(result.get("merge"), "id", None),
        moved_identities=result["moved_identities"],
        moved_conversations=result["moved_conversations"],
        moved_messages=result["moved_messages"],
    )


@router.get("/suggestions", response_model=list[MergeSuggestionRead])
def list_suggestions(
    customer_id: int | None = Query(None, description="Only pairs that include this profile"),
    status: Literal["pending", "accepted", "rejected", "all"] = "pending",
    limit: int = Query(50, ge=1, le=200),
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("customers:read")),
) -> list[MergeSuggestionRead]:
    """Profiles that probably are one person, best first, with the evidence."""
    with runtime.db.sessions() as session:
        rows = service.list_suggestions(
            session=session, customer_id=customer_id, status=None if status == "all" else status, limit=limit
        )
        return [MergeSuggestionRead.model_validate(r) for r in rows]


@router.get("/suggestions/{suggestion_id}", response_model=MergeSuggestionRead)
def get_suggestion(
    suggestion_id: int,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("customers:read")),
) -> MergeSuggestionRead:
    with runtime.db.sessions() as session:
        return MergeSuggestionRead.model_validate(
            service.get_suggestion(session=session, suggestion_id=suggestion_id)
        )


@router.post("/suggestions/{suggestion_id}/accept", response_model=AcceptResult)
def accept_suggestion(
    suggestion_id: int,
    data: AcceptSuggestion | None = None,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("customers:merge")),
) -> AcceptResult:
    """Merge the pair (the older profile is kept unless `keep_id` says otherwise)."""
    with runtime.db.session() as session:
        result = service.accept_suggestion(
            session=session,
            suggestion_id=suggestion_id,
            actor=principal.actor,
            keep_id=data.keep_id if data else None,
        )
        suggestion = service.get_suggestion(session=session, suggestion_id=suggestion_id)
        return AcceptResult(
            suggestion=MergeSuggestionRead.model_validate(suggestion), merge=_merge_result(result)
        )


@router.post("/suggestions/{suggestion_id}/reject", response_model=MergeSuggestionRead)
def reject_suggestion(
    suggestion_id: int,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("customers:merge")),
) -> MergeSuggestionRead:
    """Not the same person: the pair is not suggested again."""
    with runtime.db.session() as session:
        row = service.reject_suggestion(session=session, suggestion_id=suggestion_id, actor=principal.actor)
        return MergeSuggestionRead.model_validate(row)


@router.get("/merges", response_model=list[MergeRecordRead])
def list_merges(
    customer_id: int = Query(description="Merges into or out of this profile"),
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("customers:read")),
) -> list[MergeRecordRead]:
    with runtime.db.sessions() as session:
        return [
            MergeRecordRead.model_validate(m)
            for m in service.list_merges(session=session, customer_id=customer_id)
        ]


@router.post("/merges/{merge_id}/undo", response_model=MergeRecordRead)
def undo_merge(
    merge_id: int,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("customers:merge")),
) -> MergeRecordRead:
    """Give both profiles back what each had: identities, conversations and messages."""
    with runtime.db.session() as session:
        record = service.undo_merge(session=session, merge_id=merge_id, actor=principal.actor)
        return MergeRecordRead.model_validate(record)


@router.get("/{customer_id}", response_model=CustomerRead)
def get_customer(
    customer_id: int,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("customers:read")),
) -> CustomerRead:
    with runtime.db.sessions() as session:
        return CustomerRead.model_validate(service.resolve(session=session, customer_id=customer_id))


@router.patch("/{customer_id}", response_model=CustomerRead)
def update_customer(
    customer_id: int,
    data: CustomerUpdate,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("customers:write")),
) -> CustomerRead:
    with runtime.db.session() as session:
        customer = service.update_customer(
            session=session, customer_id=customer_id, data=data, actor=principal.actor
        )
        return CustomerRead.model_validate(customer)


@router.post("/{customer_id}/identities", response_model=IdentityRead, status_code=201)
def add_identity(
    customer_id: int,
    data: IdentityIn,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("customers:write")),
) -> IdentityRead:
    with runtime.db.session() as session:
        identity = service.add_identity(
            session=session, customer_id=customer_id, data=data, actor=principal.actor
        )
        return IdentityRead.model_validate(identity)


@router.post("/{customer_id}/merge", response_model=MergeResult)
def merge_customers(
    customer_id: int,
    data: MergeRequest,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("customers:merge")),
) -> MergeResult:
    """Merge `source_id` into this customer, keeping every identity, conversation and message."""
    with runtime.db.session() as session:
        result = service.merge_customers(
            session=session, target_id=customer_id, source_id=data.source_id, actor=principal.actor
        )
        return _merge_result(result)


@router.get("/{customer_id}/timeline", response_model=Timeline)
def timeline(
    customer_id: int,
    cursor: str | None = None,
    limit: int = Query(50, ge=1, le=200),
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("customers:read")),
) -> Timeline:
    """Every message to or from the customer, on every channel, newest first (for an agent, what
    they may see: conversations.access)."""
    with runtime.db.sessions() as session:
        customer, rows, next_cursor = service.timeline(
            session=session,
            customer_id=customer_id,
            cursor=cursor,
            limit=limit,
            visible=access.clause_for(principal),
        )
        items = [
            TimelineItem(
                message_id=m.id,
                conversation_id=m.conversation_id,
                channel=m.channel,
                direction=m.direction,
                public=m.public,
                author=m.author_name or m.author_value,
                text=m.text,
                occurred_at=m.occurred_at,
                language=m.language,
            )
            for m in rows
        ]
        return Timeline(customer_id=customer.id, items=items, next_cursor=next_cursor)
