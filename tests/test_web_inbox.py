"""The inbox page and its fragment, server side: views, sorts, search, saved filters, escaping,
CSRF on bulk actions and the visibility rule."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from cuida.web.strings import modules
from tests.web_helpers import login, make_agent, row_ids, team_id


@pytest.fixture
def agent_client(client: TestClient, api, runtime):
    """Logged in as Ana (team 'social'); the admin token (api) posts messages."""
    make_agent(runtime, "ana@example.com", teams=("social",))
    make_agent(runtime, "bea@example.com", teams=("claims",))
    return client


def _assign_team(api, conversation_id: int, team: int) -> None:
    assert (
        api.post(f"/api/v1/conversations/{conversation_id}/assign", json={"team_id": team}).status_code == 200
    )


def test_every_strings_module_has_the_same_keys_in_both_languages():
    for module in modules():
        assert set(module.ES) == set(module.EN), module.__name__
        prefix = module.__name__.rsplit(".", 1)[-1]
        if prefix in ("inbox", "common"):
            assert all(key.startswith(prefix + ".") for key in module.ES), module.__name__


def test_pages_need_a_login(client):
    response = client.get("/inbox", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert client.get("/inbox/list", follow_redirects=False).status_code == 303


def test_inbox_lists_visible_conversations_with_views(agent_client, api, runtime):
    social, claims = team_id(runtime, "social"), team_id(runtime, "claims")
    mine = api.message(external_id="m1", author="uno@x.es", text="Primera línea\nsegunda línea")
    ours = api.message(external_id="m2", author="dos@x.es", text="Del equipo social")
    theirs = api.message(external_id="m3", author="tres@x.es", text="Privada de reclamaciones")
    shared = api.message(external_id="m4", author="cuatro@x.es", text="Sin equipo todavía")
    _assign_team(api, ours["conversation_id"], social)
    _assign_team(api, theirs["conversation_id"], claims)
    csrf = login(agent_client, "ana@example.com")
    response = agent_client.post(
        "/inbox/bulk",
        data={"ids": [mine["conversation_id"]], "action": "assign_me"},
        headers={"X-CSRF-Token": csrf},
        follow_redirects=False,
    )
    assert response.status_code == 303
    page = agent_client.get("/inbox").text
    assert "Primera línea" in page and "segunda línea" not in page  # only the first line
    everything = set(row_ids(page))
    assert everything == {mine["conversation_id"], ours["conversation_id"], shared["conversation_id"]}
    assert row_ids(agent_client.get("/inbox?view=mine").text) == [mine["conversation_id"]]
    assert row_ids(agent_client.get("/inbox?view=team").text) == [ours["conversation_id"]]
    assert set(row_ids(agent_client.get("/inbox/list?view=unassigned").text)) == {
        ours["conversation_id"],
        shared["conversation_id"],
    }
    # Another team's private conversation is not in any view, nor reachable through a bulk action.
    refused = agent_client.post(
        "/inbox/bulk",
        data={"ids": [theirs["conversation_id"]], "action": "close"},
        headers={"X-CSRF-Token": csrf},
    )
    assert refused.status_code == 404
    assert api.get(f"/api/v1/conversations/{theirs['conversation_id']}").json()["status"] == "open"


def test_at_risk_and_overdue_views_and_sla_clock(agent_client, api, runtime):
    calm = api.message(external_id="c1", author="calm@x.es", text="¿A qué hora abrís?")
    risky = api.message(external_id="r1", author="risky@x.es", text="Otra pregunta")
    with runtime.db.session() as session:
        from cuida.conversations.models import Conversation

        session.get(Conversation, risky["conversation_id"]).risk_score = 0.9
    login(agent_client, "ana@example.com")
    assert row_ids(agent_client.get("/inbox?view=at_risk").text) == [risky["conversation_id"]]
    page = agent_client.get("/inbox").text
    assert 'class="sla ok"' in page or 'class="sla warning"' in page
    assert row_ids(page)[0] == risky["conversation_id"]  # priority sort: the riskiest first
    assert row_ids(agent_client.get("/inbox?view=overdue").text) == []
    moved = api.put("/api/v1/admin/clock", json={"advance_seconds": 10 * 24 * 3600})
    assert moved.status_code == 200, moved.text
    overdue = agent_client.get("/inbox?view=overdue").text
    assert set(row_ids(overdue)) == {calm["conversation_id"], risky["conversation_id"]}
    assert 'class="sla overdue"' in overdue


def test_intent_badges_and_sentiment_come_from_triage(agent_client, api):
    api.message(
        external_id="t1",
        author="enfadado@x.es",
        text="Es una vergüenza. Si no me lo arregláis me doy de baja y os denuncio ante consumo.",
    )
    login(agent_client, "ana@example.com")
    page = agent_client.get("/inbox").text
    assert 'class="badge churn"' in page and 'class="badge legal"' in page
    assert 'class="senti negative"' in page


def test_customer_text_is_escaped(agent_client, api):
    api.message(
        external_id="x1",
        author="malo@x.es",
        name="<b>Eve</b>",
        text='<script>window.pwned=1</script><img src=x onerror="window.pwned=1">',
    )
    login(agent_client, "ana@example.com")
    page = agent_client.get("/inbox").text
    assert "<script>window.pwned" not in page and "<img src=x" not in page
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in page


def test_bulk_actions_need_the_csrf_token(agent_client, api):
    one = api.message(external_id="b1", author="b1@x.es", text="uno")
    two = api.message(external_id="b2", author="b2@x.es", text="dos")
    csrf = login(agent_client, "ana@example.com")
    ids = [one["conversation_id"], two["conversation_id"]]
    assert agent_client.post("/inbox/bulk", data={"ids": ids, "action": "close"}).status_code == 403
    wrong = agent_client.post("/inbox/bulk", data={"ids": ids, "action": "close", "csrf_token": "nope"})
    assert wrong.status_code == 403
    assert all(api.get(f"/api/v1/conversations/{i}").json()["status"] == "open" for i in ids)
    done = agent_client.post(
        "/inbox/bulk", data={"ids": ids, "action": "close", "csrf_token": csrf}, follow_redirects=False
    )
    assert done.status_code == 303
    assert all(api.get(f"/api/v1/conversations/{i}").json()["status"] == "resolved" for i in ids)
    assert row_ids(agent_client.get("/inbox").text) == []
    assert set(row_ids(agent_client.get("/inbox?status=resolved").text)) == set(ids)


def test_bulk_assign_to_a_teammate_only(agent_client, api, runtime):
    mate = make_agent(runtime, "carla@example.com", teams=("social",))
    stranger = make_agent(runtime, "dora@example.com", teams=("claims",))
    one = api.message(external_id="a1", author="a1@x.es", text="uno")
    csrf = login(agent_client, "ana@example.com")
    headers = {"X-CSRF-Token": csrf, "HX-Request": "true"}
    data = {"ids": [one["conversation_id"]], "action": "assign", "agent_id": stranger}
    assert agent_client.post("/inbox/bulk", data=data, headers=headers).status_code == 403
    done = agent_client.post("/inbox/bulk", data={**data, "agent_id": mate}, headers=headers)
    assert done.status_code == 204 and done.headers["hx-trigger"] == "inbox:refresh"
    assert api.get(f"/api/v1/conversations/{one['conversation_id']}").json()["assignee_id"] == mate


def test_search_sorts_and_keyset_pages(agent_client, api, monkeypatch):
    import cuida.inbox.service as inbox_service

    for i in range(7):
        api.message(
            external_id=f"s{i}", author=f"s{i}@x.es", text=f"factura número {i}" if i % 2 else f"hola {i}"
        )
    login(agent_client, "ana@example.com")
    found = agent_client.get("/inbox?q=factura").text
    assert len(row_ids(found)) == 3 and "factura" in found
    assert "Ninguna conversación coincide" in agent_client.get("/inbox?q=inexistente").text
    by_age = row_ids(agent_client.get("/inbox?sort=age").text)
    assert by_age == sorted(by_age)
    # Keyset pages: walk them with a page size of 3 and see every row once.
    monkeypatch.setattr(inbox_service, "PAGE_SIZE", 3)
    seen: list[int] = []
    url: str | None = "/inbox?sort=activity"
    while url:
        html = agent_client.get(url).text
        seen += row_ids(html)
        nxt = re.search(r'<a href="([^"]+)" rel="next"', html)
        url = nxt.group(1).replace("&amp;", "&") if nxt else None
    assert len(seen) == 7 and len(set(seen)) == 7
    assert agent_client.get("/inbox?sort=sideways").status_code == 200  # shown as an error, not a crash
    assert "sort must be one of" in agent_client.get("/inbox?sort=sideways").text


def test_saved_filters_belong_to_their_agent(agent_client, api, runtime):
    api.message(external_id="f1", author="f1@x.es", text="factura pendiente")
    api.message(external_id="f2", author="f2@x.es", text="otra cosa")
    csrf = login(agent_client, "ana@example.com")
    saved = agent_client.post(
        "/inbox/filters",
        data={"name": "Facturas", "view": "all", "q": "factura", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    url = saved.headers["location"]
    page = agent_client.get(url).text
    assert len(row_ids(page)) == 1 and "Facturas" in page
    filter_id = int(url.rsplit("=", 1)[1])
    assert agent_client.post("/inbox/filters", data={"name": "x", "view": "all"}).status_code == 403
    agent_client.cookies.clear()
    login(agent_client, "bea@example.com")
    assert agent_client.get(url).status_code == 404  # Bea cannot use Ana's filter
    agent_client.cookies.clear()
    csrf = login(agent_client, "ana@example.com")
    agent_client.post(f"/inbox/filters/{filter_id}/delete", data={"csrf_token": csrf})
    assert agent_client.get(url).status_code == 404


def test_language_switch_and_static_files(agent_client):
    csrf = login(agent_client, "ana@example.com")
    assert "Sin asignar" in agent_client.get("/inbox").text
    agent_client.post("/preferences/language", data={"language": "en", "next": "/inbox", "csrf_token": csrf})
    page = agent_client.get("/inbox").text
    assert '<html lang="en">' in page and "Unassigned" in page
    off_site = agent_client.post(
        "/preferences/language",
        data={"language": "es", "next": "//evil.example", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert off_site.headers["location"] == "/"
    htmx = agent_client.get("/static/vendor/htmx.min.js")
    assert htmx.status_code == 200 and "htmx" in htmx.text[:2000]
    assert agent_client.get("/static/cuida.js").headers["content-type"].startswith("text/javascript")
    assert agent_client.get("/static/..%2Fpages.py").status_code == 404
