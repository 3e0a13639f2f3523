"""The HTML door: login and a first inbox page. Forms carry a CSRF token (double submit)."""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from cuida.auth import service as auth
from cuida.auth.api import set_session_cookie
from cuida.common.errors import Unauthorized
from cuida.conversations.service import list_conversations
from cuida.runtime import Runtime
from cuida.web.deps import SESSION_COOKIE, get_runtime, load_principal
from cuida.web.i18n import pick_language, translator

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))  # autoescape on for .html
LOGIN_CSRF_COOKIE = "cuida_login_csrf"


def _render(request: Request, name: str, lang: str, status: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(
        request, name, {"lang": lang, "t": translator(lang), **context}, status_code=status
    )


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, runtime: Runtime = Depends(get_runtime)) -> Response:
    lang = pick_language(request.headers.get("accept-language"))
    token = secrets.token_urlsafe(24)
    response = _render(request, "login.html", lang, csrf_token=token, error=None, email=None)
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=runtime.settings.secure_cookies,
        max_age=3600,
    )
    return response


@router.post("/login", response_class=HTMLResponse)
def login_submit(
    request: Request,
    email: str = Form(""),
    password: str = Form(""),
    csrf_token: str = Form(""),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    lang = pick_language(request.headers.get("accept-language"))
    t = translator(lang)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, csrf_token):
        return _render(
            request,
            "login.html",
            lang,
            status=403,
            csrf_token=expected or "",
            error=t("login.csrf"),
            email=email,
        )
    try:
        with runtime.db.session() as session:
            agent = auth.authenticate(session=session, email=email, password=password)
            token, _ = auth.open_session(session=session, agent=agent)
    except Unauthorized:
        return _render(
            request, "login.html", lang, status=401, csrf_token=expected, error=t("login.failed"), email=email
        )
    response = RedirectResponse("/", status_code=303)
    set_session_cookie(response, runtime, token)
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, csrf_token: str = Form(""), runtime: Runtime = Depends(get_runtime)) -> Response:
    principal = load_principal(request, runtime)
    if (
        principal is None
        or not principal.csrf_token
        or not hmac.compare_digest(principal.csrf_token, csrf_token)
    ):
        return RedirectResponse("/login", status_code=303)
    with runtime.db.session() as session:
        auth.close_session(session=session, token=request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/", response_class=HTMLResponse)
def home(request: Request, runtime: Runtime = Depends(get_runtime)) -> Response:
    principal = load_principal(request, runtime)
    if principal is None or principal.kind != "agent":
        return RedirectResponse("/login", status_code=303)
    with runtime.db.sessions() as session:
        from cuida.auth.models import Agent

        agent = session.get(Agent, principal.id)
        lang = pick_language(request.headers.get("accept-language"), agent.language if agent else None)
        rows, _ = list_conversations(session=session, status=["open", "pending"], limit=50)
        return _render(
            request,
            "home.html",
            lang,
            conversations=rows,
            agent_name=principal.name,
            csrf_token=principal.csrf_token,
        )
