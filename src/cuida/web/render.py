"""How every HTML page is drawn: one Jinja2 environment, `render()`, and `page_agent`, the
dependency that gives a page its logged-in agent (or sends the browser to /login).

Pages call `render(request, "x.html", agent=agent, nav="inbox", **context)`; the template gets
`lang`, `t` (translator), `agent`, `csrf_token`, `nav` and the context. Autoescape is on for .html:
customer text is always escaped (never use `|safe` on it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from cuida.runtime import Runtime
from cuida.web.deps import Principal, get_runtime, load_principal
from cuida.web.i18n import pick_language, translator

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))  # autoescape on for .html


@dataclass(frozen=True)
class PageAgent:
    """The logged-in agent as pages see it (a plain object: no lazy loads after the session closes)."""

    id: int
    name: str
    email: str
    role: str
    language: str
    team_ids: list[int] = field(default_factory=list)
    csrf_token: str = ""
    principal: Principal | None = None
    # The newest event when the page was drawn: the live stream starts after it, so nothing that
    # happens between drawing the page and connecting (or while disconnected) is missed.
    event_cursor: int = 0

    @property
    def is_lead(self) -> bool:
        """Leads, managers and admins see every team's conversations and the board."""
        return self.role in ("lead", "manager", "admin")


class LoginRequired(HTTPException):
    def __init__(self, next_url: str = "/") -> None:
        # A 303 with Location: the browser goes to the login page (the body is never shown).
        super().__init__(status_code=303, detail="log in first", headers={"Location": "/login"})


def page_agent(request: Request, runtime: Runtime = Depends(get_runtime)) -> PageAgent:
    """The agent behind the session cookie; browsers without one are sent to /login."""
    from sqlalchemy import func, select

    from cuida.auth.models import Agent
    from cuida.events.models import Event

    principal = load_principal(request, runtime)
    if principal is None or principal.kind != "agent":
        raise LoginRequired()
    with runtime.db.sessions() as session:
        agent = session.get(Agent, principal.id)
        if agent is None or not agent.active:
            raise LoginRequired()
        view = PageAgent(
            id=agent.id,
            name=agent.name,
            email=agent.email,
            role=agent.role,
            language=agent.language or "es",
            team_ids=list(principal.team_ids),
            csrf_token=principal.csrf_token or "",
            principal=principal,
            event_cursor=int(session.scalar(select(func.max(Event.id))) or 0),
        )
    request.state.principal = principal
    return view


def render(
    request: Request,
    name: str,
    *,
    lang: str | None = None,
    agent: PageAgent | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """Render a template with what every page needs. The language is the one asked for, else the
    agent's, else the browser's Accept-Language, else Spanish."""
    language = lang or pick_language(
        request.headers.get("accept-language"), agent.language if agent else None
    )
    base: dict[str, Any] = {
        "lang": language,
        "t": translator(language),
        "agent": agent,
        "csrf_token": agent.csrf_token if agent else "",
        "nav": None,
    }
    base.update(context)
    return templates.TemplateResponse(request, name, base, status_code=status, headers=headers)


def minutes_text(minutes: float, lang: str) -> str:
    """A short duration for dense lists: '45 min', '3 h', '2 d' (same units in both languages)."""
    value = abs(minutes)
    if value < 60:
        return f"{int(value)} min"
    if value < 60 * 48:
        return f"{int(value // 60)} h"
    return f"{int(value // (60 * 24))} d"


def age_text(since: datetime | None, now: datetime) -> str:
    if since is None:
        return ""
    return minutes_text((now - since).total_seconds() / 60, "es")


templates.env.globals["minutes_text"] = minutes_text


def csrf_ok(request: Request, agent: PageAgent, form_token: str = "") -> bool:
    """An unsafe page request carries the session's CSRF token (X-CSRF-Token header, as htmx and
    cuida.js send it, or a `csrf_token` form field)."""
    import hmac

    sent = request.headers.get("x-csrf-token") or form_token
    return bool(agent.csrf_token) and bool(sent) and hmac.compare_digest(sent, agent.csrf_token)
