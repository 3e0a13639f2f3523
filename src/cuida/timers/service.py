"""Scheduling and firing timers.

A domain registers a handler per kind (`@on("sla.breach")`); `fire_due` claims due timers and runs
each handler in the same transaction that marks the timer fired, so a handler's changes and the
"fired" mark commit together: a crash fires it again later, never twice. On PostgreSQL the claim
skips rows another worker holds (FOR UPDATE SKIP LOCKED); SQLite serialises writers anyway."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from cuida.clock.service import now
from cuida.timers.models import Timer

log = logging.getLogger(__name__)
Handler = Callable[..., None]  # handler(session=..., timer=..., at=...)
HANDLERS: dict[str, Handler] = {}
# prepare(session=..., timers=[...]): loads what a batch's handlers will read, in a few queries.
PREPARERS: dict[str, Callable[..., None]] = {}


def on(kind: str, *, prepare: Callable[..., None] | None = None) -> Callable[[Handler], Handler]:
    """Register the handler of a timer kind; `prepare`, if given, runs once per batch of due
    timers of that kind before their handlers (an optimisation only: a failure is logged)."""

    def register(handler: Handler) -> Handler:
        HANDLERS[kind] = handler
        if prepare is not None:
            PREPARERS[kind] = prepare
        return handler

    return register


def schedule(
    *,
    session: Session,
    kind: str,
    key: str,
    due_at: datetime,
    conversation_id: int | None = None,
    payload: dict[str, Any] | None = None,
    rearm: bool = False,
) -> Timer:
    """Create the timer `key`, or move it if it is still pending (or, with `rearm`, fired)."""
    timer = session.scalar(select(Timer).where(Timer.key == key))
    if timer is None:
        timer = Timer(
            kind=kind,
            key=key,
            due_at=due_at,
            conversation_id=conversation_id,
            payload=payload or {},
            created_at=now(session=session),
        )
        session.add(timer)
        session.flush()
        return timer
    if timer.fired_at is None or rearm:
        timer.due_at = due_at
        timer.payload = payload or timer.payload
        timer.fired_at = None
        timer.cancelled_at = None
        timer.error = None
    return timer


def schedule_many(
    *,
    session: Session,
    kind: str,
    timers: Sequence[tuple[str, datetime, dict[str, Any]]],
    conversation_id: int | None = None,
    rearm: bool = False,
) -> None:
    """`schedule` for several (key, due_at, payload) of one kind at once: one query finds the keys
    that exist, one flush inserts the rest (an SLA clock arms a timer per ladder step)."""
    if not timers:
        return
    existing = {
        t.key: t for t in session.scalars(select(Timer).where(Timer.key.in_([key for key, _, _ in timers])))
    }
    at = now(session=session)
    added = False
    for key, due_at, payload in timers:
        timer = existing.get(key)
        if timer is None:
            timer = Timer(
                kind=kind,
                key=key,
                due_at=due_at,
                conversation_id=conversation_id,
                payload=payload,
                created_at=at,
            )
            session.add(timer)
            existing[key] = timer
            added = True
        elif timer.fired_at is None or rearm:
            timer.due_at = due_at
            timer.payload = payload or timer.payload
            timer.fired_at = None
            timer.cancelled_at = None
            timer.error = None
    if added:
        session.flush()  # as `schedule`: a later lookup of these keys finds them, autoflush or not


def cancel(*, session: Session, key: str) -> bool:
    timer = session.scalar(select(Timer).where(Timer.key == key))
    if timer is None or timer.fired_at is not None or timer.cancelled_at is not None:
        return False
    timer.cancelled_at = now(session=session)
    return True


def cancel_prefix(*, session: Session, prefix: str) -> int:
    """Cancel every pending timer whose key starts with `prefix` (e.g. all of one conversation's SLA)."""
    at = now(session=session)
    timers = session.scalars(
        select(Timer).where(
            Timer.key.startswith(prefix, autoescape=True),
            Timer.fired_at.is_(None),
            Timer.cancelled_at.is_(None),
        )
    ).all()
    for timer in timers:
        timer.cancelled_at = at
    return len(timers)


def pending(*, session: Session, prefix: str) -> list[Timer]:
    return list(
        session.scalars(
            select(Timer)
            .where(
                Timer.key.startswith(prefix, autoescape=True),
                Timer.fired_at.is_(None),
                Timer.cancelled_at.is_(None),
            )
            .order_by(Timer.due_at)
        )
    )


def next_due(*, session: Session) -> datetime | None:
    """When the earliest pending timer falls due (None when nothing is pending)."""
    return session.scalar(
        select(func.min(Timer.due_at)).where(Timer.fired_at.is_(None), Timer.cancelled_at.is_(None))
    )


def due_query(*, at: datetime, limit: int, postgres: bool) -> Select[Timer]:
    """The pending timers due at `at`, earliest first (served by the partial index on pending
    timers' due time); on PostgreSQL rows another worker holds are skipped."""
    query = (
        select(Timer)
        .where(Timer.fired_at.is_(None), Timer.cancelled_at.is_(None), Timer.due_at <= at)
        .order_by(Timer.due_at, Timer.id)
        .limit(limit)
    )
    return query.with_for_update(skip_locked=True) if postgres else query


def fire_due(*, session: Session, limit: int = 200) -> int:
    """Fire up to `limit` due timers in this transaction; returns how many were taken (a timer whose
    handler failed or is missing is taken too, with the error on its row).

    The batch runs under one savepoint; only if a handler fails is it rolled back and run again
    with a savepoint per timer, so one broken handler costs its own work, not its neighbours'
    (a savepoint and flush per timer would otherwise be most of a step's cost)."""
    at = now(session=session)
    query = due_query(at=at, limit=limit, postgres=session.get_bind().dialect.name == "postgresql")
    due = session.scalars(query).all()
    for kind in sorted({timer.kind for timer in due} & set(PREPARERS)):
        try:
            with session.begin_nested():
                PREPARERS[kind](session=session, timers=[t for t in due if t.kind == kind])
        except Exception:
            log.exception("preparing %s timers failed; their handlers load what they need", kind)
    try:
        with session.begin_nested():
            for timer in due:
                _fire_one(session, timer, at)
    except Exception:
        log.warning("a timer of this batch failed; firing the batch again one timer at a time")
        for timer in due:
            try:
                with session.begin_nested():
                    _fire_one(session, timer, at)
            except Exception as exc:
                # One broken handler must not stop the others; the error stays on the row.
                timer.fired_at = at
                timer.error = "".join(traceback.format_exception_only(type(exc), exc)).strip()[:2000]
                log.exception("timer %s (%s) failed", timer.id, timer.kind)
    return len(due)


def _fire_one(session: Session, timer: Timer, at: datetime) -> None:
    timer.fired_at = at
    handler = HANDLERS.get(timer.kind)
    if handler is None:
        timer.error = f"no handler for timer kind {timer.kind!r}"
        log.warning("timer %s: %s", timer.id, timer.error)
        return
    handler(session=session, timer=timer, at=at)
