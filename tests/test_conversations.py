from __future__ import annotations

import pytest

from cuida.channels.base import DeliveryResult
from cuida.jobs.reconciler import reconcile


def test_list_filters_sort_and_cursor(api):
    for i in range(7):
        api.message(
            channel="email" if i % 2 else "twitter",
            external_id=f"m{i}",
            author=f"c{i}@x.es" if i % 2 else f"@c{i}",
            text=f"mensaje {i}",
        )
    conversations = api.get("/api/v1/conversations?limit=100").json()["items"]
    assert len(conversations) == 7
    urgent_id = conversations[-1]["id"]
    assert (
        api.patch(f"/api/v1/conversations/{urgent_id}", json={"priority": "urgent"}).json()["priority"]
        == "urgent"
    )
    # Default sort puts the urgent one first.
    assert api.get("/api/v1/conversations").json()["items"][0]["id"] == urgent_id
    only_email = api.get("/api/v1/conversations?channel=email").json()["items"]
    assert {c["channel"] for c in only_email} == {"email"} and len(only_email) == 3
    seen = []
    url = "/api/v1/conversations?limit=3&sort=-created"
    while url:
        page = api.get(url).json()
        seen += [c["id"] for c in page["items"]]
        url = (
            f"/api/v1/conversations?limit=3&sort=-created&cursor={page['next_cursor']}"
            if page["next_cursor"]
            else None
        )
    assert sorted(seen) == sorted(c["id"] for c in conversations) and len(seen) == 7
    assert api.get("/api/v1/conversations?priority=urgent").json()["items"][0]["id"] == urgent_id


def test_assign_and_status_are_recorded_as_events(api):
    team = api.post(
        "/api/v1/teams", json={"slug": "social-care", "name": "Social care", "kind": "social"}
    ).json()
    agent = api.post(
        "/api/v1/agents",
        json={
            "email": "sara@x.es",
            "name": "Sara",
            "password": "long password 1",
            "team_slugs": ["social-care"],
        },
    ).json()
    conversation_id = api.message(author="c@x.es", external_id="a1", text="hola")["conversation_id"]
    assigned = api.post(
        f"/api/v1/conversations/{conversation_id}/assign",
        json={"agent_id": agent["id"], "team_id": team["id"]},
    )
    assert assigned.status_code == 200 and assigned.json()["assignee_id"] == agent["id"]
    assert (
        api.get(f"/api/v1/conversations?assignee_id={agent['id']}").json()["items"][0]["id"]
        == conversation_id
    )
    assert api.get(f"/api/v1/conversations?team_id={team['id']}").json()["items"][0]["id"] == conversation_id
    assert (
        api.post(f"/api/v1/conversations/{conversation_id}/assign", json={"agent_id": 999}).status_code == 422
    )
    api.patch(f"/api/v1/conversations/{conversation_id}", json={"status": "resolved"})
    events = api.get("/api/v1/events?type=conversation.assigned&type=conversation.updated").json()["items"]
    assert [e["type"] for e in events] == ["conversation.assigned", "conversation.updated"]
    assert events[1]["payload"]["status"] == ["open", "resolved"]
    assert events[0]["actor"]["type"] == "token"


def test_a_reply_on_another_channel_goes_to_the_customers_identity_of_that_kind(api, runtime):
    sent = []

    class Recorder:
        name = "whatsapp"

        def send(self, message):
            sent.append(message)
            return DeliveryResult(ok=True, provider_id=f"wa-{message.delivery_id}")

    runtime.adapters.register(Recorder())
    call = api.message(
        channel="phone", author="600 11 12 22", external_id="call-1", text="Llamo por la factura"
    )
    reply = api.post(
        f"/api/v1/conversations/{call['conversation_id']}/replies",
        json={"text": "Le escribimos por WhatsApp con el detalle.", "channel": "whatsapp"},
    )
    assert reply.status_code == 202, reply.text
    assert [m.recipient for m in sent] == ["+34600111222"], "a WhatsApp reply goes to their phone number"


def test_reply_goes_through_the_outbox_and_is_delivered(api, runtime):
    sent = []

    class Recorder:
        name = "email"

        def send(self, message):
            sent.append(message)
            return DeliveryResult(ok=True, provider_id=f"smtp-{message.delivery_id}")

    runtime.adapters.register(Recorder())
    accepted = api.message(author="cliente@x.es", external_id="<m1@x>", text="¿Y mi pedido?")
    reply = api.post(
        f"/api/v1/conversations/{accepted['conversation_id']}/replies",
        json={"text": "Hola, su pedido sale hoy."},
    )
    assert reply.status_code == 202, reply.text
    replies = api.get(f"/api/v1/conversations/{accepted['conversation_id']}/replies").json()
    assert replies[0]["delivery"]["status"] == "sent"
    assert replies[0]["delivery"]["provider_id"] == f"smtp-{replies[0]['delivery']['id']}"
    assert len(sent) == 1
    assert sent[0].recipient == "cliente@x.es" and sent[0].in_reply_to == "<m1@x>"
    conversation = api.get(f"/api/v1/conversations/{accepted['conversation_id']}").json()
    assert conversation["first_response_at"] is not None and conversation["status"] == "pending"
    timeline = api.get(f"/api/v1/customers/{accepted['customer_id']}/timeline").json()["items"]
    assert [i["direction"] for i in timeline] == ["out", "in"]


def test_failing_delivery_is_retried_and_never_sent_twice(api, runtime):
    attempts = []

    class Flaky:
        name = "email"

        def send(self, message):
            attempts.append(message.delivery_id)
            if len(attempts) == 1:
                raise ConnectionError("SMTP server went away")
            return DeliveryResult(ok=True, provider_id="ok")

    runtime.adapters.register(Flaky())
    accepted = api.message(author="cliente@x.es", external_id="m1", text="hola")
    api.post(f"/api/v1/conversations/{accepted['conversation_id']}/replies", json={"text": "Respuesta"})
    delivery = api.get(f"/api/v1/conversations/{accepted['conversation_id']}/replies").json()[0]["delivery"]
    assert delivery["status"] == "pending" and "SMTP server went away" in delivery["last_error"]
    # Not due yet: the reconciler leaves it alone.
    assert reconcile(runtime)["deliveries"] == 0
    _make_due(runtime, delivery["id"])
    reconcile(runtime)
    delivery = api.get(f"/api/v1/conversations/{accepted['conversation_id']}/replies").json()[0]["delivery"]
    assert delivery["status"] == "sent" and delivery["attempts"] == 2
    # Whatever re-enqueues it now, it is not sent again.
    runtime.enqueue_delivery(delivery["id"])
    reconcile(runtime)
    assert len(attempts) == 2


def test_permanent_refusal_fails_the_delivery_visibly(api, runtime):
    class Refuses:
        name = "email"

        def send(self, message):
            return DeliveryResult(ok=False, error="mailbox does not exist", retry=False)

    runtime.adapters.register(Refuses())
    accepted = api.message(author="cliente@x.es", external_id="m1", text="hola")
    api.post(f"/api/v1/conversations/{accepted['conversation_id']}/replies", json={"text": "Respuesta"})
    delivery = api.get(f"/api/v1/conversations/{accepted['conversation_id']}/replies").json()[0]["delivery"]
    assert delivery["status"] == "failed" and delivery["last_error"] == "mailbox does not exist"
    failed = api.get("/api/v1/events?type=reply.failed").json()["items"]
    assert failed and failed[0]["payload"]["delivery_id"] == delivery["id"]


def _make_due(runtime, delivery_id):
    from datetime import timedelta

    from cuida.clock.service import wall_now
    from cuida.conversations.models import Delivery

    with runtime.db.session() as session:
        session.get(Delivery, delivery_id).next_attempt_at = wall_now() - timedelta(seconds=1)


def test_internal_note_is_on_the_timeline_and_never_sent(api, runtime):
    class Forbidden:
        name = "email"

        def send(self, message):  # pragma: no cover - the test fails if called
            raise AssertionError("a note must never be sent")

    runtime.adapters.register(Forbidden())
    accepted = api.message(author="cliente@x.es", external_id="m1", text="hola")
    note = api.post(
        f"/api/v1/conversations/{accepted['conversation_id']}/notes",
        json={"text": "Cliente de valor: tratar con cuidado"},
    )
    assert note.status_code == 201 and note.json()["direction"] == "note"
    assert api.get(f"/api/v1/conversations/{accepted['conversation_id']}/replies").json() == []


@pytest.mark.parametrize("channel", ["nope", ""])
def test_reply_on_unknown_channel_is_refused(api, channel):
    accepted = api.message(author="cliente@x.es", external_id="m1", text="hola")
    response = api.post(
        f"/api/v1/conversations/{accepted['conversation_id']}/replies", json={"text": "x", "channel": channel}
    )
    assert response.status_code == 422


def test_the_api_keeps_another_teams_private_conversations_with_that_team(api, client):
    """The same rule as the pages (conversations.access): an agent of billing cannot read the claims
    team's private case through the JSON API, nor see its messages on the customer's timeline."""
    for slug in ("claims", "billing"):
        assert api.post("/api/v1/teams", json={"slug": slug, "name": slug}).status_code == 201
    teams = {t["slug"]: t["id"] for t in api.get("/api/v1/teams").json()}
    for email, role, team in (("bea@x.es", "agent", "billing"), ("mia@x.es", "manager", "billing")):
        body = {"email": email, "name": email, "password": "a long password", "role": role}
        assert api.post("/api/v1/agents", json={**body, "team_slugs": [team]}).status_code == 201
    private = api.message(author="ana@x.es", external_id="p1", text="Mi reclamación del equipaje.")
    api.patch(f"/api/v1/conversations/{private['conversation_id']}", json={"team_id": teams["claims"]})
    public = api.message(
        channel="twitter", author="@ana", external_id="t1", text="@Aero sin maleta", public=True
    )

    def as_agent(email: str) -> dict[str, str]:
        client.cookies.clear()
        login = client.post("/api/v1/auth/login", json={"email": email, "password": "a long password"})
        assert login.status_code == 200, login.text
        return {"X-CSRF-Token": login.json()["csrf_token"]}

    headers = as_agent("bea@x.es")
    hidden = private["conversation_id"]
    for method, url in (
        ("GET", f"/api/v1/conversations/{hidden}"),
        ("GET", f"/api/v1/conversations/{hidden}/messages"),
        ("GET", f"/api/v1/conversations/{hidden}/replies"),
        ("GET", f"/api/v1/conversations/{hidden}/sla"),
        ("POST", f"/api/v1/conversations/{hidden}/notes"),
        ("PATCH", f"/api/v1/conversations/{hidden}"),
    ):
        response = client.request(
            method, url, headers=headers, json={"text": "x"} if method != "GET" else None
        )
        assert response.status_code == 404, (method, url, response.text)
        assert "another team" in response.json()["error"]["message"]
    listed = {c["id"] for c in client.get("/api/v1/conversations", headers=headers).json()["items"]}
    assert listed == {public["conversation_id"]}
    timeline = client.get(f"/api/v1/customers/{private['customer_id']}/timeline", headers=headers).json()
    assert all(item["conversation_id"] != hidden for item in timeline["items"])
    assert (
        client.get(f"/api/v1/conversations/{public['conversation_id']}", headers=headers).status_code == 200
    )

    # A manager, and an integration token, see everything.
    headers = as_agent("mia@x.es")
    assert client.get(f"/api/v1/conversations/{hidden}", headers=headers).status_code == 200
    client.cookies.clear()
    assert api.get(f"/api/v1/conversations/{hidden}").status_code == 200
