"""The conversation screen, server side: thread and customer panel, escaping, who may open it, and
the actions it offers (reply with the tone guard, notes, triage corrections, assign/resolve)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cuida.auth.schemas import AgentCreate
from cuida.auth.service import create_agent, get_or_create_team
from cuida.clock.service import now
from cuida.conversations.models import Conversation, Message
from cuida.runtime import Runtime
from cuida.triage.models import TriageCorrection
from tests.conftest import Api

PASSWORD = "a long test password"


class Agent:
    """A browser-like client holding one agent's session cookie and CSRF token."""

    def __init__(self, client: TestClient, csrf: str, agent_id: int) -> None:
        self.client, self.csrf, self.id = client, csrf, agent_id

    def get(self, url: str) -> Any:
        return self.client.get(url, follow_redirects=False)

    def post(self, url: str, data: dict[str, str] | None = None, *, fragment: bool = False) -> Any:
        form = {"csrf_token": self.csrf, **(data or {})}
        headers = {"HX-Request": "true"} if fragment else {}
        return self.client.post(url, data=form, headers=headers, follow_redirects=False)


def log_in(client: TestClient, runtime: Runtime, email: str, role: str, teams: tuple[str, ...]) -> Agent:
    with runtime.db.session() as session:
        for slug in teams:
            get_or_create_team(session=session, slug=slug)
        agent = create_agent(
            session=session,
            data=AgentCreate(
                email=email,
                name=email.split("@")[0].title(),
                password=PASSWORD,
                role=role,  # type: ignore[arg-type]
                team_slugs=list(teams),
            ),
        )
        agent_id = agent.id
    browser = TestClient(client.app)
    answer = browser.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return Agent(browser, answer.json()["csrf_token"], agent_id)


def set_team(runtime: Runtime, conversation_id: int, slug: str | None) -> None:
    with runtime.db.session() as session:
        row = session.get(Conversation, conversation_id)
        assert row is not None
        row.team_id = get_or_create_team(session=session, slug=slug).id if slug else None


@pytest.fixture
def story(api: Api, runtime: Runtime, client: TestClient) -> dict[str, Any]:
    """Daniel: a call, a public complaint with a churn threat, a reply, a promise, an old resolved case."""
    old = api.message(
        channel="email",
        author="daniel@compraspro.es",
        external_id="old-1",
        text="Hola, ¿me enviáis la factura de marzo?",
    )
    api.patch(f"/api/v1/conversations/{old['conversation_id']}", json={"status": "resolved"})
    customer_id = old["customer_id"]
    api.post(
        f"/api/v1/customers/{customer_id}/identities",
        json={"channel": "twitter", "value": "@danielcompraspro"},
    )
    api.post(
        f"/api/v1/customers/{customer_id}/identities", json={"channel": "phone", "value": "+34612345678"}
    )
    call = api.message(
        channel="phone",
        author="+34 612 345 678",
        external_id="call-1",
        text="Llamada: pide trasladar la línea de fibra a la oficina nueva.",
    )
    api.message(
        channel="store",
        customer_id=customer_id,
        external_id="shop-1",
        direction="note",
        text="Visita en tienda: pregunta por el traslado.",
    )
    tweet = api.message(
        channel="twitter",
        author="@danielcompraspro",
        external_id="tw-1",
        public=True,
        author_followers=8400,
        text="@FibraNet llevo 3 días sin fibra en la oficina. Si no lo arregláis me doy de baja. "
        "<script>alert('x')</script> <img src=x onerror=alert(1)> pedido 12345",
    )
    conversation_id = tweet["conversation_id"]
    reply = api.post(
        f"/api/v1/conversations/{conversation_id}/replies",
        json={"text": "Hola Daniel, te escribimos por mensaje directo.", "public": True},
    )
    assert reply.status_code == 202, reply.text
    with runtime.db.session() as session:
        due = now(session=session) - timedelta(hours=1)
    promise = api.post(
        f"/api/v1/customers/{customer_id}/commitments",
        json={
            "text": "Enviar una solución por mensaje directo",
            "due_at": due.isoformat(),
            "kind": "contact",
            "conversation_id": conversation_id,
        },
    )
    assert promise.status_code == 201, promise.text
    set_team(runtime, conversation_id, "social-care")
    return {
        "customer_id": customer_id,
        "conversation_id": conversation_id,
        "tweet_id": tweet["message_id"],
        "call": call,
        "old_conversation_id": old["conversation_id"],
    }


@pytest.fixture
def sara(client: TestClient, runtime: Runtime) -> Agent:
    return log_in(client, runtime, "sara@example.com", "agent", ("social-care",))


def test_page_shows_thread_panel_sla_and_triage(story: dict[str, Any], sara: Agent) -> None:
    page = sara.get(f"/conversations/{story['conversation_id']}")
    assert page.status_code == 200, page.text
    html = page.text
    assert "llevo 3 días sin fibra" in html and "te escribimos por mensaje directo" in html
    # Triage labels with their reasons, and the entities found.
    assert 'data-label="intent:churn_threat"' in html and "me doy de baja" in html
    assert "12345" in html
    # Customer panel: identities, the overdue promise with its owner, past conversation, contactability.
    assert "@danielcompraspro" in html and "daniel@compraspro.es" in html and "+34612345678" in html
    commitment = re.search(r'<div class="commitment overdue"[^>]*>.*?</div>', html, re.S)
    assert commitment and "Enviar una solución por mensaje directo" in commitment.group(0)
    assert f'href="/conversations/{story["old_conversation_id"]}"' in html
    marketing = re.search(r'<div class="contact (yes|no)" data-purpose="marketing">', html)
    assert marketing and marketing.group(1) == "no"
    # The timeline holds every channel: the call (note on phone), the tweet, the reply, the promise.
    timeline = html[html.index('id="panel-timeline"') :]
    for kind, channel, direction in (
        ("message", "phone", "in"),
        ("message", "store", "note"),
        ("message", "twitter", "in"),
        ("message", "twitter", "out"),
        ("message", "email", "in"),
    ):
        assert f'data-kind="{kind}" data-channel="{channel}" data-direction="{direction}"' in timeline
    assert 'data-kind="commitment"' in timeline
    # SLA strip; and every string comes from the translation tables (no raw keys left).
    assert 'data-clock="first_response"' in html
    assert not re.search(r">\s*conversation\.[a-z_.]+\s*<", html), "untranslated key in the page"


def test_customer_text_is_escaped_everywhere(story: dict[str, Any], sara: Agent) -> None:
    html = sara.get(f"/conversations/{story['conversation_id']}").text
    assert "<script>alert" not in html and "<img src=x onerror" not in html
    assert "&lt;script&gt;alert" in html


def test_html_email_is_sanitised(api: Api, sara: Agent) -> None:
    sent = api.message(
        author="ana@example.com",
        external_id="html-1",
        html='<p>Hola <b>equipo</b></p><script>alert(1)</script><img src="x" onerror="alert(2)">'
        '<a href="javascript:alert(3)">pulsa</a>',
    )
    html = sara.get(f"/conversations/{sent['conversation_id']}").text
    body = html[html.index('class="body html"') :][:600]
    assert "<b>equipo</b>" in body  # the allowed markup is kept
    assert "<script>" not in body and "onerror" not in body and "javascript:" not in body


def test_other_teams_private_conversation_is_not_found(
    story: dict[str, Any], api: Api, runtime: Runtime, client: TestClient, sara: Agent
) -> None:
    carla = log_in(client, runtime, "carla@example.com", "agent", ("call-centre",))
    private = api.message(channel="email", author="eva@example.com", external_id="p-1", text="hola")
    set_team(runtime, private["conversation_id"], "social-care")
    url = f"/conversations/{private['conversation_id']}"
    assert sara.get(url).status_code == 200
    refused = carla.get(url)
    assert refused.status_code == 404 and "eva@example.com" not in refused.text
    assert 'data-error="not_found"' in refused.text
    # Its fragments and actions are refused too, and nothing changes.
    assert carla.get(f"{url}/messages").status_code == 404
    assert carla.post(f"{url}/reply", {"text": "hola", "kind": "note"}).status_code == 404
    assert carla.post(f"{url}/actions/resolve").status_code == 404
    with runtime.db.sessions() as session:
        assert session.get(Conversation, private["conversation_id"]).status == "open"  # type: ignore[union-attr]
    assert carla.get("/conversations/999999").status_code == 404
    # Not logged in: to the login page.
    assert TestClient(client.app).get(url, follow_redirects=False).status_code == 303


def test_triage_correction_is_stored_for_training(
    story: dict[str, Any], sara: Agent, runtime: Runtime
) -> None:
    base = f"/conversations/{story['conversation_id']}/messages/{story['tweet_id']}/triage"
    removed = sara.post(base, {"field": "intent:churn_threat", "value": "false"}, fragment=True)
    assert removed.status_code == 200, removed.text
    assert 'data-label="intent:churn_threat"' not in removed.text
    assert sara.post(base, {"field": "sentiment", "value": "neutral"}).status_code == 303
    with runtime.db.sessions() as session:
        rows = {r.field: r for r in session.scalars(select(TriageCorrection))}
        assert rows["intent:churn_threat"].value is False and rows["intent:churn_threat"].agent_id == sara.id
        assert rows["sentiment"].value == "neutral" and "sin fibra" in rows["sentiment"].text
    page = sara.get(f"/conversations/{story['conversation_id']}").text
    assert re.search(r'<option value="neutral" selected>', page)
    # Wrong values and a message of another conversation are refused; nothing is stored.
    assert sara.post(base, {"field": "sentiment", "value": "furious"}).status_code == 422
    other = f"/conversations/{story['old_conversation_id']}/messages/{story['tweet_id']}/triage"
    assert sara.post(other, {"field": "sentiment", "value": "positive"}).status_code == 404
    with runtime.db.sessions() as session:
        assert len(list(session.scalars(select(TriageCorrection)))) == 2


def test_csrf_is_required(story: dict[str, Any], sara: Agent, runtime: Runtime) -> None:
    url = f"/conversations/{story['conversation_id']}/reply"
    refused = sara.client.post(url, data={"text": "nota", "kind": "note"}, follow_redirects=False)
    assert refused.status_code == 403
    wrong = sara.client.post(url, data={"text": "nota", "kind": "note", "csrf_token": "nope"})
    assert wrong.status_code == 403
    header = sara.client.post(
        url,
        data={"text": "nota", "kind": "note"},
        headers={"X-CSRF-Token": sara.csrf},
        follow_redirects=False,
    )
    assert header.status_code == 303


def test_note_is_added(story: dict[str, Any], sara: Agent, runtime: Runtime) -> None:
    answer = sara.post(
        f"/conversations/{story['conversation_id']}/reply",
        {"text": "Llamar a <b>Daniel</b> antes de las 18h", "kind": "note"},
        fragment=True,
    )
    assert answer.status_code == 200
    assert "Llamar a &lt;b&gt;Daniel&lt;/b&gt; antes de las 18h" in answer.text
    with runtime.db.sessions() as session:
        note = session.scalars(
            select(Message).where(Message.direction == "note", Message.agent_id == sara.id)
        ).one()
        assert note.conversation_id == story["conversation_id"] and note.public is False


def test_reply_is_sent_on_the_chosen_channel(story: dict[str, Any], sara: Agent, runtime: Runtime) -> None:
    answer = sara.post(
        f"/conversations/{story['conversation_id']}/reply",
        {
            "text": "Hola Daniel, ya tienes la solución por mensaje directo.",
            "channel": "twitter",
            "public": "",
        },
    )
    assert answer.status_code == 303
    with runtime.db.sessions() as session:
        sent = session.scalars(
            select(Message).where(Message.direction == "out", Message.agent_id == sara.id)
        ).one()
        assert sent.channel == "twitter" and sent.public is False  # taken to DM
    html = sara.get(f"/conversations/{story['conversation_id']}").text
    assert "ya tienes la solución" in html and "conversation.delivery" not in html


def test_tone_guard_stops_a_rude_reply(story: dict[str, Any], sara: Agent, runtime: Runtime) -> None:
    url = f"/conversations/{story['conversation_id']}/reply"
    rude = "Eso es culpa suya por no leer el contrato, pesado."
    stopped = sara.post(url, {"text": rude}, fragment=True)
    assert stopped.status_code == 422
    assert "data-tone-refusal" in stopped.text and "<mark>pesado</mark>" in stopped.text
    assert "data-send-anyway" not in stopped.text  # a block cannot be overridden
    # Even "confirmed" it is refused: the server has no override for a block.
    assert sara.post(url, {"text": rude, "confirmed": "1"}).status_code == 422
    # Without JavaScript the whole page comes back, the draft kept and the flags shown.
    page = sara.post(url, {"text": rude})
    assert page.status_code == 422 and 'id="customer-panel"' in page.text and "culpa suya" in page.text
    with runtime.db.sessions() as session:
        assert not list(session.scalars(select(Message).where(Message.agent_id == sara.id)))


def test_tone_warning_needs_a_second_deliberate_action(
    story: dict[str, Any], sara: Agent, runtime: Runtime
) -> None:
    url = f"/conversations/{story['conversation_id']}/reply"
    draft = "Como ya le dije, el traslado tarda 15 días."
    first = sara.post(url, {"text": draft}, fragment=True)
    assert first.status_code == 409 and "data-send-anyway" in first.text
    with runtime.db.sessions() as session:
        assert not list(session.scalars(select(Message).where(Message.agent_id == sara.id)))
    second = sara.post(url, {"text": draft, "confirmed": "1"}, fragment=True)
    assert second.status_code == 200 and "el traslado tarda 15 días" in second.text


def test_actions_assign_resolve_snooze_reopen(story: dict[str, Any], sara: Agent, runtime: Runtime) -> None:
    base = f"/conversations/{story['conversation_id']}/actions"
    assert sara.post(f"{base}/assign_me").status_code == 303
    for action, status in (("snooze", "snoozed"), ("resolve", "resolved"), ("reopen", "open")):
        assert sara.post(f"{base}/{action}", fragment=True).json() == {"ok": True, "action": action}
        with runtime.db.sessions() as session:
            row = session.get(Conversation, story["conversation_id"])
            assert row is not None and row.status == status and row.assignee_id == sara.id
    assert sara.post(f"{base}/explode").status_code == 404


def test_page_in_english(story: dict[str, Any], client: TestClient, runtime: Runtime) -> None:
    with runtime.db.session() as session:
        get_or_create_team(session=session, slug="social-care")
        create_agent(
            session=session,
            data=AgentCreate(
                email="kim@example.com",
                name="Kim",
                password=PASSWORD,
                role="agent",
                language="en",
                team_slugs=["social-care"],
            ),
        )
    browser = TestClient(client.app)
    assert browser.post(
        "/api/v1/auth/login", json={"email": "kim@example.com", "password": PASSWORD}
    ).is_success
    html = browser.get(f"/conversations/{story['conversation_id']}").text
    assert "Customer timeline" in html and "Open commitments" in html and "OVERDUE" in html


def test_canned_reply_is_filled_from_customer_and_message(
    api: Api, story: dict[str, Any], sara: Agent
) -> None:
    named = api.patch(f"/api/v1/customers/{story['customer_id']}", json={"name": "Daniel Ortega"})
    assert named.status_code == 200, named.text
    created = api.post(
        "/api/v1/canned-replies",
        json={
            "name": "Seguimiento de pedido",
            "language": "es",
            "body": "Hola {{customer.first_name | cliente}}, revisamos tu pedido {{entities.order_number}} ya.",
        },
    )
    assert created.status_code == 201, created.text
    page = sara.get(f"/conversations/{story['conversation_id']}").text
    assert f'<option value="{created.json()["id"]}">Seguimiento de pedido (es)</option>' in page
    filled = sara.get(f"/conversations/{story['conversation_id']}/canned/{created.json()['id']}")
    assert filled.status_code == 200, filled.text
    assert filled.json()["text"] == "Hola Daniel, revisamos tu pedido 12345 ya."
    assert sara.get(f"/conversations/{story['conversation_id']}/canned/999999").status_code == 404


def test_past_conversation_shows_its_outcome(story: dict[str, Any], sara: Agent, runtime: Runtime) -> None:
    from cuida.ratings.models import Rating, RatingRequest

    old_id = story["old_conversation_id"]
    words = {"negative": "Negativo", "neutral": "Neutro", "positive": "Positivo"}
    with runtime.db.session() as session:
        old = session.scalars(select(Message).where(Message.conversation_id == old_id)).one()
        expected = words[old.triage["sentiment"]["label"]]  # type: ignore[index]
        at = now(session=session)
        request = session.scalars(
            select(RatingRequest).where(RatingRequest.conversation_id == old_id)
        ).first()
        if request is None:
            request = RatingRequest(
                conversation_id=old_id, channel="email", language="es", status="sent", resolved_at=at,
                due_at=at, created_at=at,
            )  # fmt: skip
            session.add(request)
            session.flush()
        session.add(
            Rating(
                request_id=request.id, conversation_id=old_id, score=2, via="web", answered_at=at,
                first_answered_at=at,
            )
        )  # fmt: skip
    html = sara.get(f"/conversations/{story['conversation_id']}").text
    panel = html[html.index('id="panel-conversations"') :]
    past = panel[panel.index(f'href="/conversations/{old_id}"') :][:600]
    assert 'data-rating="2"' in past and "valoración 2/5" in past and expected in past


def test_panel_leaves_out_other_teams_private_conversations(
    story: dict[str, Any], api: Api, runtime: Runtime, sara: Agent, client: TestClient
) -> None:
    billing = api.message(
        channel="email",
        author="daniel@compraspro.es",
        external_id="bill-1",
        text="Mi IBAN secreto es ES12 3456",
    )
    set_team(runtime, billing["conversation_id"], "billing")
    html = sara.get(f"/conversations/{story['conversation_id']}").text
    assert "IBAN secreto" not in html
    with runtime.db.sessions() as session:
        hidden = session.scalars(
            select(Message.id).where(Message.conversation_id == billing["conversation_id"])
        ).all()
    assert f'data-hidden-messages="{len(hidden)}"' in html
    assert f'href="/conversations/{billing["conversation_id"]}"' not in html  # listed as locked, no link
    lead = log_in(client, runtime, "lia@example.com", "manager", ())
    assert "IBAN secreto" in lead.get(f"/conversations/{story['conversation_id']}").text
