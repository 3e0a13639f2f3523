"""The manual clock, for admins: replays and tests make weeks pass in seconds."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field, model_validator

from cuida.clock import service
from cuida.common.errors import Conflict
from cuida.events.service import publish
from cuida.runtime import Runtime
from cuida.web.deps import Principal, get_runtime, require

router = APIRouter(prefix="/api/v1/admin/clock", tags=["admin"])


class ClockRead(BaseModel):
    manual: bool
    now: datetime


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
    with runtime.db.session() as session:
        target = data.now or service.now(session=session) + timedelta(seconds=data.advance_seconds or 0)
        try:
            moved = service.set_now(session=session, to=target)
        except service.ClockError as exc:
            raise Conflict(str(exc), field="now") from None
        publish(
            session=session, type="clock.moved", actor=principal.actor, payload={"now": moved.isoformat()}
        )
    return ClockRead(manual=True, now=moved)
