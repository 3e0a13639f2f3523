"""An agent's notifications."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict

from cuida.common.errors import Forbidden
from cuida.notifications import service
from cuida.runtime import Runtime
from cuida.web.deps import Principal, authenticated, get_runtime

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"])


class NotificationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: str
    text: str
    conversation_id: int | None
    customer_id: int | None
    payload: dict[str, Any]
    created_at: datetime
    read_at: datetime | None


def _agent(principal: Principal) -> int:
    if principal.kind != "agent":
        raise Forbidden("notifications belong to agents; integration tokens have none")
    return principal.id


@router.get("", response_model=list[NotificationRead])
def my_notifications(
    runtime: Runtime = Depends(get_runtime), principal: Principal = Depends(authenticated)
) -> list[NotificationRead]:
    """The signed-in agent's unread notifications, newest first."""
    with runtime.db.sessions() as session:
        rows = service.unread(session=session, agent_id=_agent(principal))
        return [NotificationRead.model_validate(r) for r in rows]


@router.post("/{notification_id}/read", response_model=NotificationRead)
def read(
    notification_id: int,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(authenticated),
) -> NotificationRead:
    with runtime.db.session() as session:
        row = service.mark_read(session=session, agent_id=_agent(principal), notification_id=notification_id)
        return NotificationRead.model_validate(row)
