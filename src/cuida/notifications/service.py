"""Notifying agents. Who gets what is decided by the caller; this records it and publishes it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cuida.auth.models import Agent, Team
from cuida.clock.service import now
from cuida.common.errors import NotFound
from cuida.events.service import SYSTEM, Actor, publish
from cuida.notifications.models import Notification

ROLE_ORDER = ("agent", "lead", "manager", "admin")


def notify(
    *,
    session: Session,
    agent_ids: Iterable[int],
    kind: str,
    text: str,
    conversation_id: int | None = None,
    customer_id: int | None = None,
    payload: dict[str, Any] | None = None,
    actor: Actor = SYSTEM,
) -> list[Notification]:
    at = now(session=session)
    created = []
    for agent_id in sorted(set(agent_ids)):
        row = Notification(
            agent_id=agent_id,
            kind=kind,
            text=text,
            conversation_id=conversation_id,
            customer_id=customer_id,
            payload=payload or {},
            created_at=at,
        )
        session.add(row)
        created.append(row)
        # No flush for the row's id: a timer batch notifies hundreds of times, and one flush at
        # commit is far cheaper than one per call; the row is found by agent, kind and time.
        publish(
            session=session,
            type="notification.created",
            actor=actor,
            customer_id=customer_id,
            conversation_id=conversation_id,
            payload={"agent_id": agent_id, "kind": kind, "text": text},
        )
    return created


def leads_of(*, session: Session, agent_id: int | None = None, team_id: int | None = None) -> list[int]:
    """The leads (and above) of an agent's teams or of a team; the managers when a team has none."""
    team_ids: set[int] = set()
    if team_id is not None:
        team_ids.add(team_id)
    if agent_id is not None:
        agent = session.get(Agent, agent_id)
        if agent is not None:
            team_ids.update(t.id for t in agent.teams)
    leads: set[int] = set()
    for tid in team_ids:
        team = session.get(Team, tid)
        if team is not None:
            leads.update(a.id for a in team.members if a.active and a.role in ("lead", "manager"))
    return sorted(leads) or managers(session=session)


def managers(*, session: Session) -> list[int]:
    return list(
        session.scalars(select(Agent.id).where(Agent.active.is_(True), Agent.role.in_(("manager", "admin"))))
    )


def unread(*, session: Session, agent_id: int, limit: int = 100) -> list[Notification]:
    return list(
        session.scalars(
            select(Notification)
            .where(Notification.agent_id == agent_id, Notification.read_at.is_(None))
            .order_by(Notification.id.desc())
            .limit(limit)
        )
    )


def mark_read(*, session: Session, agent_id: int, notification_id: int) -> Notification:
    row = session.get(Notification, notification_id)
    if row is None or row.agent_id != agent_id:
        raise NotFound(f"notification {notification_id} not found")
    row.read_at = row.read_at or now(session=session)
    return row
