"""What time it is: the wall clock, or the manual clock for replays and tests.

Domain times (received_at, SLA deadlines, events) use `now`; leases and retry backoff always use
`wall_now`, because a worker that died must be noticed in real seconds whatever the story's date.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from cuida.clock.models import ClockState
from cuida.db import txcache


class ClockError(ValueError):
    pass


def wall_now() -> datetime:
    return datetime.now(UTC)


def manual_enabled(session: Session) -> bool:
    return bool(session.info.get("manual_clock"))


def now(*, session: Session) -> datetime:
    if not manual_enabled(session):
        return wall_now()
    # Read once per transaction (a transaction's "now" stands still, as in PostgreSQL): the
    # identity map holds rows weakly, so without this reference every call would query again.
    held = txcache.scratch(session, "clock")
    state = held.get("state")
    if state is None:
        state = held["state"] = session.get(ClockState, 1)
    return state.manual_now if state and state.manual_now else wall_now()


def check_move(*, session: Session, to: datetime) -> None:
    """Raise ClockError unless the manual clock is on and `to` is a valid time to move it to."""
    if not manual_enabled(session):
        raise ClockError("the manual clock is off (set CUIDA_MANUAL_CLOCK=1 to use it)")
    if to.tzinfo is None:
        raise ClockError("give the time with its offset, e.g. 2026-01-05T09:00:00+01:00")
    state = session.get(ClockState, 1)
    if state is not None and state.manual_now is not None and to < state.manual_now:
        raise ClockError(f"the clock only moves forward: it is already {state.manual_now.isoformat()}")


def set_now(*, session: Session, to: datetime) -> datetime:
    """Move the manual clock; it only goes forward, so timers never fire twice."""
    check_move(session=session, to=to)
    current = now(session=session)
    state = session.get(ClockState, 1, with_for_update=True)
    if state is None:
        state = ClockState(id=1)
        session.add(state)
    elif state.manual_now is not None and to < current:
        raise ClockError(f"the clock only moves forward: it is already {current.isoformat()}")
    txcache.scratch(session, "clock")["state"] = state
    state.manual_now = to.astimezone(UTC)
    return state.manual_now
