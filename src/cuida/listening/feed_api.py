"""JSON routes of brand listening sources: terms, feeds (with poll-now) and the mentions import."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from cuida.common.errors import Invalid
from cuida.listening import feeds, mention_import
from cuida.listening.feed_schemas import (
    FeedCreate,
    FeedRead,
    FeedUpdate,
    ImportResult,
    PollDetail,
    TermCreate,
    TermRead,
    TermUpdate,
)
from cuida.runtime import Runtime
from cuida.web.deps import Principal, get_runtime, require
from cuida.web.errors import error_body

router = APIRouter(prefix="/api/v1/listening", tags=["listening"])
MAX_IMPORT_BYTES = 20 * 1024 * 1024


# -- terms ----------------------------------------------------------------------------------------


@router.get("/terms", response_model=list[TermRead])
def list_terms(
    runtime: Runtime = Depends(get_runtime), principal: Principal = Depends(require("listening:read"))
) -> list[TermRead]:
    with runtime.db.sessions() as session:
        return [TermRead.model_validate(t) for t in feeds.list_terms(session=session)]


@router.post("/terms", response_model=TermRead, status_code=201)
def create_term(
    data: TermCreate,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("listening:manage")),
) -> TermRead:
    """A word or phrase naming the brand, with the phrases that mean something else."""
    with runtime.db.session() as session:
        return TermRead.model_validate(feeds.create_term(session=session, data=data, actor=principal.actor))


@router.patch("/terms/{term_id}", response_model=TermRead)
def update_term(
    term_id: int,
    data: TermUpdate,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("listening:manage")),
) -> TermRead:
    with runtime.db.session() as session:
        term = feeds.update_term(session=session, term_id=term_id, data=data, actor=principal.actor)
        return TermRead.model_validate(term)


@router.delete("/terms/{term_id}", status_code=204)
def delete_term(
    term_id: int,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("listening:manage")),
) -> Response:
    with runtime.db.session() as session:
        feeds.delete_term(session=session, term_id=term_id, actor=principal.actor)
    return Response(status_code=204)


# -- feeds ----------------------------------------------------------------------------------------


@router.get("/feeds", response_model=list[FeedRead])
def list_feeds(
    runtime: Runtime = Depends(get_runtime), principal: Principal = Depends(require("listening:read"))
) -> list[FeedRead]:
    """Feeds with their health: last poll, last error, what they brought."""
    with runtime.db.sessions() as session:
        return [FeedRead.model_validate(f) for f in feeds.list_feeds(session=session)]


@router.get("/feeds/{feed_id}", response_model=FeedRead)
def get_feed(
    feed_id: int,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("listening:read")),
) -> FeedRead:
    with runtime.db.sessions() as session:
        return FeedRead.model_validate(feeds.get_feed(session=session, feed_id=feed_id))


@router.post("/feeds", response_model=FeedRead, status_code=201)
def create_feed(
    data: FeedCreate,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("listening:manage")),
) -> FeedRead:
    """An RSS or Atom feed to poll for mentions; the first poll is due at once."""
    with runtime.db.session() as session:
        return FeedRead.model_validate(feeds.create_feed(session=session, data=data, actor=principal.actor))


@router.patch("/feeds/{feed_id}", response_model=FeedRead)
def update_feed(
    feed_id: int,
    data: FeedUpdate,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("listening:manage")),
) -> FeedRead:
    with runtime.db.session() as session:
        feed = feeds.update_feed(session=session, feed_id=feed_id, data=data, actor=principal.actor)
        return FeedRead.model_validate(feed)


@router.delete("/feeds/{feed_id}", status_code=204)
def delete_feed(
    feed_id: int,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("listening:manage")),
) -> Response:
    """Stop polling it; the mentions it brought stay."""
    with runtime.db.session() as session:
        feeds.delete_feed(session=session, feed_id=feed_id, actor=principal.actor)
    return Response(status_code=204)


@router.post("/feeds/{feed_id}/poll", response_model=PollDetail)
def poll_feed(
    feed_id: int,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("listening:manage")),
) -> PollDetail:
    """Poll now, in this request. A failure is not an error answer: it is in `result.error` and on
    the feed, as it would be after a scheduled poll."""
    result = feeds.poll_now(runtime, feed_id)
    with runtime.db.sessions() as session:
        return PollDetail(
            result=result, feed=FeedRead.model_validate(feeds.get_feed(session=session, feed_id=feed_id))
        )


# -- import ---------------------------------------------------------------------------------------


def _format(request: Request, given: str | None) -> str:
    if given:
        return given
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in ("text/csv", "application/csv", "text/tab-separated-values"):
        return "csv"
    if content_type in ("application/json", "text/json") or content_type.endswith("+json"):
        return "json"
    raise Invalid(
        f"send the export as text/csv or application/json (or say ?format=csv|json), not {content_type or 'nothing'}",
        field="content-type",
    )


@router.post(
    "/imports",
    response_model=ImportResult,
    responses={422: {"description": "No row could be imported; the errors name each row."}},
)
async def import_mentions(
    request: Request,
    format: Literal["csv", "json"] | None = Query(default=None, description="Overrides the Content-Type."),
    source: str | None = Query(default=None, max_length=300, description="A name for the export (a file)."),
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("listening:write")),
) -> ImportResult | JSONResponse:
    """Mentions exported from social networks or listening tools: a JSON list of objects or a CSV
    with a header (author, followers, text, link, time, and counts such as reshares, replies, likes,
    views). Each readable row is a mention (a post already imported, by its link, is not stored
    twice; its changed counts are a new snapshot). Rows that cannot be read are reported with their
    number and quarantined; the answer is 422 only when no row could be imported."""
    fmt = _format(request, format)
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_IMPORT_BYTES:
        raise Invalid(f"an import holds at most {MAX_IMPORT_BYTES // (1024 * 1024)} MB", field="body")
    body = await request.body()
    if len(body) > MAX_IMPORT_BYTES:
        raise Invalid(f"an import holds at most {MAX_IMPORT_BYTES // (1024 * 1024)} MB", field="body")
    return await run_in_threadpool(_import, runtime, body, fmt, source, principal)


def _import(
    runtime: Runtime, body: bytes, fmt: str, source: str | None, principal: Principal
) -> ImportResult | JSONResponse:
    rows = mention_import.read_rows(body, fmt)
    if len(rows) > mention_import.MAX_ROWS:
        raise Invalid(
            f"an import holds at most {mention_import.MAX_ROWS} rows; this one has {len(rows)} "
            "(split it, or use `cuida import-mentions`)",
            field="body",
        )
    with runtime.db.session() as session:
        result = mention_import.import_rows(
            session=session, rows=rows, actor=principal.actor, source=source, fmt=fmt
        )
    if result.message_ids:
        runtime.enqueue_messages(result.message_ids)
    if result.stored + result.duplicates == 0:
        fields = [
            {"field": f"rows[{e.row}].{err['field']}", "message": err["message"]}
            for e in result.errors
            for err in e.errors
        ]
        answer = error_body(
            "no_valid_rows", f"none of the {result.rows} rows could be imported", fields[:200]
        )
        answer["error"]["report"] = result.model_dump(mode="json")
        return JSONResponse(answer, status_code=422)
    return result
