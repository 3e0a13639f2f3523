"""The agent's own profile (/profile): language, teams, notification preferences and away status.

The language is stored on the agent (`Agent.language`) and every page renders in it (the top bar's
switch, /preferences/language in `web.pages`, stores the same column). Notification
choices live in the preferences domain. Away comes from the routing domain (an away agent gets no
new conversations) and is shown only when that domain is installed.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from cuida.auth import service as auth
from cuida.common.errors import CuidaError
from cuida.preferences import service as preferences
from cuida.runtime import Runtime
from cuida.web.deps import get_runtime
from cuida.web.render import PageAgent, page_agent, render
from cuida.web.screens import bad_csrf, csrf_ok, error_page

router = APIRouter(include_in_schema=False)


def _routing() -> Any:
    """The routing domain's service, if it is installed (it owns `away`)."""
    try:
        from cuida.routing import service as routing
    except ImportError:
        return None
    return routing if hasattr(routing, "set_presence") else None


def _context(session: Session, agent: PageAgent) -> dict[str, Any]:
    row = auth.get_agent(session=session, agent_id=agent.id)
    return {
        "me": row,
        "teams": sorted(row.teams, key=lambda t: t.name),
        "notifications": preferences.notification_preferences(session=session, agent_id=agent.id),
        "channels": preferences.DELIVERY_CHANNELS,
        "away": getattr(row, "away", None) if _routing() is not None else None,
    }


@router.get("/profile", response_class=HTMLResponse)
def profile_page(
    request: Request,
    saved: str | None = None,
    agent: PageAgent = Depends(page_agent),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    with runtime.db.sessions() as session:
        return render(
            request, "profile.html", agent=agent, nav="profile", saved=saved, **_context(session, agent)
        )


@router.post("/profile/language")
def profile_language(
    request: Request,
    language: str = Form(...),
    csrf_token: str = Form(""),
    agent: PageAgent = Depends(page_agent),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    if not csrf_ok(request, agent, csrf_token):
        return bad_csrf(request, agent)
    assert agent.principal is not None
    try:
        with runtime.db.session() as session:
            auth.set_language(
                session=session, agent_id=agent.id, language=language, actor=agent.principal.actor
            )
    except CuidaError as exc:
        return error_page(request, agent, exc.status_code, exc.message)
    return RedirectResponse("/profile?saved=language", status_code=303)


@router.post("/profile/notifications")
async def profile_notifications(
    request: Request,
    agent: PageAgent = Depends(page_agent),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    """Checkboxes named `<kind>:<channel>`; an unchecked box is absent, so it means off."""
    form = await request.form()
    if not csrf_ok(request, agent, str(form.get("csrf_token", ""))):
        return bad_csrf(request, agent)
    assert agent.principal is not None
    checked = {str(key) for key in form}
    choices = {
        kind: {via: f"{kind}:{via}" in checked for via in preferences.DELIVERY_CHANNELS}
        for kind in preferences.NOTIFICATION_KINDS
    }
    with runtime.db.session() as session:
        preferences.set_notification_preferences(
            session=session, agent_id=agent.id, choices=choices, actor=agent.principal.actor
        )
    return RedirectResponse("/profile?saved=notifications", status_code=303)


@router.post("/profile/away")
def profile_away(
    request: Request,
    away: str = Form(""),
    csrf_token: str = Form(""),
    agent: PageAgent = Depends(page_agent),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    if not csrf_ok(request, agent, csrf_token):
        return bad_csrf(request, agent)
    routing = _routing()
    if routing is None:
        return error_page(request, agent, 404, "profile.away.unavailable")
    from cuida.routing.schemas import PresenceUpdate

    assert agent.principal is not None
    try:
        with runtime.db.session() as session:
            routing.set_presence(
                session=session,
                agent_id=agent.id,
                data=PresenceUpdate(away=away in ("1", "true", "on")),
                actor=agent.principal.actor,
                may_manage=False,
            )
    except CuidaError as exc:
        return error_page(request, agent, exc.status_code, exc.message)
    return RedirectResponse("/profile?saved=away", status_code=303)
