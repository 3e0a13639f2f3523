from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select

from cuida.auth import service as auth_service
from cuida.auth.models import Agent, ApiToken, Team
from cuida.auth.service import authenticate
from cuida.clock.service import now
from cuida.conversations.models import Conversation, Message
from cuida.customers.models import Customer
from cuida.demo.loader import BUNDLED_STORIES, DEMO_PASSWORD, find_stories_folder, load_demo
from cuida.demo.replay import Replayer, ReplayError
from cuida.demo.stories import format_offset, load_story, parse_offset, parse_story
from cuida.events.models import Event

# The scenarios shared beside the project (/work/main -> /work/shared/scenarios).
SCENARIOS = Path(__file__).resolve().parents[2] / "shared" / "scenarios"
needs_scenarios = pytest.mark.skipif(not SCENARIOS.is_dir(), reason=f"no shared scenarios at {SCENARIOS}")


@pytest.fixture
def cheap_passwords(monkeypatch):
    """The demo creates several agents; production-strength hashing would dominate these tests."""
    monkeypatch.setattr(auth_service, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def _timeline(api, customer_id: int) -> list[dict]:
    response = api.get(f"/api/v1/customers/{customer_id}/timeline", params={"limit": 200})
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def _counts(runtime) -> dict[str, int]:
    with runtime.db.sessions() as session:
        return {
            model.__name__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Message, Conversation, Customer, Agent, Team, ApiToken, Event)
        }


def test_offsets_parse_and_print_back():
    assert parse_offset("0m") == timedelta(0)
    assert parse_offset("2h15m") == timedelta(hours=2, minutes=15)
    assert parse_offset("3d") == timedelta(days=3)
    assert parse_offset("275d1h") == timedelta(days=275, hours=1)
    assert parse_offset("10d12h") == timedelta(days=10, hours=12)
    assert [format_offset(parse_offset(t)) for t in ("0m", "2h15m", "3d", "30d1h10m")] == [
        "0m",
        "2h15m",
        "3d",
        "30d1h10m",
    ]
    for bad in ("", "2x", "1h2d", "d", "-3d"):
        with pytest.raises(ValueError, match="not an offset"):
            parse_offset(bad)


def test_malformed_stories_name_the_file_and_the_step(tmp_path):
    story = tmp_path / "roto.yaml"
    story.write_text(
        "story: roto\ntimeline:\n  - at: 0m\n    channel: email\n    author: a@b.es\n"
        "    text: hola\n  - at: mañana\n    channel: email\n    text: x\n",
        encoding="utf-8",
    )
    with pytest.raises(ReplayError, match=r"roto\.yaml: step 2 \(at mañana\): 'mañana' is not an offset"):
        load_story(story)
    story.write_text("story: roto\ntimeline:\n  - at: 1h\n    channel: fax\n    text: hola\n")
    with pytest.raises(ReplayError, match=r"roto\.yaml: step 1 \(at 1h\): unknown channel 'fax'"):
        load_story(story)
    story.write_text("story: roto\ntimeline: [{at: 0m, channel: email, text: [unclosed\n", encoding="utf-8")
    with pytest.raises(ReplayError, match=r"roto\.yaml: not valid YAML"):
        load_story(story)
    with pytest.raises(ReplayError, match="an inbound step needs an author"):
        parse_story(
            {"story": "x", "timeline": [{"at": "0m", "channel": "sms", "text": "hola"}]}, source="x.yaml"
        )
    with pytest.raises(ReplayError, match="x.yaml: 'timeline' must be a non-empty list"):
        parse_story({"story": "x"}, source="x.yaml")


def test_sentences_with_colons_and_quotes_are_read_as_written(tmp_path):
    story = tmp_path / "frases.yaml"
    story.write_text(
        "story: frases\ntimeline:\n  - at: 0m\n    channel: email\n    author: a@b.es\n"
        "    text: Asunto: factura duplicada\n"
        '    expect:\n      - a promise is recorded: "call back", owner billing,\n        due today\n'
        "      - intent: refund\n  - at: 1d\n",
        encoding="utf-8",
    )
    parsed = load_story(story)
    first, checkpoint = parsed.steps
    assert first.text == "Asunto: factura duplicada"
    assert first.expect == ('a promise is recorded: "call back", owner billing, due today', "intent: refund")
    assert checkpoint.kind == "checkpoint"


@needs_scenarios
def test_a_replayed_story_joins_channels_into_one_customer_and_runs_twice_harmlessly(api, client):
    client.headers.update(api.headers)
    path = SCENARIOS / "01-traslado-de-linea.yaml"
    report = Replayer(client).replay_file(path)
    steps = {step.index: step for step in report.steps}

    customer = api.get(f"/api/v1/customers/{report.customer_id}").json()
    assert customer["name"] == "Daniel Ortega"
    assert {(i["channel"], i["value"]) for i in customer["identities"]} == {
        ("phone", "+34612345678"),
        ("twitter", "danielcompraspro"),
        ("email", "daniel@compraspro.es"),
    }
    assert steps[1].ids["customer_id"] == steps[2].ids["customer_id"] == report.customer_id  # call and tweet

    items = list(reversed(_timeline(api, report.customer_id)))  # oldest first
    assert [(i["channel"], i["direction"], i["public"]) for i in items] == [
        ("phone", "in", False),
        ("twitter", "in", True),
        ("twitter", "out", True),
        ("phone", "in", False),
    ]
    assert [i["occurred_at"] for i in items] == sorted(i["occurred_at"] for i in items)
    assert items[2]["conversation_id"] == items[1]["conversation_id"]  # the reply is on the tweet's thread
    assert {i["language"] for i in items if i["direction"] == "in"} == {"es"}

    # Marketing asks on day 2, once per identity: the same "do not contact" each time, with reasons.
    assert steps[5].kind == "query" and "marketing contactability asked for 3 identities" in steps[5].done
    answers = steps[5].answers["contactability"]
    assert len(answers) == 3 and not any(answer["contactable"] for answer in answers.values())
    assert report.pending_features == {}
    assert "expect: churn threat detected" in report.summary()
    clock = api.get("/api/v1/admin/clock").json()
    assert clock["now"].startswith((report.start + timedelta(days=3)).isoformat()[:19])

    again = Replayer(client).replay_file(path)
    assert again.customer_id == report.customer_id
    assert len(_timeline(api, report.customer_id)) == len(items)
    assert {s.index: s.ids.get("message_id") for s in again.steps} == {
        s.index: s.ids.get("message_id") for s in report.steps
    }


def test_a_start_before_the_server_clock_is_refused_clearly(api, client, tmp_path):
    client.headers.update(api.headers)
    story = tmp_path / "tarde.yaml"
    story.write_text(
        "story: tarde\ntimeline:\n  - at: 0m\n    channel: email\n    author: a@b.es\n    text: hola\n",
        encoding="utf-8",
    )
    with pytest.raises(ReplayError, match="only moves forward"):
        Replayer(client).replay_file(story, start="2001-01-01T00:00:00+00:00")
    with pytest.raises(ReplayError, match="not an ISO time"):
        Replayer(client).replay_file(story, start="ayer")


def test_the_demo_loads_once_with_agents_to_log_in_as(runtime, cheap_passwords):
    first = load_demo(runtime, folder=BUNDLED_STORIES)
    assert first["loaded"] == ["doble-cargo-gimnasio"] and first["failed"] == {}
    assert first["agents_created"] == ["billing@demo.cuida.local", "lead@demo.cuida.local"]
    after_first = _counts(runtime)

    second = load_demo(runtime, folder=BUNDLED_STORIES)
    assert second["loaded"] == [] and second["already_loaded"] == ["doble-cargo-gimnasio"]
    assert second["agents_created"] == []
    assert _counts(runtime) == after_first

    with runtime.db.session() as session:
        agent = authenticate(session=session, email="billing@demo.cuida.local", password=DEMO_PASSWORD)
        assert [team.slug for team in agent.teams] == ["billing"]
        assert all(token.revoked_at is not None for token in session.scalars(select(ApiToken)))
        messages = list(session.scalars(select(Message).order_by(Message.occurred_at)))
        assert [(m.channel, m.direction) for m in messages] == [
            ("email", "in"),
            ("whatsapp", "in"),
            ("whatsapp", "out"),
            ("instagram", "in"),
        ]
        assert len({m.customer_id for m in messages}) == 1
        assert messages[2].conversation_id == messages[1].conversation_id
        ago = now(session=session) - messages[-1].occurred_at
        assert timedelta(minutes=59) < ago < timedelta(minutes=61)  # the story ends an hour ago


def test_stories_are_found_beside_the_project_else_bundled(monkeypatch, tmp_path):
    project, scenarios = tmp_path / "work" / "main", tmp_path / "work" / "shared" / "scenarios"
    project.mkdir(parents=True)
    scenarios.mkdir(parents=True)
    (scenarios / "una.yaml").write_text("story: una\ntimeline: [{at: 0m}]\n")
    monkeypatch.delenv("CUIDA_SCENARIOS_DIR", raising=False)
    monkeypatch.chdir(project)
    assert find_stories_folder() == scenarios
    assert find_stories_folder(tmp_path) == tmp_path
    monkeypatch.setenv("CUIDA_SCENARIOS_DIR", str(project))
    assert find_stories_folder() == project
    monkeypatch.delenv("CUIDA_SCENARIOS_DIR")
    (scenarios / "una.yaml").unlink()
    assert find_stories_folder() == BUNDLED_STORIES


@needs_scenarios
def test_the_demo_loads_every_shared_scenario(runtime, cheap_passwords):
    result = load_demo(runtime, folder=SCENARIOS)
    assert result["failed"] == {}
    assert len(result["loaded"]) == 7
    # The stories' agents made their replies: the promise on Twitter is confirmed, owned by the
    # social-care agent, and on Daniel's timeline; the gift of "minifigura" was recorded as given.
    from cuida.commitments.models import Commitment
    from cuida.goodwill.models import GoodwillGesture

    with runtime.db.sessions() as session:
        social = session.scalar(select(Agent).where(Agent.email == "social-care@demo.cuida.local"))
        promise = session.scalar(
            select(Commitment).where(Commitment.channel == "dm", Commitment.kind == "contact")
        )
        assert promise is not None and promise.status == "open" and promise.owner_agent_id == social.id
        gift = session.scalar(select(GoodwillGesture).where(GoodwillGesture.cost == 12))
        assert gift is not None and gift.status == "granted" and gift.kind == "replacement"
