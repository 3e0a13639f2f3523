"""Admin routes of channel accounts: /api/v1/channels/accounts. (GET /api/v1/channels itself
lists the channel names messages may carry.)"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool

from cuida.channels import service
from cuida.channels.schemas import (
    ChannelAccountCreate,
    ChannelAccountRead,
    ChannelAccountUpdate,
    ChannelHealth,
    PollAnswer,
)
from cuida.runtime import Runtime
from cuida.web.deps import Principal, get_runtime, require

router = APIRouter(prefix="/api/v1/channels/accounts", tags=["channels"])
SCOPE = "channels:manage"


@router.get("", response_model=list[ChannelAccountRead])
def list_channel_accounts(
    kind: str | None = Query(None, description="Only accounts of this kind, e.g. email"),
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require(SCOPE)),
) -> list[ChannelAccountRead]:
    """Every configured channel account with its health; secrets are never shown."""
    with runtime.db.sessions() as session:
        return [service.read(a) for a in service.list_accounts(session=session, kind=kind)]


@router.post("", response_model=ChannelAccountRead, status_code=201)
def create_channel_account(
    data: ChannelAccountCreate,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require(SCOPE)),
) -> ChannelAccountRead:
    """A new account, e.g. a mailbox: {"kind": "email", "name": ..., "config": {"address",
    "imap_host", "smtp_host", ...}, "secrets": {"imap_password", "smtp_password"}}."""
    with runtime.db.session() as session:
        return service.read(service.create_account(session=session, data=data, actor=principal.actor))


@router.get("/{account_id}", response_model=ChannelAccountRead)
def get_channel_account(
    account_id: int, runtime: Runtime = Depends(get_runtime), principal: Principal = Depends(require(SCOPE))
) -> ChannelAccountRead:
    with runtime.db.sessions() as session:
        return service.read(service.get_account(session=session, account_id=account_id))


@router.patch("/{account_id}", response_model=ChannelAccountRead)
def update_channel_account(
    account_id: int,
    data: ChannelAccountUpdate,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require(SCOPE)),
) -> ChannelAccountRead:
    """Change name, settings (merged key by key), secrets or enabled."""
    with runtime.db.session() as session:
        account = service.update_account(
            session=session, account_id=account_id, data=data, actor=principal.actor
        )
        return service.read(account)


@router.get("/{account_id}/health", response_model=ChannelHealth)
def channel_account_health(
    account_id: int, runtime: Runtime = Depends(get_runtime), principal: Principal = Depends(require(SCOPE))
) -> ChannelHealth:
    """Last success, last error and backlog (what was waiting at the source after the last poll)."""
    with runtime.db.sessions() as session:
        return ChannelHealth.model_validate(service.get_account(session=session, account_id=account_id))


@router.post("/{account_id}/poll", response_model=PollAnswer)
async def poll_channel_account(
    account_id: int, runtime: Runtime = Depends(get_runtime), principal: Principal = Depends(require(SCOPE))
) -> PollAnswer:
    """Poll now instead of waiting for the next turn (answers polled=false if a worker is at it)."""
    answer: PollAnswer = await run_in_threadpool(service.poll_now, runtime, account_id)
    return answer
