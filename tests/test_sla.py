"""SLA clocks through the API with the manual clock: policies chosen by conditions, business
hours, risk tightening explained, pauses, and the escalation ladder fired by the reconciler."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from cuida.auth.service import create_token
from cuida.events.models import Event
from cuida.jobs.reconciler import reconcile
from cuida.notifications.models import Notification
from cuida.timers.models import Timer

MADRID = ZoneInfo("Europe/Madrid")
DAY0 = datetime(2026, 3, 2, 10, 0, tzinfo=MADRID)  # a Monday
OFFICE = {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
COMPLAINT = (
    "Compré unos vaqueros hace tres semanas, llegaron rotos y nadie me contesta. "
    "Es una vergüenza, quiero una solución."
)
LEGAL = "Si no me devolvéis el dinero de los vaqueros os denuncio, mi abogado presentará una demanda."


def at(api, when: datetime) -> None:
    response = api.put("/api/v1/admin/clock", json={"now": when.isoformat()})
    assert response.status_code == 200, response.text


def sla(api, conversation_id: int) -> dict[str, dict]:
    response = api.get(f"/api/v1/conversations/{conversation_id}/sla")
    assert response.status_code == 200, response.text
    return {c["kind"]: c for c in response.json()["clocks"]}


def ts(value: str) -> datetime:
    return datetime.fromisoformat(value)


def events(runtime, type_: str, conversation_id: int) -> list[Event]:
    with runtime.db.sessions() as session:
        return list(
            session.scalars(
                select(Event)
                .where(Event.type == type_, Event.conversation_id == conversation_id)
                .order_by(Event.id)
            )
        )


def notified(runtime, conversation_id: int) -> list[tuple[int, str]]:
    with runtime.db.sessions() as session:
        rows = session.scalars(
            select(Notification)
            .where(Notification.conversation_id == conversation_id)
            .order_by(Notification.id)
        )
        return [(n.agent_id, n.kind) for n in rows]


def agent(api, email: str, role: str, teams: list[str]) -> int:
    body = {"email": email, "name": email.split("@")[0], "password": "long password 1", "role": role}
    response = api.post("/api/v1/agents", json={**body, "team_slugs": teams})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def complaints_policy(api, **overrides) -> dict:
    calendar = api.post(
        "/api/v1/sla/calendars", json={"name": "Oficina", "timezone": "Europe/Madrid", "hours": OFFICE}
    )
    assert calendar.status_code == 201, calendar.text
    body = {
        "name": "Reclamaciones",
        "position": 10,
        "conditions": {"intents": ["complaint"]},
        "first_response_minutes": 540,  # one business day
        "next_response_minutes": 540,
        "resolution_minutes": 5 * 540,
        "calendar_id": calendar.json()["id"],
        **overrides,
    }
    policy = api.post("/api/v1/sla/policies", json=body)
    assert policy.status_code == 201, policy.text
    return dict(policy.json())


def test_vaqueros_unanswered_complaint_is_warned_breached_and_escalated(api, runtime):
    at(api, DAY0)
    complaints_policy(api)
    api.post("/api/v1/teams", json={"slug": "care", "name": "Care"})
    carla = agent(api, "carla@x.es", "agent", ["care"])
    lead = agent(api, "lola@x.es", "lead", ["care"])
    manager = agent(api, "mario@x.es", "manager", [])
    conversation_id = api.message(author="cliente@x.es", external_id="v1", text=COMPLAINT)["conversation_id"]
    team_id = api.get("/api/v1/teams").json()[0]["id"]
    api.post(f"/api/v1/conversations/{conversation_id}/assign", json={"agent_id": carla, "team_id": team_id})

    first = sla(api, conversation_id)["first_response"]
    assert first["policy_name"] == "Reclamaciones" and first["state"] == "running"
    assert ts(first["due_at"]) == DAY0 + timedelta(days=1)  # day 1, 10:00 Madrid
    assert first["remaining_business_minutes"] == 540 and first["level"] == 0

    # 80 % of one business day (432 min) is day 0 at 17:12: the assignee is warned.
    at(api, DAY0.replace(hour=17, minute=13))
    reconcile(runtime)
    assert notified(runtime, conversation_id) == [(carla, "sla.warning")]
    assert sla(api, conversation_id)["first_response"]["level"] == 1

    # Day 1 after 10:00: breached, escalated to the team lead.
    at(api, DAY0 + timedelta(days=1, minutes=1))
    reconcile(runtime)
    first = sla(api, conversation_id)["first_response"]
    assert first["breached"] and first["level"] == 2 and ts(first["breached_at"]) == DAY0 + timedelta(days=1)
    assert (lead, "sla.escalated") in notified(runtime, conversation_id)
    [breach] = events(runtime, "sla.breached", conversation_id)
    assert breach.payload["kind"] == "first_response"
    assert [e.payload["level"] for e in events(runtime, "sla.escalated", conversation_id)] == [2]

    # Breach + 100 % of the target: day 2, 10:00. By day 3 the manager knows.
    at(api, DAY0 + timedelta(days=3))
    reconcile(runtime)
    first = sla(api, conversation_id)["first_response"]
    assert first["level"] == 3 and first["remaining_business_minutes"] < 0
    assert (manager, "sla.escalated") in notified(runtime, conversation_id)
    assert [e.payload["level"] for e in events(runtime, "sla.escalated", conversation_id)] == [2, 3]
    assert [m["level"] for m in first["marks"]] == [1, 2, 3]
    assert ts(first["marks"][2]["due_at"]) == DAY0 + timedelta(days=2)

    # Fired once: another pass finds nothing, nobody is notified twice.
    before = notified(runtime, conversation_id)
    assert reconcile(runtime)["timers"] == 0
    assert notified(runtime, conversation_id) == before


def test_a_reply_stops_the_response_clock_and_resolving_stops_the_rest(api, runtime):
    at(api, DAY0)
    conversation_id = api.message(author="c@x.es", external_id="r1", text="¿Dónde está mi pedido 12345?")[
        "conversation_id"
    ]
    clocks = sla(api, conversation_id)
    assert set(clocks) == {"first_response", "resolution"}
    assert clocks["first_response"]["policy_name"] == "default"
    at(api, DAY0 + timedelta(hours=1))
    reply = api.post(
        f"/api/v1/conversations/{conversation_id}/replies",
        json={"text": "Hola, ¿nos confirma la dirección de entrega?"},
    )
    assert reply.status_code == 202, reply.text
    clocks = sla(api, conversation_id)
    assert clocks["first_response"]["state"] == "met" and not clocks["first_response"]["breached"]
    assert clocks["resolution"]["state"] == "paused"  # waiting on the customer now
    at(api, DAY0 + timedelta(days=5))
    reconcile(runtime)
    assert notified(runtime, conversation_id) == []
    assert events(runtime, "sla.breached", conversation_id) == []

    # The customer writes again: next response starts, the resolution clock resumes where it was.
    api.message(author="c@x.es", external_id="r2", text="¿Alguna novedad?")
    clocks = sla(api, conversation_id)
    assert clocks["next_response"]["state"] == "running"
    assert ts(clocks["next_response"]["due_at"]) == DAY0 + timedelta(days=5, hours=8)
    resolution = clocks["resolution"]
    assert resolution["state"] == "running"
    assert ts(resolution["due_at"]) == DAY0 + timedelta(days=3) + (timedelta(days=5) - timedelta(hours=1))

    api.patch(f"/api/v1/conversations/{conversation_id}", json={"status": "resolved"})
    clocks = sla(api, conversation_id)
    assert clocks["resolution"]["state"] == "met" and clocks["next_response"]["state"] == "stopped"
    with runtime.db.sessions() as session:
        pending = session.scalar(
            select(func.count()).where(
                Timer.conversation_id == conversation_id,
                Timer.fired_at.is_(None),
                Timer.cancelled_at.is_(None),
            )
        )
    assert pending == 0


def test_legal_threat_halves_the_deadline_and_says_why(api, runtime):
    at(api, DAY0)
    conversation_id = api.message(
        author="c@x.es", external_id="l1", text="Hola, ¿a qué hora abre la tienda?"
    )["conversation_id"]
    first = sla(api, conversation_id)["first_response"]
    assert first["factor"] == 1 and first["reasons"] == []
    assert ts(first["due_at"]) == DAY0 + timedelta(hours=4)

    at(api, DAY0 + timedelta(minutes=30))
    again = api.message(author="c@x.es", external_id="l2", text=LEGAL)
    assert again["conversation_id"] == conversation_id
    first = sla(api, conversation_id)["first_response"]
    assert first["factor"] == 0.5 and "legal threat: ×0.5" in first["reasons"]
    assert ts(first["base_due_at"]) == DAY0 + timedelta(hours=4)
    assert ts(first["due_at"]) == DAY0 + timedelta(hours=2)
    [tightened, *_] = events(runtime, "sla.tightened", conversation_id)
    assert (
        tightened.payload["kind"] == "first_response" and "legal threat: ×0.5" in tightened.payload["reasons"]
    )
    with runtime.db.sessions() as session:
        breach_timer = session.scalar(
            select(Timer).where(Timer.key == f"sla:{conversation_id}:first_response:1")
        )
        assert breach_timer is not None and breach_timer.due_at == DAY0 + timedelta(hours=2)

    # The risk stays with the conversation: after a reply, the next response clock starts tight too.
    api.post(f"/api/v1/conversations/{conversation_id}/replies", json={"text": "Lo sentimos, lo revisamos."})
    at(api, DAY0 + timedelta(hours=1))
    api.message(author="c@x.es", external_id="l3", text="Sigo esperando.")
    nxt = sla(api, conversation_id)["next_response"]
    assert nxt["factor"] == 0.5 and ts(nxt["due_at"]) == DAY0 + timedelta(hours=1 + 4)


def test_public_author_with_reach_and_the_smallest_factor_wins(api):
    at(api, DAY0)
    accepted = api.message(
        channel="twitter",
        author={"value": "@influencer", "followers": 25_000},
        external_id="t1",
        public=True,
        text="@marca os voy a denunciar y lo contaré en la prensa, mi abogado ya lo sabe",
    )
    first = sla(api, accepted["conversation_id"])["first_response"]
    assert any(r.startswith("public author with 25,000 followers") for r in first["reasons"])
    assert "legal threat: ×0.5" in first["reasons"]
    smallest = min(float(r.rsplit("×", 1)[1]) for r in first["reasons"])
    assert first["factor"] == smallest
    assert ts(first["due_at"]) == DAY0 + timedelta(minutes=240 * smallest)


def test_pending_pauses_the_clocks(api, runtime):
    at(api, DAY0)
    conversation_id = api.message(author="p@x.es", external_id="p1", text="Mi factura está mal")[
        "conversation_id"
    ]
    at(api, DAY0 + timedelta(hours=1))
    api.patch(f"/api/v1/conversations/{conversation_id}", json={"status": "pending"})
    first = sla(api, conversation_id)["first_response"]
    assert first["state"] == "paused" and first["remaining_business_minutes"] == 180
    at(api, DAY0 + timedelta(hours=10))
    assert reconcile(runtime)["timers"] == 0
    assert sla(api, conversation_id)["first_response"]["level"] == 0
    api.patch(f"/api/v1/conversations/{conversation_id}", json={"status": "open"})
    first = sla(api, conversation_id)["first_response"]
    assert first["state"] == "running" and first["paused_minutes"] == 9 * 60
    assert ts(first["due_at"]) == DAY0 + timedelta(hours=13)
    at(api, DAY0 + timedelta(hours=13, minutes=1))
    reconcile(runtime)
    assert sla(api, conversation_id)["first_response"]["breached"]


def test_snoozed_pauses_in_business_time(api, runtime):
    at(api, DAY0)
    complaints_policy(api)
    conversation_id = api.message(author="s@x.es", external_id="s1", text=COMPLAINT)["conversation_id"]
    at(api, DAY0.replace(hour=17))  # 7 business hours used, 2 left
    api.patch(f"/api/v1/conversations/{conversation_id}", json={"status": "snoozed"})
    at(api, DAY0 + timedelta(days=1, hours=1))  # day 1 11:00: 2 business hours were paused
    api.patch(f"/api/v1/conversations/{conversation_id}", json={"status": "open"})
    first = sla(api, conversation_id)["first_response"]
    assert first["paused_minutes"] == 60 + 120  # day 0 17:00-18:00 and day 1 09:00-11:00
    assert ts(first["due_at"]) == DAY0 + timedelta(days=1, hours=3)  # the 2 hours left, from 11:00


def test_off_topic_still_has_a_first_response_clock(api):
    at(api, DAY0)
    conversation_id = api.message(
        channel="twitter",
        author="@aficionado",
        external_id="o1",
        public=True,
        text="Qué golazo ayer del Betis",
    )["conversation_id"]
    first = sla(api, conversation_id)["first_response"]
    assert first["policy_name"] == "default" and first["state"] == "running"
    assert ts(first["due_at"]) == DAY0 + timedelta(hours=4)
    assert api.get("/api/v1/sla/policies/default").json()["first_response_minutes"] == 240


def test_policies_are_chosen_by_conditions_in_order(api):
    at(api, DAY0)
    complaints_policy(api)
    vip = api.post(
        "/api/v1/sla/policies",
        json={
            "name": "Públicos",
            "position": 5,
            "conditions": {"channels": ["twitter", "instagram"], "public": True},
            "first_response_minutes": 60,
        },
    )
    assert vip.status_code == 201, vip.text
    public = api.message(channel="twitter", author="@a", external_id="c1", public=True, text=COMPLAINT)
    private = api.message(author="b@x.es", external_id="c2", text=COMPLAINT)
    assert sla(api, public["conversation_id"])["first_response"]["policy_name"] == "Públicos"
    assert "resolution" not in sla(api, public["conversation_id"])  # that policy sets no resolution target
    assert sla(api, private["conversation_id"])["first_response"]["policy_name"] == "Reclamaciones"
    names = [p["name"] for p in api.get("/api/v1/sla/policies").json()]
    assert names == ["Públicos", "Reclamaciones"]


def test_policy_and_calendar_crud_and_validation(api, runtime):
    policy = complaints_policy(api, escalation=[{"at": 0.5, "notify": ["assignee"]}])
    assert [s["at"] for s in policy["escalation"]] == [0.5, 1.0], "a breach step is always there"
    assert policy["risk_factors"]["legal_threat"] == 0.5
    updated = api.patch(f"/api/v1/sla/policies/{policy['id']}", json={"first_response_minutes": 120})
    assert updated.status_code == 200 and updated.json()["first_response_minutes"] == 120
    assert api.get(f"/api/v1/sla/policies/{policy['id']}").json()["first_response_minutes"] == 120

    bad = [
        {"name": "x", "first_response_minutes": 60, "conditions": {"intents": ["gossip"]}},
        {"name": "x", "first_response_minutes": 60, "conditions": {"channels": ["carrier-pigeon"]}},
        {"name": "x", "first_response_minutes": 60, "calendar_id": 999},
        {"name": "x", "first_response_minutes": 0},
        {"name": "x", "first_response_minutes": 60, "risk_factors": {"legal_threat": 2}},
    ]
    for body in bad:
        assert api.post("/api/v1/sla/policies", json=body).status_code == 422, body
    assert (
        api.post(
            "/api/v1/sla/policies", json={"name": "Reclamaciones", "first_response_minutes": 5}
        ).status_code
        == 409
    )
    bad_calendar = api.post(
        "/api/v1/sla/calendars", json={"name": "x", "timezone": "Mars/Base", "hours": OFFICE}
    )
    assert bad_calendar.status_code == 422 and "time zone" in bad_calendar.text

    calendar_id = policy["calendar_id"]
    assert api.client.delete(f"/api/v1/sla/calendars/{calendar_id}", headers=api.headers).status_code == 409
    patched = api.patch(f"/api/v1/sla/calendars/{calendar_id}", json={"holidays": ["2026-01-06"]})
    assert patched.status_code == 200 and patched.json()["holidays"] == ["2026-01-06"]
    assert api.client.delete(f"/api/v1/sla/policies/{policy['id']}", headers=api.headers).status_code == 204
    assert api.client.delete(f"/api/v1/sla/calendars/{calendar_id}", headers=api.headers).status_code == 204
    assert api.get("/api/v1/sla/calendars").json() == []

    with runtime.db.session() as session:
        reader, _ = create_token(session=session, name="reader", scopes=["conversations:read"])
    headers = {"Authorization": f"Bearer {reader}"}
    assert api.client.get("/api/v1/sla/policies", headers=headers).status_code == 200
    denied = api.client.post(
        "/api/v1/sla/policies", headers=headers, json={"name": "y", "first_response_minutes": 5}
    )
    assert denied.status_code == 403


def test_an_answer_logged_from_the_channel_meets_the_clock(api):
    at(api, DAY0)
    conversation_id = api.message(author="w@x.es", external_id="w1", text="¿Tenéis la talla 42?")[
        "conversation_id"
    ]
    at(api, DAY0 + timedelta(minutes=20))
    api.message(
        direction="out", recipient="w@x.es", external_id="w2", text="Sí, la tenemos.", in_reply_to="w1"
    )
    first = sla(api, conversation_id)["first_response"]
    assert first["state"] == "met" and ts(first["met_at"]) == DAY0 + timedelta(minutes=20)


def test_a_fault_in_sla_bookkeeping_never_blocks_ingest(api, runtime, monkeypatch):
    import cuida.sla.service as sla_service

    def broken(**_kw):
        raise RuntimeError("policy store unavailable")

    monkeypatch.setattr(sla_service, "policy_for", broken)
    accepted = api.message(author="f@x.es", external_id="f1", text="Hola")
    message = api.get(f"/api/v1/conversations/{accepted['conversation_id']}/messages").json()[0]
    assert message["language"] is not None, "triage committed despite the SLA fault"
    [error] = events(runtime, "sla.error", accepted["conversation_id"])
    assert "policy store unavailable" in error.payload["error"]
