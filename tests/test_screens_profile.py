"""The agent's profile page: language (persisted, used by every page), teams, notification
preferences, away status; CSRF on every form."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from cuida.auth.models import Agent
from cuida.preferences import service as preferences
from cuida.runtime import Runtime
from tests.screens_support import browser_for, make_agent


@pytest.fixture
def ana(runtime: Runtime, client: TestClient) -> dict[str, Any]:
    agent_id = make_agent(runtime, "ana@example.com", "agent", ("billing", "social"))
    return {"id": agent_id, "browser": browser_for(client.app, "ana@example.com")}


def _language(runtime: Runtime, agent_id: int) -> str:
    with runtime.db.sessions() as session:
        row = session.get(Agent, agent_id)
        assert row is not None
        return row.language


def test_profile_shows_teams_and_default_notifications(ana: dict[str, Any]) -> None:
    page = ana["browser"].get("/profile")
    assert page.status_code == 200
    assert "Mi perfil" in page.text and "Billing" in page.text and "Social" in page.text
    assert 'name="sla.breached:workspace" aria-label' in page.text
    workspace = page.text.split('name="sla.breached:workspace"')[1].split(">")[0]
    email = page.text.split('name="sla.breached:email"')[1].split(">")[0]
    assert "checked" in workspace and "checked" not in email


def test_language_switch_is_persisted_and_used_by_every_page(ana: dict[str, Any], runtime: Runtime) -> None:
    browser = ana["browser"]
    assert "Panel del responsable" in browser.get("/board").text
    saved = browser.post("/profile/language", {"language": "en"})
    assert saved.status_code == 303 and saved.headers["location"] == "/profile?saved=language"
    assert _language(runtime, ana["id"]) == "en"
    assert "Language saved." in browser.get("/profile?saved=language").text
    assert "At-risk conversations" in browser.get("/board").text
    assert "Customers" in browser.get("/customers").text
    # A new login (another browser) gets English too: it is the agent's, not the session's.
    other = browser_for(browser.client.app, "ana@example.com")
    assert "Every page is shown in this language." in other.get("/profile").text
    back = browser.post("/profile/language", {"language": "es"})
    assert back.status_code == 303 and _language(runtime, ana["id"]) == "es"
    assert browser.post("/profile/language", {"language": "fr"}).status_code == 422
    assert _language(runtime, ana["id"]) == "es"


def test_forms_need_the_csrf_token(ana: dict[str, Any], runtime: Runtime) -> None:
    browser = ana["browser"]
    refused = browser.post("/profile/language", {"language": "en"}, csrf=False)
    assert refused.status_code == 403 and "formulario ha caducado" in refused.text
    forged = browser.post("/profile/language", {"language": "en", "csrf_token": "x" * 32})
    assert forged.status_code == 403
    assert _language(runtime, ana["id"]) == "es"
    assert browser.post("/profile/notifications", {"sla.breached:email": "on"}, csrf=False).status_code == 403
    with runtime.db.sessions() as session:
        assert preferences.notification_preferences(session=session, agent_id=ana["id"])["sla.breached"] == {
            "workspace": True,
            "email": False,
        }
    anonymous = TestClient(browser.client.app)
    assert (
        anonymous.post("/profile/language", data={"language": "en"}, follow_redirects=False).status_code
        == 303
    )


def test_notification_preferences_are_saved(ana: dict[str, Any], runtime: Runtime) -> None:
    browser = ana["browser"]
    saved = browser.post(
        "/profile/notifications", {"sla.breached:email": "on", "sla.breached:workspace": "on"}
    )
    assert saved.status_code == 303
    with runtime.db.sessions() as session:
        chosen = preferences.notification_preferences(session=session, agent_id=ana["id"])
        assert chosen["sla.breached"] == {"workspace": True, "email": True}
        # Not ticked: off, for both channels.
        assert chosen["sla.warning"] == {"workspace": False, "email": False}
        assert preferences.wants(session=session, agent_id=ana["id"], kind="sla.breached", via="email")
        assert not preferences.wants(session=session, agent_id=ana["id"], kind="sla.warning", via="workspace")
    page = browser.get("/profile?saved=notifications").text
    assert "checked" in page.split('name="sla.breached:email"')[1].split(">")[0]
    assert "checked" not in page.split('name="sla.warning:workspace"')[1].split(">")[0]


def test_away_status(ana: dict[str, Any], runtime: Runtime) -> None:
    pytest.importorskip("cuida.routing.service")
    browser = ana["browser"]
    assert "Estás disponible" in browser.get("/profile").text
    assert browser.post("/profile/away", {"away": "1"}).status_code == 303
    with runtime.db.sessions() as session:
        row = session.get(Agent, ana["id"])
        assert row is not None and row.away is True
    assert "Estás ausente" in browser.get("/profile").text
    browser.post("/profile/away", {"away": "0"})
    with runtime.db.sessions() as session:
        row = session.get(Agent, ana["id"])
        assert row is not None and row.away is False
