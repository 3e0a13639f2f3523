"""The WhatsApp channel: signed Cloud API notifications posted to our webhook as Meta sends them,
and replies against a local server that speaks the Graph messages endpoint
(tests/messaging_servers.py)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select, update

from cuida.channels.messaging_models import DeliveryReceipt
from cuida.conversations.models import Delivery, Message
from cuida.customers.models import Identity
from cuida.events.models import Event
from cuida.jobs.reconciler import reconcile
from cuida.quarantine.models import QuarantinedPayload
from tests.messaging_servers import GraphApi, notification, run_graph_api, wa_text

TOKEN = "EAAG-test-access-token"
APP_SECRET = "app-secret-for-signatures"
VERIFY = "verify-me-please"
NUMBER_ID = "106540352242922"


@pytest.fixture
def graph() -> Iterator[tuple[str, GraphApi]]:
    with run_graph_api(TOKEN, NUMBER_ID) as served:
        yield served


def _account(api: Any, base_url: str) -> int:
    body = {
        "kind": "whatsapp",
        "name": "WhatsApp de la tienda",
        "config": {"phone_number_id": NUMBER_ID, "base_url": base_url},
        "secrets": {"access_token": TOKEN, "app_secret": APP_SECRET, "verify_token": VERIFY},
    }
    response = api.post("/api/v1/channels/accounts", json=body)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _sign(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _deliver(client: Any, account_id: int, document: Any, *, signature: str | None = None) -> Any:
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": signature or _sign(body)}
    return client.post(f"/api/v1/channels/whatsapp/{account_id}/webhook", content=body, headers=headers)


def _messages(runtime: Any) -> list[Message]:
    with runtime.db.sessions() as session:
        return list(session.scalars(select(Message).order_by(Message.id)))


def _quarantined(runtime: Any) -> list[QuarantinedPayload]:
    with runtime.db.sessions() as session:
        return list(session.scalars(select(QuarantinedPayload).order_by(QuarantinedPayload.id)))


def _events(runtime: Any, kind: str) -> list[Event]:
    with runtime.db.sessions() as session:
        return list(session.scalars(select(Event).where(Event.type == kind).order_by(Event.id)))


CONTACTS = [{"profile": {"name": "Lucía Pérez"}, "wa_id": "34600111222"}]


def test_subscription_check_answers_the_challenge_only_with_our_verify_token(api, runtime, graph):
    account_id = _account(api, graph[0])
    url = f"/api/v1/channels/whatsapp/{account_id}/webhook"
    ok = api.client.get(
        url, params={"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "1158201444"}
    )
    assert ok.status_code == 200 and ok.text == "1158201444"
    wrong = api.client.get(
        url, params={"hub.mode": "subscribe", "hub.verify_token": "x", "hub.challenge": "1"}
    )
    assert wrong.status_code == 403
    assert _events(runtime, "channel.webhook_rejected")[-1].payload["reason"] == "bad_verify_token"


def test_messages_become_messages_of_the_customer_known_by_phone(api, runtime, graph):
    account_id = _account(api, graph[0])
    # The same person called the shop before: a phone identity written the Spanish way.
    earlier = api.message(channel="phone", author={"value": "600 11 12 22"}, text="Llamada: pedido 4411")
    image = {
        "from": "34600111222",
        "id": "wamid.IMG1",
        "timestamp": "1772445700",
        "type": "image",
        "image": {"caption": "Así llegó la caja", "mime_type": "image/jpeg", "sha256": "abc", "id": "777"},
    }
    location = {
        "from": "34600111222",
        "id": "wamid.LOC1",
        "timestamp": "1772445800",
        "type": "location",
        "location": {"latitude": 40.41, "longitude": -3.70, "name": "Tienda Centro"},
    }
    document = notification(
        NUMBER_ID,
        contacts=CONTACTS,
        messages=[wa_text("wamid.TXT1", "Hola, el pedido 4411 sigue sin llegar"), image, location],
    )
    response = _deliver(api.client, account_id, document)
    assert response.status_code == 200, response.text
    assert (response.json()["stored"], response.json()["quarantined"]) == (3, 0)

    _, text, photo, place = _messages(runtime)
    assert text.external_id == "wamid.TXT1" and text.text == "Hola, el pedido 4411 sigue sin llegar"
    assert text.author_value == "+34600111222" and text.author_name == "Lucía Pérez"
    assert photo.text == "[image] Así llegó la caja" and photo.meta["whatsapp"]["type"] == "image"
    assert photo.meta["whatsapp"]["media_id"] == "777"
    assert place.text.startswith("[location] Tienda Centro") and place.meta["whatsapp"]["type"] == "location"
    assert text.customer_id == earlier["customer_id"]  # one customer: the phone is the same identity
    with runtime.db.sessions() as session:
        identities = list(session.scalars(select(Identity).where(Identity.customer_id == text.customer_id)))
    assert [(i.channel, i.value) for i in identities] == [("phone", "+34600111222")]
    assert text.conversation_id == photo.conversation_id == place.conversation_id


def test_a_redelivered_notification_is_one_message(api, runtime, graph):
    account_id = _account(api, graph[0])
    document = notification(NUMBER_ID, contacts=CONTACTS, messages=[wa_text("wamid.DUP1", "Hola")])
    assert _deliver(api.client, account_id, document).json()["stored"] == 1
    again = _deliver(api.client, account_id, document)
    assert again.status_code == 200 and (again.json()["stored"], again.json()["duplicates"]) == (0, 1)
    assert [m.external_id for m in _messages(runtime)] == ["wamid.DUP1"]


def test_malformed_notifications_and_messages_are_quarantined_with_reason(api, runtime, graph):
    account_id = _account(api, graph[0])
    no_sender = {"id": "wamid.BAD1", "timestamp": "1772445600", "type": "text", "text": {"body": "hola"}}
    empty = wa_text("wamid.BAD2", "")
    good = wa_text("wamid.OK1", "Este sí")
    response = _deliver(api.client, account_id, notification(NUMBER_ID, messages=[no_sender, empty, good]))
    assert response.status_code == 200 and (response.json()["stored"], response.json()["quarantined"]) == (
        1,
        2,
    )
    broken = b'{"object": "whatsapp_business_account", "entry": [{"changes": '
    assert _deliver(api.client, account_id, broken).json()["quarantined"] == 1
    wrong_shape = {"object": "whatsapp_business_account", "entry": "nada"}
    assert _deliver(api.client, account_id, wrong_shape).json()["quarantined"] == 1

    sender_row, empty_row, json_row, shape_row = _quarantined(runtime)
    assert sender_row.source == "whatsapp" and "from" in sender_row.reason
    assert json.loads(bytes(sender_row.raw))["id"] == "wamid.BAD1"
    assert "without text.body" in empty_row.reason
    assert "JSON" in json_row.reason and bytes(json_row.raw) == broken
    assert "entry list" in shape_row.reason
    assert [m.external_id for m in _messages(runtime)] == ["wamid.OK1"]

    # An agent reprocesses: the wrong shape still cannot be read; the sender-less message, corrected, can.
    assert api.post(f"/api/v1/quarantine/{shape_row.id}/reprocess").status_code == 422
    fixed = {**no_sender, "from": "34600111222"}
    again = api.post(f"/api/v1/quarantine/{sender_row.id}/reprocess", json={"payload": fixed})
    assert again.status_code == 200, again.text
    assert _messages(runtime)[-1].author_value == "+34600111222"
    # Meta sends the unreadable ones again: kept once.
    _deliver(api.client, account_id, broken)
    _deliver(api.client, account_id, notification(NUMBER_ID, messages=[no_sender, empty, good]))
    assert len(_quarantined(runtime)) == 4
    health = api.get(f"/api/v1/channels/accounts/{account_id}/health").json()
    assert health["last_error"] is None  # the last delivery was read; the quarantine holds the rest


def test_a_bad_signature_is_refused_and_logged(api, runtime, graph):
    account_id = _account(api, graph[0])
    document = notification(NUMBER_ID, messages=[wa_text("wamid.SIG1", "Hola")])
    body = json.dumps(document).encode()
    for signature in (_sign(body, "otro-secreto"), "sha256=00"):
        assert _deliver(api.client, account_id, body, signature=signature).status_code == 401
    unsigned = api.client.post(f"/api/v1/channels/whatsapp/{account_id}/webhook", content=body)
    assert unsigned.status_code == 401
    tampered = _deliver(api.client, account_id, body.replace(b"Hola", b"Adios"), signature=_sign(body))
    assert tampered.status_code == 401
    reasons = [e.payload["reason"] for e in _events(runtime, "channel.webhook_rejected")]
    assert reasons == ["bad_signature", "bad_signature", "missing_signature", "bad_signature"]
    assert _messages(runtime) == [] and _quarantined(runtime) == []


def test_a_webhook_interrupted_in_the_middle_loses_and_doubles_nothing(api, runtime, graph, monkeypatch):
    account_id = _account(api, graph[0])
    from cuida.channels import messaging

    document = notification(
        NUMBER_ID,
        messages=[wa_text("wamid.R1", "Uno"), wa_text("wamid.R2", "Dos"), wa_text("wamid.R3", "Tres")],
    )

    def crashes(**kw: Any) -> Any:
        raise RuntimeError("the process stopped here")

    monkeypatch.setattr(messaging, "accept", crashes)
    with pytest.raises(RuntimeError):
        _deliver(api.client, account_id, document)
    monkeypatch.undo()
    assert _messages(runtime) == []  # nothing half-stored, and Meta got no 200: it sends it again
    assert _deliver(api.client, account_id, document).json()["stored"] == 3
    assert _deliver(api.client, account_id, document).json()["duplicates"] == 3
    assert sorted(m.text for m in _messages(runtime)) == ["Dos", "Tres", "Uno"]


# --- sending and statuses -----------------------------------------------------------------------------


def _first_message(api: Any, runtime: Any, account_id: int) -> Message:
    document = notification(NUMBER_ID, contacts=CONTACTS, messages=[wa_text("wamid.IN1", "¿Y mi pedido?")])
    assert _deliver(api.client, account_id, document).status_code == 200
    (message,) = _messages(runtime)
    return message


def _delivery(runtime: Any) -> Delivery:
    with runtime.db.sessions() as session:
        return session.scalars(select(Delivery)).one()


def _status(wamid: str, status: str, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": wamid,
        "status": status,
        "timestamp": "1772446000",
        "recipient_id": "34600111222",
    }
    if errors:
        body["errors"] = errors
    return body


def test_reply_is_retried_after_a_temporary_error_sent_once_and_its_statuses_recorded(api, runtime, graph):
    url, server = graph
    account_id = _account(api, url)
    inbound = _first_message(api, runtime, account_id)
    server.fail_next_send(500, 131000, "Something went wrong")
    response = api.post(
        f"/api/v1/conversations/{inbound.conversation_id}/replies",
        json={"text": "Hola Lucía, lo miramos ya."},
    )
    assert response.status_code == 202, response.text
    delivery = _delivery(runtime)
    assert delivery.status == "pending" and delivery.attempts == 1 and "131000" in (delivery.last_error or "")
    assert server.sent == []

    with runtime.db.session() as session:  # the backoff has passed
        session.execute(update(Delivery).values(next_attempt_at=Delivery.created_at))
    reconcile(runtime)
    reconcile(runtime)
    delivery = _delivery(runtime)
    assert delivery.status == "sent" and delivery.attempts == 2 and server.send_calls == 2
    (sent,) = server.sent
    assert sent["to"] == "34600111222" and sent["text"]["body"] == "Hola Lucía, lo miramos ya."
    assert sent["context"] == {"message_id": "wamid.IN1"} and delivery.provider_id == sent["wamid"]

    statuses = [
        _status(sent["wamid"], "sent"),
        _status(sent["wamid"], "delivered"),
        _status(sent["wamid"], "read"),
    ]
    answer = _deliver(api.client, account_id, notification(NUMBER_ID, statuses=statuses)).json()
    assert answer["statuses"] == 3 and answer["unmatched_statuses"] == 0
    _deliver(api.client, account_id, notification(NUMBER_ID, statuses=statuses))  # sent again by Meta
    with runtime.db.sessions() as session:
        receipts = list(session.scalars(select(DeliveryReceipt).order_by(DeliveryReceipt.id)))
    assert [(r.delivery_id, r.status) for r in receipts] == [
        (delivery.id, s) for s in ("sent", "delivered", "read")
    ]
    assert [e.type for e in _events(runtime, "reply.read")] == ["reply.read"]
    assert _delivery(runtime).status == "sent"

    # The customer answers our message (context names our wamid): same conversation, linked to our reply.
    answer_doc = notification(NUMBER_ID, messages=[wa_text("wamid.IN2", "Gracias", context=sent["wamid"])])
    _deliver(api.client, account_id, answer_doc)
    reply = _messages(runtime)[-1]
    with runtime.db.sessions() as session:
        ours = session.scalar(select(Message.external_id).where(Message.id == delivery.message_id))
    assert reply.in_reply_to == ours and reply.conversation_id == inbound.conversation_id


def test_a_refused_reply_fails_without_retrying_and_a_failed_status_fails_the_delivery(api, runtime, graph):
    url, server = graph
    account_id = _account(api, url)
    inbound = _first_message(api, runtime, account_id)
    server.fail_next_send(400, 131047, "Re-engagement message")  # the 24-hour window has closed
    api.post(f"/api/v1/conversations/{inbound.conversation_id}/replies", json={"text": "Respuesta tardía"})
    delivery = _delivery(runtime)
    assert delivery.status == "failed" and delivery.attempts == 1 and "131047" in (delivery.last_error or "")
    assert server.send_calls == 1 and server.sent == []

    # A reply the API accepted but could not deliver later: the failed status fails it.
    with runtime.db.session() as session:
        session.execute(
            update(Delivery).values(status="pending", attempts=0, next_attempt_at=Delivery.created_at)
        )
    reconcile(runtime)
    delivery = _delivery(runtime)
    assert delivery.status == "sent"
    error = {
        "code": 131026,
        "title": "Message undeliverable",
        "error_data": {"details": "Receiver is incapable"},
    }
    failed = _status(delivery.provider_id or "", "failed", [error])
    _deliver(api.client, account_id, notification(NUMBER_ID, statuses=[failed]))
    delivery = _delivery(runtime)
    assert delivery.status == "failed" and "131026" in (delivery.last_error or "")
    assert "Receiver is incapable" in (delivery.last_error or "")
    unknown = _deliver(
        api.client, account_id, notification(NUMBER_ID, statuses=[_status("wamid.NOPE", "read")])
    )
    assert unknown.json()["unmatched_statuses"] == 1
