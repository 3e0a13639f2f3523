"""Administration pages (/admin/...), for the admin role only (checked on the server for every
request, GET or POST): agents (create, role, teams, deactivate), teams, API tokens (the secret is
shown once, on the page that answers the creation, and never again), channels with the health of the
inbound webhooks, canned replies (the automation domain's service) and the effective settings
(read-only, secrets never shown).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cuida.auth import service as auth
from cuida.auth.permissions import ROLES, SCOPES
from cuida.auth.schemas import AgentCreate, TeamCreate
from cuida.channels import service as channel_accounts
from cuida.channels.kinds import kinds as registered_kinds
from cuida.channels.models import ChannelAccount
from cuida.channels.registry import CHANNELS
from cuida.channels.schemas import ChannelAccountCreate, ChannelAccountUpdate
from cuida.common.errors import CuidaError
from cuida.listening import feeds
from cuida.listening.feed_schemas import FeedCreate, TermCreate
from cuida.quarantine import service as quarantine
from cuida.quarantine.models import QuarantinedPayload
from cuida.runtime import Runtime
from cuida.settings import Settings
from cuida.web.deps import get_runtime
from cuida.web.render import PageAgent, page_agent, render
from cuida.web.screens import bad_csrf, csrf_ok, error_page, forbidden
from cuida.webchat import service as webchat
from cuida.webchat.schemas import WidgetCreate

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)

TABS = ("agents", "teams", "tokens", "channels", "canned", "settings")
TEAM_KINDS = ("care", "social", "call_centre", "claims", "sales", "marketing", "other")
# Settings whose value is a secret or may carry credentials: shown as set / not set only.
SECRET_SETTINGS = ("secret_key",)
URL_SETTINGS = ("database_url", "redis_url")


def _canned() -> Any:
    """The automation domain's canned-reply service, when it is installed."""
    try:
        from cuida.automation import service as automation
    except ImportError:
        return None
    return automation if hasattr(automation, "list_canned") else None


def _is_admin(agent: PageAgent) -> bool:
    return agent.role == "admin"


def _validation_message(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" if err["loc"] else str(err["msg"])
        for err in exc.errors()
    )


def _without_password(url: str | None) -> str | None:
    if not url:
        return url
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def effective_settings(settings: Settings) -> list[dict[str, Any]]:
    """Every setting with its value (URLs without their password; secrets only as set / not set)."""
    rows = []
    for name, field in type(settings).model_fields.items():
        value = getattr(settings, name)
        secret = name in SECRET_SETTINGS or any(w in name for w in ("password", "token"))
        if secret:
            shown = None
        elif name in URL_SETTINGS:
            shown = _without_password(value)
        else:
            shown = value
        rows.append(
            {
                "name": name,
                "env": f"CUIDA_{name.upper()}",
                "value": "" if shown is None else str(shown),
                "secret": secret,
                "is_set": value not in (None, ""),
                "description": field.description or "",
            }
        )
    return rows


def webhook_health(hook: Any, pending: int) -> str:
    """ok, failing (its latest delivery was refused or quarantined), idle (never used) or disabled."""
    if not hook.active:
        return "disabled"
    if hook.last_error_at is not None and (
        hook.last_success_at is None or hook.last_error_at > hook.last_success_at
    ):
        return "failing"
    if hook.last_success_at is None:
        return "idle"
    return "warning" if pending else "ok"


def _tab_context(session: Session, runtime: Runtime, tab: str, base_url: str = "") -> dict[str, Any]:
    if tab == "agents":
        return {"agents": auth.list_agents(session=session), "teams": auth.list_teams(session=session)}
    if tab == "teams":
        teams = auth.list_teams(session=session)
        return {"teams": teams, "members": {t.id: len(t.members) for t in teams}}
    if tab == "tokens":
        tokens = auth.list_tokens(session=session)
        return {"tokens": list(reversed(tokens))}
    if tab == "channels":
        hooks = quarantine.list_webhooks(session=session)
        pending: dict[int, int] = {
            webhook_id: int(count)
            for webhook_id, count in session.execute(
                select(QuarantinedPayload.webhook_id, func.count())
                .where(QuarantinedPayload.status == "new", QuarantinedPayload.webhook_id.is_not(None))
                .group_by(QuarantinedPayload.webhook_id)
            )
            if webhook_id is not None
        }
        return {
            "accounts": [
                {"account": channel_accounts.read(a), "health": account_health(a)}
                for a in channel_accounts.list_accounts(session=session)
            ],
            "account_kinds": account_kinds(),
            "widgets": [webchat.read(w, str(base_url)) for w in webchat.list_widgets(session=session)],
            "feeds": feeds.list_feeds(session=session),
            "terms": feeds.list_terms(session=session),
            "teams": auth.list_teams(session=session),
            "channels": [
                {"name": name, "label": label, "adapter": type(runtime.adapters.for_channel(name)).__name__}
                for name, label in CHANNELS.items()
            ],
            "webhooks": [
                {
                    "hook": h,
                    "pending": int(pending.get(h.id, 0)),
                    "health": webhook_health(h, pending.get(h.id, 0)),
                }
                for h in hooks
            ],
        }
    if tab == "canned":
        automation = _canned()
        return {
            "canned_available": automation is not None,
            "canned": automation.list_canned(session=session) if automation else [],
        }
    return {"settings_rows": effective_settings(runtime.settings)}


def _page(
    request: Request,
    agent: PageAgent,
    runtime: Runtime,
    tab: str,
    *,
    status: int = 200,
    **extra: Any,
) -> Response:
    with runtime.db.sessions() as session:
        context = _tab_context(session, runtime, tab, str(request.base_url))
        return render(
            request,
            "admin.html",
            agent=agent,
            nav="admin",
            status=status,
            tab=tab,
            tabs=TABS,
            roles=ROLES,
            scopes=SCOPES,
            team_kinds=TEAM_KINDS,
            flash=extra.pop("flash", request.query_params.get("done")),
            **context,
            **extra,
        )


def _guard(request: Request, agent: PageAgent, token: str | None = None) -> Response | None:
    """403 page for anyone but an admin; for forms, also the CSRF check."""
    if not _is_admin(agent):
        return forbidden(request, agent, "admin.forbidden")
    if token is not None and not csrf_ok(request, agent, token):
        return bad_csrf(request, agent)
    return None


def _done(tab: str, what: str) -> RedirectResponse:
    return RedirectResponse(f"/admin/{tab}?done={what}", status_code=303)


@router.get("/admin", response_class=HTMLResponse)
def admin_home(request: Request, agent: PageAgent = Depends(page_agent)) -> Response:
    return _guard(request, agent) or RedirectResponse("/admin/agents", status_code=303)


@router.get("/admin/{tab}", response_class=HTMLResponse)
def admin_tab(
    tab: str,
    request: Request,
    agent: PageAgent = Depends(page_agent),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    refused = _guard(request, agent)
    if refused:
        return refused
    if tab not in TABS:
        return error_page(request, agent, 404, "admin.no_such_tab")
    return _page(request, agent, runtime, tab)


# --- agents ------------------------------------------------------------------------------------


def _team_ids(form: Any) -> list[int]:
    return [int(v) for v in form.getlist("team_ids") if str(v).isdigit()]


@router.post("/admin/agents")
async def create_agent(
    request: Request, agent: PageAgent = Depends(page_agent), runtime: Runtime = Depends(get_runtime)
) -> Response:
    form = await request.form()
    refused = _guard(request, agent, str(form.get("csrf_token", "")))
    if refused:
        return refused
    assert agent.principal is not None
    try:
        with runtime.db.session() as session:
            slugs = [t.slug for t in auth.list_teams(session=session) if t.id in set(_team_ids(form))]
            data = AgentCreate(
                email=str(form.get("email", "")),
                name=str(form.get("name", "")),
                password=str(form.get("password", "")),
                role=str(form.get("role", "agent")),  # type: ignore[arg-type]
                language=str(form.get("language", "es")),  # type: ignore[arg-type]
                team_slugs=slugs,
            )
            auth.create_agent(session=session, data=data, actor=agent.principal.actor)
    except ValidationError as exc:
        return _page(request, agent, runtime, "agents", status=422, error=_validation_message(exc))
    except CuidaError as exc:
        return _page(request, agent, runtime, "agents", status=exc.status_code, error=exc.message)
    return _done("agents", "agent_created")


@router.post("/admin/agents/{agent_id}")
async def update_agent(
    agent_id: int,
    request: Request,
    agent: PageAgent = Depends(page_agent),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    form = await request.form()
    refused = _guard(request, agent, str(form.get("csrf_token", "")))
    if refused:
        return refused
    assert agent.principal is not None
    active = form.get("active")
    try:
        with runtime.db.session() as session:
            auth.update_agent(
                session=session,
                agent_id=agent_id,
                actor=agent.principal.actor,
                role=str(form["role"]) if "role" in form else None,
                team_ids=_team_ids(form) if "teams_sent" in form else None,
                active=None if active is None else active == "1",
            )
    except CuidaError as exc:
        return _page(request, agent, runtime, "agents", status=exc.status_code, error=exc.message)
    return _done("agents", "agent_updated")


# --- teams -------------------------------------------------------------------------------------


@router.post("/admin/teams")
def create_team(
    request: Request,
    slug: str = Form(""),
    name: str = Form(""),
    kind: str = Form("care"),
    csrf_token: str = Form(""),
    agent: PageAgent = Depends(page_agent),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    refused = _guard(request, agent, csrf_token)
    if refused:
        return refused
    assert agent.principal is not None
    try:
        data = TeamCreate(slug=slug.strip(), name=name, kind=kind)  # type: ignore[arg-type]
        with runtime.db.session() as session:
            auth.create_team(session=session, data=data, actor=agent.principal.actor)
    except ValidationError as exc:
        return _page(request, agent, runtime, "teams", status=422, error=_validation_message(exc))
    except CuidaError as exc:
        return _page(request, agent, runtime, "teams", status=exc.status_code, error=exc.message)
    return _done("teams", "team_created")


# --- API tokens --------------------------------------------------------------------------------


@router.post("/admin/tokens")
async def create_token(
    request: Request, agent: PageAgent = Depends(page_agent), runtime: Runtime = Depends(get_runtime)
) -> Response:
    form = await request.form()
    refused = _guard(request, agent, str(form.get("csrf_token", "")))
    if refused:
        return refused
    assert agent.principal is not None
    name = str(form.get("name", "")).strip()
    if not name:
        return _page(request, agent, runtime, "tokens", status=422, error="admin.tokens.name_needed")
    try:
        with runtime.db.session() as session:
            secret, row = auth.create_token(
                session=session,
                name=name[:200],
                scopes=[str(s) for s in form.getlist("scopes")],
                created_by=agent.id,
                note=str(form.get("note", "")).strip()[:2000] or None,
                actor=agent.principal.actor,
            )
            created = {"id": row.id, "name": row.name}
    except CuidaError as exc:
        return _page(request, agent, runtime, "tokens", status=exc.status_code, error=exc.message)
    # The secret is in this answer only (only its hash is stored); the page says so, and is not cached.
    response = _page(request, agent, runtime, "tokens", status=201, new_secret=secret, new_token=created)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/admin/tokens/{token_id}/revoke")
def revoke_token(
    token_id: int,
    request: Request,
    csrf_token: str = Form(""),
    agent: PageAgent = Depends(page_agent),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    refused = _guard(request, agent, csrf_token)
    if refused:
        return refused
    assert agent.principal is not None
    try:
        with runtime.db.session() as session:
            auth.revoke_token(session=session, token_id=token_id, actor=agent.principal.actor)
    except CuidaError as exc:
        return _page(request, agent, runtime, "tokens", status=exc.status_code, error=exc.message)
    return _done("tokens", "token_revoked")


# --- channel accounts ---------------------------------------------------------------------------


def account_health(account: ChannelAccount) -> str:
    """ok, failing (the last attempt failed), warning (never succeeded yet, or disabled)."""
    if not account.enabled:
        return "warning"
    if account.last_error_at is not None and (
        account.last_success_at is None or account.last_error_at >= account.last_success_at
    ):
        return "failing"
    return "ok" if account.last_success_at is not None else "warning"


def account_kinds() -> list[dict[str, Any]]:
    """Each kind's settings as form fields, read from its settings model (so a new adapter's
    settings appear here without a template change), and the names of its secrets."""
    found = []
    for name, kind in sorted(registered_kinds().items()):
        fields = []
        for key, info in kind.config.model_fields.items():
            choices = list(getattr(info.annotation, "__args__", ()) or ())
            literal = bool(choices) and all(isinstance(c, str) for c in choices)
            is_list = str(info.annotation).startswith("list")
            default = None if info.is_required() else info.get_default(call_default_factory=True)
            fields.append(
                {
                    "key": key,
                    "required": info.is_required(),
                    "choices": choices if literal else [],
                    "list": is_list,
                    "default": ", ".join(default) if is_list and default else default,
                    "help": info.description or "",
                }
            )
        found.append({"name": name, "fields": fields, "secrets": list(kind.secrets)})
    return found


def _account_form(form: Any, kind_name: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The config and secrets an account form filled in; empty fields keep their defaults."""
    kind = next((k for k in account_kinds() if k["name"] == kind_name), None)
    if kind is None:
        return {}, {}
    config: dict[str, Any] = {}
    for field in kind["fields"]:
        value = str(form.get(f"cfg_{field['key']}", "")).strip()
        if value:
            config[field["key"]] = (
                [v.strip() for v in value.split(",") if v.strip()] if field["list"] else value
            )
    secrets = {
        name: str(form.get(f"sec_{name}", "")) for name in kind["secrets"] if str(form.get(f"sec_{name}", ""))
    }
    return config, secrets


@router.post("/admin/channels/accounts")
async def create_channel_account(
    request: Request,
    agent: PageAgent = Depends(page_agent),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    form = await request.form()
    kind = str(form.get("kind", ""))
    config, secrets = _account_form(form, kind)
    return _save(
        request,
        agent,
        runtime,
        str(form.get("csrf_token", "")),
        "account_created",
        lambda session, actor: channel_accounts.create_account(
            session=session,
            data=ChannelAccountCreate(
                kind=kind, name=str(form.get("name", "")), config=config, secrets=secrets
            ),
            actor=actor,
        ),
    )


@router.post("/admin/channels/accounts/{account_id}/enabled")
def toggle_channel_account(
    account_id: int,
    request: Request,
    enabled: str = Form(""),
    csrf_token: str = Form(""),
    agent: PageAgent = Depends(page_agent),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    return _save(
        request,
        agent,
        runtime,
        csrf_token,
        "account_enabled" if enabled == "1" else "account_disabled",
        lambda session, actor: channel_accounts.update_account(
            session=session,
            account_id=account_id,
            data=ChannelAccountUpdate(enabled=enabled == "1"),
            actor=actor,
        ),
    )


@router.post("/admin/channels/accounts/{account_id}/poll")
def poll_channel_account(
    account_id: int,
    request: Request,
    csrf_token: str = Form(""),
    agent: PageAgent = Depends(page_agent),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    """Poll now (an admin checking a fix): the failure, if any, shows as the account's health."""
    refused = _guard(request, agent, csrf_token)
    if refused:
        return refused
    try:
        channel_accounts.poll_now(runtime, account_id)
    except CuidaError as exc:
        return _page(request, agent, runtime, "channels", status=exc.status_code, error=exc.message)
    except Exception:  # the poller records what went wrong on the account: its health says it
        log.exception("polling channel account %s from the admin page failed", account_id)
        return _done("channels", "account_poll_failed")
    return _done("channels", "account_polled")


# --- web chat widgets and listening feeds --------------------------------------------------------


def _lines(value: str) -> list[str]:
    return [v.strip() for v in value.replace(",", "\n").splitlines() if v.strip()]


def _save(
    request: Request, agent: PageAgent, runtime: Runtime, csrf_token: str, what: str, make: Any
) -> Response:
    """One of the channels tab's forms: admin and CSRF checked, `make(session, actor)` run in a
    transaction, its error shown back on the page, else a redirect saying `what` was done."""
    refused = _guard(request, agent, csrf_token)
    if refused:
        return refused
    assert agent.principal is not None
    try:
        with runtime.db.session() as session:
            make(session, agent.principal.actor)
    except ValidationError as exc:
        return _page(request, agent, runtime, "channels", status=422, error=_validation_message(exc))
    except CuidaError as exc:
        return _page(request, agent, runtime, "channels", status=exc.status_code, error=exc.message)
    return _done("channels", what)


@router.post("/admin/channels/widgets")
def create_widget(
    request: Request,
    name: str = Form(""),
    allowed_origins: str = Form(""),
    team_id: str = Form(""),
    language: str = Form("es"),
    offline_behaviour: str = Form("email"),
    csrf_token: str = Form(""),
    agent: PageAgent = Depends(page_agent),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    return _save(
        request,
        agent,
        runtime,
        csrf_token,
        "widget_created",
        lambda session, actor: webchat.create_widget(
            session=session,
            data=WidgetCreate.model_validate(
                {
                    "name": name,
                    "allowed_origins": _lines(allowed_origins),
                    "team_id": int(team_id) if team_id.isdigit() else None,
                    "language": language,
                    "offline_behaviour": offline_behaviour,
                }
            ),
            actor=actor,
        ),
    )


@router.post("/admin/channels/feeds")
def create_feed(
    request: Request,
    url: str = Form(""),
    name: str = Form(""),
    interval_minutes: str = Form(""),
    csrf_token: str = Form(""),
    agent: PageAgent = Depends(page_agent),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    return _save(
        request,
        agent,
        runtime,
        csrf_token,
        "feed_created",
        lambda session, actor: feeds.create_feed(
            session=session,
            data=FeedCreate(
                url=url.strip(),
                name=name.strip() or None,
                interval_minutes=int(interval_minutes) if interval_minutes.isdigit() else None,
            ),
            actor=actor,
        ),
    )


@router.post("/admin/channels/feeds/{feed_id}/poll")
def poll_feed(
    feed_id: int,
    request: Request,
    csrf_token: str = Form(""),
    agent: PageAgent = Depends(page_agent),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    refused = _guard(request, agent, csrf_token)
    if refused:
        return refused
    try:
        feeds.poll_now(runtime, feed_id)
    except CuidaError as exc:
        return _page(request, agent, runtime, "channels", status=exc.status_code, error=exc.message)
    return _done("channels", "feed_polled")


@router.post("/admin/channels/terms")
def create_term(
    request: Request,
    term: str = Form(""),
    exclusions: str = Form(""),
    csrf_token: str = Form(""),
    agent: PageAgent = Depends(page_agent),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    return _save(
        request,
        agent,
        runtime,
        csrf_token,
        "term_created",
        lambda session, actor: feeds.create_term(
            session=session, data=TermCreate(term=term, exclusions=_lines(exclusions)), actor=actor
        ),
    )


# --- canned replies ----------------------------------------------------------------------------


@router.post("/admin/canned")
def save_canned(
    request: Request,
    canned_id: str = Form(""),
    name: str = Form(""),
    language: str = Form("es"),
    body: str = Form(""),
    csrf_token: str = Form(""),
    agent: PageAgent = Depends(page_agent),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    """Create a canned reply, or edit one when `canned_id` is given."""
    refused = _guard(request, agent, csrf_token)
    if refused:
        return refused
    automation = _canned()
    if automation is None:
        return error_page(request, agent, 404, "admin.canned.unavailable")
    from cuida.automation.schemas import CannedCreate, CannedUpdate

    assert agent.principal is not None
    try:
        with runtime.db.session() as session:
            if canned_id.isdigit():
                automation.update_canned(
                    session=session,
                    canned_id=int(canned_id),
                    data=CannedUpdate(name=name, language=language, body=body),
                    actor=agent.principal.actor,
                )
            else:
                automation.create_canned(
                    session=session,
                    data=CannedCreate(name=name, language=language, body=body),
                    actor=agent.principal.actor,
                )
    except ValidationError as exc:
        return _page(request, agent, runtime, "canned", status=422, error=_validation_message(exc))
    except CuidaError as exc:
        return _page(request, agent, runtime, "canned", status=exc.status_code, error=exc.message)
    return _done("canned", "canned_saved")


@router.post("/admin/canned/{canned_id}/delete")
def delete_canned(
    canned_id: int,
    request: Request,
    csrf_token: str = Form(""),
    agent: PageAgent = Depends(page_agent),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    refused = _guard(request, agent, csrf_token)
    if refused:
        return refused
    automation = _canned()
    if automation is None:
        return error_page(request, agent, 404, "admin.canned.unavailable")
    assert agent.principal is not None
    try:
        with runtime.db.session() as session:
            automation.delete_canned(session=session, canned_id=canned_id, actor=agent.principal.actor)
    except CuidaError as exc:
        return _page(request, agent, runtime, "canned", status=exc.status_code, error=exc.message)
    return _done("canned", "canned_deleted")
