"""Contactability: the answer for every identity, opt-outs, the query log, signed webhooks pushed
to a real local HTTP server, and the flag on a sales call to a do-not-contact customer."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from cuida.commitments.models import Commitment
from cuida.contactability.models import ContactabilityQuery, WebhookDelivery
from cuida.contactability.service import COOLING_PERIOD, refresh
from cuida.events.models import Event
from cuida.jobs.reconciler import reconcile
from cuida.notifications.models import Notification
from cuida.runtime import Runtime

SECRET = "s3cret-for-the-campaign-tool"
DAY1 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Receiver:
    """A campaign tool's webhook endpoint: records every POST and checks its signature."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.requests: list[dict[str, Any]] = []
        self.fail_next = 0  # answer 500 to this many requests first
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                expected = "sha256=" + hmac.new(receiver.secret.encode(), body, hashlib.sha256).hexdigest()
                signature = self.headers.get("X-Cuida-Signature", "")
                failing = receiver.fail_next > 0
                receiver.fail_next -= 1 if failing else 0
                receiver.requests.append(
                    {
                        "delivery": self.headers.get("X-Cuida-Delivery"),
                        "event": self.headers.get("X-Cuida-Event"),
                        "valid": hmac.compare_digest(signature, expected),
                        "body": json.loads(body),
                        "answered": 500 if failing else 200,
                    }
                )
                self.send_response(500 if failing else 200)
                self.end_headers()
                self.wfile.write(b"no" if failing else b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/cuida"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def of(self, event: str, purpose: str = "marketing") -> list[dict[str, Any]]:
        return [
            r
            for r in self.requests
            if r["event"] == event and r["answered"] == 200 and r["body"].get("purpose") == purpose
        ]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(SECRET)
    yield r
    r.close()


def set_clock(api: Any, at: datetime) -> None:
    response = api.put("/api/v1/admin/clock", json={"now": at.isoformat()})
    assert response.status_code == 200, response.text


def subscribe(api: Any, receiver: Receiver) -> int:
    response = api.post("/api/v1/webhooks", json={"url": receiver.url, "secret": SECRET})
    assert response.status_code == 201, response.text
    assert response.json()["secret"] == SECRET
    return int(response.json()["id"])


def ask(api: Any, purpose: str = "marketing", **params: Any) -> Any:
    return api.get("/api/v1/contactability", params={"purpose": purpose, **params})


def create_daniel(api: Any) -> int:
    response = api.post(
        "/api/v1/customers",
        json={
            "name": "Daniel Ortega",
            "identities": [
                {"channel": "phone", "value": "+34 612 345 678"},
                {"channel": "twitter", "value": "@DanielOrtegaV"},
                {"channel": "email", "value": "daniel.ortega@example.com"},
            ],
        },
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


DANIEL_IDENTITIES = [
    "phone:+34 612 345 678",
    "phone:612345678",
    "phone:0034612345678",
    "whatsapp:612 34 56 78",
    "twitter:@danielortegav",
    "twitter:DanielOrtegaV",
    "email:Daniel.Ortega@Example.com",
]


def test_daniel_is_do_not_contact_on_every_identity_and_released_after_cooling(
    api: Any, runtime: Runtime, receiver: Receiver
) -> None:
    set_clock(api, DAY1)
    subscription_id = subscribe(api, receiver)
    daniel = create_daniel(api)

    # Day 1: the line transfer is three weeks late; he calls and threatens to leave.
    call = api.message(
        channel="phone",
        external_id="traslado-call-1",
        author="612345678",
        text="Llevo tres semanas esperando el traslado de línea y sigo sin internet. Es una vergüenza, "
        "si no lo arregláis esta semana me doy de baja y me voy a otra compañía.",
    )
    assert call["customer_id"] == daniel
    suppressed = receiver.of("contactability.suppressed")
    assert len(suppressed) == 1 and suppressed[0]["valid"]
    assert suppressed[0]["body"]["customer_id"] == daniel
    assert suppressed[0]["body"]["action"] == "suppress"
    assert {"channel": "phone", "value": "+34612345678"} in suppressed[0]["body"]["identities"]

    # ...and goes public on Twitter with a legal threat.
    tweet = api.message(
        channel="twitter",
        external_id="traslado-tweet-1",
        author="@DanielOrtegaV",
        public=True,
        text="@Operadora llevo 3 semanas sin línea tras el traslado, nadie me responde. Lo voy a contar "
        "en todas partes y os denuncio en consumo.",
    )
    assert tweet["customer_id"] == daniel
    assert len(receiver.of("contactability.suppressed")) == 1  # no flip, nothing pushed again

    # Day 2: marketing asks, by whichever identity it holds: the same answer every time.
    set_clock(api, DAY1 + timedelta(days=1))
    answers = []
    for identity in DANIEL_IDENTITIES:
        response = ask(api, identity=identity)
        assert response.status_code == 200, (identity, response.text)
        answers.append(response.json())
    by_id = ask(api, customer_id=daniel)
    assert by_id.status_code == 200
    answers.append(by_id.json())
    for answer in answers:
        assert answer["customer_id"] == daniel
        assert answer["contactable"] is False
        assert answer["purpose"] == "marketing"
        assert answer["until"] is None  # open complaints: until someone resolves them
        assert answer["reasons"] == answers[0]["reasons"]
    codes = {r["code"] for r in answers[0]["reasons"]}
    assert {"open_complaint", "churn_threat", "legal_threat", "negative_trend"} <= codes
    for reason in answers[0]["reasons"]:
        assert reason["detail"] and reason["since"]
    churn = next(r for r in answers[0]["reasons"] if r["code"] == "churn_threat")
    assert datetime.fromisoformat(churn["until"]) == DAY1 + timedelta(days=30)

    assert ask(api, "sales", identity="email:daniel.ortega@example.com").json()["contactable"] is False
    service = ask(api, "service", identity="twitter:@DanielOrtegaV").json()
    assert service["contactable"] is True and service["reasons"] == []

    # Every question is logged: who asked, about whom, and the answer.
    log = api.get("/api/v1/contactability/queries", params={"customer_id": daniel}).json()
    assert len(log) == len(DANIEL_IDENTITIES) + 3
    assert {row["principal_type"] for row in log} == {"token"}
    assert all(row["customer_id"] == daniel for row in log)
    marketing_rows = [row for row in log if row["purpose"] == "marketing"]
    assert all(row["contactable"] is False and "open_complaint" in row["reasons"] for row in marketing_rows)
    assert {row["identity"] for row in log} >= set(DANIEL_IDENTITIES)

    # Day 4: it is fixed, he says thanks, and both conversations are resolved.
    resolved_at = DAY1 + timedelta(days=3)
    set_clock(api, resolved_at)
    api.message(
        channel="phone",
        external_id="traslado-call-2",
        author="+34612345678",
        text="Gracias, ya funciona todo perfecto",
    )
    for conversation_id in {call["conversation_id"], tweet["conversation_id"]}:
        response = api.patch(f"/api/v1/conversations/{conversation_id}", json={"status": "resolved"})
        assert response.status_code == 200, response.text
    cooling = ask(api, identity="phone:612345678").json()
    assert cooling["contactable"] is False
    assert {r["code"] for r in cooling["reasons"]} >= {"recently_resolved_complaint"}
    assert "open_complaint" not in {r["code"] for r in cooling["reasons"]}
    assert datetime.fromisoformat(cooling["until"]) == resolved_at + COOLING_PERIOD
    assert receiver.of("contactability.released") == []

    # The cooling period ends: the timer fires and the release is pushed, signed.
    set_clock(api, resolved_at + COOLING_PERIOD + timedelta(minutes=1))
    reconcile(runtime)
    released = receiver.of("contactability.released")
    assert len(released) == 1
    assert released[0]["valid"]
    assert released[0]["body"]["customer_id"] == daniel
    assert released[0]["body"]["contactable"] is True
    assert released[0]["body"]["action"] == "release"
    assert released[0]["body"]["cause"] == "timer"
    answer = ask(api, identity="twitter:@danielortegav").json()
    assert answer == {**answer, "contactable": True, "reasons": [], "until": None}

    # Nothing is sent twice once acknowledged, however often the reconciler runs.
    reconcile(runtime)
    set_clock(api, resolved_at + COOLING_PERIOD + timedelta(days=1))
    reconcile(runtime)
    assert len(receiver.of("contactability.released")) == 1
    deliveries = api.get(f"/api/v1/webhooks/{subscription_id}/deliveries").json()
    assert deliveries and all(d["status"] == "sent" and d["attempts"] == 1 for d in deliveries)
    ids = [r["delivery"] for r in receiver.requests]
    assert len(ids) == len(set(ids)) == len(deliveries)


def test_opt_out_is_honoured_and_pushed(api: Any, receiver: Receiver) -> None:
    set_clock(api, DAY1)
    subscribe(api, receiver)
    daniel = create_daniel(api)
    assert ask(api, identity="phone:612345678").json()["contactable"] is True

    response = api.post(
        "/api/v1/contactability/opt-out",
        json={"identity": "email:daniel.ortega@example.com", "purpose": "marketing", "source": "web form"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["opted_out"] is True
    answer = ask(api, identity="phone:612345678").json()
    assert answer["contactable"] is False
    assert [r["code"] for r in answer["reasons"]] == ["opted_out"]
    assert "web form" in answer["reasons"][0]["detail"]
    assert answer["until"] is None  # indefinite: until they opt back in
    assert ask(api, "sales", customer_id=daniel).json()["contactable"] is True
    assert ask(api, "service", customer_id=daniel).json()["contactable"] is True
    assert len(receiver.of("contactability.suppressed")) == 1
    assert receiver.of("contactability.suppressed", "sales") == []

    # Out of everything: service too.
    api.post(
        "/api/v1/contactability/opt-out",
        json={"customer_id": daniel, "purpose": "all", "source": "phone call"},
    )
    assert ask(api, "service", customer_id=daniel).json()["contactable"] is False
    assert ask(api, "sales", customer_id=daniel).json()["contactable"] is False

    # Back in for marketing, but "all" still holds; then back in for everything.
    api.post(
        "/api/v1/contactability/opt-in", json={"customer_id": daniel, "purpose": "marketing", "source": "app"}
    )
    assert ask(api, customer_id=daniel).json()["contactable"] is False
    api.post("/api/v1/contactability/opt-in", json={"customer_id": daniel, "purpose": "all", "source": "app"})
    assert ask(api, customer_id=daniel).json()["contactable"] is True
    assert len(receiver.of("contactability.released")) == 1
    prefs = api.get("/api/v1/contactability/preferences", params={"customer_id": daniel}).json()
    assert {p["purpose"]: p["opted_out"] for p in prefs} == {"all": False, "marketing": False}

    bad = api.post(
        "/api/v1/contactability/opt-out", json={"customer_id": daniel, "purpose": "spam", "source": "x"}
    )
    assert bad.status_code == 422


def test_unknown_identity_bad_purpose_and_malformed_identity(api: Any, runtime: Runtime) -> None:
    unknown = ask(api, identity="phone:699000111")
    assert unknown.status_code == 404
    assert "+34699000111" in unknown.json()["error"]["message"]
    assert ask(api, customer_id=999999).status_code == 404

    create_daniel(api)
    for purpose in ("spam", "", "MARKETING"):
        response = ask(api, purpose, identity="phone:612345678")
        assert response.status_code == 422, purpose
        assert response.json()["error"]["code"] == "invalid"
    for identity in ("612345678", "phone:", ":612345678", "fax:612345678", "phone:abc", "email:not-an-email"):
        response = ask(api, identity=identity)
        assert response.status_code == 422, identity
        assert response.json()["error"]["fields"] or response.json()["error"]["message"]
    assert api.get("/api/v1/contactability", params={"purpose": "marketing"}).status_code == 422
    both = ask(api, identity="phone:612345678", customer_id=1)
    assert both.status_code == 422

    # The unanswered questions are in the log too, with who asked.
    with runtime.db.sessions() as session:
        unanswered = session.scalars(
            select(ContactabilityQuery).where(ContactabilityQuery.contactable.is_(None))
        ).all()
        assert [(q.identity, q.customer_id, q.principal_type) for q in unanswered] == [
            ("phone:699000111", None, "token"),
            (None, None, "token"),
        ]


def test_merged_customer_answers_for_the_survivor(api: Any) -> None:
    set_clock(api, DAY1)
    daniel = create_daniel(api)
    other = api.message(channel="instagram", external_id="ig-1", author="@dani_o", text="Hola, una duda")
    assert other["customer_id"] != daniel
    merged = api.post(f"/api/v1/customers/{daniel}/merge", json={"source_id": other["customer_id"]})
    assert merged.status_code == 200, merged.text
    assert ask(api, identity="instagram:@dani_o").json()["customer_id"] == daniel
    assert ask(api, customer_id=other["customer_id"]).json()["customer_id"] == daniel


def test_failed_webhook_is_retried_by_the_timer_with_the_same_delivery_id(
    api: Any, runtime: Runtime, receiver: Receiver
) -> None:
    set_clock(api, DAY1)
    subscribe(api, receiver)
    daniel = create_daniel(api)
    receiver.fail_next = 1
    api.post(
        "/api/v1/contactability/opt-out",
        json={"customer_id": daniel, "purpose": "marketing", "source": "web form"},
    )
    assert [r["answered"] for r in receiver.requests] == [500]
    with runtime.db.sessions() as session:
        [delivery] = session.scalars(select(WebhookDelivery)).all()
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
        retry_at = delivery.next_attempt_at
    reconcile(runtime)  # not due yet
    assert len(receiver.requests) == 1
    set_clock(api, retry_at)
    reconcile(runtime)
    assert [r["answered"] for r in receiver.requests] == [500, 200]
    assert receiver.requests[0]["delivery"] == receiver.requests[1]["delivery"]
    assert receiver.requests[0]["body"] == receiver.requests[1]["body"]
    set_clock(api, retry_at + timedelta(days=2))
    reconcile(runtime)
    assert len(receiver.requests) == 2
    with runtime.db.sessions() as session:
        [delivery] = session.scalars(select(WebhookDelivery)).all()
        assert (delivery.status, delivery.attempts) == ("sent", 2)


def test_vaqueros_sales_call_on_day_21_is_flagged_to_the_lead(api: Any, runtime: Runtime) -> None:
    set_clock(api, DAY1)
    assert (
        api.post("/api/v1/teams", json={"slug": "ventas", "name": "Ventas", "kind": "sales"}).status_code
        == 201
    )
    lead = api.post(
        "/api/v1/agents",
        json={
            "email": "jefa.ventas@tienda.example",
            "name": "Jefa de ventas",
            "password": "a long password",
            "role": "lead",
            "team_slugs": ["ventas"],
        },
    ).json()
    seller = api.post(
        "/api/v1/agents",
        json={
            "email": "vendedor@tienda.example",
            "name": "Vendedor",
            "password": "a long password",
            "role": "agent",
            "team_slugs": ["ventas"],
        },
    ).json()
    customer = api.post(
        "/api/v1/customers",
        json={
            "name": "Lucía",
            "identities": [
                {"channel": "email", "value": "lucia@example.com"},
                {"channel": "phone", "value": "655 123 456"},
            ],
        },
    ).json()
    # Day 1: the jeans arrived torn; nobody answers.
    api.message(
        channel="email",
        external_id="vaqueros-1",
        author="lucia@example.com",
        text="Los vaqueros que compré llegaron rotos y nadie me contesta, quiero una solución ya",
    )
    # Day 21: sales calls her to sell a loyalty card.
    set_clock(api, DAY1 + timedelta(days=20))
    response = api.post(
        "/api/v1/messages?wait=5",
        json={
            "channel": "phone",
            "external_id": "vaqueros-sales-call-21",
            "direction": "out",
            "recipient": "+34655123456",
            "text": "Llamada comercial: le ofrecemos la tarjeta de cliente con un 10% de descuento",
            "metadata": {"purpose": "sales", "agent_email": "vendedor@tienda.example"},
        },
    )
    assert response.status_code in (200, 202), response.text
    events = api.get("/api/v1/events", params={"type": "contactability.violation"}).json()["items"]
    assert len(events) == 1
    violation = events[0]
    assert violation["customer_id"] == customer["id"]
    assert violation["message_id"] == response.json()["message_id"]
    assert violation["payload"]["agent_id"] == seller["id"]
    assert "open_complaint" in {r["code"] for r in violation["payload"]["reasons"]}
    with runtime.db.sessions() as session:
        notes = session.scalars(
            select(Notification).where(Notification.kind == "contactability.violation")
        ).all()
        assert [n.agent_id for n in notes] == [lead["id"]]
        assert "Vendedor" in notes[0].text and "sales" in notes[0].text

    # A sales call to a customer with nothing against them is not flagged.
    api.post(
        "/api/v1/customers",
        json={"name": "Pablo", "identities": [{"channel": "phone", "value": "611222333"}]},
    )
    api.post(
        "/api/v1/messages?wait=5",
        json={
            "channel": "phone",
            "external_id": "sales-call-pablo",
            "direction": "out",
            "recipient": "611222333",
            "text": "Llamada comercial: le ofrecemos la tarjeta de cliente",
            "metadata": {"purpose": "sales"},
        },
    )
    with runtime.db.sessions() as session:
        flagged = session.scalars(select(Event).where(Event.type == "contactability.violation")).all()
        assert len(flagged) == 1


def test_a_promise_falling_due_suppresses_on_time(api: Any, runtime: Runtime, receiver: Receiver) -> None:
    set_clock(api, DAY1)
    subscribe(api, receiver)
    daniel = create_daniel(api)
    with runtime.db.session() as session:
        session.add(
            Commitment(
                customer_id=daniel,
                text="te escribimos por DM hoy",
                kind="contact",
                channel="twitter",
                status="open",
                due_at=DAY1 + timedelta(hours=8),
                created_at=DAY1,
            )
        )
        session.flush()
        refresh(session=session, customer_id=daniel, cause="test")  # as a commitment event would
    assert ask(api, customer_id=daniel).json()["contactable"] is True
    assert receiver.requests == []

    set_clock(api, DAY1 + timedelta(hours=9))
    reconcile(runtime)  # the recheck timer set at the promise's due time
    [suppressed] = receiver.of("contactability.suppressed")
    assert suppressed["valid"] and suppressed["body"]["cause"] == "timer"
    answer = ask(api, customer_id=daniel).json()
    assert [r["code"] for r in answer["reasons"]] == ["overdue_commitment"]
    assert "te escribimos por DM hoy" in answer["reasons"][0]["detail"]
    assert answer["until"] is None


def test_release_waits_while_the_last_word_was_negative(
    api: Any, runtime: Runtime, receiver: Receiver
) -> None:
    set_clock(api, DAY1)
    subscribe(api, receiver)
    create_daniel(api)
    complaint = api.message(
        channel="email",
        external_id="angry-1",
        author="daniel.ortega@example.com",
        text="Los vaqueros que compré llegaron rotos y nadie me contesta, quiero una solución ya",
    )
    set_clock(api, DAY1 + timedelta(days=1))
    api.patch(f"/api/v1/conversations/{complaint['conversation_id']}", json={"status": "resolved"})
    set_clock(api, DAY1 + timedelta(days=1) + COOLING_PERIOD + timedelta(hours=1))
    reconcile(runtime)
    held = ask(api, identity="email:daniel.ortega@example.com").json()
    assert held["contactable"] is False
    assert [r["code"] for r in held["reasons"]] == ["recently_resolved_complaint"]
    assert "negative" in held["reasons"][0]["detail"]
    assert datetime.fromisoformat(held["until"]) == DAY1 + timedelta(days=30)
    assert receiver.of("contactability.released") == []

    # A kind word afterwards releases them at once.
    api.message(
        channel="email",
        external_id="kind-1",
        author="daniel.ortega@example.com",
        text="Gracias, ya funciona todo perfecto",
    )
    assert ask(api, identity="phone:612345678").json()["contactable"] is True
    assert len(receiver.of("contactability.released")) == 1
