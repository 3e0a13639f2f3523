"""The lead's board page: sections, per-team counts, who sees which rows, live fragments."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cuida.clock.service import now
from cuida.conversations.models import Conversation
from cuida.runtime import Runtime
from cuida.web.board import DEFERRED
from tests.conftest import Api
from tests.screens_support import browser_for, make_agent, team_id


def _conversation(
    api: Api, runtime: Runtime, *, author: str, text: str, team: str, risk: float
) -> dict[str, Any]:
    accepted = api.message(author=author, text=text, external_id=f"{author}-1")
    team_pk = team_id(runtime, team)
    with runtime.db.session() as session:
        row = session.get(Conversation, accepted["conversation_id"])
        assert row is not None
        row.team_id = team_pk
        row.risk_score = risk
        row.subject = f"Subject of {author}"
    return accepted


@pytest.fixture
def board(api: Api, runtime: Runtime, client: TestClient) -> dict[str, Any]:
    make_agent(runtime, "ana@example.com", "agent", ("billing",))
    make_agent(runtime, "lia@example.com", "lead", ("billing",))
    make_agent(runtime, "sol@example.com", "agent", ("social",))
    billing = _conversation(
        api,
        runtime,
        author="pablo@example.com",
        text="Si no me devolvéis el dinero os denuncio, ya he hablado con mi abogado.",
        team="billing",
        risk=0.91,
    )
    social = _conversation(
        api,
        runtime,
        author="marta@example.com",
        text="Me voy a la competencia, quiero la baja ya.",
        team="social",
        risk=0.82,
    )
    calm = _conversation(
        api, runtime, author="juan@example.com", text="Hola, ¿a qué hora abrís?", team="social", risk=0.1
    )
    with runtime.db.session() as session:
        due = now(session=session) + timedelta(hours=2)
    promise = api.post(
        f"/api/v1/customers/{billing['customer_id']}/commitments",
        json={
            "text": "Llamar para confirmar el reembolso",
            "due_at": due.isoformat(),
            "kind": "callback",
            "conversation_id": billing["conversation_id"],
        },
    )
    assert promise.status_code == 201, promise.text
    # Three days later: every first-response clock is past due and the promise is overdue.
    moved = api.put("/api/v1/admin/clock", json={"advance_seconds": 3 * 86400})
    assert moved.status_code == 200, moved.text
    return {"billing": billing, "social": social, "calm": calm, "app": client.app}


def _section(html: str, name: str) -> str:
    start = html.index(f'id="board-{name}"')
    end = html.find("</section>", start)
    return html[start:end]


def board_page(client: Any) -> str:
    """/board as the browser ends up showing it: each deferred section's placeholder replaced by
    the fragment it loads (hx-trigger="load")."""
    response = client.get("/board")
    assert response.status_code == 200
    html = response.text
    for section in DEFERRED:
        start = html.index(f'<section id="board-{section}"')
        end = html.index("</section>", start) + len("</section>")
        assert (
            'hx-trigger="load"' in html[start:end]
            and f'hx-get="/board/fragments/{section}"' in html[start:end]
        )
        fragment = client.get(f"/board/fragments/{section}")
        assert fragment.status_code == 200
        html = html[:start] + fragment.text + html[end:]
    return html


def test_lead_sees_every_section_with_its_rows(board: dict[str, Any]) -> None:
    lead = browser_for(board["app"], "lia@example.com")
    html = board_page(lead)
    billing, social, calm = (board[k]["conversation_id"] for k in ("billing", "social", "calm"))
    at_risk = _section(html, "at_risk")
    assert f'data-conversation="{billing}"' in at_risk and f'data-conversation="{social}"' in at_risk
    assert f'data-conversation="{calm}"' not in at_risk
    # The riskiest first.
    assert at_risk.index(f'data-conversation="{billing}"') < at_risk.index(f'data-conversation="{social}"')
    threats = _section(html, "threats")
    assert f'data-conversation="{billing}"' in threats and f'data-conversation="{social}"' in threats
    assert f'data-conversation="{calm}"' not in threats
    assert "Legal" in _section(html, "threats") and "Baja" in threats
    sla = _section(html, "sla")
    for conversation_id in (billing, social, calm):
        assert f'data-conversation="{conversation_id}"' in sla
    commitments = _section(html, "commitments")
    assert "Llamar para confirmar el reembolso" in commitments
    crisis = _section(html, "crisis")
    assert 'data-count="0"' in crisis and "Sin alertas" in crisis
    counts = _section(html, "counts")
    billing_row = counts[counts.index(f'data-team="{team_id_of(board, "billing")}"') :].split("</tr>")[0]
    cells = [c.split(">")[-1] for c in billing_row.split("</td>")[1:5]]
    assert cells == ["1", "1", "1", "1"]  # open, at risk, SLA breached, overdue promises
    social_row = counts[counts.index(f'data-team="{team_id_of(board, "social")}"') :].split("</tr>")[0]
    assert [c.split(">")[-1] for c in social_row.split("</td>")[1:5]] == ["2", "1", "2", "0"]


def team_id_of(board: dict[str, Any], slug: str) -> int:
    runtime: Runtime = board["app"].state.runtime
    return team_id(runtime, slug)


def test_agent_sees_only_their_teams_rows(board: dict[str, Any]) -> None:
    agent = browser_for(board["app"], "ana@example.com")
    html = board_page(agent)
    billing, social = board["billing"]["conversation_id"], board["social"]["conversation_id"]
    for section in ("at_risk", "threats", "sla"):
        assert f'data-conversation="{billing}"' in _section(html, section)
        assert f'data-conversation="{social}"' not in _section(html, section)
    counts = _section(html, "counts")
    assert f'data-team="{team_id_of(board, "billing")}"' in counts
    assert f'data-team="{team_id_of(board, "social")}"' not in counts
    # The fragment the page refreshes live follows the same rule.
    fragment = agent.get("/board/fragments/threats")
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert f'data-conversation="{billing}"' in fragment.text
    assert f'data-conversation="{social}"' not in fragment.text
    other = browser_for(board["app"], "sol@example.com")
    assert f'data-conversation="{billing}"' not in other.get("/board/fragments/threats").text


def test_sections_refresh_on_matching_live_events(board: dict[str, Any]) -> None:
    html = browser_for(board["app"], "lia@example.com").get("/board").text
    sla = _section(html, "sla")
    assert 'hx-get="/board/fragments/sla"' in sla
    assert "cuida:event[cuidaBoardWants(detail, 'sla conversation reply')] from:body" in sla
    assert "window.cuidaBoardWants" in html


def test_board_in_english_and_escaped(board: dict[str, Any], api: Api, runtime: Runtime) -> None:
    with runtime.db.session() as session:
        row = session.get(Conversation, board["billing"]["conversation_id"])
        assert row is not None
        row.subject = "<script>alert(1)</script>"
    lead = browser_for(board["app"], "lia@example.com")
    from cuida.auth.service import set_language
    from cuida.events.service import SYSTEM

    with runtime.db.session() as session:
        set_language(session=session, agent_id=lead.agent_id, language="en", actor=SYSTEM)
    html = lead.get("/board").text
    assert "At-risk conversations" in html and "No alerts" in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_board_needs_login_and_a_known_section(board: dict[str, Any]) -> None:
    anonymous = TestClient(board["app"])
    response = anonymous.get("/board", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    lead = browser_for(board["app"], "lia@example.com")
    assert lead.get("/board/fragments/nothing").status_code == 404


def test_crisis_alerts_show_with_their_forecast(board: dict[str, Any], api: Api, runtime: Runtime) -> None:
    # A tweet about the shop is reshared far past the alert line half an hour after it was posted.
    tweet = api.message(
        channel="twitter",
        external_id="pablo-tweet",
        author={"value": "@pablo", "followers": 5000},
        text="Llevo tres días sin respuesta de @Tienda. Difundid.",
        public=True,
    )
    [mention] = [m for m in api.get("/api/v1/mentions").json() if m["message_id"] == tweet["message_id"]]
    assert api.put("/api/v1/admin/clock", json={"advance_seconds": 3600}).status_code == 200
    with runtime.db.sessions() as session:
        at = now(session=session)
    response = api.post(
        f"/api/v1/mentions/{mention['id']}/snapshots",
        json={"observed_at": (at - timedelta(minutes=30)).isoformat(), "reshares": 400},
    )
    assert response.status_code in (200, 201), response.text
    crisis = browser_for(board["app"], "lia@example.com").get("/board/fragments/crisis").text
    assert "Crisis" in crisis and "previsión" in crisis
    assert f'href="/conversations/{tweet["conversation_id"]}"' in crisis
