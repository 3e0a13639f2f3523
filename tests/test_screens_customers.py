"""Customer pages: search, profile, merge preview and merge, merge suggestions' empty state."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cuida.clock.service import now
from cuida.commitments.models import Commitment
from cuida.conversations.models import Conversation, Message
from cuida.customers.models import Customer, Identity
from cuida.runtime import Runtime
from tests.conftest import Api
from tests.screens_support import browser_for, make_agent, team_id


@pytest.fixture
def two_profiles(api: Api, runtime: Runtime, client: TestClient) -> dict[str, Any]:
    """The same person twice: by email (one conversation) and on Twitter (two messages, a promise)."""
    make_agent(runtime, "lia@example.com", "lead", ("care",))
    make_agent(runtime, "ana@example.com", "agent", ("care",))
    email = api.message(
        author={"value": "lucia@example.com", "name": "Lucía Pérez"},
        text="Mi pedido no llega",
        external_id="e-1",
    )
    tweet = api.message(
        channel="twitter",
        author="lucia_p",
        text="@marca mi pedido sigue sin llegar",
        external_id="t-1",
        public=True,
    )
    api.message(
        channel="twitter", author="lucia_p", text="¿Nadie me contesta?", external_id="t-2", public=True
    )
    patched = api.patch(f"/api/v1/customers/{tweet['customer_id']}", json={"tags": ["vip"], "tier": "gold"})
    assert patched.status_code == 200, patched.text
    with runtime.db.session() as session:
        due = now(session=session) + timedelta(days=1)
    promise = api.post(
        f"/api/v1/customers/{tweet['customer_id']}/commitments",
        json={"text": "Llamarla mañana", "due_at": due.isoformat(), "kind": "callback"},
    )
    assert promise.status_code == 201, promise.text
    return {
        "target": email["customer_id"],
        "source": tweet["customer_id"],
        "app": client.app,
        "email_conversation": email["conversation_id"],
        "tweet_conversation": tweet["conversation_id"],
    }


def test_search_finds_by_name_identity_and_message_words(two_profiles: dict[str, Any]) -> None:
    agent = browser_for(two_profiles["app"], "ana@example.com")
    by_name = agent.get("/customers", params={"q": "lucia perez"}).text
    assert f'data-customer="{two_profiles["target"]}"' in by_name
    by_handle = agent.get("/customers", params={"q": "lucia_p"}).text
    assert f'data-customer="{two_profiles["source"]}"' in by_handle
    by_words = agent.get("/customers", params={"q": "contesta"}).text
    assert f'data-customer="{two_profiles["source"]}"' in by_words and "¿Nadie me contesta?" in by_words
    nothing = agent.get("/customers", params={"q": "zzzqqq"}).text
    assert "Ningún cliente coincide con «zzzqqq»" in nothing
    recent = agent.get("/customers").text
    assert "Actualizados recientemente" in recent
    # No identity resolution yet (issue #5): the designed empty state, not a blank.
    assert 'id="merge-suggestions" data-count="0"' in recent and "No hay sugerencias de fusión" in recent


def test_profile_shows_identities_conversations_and_escapes(
    two_profiles: dict[str, Any], runtime: Runtime
) -> None:
    with runtime.db.session() as session:
        customer = session.get(Customer, two_profiles["target"])
        assert customer is not None
        customer.name = "<img src=x onerror=alert(1)>"
    agent = browser_for(two_profiles["app"], "ana@example.com")
    page = agent.get(f"/customers/{two_profiles['target']}")
    assert page.status_code == 200
    assert "<img src=x onerror" not in page.text and "&lt;img src=x onerror=alert(1)&gt;" in page.text
    assert "lucia@example.com" in page.text
    assert f'href="/conversations/{two_profiles["email_conversation"]}"' in page.text
    assert agent.get("/customers/999999").status_code == 404


def test_private_conversation_of_another_team_is_listed_without_link(
    two_profiles: dict[str, Any], runtime: Runtime
) -> None:
    other = team_id(runtime, "claims")
    with runtime.db.session() as session:
        row = session.get(Conversation, two_profiles["email_conversation"])
        assert row is not None
        row.team_id = other
    agent = browser_for(two_profiles["app"], "ana@example.com")
    page = agent.get(f"/customers/{two_profiles['target']}").text
    start = page.index('id="profile-conversations"')
    html = page[start : page.index("</section>", start)]
    assert f'data-conversation="{two_profiles["email_conversation"]}"' in html
    assert f'href="/conversations/{two_profiles["email_conversation"]}"' not in html
    assert "Privada de otro equipo" in html


def test_merge_preview_counts_what_moves_and_the_merge_moves_it(
    two_profiles: dict[str, Any], runtime: Runtime
) -> None:
    target, source = two_profiles["target"], two_profiles["source"]
    lead = browser_for(two_profiles["app"], "lia@example.com")
    profile = lead.get(f"/customers/{target}").text
    assert f'href="/customers/{target}/merge"' in profile
    candidates = lead.get(f"/customers/{target}/merge", params={"q": "lucia_p"}).text
    assert f'href="/customers/{target}/merge?source_id={source}"' in candidates
    preview = lead.get(f"/customers/{target}/merge", params={"source_id": source})
    assert preview.status_code == 200
    with runtime.db.sessions() as session:
        expected = {
            "identities": session.scalar(select(func.count()).where(Identity.customer_id == source)),
            "conversations": session.scalar(select(func.count()).where(Conversation.customer_id == source)),
            "messages": session.scalar(select(func.count()).where(Message.customer_id == source)),
            "commitments": session.scalar(select(func.count()).where(Commitment.customer_id == source)),
        }
    assert expected == {"identities": 1, "conversations": 1, "messages": 2, "commitments": 1}
    for what, count in expected.items():
        row = preview.text[preview.text.index(f'data-moves="{what}"') :].split("</tr>")[0]
        assert f'<td class="num">{count}</td>' in row, (what, row)
    assert 'data-moves="tags"' in preview.text and "vip" in preview.text
    # Nothing moved by looking.
    with runtime.db.sessions() as session:
        assert session.scalar(select(func.count()).where(Message.customer_id == source)) == 2

    merged = lead.post(f"/customers/{target}/merge", {"source_id": source})
    assert merged.status_code == 303 and merged.headers["location"] == f"/customers/{target}?merged={source}"
    with runtime.db.sessions() as session:
        gone = session.get(Customer, source)
        assert gone is not None and gone.merged_into_id == target
        assert session.scalar(select(func.count()).where(Message.customer_id == target)) == 3
        assert session.scalar(select(func.count()).where(Commitment.customer_id == target)) == 1
        assert session.scalar(select(func.count()).where(Identity.customer_id == target)) == 2
    after = lead.get(f"/customers/{target}?merged={source}").text
    assert f"Perfil #{source} fusionado en este" in after and "lucia_p" in after
    old_link = lead.get(f"/customers/{source}", follow_redirects=False)
    assert old_link.status_code == 303 and old_link.headers["location"] == f"/customers/{target}"


def test_merge_needs_permission_and_csrf(two_profiles: dict[str, Any], runtime: Runtime) -> None:
    target, source = two_profiles["target"], two_profiles["source"]
    agent = browser_for(two_profiles["app"], "ana@example.com")
    assert 'id="merge-link"' not in agent.get(f"/customers/{target}").text
    assert agent.get(f"/customers/{target}/merge", params={"source_id": source}).status_code == 403
    refused = agent.post(f"/customers/{target}/merge", {"source_id": source})
    assert refused.status_code == 403 and "responsables" in refused.text
    lead = browser_for(two_profiles["app"], "lia@example.com")
    forged = lead.post(f"/customers/{target}/merge", {"source_id": source, "csrf_token": "forged"})
    assert forged.status_code == 403
    missing = lead.post(f"/customers/{target}/merge", {"source_id": source}, csrf=False)
    assert missing.status_code == 403
    itself = lead.get(f"/customers/{target}/merge", params={"source_id": target})
    assert itself.status_code == 422
    with runtime.db.sessions() as session:
        row = session.get(Customer, source)
        assert row is not None and row.merged_into_id is None


def test_an_agent_logs_a_call_and_a_visit_on_the_customers_timeline(
    two_profiles: dict[str, Any], api: Api, runtime: Runtime
) -> None:
    customer = two_profiles["target"]  # known only by email: no phone on record
    ana = browser_for(two_profiles["app"], "ana@example.com")
    page = ana.get(f"/customers/{customer}").text
    assert 'id="profile-log"' in page and '<option value="workshop">' in page
    assert (
        ana.post(f"/customers/{customer}/log", {"channel": "phone", "text": "x"}, csrf=False).status_code
        == 403
    )
    wrong = ana.post(f"/customers/{customer}/log", {"channel": "email", "text": "x"})
    assert wrong.status_code == 422
    called = ana.post(
        f"/customers/{customer}/log",
        {
            "channel": "phone",
            "direction": "in",
            "text": "Llama <b>enfadada</b>: si no llega mañana se da de baja",
        },
        follow_redirects=False,
    )
    assert called.status_code == 303 and "logged=" in called.headers["location"]
    visit = ana.post(
        f"/customers/{customer}/log",
        {"channel": "store", "direction": "out", "text": "Le atendimos en tienda y se le cambió el router"},
        follow_redirects=False,
    )
    assert visit.status_code == 303
    with runtime.db.sessions() as session:
        logged = session.scalars(
            select(Message).where(Message.channel.in_(("phone", "store"))).order_by(Message.id)
        ).all()
        assert [(m.channel, m.direction, m.customer_id, m.stage) for m in logged] == [
            ("phone", "in", customer, "done"),
            ("store", "out", customer, "done"),
        ]
        assert logged[0].triage and logged[0].triage["sentiment"]["label"] == "negative", "triaged like any"
        assert logged[1].agent_id == ana.agent_id, "the agent who served them is its author"
    timeline = api.get(f"/api/v1/customers/{customer}/timeline").json()
    assert {logged[0].id, logged[1].id} <= {item["message_id"] for item in timeline["items"]}
    page = ana.get(f"/customers/{customer}?logged={logged[0].id}").text
    assert 'id="log-done"' in page
