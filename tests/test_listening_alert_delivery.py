"""Crisis alerts beyond the workspace: the snapshot that crosses the line enqueues, in its own
transaction, an email to the team's lead, whoever is on duty and the on-call address (sent through the
email account's SMTP after commit, to a real local SMTP server) and a signed webhook (to a real local
HTTP server that checks the HMAC). Retries never send twice; escalation goes out the same way."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from cuida.contactability.models import WebhookDelivery
from cuida.events.models import Event
from cuida.listening import delivery
from cuida.listening.delivery_models import AlertDelivery
from cuida.listening.models import ListeningAlert, MentionSnapshot
from cuida.settings import Settings
from tests.conftest import fresh_settings
from tests.mail_servers import SmtpInbox, free_port, parse, run_smtp
from tests.test_listening_mentions import ANGRY, START, alerts, at, mention_of, post, shop, snapshot

__all__ = ["shop"]  # the fixture, shared with the mentions tests

SECRET = "un-secreto-compartido-de-prueba"
ON_CALL = "guardia@tienda.es"


@pytest.fixture
def settings(migrated_template: dict[str, Any], tmp_path: Path) -> Settings:
    return fresh_settings(migrated_template, tmp_path / "data", listening_alert_on_duty=f" {ON_CALL}, nada")


class Receiver:
    """An integration's webhook endpoint: records every POST and whether its signature is right."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                receiver.requests.append(
                    {
                        "event": self.headers.get("X-Cuida-Event"),
                        "delivery": self.headers.get("X-Cuida-Delivery"),
                        "valid": hmac.compare_digest(self.headers.get("X-Cuida-Signature", ""), expected),
                        "body": json.loads(body),
                    }
                )
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/cuida"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(api: Any) -> Iterator[Receiver]:
    r = Receiver()
    response = api.post(
        "/api/v1/webhooks",
        json={
            "url": r.url,
            "secret": SECRET,
            "events": ["listening.alert_raised", "listening.alert_escalated"],
        },
    )
    assert response.status_code == 201, response.text
    yield r
    r.close()


@pytest.fixture
def smtp() -> Iterator[tuple[int, SmtpInbox]]:
    with run_smtp() as server:
        yield server


def email_account(api: Any, port: int) -> int:
    response = api.post(
        "/api/v1/channels/accounts",
        json={
            "kind": "email",
            "name": "Avisos",
            "config": {
                "address": "avisos@tienda.example",
                "display_name": "Tienda",
                "smtp_host": "127.0.0.1",
                "smtp_port": port,
                "smtp_security": "none",
            },
        },
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def deliveries(runtime: Any) -> list[AlertDelivery]:
    with runtime.db.sessions() as session:
        return list(session.scalars(select(AlertDelivery).order_by(AlertDelivery.id)))


def webhook_rows(runtime: Any) -> list[WebhookDelivery]:
    with runtime.db.sessions() as session:
        return list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def events(runtime: Any, type_: str) -> list[Event]:
    with runtime.db.sessions() as session:
        return list(session.scalars(select(Event).where(Event.type == type_).order_by(Event.id)))


def test_the_crossing_snapshot_enqueues_email_and_webhook_in_its_transaction_and_they_go_out_at_once(
    api, shop, runtime, smtp, receiver
):
    port, inbox = smtp
    email_account(api, port)
    tweet = post(
        api,
        "t-1",
        "Mi experiencia con @TiendaX, en el blog: https://blog.example/vaqueros",
        "@adominguez",
        2100,
    )
    mention_id = mention_of(api, tweet["message_id"])["id"]
    assert deliveries(runtime) == []

    crossed_at = START + timedelta(hours=2)
    started = time.monotonic()
    response = snapshot(api, mention_id, crossed_at, reshares=150)
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text
    [alert] = alerts(runtime)
    [row] = deliveries(runtime)
    [hook] = webhook_rows(runtime)
    with runtime.db.sessions() as session:
        reading = session.scalars(
            select(MentionSnapshot).where(MentionSnapshot.mention_id == mention_id)
        ).one()
    # The reading, the alert, the email's outbox row and the webhook delivery share one instant of
    # the domain clock: they were written by one transaction, 0 s after the snapshot (limit: 5 s).
    assert reading.created_at == alert.raised_at == row.created_at == hook.created_at == crossed_at
    assert (row.created_at - reading.created_at).total_seconds() <= 5
    # ... and they are out when the POST answers: both servers already have them.
    assert elapsed < 5, f"the snapshot POST took {elapsed:.2f}s"
    assert row.status == "sent" and row.attempts == 1 and row.sent_at == crossed_at
    assert hook.status == "sent" and hook.event == "listening.alert_raised"
    assert row.level == 2 and row.step == "raised" and row.webhooks == 1
    assert row.recipients == ["ana@tienda.es", "luis@tienda.es", ON_CALL]  # on duty, lead, on call
    queued = events(runtime, "crisis.delivery_queued")
    assert [e.payload["delivery_id"] for e in queued] == [row.id] and queued[0].occurred_at == crossed_at

    [raw] = inbox.received
    email = parse(raw)
    assert sorted(a.strip() for a in str(email["To"]).split(",")) == sorted(row.recipients)
    assert email["Message-ID"] == f"<cuida.alert.{alert.id}.2.raised@tienda.example>"
    assert "crisis" in email["Subject"] and "avisos@tienda.example" in email["From"]
    body = email.get_content()
    forecast = alert.details["forecast"]
    assert f"{forecast['final']:,.0f}" in body and f"{forecast['high']:,.0f}" in body
    assert "Antonio Domínguez" in body and f"#{shop['case']}" in body
    assert "https://blog.example/vaqueros" in body and "@adominguez" in body

    [request] = receiver.requests
    assert request["valid"] and request["event"] == "listening.alert_raised"
    sent = request["body"]
    assert (
        sent["event"] == "listening.alert_raised"
        and sent["alert_id"] == alert.id
        and sent["level"] == "crisis"
    )
    assert sent["mention"]["id"] == mention_id and sent["mention"]["counts"] == {"reshares": 150}
    assert {k: sent["forecast"][k] for k in ("final", "low", "high")} == {
        k: forecast[k] for k in ("final", "low", "high")
    }
    assert sent["forecast"]["low"] <= sent["forecast"]["final"] <= sent["forecast"]["high"]
    assert sent["customer"] == {"id": shop["customer"], "name": "Antonio Domínguez"}
    assert sent["case"]["id"] == shop["case"] and sent["case"]["unanswered"] is True

    # The same level again (more reshares): the alert is refreshed, nothing is sent again.
    assert snapshot(api, mention_id, crossed_at + timedelta(minutes=5), reshares=180).status_code == 200
    assert len(deliveries(runtime)) == 1 and len(inbox.received) == 1 and len(receiver.requests) == 1
    # A job or a timer that comes again finds the row sent; enqueueing again finds the row.
    assert delivery.deliver(runtime, row.id) is False
    with runtime.db.session() as session:
        again = delivery.enqueue_alert(
            session=session,
            alert=session.get(ListeningAlert, alert.id),
            step="raised",
            agent_ids=[shop["luis"]],
            at=crossed_at,
        )
        assert again.id == row.id
    assert len(inbox.received) == 1 and len(receiver.requests) == 1 and len(webhook_rows(runtime)) == 1


def test_a_higher_level_and_the_escalation_each_go_out_once(api, shop, runtime, smtp, receiver):
    port, inbox = smtp
    email_account(api, port)
    tweet = post(api, "t-1", ANGRY, "@adominguez", 250_000)  # risk alone: a "watch" alert
    mention_id = mention_of(api, tweet["message_id"])["id"]
    [watch] = deliveries(runtime)
    assert watch.level == 1 and watch.status == "sent"
    assert snapshot(api, mention_id, START + timedelta(minutes=10), reshares=150).status_code == 200
    levels = [(d.level, d.step, d.status) for d in deliveries(runtime)]
    assert levels == [(1, "raised", "sent"), (2, "raised", "sent")]
    assert len(inbox.received) == 2
    assert [r["body"]["level"] for r in receiver.requests] == ["watch", "crisis"]

    # Nobody acknowledged it: escalated to the managers 15 minutes after the last raise.
    at(api, START + timedelta(minutes=10 + 16))
    rows = deliveries(runtime)
    assert [(d.level, d.step) for d in rows] == [(1, "raised"), (2, "raised"), (2, "escalated")]
    escalated = rows[-1]
    # The managers (and the admin, who manages too) and the on-call address; not the team again.
    assert escalated.status == "sent"
    assert escalated.recipients == ["admin@example.com", "marta@tienda.es", ON_CALL]
    assert escalated.created_at == START + timedelta(minutes=10 + 15)  # the escalation timer's instant
    email = parse(inbox.received[-1])
    assert "Escalada" in email["Subject"] and "marta@tienda.es" in str(email["To"])
    assert [r["event"] for r in receiver.requests][-1] == "listening.alert_escalated"
    assert all(r["valid"] for r in receiver.requests)
    at(api, START + timedelta(hours=5))
    assert len(inbox.received) == 3 and len(receiver.requests) == 3


def test_a_busy_smtp_server_is_retried_by_the_timer_and_the_email_sent_once(api, shop, runtime, smtp):
    port, inbox = smtp
    email_account(api, port)
    inbox.fail_next = 1  # 451 at the first try
    tweet = post(api, "t-1", "Mi experiencia con @TiendaX, en el blog.", "@adominguez", 2100)
    mention_id = mention_of(api, tweet["message_id"])["id"]
    assert snapshot(api, mention_id, START + timedelta(minutes=20), reshares=150).status_code == 200
    [row] = deliveries(runtime)
    assert row.status == "pending" and row.attempts == 1 and "451" in (row.last_error or "")
    assert inbox.received == [] and inbox.refused == 1
    at(api, START + timedelta(minutes=20, seconds=31))  # the retry is due 30 s later
    [row] = deliveries(runtime)
    assert row.status == "sent" and row.attempts == 2 and len(inbox.received) == 1
    at(api, START + timedelta(minutes=34))  # before the escalation (15 min after the raise)
    assert len(inbox.received) == 1
    assert [e.payload["delivery_id"] for e in events(runtime, "crisis.delivered")] == [row.id]


def test_an_unreachable_server_never_fails_the_snapshot_and_a_refusal_is_final(api, shop, runtime, smtp):
    port, inbox = smtp
    account_id = email_account(api, free_port())  # nothing listens there
    tweet = post(api, "t-1", "Mi experiencia con @TiendaX, en el blog.", "@adominguez", 2100)
    mention_id = mention_of(api, tweet["message_id"])["id"]
    assert snapshot(api, mention_id, START + timedelta(minutes=20), reshares=150).status_code == 200
    [row] = deliveries(runtime)
    assert row.status == "pending" and row.last_error  # the alert stands; the email waits
    # The account is fixed, but the server refuses every address: failed for good, said so.
    inbox.unknown_users = {*row.recipients}
    config = {"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_security": "none"}
    assert api.patch(f"/api/v1/channels/accounts/{account_id}", json={"config": config}).status_code == 200
    at(api, START + timedelta(minutes=21))
    [row] = deliveries(runtime)
    assert row.status == "failed" and "refused" in (row.last_error or "") and inbox.received == []
    [failed] = events(runtime, "crisis.delivery_failed")
    assert failed.payload["delivery_id"] == row.id
    at(api, START + timedelta(hours=3))
    assert deliveries(runtime)[0].attempts == row.attempts  # not tried again


def test_without_an_email_account_the_webhook_still_goes_and_the_email_is_skipped(
    api, shop, runtime, receiver
):
    tweet = post(api, "t-1", "Mi experiencia con @TiendaX, en el blog.", "@adominguez", 2100)
    mention_id = mention_of(api, tweet["message_id"])["id"]
    assert snapshot(api, mention_id, START + timedelta(minutes=20), reshares=150).status_code == 200
    [row] = deliveries(runtime)
    assert row.status == "skipped" and "no enabled email account" in (row.last_error or "")
    [request] = receiver.requests
    assert request["valid"] and request["body"]["case"]["id"] == shop["case"]
