"""Goodwill within authority: the "minifigura" story, limits, decisions and the report."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

PASSWORD = "a long password"


class AgentClient:
    """One signed-in agent: a cookie session of its own, the CSRF header on every write."""

    def __init__(self, app: Any, email: str) -> None:
        self.client = TestClient(app)
        login = self.client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        assert login.status_code == 200, login.text
        self.id = login.json()["agent"]["id"]
        self.csrf = login.json()["csrf_token"]

    def get(self, url: str) -> Any:
        return self.client.get(url)

    def post(self, url: str, json: Any = None) -> Any:
        return self.client.post(url, json=json, headers={"X-CSRF-Token": self.csrf})

    def put(self, url: str, json: Any = None) -> Any:
        return self.client.put(url, json=json, headers={"X-CSRF-Token": self.csrf})


def set_clock(api: Any, iso: str) -> None:
    response = api.put("/api/v1/admin/clock", json={"now": iso})
    assert response.status_code == 200, response.text


@pytest.fixture
def shop(api: Any, client: TestClient) -> dict[str, Any]:
    """A toy shop's care team: two agents and their lead, plus a manager outside the team."""
    assert api.post("/api/v1/teams", json={"slug": "tienda", "name": "Tienda"}).status_code == 201
    people = {
        "ana": ("agent", ["tienda"]),
        "bea": ("agent", ["tienda"]),
        "luis": ("lead", ["tienda"]),
        "marta": ("manager", []),
    }
    for name, (role, teams) in people.items():
        created = api.post(
            "/api/v1/agents",
            json={
                "email": f"{name}@tienda.es",
                "name": name.title(),
                "password": PASSWORD,
                "role": role,
                "team_slugs": teams,
            },
        )
        assert created.status_code == 201, created.text
    set_clock(api, "2026-03-02T09:00:00+00:00")
    complaint = api.message(
        channel="twitter",
        external_id="tw-1",
        author={"value": "@marta_lego", "followers": 1500},
        text="@juguetes_mundo la minifigura llegó rota, qué decepción, era un regalo",
        public=True,
    )
    return {
        **{name: AgentClient(client.app, f"{name}@tienda.es") for name in people},
        "customer_id": complaint["customer_id"],
        "conversation_id": complaint["conversation_id"],
    }


def gesture(kind: str, cost: float | str, conversation_id: int | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "cost": str(cost),
        "description": f"{kind} de {cost} EUR",
        "conversation_id": conversation_id,
        **extra,
    }


def test_minifigura_story(api, shop):
    ana, bea, luis = shop["ana"], shop["bea"], shop["luis"]
    customer_id, conversation_id = shop["customer_id"], shop["conversation_id"]
    url = f"/api/v1/customers/{customer_id}/goodwill"
    set_clock(api, "2026-03-02T10:00:00+00:00")

    # Within authority: granted at once, and on the customer's events with its case.
    replacement = ana.post(url, gesture("replacement", 12, conversation_id, reason="llegó rota"))
    assert replacement.status_code == 201, replacement.text
    replacement = replacement.json()
    assert replacement["status"] == "granted" and replacement["cost"] == "12.00"
    assert replacement["requested_by_agent_id"] == ana.id and replacement["decided_at"] is not None
    granted = api.get("/api/v1/events?type=goodwill.granted").json()["items"]
    assert len(granted) == 1
    assert granted[0]["customer_id"] == customer_id and granted[0]["conversation_id"] == conversation_id
    assert granted[0]["payload"]["goodwill_id"] == replacement["id"]
    assert granted[0]["payload"]["cost"] == "12.00" and granted[0]["actor"]["id"] == ana.id

    # Above the agent's 50 EUR: waits for the lead, who gets a one-click approval.
    refund = ana.post(url, gesture("refund", 120, conversation_id)).json()
    assert refund["status"] == "pending_approval" and refund["decided_at"] is None
    requested = api.get("/api/v1/events?type=goodwill.requested").json()["items"]
    assert requested[0]["payload"]["approvers"] == [luis.id]
    assert requested[0]["conversation_id"] == conversation_id
    notes = [n for n in luis.get("/api/v1/notifications").json() if n["kind"] == "goodwill.approval"]
    assert len(notes) == 1 and "120.00 EUR" in notes[0]["text"]
    assert notes[0]["customer_id"] == customer_id
    approve_url = notes[0]["payload"]["approve_url"]
    assert ana.get("/api/v1/notifications").json() == []

    own = ana.post(approve_url)
    assert own.status_code == 403  # an agent cannot decide at all, least of all on her own request
    assert bea.post(approve_url).status_code == 403  # an agent is not a lead
    approved = luis.post(approve_url, {"note": "ok, cliente de años"})
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved" and approved.json()["decided_by_agent_id"] == luis.id
    assert luis.post(approve_url).status_code == 409
    assert luis.post(f"/api/v1/goodwill/{refund['id']}/reject").status_code == 409
    approved_events = api.get("/api/v1/events?type=goodwill.approved").json()["items"]
    assert approved_events[0]["customer_id"] == customer_id
    assert approved_events[0]["payload"]["decided_by"] == "Luis"

    listed = ana.get(url).json()
    assert [g["id"] for g in listed] == [refund["id"], replacement["id"]]

    # A positive public mention two days later, with the author's reach.
    set_clock(api, "2026-03-04T10:00:00+00:00")
    api.message(
        channel="twitter",
        external_id="tw-2",
        author={"value": "@marta_lego", "followers": 1500},
        text="¡Gracias @juguetes_mundo! Me mandaron la minifigura nueva en dos días, genial. Así sí.",
        public=True,
    )
    report = api.get("/api/v1/goodwill/report?from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z")
    assert report.status_code == 200, report.text
    body = report.json()
    item = next(i for i in body["items"] if i["gesture"]["id"] == replacement["id"])
    assert item["gesture"]["cost"] == "12.00"
    assert item["public_mentions"] == 1 and item["public_reach"] == 1500
    assert item["wrote_again"] and item["later_messages"] == 1
    assert item["sentiment_before"]["negative"] == 1.0 and item["sentiment_after"]["positive"] == 1.0
    assert item["outcome"] == "positive"
    totals = body["totals"]
    assert totals["gestures"] == 2 and totals["given"] == 2 and totals["cost"] == "132.00"
    assert totals["approval_share"] == 0.5 and totals["approved_share"] == 1.0
    assert totals["positive_outcomes"] == 2 and totals["cost_per_positive_outcome"] == "66.00"
    assert "outcome" in body["definitions"] and body["from"].startswith("2026-03-01")


def test_monthly_limit_sends_small_gestures_to_approval(api, shop):
    ana, luis = shop["ana"], shop["luis"]
    url = f"/api/v1/customers/{shop['customer_id']}/goodwill"
    statuses = [ana.post(url, gesture("gift", 45)).json()["status"] for _ in range(7)]
    # 6 x 45 = 270 fits the agent's 300 a month; the 7th would make 315.
    assert statuses == ["granted"] * 6 + ["pending_approval"]
    pending = ana.get(url).json()[0]
    assert luis.post(f"/api/v1/goodwill/{pending['id']}/reject", {"note": "ya van muchos"}).json()[
        "status"
    ] == ("rejected")
    assert api.get("/api/v1/events?type=goodwill.rejected").json()["items"][0]["payload"]["note"] == (
        "ya van muchos"
    )
    # Other kinds have their own monthly room, and a new calendar month starts afresh.
    assert ana.post(url, gesture("discount", 45)).json()["status"] == "granted"
    set_clock(api, "2026-04-01T00:00:00+00:00")
    assert ana.post(url, gesture("gift", 45)).json()["status"] == "granted"


def test_beyond_the_lead_goes_to_managers(api, shop):
    ana, luis, marta = shop["ana"], shop["luis"], shop["marta"]
    url = f"/api/v1/customers/{shop['customer_id']}/goodwill"
    big = ana.post(url, gesture("refund", 500)).json()
    assert big["status"] == "pending_approval"
    # The lead's own limit (300) does not cover it, so the managers are asked instead.
    assert [n for n in luis.get("/api/v1/notifications").json() if n["kind"] == "goodwill.approval"] == []
    assert [n["kind"] for n in marta.get("/api/v1/notifications").json()] == ["goodwill.approval"]
    beyond = luis.post(f"/api/v1/goodwill/{big['id']}/approve")
    assert beyond.status_code == 403 and "beyond your authority" in beyond.json()["error"]["message"]
    assert marta.post(f"/api/v1/goodwill/{big['id']}/approve").json()["status"] == "approved"
    # A lead's own gesture within the lead's limit is granted at once.
    assert luis.post(url, gesture("refund", 250)).json()["status"] == "granted"


def test_clear_errors(api, shop):
    ana = shop["ana"]
    url = f"/api/v1/customers/{shop['customer_id']}/goodwill"
    negative = ana.post(url, gesture("refund", -5))
    assert negative.status_code == 422 and negative.json()["error"]["code"] == "invalid"
    assert ana.post(url, gesture("voucher", 5)).status_code == 422
    assert ana.post(url, gesture("gift", "1.234")).status_code == 422
    assert ana.post(url, {**gesture("gift", 5), "currency": "USD"}).status_code == 422
    assert ana.post("/api/v1/customers/999/goodwill", gesture("gift", 5)).status_code == 404
    other = api.message(channel="email", external_id="e-1", author="otro@x.es", text="hola")
    wrong_case = ana.post(url, gesture("gift", 5, other["conversation_id"]))
    assert wrong_case.status_code == 422 and "conversation" in wrong_case.json()["error"]["message"]
    assert ana.post("/api/v1/goodwill/999/approve").status_code == 403  # agents do not decide
    assert shop["luis"].post("/api/v1/goodwill/999/approve").status_code == 404
    above_lead = shop["luis"].post(url, gesture("refund", 1000)).json()
    assert above_lead["status"] == "pending_approval"
    own = shop["luis"].post(f"/api/v1/goodwill/{above_lead['id']}/approve")
    assert own.status_code == 403 and "someone else" in own.json()["error"]["message"]
    # Cookie sessions must send the CSRF header on writes.
    assert ana.client.post(url, json=gesture("gift", 5)).status_code == 403


def test_tokens_have_no_authority_unless_admin(api, shop, client):
    url = f"/api/v1/customers/{shop['customer_id']}/goodwill"
    # The admin token acts with the admin role: no limit.
    assert api.post(url, json=gesture("upgrade", 5000)).json()["status"] == "granted"
    created = api.post("/api/v1/tokens", json={"name": "tienda-online", "scopes": ["goodwill:request"]})
    headers = {"Authorization": f"Bearer {created.json()['token']}"}
    proposed = client.post(url, json=gesture("gift", 1), headers=headers).json()
    assert proposed["status"] == "pending_approval" and proposed["requested_by_token_id"] is not None
    # Nobody in a team stands above a token: the managers are asked.
    assert [n["kind"] for n in shop["marta"].get("/api/v1/notifications").json()] == ["goodwill.approval"]
    assert client.post(f"/api/v1/goodwill/{proposed['id']}/approve", headers=headers).status_code == 403
    assert shop["luis"].post(f"/api/v1/goodwill/{proposed['id']}/approve").json()["status"] == "approved"


def test_admins_edit_limits(api, shop):
    ana = shop["ana"]
    limits = api.get("/api/v1/goodwill/limits").json()
    assert len(limits) == 24
    agent_refund = next(x for x in limits if x["role"] == "agent" and x["kind"] == "refund")
    assert agent_refund["per_gesture_limit"] == "50.00" and agent_refund["per_month_limit"] == "300.00"
    admin_refund = next(x for x in limits if x["role"] == "admin" and x["kind"] == "refund")
    assert admin_refund["per_gesture_limit"] is None
    change = {
        "limits": [{"role": "agent", "kind": "refund", "per_gesture_limit": 150, "per_month_limit": 600}]
    }
    assert ana.put("/api/v1/goodwill/limits", change).status_code == 403
    updated = api.put("/api/v1/goodwill/limits", json=change)
    assert updated.status_code == 200, updated.text
    agent_refund = next(x for x in updated.json() if x["role"] == "agent" and x["kind"] == "refund")
    assert agent_refund["per_gesture_limit"] == "150.00"
    url = f"/api/v1/customers/{shop['customer_id']}/goodwill"
    assert ana.post(url, gesture("refund", 120)).json()["status"] == "granted"
    assert (
        api.get("/api/v1/events?type=goodwill.limits_changed").json()["items"][0]["actor"]["type"] == "token"
    )
    bad = api.put("/api/v1/goodwill/limits", json={"limits": [{"role": "intern", "kind": "refund"}]})
    assert bad.status_code == 422
