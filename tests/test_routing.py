"""Routing: round-robin and least-loaded within a team, skipping away agents and those at
capacity; the team queue when nobody can take it; presence set by the agent or a lead."""

from __future__ import annotations

import threading
import time
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select, text

from cuida.auth.schemas import AgentCreate
from cuida.auth.service import create_agent
from cuida.events.models import Event
from cuida.routing.models import TeamRouting
from cuida.routing.service import route as route_now
from cuida.runtime import Runtime

PASSWORD = "a long enough password"


def make_team(api: Any, slug: str) -> int:
    response = api.post("/api/v1/teams", json={"slug": slug, "name": slug.title(), "kind": "claims"})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def make_agents(runtime: Runtime, team: str, names: list[str], role: str = "agent") -> list[int]:
    ids = []
    with runtime.db.session() as session:
        for name in names:
            agent = create_agent(
                session=session,
                data=AgentCreate(
                    email=f"{name}@example.com",
                    name=name.title(),
                    password=PASSWORD,
                    role=role,
                    team_slugs=[team],
                ),
            )
            ids.append(agent.id)
    return ids


def conversation(api: Any, n: int) -> int:
    return int(
        api.message(author=f"c{n}@x.es", external_id=f"m{n}", text="Hola, una consulta")["conversation_id"]
    )


def assign(api: Any, conversation_id: int, agent_id: int) -> None:
    response = api.post(f"/api/v1/conversations/{conversation_id}/assign", json={"agent_id": agent_id})
    assert response.status_code == 200, response.text


def route(api: Any, conversation_id: int, team_id: int, **extra: Any) -> dict[str, Any]:
    response = api.post(f"/api/v1/conversations/{conversation_id}/route", json={"team_id": team_id, **extra})
    assert response.status_code == 200, response.text
    return dict(response.json())


def presence(api: Any, agent_id: int, **fields: Any) -> Any:
    return api.patch(f"/api/v1/agents/{agent_id}/presence", json=fields)


def test_round_robin_skips_the_away_agent_and_the_one_at_capacity(api: Any, runtime: Runtime) -> None:
    team = make_team(api, "claims")
    ana, beto, carla, dani = make_agents(runtime, "claims", ["ana", "beto", "carla", "dani"])
    assert presence(api, carla, away=True).status_code == 200
    assert presence(api, dani, capacity=1).status_code == 200
    held = conversation(api, 0)
    assign(api, held, dani)  # dani is now full

    picked = [route(api, conversation(api, n), team)["agent_id"] for n in range(1, 5)]
    assert picked == [ana, beto, ana, beto]

    # dani's conversation is resolved: a place frees up, and the cursor (after beto) reaches dani.
    assert api.patch(f"/api/v1/conversations/{held}", json={"status": "resolved"}).status_code == 200
    assert route(api, conversation(api, 5), team)["agent_id"] == dani
    assert route(api, conversation(api, 6), team)["agent_id"] == ana  # dani full again, carla away

    load = api.get(f"/api/v1/routing/teams/{team}").json()
    by_agent = {a["agent_id"]: a for a in load["agents"]}
    assert (by_agent[ana]["load"], by_agent[beto]["load"], by_agent[dani]["load"]) == (3, 2, 1)
    assert (by_agent[carla]["available"], by_agent[dani]["available"]) == (False, False)
    assert load["last_agent_id"] == ana

    # Routing an ongoing conversation again keeps it with its agent.
    first = route(api, conversation(api, 1), team)
    assert (first["agent_id"], first["reason"]) == (ana, "already with an available member")


def test_nobody_available_leaves_it_in_the_team_queue_with_an_event(api: Any, runtime: Runtime) -> None:
    team = make_team(api, "claims")
    ana, beto = make_agents(runtime, "claims", ["ana", "beto"])
    presence(api, ana, away=True)
    presence(api, beto, capacity=0)
    conversation_id = conversation(api, 1)
    result = route(api, conversation_id, team)
    assert result["agent_id"] is None
    got = api.get(f"/api/v1/conversations/{conversation_id}").json()
    assert (got["team_id"], got["assignee_id"]) == (team, None)
    with runtime.db.sessions() as session:
        queued = session.scalars(select(Event).where(Event.type == "routing.queued")).one()
        assert queued.conversation_id == conversation_id
        assert queued.payload["skipped"] == {"inactive": [], "away": [ana], "at_capacity": [beto]}
    # Back from the break: the next routing gives it to ana.
    presence(api, ana, away=False)
    assert route(api, conversation_id, team)["agent_id"] == ana


def test_least_loaded_picks_the_agent_with_fewest_open_conversations(api: Any, runtime: Runtime) -> None:
    team = make_team(api, "care")
    response = api.put(f"/api/v1/routing/teams/{team}", json={"mode": "least_loaded"})
    assert response.status_code == 200, response.text
    ana, beto, carla = make_agents(runtime, "care", ["ana", "beto", "carla"])
    presence(api, carla, away=True)
    for n in range(2):
        assign(api, conversation(api, 10 + n), ana)
    assign(api, conversation(api, 20), beto)
    resolved = conversation(api, 21)
    assign(api, resolved, beto)
    api.patch(f"/api/v1/conversations/{resolved}", json={"status": "resolved"})  # does not count

    assert route(api, conversation(api, 1), team)["agent_id"] == beto  # 1 against ana's 2
    assert route(api, conversation(api, 2), team)["agent_id"] == ana  # 2 each: lowest id
    assert route(api, conversation(api, 3), team)["agent_id"] == beto
    # Per call, the mode can be overridden.
    assert route(api, conversation(api, 4), team, mode="round_robin")["mode"] == "round_robin"
    with runtime.db.sessions() as session:
        assert session.get(TeamRouting, team).mode == "least_loaded"  # type: ignore[union-attr]


def test_team_mode_and_errors(api: Any, runtime: Runtime) -> None:
    team = make_team(api, "care")
    bad = api.put(f"/api/v1/routing/teams/{team}", json={"mode": "random"})
    assert bad.status_code == 422
    assert bad.json()["error"]["fields"][0]["field"] == "mode"
    assert api.put("/api/v1/routing/teams/999", json={"mode": "least_loaded"}).status_code == 404
    no_team = api.post(f"/api/v1/conversations/{conversation(api, 1)}/route", json={})
    assert no_team.status_code == 422
    assert "team" in no_team.json()["error"]["message"]


def _login(client: TestClient, email: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"X-CSRF-Token": response.json()["csrf_token"]}


def test_an_agent_sets_their_own_presence_and_a_lead_sets_capacity(
    api: Any, runtime: Runtime, client: TestClient
) -> None:
    make_team(api, "care")
    ana, beto = make_agents(runtime, "care", ["ana", "beto"])
    [lead] = make_agents(runtime, "care", ["lucia"], role="lead")

    headers = _login(client, "ana@example.com")
    own = client.patch(f"/api/v1/agents/{ana}/presence", json={"away": True}, headers=headers)
    assert own.status_code == 200, own.text
    assert own.json()["away"] is True
    assert (
        client.patch(f"/api/v1/agents/{ana}/presence", json={"capacity": 50}, headers=headers).status_code
        == 403
    )
    assert (
        client.patch(f"/api/v1/agents/{beto}/presence", json={"away": True}, headers=headers).status_code
        == 403
    )

    headers = _login(client, "lucia@example.com")
    other = client.patch(
        f"/api/v1/agents/{beto}/presence", json={"capacity": 3, "away": False}, headers=headers
    )
    assert other.status_code == 200, other.text
    assert (other.json()["capacity"], other.json()["away"]) == (3, False)
    agents = {a["id"]: a for a in api.get("/api/v1/agents").json()}
    assert (agents[ana]["away"], agents[beto]["capacity"]) == (True, 3)
    assert lead in agents


def test_two_workers_routing_into_one_team_at_once_pick_different_agents(api: Any, runtime: Runtime) -> None:
    """The team's routing row is locked for the whole pick: the second waits for the first to
    commit, then reads its cursor, instead of both taking the same agent."""
    team = make_team(api, "claims")
    ana, beto = make_agents(runtime, "claims", ["ana", "beto"])
    first_id, second_id = conversation(api, 1), conversation(api, 2)
    picked: dict[str, int | None] = {}

    def second_worker() -> None:
        with runtime.db.session() as session:
            picked["second"] = route_now(session=session, conversation_id=second_id, team_id=team).agent_id

    with runtime.db.session() as session:
        picked["first"] = route_now(session=session, conversation_id=first_id, team_id=team).agent_id
        worker = threading.Thread(target=second_worker)
        worker.start()
        if runtime.db.dialect == "postgresql":
            _wait_until_a_backend_waits_on_a_lock(runtime, worker)
    worker.join(timeout=30)
    assert not worker.is_alive()
    assert sorted([picked["first"], picked["second"]]) == [ana, beto]  # type: ignore[type-var]


def _wait_until_a_backend_waits_on_a_lock(runtime: Runtime, worker: threading.Thread) -> None:
    """Hold the first transaction until the second worker is seen waiting for its lock. If the worker
    ended without waiting (it failed before reaching the lock), stop holding: the assertions on what
    it picked then say what went wrong, instead of a timeout. (A generous bound: shared 2-core machines.)"""
    deadline = time.monotonic() + 60
    with runtime.db.engine.connect() as conn:
        while time.monotonic() < deadline and worker.is_alive():
            waiting = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE wait_event_type = 'Lock' AND datname = current_database()"
                )
            ).scalar()
            if waiting:
                return
            time.sleep(0.01)
    if worker.is_alive():
        raise AssertionError("the second worker never waited for the first one's lock")
