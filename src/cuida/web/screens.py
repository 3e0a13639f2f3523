"""What the board, customers, profile and admin pages share: the CSRF check for their forms,
their error page, and the scope check that turns a missing permission into a 403 page."""

from __future__ import annotations

import hmac

from fastapi import Request
from fastapi.responses import HTMLResponse

from cuida.auth.permissions import ROLE_SCOPES
from cuida.web.render import PageAgent, render

CSRF_HEADER = "x-csrf-token"


def csrf_ok(request: Request, agent: PageAgent, form_token: str) -> bool:
    """A form carries `csrf_token`; htmx requests send the X-CSRF-Token header instead."""
    sent = form_token or request.headers.get(CSRF_HEADER, "")
    return bool(agent.csrf_token) and hmac.compare_digest(sent.encode(), agent.csrf_token.encode())


def has_scope(agent: PageAgent, scope: str) -> bool:
    return scope in ROLE_SCOPES.get(agent.role, frozenset())


def error_page(request: Request, agent: PageAgent, status: int, message: str) -> HTMLResponse:
    """A designed error page in the agent's language (`message` is a string key or plain text)."""
    return render(request, "screens_error.html", agent=agent, status=status, code=status, message=message)


def forbidden(request: Request, agent: PageAgent, message: str = "common.forbidden") -> HTMLResponse:
    return error_page(request, agent, 403, message)


def bad_csrf(request: Request, agent: PageAgent) -> HTMLResponse:
    return error_page(request, agent, 403, "screens.csrf")
