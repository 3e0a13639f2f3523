"""JSON routes of the quarantine domain and the signed inbound webhook."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from cuida.common.errors import Conflict, CuidaError, Forbidden, Invalid, NotFound, Unauthorized
from cuida.quarantine import service
from cuida.quarantine.models import InboundWebhook, QuarantinedPayload
from cuida.quarantine.schemas import (
    QUARANTINE_STATUSES,
    InboundWebhookCreate,
    InboundWebhookCreated,
    InboundWebhookRead,
    QuarantineDetail,
    QuarantinePage,
    QuarantineRead,
    ReprocessAnswer,
    ReprocessIn,
    RotateIn,
    WebhookAnswer,
    webhook_payload_schema,
)
from cuida.runtime import Runtime
from cuida.web.deps import Principal, get_runtime, require

router = APIRouter(prefix="/api/v1", tags=["channels"])

VIEW_SCOPE = "messages:read"
ACT_SCOPE = "conversations:write"
RAW_TEXT_LIMIT = 1_000_000


# --- webhook channels (admin) --------------------------------------------------------------------


def _webhook(hook: InboundWebhook) -> InboundWebhookRead:
    return InboundWebhookRead.model_validate(
        {
            **{c: getattr(hook, c) for c in InboundWebhookRead.model_fields if c != "url"},
            "url": f"/api/v1/webhooks/{hook.slug}",
        }
    )


def _with_secret(hook: InboundWebhook, secret: str) -> InboundWebhookCreated:
    return InboundWebhookCreated(**_webhook(hook).model_dump(), secret=secret)


@router.get("/inbound-webhooks", response_model=list[InboundWebhookRead], tags=["admin"])
def list_inbound_webhooks(
    runtime: Runtime = Depends(get_runtime), principal: Principal = Depends(require("admin"))
) -> list[InboundWebhookRead]:
    """Every inbound webhook channel with its health (last success, last error)."""
    with runtime.db.sessions() as session:
        return [_webhook(h) for h in service.list_webhooks(session=session)]


@router.post("/inbound-webhooks", response_model=InboundWebhookCreated, status_code=201, tags=["admin"])
def create_inbound_webhook(
    data: InboundWebhookCreate,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("admin")),
) -> InboundWebhookCreated:
    """A new signed endpoint, POST /api/v1/webhooks/{slug}. The secret is shown only in this answer."""
    with runtime.db.session() as session:
        hook, secret = service.create_webhook(session=session, data=data, actor=principal.actor)
        return _with_secret(hook, secret)


@router.get("/inbound-webhooks/{webhook_id}", response_model=InboundWebhookRead, tags=["admin"])
def get_inbound_webhook(
    webhook_id: int, runtime: Runtime = Depends(get_runtime), principal: Principal = Depends(require("admin"))
) -> InboundWebhookRead:
    with runtime.db.sessions() as session:
        return _webhook(service.get_webhook(session=session, webhook_id=webhook_id))


@router.post("/inbound-webhooks/{webhook_id}/rotate", response_model=InboundWebhookCreated, tags=["admin"])
def rotate_inbound_webhook_secret(
    webhook_id: int,
    data: RotateIn | None = None,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("admin")),
) -> InboundWebhookCreated:
    """A new secret, shown only here; the old one stops at once unless `grace_seconds` is given."""
    with runtime.db.session() as session:
        hook, secret = service.rotate_secret(
            session=session,
            webhook_id=webhook_id,
            grace_seconds=(data or RotateIn()).grace_seconds,
            actor=principal.actor,
        )
        return _with_secret(hook, secret)


@router.post("/inbound-webhooks/{webhook_id}/disable", response_model=InboundWebhookRead, tags=["admin"])
def disable_inbound_webhook(
    webhook_id: int, runtime: Runtime = Depends(get_runtime), principal: Principal = Depends(require("admin"))
) -> InboundWebhookRead:
    """Deliveries are refused (403) until it is enabled again."""
    with runtime.db.session() as session:
        return _webhook(
            service.set_active(session=session, webhook_id=webhook_id, active=False, actor=principal.actor)
        )


@router.post("/inbound-webhooks/{webhook_id}/enable", response_model=InboundWebhookRead, tags=["admin"])
def enable_inbound_webhook(
    webhook_id: int, runtime: Runtime = Depends(get_runtime), principal: Principal = Depends(require("admin"))
) -> InboundWebhookRead:
    with runtime.db.session() as session:
        return _webhook(
            service.set_active(session=session, webhook_id=webhook_id, active=True, actor=principal.actor)
        )


# --- the signed endpoint -------------------------------------------------------------------------

WEBHOOK_DESCRIPTION = """Any system may push messages here, authenticated by signature instead of
a bearer token. Each request carries

- `X-Cuida-Timestamp`: the unix time (seconds) when it was signed; more than 5 minutes away from
  the server's time is refused (401);
- `X-Cuida-Signature`: `sha256=` + hex HMAC-SHA256, keyed with the webhook's secret, of
  `{timestamp}.{raw body}` (the exact bytes sent). A wrong or missing signature is refused (401)
  and logged as the event `webhook.rejected`; the same signature again within 10 minutes is a
  replay (409).

The body is one message or `{"messages": [...]}` (see the schema; `channel` may be omitted and
is the webhook's). Messages are idempotent on (channel, `external_id`): delivering the same one
again returns the stored message with `duplicate: true`. A signed body that cannot be read (not
UTF-8, not JSON, wrong fields) is kept in the quarantine with the reason and answered 202 with
`{"quarantined": id, "reason": ...}`: do not retry it, it is not lost. In a batch, the readable
messages are stored and only the others are quarantined (`quarantined_indexes`). Bodies over
CUIDA_MAX_BODY_BYTES get 413.

Signing in Python:

    body = json.dumps(message).encode()
    ts = str(int(time.time()))
    sig = "sha256=" + hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
"""


class Replay(Conflict):
    code = "replay"


def _receive(runtime: Runtime, slug: str, request: Request, body: bytes) -> service.Received:
    with runtime.db.session() as session:
        received = service.receive(
            session=session,
            slug=slug,
            timestamp=request.headers.get(service.TIMESTAMP_HEADER),
            signature=request.headers.get(service.SIGNATURE_HEADER),
            body=body,
            content_type=request.headers.get("content-type"),
            remote=request.client.host if request.client else None,
            max_items=runtime.settings.max_batch,
        )
    # Enqueue after commit, as POST /messages does: a job must never see a message not there yet.
    if received.fresh_ids:
        runtime.enqueue_messages(received.fresh_ids)
    return received


def _raise(received: service.Received) -> None:
    error: CuidaError
    if received.status_code == 409:
        error = Replay(received.message)
    elif received.status_code == 403:
        error = Forbidden(received.message)
    elif received.status_code == 404:
        error = NotFound(received.message)
    else:
        error = Unauthorized(received.message)
    if received.code:
        error.details = {"reason": received.code}
    raise error


@router.post(
    "/webhooks/{slug}",
    response_model=WebhookAnswer,
    status_code=202,
    summary="Receive signed messages (inbound webhook)",
    description=WEBHOOK_DESCRIPTION,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": webhook_payload_schema()}},
        }
    },
    responses={
        200: {"description": "One message, already stored: the first copy's ids."},
        401: {"description": "Missing or wrong signature, or a timestamp too far from now."},
        403: {"description": "The webhook is disabled."},
        404: {"description": "No webhook with this slug."},
        409: {"description": "Replay: this signature was already received."},
        413: {"description": "The body is over the size limit."},
    },
)
async def receive_webhook(
    slug: str, request: Request, response: Response, runtime: Runtime = Depends(get_runtime)
) -> WebhookAnswer:
    body = await request.body()
    received = await run_in_threadpool(_receive, runtime, slug, request, body)
    if received.answer is None:
        _raise(received)
    assert received.answer is not None
    response.status_code = received.status_code
    return received.answer


# --- the quarantine ------------------------------------------------------------------------------


def _read(row: QuarantinedPayload) -> QuarantineRead:
    return QuarantineRead.model_validate(row)


@router.get("/quarantine", response_model=QuarantinePage)
def list_quarantine(
    status: str | None = Query(None, description="new, reprocessed or discarded"),
    source: str | None = Query(None, description="webhook, or an adapter's name"),
    webhook_id: int | None = None,
    cursor: str | None = None,
    limit: int = Query(50, ge=1, le=200),
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require(VIEW_SCOPE)),
) -> QuarantinePage:
    """Payloads that could not be read, newest first."""
    if status is not None and status not in QUARANTINE_STATUSES:
        raise Invalid(f"status is one of {', '.join(QUARANTINE_STATUSES)}", field="status")
    with runtime.db.sessions() as session:
        rows, next_cursor = service.list_quarantine(
            session=session, status=status, source=source, webhook_id=webhook_id, cursor=cursor, limit=limit
        )
        return QuarantinePage(items=[_read(r) for r in rows], next_cursor=next_cursor)


@router.get("/quarantine/{quarantine_id}", response_model=QuarantineDetail)
def get_quarantined(
    quarantine_id: int,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require(VIEW_SCOPE)),
) -> QuarantineDetail:
    """One entry with its raw payload as text (bytes that are not UTF-8 shown as \\xNN)."""
    with runtime.db.sessions() as session:
        row = service.get_quarantined(session=session, quarantine_id=quarantine_id)
        raw = bytes(row.raw)
        try:
            raw.decode("utf-8")
            is_utf8 = True
        except UnicodeDecodeError:
            is_utf8 = False
        return QuarantineDetail(
            **_read(row).model_dump(),
            details=row.details or {},
            raw_text=raw[:RAW_TEXT_LIMIT].decode("utf-8", errors="backslashreplace"),
            raw_is_utf8=is_utf8,
            raw_truncated=len(raw) > RAW_TEXT_LIMIT,
        )


@router.get(
    "/quarantine/{quarantine_id}/raw",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "The bytes as received."}},
)
def get_quarantined_raw(
    quarantine_id: int,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require(VIEW_SCOPE)),
) -> Response:
    """The payload exactly as it arrived, as a download (never rendered)."""
    with runtime.db.sessions() as session:
        row = service.get_quarantined(session=session, quarantine_id=quarantine_id)
        return Response(
            content=bytes(row.raw),
            media_type="application/octet-stream",
            headers={
                "Content-Disposition": f'attachment; filename="quarantine-{row.id}.bin"',
                "X-Content-Type-Options": "nosniff",
            },
        )


@router.post("/quarantine/{quarantine_id}/reprocess", response_model=ReprocessAnswer)
def reprocess_quarantined(
    quarantine_id: int,
    data: ReprocessIn | None = None,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require(ACT_SCOPE)),
) -> ReprocessAnswer:
    """Run it through ingest again: as stored, or with `payload` (a corrected message or
    {"messages": [...]}). If it still cannot be read the answer is 422 and the attempt is recorded."""
    with runtime.db.session() as session:
        result = service.reprocess(
            session=session,
            quarantine_id=quarantine_id,
            corrected=data.payload if data else None,
            actor=principal.actor,
            max_items=runtime.settings.max_batch,
        )
        answer = ReprocessAnswer(quarantine=_read(result.row), items=result.items)
    if result.error is not None:
        error = Invalid(result.error)
        if result.errors:
            error.details = {"fields": [{**e, "field": e["field"] or "payload"} for e in result.errors]}
        raise error
    if result.fresh_ids:
        runtime.enqueue_messages(result.fresh_ids)
    return answer


@router.post("/quarantine/{quarantine_id}/discard", response_model=QuarantineRead)
def discard_quarantined(
    quarantine_id: int,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require(ACT_SCOPE)),
) -> QuarantineRead:
    """Not worth a message (spam, a test). The payload is kept and can still be reprocessed."""
    with runtime.db.session() as session:
        return _read(service.discard(session=session, quarantine_id=quarantine_id, actor=principal.actor))
