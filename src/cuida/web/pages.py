"""The HTML door: login, logout, the language switch; `/` leads to the inbox. Login forms carry a
CSRF token (double submit); signed-in forms carry the session's token."""

from __future__ import annotations

import hmac
import secrets

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cuida.auth import service as auth
from cuida.auth.api import set_session_cookie
from cuida.common.errors import Unauthorized
from cuida.runtime import Runtime
from cuida.web.deps import SESSION_COOKIE, get_runtime, load_principal
from cuida.web.i18n import pick_language, translator
from cuida.web.render import PageAgent, page_agent, render
from cuida.web.strings import LANGUAGES

router = APIRouter(include_in_schema=False)
LOGIN_CSRF_COOKIE = "cuida_login_csrf"


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, runtime: Runtime = Depends(get_runtime)) -> Response:
    lang = pick_language(request.headers.get("accept-language"))
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html", lang=lang, csrf_token=token, error=None, email=None)
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
        return render(
            request,
            "login.html",
            lang=lang,
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
        return render(
            request,
            "login.html",
            lang=lang,
            status=401,
            csrf_token=expected,
            error=t("login.failed"),
            email=email,
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


@router.get("/")
def home(agent: PageAgent = Depends(page_agent)) -> Response:
    return RedirectResponse("/inbox", status_code=303)


@router.post("/preferences/language")
def set_language(
    request: Request,
    language: str = Form("es"),
    next: str = Form("/"),
    csrf_token: str = Form(""),
    agent: PageAgent = Depends(page_agent),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    """The top bar's language switch: stored on the agent, so every page and device follows it."""
    from cuida.auth.models import Agent

    if not agent.csrf_token or not hmac.compare_digest(agent.csrf_token, csrf_token):
        return render(request, "error.html", agent=agent, status=403, message_key="common.forbidden")
    if language in LANGUAGES:
        with runtime.db.session() as session:
            row = session.get(Agent, agent.id)
            if row is not None:
                row.language = language
    # Only a path on this site: never an open redirect.
    target = next if next.startswith("/") and not next.startswith("//") else "/"
    return RedirectResponse(target, status_code=303)
