"""Commitments: proposed from replies, confirmed, alerted when due, kept by hand or by the promised
contact. Runs on both databases with the manual clock."""

from __future__ import annotations

from sqlalchemy import select

from cuida.jobs.reconciler import reconcile
from cuida.notifications.models import Notification

TWEET = "Hola Daniel, te escribimos por mensaje directo y te damos una solución hoy mismo."


def set_clock(api, iso: str) -> None:
    response = api.put("/api/v1/admin/clock", json={"now": iso})
    assert response.status_code == 200, response.text


def advance(api, seconds: int) -> None:
    assert api.put("/api/v1/admin/clock", json={"advance_seconds": seconds}).status_code == 200


def notifications(runtime) -> list[tuple[int, str]]:
    with runtime.db.sessions() as session:
        rows = session.scalars(select(Notification).order_by(Notification.id)).all()
        # Other domains (SLA) notify too; these tests look at the commitments' alerts only.
        return [(n.agent_id, n.kind) for n in rows if n.kind.startswith("commitment.")]


def events(api, *types: str) -> list[dict]:
    query = "&".join(f"type={t}" for t in types)
    return api.get(f"/api/v1/events?{query}").json()["items"]


def make_team(api) -> dict:
    team = api.post("/api/v1/teams", json={"slug": "social-care", "name": "Social care", "kind": "social"})
    assert team.status_code == 201, team.text
    people = {"team": team.json()}
    for key, name, role in (("sara", "Sara", "agent"), ("luis", "Luis", "lead")):
        agent = api.post(
            "/api/v1/agents",
            json={
                "email": f"{key}@cuida.test",
                "name": name,
                "password": "a long password",
                "role": role,
                "team_slugs": ["social-care"],
            },
        )
        assert agent.status_code == 201, agent.text
        people[key] = agent.json()
    return people


def login(client, who: str) -> dict[str, str]:
    """Log `who` in on the client's cookie jar; the headers make its unsafe requests pass CSRF."""
    client.cookies.clear()
    response = client.post(
        "/api/v1/auth/login", json={"email": f"{who}@cuida.test", "password": "a long password"}
    )
    assert response.status_code == 200, response.text
    return {"X-CSRF-Token": response.json()["csrf_token"]}


def daniel_on_twitter(api, people) -> dict:
    accepted = api.message(
        channel="twitter",
        external_id="tw-1",
        author="@danielr",
        text="@MovilCo 3 semanas sin línea tras el traslado. Nadie me llama. Vergonzoso.",
        public=True,
    )
    assigned = api.post(
        f"/api/v1/conversations/{accepted['conversation_id']}/assign",
        json={"agent_id": people["sara"]["id"], "team_id": people["team"]["id"]},
    )
    assert assigned.status_code == 200, assigned.text
    return accepted


def test_traslado_de_linea_promise_is_proposed_alerted_and_kept_by_the_dm(api, client, runtime):
    set_clock(api, "2026-03-10T09:00:00+01:00")
    people = make_team(api)
    sara, luis = people["sara"]["id"], people["luis"]["id"]
    accepted = daniel_on_twitter(api, people)
    customer_id, conversation_id = accepted["customer_id"], accepted["conversation_id"]

    # Sara answers in public and promises a DM with a solution today.
    sara_headers = login(client, "sara")
    reply = client.post(
        f"/api/v1/conversations/{conversation_id}/replies",
        json={"text": TWEET, "public": True},
        headers=sara_headers,
    )
    assert reply.status_code == 202, reply.text
    listed = api.get(f"/api/v1/customers/{customer_id}/commitments").json()
    assert len(listed) == 1
    promise = listed[0]
    assert promise["status"] == "proposed" and promise["kind"] == "contact" and promise["channel"] == "dm"
    assert promise["text"] == "send a solution by direct message" and promise["source_text"] == TWEET
    assert promise["owner_agent_id"] == sara and promise["owner_team_id"] == people["team"]["id"]
    assert promise["message_id"] == reply.json()["message"]["id"]
    assert promise["due_at"].startswith("2026-03-10T22:59:00")  # 23:59 in Madrid
    assert promise["overdue"] is False
    proposed = events(api, "commitment.proposed")
    assert len(proposed) == 1 and proposed[0]["actor"] == {"type": "agent", "id": sara, "name": "Sara"}

    confirmed = client.post(f"/api/v1/commitments/{promise['id']}/confirm", headers=sara_headers)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "open"
    again = client.post(f"/api/v1/commitments/{promise['id']}/confirm", headers=sara_headers)
    assert again.status_code == 409 and "open" in again.json()["error"]["message"]

    # Nothing is due before the end of the day.
    set_clock(api, "2026-03-10T23:50:00+01:00")
    reconcile(runtime)
    assert notifications(runtime) == []

    # Past midnight in Madrid: the owner and her lead are alerted.
    set_clock(api, "2026-03-11T00:05:00+01:00")
    reconcile(runtime)
    assert sorted(notifications(runtime)) == sorted([(sara, "commitment.due"), (luis, "commitment.due")])
    overdue_events = events(api, "commitment.overdue")
    assert [e["payload"]["step"] for e in overdue_events] == ["due"]
    assert overdue_events[0]["customer_id"] == customer_id
    late = api.get("/api/v1/commitments?overdue=true").json()
    assert [c["id"] for c in late] == [promise["id"]] and late[0]["overdue"] is True
    assert late[0]["overdue_alerted_at"] is not None
    assert api.get(f"/api/v1/commitments?owner_agent_id={sara}&status=open").json()[0]["overdue"] is True
    luis_headers = login(client, "luis")
    assert client.get("/api/v1/notifications").json()[0]["kind"] == "commitment.due"
    del luis_headers

    # An hour later, still not kept: the lead again (only the lead).
    advance(api, 61 * 60)
    reconcile(runtime)
    assert notifications(runtime)[-1] == (luis, "commitment.overdue_escalated")
    assert len(notifications(runtime)) == 3

    # Sara finally writes the DM: the promise is kept by itself.
    sara_headers = login(client, "sara")
    dm = client.post(
        f"/api/v1/conversations/{conversation_id}/replies",
        json={"text": "Hola Daniel, ya tienes la línea activa de nuevo.", "public": False},
        headers=sara_headers,
    )
    assert dm.status_code == 202, dm.text
    kept = api.get(f"/api/v1/commitments/{promise['id']}").json()
    assert kept["status"] == "fulfilled" and kept["overdue"] is False and kept["fulfilled_at"]
    fulfilled = events(api, "commitment.fulfilled")
    assert fulfilled[0]["payload"]["how"] == "automatic"
    assert fulfilled[0]["payload"]["by_message_id"] == dm.json()["message"]["id"]

    # No more alerts, and a kept promise cannot be kept or cancelled again.
    advance(api, 86400)
    reconcile(runtime)
    assert len(notifications(runtime)) == 3
    assert api.post(f"/api/v1/commitments/{promise['id']}/fulfil").status_code == 409
    assert api.post(f"/api/v1/commitments/{promise['id']}/cancel").status_code == 409
    assert api.get("/api/v1/commitments?overdue=true").json() == []


def test_fulfilling_by_hand_stops_the_alerts(api, runtime):
    set_clock(api, "2026-03-10T09:00:00+01:00")
    people = make_team(api)
    accepted = daniel_on_twitter(api, people)
    created = api.post(
        f"/api/v1/customers/{accepted['customer_id']}/commitments",
        json={
            "text": "refund the second charge",
            "kind": "refund",
            "due_at": "2026-03-11T18:00:00+01:00",
            "owner_agent_id": people["sara"]["id"],
            "conversation_id": accepted["conversation_id"],
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["status"] == "open" and body["owner_team_id"] == people["team"]["id"]

    # Due and alerted; then the agent keeps it before the escalation.
    set_clock(api, "2026-03-11T18:01:00+01:00")
    reconcile(runtime)
    assert len(notifications(runtime)) == 2
    done = api.post(f"/api/v1/commitments/{body['id']}/fulfil", json={"note": "transfer sent"})
    assert done.status_code == 200 and done.json()["status"] == "fulfilled"
    advance(api, 3 * 3600)
    reconcile(runtime)
    assert len(notifications(runtime)) == 2
    assert events(api, "commitment.fulfilled")[0]["payload"] == {
        **events(api, "commitment.fulfilled")[0]["payload"],
        "how": "agent",
        "note": "transfer sent",
    }


def test_moving_the_due_time_moves_the_alert(api, runtime):
    set_clock(api, "2026-03-10T09:00:00+01:00")
    people = make_team(api)
    accepted = daniel_on_twitter(api, people)
    commitment = api.post(
        f"/api/v1/customers/{accepted['customer_id']}/commitments",
        json={"text": "call back", "kind": "callback", "due_at": "2026-03-10T12:00:00+01:00"},
    ).json()
    # A token has no agent: the owner is left empty, the alerts go to the managers/leads.
    assert commitment["owner_agent_id"] is None
    moved = api.patch(f"/api/v1/commitments/{commitment['id']}", json={"due_at": "2026-03-12T12:00:00+01:00"})
    assert moved.status_code == 200 and moved.json()["due_at"].startswith("2026-03-12T11:00:00")
    assert events(api, "commitment.updated")[0]["payload"]["changes"]["due_at"][1].startswith("2026-03-12")
    set_clock(api, "2026-03-11T09:00:00+01:00")
    reconcile(runtime)
    assert notifications(runtime) == []
    set_clock(api, "2026-03-12T12:00:00+01:00")
    reconcile(runtime)
    assert {kind for _, kind in notifications(runtime)} == {"commitment.due"}
    alerted = len(notifications(runtime))
    # Given more time after the alert: it alerts again at the new time, not before.
    api.patch(
        f"/api/v1/commitments/{commitment['id']}",
        json={"due_at": "2026-03-13T12:00:00+01:00", "owner_agent_id": people["sara"]["id"]},
    )
    assert api.get(f"/api/v1/commitments/{commitment['id']}").json()["overdue"] is False
    advance(api, 2 * 3600)
    reconcile(runtime)
    assert len(notifications(runtime)) == alerted
    set_clock(api, "2026-03-13T12:00:00+01:00")
    reconcile(runtime)
    assert (people["sara"]["id"], "commitment.due") in notifications(runtime)[alerted:]


def test_only_the_promised_channel_keeps_a_contact_promise(api, client, runtime):
    set_clock(api, "2026-03-10T09:00:00+01:00")
    people = make_team(api)
    accepted = daniel_on_twitter(api, people)
    headers = login(client, "sara")
    url = f"/api/v1/conversations/{accepted['conversation_id']}/replies"
    client.post(
        url, json={"text": TWEET + " Y recibirás el reembolso en 5 días.", "public": True}, headers=headers
    )
    promises = api.get(f"/api/v1/customers/{accepted['customer_id']}/commitments").json()
    assert sorted(p["kind"] for p in promises) == ["contact", "refund"]
    # Another public tweet is not the promised DM.
    client.post(url, json={"text": "Seguimos con ello, Daniel.", "public": True}, headers=headers)
    assert {
        p["status"] for p in api.get(f"/api/v1/customers/{accepted['customer_id']}/commitments").json()
    } == {"proposed"}
    # The DM keeps the contact promise (even unconfirmed), not the refund.
    client.post(url, json={"text": "Te escribimos por aquí.", "public": False}, headers=headers)
    by_kind = {
        p["kind"]: p["status"]
        for p in api.get(f"/api/v1/customers/{accepted['customer_id']}/commitments").json()
    }
    assert by_kind == {"contact": "fulfilled", "refund": "proposed"}


def test_a_logged_phone_call_keeps_a_callback(api, runtime):
    set_clock(api, "2026-03-10T09:00:00+01:00")
    accepted = api.message(author="ana@correo.es", external_id="<a1@x>", text="Nadie me llama.")
    customer_id = accepted["customer_id"]
    added = api.post(
        f"/api/v1/customers/{customer_id}/identities", json={"channel": "phone", "value": "600111222"}
    )
    assert added.status_code == 201, added.text
    api.post(
        f"/api/v1/conversations/{accepted['conversation_id']}/replies", json={"text": "Le llamamos mañana."}
    )
    callback = api.get(f"/api/v1/customers/{customer_id}/commitments").json()[0]
    assert (
        callback["kind"] == "callback"
        and callback["channel"] == "phone"
        and callback["owner_agent_id"] is None
    )
    # An email is not the promised call...
    api.post(f"/api/v1/conversations/{accepted['conversation_id']}/replies", json={"text": "Un saludo."})
    assert api.get(f"/api/v1/commitments/{callback['id']}").json()["status"] == "proposed"
    # ...a call logged from the phone system is.
    api.message(
        channel="phone", direction="out", external_id="call-1", recipient="600111222", text="Llamada saliente"
    )
    assert api.get(f"/api/v1/commitments/{callback['id']}").json()["status"] == "fulfilled"


def test_clear_errors_for_bad_requests_and_transitions(api, runtime):
    set_clock(api, "2026-03-10T09:00:00+01:00")
    accepted = api.message(author="ana@correo.es", external_id="<a1@x>", text="hola")
    url = f"/api/v1/customers/{accepted['customer_id']}/commitments"
    assert api.post(url, json={"text": "x"}).status_code == 422  # due_at required
    assert api.post(url, json={"text": "x", "due_at": "2026-03-11T10:00:00"}).status_code == 422  # no offset
    bad_channel = api.post(url, json={"text": "x", "due_at": "2026-03-11T10:00:00Z", "channel": "pigeon"})
    assert bad_channel.status_code == 422
    nobody = api.post(url, json={"text": "x", "due_at": "2026-03-11T10:00:00Z", "owner_agent_id": 999})
    assert nobody.status_code == 422 and nobody.json()["error"]["fields"]
    assert (
        api.post(
            "/api/v1/customers/999/commitments", json={"text": "x", "due_at": "2026-03-11T10:00:00Z"}
        ).status_code
        == 404
    )
    assert api.get("/api/v1/commitments/999").status_code == 404
    made = api.post(
        url, json={"text": "send the invoice", "due_at": "2026-03-11T10:00:00Z", "channel": "dm"}
    ).json()
    assert made["channel"] == "dm"
    confirm = api.post(f"/api/v1/commitments/{made['id']}/confirm")
    assert confirm.status_code == 409 and confirm.json()["error"]["code"] == "conflict"
    assert (
        api.post(f"/api/v1/commitments/{made['id']}/cancel", json={"note": "not needed"}).json()["status"]
        == "cancelled"
    )
    assert api.patch(f"/api/v1/commitments/{made['id']}", json={"text": "y"}).status_code == 409
    assert api.post(f"/api/v1/commitments/{made['id']}/fulfil").status_code == 409
    assert api.patch(f"/api/v1/commitments/{made['id']}", json={"kind": "gift"}).status_code == 422
    cancelled = events(api, "commitment.cancelled")[0]["payload"]
    assert cancelled["previous"] == "open" and cancelled["note"] == "not needed"


def test_a_merge_brings_the_promises_along(api, runtime):
    set_clock(api, "2026-03-10T09:00:00+01:00")
    one = api.message(author="ana@correo.es", external_id="<a1@x>", text="hola")
    two = api.message(channel="twitter", author="@ana", external_id="tw-9", text="hola", public=True)
    api.post(
        f"/api/v1/conversations/{two['conversation_id']}/replies",
        json={"text": "Te escribimos por DM hoy.", "public": True},
    )
    merged = api.post(f"/api/v1/customers/{one['customer_id']}/merge", json={"source_id": two["customer_id"]})
    assert merged.status_code == 200, merged.text
    promises = api.get(f"/api/v1/customers/{one['customer_id']}/commitments").json()
    assert len(promises) == 1 and promises[0]["customer_id"] == one["customer_id"]
    # The old id still answers, through the merge.
    assert api.get(f"/api/v1/customers/{two['customer_id']}/commitments").json()[0]["id"] == promises[0]["id"]


def test_an_offer_to_talk_privately_waits_on_the_customer_then_becomes_a_promise(api, client, runtime):
    set_clock(api, "2026-03-10T09:00:00+01:00")
    people = make_team(api)
    accepted = daniel_on_twitter(api, people)
    customer_id, conversation_id = accepted["customer_id"], accepted["conversation_id"]
    sara_headers = login(client, "sara")
    reply = client.post(
        f"/api/v1/conversations/{conversation_id}/replies",
        json={"text": "Lo sentimos, Daniel. ¿Nos escribes por privado y lo vemos?", "public": True},
        headers=sara_headers,
    )
    assert reply.status_code == 202, reply.text
    [offer] = api.get(f"/api/v1/customers/{customer_id}/commitments").json()
    assert (offer["kind"], offer["channel"], offer["text"]) == (
        "offer",
        "dm",
        "follow up if the customer writes privately",
    )
    assert offer["due_at"].startswith("2026-03-17T22:59")  # the offer stays open a week

    # Days pass without a private message: nobody is alerted, the offer is just waiting.
    set_clock(api, "2026-03-14T10:00:00+01:00")
    assert notifications(runtime) == []
    # Daniel writes privately: now the team owes him an answer there within a day.
    api.message(channel="twitter", external_id="dm-1", author="@danielr", text="Os escribo por aquí.")
    promise = api.get(f"/api/v1/commitments/{offer['id']}").json()
    assert (promise["kind"], promise["status"], promise["text"]) == (
        "contact",
        "open",
        "answer the customer's private message",
    )
    assert promise["due_at"].startswith("2026-03-15T09:00")
    assert [e["type"] for e in events(api, "commitment.offer_taken_up")] == ["commitment.offer_taken_up"]
    # Unanswered a day later: Sara and her lead hear of it.
    set_clock(api, "2026-03-15T10:30:00+01:00")
    assert (people["sara"]["id"], "commitment.due") in notifications(runtime)
    # A private answer keeps it.
    client.post(
        f"/api/v1/conversations/{conversation_id}/replies",
        json={"text": "Gracias, Daniel, ya lo tenemos.", "public": False},
        headers=login(client, "sara"),
    )
    assert api.get(f"/api/v1/commitments/{offer['id']}").json()["status"] == "fulfilled"


def test_an_offer_nobody_takes_up_lapses_quietly(api, client, runtime):
    set_clock(api, "2026-03-10T09:00:00+01:00")
    people = make_team(api)
    accepted = daniel_on_twitter(api, people)
    reply = client.post(
        f"/api/v1/conversations/{accepted['conversation_id']}/replies",
        json={"text": "DM us and we will sort it out.", "public": True},
        headers=login(client, "sara"),
    )
    assert reply.status_code == 202, reply.text
    [offer] = api.get(f"/api/v1/customers/{accepted['customer_id']}/commitments").json()
    assert offer["kind"] == "offer"
    # Another public post is not taking it up.
    api.message(channel="twitter", external_id="tw-2", author="@danielr", text="Ni caso.", public=True)
    assert api.get(f"/api/v1/commitments/{offer['id']}").json()["kind"] == "offer"
    set_clock(api, "2026-03-18T09:00:00+01:00")
    lapsed = api.get(f"/api/v1/commitments/{offer['id']}").json()
    assert lapsed["status"] == "cancelled"
    assert notifications(runtime) == []
    assert len(events(api, "commitment.lapsed")) == 1
