"""The conversation screen in a real browser, on the demo: the "traslado de línea" story on one
timeline, a canned reply filled in, the tone guard stopping a rude draft, a triage correction, the
r/e shortcuts, escaping, and the screenshot for the README."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from cuida.conversations.models import Conversation, Message
from cuida.customers.models import Customer
from cuida.demo.loader import DEMO_PASSWORD, LEAD_EMAIL
from cuida.triage.models import TriageCorrection
from tests.browser.conftest import ADMIN_EMAIL
from tests.conftest import ADMIN_PASSWORD


def _daniels_tweet(server: Any) -> Conversation:
    with server.runtime.db.sessions() as session:
        daniel = session.scalars(select(Customer).where(Customer.name == "Daniel Ortega")).one()
        conversation = session.scalars(
            select(Conversation).where(
                Conversation.customer_id == daniel.id, Conversation.channel == "twitter"
            )
        ).one()
        session.expunge(conversation)
        return conversation


def test_traslado_story_on_one_timeline_canned_tone_guard_and_correction(
    demo_server: Any, page: Any, login: Any, screenshots: Any
) -> None:
    conversation = _daniels_tweet(demo_server)
    canned = demo_server.api.post(
        "/api/v1/canned-replies",
        json={
            "name": "Traslado en curso",
            "language": "es",
            "body": "Hola {{customer.first_name | cliente}}, soy {{agent.first_name | el equipo}}: "
            "ya hemos priorizado tu traslado.",
        },
    )
    assert canned.status_code == 201, canned.text
    login(page, LEAD_EMAIL, DEMO_PASSWORD)
    page.goto(f"{demo_server.url}/conversations/{conversation.id}")
    thread = page.locator("#messages")
    assert thread.locator("article.msg.in.is-public").count() >= 1  # the tweet
    assert thread.locator("article.msg.out").count() >= 1  # the public reply
    # One timeline: the tweet, the public reply, both phone calls and the open commitment.
    timeline = page.locator("#panel-timeline")
    assert timeline.locator('[data-channel="twitter"][data-direction="in"]').count() >= 1
    assert timeline.locator('[data-channel="twitter"][data-direction="out"]').count() >= 1
    assert timeline.locator('[data-channel="phone"][data-direction="in"]').count() >= 2
    assert timeline.locator('[data-kind="commitment"]').count() >= 1
    assert page.locator("#panel-commitments .commitment").count() >= 1
    page.screenshot(path=str(screenshots / "conversation.png"))

    # r focuses the reply box; a canned reply comes in with its variables filled.
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.keyboard.press("r")
    assert page.evaluate("document.activeElement.id") == "reply-text"
    page.select_option("[data-canned]", str(canned.json()["id"]))
    page.wait_for_function("document.getElementById('reply-text').value.includes('Daniel')")
    text = page.input_value("#reply-text")
    assert text.startswith("Hola Daniel, soy ") and "{{" not in text

    # A rude draft: the live guard shows the span, and sending is refused with no way to force it.
    page.fill("#reply-text", "")
    page.type("#reply-text", "Eso es culpa suya por no leer el contrato, pesado.")
    page.wait_for_selector("#tone-live mark")
    page.click("[data-send]")
    page.wait_for_selector("[data-tone-refusal].blocked mark:has-text('pesado')")
    assert page.locator("[data-send-anyway]").count() == 0
    with demo_server.runtime.db.sessions() as session:
        sent = session.scalars(
            select(Message).where(Message.text.like("%culpa suya%"), Message.direction == "out")
        ).all()
        assert sent == []

    # Correct a triage label of the tweet: stored for training.
    tweet = thread.locator("article.msg.in.is-public").first
    tweet.locator("select[data-choice='sentiment']").select_option("neutral")
    page.wait_for_function(
        "document.querySelector('#messages select[data-choice=\"sentiment\"]').closest('label')"
        ".classList.contains('corrected')"
    )
    with demo_server.runtime.db.sessions() as session:
        corrections = session.scalars(
            select(TriageCorrection).where(TriageCorrection.field == "sentiment")
        ).all()
        assert [c.value for c in corrections] == ["neutral"]


def test_scripts_in_messages_run_nothing_and_replies_arrive_live(
    live_server: Any, page: Any, login: Any
) -> None:
    accepted = live_server.message(
        external_id="xss-1",
        author="malo@example.com",
        text='<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2"> hola',
        html='<p>hola</p><script>window.pwned = 3</script><img src="x" onerror="window.pwned = 4">',
    )
    login(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    page.goto(f"{live_server.url}/conversations/{accepted['conversation_id']}")
    page.wait_for_selector("#live-status.on")
    assert page.evaluate("window.pwned === undefined")
    assert "window.pwned = 1" in page.locator("#panel-timeline").inner_text()  # shown as text
    # A note through the composer, and a customer message arriving live, without a reload.
    page.evaluate("window.notReloaded = true")
    page.check("input[name=kind][value=note]")
    page.fill("#reply-text", "Revisar con facturación")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("article.msg.note:has-text('Revisar con facturación')")
    live_server.message(external_id="xss-2", author="malo@example.com", text="¿Alguna novedad?")
    page.wait_for_selector("article.msg.in:has-text('¿Alguna novedad?')")
    assert page.evaluate("window.notReloaded === true")
    # e resolves.
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.keyboard.press("e")
    page.wait_for_selector("[data-status='resolved']")
