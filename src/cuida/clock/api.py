"""The manual clock, for admins: replays and tests make weeks pass in seconds."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field, model_validator

from cuida.clock import service
from cuida.common.errors import Conflict
from cuida.events.service import publish
from cuida.jobs.reconciler import fire_timers
from cuida.runtime import Runtime
from cuida.timers.service import next_due
from cuida.web.deps import Principal, get_runtime, require

router = APIRouter(prefix="/api/v1/admin/clock", tags=["admin"])
MAX_TIMER_STOPS = 10_000  # stops at due times within one move; beyond that the rest fire at the target


class ClockRead(BaseModel):
    manual: bool
    now: datetime
    timers_fired: int = Field(
        default=0, description="Timers that fell due by the new time and were fired before answering."
    )


class ClockSet(BaseModel):
    now: datetime | None = Field(default=None, description="Set the time (with offset).")
    advance_seconds: float | None = Field(default=None, ge=0, description="Or move it forward by this much.")

    @model_validator(mode="after")
    def _one(self) -> ClockSet:
        if (self.now is None) == (self.advance_seconds is None):
            raise ValueError("give exactly one of now or advance_seconds")
        return self


@router.get("", response_model=ClockRead)
def get_clock(
    runtime: Runtime = Depends(get_runtime), principal: Principal = Depends(require("admin"))
) -> ClockRead:
    with runtime.db.sessions() as session:
        return ClockRead(manual=service.manual_enabled(session), now=service.now(session=session))


@router.put("", response_model=ClockRead)
def set_clock(
    data: ClockSet, runtime: Runtime = Depends(get_runtime), principal: Principal = Depends(require("admin"))
) -> ClockRead:
    """Move the manual clock forward. Timers that fall due on the way fire at their own due time,
    in order, as the reconciler would have fired them had the time really passed: an escalation due
    on Tuesday is dated Tuesday even when the clock jumps to Friday."""
    with runtime.db.session() as session:
        moved = service.now(session=session)
        target = data.now or moved + timedelta(seconds=data.advance_seconds or 0)
        try:
            service.check_move(session=session, to=target)
        except service.ClockError as exc:
            raise Conflict(str(exc), field="now") from None
    fired = fire_timers(runtime)  # anything already overdue, at the current time
    for _ in range(MAX_TIMER_STOPS):
        with runtime.db.session() as session:
            due = next_due(session=session)
            stop = due if due is not None and moved < due < target else target
            moved = service.set_now(session=session, to=stop)
        fired += fire_timers(runtime)
        if stop == target:
            break
    else:
        with runtime.db.session() as session:  # a pathological pile of timers: jump the rest
            moved = service.set_now(session=session, to=target)
        fired += fire_timers(runtime)
    with runtime.db.session() as session:
        publish(
            session=session, type="clock.moved", actor=principal.actor, payload={"now": moved.isoformat()}
        )
    return ClockRead(manual=True, now=moved, timers_fired=fired)
