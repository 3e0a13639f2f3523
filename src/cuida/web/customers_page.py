"""Customer pages: search (/customers?q=), the profile (/customers/{id}), merging two profiles with a
preview of what moves, and merge suggestions.

Search reuses the customers service (name, company, identities) and the message search (customers
whose messages match). The profile shows identities, value, tags and conversations (another team's
private conversation is listed without a link, like the inbox rule in `web.access`), and the
conversation screen's customer panel beside it. Merging needs the `customers:merge` permission
(leads and above) and goes through `customers.service.merge_customers`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any, cast

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from cuida.auth.models import Team
from cuida.clock.service import now
from cuida.commitments.models import Commitment
from cuida.commitments.service import PENDING as PENDING_COMMITMENTS
from cuida.common.errors import CuidaError, Invalid, NotFound
from cuida.conversations.models import Conversation, Message
from cuida.customers import service as customers
from cuida.customers.models import Customer, Identity
from cuida.ingest import service as ingest
from cuida.ingest.schemas import LOGGED_CHANNELS, MessageIn
from cuida.runtime import Runtime
from cuida.search.service import search_messages
from cuida.web.access import can_see
from cuida.web.deps import get_runtime
from cuida.web.render import PageAgent, page_agent, render
from cuida.web.screens import bad_csrf, csrf_ok, error_page, forbidden, has_scope

router = APIRouter(include_in_schema=False)

RESULTS = 25
OPEN_STATUSES = ("open", "pending", "snoozed")


def merge_suggestions(
    session: Session, customer_id: int | None = None, limit: int = 20
) -> list[dict[str, Any]]:
    """Pending pairs of profiles that look like one person (customers.service finds them as messages
    arrive), best first, for a lead to accept or reject: {"id", "target" (kept when accepted: the
    older), "source", "score", "evidence"}."""
    found = []
    for row in customers.list_suggestions(session=session, customer_id=customer_id, limit=limit):
        first = customers.resolve(session=session, customer_id=row.customer_a)
        second = customers.resolve(session=session, customer_id=row.customer_b)
        target, source = (first, second) if first.id < second.id else (second, first)
        found.append(
            {
                "id": row.id,
                "target": target,
                "source": source,
                "score": round(row.score * 100),
                "evidence": list(row.evidence or []),
                "reasons": [str(e.get("text", "")) for e in row.evidence or []],
            }
        )
    return found


# --- search ------------------------------------------------------------------------------------


def _search(session: Session, q: str) -> tuple[list[Customer], dict[int, str]]:
    """Profiles matching the words, then customers whose messages match (with the message text)."""
    found = customers.search_customers(session=session, q=q, limit=RESULTS)
    seen = {c.id for c in found}
    snippets: dict[int, str] = {}
    try:
        messages = search_messages(session=session, q=q, limit=RESULTS * 2)
    except Invalid:
        messages = []
    extra: list[int] = []
    for message in messages:
        if message.customer_id is None:
            continue
        survivor = customers.resolve(session=session, customer_id=message.customer_id).id
        if survivor not in seen and survivor not in extra:
            extra.append(survivor)
        snippets.setdefault(survivor, (message.text or "")[:160])
    if extra:
        by_id = {c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_(extra)))}
        found.extend(by_id[i] for i in extra[: max(0, RESULTS * 2 - len(found))] if i in by_id)
    return found, snippets


def _recent(session: Session) -> list[Customer]:
    return list(
        session.scalars(
            select(Customer)
            .where(Customer.merged_into_id.is_(None))
            .order_by(Customer.updated_at.desc(), Customer.id.desc())
            .limit(RESULTS)
        )
    )


def _conversation_counts(session: Session, ids: list[int]) -> dict[int, tuple[int, int]]:
    """customer id -> (conversations, open conversations)."""
    if not ids:
        return {}
    rows = session.execute(
        select(
            Conversation.customer_id,
            func.count(),
            func.sum(case((Conversation.status.in_(OPEN_STATUSES), 1), else_=0)),
        )
        .where(Conversation.customer_id.in_(ids))
        .group_by(Conversation.customer_id)
    )
    return {int(c): (int(total), int(open_ or 0)) for c, total, open_ in rows}


@router.get("/customers", response_class=HTMLResponse)
def customers_page(
    request: Request,
    q: str = Query("", max_length=200),
    agent: PageAgent = Depends(page_agent),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    query = q.strip()
    with runtime.db.sessions() as session:
        snippets: dict[int, str] = {}
        error = None
        if query:
            try:
                results, snippets = _search(session, query)
            except Invalid:
                results, error = [], "customers.search.nothing_to_search"
        else:
            results = _recent(session)
        return render(
            request,
            "customers.html",
            agent=agent,
            nav="customers",
            q=query,
            results=results,
            snippets=snippets,
            counts=_conversation_counts(session, [c.id for c in results]),
            error=error,
            suggestions=merge_suggestions(session),
            can_merge=has_scope(agent, "customers:merge"),
        )


# --- profile -----------------------------------------------------------------------------------


def _panel(session: Session, customer: Customer, agent: PageAgent, at: datetime) -> Any:
    """The conversation screen's customer panel (UI-2's), drawn for no conversation in particular."""
    try:
        from cuida.web.conversation_page import customer_panel
    except ImportError:  # the conversation screen is not there: the profile stands on its own
        return None
    stand_in = cast(Conversation, SimpleNamespace(id=-1, customer_id=customer.id))
    return customer_panel(session, stand_in, agent, at)


@router.get("/customers/{customer_id}", response_class=HTMLResponse)
def customer_profile(
    customer_id: int,
    request: Request,
    merged: int | None = None,
    undone: int | None = None,
    logged: int | None = None,
    agent: PageAgent = Depends(page_agent),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    with runtime.db.sessions() as session:
        row = session.get(Customer, customer_id)
        if row is None:
            return error_page(request, agent, 404, "customers.not_found")
        customer = customers.resolve(session=session, customer_id=customer_id)
        if customer.id != customer_id:  # a merged-away profile: its links go to the survivor
            return RedirectResponse(f"/customers/{customer.id}", status_code=303)
        at = now(session=session)
        conversations = list(
            session.scalars(
                select(Conversation)
                .where(Conversation.customer_id == customer.id)
                .order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
                .limit(100)
            )
        )
        teams = {t.id: t.name for t in session.scalars(select(Team))}
        rows = [
            {"c": c, "visible": can_see(agent, c), "team": teams.get(c.team_id or -1)} for c in conversations
        ]
        merged_away = list(session.scalars(select(Customer).where(Customer.merged_into_id == customer.id)))
        merges = [
            m
            for m in customers.list_merges(session=session, customer_id=customer.id)
            if m.target_id == customer.id and m.undone_at is None
        ]
        return render(
            request,
            "customer_profile.html",
            agent=agent,
            nav="customers",
            customer=customer,
            conversations=rows,
            merged_away=merged_away,
            just_merged=merged,
            undone=undone,
            merges=merges,
            suggestions=merge_suggestions(session, customer.id),
            panel=_panel(session, customer, agent, at),
            can_merge=has_scope(agent, "customers:merge"),
            can_log=has_scope(agent, "messages:write"),
            log_channels=LOGGED_CHANNELS,
            logged=logged,
        )


@router.post("/customers/{customer_id}/log")
def log_contact(
    customer_id: int,
    request: Request,
    channel: str = Form(""),
    direction: str = Form("in"),
    text: str = Form(""),
    csrf_token: str = Form(""),
    agent: PageAgent = Depends(page_agent),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    """A call or a visit, logged by the agent who took it: a message on the customer's timeline
    like any other (threaded, triaged, on the SLA clocks), through the same ingest as the API."""
    if not csrf_ok(request, agent, csrf_token):
        return bad_csrf(request, agent)
    if not has_scope(agent, "messages:write") or agent.principal is None:
        return forbidden(request, agent, "customers.log.forbidden")
    try:
        item = MessageIn(
            channel=channel,
            direction="in" if direction == "in" else "note" if direction == "note" else "out",
            customer_id=customer_id,
            text=text,
            metadata={"logged_by": agent.id},
        )
        if item.channel not in LOGGED_CHANNELS:
            raise Invalid(f"log a call or a visit here ({', '.join(LOGGED_CHANNELS)})", field="channel")
        with runtime.db.session() as session:
            [accepted] = ingest.accept(session=session, items=[item], actor=agent.principal.actor)
    except ValidationError as exc:
        message = "; ".join(str(e["msg"]) for e in exc.errors())
        return error_page(request, agent, 422, message)
    except CuidaError as exc:
        return error_page(request, agent, exc.status_code, exc.message)
    runtime.enqueue_messages([accepted.message_id])
    return RedirectResponse(f"/customers/{customer_id}?logged={accepted.message_id}", status_code=303)


# --- merge -------------------------------------------------------------------------------------


@dataclass
class MergePreview:
    target: Customer
    source: Customer
    identities: list[Identity]
    conversations: int
    open_conversations: int
    messages: int
    commitments: int
    pending_commitments: int
    new_tags: list[str]
    filled_fields: list[tuple[str, Any]]


def _count(session: Session, query: Any) -> int:
    return int(session.scalar(query) or 0)


def merge_preview(session: Session, target_id: int, source_id: int) -> MergePreview:
    """What `merge_customers(target, source)` would move, counted before anything changes."""
    if target_id == source_id:
        raise Invalid("cannot merge a customer into itself", field="source_id")
    target = customers.resolve(session=session, customer_id=target_id)
    source = customers.resolve(session=session, customer_id=source_id)
    if target.id == source.id:
        raise Invalid(f"customer {source_id} is already merged into {target.id}", field="source_id")
    filled = [
        (field, getattr(source, field))
        for field in ("name", "company", "lifetime_value", "tier", "notes")
        if getattr(target, field) in (None, "") and getattr(source, field) not in (None, "")
    ]
    return MergePreview(
        target=target,
        source=source,
        identities=list(source.identities),
        conversations=_count(
            session,
            select(func.count()).select_from(Conversation).where(Conversation.customer_id == source.id),
        ),
        open_conversations=_count(
            session,
            select(func.count())
            .select_from(Conversation)
            .where(Conversation.customer_id == source.id, Conversation.status.in_(OPEN_STATUSES)),
        ),
        messages=_count(
            session, select(func.count()).select_from(Message).where(Message.customer_id == source.id)
        ),
        commitments=_count(
            session, select(func.count()).select_from(Commitment).where(Commitment.customer_id == source.id)
        ),
        pending_commitments=_count(
            session,
            select(func.count())
            .select_from(Commitment)
            .where(Commitment.customer_id == source.id, Commitment.status.in_(PENDING_COMMITMENTS)),
        ),
        new_tags=sorted(set(source.tags or []) - set(target.tags or [])),
        filled_fields=filled,
    )


def _merge_candidates(session: Session, q: str, target_id: int) -> list[Customer]:
    if not q.strip():
        return []
    try:
        found, _ = _search(session, q.strip())
    except Invalid:
        return []
    return [c for c in found if c.id != target_id]


@router.get("/customers/{customer_id}/merge", response_class=HTMLResponse)
def merge_page(
    customer_id: int,
    request: Request,
    source_id: int | None = None,
    q: str = Query("", max_length=200),
    agent: PageAgent = Depends(page_agent),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    if not has_scope(agent, "customers:merge"):
        return forbidden(request, agent, "customers.merge.forbidden")
    with runtime.db.sessions() as session:
        try:
            target = customers.resolve(session=session, customer_id=customer_id)
            preview = merge_preview(session, target.id, source_id) if source_id is not None else None
        except NotFound:
            return error_page(request, agent, 404, "customers.not_found")
        except Invalid as exc:
            return error_page(request, agent, 422, exc.message)
        return render(
            request,
            "customer_merge.html",
            agent=agent,
            nav="customers",
            target=target,
            preview=preview,
            q=q,
            candidates=_merge_candidates(session, q, target.id) if preview is None else [],
        )


@router.post("/customers/{customer_id}/merge")
def merge_submit(
    customer_id: int,
    request: Request,
    source_id: int = Form(...),
    csrf_token: str = Form(""),
    agent: PageAgent = Depends(page_agent),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    if not csrf_ok(request, agent, csrf_token):
        return bad_csrf(request, agent)
    if not has_scope(agent, "customers:merge") or agent.principal is None:
        return forbidden(request, agent, "customers.merge.forbidden")
    try:
        with runtime.db.session() as session:
            result = customers.merge_customers(
                session=session, target_id=customer_id, source_id=source_id, actor=agent.principal.actor
            )
            target_id = result["customer"].id
    except CuidaError as exc:
        return error_page(request, agent, exc.status_code, exc.message)
    return RedirectResponse(f"/customers/{target_id}?merged={source_id}", status_code=303)


# --- suggestions and undo ----------------------------------------------------------------------


def _decision_allowed(request: Request, agent: PageAgent, csrf_token: str) -> Response | None:
    """None when the agent may decide on merges, else the refusal page (checked here, on the server,
    whatever the page showed)."""
    if not csrf_ok(request, agent, csrf_token):
        return bad_csrf(request, agent)
    if not has_scope(agent, "customers:merge") or agent.principal is None:
        return forbidden(request, agent, "customers.merge.forbidden")
    return None


def _back(back: str) -> str:
    """Where to return after a decision: the customers page it was made on (our own paths only)."""
    return back if re.fullmatch(r"/customers(/\d+)?", back) else "/customers"


@router.post("/customers/suggestions/{suggestion_id}/accept")
def suggestion_accept(
    suggestion_id: int,
    request: Request,
    csrf_token: str = Form(""),
    agent: PageAgent = Depends(page_agent),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    refused = _decision_allowed(request, agent, csrf_token)
    if refused is not None or agent.principal is None:
        return refused or forbidden(request, agent, "customers.merge.forbidden")
    try:
        with runtime.db.session() as session:
            result = customers.accept_suggestion(
                session=session, suggestion_id=suggestion_id, actor=agent.principal.actor
            )
            target_id, source_id = result["customer"].id, result["merge"].source_id
    except CuidaError as exc:
        return error_page(request, agent, exc.status_code, exc.message)
    return RedirectResponse(f"/customers/{target_id}?merged={source_id}", status_code=303)


@router.post("/customers/suggestions/{suggestion_id}/reject")
def suggestion_reject(
    suggestion_id: int,
    request: Request,
    csrf_token: str = Form(""),
    back: str = Form("/customers"),
    agent: PageAgent = Depends(page_agent),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    refused = _decision_allowed(request, agent, csrf_token)
    if refused is not None or agent.principal is None:
        return refused or forbidden(request, agent, "customers.merge.forbidden")
    try:
        with runtime.db.session() as session:
            customers.reject_suggestion(
                session=session, suggestion_id=suggestion_id, actor=agent.principal.actor
            )
    except CuidaError as exc:
        return error_page(request, agent, exc.status_code, exc.message)
    return RedirectResponse(_back(back), status_code=303)


@router.post("/customers/merges/{merge_id}/undo")
def merge_undo(
    merge_id: int,
    request: Request,
    csrf_token: str = Form(""),
    agent: PageAgent = Depends(page_agent),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    refused = _decision_allowed(request, agent, csrf_token)
    if refused is not None or agent.principal is None:
        return refused or forbidden(request, agent, "customers.merge.forbidden")
    try:
        with runtime.db.session() as session:
            record = customers.undo_merge(session=session, merge_id=merge_id, actor=agent.principal.actor)
            target_id, source_id = record.target_id, record.source_id
    except CuidaError as exc:
        return error_page(request, agent, exc.status_code, exc.message)
    return RedirectResponse(f"/customers/{target_id}?undone={source_id}", status_code=303)
