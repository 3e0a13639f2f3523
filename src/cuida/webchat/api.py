"""The widget's admin API (`channels:manage`), the script itself (`/widget.js`) and the public
endpoints the script calls (`/api/v1/widget/{key}/...`: no login; the page's Origin must be one
of the widget's allowed origins, which is also the only origin CORS answers)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, StreamingResponse
from fastapi.routing import APIRoute

from cuida.common.errors import CuidaError
from cuida.runtime import Runtime
from cuida.web.deps import Principal, get_runtime, require
from cuida.webchat import service
from cuida.webchat.ratelimit import RateLimited
from cuida.webchat.schemas import (
    FeedItem,
    IdentifyIn,
    PublicConfig,
    SessionRead,
    VisitorMessageIn,
    VisitorMessageOut,
    WidgetCreate,
    WidgetRead,
    WidgetUpdate,
)

SCRIPT = Path(__file__).parent / "static" / "widget.js"
VISITOR_HEADER = "X-Cuida-Visitor"
HEARTBEAT_SECONDS = 15.0
POLL_SECONDS = 1.0  # replies committed by another process are found at least this often

# --- admin ---------------------------------------------------------------------------------------

router = APIRouter(prefix="/api/v1/webchat/widgets", tags=["webchat"])


def _base(request: Request) -> str:
    return str(request.base_url)


@router.get("", response_model=list[WidgetRead])
def list_widgets(
    request: Request,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("channels:manage")),
) -> list[WidgetRead]:
    with runtime.db.sessions() as session:
        return [service.read(w, _base(request)) for w in service.list_widgets(session=session)]


@router.post("", response_model=WidgetRead, status_code=201)
def create_widget(
    data: WidgetCreate,
    request: Request,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("channels:manage")),
) -> WidgetRead:
    with runtime.db.session() as session:
        widget = service.create_widget(session=session, data=data, actor=principal.actor)
        return service.read(widget, _base(request))


@router.get("/{widget_id}", response_model=WidgetRead)
def get_widget(
    widget_id: int,
    request: Request,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("channels:manage")),
) -> WidgetRead:
    with runtime.db.sessions() as session:
        return service.read(service.get_widget(session=session, widget_id=widget_id), _base(request))


@router.patch("/{widget_id}", response_model=WidgetRead)
def update_widget(
    widget_id: int,
    data: WidgetUpdate,
    request: Request,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("channels:manage")),
) -> WidgetRead:
    with runtime.db.session() as session:
        widget = service.update_widget(session=session, widget_id=widget_id, data=data, actor=principal.actor)
        return service.read(widget, _base(request))


# --- the script ----------------------------------------------------------------------------------

script = APIRouter(tags=["webchat"])


@script.get("/widget.js", include_in_schema=False)
def widget_js() -> FileResponse:
    # Short cache: a fixed script reaches every site within minutes.
    return FileResponse(
        SCRIPT,
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"},
    )


# --- public endpoints ------------------------------------------------------------------------------


class _PublicRoute(APIRoute):
    """Errors answered here (not by the app's handlers) so they carry the CORS headers too: the
    widget must be able to read "429, try again in 3 s" or "this message is too long"."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                response = await handler(request)
            except (CuidaError, RequestValidationError) as exc:
                kind = RequestValidationError if isinstance(exc, RequestValidationError) else CuidaError
                on_error = request.app.exception_handlers[kind]
                response = await on_error(request, exc)
                if isinstance(exc, RateLimited):
                    response.headers["Retry-After"] = str(exc.retry_after)
            origin = getattr(request.state, "cors_origin", None)
            if origin:
                response.headers["Access-Control-Allow-Origin"] = origin
                response.headers["Access-Control-Expose-Headers"] = "Retry-After"
                response.headers["Vary"] = "Origin"
            return response

        return answer


public = APIRouter(prefix="/api/v1/widget", tags=["webchat"], route_class=_PublicRoute)


@dataclass(frozen=True)
class Caller:
    widget_id: int
    ip: str | None


def _widget(runtime: Runtime, key: str, origin: str | None) -> int:
    with runtime.db.sessions() as session:
        widget = service.widget_by_key(session=session, key=key)
        service.check_origin(widget, origin)
        return widget.id


def caller(request: Request, key: str, runtime: Runtime = Depends(get_runtime)) -> Caller:
    """The widget behind `key`, if the calling page's origin may use it (else 403, no CORS)."""
    origin = request.headers.get("origin")
    widget_id = _widget(runtime, key, origin)
    request.state.cors_origin = origin
    return Caller(widget_id, request.client.host if request.client else None)


@public.options("/{key}/{rest:path}", include_in_schema=False, status_code=204)
def preflight(call: Caller = Depends(caller)) -> Response:
    return Response(
        status_code=204,
        headers={
            "Access-Control-Allow-Methods": "GET, POST",
            "Access-Control-Allow-Headers": f"Content-Type, {VISITOR_HEADER}",
            "Access-Control-Max-Age": "600",
        },
    )


@public.get("/{key}/config", response_model=PublicConfig)
def config(
    lang: str | None = Query(None, max_length=35, description="The page's language (es, en)."),
    call: Caller = Depends(caller),
    runtime: Runtime = Depends(get_runtime),
) -> PublicConfig:
    with runtime.db.sessions() as session:
        widget = service.get_widget(session=session, widget_id=call.widget_id)
        return service.public_config(session=session, widget=widget, lang=lang)


def _session_read(visitor: Any, token: str | None, online: bool) -> SessionRead:
    return SessionRead(
        token=token, visitor=visitor.handle, name=visitor.name, email=visitor.email, online=online
    )


@public.post("/{key}/sessions", response_model=SessionRead)
def start_session(
    response: Response,
    token: str | None = Header(None, alias=VISITOR_HEADER),
    call: Caller = Depends(caller),
    runtime: Runtime = Depends(get_runtime),
) -> SessionRead:
    """A new visitor (201, with the token to keep) or the one whose token is sent (200)."""
    with runtime.db.session() as session:
        widget = service.get_widget(session=session, widget_id=call.widget_id)
        visitor, secret = service.start_session(session=session, widget=widget, token=token, ip=call.ip)
        response.status_code = 201 if secret else 200
        return _session_read(visitor, secret, service.is_online(session=session, widget=widget))


@public.post("/{key}/identify", response_model=SessionRead)
def identify(
    data: IdentifyIn,
    token: str | None = Header(None, alias=VISITOR_HEADER),
    call: Caller = Depends(caller),
    runtime: Runtime = Depends(get_runtime),
) -> SessionRead:
    with runtime.db.session() as session:
        widget = service.get_widget(session=session, widget_id=call.widget_id)
        visitor = service.visitor_for(session=session, widget=widget, token=token)
        service.identify(session=session, visitor=visitor, data=data)
        return _session_read(visitor, None, service.is_online(session=session, widget=widget))


@public.post("/{key}/messages", response_model=VisitorMessageOut, status_code=202)
def post_message(
    data: VisitorMessageIn,
    token: str | None = Header(None, alias=VISITOR_HEADER),
    call: Caller = Depends(caller),
    runtime: Runtime = Depends(get_runtime),
) -> VisitorMessageOut:
    with runtime.db.session() as session:
        widget = service.get_widget(session=session, widget_id=call.widget_id)
        visitor = service.visitor_for(session=session, widget=widget, token=token)
        out, fresh = service.post_message(
            session=session, widget=widget, visitor=visitor, data=data, ip=call.ip
        )
    # Enqueue after commit: a job must never see a message that is not there yet.
    if fresh:
        runtime.enqueue_messages(fresh)
    return out


def _visitor_id(runtime: Runtime, widget_id: int, token: str | None) -> int:
    with runtime.db.sessions() as session:
        widget = service.get_widget(session=session, widget_id=widget_id)
        return service.visitor_for(session=session, widget=widget, token=token).id


def _feed(runtime: Runtime, visitor_id: int, after: int | None) -> list[FeedItem]:
    with runtime.db.sessions() as session:
        return service.feed_after(session=session, visitor_id=visitor_id, after=after)


@public.get("/{key}/feed", response_model=list[FeedItem])
def feed(
    after: int | None = Query(None, ge=0),
    token: str | None = Query(None, description="The visitor token (or the X-Cuida-Visitor header)."),
    header_token: str | None = Header(None, alias=VISITOR_HEADER),
    call: Caller = Depends(caller),
    runtime: Runtime = Depends(get_runtime),
) -> list[FeedItem]:
    """The visitor's chat lines after `after` (for clients that cannot hold a stream)."""
    return _feed(runtime, _visitor_id(runtime, call.widget_id, header_token or token), after)


@public.get(
    "/{key}/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"}},
)
async def stream(
    request: Request,
    token: str | None = Query(None, description="The visitor token: EventSource cannot send headers."),
    after: int | None = Query(None, ge=0),
    last_event_id: str | None = Header(None),
    call: Caller = Depends(caller),
    runtime: Runtime = Depends(get_runtime),
) -> StreamingResponse:
    """This visitor's chat lines, live; only theirs. A reconnect's Last-Event-ID resumes it."""
    visitor_id = await run_in_threadpool(_visitor_id, runtime, call.widget_id, token)
    start = int(last_event_id) if last_event_id and last_event_id.isdigit() else after

    async def lines() -> AsyncIterator[str]:
        cursor = start
        seen_version = -1
        last_poll = 0.0
        last_beat = time.monotonic()
        yield "retry: 2000\n\n"
        while not await request.is_disconnected():
            moment = time.monotonic()
            if runtime.broker.version != seen_version or moment - last_poll >= POLL_SECONDS:
                seen_version = runtime.broker.version
                last_poll = moment
                items = await run_in_threadpool(_feed, runtime, visitor_id, cursor)
                for item in items:
                    yield f"id: {item.id}\ndata: {json.dumps(item.model_dump(mode='json'))}\n\n"
                    last_beat = moment
                cursor = items[-1].id if items else (cursor if cursor is not None else 0)
            if moment - last_beat >= HEARTBEAT_SECONDS:
                yield ": keep-alive\n\n"
                last_beat = moment
            await asyncio.sleep(0.1)

    return StreamingResponse(
        lines(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
