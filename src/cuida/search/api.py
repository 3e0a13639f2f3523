"""GET /api/v1/search: messages and customers, accent-insensitive, Spanish-stemmed."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from cuida.conversations.schemas import MessageRead
from cuida.customers.schemas import CustomerRead
from cuida.customers.service import search_customers
from cuida.runtime import Runtime
from cuida.search.service import search_messages
from cuida.web.deps import Principal, get_runtime, require

router = APIRouter(prefix="/api/v1", tags=["search"])


class SearchResult(BaseModel):
    messages: list[MessageRead]
    customers: list[CustomerRead]


@router.get("/search", response_model=SearchResult)
def search(
    q: str = Query(min_length=1, max_length=200),
    limit: int = Query(20, ge=1, le=100),
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("messages:read")),
) -> SearchResult:
    with runtime.db.sessions() as session:
        messages = [MessageRead.model_validate(m) for m in search_messages(session=session, q=q, limit=limit)]
        customers: list[CustomerRead] = []
        if "customers:read" in principal.scopes:
            customers = [
                CustomerRead.model_validate(c) for c in search_customers(session=session, q=q, limit=limit)
            ]
        return SearchResult(messages=messages, customers=customers)
