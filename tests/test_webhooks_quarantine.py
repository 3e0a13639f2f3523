"""Inbound signed webhooks, the quarantine, and notes/outbound contacts logged through the API."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from cuida.auth.service import create_token
from cuida.clock.service import now, set_now
from cuida.conversations.models import Message
from cuida.events.models import Event
from cuida.quarantine.models import QuarantinedPayload
from cuida.quarantine.service import sign

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _hook(api: Any, channel: str = "webhook", name: str = "Tienda online") -> dict[str, Any]:
    response = api.post("/api/v1/inbound-webhooks", json={"name": name, "channel": channel})
    assert response.status_code == 201, response.text
    return dict(response.json())


def _clock(runtime: Any, to: datetime = START) -> int:
    with runtime.db.session() as session:
        set_now(session=session, to=to)
        return int(now(session=session).timestamp())


def _deliver(
    client: Any,
    hook: dict[str, Any],
    body: Any,
    *,
    ts: int,
    secret: str | None = None,
    signature: str | None = None,
) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Cuida-Timestamp": str(ts),
        "X-Cuida-Signature": signature or sign(secret or hook["secret"], ts, raw),
    }
    return client.post(hook["url"], content=raw, headers=headers)


def _events(runtime: Any, type_: str) -> list[Event]:
    with runtime.db.sessions() as session:
        return list(session.scalars(select(Event).where(Event.type == type_).order_by(Event.id)))


def _count_messages(runtime: Any) -> int:
    with runtime.db.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Message)) or 0)


MESSAGE = {
    "external_id": "order-123-msg-1",
    "author": {"value": "Lucia.Perez@Correo.es", "name": "Lucía Pérez"},
    "text": "Hola, el pedido 123 llegó con la pantalla rota. ¿Me lo cambian?",
}


def test_signed_message_is_accepted_onto_the_customers_timeline(api, client, runtime):
    ts = _clock(runtime)
    hook = _hook(api)
    assert hook["slug"] == "tienda-online" and hook["secret"].startswith("whsec_")
    # No bearer token: the signature is the authentication.
    response = _deliver(client, hook, MESSAGE, ts=ts)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["stored"] == 1 and body["duplicates"] == 0 and body["quarantined"] is None
    [item] = body["items"]
    # Processing was enqueued after the commit (the tests' queue runs it at once).
    message = api.get(f"/api/v1/messages/{item['message_id']}").json()
    assert message["stage"] == "done" and message["triage"] is not None
    timeline = api.get(f"/api/v1/customers/{message['customer_id']}/timeline").json()
    [entry] = timeline["items"]
    assert entry["message_id"] == item["message_id"]
    assert entry["channel"] == "webhook" and entry["direction"] == "in"
    with runtime.db.sessions() as session:
        stored = session.get(Message, item["message_id"])
        assert stored is not None
        assert stored.meta["source"] == {"type": "webhook", "id": hook["id"], "name": "tienda-online"}
    listed = api.get("/api/v1/inbound-webhooks").json()
    assert [h["slug"] for h in listed] == ["tienda-online"]
    assert "secret" not in listed[0]
    assert listed[0]["last_success_at"] is not None and listed[0]["last_error"] is None


def test_duplicate_delivery_returns_the_same_message(api, client, runtime):
    ts = _clock(runtime)
    hook = _hook(api)
    first = _deliver(client, hook, MESSAGE, ts=ts)
    # The sender retries: signed again a second later (a new signature), same external_id.
    again = _deliver(client, hook, MESSAGE, ts=ts + 1)
    assert first.status_code == 202 and again.status_code == 200, again.text
    assert again.json()["items"][0]["message_id"] == first.json()["items"][0]["message_id"]
    assert again.json()["duplicates"] == 1
    batch = _deliver(client, hook, {"messages": [MESSAGE, {**MESSAGE, "external_id": "m-2"}]}, ts=ts + 2)
    assert batch.status_code == 202, batch.text
    assert [i["duplicate"] for i in batch.json()["items"]] == [True, False]
    assert batch.json()["items"][0]["message_id"] == first.json()["items"][0]["message_id"]
    assert _count_messages(runtime) == 2


def test_wrong_or_missing_signature_is_401_and_logged_without_the_body(api, client, runtime):
    ts = _clock(runtime)
    hook = _hook(api)
    wrong = _deliver(client, hook, MESSAGE, ts=ts, secret="whsec_not-the-secret")
    assert wrong.status_code == 401
    assert wrong.json()["error"]["reason"] == "bad_signature"
    raw = json.dumps(MESSAGE).encode()
    missing = client.post(hook["url"], content=raw, headers={"X-Cuida-Timestamp": str(ts)})
    assert missing.status_code == 401 and missing.json()["error"]["reason"] == "missing_signature"
    # Signed over another timestamp than the one sent.
    shifted = _deliver(client, hook, MESSAGE, ts=ts, signature=sign(hook["secret"], ts - 1, raw))
    assert shifted.status_code == 401
    events = _events(runtime, "webhook.rejected")
    assert [e.payload["reason"] for e in events] == ["bad_signature", "missing_signature", "bad_signature"]
    assert all(
        e.payload["slug"] == "tienda-online" and "pantalla" not in json.dumps(e.payload) for e in events
    )
    assert events[0].actor_type == "webhook" and events[0].actor_id == hook["id"]
    assert _count_messages(runtime) == 0
    with runtime.db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(QuarantinedPayload)) == 0
    health = api.get(f"/api/v1/inbound-webhooks/{hook['id']}").json()
    assert health["last_error"].startswith("rejected (bad_signature)") and health["last_error_at"]


def test_timestamp_more_than_five_minutes_away_is_401(api, client, runtime):
    ts = _clock(runtime)
    hook = _hook(api)
    for stale in (ts - 301, ts + 301):
        response = _deliver(client, hook, MESSAGE, ts=stale)
        assert response.status_code == 401, response.text
        assert response.json()["error"]["reason"] == "stale_timestamp"
    assert _deliver(client, hook, MESSAGE, ts=ts - 299).status_code == 202
    # The manual clock is the server's time: ten minutes on, that signing time is stale.
    _clock(runtime, START + timedelta(minutes=10))
    late = _deliver(client, hook, {**MESSAGE, "external_id": "late"}, ts=ts)
    assert late.status_code == 401 and late.json()["error"]["reason"] == "stale_timestamp"
    assert [e.payload["reason"] for e in _events(runtime, "webhook.rejected")] == ["stale_timestamp"] * 3


def test_the_same_signed_request_again_is_a_replay(api, client, runtime):
    ts = _clock(runtime)
    hook = _hook(api)
    assert _deliver(client, hook, MESSAGE, ts=ts).status_code == 202
    replay = _deliver(client, hook, MESSAGE, ts=ts)
    assert replay.status_code == 409
    assert replay.json()["error"]["code"] == "replay"
    assert _events(runtime, "webhook.rejected")[-1].payload["reason"] == "replay"
    # Two copies of one signed request at the same moment: one is accepted, the other is the replay.
    raw = json.dumps({**MESSAGE, "external_id": "race"}).encode()
    barrier = threading.Barrier(2)

    def send() -> int:
        barrier.wait()
        return int(_deliver(client, hook, raw, ts=ts + 1).status_code)

    with ThreadPoolExecutor(2) as pool:
        codes = sorted(pool.map(lambda _: send(), range(2)))
    assert codes == [202, 409]
    # A payload that went to quarantine is not accepted twice either.
    junk = b"{not json"
    assert _deliver(client, hook, junk, ts=ts).status_code == 202
    assert _deliver(client, hook, junk, ts=ts).status_code == 409
    assert _count_messages(runtime) == 2


def test_malformed_json_is_quarantined_and_reprocessed_after_correction(api, client, runtime):
    ts = _clock(runtime)
    hook = _hook(api)
    raw = b'{"external_id": "q-1", "author": "lucia.perez@correo.es", "text": "Sigo sin respuesta"'
    response = _deliver(client, hook, raw, ts=ts)
    assert response.status_code == 202, response.text
    body = response.json()
    entry_id = body["quarantined"]
    assert entry_id and "not valid JSON" in body["reason"] and body["items"] == []
    [event] = _events(runtime, "message.quarantined")
    assert event.payload["quarantine_id"] == entry_id and event.payload["source"] == "webhook"

    page = api.get("/api/v1/quarantine?status=new").json()
    [listed] = page["items"]
    assert listed["id"] == entry_id and listed["source"] == "webhook" and listed["source_ref"] == hook["slug"]
    assert listed["status"] == "new" and listed["reason"] == body["reason"] and listed["received_at"]
    assert listed["size"] == len(raw) and listed["preview"].startswith('{"external_id": "q-1"')
    detail = api.get(f"/api/v1/quarantine/{entry_id}").json()
    assert detail["raw_text"] == raw.decode() and detail["raw_is_utf8"] is True
    assert api.get(f"/api/v1/quarantine/{entry_id}/raw").content == raw
    health = api.get(f"/api/v1/inbound-webhooks/{hook['id']}").json()
    assert health["last_error"].startswith(f"quarantined #{entry_id}")

    # As stored it still cannot be read: 422, and the attempt is recorded.
    failed = api.post(f"/api/v1/quarantine/{entry_id}/reprocess")
    assert failed.status_code == 422 and "not valid JSON" in failed.json()["error"]["message"]
    after = api.get(f"/api/v1/quarantine/{entry_id}").json()
    assert after["status"] == "new" and after["attempts"] == 1 and "not valid JSON" in after["last_error"]

    corrected = json.loads(raw.decode() + "}")
    done = api.post(f"/api/v1/quarantine/{entry_id}/reprocess", json={"payload": corrected})
    assert done.status_code == 200, done.text
    [item] = done.json()["items"]
    assert done.json()["quarantine"]["status"] == "reprocessed"
    assert done.json()["quarantine"]["message_ids"] == [item["message_id"]]
    customer_id = api.get(f"/api/v1/messages/{item['message_id']}").json()["customer_id"]
    timeline = api.get(f"/api/v1/customers/{customer_id}/timeline").json()
    assert [t["text"] for t in timeline["items"]] == ["Sigo sin respuesta"]
    assert timeline["items"][0]["channel"] == "webhook"
    assert _events(runtime, "quarantine.reprocessed")[0].payload["message_ids"] == [item["message_id"]]
    # Done is done: neither again nor discarded; the raw payload is still there.
    assert (
        api.post(f"/api/v1/quarantine/{entry_id}/reprocess", json={"payload": corrected}).status_code == 409
    )
    assert api.post(f"/api/v1/quarantine/{entry_id}/discard").status_code == 409
    assert api.get(f"/api/v1/quarantine/{entry_id}/raw").content == raw
    assert api.get("/api/v1/quarantine?status=new").json()["items"] == []


def test_invalid_utf8_is_quarantined_with_its_bytes(api, client, runtime):
    ts = _clock(runtime)
    hook = _hook(api)
    raw = b'{"author": "a@correo.es", "text": "caf\xe9 fr\xedo"}'  # ISO-8859-1, not UTF-8
    response = _deliver(client, hook, raw, ts=ts)
    assert response.status_code == 202
    assert "not valid UTF-8" in response.json()["reason"] and "0xe9" in response.json()["reason"]
    entry = api.get(f"/api/v1/quarantine/{response.json()['quarantined']}").json()
    assert entry["raw_is_utf8"] is False
    assert entry["raw_text"] == '{"author": "a@correo.es", "text": "caf\\xe9 fr\\xedo"}'
    assert api.get(f"/api/v1/quarantine/{entry['id']}/raw").content == raw
    discarded = api.post(f"/api/v1/quarantine/{entry['id']}/discard")
    assert discarded.status_code == 200 and discarded.json()["status"] == "discarded"
    assert discarded.json()["resolved_by"] == "tests"
    assert api.get("/api/v1/quarantine?status=discarded").json()["items"][0]["id"] == entry["id"]
    # Discarding keeps the bytes: a later correction still goes through.
    fixed = {"author": "a@correo.es", "text": "café frío"}
    assert api.post(f"/api/v1/quarantine/{entry['id']}/reprocess", json={"payload": fixed}).status_code == 200


def test_wrong_fields_are_quarantined_and_a_batch_keeps_its_good_messages(api, client, runtime):
    ts = _clock(runtime)
    hook = _hook(api, channel="whatsapp", name="WhatsApp BSP")
    # A misspelt external_id would silently break idempotency: refused, not ignored.
    single = _deliver(client, hook, {"externalId": "x", "author": "+34 612 345 678", "text": "hola"}, ts=ts)
    assert single.status_code == 202 and "externalId" in single.json()["reason"]
    other_channel = _deliver(client, hook, {**MESSAGE, "channel": "email"}, ts=ts + 1)
    assert "posts as 'whatsapp'" in other_channel.json()["reason"]
    not_object = _deliver(client, hook, [MESSAGE], ts=ts + 2)
    assert "expected a JSON object" in not_object.json()["reason"]
    # What neither database can store (NUL in a string) is refused here, not failed on later.
    nul = {"author": "+34 612 345 678", "text": "hola", "metadata": {"ref": "a\u0000b"}}
    nul_answer = _deliver(client, hook, nul, ts=ts + 10)
    assert nul_answer.status_code == 202 and "metadata.ref" in nul_answer.json()["reason"]

    good = {"external_id": "wa-1", "author": "+34 612 345 678", "text": "¿Hay cita mañana?"}
    bad_phone = {"external_id": "wa-2", "author": "not a phone", "text": "hola"}
    no_text = {"external_id": "wa-3", "author": "+34 699 000 111"}
    good_too = {"external_id": "wa-4", "author": "+34 699 000 111", "text": "Gracias"}
    response = _deliver(client, hook, {"messages": [good, bad_phone, no_text, good_too]}, ts=ts + 3)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["stored"] == 2 and body["quarantined_indexes"] == [1, 2]
    assert "2 of 4 messages could not be read" in body["reason"]
    assert "messages[1].author.value" in body["reason"]
    entry = api.get(f"/api/v1/quarantine/{body['quarantined']}").json()
    assert entry["details"]["indexes"] == [1, 2] and entry["channel"] == "whatsapp"
    # The correction holds the two that failed; those already stored are not stored again.
    fixed = {"messages": [{**bad_phone, "author": "+34 611 222 333"}, {**no_text, "text": "Llamadme"}]}
    done = api.post(f"/api/v1/quarantine/{body['quarantined']}/reprocess", json={"payload": fixed})
    assert done.status_code == 200, done.text
    assert [i["duplicate"] for i in done.json()["items"]] == [False, False]
    assert _count_messages(runtime) == 4
    with runtime.db.sessions() as session:
        channels = set(session.scalars(select(Message.channel)))
    assert channels == {"whatsapp"}
    # A correction that is still wrong says where.
    still_bad = api.post(
        f"/api/v1/quarantine/{single.json()['quarantined']}/reprocess",
        json={"payload": {"author": "x", "text": "hola"}},
    )
    assert still_bad.status_code == 422
    assert {f["field"] for f in still_bad.json()["error"]["fields"]} >= {"author.value"}


def test_oversized_body_is_refused_before_it_is_read(api, client, runtime):
    ts = _clock(runtime)
    hook = _hook(api)
    raw = b'{"text": "' + b"x" * runtime.settings.max_body_bytes + b'"}'
    response = _deliver(client, hook, raw, ts=ts)
    assert response.status_code == 413 and response.json()["error"]["code"] == "too_large"
    with runtime.db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(QuarantinedPayload)) == 0


def test_unknown_disabled_and_rotated_webhooks(api, client, runtime):
    ts = _clock(runtime)
    hook = _hook(api)
    unknown = _deliver(client, {**hook, "url": "/api/v1/webhooks/no-such-hook"}, MESSAGE, ts=ts)
    assert unknown.status_code == 404
    assert api.post(f"/api/v1/inbound-webhooks/{hook['id']}/disable").json()["active"] is False
    disabled = _deliver(client, hook, MESSAGE, ts=ts)
    assert disabled.status_code == 403 and disabled.json()["error"]["reason"] == "disabled"
    assert api.post(f"/api/v1/inbound-webhooks/{hook['id']}/enable").json()["active"] is True
    assert _deliver(client, hook, MESSAGE, ts=ts + 1).status_code == 202

    rotated = api.post(f"/api/v1/inbound-webhooks/{hook['id']}/rotate").json()
    assert rotated["secret"] != hook["secret"] and rotated["secret_rotated_at"]
    assert _deliver(client, hook, MESSAGE, ts=ts + 2).status_code == 401
    assert _deliver(client, rotated, MESSAGE, ts=ts + 3).status_code == 200  # duplicate, signed right
    graced = api.post(f"/api/v1/inbound-webhooks/{hook['id']}/rotate", json={"grace_seconds": 3600}).json()
    assert _deliver(client, rotated, MESSAGE, ts=ts + 4).status_code == 200  # the old one, in its grace
    assert _deliver(client, graced, MESSAGE, ts=ts + 5).status_code == 200
    types = [e.type for e in _events(runtime, "inbound_webhook.secret_rotated")]
    assert types == ["inbound_webhook.secret_rotated"] * 2
    assert "secret" not in json.dumps([e.payload for e in _events(runtime, "inbound_webhook.secret_rotated")])

    taken = api.post(
        "/api/v1/inbound-webhooks", json={"name": "x", "channel": "webhook", "slug": hook["slug"]}
    )
    assert taken.status_code == 409
    second = _hook(api)  # same name: a slug of its own
    assert second["slug"].startswith("tienda-online-") and second["slug"] != hook["slug"]
    unknown_channel = api.post("/api/v1/inbound-webhooks", json={"name": "x", "channel": "fax"})
    assert unknown_channel.status_code == 422


def test_scopes_and_the_schema_in_the_openapi_description(api, client, runtime):
    ts = _clock(runtime)
    hook = _hook(api)
    entry = _deliver(client, hook, b"[", ts=ts).json()["quarantined"]
    with runtime.db.session() as session:
        reader, _ = create_token(session=session, name="reader", scopes=["messages:read"])
    headers = {"Authorization": f"Bearer {reader}"}
    assert client.get("/api/v1/quarantine", headers=headers).status_code == 200
    assert client.post(f"/api/v1/quarantine/{entry}/discard", headers=headers).status_code == 403
    assert client.post(f"/api/v1/quarantine/{entry}/reprocess", headers=headers).status_code == 403
    assert client.get("/api/v1/inbound-webhooks", headers=headers).status_code == 403
    assert client.get("/api/v1/quarantine").status_code == 401
    spec = client.get("/openapi.json").json()
    operation = spec["paths"]["/api/v1/webhooks/{slug}"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    message, batch = schema["oneOf"]
    assert "channel" not in message["required"] and "external_id" in message["properties"]
    assert message["additionalProperties"] is False
    assert batch["properties"]["messages"]["items"] == message
    assert "X-Cuida-Signature" in operation["description"]


def test_quarantine_list_pages_newest_first(api, client, runtime):
    ts = _clock(runtime)
    hook = _hook(api)
    ids = [_deliver(client, hook, b"{" + bytes([48 + i]), ts=ts + i).json()["quarantined"] for i in range(5)]
    first = api.get("/api/v1/quarantine?limit=2").json()
    second = api.get(f"/api/v1/quarantine?limit=2&cursor={first['next_cursor']}").json()
    third = api.get(f"/api/v1/quarantine?limit=2&cursor={second['next_cursor']}").json()
    seen = [i["id"] for page in (first, second, third) for i in page["items"]]
    assert seen == sorted(ids, reverse=True) and third["next_cursor"] is None
    assert api.get("/api/v1/quarantine?status=bogus").status_code == 422
    assert api.get(f"/api/v1/quarantine?webhook_id={hook['id']}&source=webhook").json()["items"]
    assert api.get("/api/v1/quarantine/999999").status_code == 404


# --- calls, shop and workshop visits, outbound contacts: POST /api/v1/messages already takes them


def test_calls_visits_and_outbound_contacts_are_logged_through_the_messages_api(api, client, runtime):
    customer = api.post(
        "/api/v1/customers",
        json={
            "name": "Lucía Pérez",
            "identities": [
                {"channel": "phone", "value": "+34 612 345 678"},
                {"channel": "email", "value": "lucia.perez@correo.es"},
            ],
        },
    ).json()
    logged = [
        # A call an agent took: a note on the phone channel, against the customer's number.
        {
            "channel": "phone",
            "direction": "note",
            "recipient": "612 345 678",
            "text": "Llamó por el pedido 123",
        },
        # A visit to the shop and to the workshop, against her email.
        {
            "channel": "store",
            "direction": "note",
            "recipient": "lucia.perez@correo.es",
            "text": "Vino a tienda",
        },
        {
            "channel": "workshop",
            "direction": "note",
            "recipient": "lucia.perez@correo.es",
            "text": "Taller: ok",
        },
        # A sales call we made: outbound, with its purpose so contactability can check it.
        {
            "channel": "phone",
            "direction": "out",
            "recipient": "+34 612 345 678",
            "text": "Llamada comercial: oferta de fibra",
            "metadata": {"purpose": "sales", "agent_email": "admin@example.com"},
        },
    ]
    for index, fields in enumerate(logged):
        response = api.post("/api/v1/messages?wait=5", json={"external_id": f"log-{index}", **fields})
        assert response.status_code == 202, response.text
        assert response.json()["customer_id"] == customer["id"]
    # A workshop system can push the same through its own webhook.
    ts = _clock(runtime)
    hook = _hook(api, channel="workshop", name="Taller")
    note = {
        "external_id": "ot-77",
        "direction": "note",
        "recipient": "lucia.perez@correo.es",
        "text": "OT 77 lista",
    }
    pushed = _deliver(client, hook, note, ts=ts)
    assert pushed.status_code == 202, pushed.text
    pushed_id = pushed.json()["items"][0]["message_id"]
    assert api.get(f"/api/v1/messages/{pushed_id}").json()["customer_id"] == customer["id"]

    timeline = api.get(f"/api/v1/customers/{customer['id']}/timeline").json()["items"]
    assert sorted((t["channel"], t["direction"]) for t in timeline) == [
        ("phone", "note"),
        ("phone", "out"),
        ("store", "note"),
        ("workshop", "note"),
        ("workshop", "note"),
    ]
    # Without a recipient or a message to answer, there is no customer to log it against.
    orphan = api.post("/api/v1/messages", json={"channel": "phone", "direction": "note", "text": "Llamada"})
    assert orphan.status_code == 422
