"""POST /api/v1/messages: the one door every channel comes in by."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Depends, Query, Response
from fastapi.concurrency import run_in_threadpool

from cuida.channels.registry import CHANNELS
from cuida.common.errors import Invalid
from cuida.conversations.schemas import MessageRead
from cuida.ingest import service
from cuida.ingest.schemas import Accepted, BatchAccepted, BatchIn, MessageIn
from cuida.runtime import Runtime
from cuida.web.deps import Principal, get_runtime, require

router = APIRouter(prefix="/api/v1", tags=["messages"])


def _accept(runtime: Runtime, items: list[MessageIn], principal: Principal) -> list[Accepted]:
    with runtime.db.session() as session:
        results = service.accept(session=session, items=items, actor=principal.actor)
    # Enqueue after commit: a job must never see a message that is not there yet.
    fresh = [r.message_id for r in results if not r.duplicate and r.stage != "done"]
    if fresh:
        runtime.enqueue_messages(fresh)
    return results


async def _wait_done(runtime: Runtime, accepted: Accepted, seconds: float) -> Accepted:
    deadline = time.monotonic() + seconds
    while accepted.stage != "done" and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
        accepted = await run_in_threadpool(_reload, runtime, accepted)
    return accepted


def _reload(runtime: Runtime, accepted: Accepted) -> Accepted:
    with runtime.db.sessions() as session:
        message = service.get_message(session=session, message_id=accepted.message_id)
        return Accepted(
            message_id=message.id,
            conversation_id=message.conversation_id,
            customer_id=message.customer_id,
            stage=message.stage,
            duplicate=accepted.duplicate,
        )


@router.post(
    "/messages",
    response_model=Accepted,
    status_code=202,
    responses={200: {"description": "Already stored: the first copy's ids."}},
)
async def post_message(
    item: MessageIn,
    response: Response,
    wait: float = Query(0, ge=0, le=10, description="Seconds to wait for linking, threading and triage."),
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("messages:write")),
) -> Accepted:
    [accepted] = await run_in_threadpool(_accept, runtime, [item], principal)
    if wait:
        accepted = await _wait_done(runtime, accepted, wait)
    response.status_code = 200 if accepted.duplicate else 202
    response.headers["Location"] = f"/api/v1/messages/{accepted.message_id}"
    return accepted


@router.post("/messages/batch", response_model=BatchAccepted, status_code=202)
def post_batch(
    batch: BatchIn,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("messages:write")),
) -> BatchAccepted:
    limit = runtime.settings.max_batch
    if len(batch.messages) > limit:
        raise Invalid(
            f"a batch holds at most {limit} messages; this one has {len(batch.messages)}", field="messages"
        )
    results = _accept(runtime, batch.messages, principal)
    duplicates = sum(r.duplicate for r in results)
    return BatchAccepted(items=results, stored=len(results) - duplicates, duplicates=duplicates)


@router.get("/messages/{message_id}", response_model=MessageRead)
def get_message(
    message_id: int,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("messages:read")),
) -> MessageRead:
    with runtime.db.sessions() as session:
        return MessageRead.model_validate(service.get_message(session=session, message_id=message_id))


@router.get("/channels", tags=["messages"])
def list_channels(principal: Principal = Depends(require("messages:read"))) -> dict[str, str]:
    """The channel names messages may carry, with their labels."""
    return CHANNELS
