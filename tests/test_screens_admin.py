"""Admin pages: admin role only (403 page otherwise), agents, teams, API tokens shown once,
channels with webhook health, canned replies, read-only settings; CSRF on every form."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cuida.auth.models import Agent, ApiToken
from cuida.quarantine import service as quarantine
from cuida.quarantine.schemas import InboundWebhookCreate
from cuida.runtime import Runtime
from cuida.settings import load_settings
from cuida.web.admin_page import effective_settings
from tests.screens_support import browser_for, make_agent, team_id

TABS = ("agents", "teams", "tokens", "channels", "canned", "settings")


@pytest.fixture
def people(runtime: Runtime, client: TestClient) -> dict[str, Any]:
    make_agent(runtime, "root@example.com", "admin")
    make_agent(runtime, "lia@example.com", "lead", ("care",))
    ana = make_agent(runtime, "ana@example.com", "agent", ("care",))
    return {"app": client.app, "ana": ana, "admin": browser_for(client.app, "root@example.com")}


def _tokens(runtime: Runtime) -> int:
    with runtime.db.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(ApiToken)) or 0)


def test_only_admins_open_admin(people: dict[str, Any], runtime: Runtime) -> None:
    for email in ("ana@example.com", "lia@example.com"):
        browser = browser_for(people["app"], email)
        assert 'href="/admin"' not in browser.get("/profile").text  # not offered in the nav
        for url in ("/admin", *(f"/admin/{tab}" for tab in TABS)):
            page = browser.get(url, follow_redirects=False)
            assert page.status_code == 403, url
            assert "Acceso denegado" in page.text and "solo para el rol de administrador" in page.text
        # Forms are refused on the server too, even with a valid CSRF token.
        created = browser.post("/admin/tokens", {"name": "sneaky", "scopes": "admin"})
        assert created.status_code == 403
        made_agent = browser.post(
            "/admin/agents", {"email": "x@example.com", "name": "X", "password": "0123456789ab"}
        )
        assert made_agent.status_code == 403
    assert _tokens(runtime) == 0
    anonymous = TestClient(people["app"])
    assert anonymous.get("/admin/agents", follow_redirects=False).headers["location"] == "/login"


def test_every_tab_renders_for_an_admin(people: dict[str, Any]) -> None:
    admin = people["admin"]
    assert admin.get("/admin", follow_redirects=False).headers["location"] == "/admin/agents"
    for tab in TABS:
        page = admin.get(f"/admin/{tab}")
        assert page.status_code == 200, tab
        assert f'data-tab="{tab}"' in page.text
    assert admin.get("/admin/nothing").status_code == 404


def test_create_agent_change_role_and_teams_and_deactivate(people: dict[str, Any], runtime: Runtime) -> None:
    admin = people["admin"]
    care, social = team_id(runtime, "care"), team_id(runtime, "social")
    created = admin.post(
        "/admin/agents",
        {
            "email": "new@example.com",
            "name": "Nuevo <b>",
            "password": "a long password",
            "role": "agent",
            "language": "en",
            "team_ids": [str(care)],
        },
    )
    assert created.status_code == 303, created.text
    listing = admin.get("/admin/agents?done=agent_created").text
    assert "Agente creado." in listing and "Nuevo &lt;b&gt;" in listing
    with runtime.db.sessions() as session:
        row = session.scalar(select(Agent).where(Agent.email == "new@example.com"))
        assert row is not None and row.language == "en" and [t.id for t in row.teams] == [care]
        new_id = row.id
    short = admin.post("/admin/agents", {"email": "b@example.com", "name": "B", "password": "short"})
    assert short.status_code == 422 and "password" in short.text
    updated = admin.post(
        f"/admin/agents/{people['ana']}",
        {"role": "lead", "teams_sent": "1", "team_ids": [str(care), str(social)]},
    )
    assert updated.status_code == 303
    with runtime.db.sessions() as session:
        ana = session.get(Agent, people["ana"])
        assert (
            ana is not None
            and ana.role == "lead"
            and sorted(t.id for t in ana.teams) == sorted([care, social])
        )
    # Deactivating ends the agent's sessions at once and stops logins.
    ana_browser = browser_for(people["app"], "ana@example.com")
    assert ana_browser.get("/profile").status_code == 200
    assert admin.post(f"/admin/agents/{people['ana']}", {"active": "0"}).status_code == 303
    assert ana_browser.get("/profile", follow_redirects=False).status_code == 303
    login = TestClient(people["app"]).post(
        "/api/v1/auth/login", json={"email": "ana@example.com", "password": "a long test password"}
    )
    assert login.status_code == 401
    assert admin.post(f"/admin/agents/{people['ana']}", {"active": "1"}).status_code == 303
    # An admin cannot lock themselves out.
    me = admin.post(f"/admin/agents/{admin.agent_id}", {"active": "0"})
    assert me.status_code == 422 and "deactivate yourself" in me.text
    assert new_id


def test_create_team(people: dict[str, Any], runtime: Runtime) -> None:
    admin = people["admin"]
    assert (
        admin.post("/admin/teams", {"slug": "claims", "name": "Reclamaciones", "kind": "claims"}).status_code
        == 303
    )
    assert "Reclamaciones" in admin.get("/admin/teams").text
    again = admin.post("/admin/teams", {"slug": "claims", "name": "Otra", "kind": "claims"})
    assert again.status_code == 409 and "already exists" in again.text
    bad = admin.post("/admin/teams", {"slug": "Not A Slug", "name": "X"})
    assert bad.status_code == 422


def test_token_secret_is_shown_once_and_revoking_stops_it(people: dict[str, Any], runtime: Runtime) -> None:
    admin = people["admin"]
    client: TestClient = admin.client
    created = admin.post("/admin/tokens", {"name": "CRM sync", "scopes": ["customers:read", "messages:read"]})
    assert created.status_code == 201
    assert created.headers["cache-control"] == "no-store"
    secret = created.text.split("data-secret>")[1].split("<")[0]
    assert secret.startswith("cuida_") and "solo guarda su huella" in created.text
    me = TestClient(people["app"]).get("/api/v1/auth/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200 and sorted(me.json()["scopes"]) == ["customers:read", "messages:read"]
    # Never again: not on the list, not on a reload.
    listing = admin.get("/admin/tokens").text
    assert secret not in listing and "CRM sync" in listing and secret[:12] in listing
    with runtime.db.sessions() as session:
        token_id = session.scalar(select(ApiToken.id).where(ApiToken.name == "CRM sync"))
    revoked = admin.post(f"/admin/tokens/{token_id}/revoke", {})
    assert revoked.status_code == 303
    assert (
        TestClient(people["app"])
        .get("/api/v1/auth/me", headers={"Authorization": f"Bearer {secret}"})
        .status_code
        == 401
    )
    unknown_scope = admin.post("/admin/tokens", {"name": "bad", "scopes": ["root"]})
    assert unknown_scope.status_code == 422 and "unknown scope" in unknown_scope.text
    assert client is not None


def test_forms_need_the_csrf_token(people: dict[str, Any], runtime: Runtime) -> None:
    admin = people["admin"]
    before = _tokens(runtime)
    assert admin.post("/admin/tokens", {"name": "x", "scopes": ["admin"]}, csrf=False).status_code == 403
    assert (
        admin.post("/admin/tokens", {"name": "x", "scopes": ["admin"], "csrf_token": "nope"}).status_code
        == 403
    )
    assert _tokens(runtime) == before
    assert admin.post("/admin/teams", {"slug": "x", "name": "X"}, csrf=False).status_code == 403
    assert admin.post(f"/admin/agents/{people['ana']}", {"active": "0"}, csrf=False).status_code == 403
    with runtime.db.sessions() as session:
        ana = session.get(Agent, people["ana"])
        assert ana is not None and ana.active


def test_channels_list_webhooks_with_their_health(people: dict[str, Any], runtime: Runtime) -> None:
    with runtime.db.session() as session:
        hook, _ = quarantine.create_webhook(
            session=session, data=InboundWebhookCreate(name="Tienda online", channel="store")
        )
        hook_id = hook.id
    page = people["admin"].get("/admin/channels").text
    assert "Tienda online" in page and f'data-webhook="{hook_id}" data-health="idle"' in page
    assert "<code>whatsapp</code>" in page


def test_an_email_account_is_created_from_the_page_and_shows_its_health(
    people: dict[str, Any], runtime: Runtime
) -> None:
    admin = people["admin"]
    page = admin.get("/admin/channels").text
    # The form comes from the kind's settings model: its fields, choices and secrets.
    assert 'id="admin-new-account-email"' in page and 'name="cfg_imap_host"' in page
    assert '<option value="starttls" selected>' in page and 'name="sec_imap_password"' in page
    refused = admin.post("/admin/channels/accounts", {"kind": "email", "name": "x"}, csrf=False)
    assert refused.status_code == 403
    bad = admin.post("/admin/channels/accounts", {"kind": "email", "name": "Buzón", "cfg_address": "no"})
    assert bad.status_code == 422 and "email address" in bad.text
    with socket.socket() as probe:  # a port nobody listens on: the poll must fail, visibly
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    created = admin.post(
        "/admin/channels/accounts",
        {
            "kind": "email",
            "name": "Buzón <b>ayuda</b>",
            "cfg_address": "ayuda@tienda.example",
            "cfg_imap_host": "127.0.0.1",
            "cfg_imap_port": str(closed_port),
            "cfg_imap_security": "none",
            "cfg_mailboxes": "INBOX, Quejas",
            "sec_imap_password": "s3cret-pass",
        },
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text
    [account] = _accounts(runtime)
    assert account.config["mailboxes"] == ["INBOX", "Quejas"] and account.config["imap_port"] == closed_port
    assert account.secrets == {"imap_password": "s3cret-pass"}
    page = admin.get("/admin/channels").text
    assert f'data-account="{account.id}" data-health="warning"' in page
    assert "Buzón &lt;b&gt;ayuda&lt;/b&gt;" in page and "s3cret-pass" not in page
    polled = admin.post(f"/admin/channels/accounts/{account.id}/poll", {}, follow_redirects=False)
    assert polled.status_code == 303
    page = admin.get("/admin/channels").text
    assert f'data-account="{account.id}" data-health="failing"' in page
    off = admin.post(
        f"/admin/channels/accounts/{account.id}/enabled", {"enabled": "0"}, follow_redirects=False
    )
    assert off.status_code == 303
    assert not _accounts(runtime)[0].enabled
    ana = browser_for(people["app"], "ana@example.com")
    assert ana.post(f"/admin/channels/accounts/{account.id}/enabled", {"enabled": "1"}).status_code == 403
    assert not _accounts(runtime)[0].enabled


def test_web_chats_feeds_and_brand_terms_are_set_up_from_the_page(
    people: dict[str, Any], runtime: Runtime
) -> None:
    admin = people["admin"]
    assert admin.post("/admin/channels/widgets", {"name": "x"}, csrf=False).status_code == 403
    bad = admin.post("/admin/channels/widgets", {"name": "Web", "allowed_origins": "not a site"})
    assert bad.status_code == 422
    made = admin.post(
        "/admin/channels/widgets",
        {"name": "Tienda <i>online</i>", "allowed_origins": "https://www.tienda.example\nhttps://tienda.example",
         "language": "en", "offline_behaviour": "hide"},
        follow_redirects=False,
    )  # fmt: skip
    assert made.status_code == 303, made.text
    feed = admin.post(
        "/admin/channels/feeds", {"url": "http://127.0.0.1:9/feed.xml", "name": "Blog de quejas"},
        follow_redirects=False,
    )  # fmt: skip
    assert feed.status_code == 303, feed.text
    term = admin.post(
        "/admin/channels/terms", {"term": "Tienda", "exclusions": "tienda de campaña, tienda online"},
        follow_redirects=False,
    )  # fmt: skip
    assert term.status_code == 303, term.text
    page = admin.get("/admin/channels").text
    assert "Tienda &lt;i&gt;online&lt;/i&gt;" in page and "data-cuida-widget=" in page
    assert "https://tienda.example, https://www.tienda.example" in page
    assert "Blog de quejas" in page and 'data-health="new"' in page
    assert "tienda de campaña, tienda online" in page
    from cuida.listening.feed_models import ListeningFeed

    with runtime.db.sessions() as session:
        feed_id = session.scalar(select(ListeningFeed.id))
    polled = admin.post(f"/admin/channels/feeds/{feed_id}/poll", {}, follow_redirects=False)
    assert polled.status_code == 303
    assert f'data-feed="{feed_id}" data-health="failing"' in admin.get("/admin/channels").text
    ana = browser_for(people["app"], "ana@example.com")
    assert ana.post("/admin/channels/terms", {"term": "Otra"}).status_code == 403


def _accounts(runtime: Runtime) -> list[Any]:
    from cuida.channels.models import ChannelAccount

    with runtime.db.sessions() as session:
        return list(session.scalars(select(ChannelAccount).order_by(ChannelAccount.id)))


def test_canned_replies_are_listed_created_edited_and_deleted(people: dict[str, Any]) -> None:
    pytest.importorskip("cuida.automation.service")
    admin = people["admin"]
    created = admin.post(
        "/admin/canned", {"name": "Saludo", "language": "es", "body": "Hola {{customer.name}}"}
    )
    assert created.status_code == 303, created.text
    page = admin.get("/admin/canned").text
    assert "Saludo" in page and "Hola {{customer.name}}" in page
    canned_id = page.split('data-canned="')[1].split('"')[0]
    edited = admin.post(
        "/admin/canned",
        {"canned_id": canned_id, "name": "Saludo", "language": "es", "body": "Buenas {{customer.name}}"},
    )
    assert edited.status_code == 303
    assert "Buenas {{customer.name}}" in admin.get("/admin/canned").text
    assert admin.post(f"/admin/canned/{canned_id}/delete", {}).status_code == 303
    assert "Todavía no hay respuestas guardadas." in admin.get("/admin/canned").text


def test_settings_show_values_but_never_secrets(people: dict[str, Any], tmp_path: Path) -> None:
    page = people["admin"].get("/admin/settings").text
    assert "CUIDA_DATA_DIR" in page and "CUIDA_SECRET_KEY" in page
    settings = load_settings(
        data_dir=tmp_path,
        database_url="postgresql://cuida:hunter2pw@db.internal:5432/cuida",
        secret_key="s3cret-signing-key",
    )
    rows = {row["name"]: row for row in effective_settings(settings)}
    assert rows["secret_key"]["secret"] and rows["secret_key"]["value"] == "" and rows["secret_key"]["is_set"]
    assert rows["database_url"]["value"] == "postgresql://cuida:***@db.internal:5432/cuida"
    assert "hunter2pw" not in str(rows) and "s3cret-signing-key" not in str(rows)
