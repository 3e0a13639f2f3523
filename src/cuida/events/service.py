"""Publishing events. Every state change a service makes is recorded here, in the same
transaction, so the audit log and the live feed can never disagree with the data."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from cuida.clock.service import now, wall_now
from cuida.db import txcache
from cuida.events.models import Event

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Actor:
    """Who did it: an agent, an integration token, or the system itself."""

    type: str
    id: int | None = None
    name: str | None = None


SYSTEM = Actor("system", None, "cuida")

# Arbitrary key for the PostgreSQL advisory lock that orders event ids by commit (see publish).
_EVENTS_LOCK = 0x637569_6461


def publish(
    *,
    session: Session,
    type: str,
    actor: Actor = SYSTEM,
    customer_id: int | None = None,
    conversation_id: int | None = None,
    message_id: int | None = None,
    payload: dict[str, Any] | None = None,
) -> Event:
    if session.get_bind().dialect.name == "postgresql":
        # Ids come from a sequence, so two transactions could commit ids out of order and a
        # reader resuming "after N" would skip one. Holding this lock from the first event to
        # commit makes ids commit in order; callers publish last, so it is held briefly.
        # Taken once per transaction; a savepoint rolled back releases it, and txcache then
        # forgets that it was taken, so the next event takes it again.
        held = txcache.scratch(session, "events")
        if not held.get("locked"):
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _EVENTS_LOCK})
            held["locked"] = True
    event = Event(
        type=type,
        occurred_at=now(session=session),
        recorded_at=wall_now(),
        actor_type=actor.type,
        actor_id=actor.id,
        actor_name=actor.name,
        customer_id=customer_id,
        conversation_id=conversation_id,
        message_id=message_id,
        payload=payload or {},
    )
    session.add(event)
    session.info["published"] = True
    _notify(session, event)
    return event


# In-transaction reactions: a domain that must act when something happens elsewhere (an SLA clock
# on a new message, a commitment proposed from a reply) subscribes to the event type instead of
# being called from the other domain's code. They run in the publisher's transaction, so the
# reaction commits or rolls back with the change that caused it.
Subscriber = Callable[..., None]  # subscriber(session=..., event=...)
SUBSCRIBERS: dict[str, list[Subscriber]] = {}
MAX_DEPTH = 4


def subscribe(*types: str) -> Callable[[Subscriber], Subscriber]:
    def register(fn: Subscriber) -> Subscriber:
        for type_ in types:
            if fn not in SUBSCRIBERS.setdefault(type_, []):
                SUBSCRIBERS[type_].append(fn)
        return fn

    return register


def _notify(session: Session, event: Event) -> None:
    subscribers = SUBSCRIBERS.get(event.type)
    if not subscribers:
        return
    depth = session.info.get("event_depth", 0)
    if depth >= MAX_DEPTH:
        # A reaction to a reaction to a reaction...: stop rather than loop.
        log.warning("event %s not passed on: reactions nested %d deep", event.type, depth)
        return
    session.info["event_depth"] = depth + 1
    try:
        for fn in list(subscribers):
            fn(session=session, event=event)
    finally:
        session.info["event_depth"] = depth


def events_after(
    *, session: Session, after: int, limit: int = 500, types: Sequence[str] | None = None
) -> list[Event]:
    query = select(Event).where(Event.id > after).order_by(Event.id).limit(limit)
    if types:
        query = query.where(Event.type.in_(list(types)))
    return list(session.scalars(query))


def event_as_dict(event: Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "type": event.type,
        "occurred_at": event.occurred_at.isoformat(),
        "actor": {"type": event.actor_type, "id": event.actor_id, "name": event.actor_name},
        "customer_id": event.customer_id,
        "conversation_id": event.conversation_id,
        "message_id": event.message_id,
        "payload": event.payload,
    }
