"""Automation rules: a legal threat made urgent and routed to claims, conditions on customer value,
order and stop, loop prevention, canned replies with variables, a signed webhook to a real local
server with a retry, the dry run, clear 422s and permissions."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import func, select

from cuida.auth.schemas import AgentCreate
from cuida.auth.service import create_agent, create_token
from cuida.automation.models import AutomationRun
from cuida.contactability.models import WebhookDelivery
from cuida.conversations.models import Message
from cuida.events.models import Event
from cuida.events.service import publish
from cuida.jobs.reconciler import reconcile
from cuida.runtime import Runtime

DAY1 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
LEGAL = "Si no me devolvéis el dinero os pongo una demanda, ya he hablado con mi abogado."
CALM = "Hola, una pregunta sobre la tarifa"
SECRET = "automation-webhook-secret-123"
LEGAL_RULE: dict[str, Any] = {
    "name": "Amenaza legal a reclamaciones",
    "conditions": {
        "any": [
            {"field": "triage.intents", "op": "contains", "value": "legal_threat"},
            {"field": "message.text", "op": "contains_word", "value": ["abogado", "demanda judicial"]},
        ]
    },
    "actions": [
        {"type": "set_priority", "priority": "urgent"},
        {"type": "route", "team": "claims"},
        {"type": "add_tag", "tag": "legal", "target": "both"},
    ],
}


def set_clock(api: Any, at: datetime) -> None:
    assert api.put("/api/v1/admin/clock", json={"now": at.isoformat()}).status_code == 200


def rule(api: Any, **body: Any) -> dict[str, Any]:
    response = api.post("/api/v1/automation/rules", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def claims_team(api: Any, runtime: Runtime, names: tuple[str, ...] = ("ana", "beto")) -> list[int]:
    assert (
        api.post("/api/v1/teams", json={"slug": "claims", "name": "Claims", "kind": "claims"}).status_code
        == 201
    )
    ids = []
    with runtime.db.session() as session:
        for name in names:
            agent = create_agent(
                session=session,
                data=AgentCreate(
                    email=f"{name}@example.com",
                    name=name.title(),
                    password="a long password",
                    team_slugs=["claims"],
                ),
            )
            ids.append(agent.id)
    return ids


def conversation(api: Any, conversation_id: int) -> dict[str, Any]:
    return dict(api.get(f"/api/v1/conversations/{conversation_id}").json())


def runs(runtime: Runtime, rule_id: int) -> list[AutomationRun]:
    with runtime.db.sessions() as session:
        return list(session.scalars(select(AutomationRun).where(AutomationRun.rule_id == rule_id)))


def test_a_legal_threat_is_made_urgent_routed_to_claims_and_audited(api: Any, runtime: Runtime) -> None:
    set_clock(api, DAY1)
    ana, _beto = claims_team(api, runtime)
    legal = rule(api, **LEGAL_RULE)

    sent = api.message(author="marta@x.es", external_id="l1", text=LEGAL)
    got = conversation(api, sent["conversation_id"])
    assert (got["priority"], got["assignee_id"], got["tags"]) == ("urgent", ana, ["legal"])
    customer = api.get(f"/api/v1/customers/{sent['customer_id']}").json()
    assert "legal" in customer["tags"]

    with runtime.db.sessions() as session:
        [applied] = session.scalars(select(Event).where(Event.type == "automation.rule_applied")).all()
        assert (applied.actor_type, applied.actor_id, applied.actor_name) == (
            "automation",
            legal["id"],
            legal["name"],
        )
        assert applied.message_id == sent["message_id"]
        assert [a["type"] for a in applied.payload["actions"]] == ["set_priority", "route", "add_tag"]
        assert [a["result"] for a in applied.payload["actions"]] == ["done", "done", "done"]
        assert applied.payload["matched"][0]["field"] == "triage.intents"
        # The changes themselves are the usual events, by the rule.
        assigned = session.scalars(select(Event).where(Event.type == "conversation.assigned")).one()
        assert (assigned.actor_type, assigned.payload["to"]) == ("automation", ana)
    [run] = runs(runtime, legal["id"])
    assert (run.trigger, run.dedupe_key) == ("message.triaged", f"message:{sent['message_id']}")
    listed = api.get(f"/api/v1/automation/rules/{legal['id']}/runs").json()
    assert [r["id"] for r in listed] == [run.id]

    # The customer writes again: the rule runs for the new message, and nothing moves.
    api.message(author="marta@x.es", external_id="l2", text="Mi abogado espera vuestra respuesta.")
    assert len(runs(runtime, legal["id"])) == 2
    again = conversation(api, sent["conversation_id"])
    assert (again["priority"], again["assignee_id"]) == ("urgent", ana)

    # A calm message from someone else is left alone.
    calm = api.message(author="luis@x.es", external_id="c1", text=CALM)
    assert (conversation(api, calm["conversation_id"])["priority"], len(runs(runtime, legal["id"]))) == (
        "normal",
        2,
    )


def test_conditions_on_customer_value(api: Any, runtime: Runtime) -> None:
    for name, value, email in (("Rica", "5000", "rica@x.es"), ("Nueva", "40", "nueva@x.es")):
        created = api.post(
            "/api/v1/customers",
            json={
                "name": name,
                "lifetime_value": value,
                "identities": [{"channel": "email", "value": email}],
            },
        )
        assert created.status_code == 201, created.text
    rule(
        api,
        name="Clientes de valor",
        conditions={
            "all": [
                {"field": "customer.lifetime_value", "op": "gte", "value": 1000},
                {"field": "triage.sentiment", "op": "eq", "value": "negative"},
            ]
        },
        actions=[{"type": "set_priority", "priority": "high"}, {"type": "add_tag", "tag": "vip"}],
    )
    text = "Mi pedido PED-2024-88123 no ha llegado"
    rich = api.message(author="rica@x.es", external_id="r1", text=text)
    new = api.message(author="nueva@x.es", external_id="n1", text=text)
    assert (
        conversation(api, rich["conversation_id"])["priority"],
        conversation(api, rich["conversation_id"])["tags"],
    ) == (
        "high",
        ["vip"],
    )
    assert conversation(api, new["conversation_id"])["priority"] == "normal"


def test_rules_run_in_order_see_earlier_changes_and_can_stop_the_rest(api: Any, runtime: Runtime) -> None:
    rule(api, name="late", position=30, actions=[{"type": "add_tag", "tag": "late"}])
    rule(
        api,
        name="sees high",
        position=20,
        conditions={"field": "conversation.priority", "op": "gte", "value": "high"},
        actions=[{"type": "add_tag", "tag": "saw-high"}],
        stop_processing=True,
    )
    rule(
        api,
        name="email is high",
        position=10,
        conditions={"field": "message.channel", "op": "eq", "value": "email"},
        actions=[{"type": "set_priority", "priority": "high"}],
    )
    email = api.message(author="a@x.es", external_id="e1", text=CALM)
    chat = api.message(channel="twitter", author="@visitor1", external_id="w1", text=CALM)
    assert conversation(api, email["conversation_id"])["tags"] == ["saw-high"]  # "late" was stopped
    assert conversation(api, chat["conversation_id"])["tags"] == ["late"]
    listed = [r["name"] for r in api.get("/api/v1/automation/rules").json()]
    assert listed == ["email is high", "sees high", "late"]


def test_rules_never_loop(api: Any, runtime: Runtime) -> None:
    # Two rules that undo each other on every change.
    up = rule(
        api,
        name="up",
        triggers=["conversation.updated"],
        conditions={"field": "conversation.priority", "op": "ne", "value": "urgent"},
        actions=[{"type": "set_priority", "priority": "urgent"}],
    )
    down = rule(
        api,
        name="down",
        triggers=["conversation.updated"],
        conditions={"field": "conversation.priority", "op": "eq", "value": "urgent"},
        actions=[{"type": "set_priority", "priority": "low"}],
    )
    sent = api.message(author="a@x.es", external_id="x1", text=CALM)
    response = api.patch(f"/api/v1/conversations/{sent['conversation_id']}", json={"subject": "Tarifa"})
    assert response.status_code == 200, response.text
    # The agent's change triggers "up"; "down" reacts to "up" (one level deep); nothing reacts to
    # what "down" did.
    assert [len(runs(runtime, r["id"])) for r in (up, down)] == [1, 1]
    assert conversation(api, sent["conversation_id"])["priority"] == "low"
    for r in (up, down):
        assert api.patch(f"/api/v1/automation/rules/{r['id']}", json={"enabled": False}).status_code == 200

    # A rule whose own action is the event it listens to runs once per outside change.
    itself = rule(
        api,
        name="itself",
        triggers=["conversation.updated"],
        actions=[{"type": "add_tag", "tag": "touched"}, {"type": "set_priority", "priority": "high"}],
    )
    response = api.patch(f"/api/v1/conversations/{sent['conversation_id']}", json={"subject": "Otra"})
    assert response.status_code == 200, response.text
    [run] = runs(runtime, itself["id"])
    assert [a["result"] for a in run.actions] == ["done", "done"]
    got = conversation(api, sent["conversation_id"])
    assert (got["priority"], got["tags"]) == ("high", ["touched"])
    with runtime.db.sessions() as session:
        applied = session.scalars(
            select(Event.actor_name).where(Event.type == "automation.rule_applied").order_by(Event.id)
        ).all()
    assert sorted(applied) == ["down", "itself", "up"]

    # The same message triaged twice (a retried stage) fires a message rule once.
    once = rule(api, name="once", actions=[{"type": "add_tag", "tag": "seen"}])
    with runtime.db.session() as session:
        message = session.get(Message, sent["message_id"])
        assert message is not None
        for _ in range(2):
            publish(
                session=session,
                type="message.triaged",
                customer_id=message.customer_id,
                conversation_id=message.conversation_id,
                message_id=message.id,
            )
    assert len(runs(runtime, once["id"])) == 1


def test_canned_reply_variables_are_filled_and_sent_through_the_outbox(api: Any, runtime: Runtime) -> None:
    created = api.post(
        "/api/v1/customers",
        json={"name": "Lucía Pérez", "identities": [{"channel": "email", "value": "lucia@x.es"}]},
    )
    assert created.status_code == 201
    canned = api.post(
        "/api/v1/canned-replies",
        json={
            "name": "pedido retrasado",
            "body": "Hola {{customer.first_name}}, ya estamos mirando tu pedido {{entities.order_number}}. "
            "{{agent.first_name | El equipo de atención}}",
        },
    )
    assert canned.status_code == 201, canned.text
    sent = api.message(author="lucia@x.es", external_id="p1", text="Mi pedido PED-2024-88123 no ha llegado")
    rendered = api.post(
        f"/api/v1/canned-replies/{canned.json()['id']}/render",
        json={"conversation_id": sent["conversation_id"]},
    )
    assert rendered.status_code == 200, rendered.text
    expected = "Hola Lucía, ya estamos mirando tu pedido PED-2024-88123. El equipo de atención"
    assert rendered.json() == {
        "canned_id": canned.json()["id"],
        "language": "es",
        "text": expected,
        "missing": [],
    }

    rule(
        api,
        name="acuse de pedido",
        conditions={"field": "message.text", "op": "contains", "value": "pedido"},
        actions=[{"type": "send_canned_reply", "canned": "pedido retrasado"}],
    )
    second = api.message(
        author="lucia@x.es", external_id="p2", text="Sigo esperando el pedido PED-2024-99001"
    )
    replies = api.get(f"/api/v1/conversations/{second['conversation_id']}/replies").json()
    assert [r["message"]["text"] for r in replies] == [expected.replace("88123", "99001")]
    assert replies[0]["delivery"]["status"] == "sent"  # queued after commit, delivered by the adapter
    with runtime.db.sessions() as session:
        created_event = session.scalars(select(Event).where(Event.type == "reply.created")).one()
        assert created_event.actor_type == "automation"

    # Without a value and without a fallback, the gap is reported (and a rule would not send it).
    other = api.post(
        "/api/v1/canned-replies", json={"name": "sin nombre", "body": "Hola {{customer.company}}"}
    )
    blank = api.post(
        f"/api/v1/canned-replies/{other.json()['id']}/render",
        json={"conversation_id": sent["conversation_id"]},
    )
    assert blank.json()["missing"] == ["customer.company"]
    unknown = api.post("/api/v1/canned-replies", json={"name": "x", "body": "Hola {{customer.shoe_size}}"})
    assert unknown.status_code == 422
    assert "customer.shoe_size" in unknown.json()["error"]["message"]
    rude = api.post("/api/v1/canned-replies", json={"name": "y", "body": "Eso es culpa suya, no sabe leer."})
    assert rude.status_code == 422
    assert rude.json()["error"]["code"] == "tone_guard"


class Receiver:
    """A real local HTTP endpoint that checks signatures; answers 500 to the first `fail_next`."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.fail_next = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                failing = receiver.fail_next > 0
                receiver.fail_next -= 1 if failing else 0
                receiver.requests.append(
                    {
                        "delivery": self.headers.get("X-Cuida-Delivery"),
                        "event": self.headers.get("X-Cuida-Event"),
                        "valid": hmac.compare_digest(self.headers.get("X-Cuida-Signature", ""), expected),
                        "body": json.loads(body),
                        "answered": 500 if failing else 200,
                    }
                )
                self.send_response(500 if failing else 200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def of(self, event: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["event"] == event]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


def test_webhook_action_is_signed_and_retried(api: Any, runtime: Runtime, receiver: Receiver) -> None:
    set_clock(api, DAY1)
    subscription = api.post("/api/v1/webhooks", json={"url": receiver.url, "secret": SECRET})
    assert subscription.status_code == 201, subscription.text
    hook = rule(
        api,
        name="avisar al CRM",
        conditions={"field": "message.text", "op": "contains", "value": "tarifa"},
        actions=[{"type": "call_webhook", "subscription_id": subscription.json()["id"]}],
    )
    receiver.fail_next = 1
    sent = api.message(author="a@x.es", external_id="h1", text=CALM)
    assert [r["answered"] for r in receiver.of("automation.webhook")] == [500]
    with runtime.db.sessions() as session:
        [delivery] = session.scalars(select(WebhookDelivery)).all()
        retry_at = delivery.next_attempt_at
    set_clock(api, retry_at)
    reconcile(runtime)
    first, second = receiver.of("automation.webhook")
    assert second["answered"] == 200 and first["valid"] and second["valid"]
    assert first["delivery"] == second["delivery"] and first["body"] == second["body"]
    assert second["body"]["rule"] == {"id": hook["id"], "name": "avisar al CRM"}
    assert second["body"]["conversation"]["id"] == sent["conversation_id"]
    assert second["body"]["message"]["text"] == CALM
    with runtime.db.sessions() as session:
        assert session.get(WebhookDelivery, delivery.id).status == "sent"  # type: ignore[union-attr]


def test_apply_sla_policy_puts_the_clocks_on_the_named_policy(api: Any, runtime: Runtime) -> None:
    set_clock(api, DAY1)
    policy = api.post("/api/v1/sla/policies", json={"name": "Legal 30 min", "first_response_minutes": 30})
    assert policy.status_code == 201, policy.text
    rule(
        api,
        name="legal SLA",
        conditions={"field": "triage.intents", "op": "contains", "value": "legal_threat"},
        actions=[{"type": "apply_sla_policy", "policy": "Legal 30 min"}],
    )
    sent = api.message(author="m@x.es", external_id="s1", text=LEGAL)
    clocks = api.get(f"/api/v1/conversations/{sent['conversation_id']}/sla").json()["clocks"]
    first = next(c for c in clocks if c["kind"] == "first_response")
    assert first["policy_name"] == "Legal 30 min"
    assert datetime.fromisoformat(first["base_due_at"]) - datetime.fromisoformat(first["started_at"]) == (
        datetime(2026, 1, 1, 0, 30) - datetime(2026, 1, 1)
    )


def test_dry_run_shows_which_conditions_hold_and_changes_nothing(api: Any, runtime: Runtime) -> None:
    claims_team(api, runtime)
    sent = api.message(author="m@x.es", external_id="d1", text=LEGAL)
    draft = {
        **LEGAL_RULE,
        "conditions": {
            "all": [
                LEGAL_RULE["conditions"],
                {"field": "triage.sentiment", "op": "eq", "value": "negative"},
                {"field": "time.weekday", "op": "in", "value": ["sat", "sun"], "timezone": "Europe/Madrid"},
            ]
        },
    }
    before = conversation(api, sent["conversation_id"])
    response = api.post(
        "/api/v1/automation/rules/test", json={"message_id": sent["message_id"], "rule": draft}
    )
    assert response.status_code == 200, response.text
    result = response.json()
    holds = {(c["field"], c["holds"]) for c in result["conditions"]}
    assert ("triage.intents", True) in holds and ("triage.sentiment", True) in holds
    weekday = next(c for c in result["conditions"] if c["field"] == "time.weekday")
    assert result["matched"] is (weekday["actual"] in ("sat", "sun"))
    assert conversation(api, sent["conversation_id"]) == before
    with runtime.db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(AutomationRun)) == 0
        assert (
            session.scalar(select(func.count()).select_from(Event).where(Event.type.like("automation.%")))
            == 0
        )
    # A stored rule, by id.
    stored = rule(api, **LEGAL_RULE, enabled=False)
    by_id = api.post(
        "/api/v1/automation/rules/test", json={"message_id": sent["message_id"], "rule_id": stored["id"]}
    )
    assert by_id.json()["matched"] is True
    assert [a["type"] for a in by_id.json()["actions"]] == ["set_priority", "route", "add_tag"]


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        (
            {"conditions": {"field": "triage.mood", "op": "eq", "value": "x"}},
            "conditions.field",
            "unknown field",
        ),
        (
            {
                "conditions": {
                    "all": [
                        {"field": "message.channel", "op": "eq", "value": "email"},
                        {"field": "customer.lifetime_value", "op": "contains", "value": 5},
                    ]
                }
            },
            "conditions.all[1].op",
            "operator 'contains' does not apply to customer.lifetime_value",
        ),
        (
            {"conditions": {"field": "triage.sentiment", "op": "eq", "value": "angry"}},
            "conditions.value",
            "unknown value",
        ),
        ({"conditions": {"field": "time.hour", "op": "gte", "value": 25}}, "conditions.value", "0-23"),
        ({"conditions": {"any": {"field": "message.public"}}}, "conditions.any", "list"),
        ({"actions": [{"type": "explode"}]}, "actions[0].type", "unknown action"),
        ({"actions": [{"type": "set_priority"}]}, "actions[0].priority", "needs priority"),
        ({"actions": [{"type": "route", "team": "nowhere"}]}, "actions[0].team", "no team"),
        (
            {"actions": [{"type": "add_tag", "tag": "x", "colour": "red"}]},
            "actions[0].colour",
            "unknown parameter",
        ),
        ({"triggers": ["message.deleted"]}, "triggers[0]", "unknown trigger"),
    ],
)
def test_bad_rules_are_refused_with_the_place_and_the_reason(
    api: Any, body: dict[str, Any], field: str, words: str
) -> None:
    draft = {"name": "bad", "actions": [{"type": "set_priority", "priority": "high"}], **body}
    response = api.post("/api/v1/automation/rules", json=draft)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["fields"][0]["field"] == field
    assert words in error["message"]


def test_only_automation_managers_may_touch_rules(api: Any, runtime: Runtime) -> None:
    with runtime.db.session() as session:
        reader, _ = create_token(
            session=session, name="reader", scopes=["conversations:read", "conversations:write"]
        )
    headers = {"Authorization": f"Bearer {reader}"}
    body = {"name": "r", "actions": [{"type": "set_priority", "priority": "high"}]}
    assert api.client.post("/api/v1/automation/rules", json=body, headers=headers).status_code == 403
    assert api.client.get("/api/v1/automation/rules", headers=headers).status_code == 403
    assert (
        api.client.post(
            "/api/v1/canned-replies", json={"name": "n", "body": "Hola"}, headers=headers
        ).status_code
        == 403
    )
    assert api.client.get("/api/v1/canned-replies", headers=headers).status_code == 200  # agents use them
    created = rule(api, **body)
    assert api.client.delete(f"/api/v1/automation/rules/{created['id']}", headers=headers).status_code == 403
    assert (
        api.client.delete(f"/api/v1/automation/rules/{created['id']}", headers=api.headers).status_code == 204
    )
