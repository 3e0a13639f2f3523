"""The Telegram channel against a local server that speaks the Bot API (tests/messaging_servers.py):
getUpdates polling with the offset kept across restarts, the webhook with its secret token, and
sendMessage with Telegram's errors."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from cuida.channels import service as channels
from cuida.channels.models import ChannelAccount, ChannelCursor
from cuida.clock.service import wall_now
from cuida.conversations.models import Delivery, Message
from cuida.customers.models import Identity
from cuida.events.models import Event
from cuida.jobs.reconciler import reconcile
from cuida.quarantine.models import QuarantinedPayload
from tests.messaging_servers import BotApi, run_bot_api, text_update

TOKEN = "123456:TEST-bot-token"
SECRET = "s3cret-token_for-webhook"


@pytest.fixture
def bot() -> Iterator[tuple[str, BotApi]]:
    with run_bot_api(TOKEN) as served:
        yield served


def _account(api: Any, base_url: str, **config: Any) -> int:
    body = {
        "kind": "telegram",
        "name": "Bot de la tienda",
        "config": {"base_url": base_url, "long_poll_seconds": 0, **config},
        "secrets": {"bot_token": TOKEN, "webhook_secret": SECRET},
    }
    response = api.post("/api/v1/channels/accounts", json=body)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _poll(runtime: Any, account_id: int) -> Any:
    answer = channels.poll_now(runtime, account_id)
    assert answer.polled and answer.error is None, answer
    return answer


def _messages(runtime: Any) -> list[Message]:
    with runtime.db.sessions() as session:
        return list(session.scalars(select(Message).order_by(Message.id)))


def _quarantined(runtime: Any) -> list[QuarantinedPayload]:
    with runtime.db.sessions() as session:
        return list(session.scalars(select(QuarantinedPayload).order_by(QuarantinedPayload.id)))


def _events(runtime: Any, kind: str) -> list[Event]:
    with runtime.db.sessions() as session:
        return list(session.scalars(select(Event).where(Event.type == kind).order_by(Event.id)))


def _offset(runtime: Any, account_id: int) -> Any:
    with runtime.db.sessions() as session:
        return channels.get_cursor(session=session, account_id=account_id, key="getUpdates").get("offset")


def _hook(client: Any, account_id: int, body: Any, secret: str | None = SECRET) -> Any:
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    if isinstance(body, bytes):
        return client.post(f"/api/v1/channels/telegram/{account_id}/webhook", content=body, headers=headers)
    return client.post(f"/api/v1/channels/telegram/{account_id}/webhook", json=body, headers=headers)


# --- polling ---------------------------------------------------------------------------------------------


def test_polled_messages_are_stored_threaded_and_the_offset_kept(api, runtime, bot):
    url, server = bot
    account_id = _account(api, url)
    read = api.get(f"/api/v1/channels/accounts/{account_id}").json()
    assert read["secrets_set"] == ["bot_token", "webhook_secret"] and TOKEN not in str(read)

    first, second = server.push(
        text_update("Hola, mi pedido 4411 no ha llegado.", message_id=10),
        text_update("¿Me podéis decir algo?", message_id=11, reply_to=10),
    )
    answer = _poll(runtime, account_id)
    assert (answer.fetched, answer.stored, answer.duplicates, answer.quarantined) == (2, 2, 0, 0)
    assert _offset(runtime, account_id) == second + 1

    one, two = _messages(runtime)
    assert (one.external_id, two.external_id) == ("7001:10", "7001:11")
    assert one.author_value == "7001" and one.author_name == "Lucía Pérez"
    assert one.meta["telegram"]["username"] == "luciap" and one.meta["telegram"]["chat_id"] == 7001
    assert two.in_reply_to == "7001:10" and two.conversation_id == one.conversation_id
    assert one.stage == two.stage == "done" and one.occurred_at.year == 2026
    with runtime.db.sessions() as session:
        identity = session.scalars(select(Identity).where(Identity.channel == "telegram")).one()
    assert identity.value == "7001" and identity.customer_id == one.customer_id

    # Nothing new: the next poll asks past the confirmed updates and gets nothing back.
    assert _poll(runtime, account_id).fetched == 0
    assert server.get_updates_calls[-1]["offset"] == second + 1 and first < second
    health = api.get(f"/api/v1/channels/accounts/{account_id}/health").json()
    assert health["last_success_at"] is not None and health["last_error"] is None


def test_a_long_poll_answers_as_soon_as_an_update_arrives(api, runtime, bot):
    url, server = bot
    account_id = _account(api, url, long_poll_seconds=30)
    answers: list[Any] = []
    worker = threading.Thread(target=lambda: answers.append(channels.poll_now(runtime, account_id)))
    worker.start()
    deadline = time.monotonic() + 10
    while not server.get_updates_calls and time.monotonic() < deadline:  # the poll is waiting at Telegram
        time.sleep(0.01)
    assert server.get_updates_calls[0]["timeout"] == 30
    server.push(text_update("Llega mientras esperamos", message_id=15))
    worker.join(timeout=10)
    assert not worker.is_alive(), "the long poll did not return when the update arrived"
    assert answers[0].stored == 1 and _messages(runtime)[0].text == "Llega mientras esperamos"


def test_the_same_update_twice_is_one_message(api, runtime, bot):
    url, server = bot
    account_id = _account(api, url)
    hello = text_update("Hola", message_id=20)
    server.push({"update_id": 300, **hello}, {"update_id": 300, **hello})  # Telegram sent it twice
    answer = _poll(runtime, account_id)
    assert (answer.fetched, answer.stored, answer.duplicates) == (2, 1, 1)

    assert _poll(runtime, account_id).fetched == 0  # this call confirms update 300 to Telegram
    with runtime.db.session() as session:  # a poller that lost its offset is served the update again
        session.execute(update(ChannelCursor).values(value={}))
    server.push({"update_id": 300, **hello})
    again = _poll(runtime, account_id)
    assert (again.stored, again.duplicates) == (0, 1)
    # ... and the same message pushed by the webhook too.
    response = _hook(api.client, account_id, {"update_id": 300, **hello})
    assert response.status_code == 200 and response.json()["duplicates"] == 1
    assert [m.external_id for m in _messages(runtime)] == ["7001:20"]


def test_unsupported_and_malformed_updates_are_quarantined_once(api, runtime, bot):
    url, server = bot
    account_id = _account(api, url)
    sticker = text_update("x", message_id=31)
    del sticker["message"]["text"]
    sticker["message"]["sticker"] = {"file_id": "abc", "emoji": "👍"}
    anonymous = text_update("sin remitente", message_id=32)
    del anonymous["message"]["from"]
    photo = text_update("x", message_id=33)
    del photo["message"]["text"]
    photo["message"]["photo"] = [{"file_id": "p1", "width": 90, "height": 90}]
    photo["message"]["caption"] = "Así llegó la caja"
    server.push(
        {"edited_message": text_update("editado", message_id=30)["message"]},
        sticker,
        anonymous,
        photo,
        text_update("Buenas", message_id=34),
    )
    answer = _poll(runtime, account_id)
    assert (answer.fetched, answer.stored, answer.quarantined) == (5, 2, 3)
    edited, sticker_row, anonymous_row = _quarantined(runtime)
    assert edited.source == "telegram" and "unsupported update (edited_message)" in edited.reason
    assert edited.details["kind"] == "unsupported" and b'"edited_message"' in bytes(edited.raw)
    assert "without text (sticker)" in sticker_row.reason
    assert (
        "message.from.id is missing" in anonymous_row.reason and anonymous_row.details["kind"] == "malformed"
    )
    texts = [m.text for m in _messages(runtime)]
    assert texts == ["[photo] Así llegó la caja", "Buenas"]

    with runtime.db.session() as session:  # read again from scratch: kept once, not twice
        session.execute(update(ChannelCursor).values(value={}))
    again = _poll(runtime, account_id)
    assert (again.fetched, again.duplicates, again.quarantined) == (5, 2, 0)
    assert len(_quarantined(runtime)) == 3

    # An agent reprocesses the photo-less sticker with a corrected update: it becomes a message.
    fixed = text_update("👍", message_id=31)
    response = api.post(
        f"/api/v1/quarantine/{sticker_row.id}/reprocess", json={"payload": {"update_id": 101, **fixed}}
    )
    assert response.status_code == 200, response.text
    assert any(m.external_id == "7001:31" for m in _messages(runtime))


def test_a_poller_killed_in_the_middle_loses_and_doubles_nothing(api, runtime, bot, monkeypatch):
    url, server = bot
    account_id = _account(api, url, batch=2)
    server.push(*[text_update(f"Mensaje {i}", user_id=8000 + i, message_id=i) for i in range(5)])

    real_set_cursor = channels.set_cursor
    calls = {"n": 0}

    class Killed(BaseException):
        """Not an Exception: nothing in the poller catches it, as with a killed process."""

    def dies_in_the_second_batch(**kw: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise Killed  # the second batch's messages were inserted, then the process died
        real_set_cursor(**kw)

    monkeypatch.setattr(channels, "set_cursor", dies_in_the_second_batch)
    monkeypatch.setattr(channels, "release_poll", lambda **kw: None)  # a real kill runs no cleanup
    with pytest.raises(Killed):
        channels.poll_now(runtime, account_id)
    monkeypatch.undo()
    assert len(_messages(runtime)) == 2  # the first batch only: the second rolled back whole
    # Telegram was told only about the first batch (the offset we asked with), so it still holds the rest.
    assert [u["update_id"] for u in server.pending] == [102, 103, 104]

    assert channels.poll_now(runtime, account_id).polled is False  # the dead poller's lease holds
    with runtime.db.session() as session:
        session.execute(update(ChannelAccount).values(poll_lease_until=None))
    answer = _poll(runtime, account_id)
    assert (answer.fetched, answer.stored, answer.duplicates) == (3, 3, 0)
    assert sorted(m.text for m in _messages(runtime)) == [f"Mensaje {i}" for i in range(5)]
    assert _offset(runtime, account_id) == 105


def test_the_reconciler_polls_a_due_bot_and_a_webhook_bot_is_not_polled(api, runtime, bot):
    url, server = bot
    polling = _account(api, url)
    server.push(text_update("Hola", message_id=40))
    assert reconcile(runtime)["polls"] == 1 and len(_messages(runtime)) == 1
    assert reconcile(runtime)["polls"] == 0  # not due again before poll_seconds
    api.patch(f"/api/v1/channels/accounts/{polling}", json={"config": {"mode": "webhook"}})
    with runtime.db.session() as session:
        session.execute(update(ChannelAccount).values(next_poll_at=None))
    calls = len(server.get_updates_calls)
    assert channels.poll_now(runtime, polling).polled
    assert len(server.get_updates_calls) == calls  # getUpdates would conflict with the webhook


def test_a_wrong_token_shows_in_health_without_leaking_it(api, runtime, bot):
    url, _ = bot
    account_id = _account(api, url)
    api.patch(f"/api/v1/channels/accounts/{account_id}", json={"secrets": {"bot_token": "999:wrong"}})
    answer = channels.poll_now(runtime, account_id)
    assert answer.error is not None and "401" in answer.error and "999:wrong" not in answer.error
    assert api.get(f"/api/v1/channels/accounts/{account_id}/health").json()["last_error"]


# --- the webhook ------------------------------------------------------------------------------------------


def test_webhook_checks_the_secret_token_and_stores_each_update_once(api, runtime, bot):
    url, _ = bot
    account_id = _account(api, url, mode="webhook")
    update_body = {"update_id": 500, **text_update("Hola desde el webhook", message_id=50)}
    for secret in ("otro-secreto", None):
        refused = _hook(api.client, account_id, update_body, secret=secret)
        assert refused.status_code == 401
    rejected = _events(runtime, "channel.webhook_rejected")
    assert [e.payload["reason"] for e in rejected] == ["bad_secret", "missing_secret"]
    assert rejected[0].payload["account_id"] == account_id and _messages(runtime) == []

    accepted = _hook(api.client, account_id, update_body)
    assert accepted.status_code == 200 and accepted.json()["stored"] == 1
    # Telegram re-delivers when it did not see our 200 (we restarted before answering): one message.
    again = _hook(api.client, account_id, update_body)
    assert again.status_code == 200 and again.json()["duplicates"] == 1
    (message,) = _messages(runtime)
    assert message.text == "Hola desde el webhook" and message.stage == "done"

    broken = _hook(api.client, account_id, b'{"update_id": 501, "message": ')
    assert broken.status_code == 200 and broken.json()["quarantined"] == 1
    (row,) = _quarantined(runtime)
    assert "not valid JSON" in row.reason or "JSON" in row.reason
    assert bytes(row.raw) == b'{"update_id": 501, "message": '
    assert _hook(api.client, 99999, update_body).status_code == 404


def test_webhook_restarted_in_the_middle_loses_and_doubles_nothing(api, runtime, bot, monkeypatch):
    url, _ = bot
    account_id = _account(api, url, mode="webhook")
    from cuida.channels import messaging

    def crashes(**kw: Any) -> Any:
        raise RuntimeError("the process stopped here")

    update_body = {"update_id": 600, **text_update("Primero", message_id=60)}
    monkeypatch.setattr(messaging, "accept", crashes)
    with pytest.raises(RuntimeError):
        _hook(api.client, account_id, update_body)
    monkeypatch.undo()
    assert _messages(runtime) == []  # nothing half-stored; Telegram did not get a 200 ...
    assert _hook(api.client, account_id, update_body).json()["stored"] == 1  # ... and sends it again
    assert _hook(api.client, account_id, update_body).json()["duplicates"] == 1
    assert len(_messages(runtime)) == 1


# --- sending --------------------------------------------------------------------------------------------


def _conversation_with_message(api: Any, runtime: Any, server: BotApi, account_id: int) -> Message:
    server.push(text_update("¿Dónde está mi pedido?", message_id=70))
    _poll(runtime, account_id)
    (message,) = _messages(runtime)
    return message


def _delivery(runtime: Any) -> Delivery:
    with runtime.db.sessions() as session:
        return session.scalars(select(Delivery)).one()


def test_reply_is_retried_after_429_and_5xx_respecting_retry_after_and_sent_once(api, runtime, bot):
    url, server = bot
    account_id = _account(api, url)
    inbound = _conversation_with_message(api, runtime, server, account_id)
    server.fail_next_send(429, "Too Many Requests: retry after 120", retry_after=120)
    before = wall_now()
    response = api.post(
        f"/api/v1/conversations/{inbound.conversation_id}/replies",
        json={"text": "Hola Lucía, lo revisamos ahora mismo."},
    )
    assert response.status_code == 202, response.text
    delivery = _delivery(runtime)
    assert delivery.status == "pending" and delivery.attempts == 1 and "429" in (delivery.last_error or "")
    assert delivery.next_attempt_at >= before + timedelta(seconds=119)  # Telegram's wait, not our 5 s
    assert server.sent == []

    server.fail_next_send(502, "Bad Gateway")
    for _ in range(2):
        with runtime.db.session() as session:  # the wait has passed
            session.execute(update(Delivery).values(next_attempt_at=Delivery.created_at))
        reconcile(runtime)
    delivery = _delivery(runtime)
    assert delivery.status == "sent" and delivery.attempts == 3 and server.send_calls == 3
    (sent,) = server.sent
    assert sent["chat_id"] == 7001 and sent["text"] == "Hola Lucía, lo revisamos ahora mismo."
    assert sent["reply_parameters"]["message_id"] == 70
    assert delivery.provider_id == f"7001:{server.next_message_id}"
    reconcile(runtime)
    assert server.send_calls == 3  # sent once: nothing left to send

    # The customer answers our message (reply_to_message is our message): same conversation.
    server.push(text_update("Gracias", message_id=71, reply_to=server.next_message_id))
    _poll(runtime, account_id)
    answer = _messages(runtime)[-1]
    with runtime.db.sessions() as session:
        ours = session.scalar(select(Message.external_id).where(Message.id == delivery.message_id))
    assert answer.in_reply_to == ours and answer.conversation_id == inbound.conversation_id


@pytest.mark.parametrize(
    ("status", "description"),
    [(403, "Forbidden: bot was blocked by the user"), (400, "Bad Request: chat not found")],
)
def test_a_refused_reply_fails_without_retrying(api, runtime, bot, status, description):
    url, server = bot
    account_id = _account(api, url)
    inbound = _conversation_with_message(api, runtime, server, account_id)
    server.fail_next_send(status, description)
    api.post(f"/api/v1/conversations/{inbound.conversation_id}/replies", json={"text": "Respuesta"})
    delivery = _delivery(runtime)
    assert delivery.status == "failed" and delivery.attempts == 1
    assert str(status) in (delivery.last_error or "") and description in (delivery.last_error or "")
    assert server.sent == [] and server.send_calls == 1
    with runtime.db.sessions() as session:
        assert (
            session.scalar(select(func.count()).select_from(Event).where(Event.type == "reply.failed")) == 1
        )
