"""The event log, as a page (`?after=N`) and as a live Server-Sent Events stream."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from cuida.events.service import event_as_dict, events_after
from cuida.runtime import Runtime
from cuida.web.deps import Principal, get_runtime, require

router = APIRouter(prefix="/api/v1/events", tags=["events"])
HEARTBEAT_SECONDS = 15.0
POLL_SECONDS = 2.0  # other processes' events are found at least this often


def _page(runtime: Runtime, after: int, limit: int, types: list[str] | None) -> list[dict[str, Any]]:
    with runtime.db.sessions() as session:
        return [
            event_as_dict(e) for e in events_after(session=session, after=after, limit=limit, types=types)
        ]


@router.get("")
def list_events(
    after: int = Query(0, ge=0),
    limit: int = Query(200, ge=1, le=1000),
    type: list[str] | None = Query(None, description="Only these event types."),
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("events:read")),
) -> dict[str, Any]:
    items = _page(runtime, after, limit, type)
    return {"items": items, "last_id": items[-1]["id"] if items else after}


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"}},
)
async def stream(
    request: Request,
    after: int | None = Query(None, ge=0),
    last_event_id: str | None = Header(None),
    plain: bool = Query(
        False, description="Every event as an unnamed message (what EventSource.onmessage hears)."
    ),
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("events:read")),
) -> StreamingResponse:
    """Live events. A reconnecting browser sends Last-Event-ID and gets what it missed first."""
    # A reconnect's Last-Event-ID is newer than the ?after= the stream was first opened with.
    start = int(last_event_id) if last_event_id and last_event_id.isdigit() else after
    if start is None:
        # A new listener starts from now, not from the beginning of history.
        latest = await run_in_threadpool(_page_latest, runtime)
        start = latest

    async def events() -> AsyncIterator[str]:
        cursor = start
        seen_version = -1
        last_poll = 0.0
        last_beat = time.monotonic()
        yield "retry: 2000\n\n"
        while not await request.is_disconnected():
            nowm = time.monotonic()
            if runtime.broker.version != seen_version or nowm - last_poll >= POLL_SECONDS:
                seen_version = runtime.broker.version
                last_poll = nowm
                for item in await run_in_threadpool(_page, runtime, cursor, 500, None):
                    cursor = item["id"]
                    named = "" if plain else f"event: {item['type']}\n"
                    yield f"id: {item['id']}\n{named}data: {json.dumps(item)}\n\n"
                    last_beat = nowm
            if nowm - last_beat >= HEARTBEAT_SECONDS:
                yield ": keep-alive\n\n"
                last_beat = nowm
            await asyncio.sleep(0.1)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _page_latest(runtime: Runtime) -> int:
    from sqlalchemy import func, select

    from cuida.events.models import Event

    with runtime.db.sessions() as session:
        return int(session.scalar(select(func.max(Event.id))) or 0)
