"""Scheduling and firing timers.

A domain registers a handler per kind (`@on("sla.breach")`); `fire_due` claims due timers and runs
each handler in the same transaction that marks the timer fired, so a handler's changes and the
"fired" mark commit together: a crash fires it again later, never twice. On PostgreSQL the claim
skips rows another worker holds (FOR UPDATE SKIP LOCKED); SQLite serialises writers anyway."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cuida.clock.service import now
from cuida.timers.models import Timer

log = logging.getLogger(__name__)
Handler = Callable[..., None]  # handler(session=..., timer=..., at=...)
HANDLERS: dict[str, Handler] = {}


def on(kind: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        HANDLERS[kind] = handler
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


def fire_due(*, session: Session, limit: int = 200) -> int:
    """Fire up to `limit` due timers in this transaction; returns how many were taken (a timer whose
    handler failed or is missing is taken too, with the error on its row)."""
    at = now(session=session)
    query = (
        select(Timer)
        .where(Timer.fired_at.is_(None), Timer.cancelled_at.is_(None), Timer.due_at <= at)
        .order_by(Timer.due_at, Timer.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    fired = 0
    for timer in session.scalars(query).all():
        handler = HANDLERS.get(timer.kind)
        timer.fired_at = at
        fired += 1
        if handler is None:
            timer.error = f"no handler for timer kind {timer.kind!r}"
            log.warning("timer %s: %s", timer.id, timer.error)
            continue
        try:
            with session.begin_nested():
                handler(session=session, timer=timer, at=at)
        except Exception as exc:
            # One broken handler must not stop the others; the error stays on the row.
            timer.error = "".join(traceback.format_exception_only(type(exc), exc)).strip()[:2000]
            log.exception("timer %s (%s) failed", timer.id, timer.kind)
    return fired
