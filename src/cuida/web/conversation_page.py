"""The conversation screen: the thread, the customer panel, the reply composer, triage corrections.

Pages and fragments (HTML), all checked on the server:
- GET  /conversations/{id}                       the whole screen
- GET  /conversations/{id}/messages              the thread (refreshed live on `cuida:event`)
- GET  /conversations/{id}/panel                 the customer panel
- POST /conversations/{id}/reply                 reply (tone-guarded) or internal note
- POST /conversations/{id}/actions/{action}      assign_me, resolve, reopen, snooze
- POST /conversations/{id}/messages/{mid}/triage one triage label corrected (stored for training)
- GET  /conversations/{id}/canned/{canned_id}    a canned reply with its variables filled (JSON)

Who may open a conversation is `web.access.check_visible`, the rule the inbox uses too (another
team's conversation answers 404, so its existence is not confirmed). Unsafe requests carry the
session's CSRF token (X-CSRF-Token header or a `csrf_token` form field). Customer-written text is
only ever rendered escaped; HTML email bodies are sanitised again on the way out with the same
allow-list ingest uses.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cuida.auth.models import Agent, Team
from cuida.automation import service as automation
from cuida.clock.service import now
from cuida.commitments import service as commitments
from cuida.common.errors import CuidaError, Forbidden, Invalid, NotFound
from cuida.contactability import service as contactability
from cuida.conversations import service as conversations
from cuida.conversations.models import PRIORITIES, Conversation, Delivery, Message
from cuida.conversations.schemas import AssignRequest, ConversationUpdate, NoteCreate, ReplyCreate
from cuida.customers import service as customers
from cuida.customers.models import Customer
from cuida.goodwill import service as goodwill
from cuida.ingest.html import sanitize_html
from cuida.runtime import Runtime
from cuida.sla import service as sla
from cuida.triage import service as triage
from cuida.triage.schemas import INTENTS, REQUEST_KINDS, SENTIMENTS, URGENCIES
from cuida.triage.tone import ReplyContext, ReplyReview, review_reply
from cuida.web.access import can_see, check_visible
from cuida.web.deps import CSRF_HEADER, Principal, get_runtime
from cuida.web.render import PageAgent, page_agent, render

router = APIRouter(include_in_schema=False)

LABEL_THRESHOLD = 0.5
TIMELINE_LIMIT = 60
ACTIONS = ("assign_me", "resolve", "reopen", "snooze")
# Boolean labels an agent can switch on or off from the thread (names as triage.CORRECTABLE has them).
BOOLEAN_LABELS = (
    "complaint",
    *(f"intent:{i}" for i in INTENTS if i != "complaint"),
    "toxicity:insult",
    "toxicity:threat",
    "toxicity:profanity",
)
CHOICE_LABELS = {"sentiment": SENTIMENTS, "urgency": URGENCIES, "request_kind": REQUEST_KINDS}
# Intents shown as coloured badges because they change how a conversation must be handled.
ALARM_LABELS = ("intent:churn_threat", "intent:legal_threat", "intent:public_escalation_threat")


# --- view objects (plain data: templates never touch the ORM after the session closes) ----------


@dataclass
class Label:
    field: str  # the correctable field name, e.g. "intent:churn_threat"
    name: str  # the label's own name, for strings and reasons: "churn_threat"
    score: float | None
    reasons: list[str]
    corrected: bool
    alarm: bool


@dataclass
class TriageView:
    sentiment: str | None
    urgency: str | None
    urgency_reasons: list[str]
    request_kind: str | None
    labels: list[Label]  # the boolean labels that are on
    off_labels: list[str]  # boolean labels that are off (to switch one on)
    sentiment_reasons: list[str]
    corrections: dict[str, Any]
    entities: list[dict[str, Any]]


@dataclass
class MessageView:
    id: int
    direction: str
    channel: str
    public: bool
    author: str
    at: datetime
    text: str
    html: Markup | None
    delivery: str | None
    delivery_error: str | None
    triage: TriageView | None


@dataclass
class TimelineItem:
    kind: str  # message | commitment | goodwill
    at: datetime
    channel: str | None = None
    direction: str | None = None
    public: bool = False
    author: str | None = None
    text: str = ""
    conversation_id: int | None = None
    current: bool = False
    status: str | None = None
    due_at: datetime | None = None
    overdue: bool = False
    owner: str | None = None


@dataclass
class Panel:
    customer: Customer
    identities: list[dict[str, Any]]
    commitments: list[dict[str, Any]]
    open_conversations: list[dict[str, Any]]
    past_conversations: list[dict[str, Any]]
    contactability: list[dict[str, Any]]
    gestures: list[dict[str, Any]]
    timeline: list[TimelineItem] = field(default_factory=list)
    hidden_messages: int = 0  # in conversations of other teams this agent may not open


# --- loading -----------------------------------------------------------------------------------


def _principal(agent: PageAgent) -> Principal:
    assert agent.principal is not None
    return agent.principal


def _open(session: Session, conversation_id: int, agent: PageAgent) -> Conversation:
    return check_visible(agent, session.get(Conversation, conversation_id))


def _names(session: Session, model: type[Agent] | type[Team], ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.execute(select(model.id, model.name).where(model.id.in_(wanted)))
    return {row_id: name for row_id, name in rows}


def _bool_on(triage_doc: dict[str, Any], name: str) -> tuple[bool, float | None]:
    corrections = triage_doc.get("corrections") or {}
    if name in corrections:
        return bool(corrections[name]), None
    if name == "complaint":
        complaint = triage_doc.get("complaint") or {}
        return bool(complaint.get("label")), complaint.get("probability")
    kind, _, label = name.partition(":")
    scores = triage_doc.get("intents" if kind == "intent" else "toxicity") or {}
    score = scores.get(label)
    return (score or 0.0) >= LABEL_THRESHOLD, score


def triage_view(triage_doc: dict[str, Any] | None) -> TriageView | None:
    """The labels as the agent should see them: corrections win over the model's guess."""
    if not triage_doc or "intents" not in triage_doc:
        return None
    corrections: dict[str, Any] = dict(triage_doc.get("corrections") or {})
    reasons: dict[str, list[str]] = triage_doc.get("reasons") or {}
    labels, off = [], []
    for name in BOOLEAN_LABELS:
        on, score = _bool_on(triage_doc, name)
        short = name.partition(":")[2] or name
        if on:
            labels.append(
                Label(
                    field=name,
                    name=short,
                    score=score,
                    reasons=list(reasons.get(short, [])),
                    corrected=name in corrections,
                    alarm=name in ALARM_LABELS or name.startswith("toxicity:"),
                )
            )
        else:
            off.append(name)
    urgency = triage_doc.get("urgency") or {}
    return TriageView(
        sentiment=corrections.get("sentiment", (triage_doc.get("sentiment") or {}).get("label")),
        urgency=corrections.get("urgency", urgency.get("label")),
        urgency_reasons=list(urgency.get("reasons") or []),
        request_kind=corrections.get("request_kind", triage_doc.get("request_kind")),
        labels=labels,
        off_labels=off,
        sentiment_reasons=list(reasons.get("sentiment", [])),
        corrections=corrections,
        entities=list(triage_doc.get("entities") or []),
    )


def message_views(session: Session, conversation: Conversation) -> list[MessageView]:
    rows = conversations.messages_of(session=session, conversation_id=conversation.id)
    deliveries = {
        d.message_id: d
        for d in session.scalars(select(Delivery).where(Delivery.message_id.in_([m.id for m in rows])))
    }
    views = []
    for m in rows:
        delivery = deliveries.get(m.id)
        views.append(
            MessageView(
                id=m.id,
                direction=m.direction,
                channel=m.channel,
                public=m.public,
                author=m.author_name or m.author_value or "",
                at=m.occurred_at,
                text=m.text or "",
                # Sanitised at ingest already; cleaned again here so no stored row can carry script.
                html=Markup(sanitize_html(m.html)) if m.html else None,  # noqa: S704
                delivery=delivery.status if delivery else None,
                delivery_error=delivery.last_error if delivery else None,
                triage=triage_view(m.triage) if m.direction == "in" else None,
            )
        )
    return views


def _outcomes(session: Session, conversation_ids: list[int]) -> dict[int, dict[str, Any]]:
    """How past conversations ended: the customer's satisfaction rating when they gave one, and
    the sentiment of their last message (corrections win), in two queries for the whole list."""
    from cuida.ratings.models import Rating

    if not conversation_ids:
        return {}
    outcomes: dict[int, dict[str, Any]] = {
        cid: {"rating": None, "sentiment": None} for cid in conversation_ids
    }
    for cid, score in session.execute(
        select(Rating.conversation_id, Rating.score)
        .where(Rating.conversation_id.in_(conversation_ids))
        .order_by(Rating.answered_at)
    ):
        outcomes[cid]["rating"] = score
    last = (
        select(Message.conversation_id, func.max(Message.occurred_at).label("at"))
        .where(Message.conversation_id.in_(conversation_ids), Message.direction == "in")
        .group_by(Message.conversation_id)
        .subquery()
    )
    rows = session.execute(
        select(Message.conversation_id, Message.triage).join(
            last, (Message.conversation_id == last.c.conversation_id) & (Message.occurred_at == last.c.at)
        )
    )
    for conversation_id, triage_doc in rows:
        doc: Any = triage_doc
        if conversation_id is not None and isinstance(doc, dict):
            corrections = doc.get("corrections") or {}
            label = corrections.get("sentiment") or (doc.get("sentiment") or {}).get("label")
            outcomes[conversation_id]["sentiment"] = label or None
    return outcomes


def customer_panel(session: Session, conversation: Conversation, agent: PageAgent, at: datetime) -> Panel:
    customer = customers.resolve(session=session, customer_id=conversation.customer_id)
    promises = commitments.list_commitments(
        session=session, customer_id=customer.id, statuses=["proposed", "open"]
    )
    others, _ = conversations.list_conversations(
        session=session, customer_id=customer.id, sort="-updated", limit=30
    )
    agent_names = _names(
        session,
        Agent,
        {c.owner_agent_id for c in promises} | {c.assignee_id for c in others},
    )
    team_names = _names(session, Team, {c.owner_team_id for c in promises} | {c.team_id for c in others})
    commitment_rows = [
        {
            "id": c.id,
            "text": c.text,
            "kind": c.kind,
            "status": c.status,
            "channel": c.channel,
            "due_at": c.due_at,
            "overdue": commitments.is_overdue(c, at),
            "owner": agent_names.get(c.owner_agent_id or -1) or team_names.get(c.owner_team_id or -1) or "",
            "team": team_names.get(c.owner_team_id or -1, ""),
            "conversation_id": c.conversation_id,
        }
        for c in promises
    ]
    open_rows: list[dict[str, Any]] = []
    past_rows: list[dict[str, Any]] = []
    for c in others:
        if c.id == conversation.id:
            continue
        row: dict[str, Any] = {
            "id": c.id,
            "subject": c.subject or "",
            "channel": c.channel,
            "status": c.status,
            "team": team_names.get(c.team_id or -1, ""),
            "assignee": agent_names.get(c.assignee_id or -1, ""),
            "at": c.last_message_at,
            "resolved_at": c.resolved_at,
            "locked": not can_see(agent, c),
        }
        (open_rows if c.status in conversations.OPEN_STATES else past_rows).append(row)
    outcomes = _outcomes(session, [past["id"] for past in past_rows])
    for past in past_rows:
        past.update(outcomes[past["id"]])
    answers = []
    for purpose in ("marketing", "sales"):
        answer = contactability.compute(session=session, customer_id=customer.id, purpose=purpose, at=at)
        answers.append(
            {
                "purpose": purpose,
                "contactable": answer.contactable,
                "until": answer.until,
                "reasons": [{"code": r.code, "detail": r.detail, "until": r.until} for r in answer.reasons],
            }
        )
    gestures = [
        {
            "kind": g.kind,
            "description": g.description,
            "cost": g.cost,
            "currency": g.currency,
            "status": g.status,
            "at": g.created_at,
            "by": g.requested_by_name or "",
        }
        for g in goodwill.gestures_of(session=session, customer_id=customer.id)[:10]
    ]
    identities = [
        {"channel": i.channel, "value": i.display or i.value, "followers": i.followers}
        for i in customer.identities
    ]
    timeline, hidden = _timeline(session, agent, customer.id, conversation.id, commitment_rows, gestures)
    return Panel(
        customer=customer,
        identities=identities,
        commitments=commitment_rows,
        open_conversations=open_rows,
        past_conversations=past_rows,
        contactability=answers,
        gestures=gestures,
        timeline=timeline,
        hidden_messages=hidden,
    )


def _timeline(
    session: Session,
    agent: PageAgent,
    customer_id: int,
    conversation_id: int,
    promises: list[dict[str, Any]],
    gestures: list[dict[str, Any]],
) -> tuple[list[TimelineItem], int]:
    """Every channel and department in one scroll, newest first: the customer timeline (the same
    service as GET /api/v1/customers/{id}/timeline), with open promises and goodwill woven in.
    Messages of conversations this agent may not open are left out (and counted), so the panel
    never shows what the conversation page itself would refuse."""
    _, found, _ = customers.timeline(session=session, customer_id=customer_id, limit=TIMELINE_LIMIT)
    threads = {m.conversation_id for m in found if m.conversation_id is not None}
    hidden_threads = {
        c.id
        for c in session.scalars(select(Conversation).where(Conversation.id.in_(threads)))
        if not can_see(agent, c)
    }
    rows = [m for m in found if m.conversation_id not in hidden_threads]
    items = [
        TimelineItem(
            kind="message",
            at=m.occurred_at,
            channel=m.channel,
            direction=m.direction,
            public=m.public,
            author=m.author_name or m.author_value or "",
            text=m.text or "",
            conversation_id=m.conversation_id,
            current=m.conversation_id == conversation_id,
        )
        for m in rows
    ]
    oldest = found[-1].occurred_at if len(found) == TIMELINE_LIMIT else None
    for p in promises:
        items.append(
            TimelineItem(
                kind="commitment",
                at=p["due_at"],
                channel=p["channel"],
                text=p["text"],
                conversation_id=p["conversation_id"],
                status=p["status"],
                due_at=p["due_at"],
                overdue=p["overdue"],
                owner=p["owner"],
            )
        )
    for g in gestures:
        if oldest is None or g["at"] >= oldest:
            items.append(
                TimelineItem(
                    kind="goodwill", at=g["at"], text=g["description"], status=g["status"], owner=g["by"]
                )
            )
    items.sort(key=lambda item: item.at, reverse=True)
    return items, len(found) - len(rows)


def _sla(session: Session, conversation: Conversation) -> list[dict[str, Any]]:
    clocks = sla.conversation_sla(session=session, conversation_id=conversation.id).clocks
    rows = []
    for clock in clocks:
        remaining = clock.remaining_business_minutes
        if clock.state in ("met", "stopped"):
            colour = "done"
        elif clock.breached:
            colour = "overdue"
        elif remaining is not None and remaining <= max(clock.target_minutes * 0.25, 15):
            colour = "warning"
        else:
            colour = "ok"
        rows.append({**clock.model_dump(), "colour": colour})
    return rows


def _canned(session: Session, lang: str) -> list[dict[str, Any]]:
    """Canned replies offered in the composer, the agent's language first."""
    rows = automation.list_canned(session=session)
    rows.sort(key=lambda row: (row.language != lang, row.name.lower()))
    return [{"id": row.id, "title": row.name, "language": row.language} for row in rows]


def _reply_channels(conversation: Conversation) -> list[str]:
    return list(dict.fromkeys([conversation.channel, *(conversation.channels or [])]))


def conversation_context(session: Session, conversation: Conversation, agent: PageAgent) -> dict[str, Any]:
    at = now(session=session)
    panel = customer_panel(session, conversation, agent, at)
    people = _names(session, Agent, {conversation.assignee_id})
    teams = _names(session, Team, {conversation.team_id})
    return {
        "conversation": conversation,
        "priority": PRIORITIES[conversation.priority],
        "assignee": people.get(conversation.assignee_id or -1),
        "team": teams.get(conversation.team_id or -1),
        "messages": message_views(session, conversation),
        "panel": panel,
        "clocks": _sla(session, conversation),
        "canned": _canned(session, agent.language),
        "reply_channels": _reply_channels(conversation),
        "now": at,
        "boolean_labels": BOOLEAN_LABELS,
        "choice_labels": CHOICE_LABELS,
        "mine": conversation.assignee_id == agent.id,
    }


# --- helpers for answers -----------------------------------------------------------------------


def _wants_fragment(request: Request) -> bool:
    return request.headers.get("hx-request") == "true" or request.headers.get("x-cuida-fragment") == "1"


def _check_csrf(request: Request, agent: PageAgent, form_token: str) -> None:
    sent = request.headers.get(CSRF_HEADER) or form_token
    if not agent.csrf_token or not hmac.compare_digest(sent.encode(), agent.csrf_token.encode()):
        raise Forbidden("missing or wrong CSRF token: reload the page and try again")


def _error_page(request: Request, agent: PageAgent, exc: CuidaError) -> HTMLResponse:
    return render(
        request,
        "conversation_error.html",
        agent=agent,
        nav="inbox",
        status=exc.status_code,
        code=exc.code,
        message=exc.message,
    )


def _back(conversation_id: int) -> RedirectResponse:
    return RedirectResponse(f"/conversations/{conversation_id}", status_code=303)


# --- pages -------------------------------------------------------------------------------------


@router.get("/conversations/{conversation_id}", response_class=HTMLResponse)
def conversation_page(
    request: Request,
    conversation_id: int,
    agent: PageAgent = Depends(page_agent),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    try:
        with runtime.db.sessions() as session:
            conversation = _open(session, conversation_id, agent)
            context = conversation_context(session, conversation, agent)
            return render(request, "conversation.html", agent=agent, nav="inbox", **context)
    except (NotFound, Forbidden) as exc:
        return _error_page(request, agent, exc)


@router.get("/conversations/{conversation_id}/messages", response_class=HTMLResponse)
def messages_fragment(
    request: Request,
    conversation_id: int,
    agent: PageAgent = Depends(page_agent),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    try:
        with runtime.db.sessions() as session:
            conversation = _open(session, conversation_id, agent)
            return render(
                request,
                "conversation_messages.html",
                agent=agent,
                conversation=conversation,
                messages=message_views(session, conversation),
                boolean_labels=BOOLEAN_LABELS,
                choice_labels=CHOICE_LABELS,
            )
    except (NotFound, Forbidden) as exc:
        return _error_page(request, agent, exc)


@router.get("/conversations/{conversation_id}/panel", response_class=HTMLResponse)
def panel_fragment(
    request: Request,
    conversation_id: int,
    agent: PageAgent = Depends(page_agent),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    try:
        with runtime.db.sessions() as session:
            conversation = _open(session, conversation_id, agent)
            at = now(session=session)
            return render(
                request,
                "customer_panel.html",
                agent=agent,
                conversation=conversation,
                panel=customer_panel(session, conversation, agent, at),
                now=at,
            )
    except (NotFound, Forbidden) as exc:
        return _error_page(request, agent, exc)


@router.post("/conversations/{conversation_id}/reply", response_class=HTMLResponse)
def send_reply(
    request: Request,
    conversation_id: int,
    text: str = Form(""),
    kind: str = Form("reply"),
    channel: str = Form(""),
    public: str = Form(""),
    confirmed: str = Form(""),
    csrf_token: str = Form(""),
    agent: PageAgent = Depends(page_agent),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    """Send a reply or add an internal note. A reply the tone guard blocks is refused (422) with
    the flagged spans and a suggested wording; one with only warnings needs `confirmed=1`."""
    try:
        _check_csrf(request, agent, csrf_token)
        principal = _principal(agent)
        if "conversations:write" not in principal.scopes:
            raise Forbidden("you may not write in conversations")
        if not text.strip():
            raise Invalid("write something first", field="text")
        delivery_id = None
        with runtime.db.session() as session:
            conversation = _open(session, conversation_id, agent)
            if kind == "note":
                conversations.add_note(
                    session=session,
                    conversation_id=conversation.id,
                    data=NoteCreate(text=text),
                    actor=principal.actor,
                    agent_id=agent.id,
                )
            else:
                customer = session.get(Customer, conversation.customer_id)
                review = review_reply(
                    text,
                    ReplyContext(agent_role=agent.role, customer_name=customer.name if customer else None),
                )
                if not review.ok or (review.flags and confirmed != "1"):
                    return _composer_refusal(
                        request, agent, session, conversation, text, channel, public, review
                    )
                data = ReplyCreate(text=text, channel=channel or None, public=public == "1")
                _, delivery = conversations.add_reply(
                    session=session,
                    conversation_id=conversation.id,
                    data=data,
                    actor=principal.actor,
                    agent_id=agent.id,
                )
                delivery_id = delivery.id
        if delivery_id is not None:
            runtime.enqueue_delivery(delivery_id)
    except (NotFound, Forbidden, Invalid) as exc:
        if _wants_fragment(request):
            return JSONResponse({"error": {"code": exc.code, "message": exc.message}}, exc.status_code)
        return _error_page(request, agent, exc)
    except ValueError as exc:  # a pydantic check of ReplyCreate/NoteCreate (control characters, length)
        return JSONResponse({"error": {"code": "invalid", "message": str(exc)}}, 422)
    if _wants_fragment(request):
        return messages_fragment(request, conversation_id, agent, runtime)
    return _back(conversation_id)


def _composer_refusal(
    request: Request,
    agent: PageAgent,
    session: Session,
    conversation: Conversation,
    text: str,
    channel: str,
    public: str,
    review: ReplyReview,
) -> HTMLResponse:
    """The composer again, with the draft kept, the flags shown, and how to go on: edit (blocked)
    or confirm (warnings only). 422 for a block, as the API answers; 409 for an unconfirmed warning.
    A plain form post (no JavaScript) gets the whole page with the composer in that state."""
    state: dict[str, Any] = {
        "draft": text,
        "channel": channel,
        "public": public == "1",
        "kind": "reply",
        "review": review,
        "blocked": not review.ok,
    }
    status = 422 if not review.ok else 409
    if _wants_fragment(request):
        return render(
            request,
            "composer.html",
            agent=agent,
            status=status,
            conversation=conversation,
            reply_channels=_reply_channels(conversation),
            canned=_canned(session, agent.language),
            **state,
        )
    context = {**conversation_context(session, conversation, agent), **state}
    return render(request, "conversation.html", agent=agent, nav="inbox", status=status, **context)


@router.post("/conversations/{conversation_id}/actions/{action}")
def conversation_action(
    request: Request,
    conversation_id: int,
    action: str,
    csrf_token: str = Form(""),
    agent: PageAgent = Depends(page_agent),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    try:
        _check_csrf(request, agent, csrf_token)
        principal = _principal(agent)
        if "conversations:write" not in principal.scopes:
            raise Forbidden("you may not change conversations")
        if action not in ACTIONS:
            raise NotFound(f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
        with runtime.db.session() as session:
            conversation = _open(session, conversation_id, agent)
            if action == "assign_me":
                conversations.assign(
                    session=session,
                    conversation_id=conversation.id,
                    data=AssignRequest(agent_id=agent.id),
                    actor=principal.actor,
                )
            else:
                status = {"resolve": "resolved", "reopen": "open", "snooze": "snoozed"}[action]
                conversations.update_conversation(
                    session=session,
                    conversation_id=conversation.id,
                    data=ConversationUpdate(status=status),  # type: ignore[arg-type]
                    actor=principal.actor,
                )
    except (NotFound, Forbidden, Invalid) as exc:
        if _wants_fragment(request):
            return JSONResponse({"error": {"code": exc.code, "message": exc.message}}, exc.status_code)
        return _error_page(request, agent, exc)
    if _wants_fragment(request):
        return JSONResponse({"ok": True, "action": action})
    return _back(conversation_id)


def _correction_value(field_name: str, value: str) -> bool | str:
    if field_name in CHOICE_LABELS or field_name == "emotion":
        return value
    if value in ("true", "false"):
        return value == "true"
    raise Invalid(f"{field_name} must be true or false", field="value")


@router.post("/conversations/{conversation_id}/messages/{message_id}/triage", response_class=HTMLResponse)
def correct_label(
    request: Request,
    conversation_id: int,
    message_id: int,
    field_name: str = Form("", alias="field"),
    value: str = Form(""),
    csrf_token: str = Form(""),
    agent: PageAgent = Depends(page_agent),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    """Correct one label through the triage corrections service (kept as training data)."""
    try:
        _check_csrf(request, agent, csrf_token)
        principal = _principal(agent)
        if "triage:correct" not in principal.scopes:
            raise Forbidden("you may not correct triage labels")
        with runtime.db.session() as session:
            conversation = _open(session, conversation_id, agent)
            message = session.get(Message, message_id)
            if message is None or message.conversation_id != conversation.id:
                raise NotFound(f"message {message_id} is not in conversation {conversation_id}")
            triage.record_correction(
                session=session,
                message_id=message.id,
                field=field_name,
                value=_correction_value(field_name, value),
                actor=principal.actor,
            )
    except (NotFound, Forbidden, Invalid) as exc:
        if _wants_fragment(request):
            return JSONResponse({"error": {"code": exc.code, "message": exc.message}}, exc.status_code)
        return _error_page(request, agent, exc)
    if _wants_fragment(request):
        return messages_fragment(request, conversation_id, agent, runtime)
    return _back(conversation_id)


@router.get("/conversations/{conversation_id}/canned/{canned_id}")
def canned_reply(
    conversation_id: int,
    canned_id: int,
    agent: PageAgent = Depends(page_agent),
    runtime: Runtime = Depends(get_runtime),
) -> JSONResponse:
    """A canned reply's text with the customer's and the latest message's details filled in
    (automation.render_canned); `missing` names the variables that had no value."""
    try:
        with runtime.db.sessions() as session:
            conversation = _open(session, conversation_id, agent)
            rendered = automation.render_canned(
                session=session, canned_id=canned_id, conversation_id=conversation.id
            )
    except CuidaError as exc:
        return JSONResponse({"error": {"code": exc.code, "message": exc.message}}, exc.status_code)
    return JSONResponse({"text": rendered.text, "missing": rendered.missing})
