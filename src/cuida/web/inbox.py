"""The inbox screen: a dense list of the conversations an agent may see, by view, sort, search and
channel; saved filters; bulk assign/close; refreshed live (cuida.js turns events into a refresh of
the list fragment).

- GET  /inbox                          the page (views: mine, team, unassigned, all, at_risk, overdue)
- GET  /inbox/list                     the list fragment, same parameters (htmx)
- POST /inbox/bulk                     ids + action (assign_me, assign, close); CSRF checked
- POST /inbox/filters                  save the current view under a name
- POST /inbox/filters/{id}/delete      delete one of my saved filters
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from cuida.auth.models import Agent, agent_teams
from cuida.common.errors import Forbidden, Invalid, NotFound
from cuida.conversations import service as conversations
from cuida.conversations.models import Conversation
from cuida.conversations.schemas import AssignRequest, ConversationUpdate
from cuida.inbox import service as inbox
from cuida.runtime import Runtime
from cuida.web.access import can_see, principal_of, visible_conversations
from cuida.web.deps import get_runtime
from cuida.web.render import PageAgent, csrf_ok, page_agent, render

router = APIRouter(include_in_schema=False)
FILTER_FIELDS = ("view", "sort", "q", "channel", "status")
BULK_ACTIONS = ("assign_me", "assign", "close")
MAX_BULK = 200
CHANNEL_ICONS = {
    "email": "✉",
    "twitter": "𝕏",
    "x": "𝕏",
    "whatsapp": "☏",
    "sms": "✆",
    "phone": "☎",
    "voice": "☎",
    "chat": "💬",
    "webchat": "💬",
    "facebook": "f",
    "instagram": "◎",
    "shop": "🏬",
    "web": "⌂",
}


def _query(
    view: str = Query("all"),
    sort: str = Query("priority"),
    q: str = Query("", max_length=200),
    channel: str = Query("", max_length=32),
    status: str = Query(""),
    cursor: str = Query("", max_length=500),
) -> inbox.InboxQuery:
    return inbox.InboxQuery(view=view, sort=sort, q=q, channel=channel, status=status, cursor=cursor)


def _page_context(runtime: Runtime, agent: PageAgent, query: inbox.InboxQuery) -> dict[str, Any]:
    error = None
    with runtime.db.sessions() as session:
        try:
            page = inbox.inbox_page(
                session=session,
                query=query,
                agent_id=agent.id,
                team_ids=agent.team_ids,
                visible=visible_conversations(agent),
            )
        except Invalid as exc:
            error = exc.message
            page = inbox.InboxPage(rows=[], next_cursor=None, now=inbox.now(session=session))
        filters = [(f.id, f.name, f.params) for f in inbox.saved_filters(session=session, agent_id=agent.id)]
        session.expunge_all()
    params = query.params()
    return {
        "page": page,
        "query": query,
        "error": error,
        "filters": filters,
        "list_url": "/inbox/list?"
        + urlencode({**params, **({"cursor": query.cursor} if query.cursor else {})}),
        "params": params,
        "url_with": lambda **changes: _url(params, changes),
        "next_url": _url(params, {"cursor": page.next_cursor}) if page.next_cursor else None,
        "views": inbox.VIEWS,
        "sorts": inbox.SORTS,
        "statuses": inbox.STATUSES,
        "icons": CHANNEL_ICONS,
        "search_query": query.q,
    }


def _url(params: dict[str, str], changes: dict[str, Any]) -> str:
    merged = {**params, **changes}
    return "/inbox?" + urlencode({k: v for k, v in merged.items() if v})


@router.get("/inbox", response_class=HTMLResponse)
def inbox_screen(
    request: Request,
    query: inbox.InboxQuery = Depends(_query),
    filter: int | None = Query(None, description="A saved filter's id"),
    agent: PageAgent = Depends(page_agent),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    if filter is not None:
        with runtime.db.sessions() as session:
            saved = inbox.get_filter(session=session, agent_id=agent.id, filter_id=filter)
            stored = dict(saved.params)
        query = inbox.InboxQuery(**{k: str(v) for k, v in stored.items() if k in FILTER_FIELDS})
    context = _page_context(runtime, agent, query)
    context["assignees"] = _assignees(runtime, agent)
    context["active_filter"] = filter
    return render(request, "inbox.html", agent=agent, nav="inbox", **context)


@router.get("/inbox/list", response_class=HTMLResponse)
def inbox_list(
    request: Request,
    query: inbox.InboxQuery = Depends(_query),
    agent: PageAgent = Depends(page_agent),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    return render(request, "inbox_list.html", agent=agent, **_page_context(runtime, agent, query))


def _assignees(runtime: Runtime, agent: PageAgent) -> list[tuple[int, str]]:
    """Who the agent may hand conversations to: active agents of their teams (everyone for leads)."""
    with runtime.db.sessions() as session:
        stmt = select(Agent.id, Agent.name).where(Agent.active.is_(True)).order_by(Agent.name)
        if not agent.is_lead:
            mates = select(agent_teams.c.agent_id).where(agent_teams.c.team_id.in_(agent.team_ids or [-1]))
            stmt = stmt.where((Agent.id == agent.id) | Agent.id.in_(mates))
        return [(row.id, row.name) for row in session.execute(stmt)]


@router.post("/inbox/bulk")
def bulk(
    request: Request,
    ids: list[int] = Form(default_factory=list),
    action: str = Form(""),
    agent_id: int | None = Form(None),
    csrf_token: str = Form(""),
    agent: PageAgent = Depends(page_agent),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    """Assign to me, assign to someone, or close the selected conversations, all or none."""
    if not csrf_ok(request, agent, csrf_token):
        raise Forbidden("missing or wrong CSRF token: reload the page and try again")
    if action not in BULK_ACTIONS:
        raise Invalid(f"action must be one of {', '.join(BULK_ACTIONS)}", field="action")
    if not ids:
        raise Invalid("select at least one conversation", field="ids")
    if len(ids) > MAX_BULK:
        raise Invalid(f"at most {MAX_BULK} conversations at once", field="ids")
    if action == "assign" and agent_id is None:
        raise Invalid("choose who to assign them to", field="agent_id")
    if action == "assign" and agent_id not in {a for a, _ in _assignees(runtime, agent)}:
        raise Forbidden("you can only assign to an active agent of your teams")
    actor = principal_of(agent).actor
    with runtime.db.session() as session:
        rows = list(session.scalars(select(Conversation).where(Conversation.id.in_(set(ids)))))
        if len(rows) != len(set(ids)) or not all(can_see(agent, c) for c in rows):
            raise NotFound("one of these conversations does not exist or belongs to another team")
        for conversation in sorted(rows, key=lambda c: c.id):
            if action == "close":
                conversations.update_conversation(
                    session=session,
                    conversation_id=conversation.id,
                    data=ConversationUpdate(status="resolved"),
                    actor=actor,
                )
            else:
                target = agent.id if action == "assign_me" else agent_id
                conversations.assign(
                    session=session,
                    conversation_id=conversation.id,
                    data=AssignRequest(agent_id=target),
                    actor=actor,
                )
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Trigger": "inbox:refresh"})
    return RedirectResponse(request.headers.get("referer") or "/inbox", status_code=303)


@router.post("/inbox/filters")
def save_filter(
    request: Request,
    name: str = Form(""),
    view: str = Form("all"),
    sort: str = Form("priority"),
    q: str = Form(""),
    channel: str = Form(""),
    status: str = Form(""),
    csrf_token: str = Form(""),
    agent: PageAgent = Depends(page_agent),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    if not csrf_ok(request, agent, csrf_token):
        raise Forbidden("missing or wrong CSRF token: reload the page and try again")
    query = inbox.InboxQuery(view=view, sort=sort, q=q, channel=channel, status=status)
    with runtime.db.session() as session:
        row = inbox.save_filter(session=session, agent_id=agent.id, name=name, query=query)
        filter_id = row.id
    return RedirectResponse(f"/inbox?filter={filter_id}", status_code=303)


@router.post("/inbox/filters/{filter_id}/delete")
def delete_filter(
    request: Request,
    filter_id: int,
    csrf_token: str = Form(""),
    agent: PageAgent = Depends(page_agent),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    if not csrf_ok(request, agent, csrf_token):
        raise Forbidden("missing or wrong CSRF token: reload the page and try again")
    with runtime.db.session() as session:
        inbox.delete_filter(session=session, agent_id=agent.id, filter_id=filter_id)
    return RedirectResponse("/inbox", status_code=303)
