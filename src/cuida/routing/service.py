"""Routing: which agent of a team takes a conversation, and agents' presence and capacity.

`route()` skips inactive and away agents and those already holding `capacity` open + pending
conversations; round-robin walks the members by id from a cursor kept in `team_routing`,
least-loaded takes the member with the fewest. The team's routing row is locked (PostgreSQL) for
the whole pick, so two workers routing into one team at once wait for each other and the second
sees the first's assignment. Assigning goes through conversations.service.assign, so the usual
`conversation.assigned` event is published; `routing.routed` / `routing.queued` say why."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from cuida.auth.models import Agent, Team
from cuida.clock.service import now
from cuida.common.errors import Forbidden, Invalid, NotFound
from cuida.conversations.models import Conversation
from cuida.conversations.schemas import AssignRequest
from cuida.conversations.service import assign
from cuida.events.service import SYSTEM, Actor, publish
from cuida.routing.models import MODES, TeamRouting
from cuida.routing.schemas import AgentLoad, PresenceUpdate, TeamRoutingRead

# What counts against an agent's capacity.
LOAD_STATES = ("open", "pending")


@dataclass(frozen=True)
class Routed:
    conversation_id: int
    team_id: int
    agent_id: int | None
    mode: str
    reason: str


def _team(session: Session, team_id: int) -> Team:
    team = session.get(Team, team_id)
    if team is None:
        raise Invalid(f"team {team_id} does not exist", field="team_id")
    return team


def _locked_state(session: Session, team_id: int) -> TeamRouting:
    """The team's routing row, created on first use, and locked on PostgreSQL until commit."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            pg_insert(TeamRouting)
            .values(team_id=team_id, mode="round_robin", updated_at=now(session=session))
            .on_conflict_do_nothing(index_elements=["team_id"])
        )
        state = session.get(TeamRouting, team_id, with_for_update=True, populate_existing=True)
    else:  # SQLite: the transaction already holds the database write lock (BEGIN IMMEDIATE)
        state = session.get(TeamRouting, team_id)
        if state is None:
            state = TeamRouting(team_id=team_id, mode="round_robin", updated_at=now(session=session))
            session.add(state)
    assert state is not None
    return state


def loads(
    session: Session, agent_ids: list[int], *, exclude_conversation: int | None = None
) -> dict[int, int]:
    """Open and pending conversations assigned to each agent."""
    if not agent_ids:
        return {}
    query = (
        select(Conversation.assignee_id, func.count())
        .where(Conversation.assignee_id.in_(agent_ids), Conversation.status.in_(LOAD_STATES))
        .group_by(Conversation.assignee_id)
    )
    if exclude_conversation is not None:
        query = query.where(Conversation.id != exclude_conversation)
    counted = {int(agent_id): int(n) for agent_id, n in session.execute(query) if agent_id is not None}
    return {agent_id: counted.get(agent_id, 0) for agent_id in agent_ids}


def route(
    *,
    session: Session,
    conversation_id: int,
    team_id: int | None = None,
    mode: str | None = None,
    actor: Actor = SYSTEM,
) -> Routed:
    """Give the conversation to an available agent of the team; when nobody can take it, leave it
    unassigned in the team's queue (`routing.queued`). A conversation already held by an active,
    present member of the team stays with them."""
    # The conversation first, then the team's row: the order every transaction locks rows in
    # (a no-op inside ingest, which has locked the conversation already).
    conversation = session.get(Conversation, conversation_id, with_for_update=True)
    if conversation is None:
        raise NotFound(f"conversation {conversation_id} does not exist")
    team_id = team_id if team_id is not None else conversation.team_id
    if team_id is None:
        raise Invalid("the conversation has no team: name the team to route it to", field="team_id")
    team = _team(session, team_id)
    if mode is not None and mode not in MODES:
        raise Invalid(f"mode must be one of {', '.join(MODES)}", field="mode")
    state = _locked_state(session, team.id)
    mode = mode or state.mode
    members = sorted(team.members, key=lambda a: a.id)
    current = conversation.assignee_id
    if conversation.team_id == team.id and any(a.id == current and a.active and not a.away for a in members):
        return Routed(conversation.id, team.id, current, mode, "already with an available member")
    # Assignments made earlier in this transaction (other messages of the same batch) must count.
    session.flush()
    load = loads(session, [a.id for a in members], exclude_conversation=conversation.id)
    skipped: dict[str, list[int]] = {"inactive": [], "away": [], "at_capacity": []}
    available: list[Agent] = []
    for agent in members:
        if not agent.active:
            skipped["inactive"].append(agent.id)
        elif agent.away:
            skipped["away"].append(agent.id)
        elif agent.capacity is not None and load[agent.id] >= agent.capacity:
            skipped["at_capacity"].append(agent.id)
        else:
            available.append(agent)
    if not available:
        if (conversation.team_id, conversation.assignee_id) != (team.id, None):
            assign(
                session=session,
                conversation_id=conversation.id,
                data=AssignRequest(agent_id=None, team_id=team.id),
                actor=actor,
            )
        reason = "nobody in the team can take it now" if members else "the team has no members"
        publish(
            session=session,
            type="routing.queued",
            actor=actor,
            customer_id=conversation.customer_id,
            conversation_id=conversation.id,
            payload={"team_id": team.id, "mode": mode, "reason": reason, "skipped": skipped},
        )
        return Routed(conversation.id, team.id, None, mode, reason)
    if mode == "least_loaded":
        chosen = min(available, key=lambda a: (load[a.id], a.id))
        reason = f"least loaded ({load[chosen.id]} open)"
    else:
        cursor = state.last_agent_id or 0
        chosen = next((a for a in available if a.id > cursor), available[0])
        reason = "round robin"
    state.last_agent_id = chosen.id
    state.updated_at = now(session=session)
    assign(
        session=session,
        conversation_id=conversation.id,
        data=AssignRequest(agent_id=chosen.id, team_id=team.id),
        actor=actor,
    )
    publish(
        session=session,
        type="routing.routed",
        actor=actor,
        customer_id=conversation.customer_id,
        conversation_id=conversation.id,
        payload={
            "team_id": team.id,
            "agent_id": chosen.id,
            "mode": mode,
            "load": load[chosen.id],
            "skipped": skipped,
        },
    )
    return Routed(conversation.id, team.id, chosen.id, mode, reason)


# -- presence and team settings ----------------------------------------------------------------


def set_presence(
    *,
    session: Session,
    agent_id: int,
    data: PresenceUpdate,
    actor: Actor,
    may_manage: bool,
) -> Agent:
    """An agent sets their own `away`; capacity, and anything about someone else, needs
    `may_manage` (routing:manage: leads and above)."""
    agent = session.get(Agent, agent_id)
    if agent is None:
        raise NotFound(f"agent {agent_id} does not exist")
    own = actor.type == "agent" and actor.id == agent_id
    if not may_manage:
        if not own:
            raise Forbidden("only leads and admins may change another agent's presence")
        if "capacity" in data.model_fields_set:
            raise Forbidden("an agent's capacity is set by a lead or an admin", field="capacity")
    changes: dict[str, list[object]] = {}
    if data.away is not None and data.away != agent.away:
        changes["away"] = [agent.away, data.away]
        agent.away = data.away
    if "capacity" in data.model_fields_set and data.capacity != agent.capacity:
        changes["capacity"] = [agent.capacity, data.capacity]
        agent.capacity = data.capacity
    if changes:
        publish(
            session=session,
            type="agent.presence_changed",
            actor=actor,
            payload={"agent_id": agent.id, **changes},
        )
    return agent


def team_routing(*, session: Session, team_id: int) -> TeamRoutingRead:
    team = session.get(Team, team_id)
    if team is None:
        raise NotFound(f"team {team_id} does not exist")
    state = session.get(TeamRouting, team_id)
    members = sorted(team.members, key=lambda a: a.id)
    load = loads(session, [a.id for a in members])
    return TeamRoutingRead(
        team_id=team.id,
        mode=state.mode if state else "round_robin",  # type: ignore[arg-type]
        last_agent_id=state.last_agent_id if state else None,
        updated_at=state.updated_at if state else None,
        agents=[
            AgentLoad(
                agent_id=a.id,
                name=a.name,
                active=a.active,
                away=a.away,
                capacity=a.capacity,
                load=load[a.id],
                available=a.active and not a.away and (a.capacity is None or load[a.id] < a.capacity),
            )
            for a in members
        ],
    )


def set_team_mode(*, session: Session, team_id: int, mode: str, actor: Actor) -> TeamRoutingRead:
    if session.get(Team, team_id) is None:
        raise NotFound(f"team {team_id} does not exist")
    if mode not in MODES:
        raise Invalid(f"mode must be one of {', '.join(MODES)}", field="mode")
    state = _locked_state(session, team_id)
    if state.mode != mode:
        previous = state.mode
        state.mode = mode
        state.updated_at = now(session=session)
        publish(
            session=session,
            type="routing.mode_changed",
            actor=actor,
            payload={"team_id": team_id, "mode": [previous, mode]},
        )
    session.flush()
    return team_routing(session=session, team_id=team_id)
