"""Importing social mentions: exports of social networks and listening tools (CSV or JSON), one
public post per row, each becoming a mention through ingest.

A row gives the author (and followers), the text, the link, the time and any engagement counts
(reshares, replies, likes, views...). Its link is its key (channel + normalised link as the message's
external id): importing the same export twice, or two exports that share posts, adds no mention
twice. The counts travel with the message (`metadata.engagement`) and become the mention's first
snapshot when listening records it; a row whose post is already a mention records its counts as a new
snapshot when they changed. A row that cannot be read is reported with its number and kept in the
quarantine with the reason; the rest of the file is imported.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from cuida.channels.registry import CHANNELS
from cuida.clock.service import now
from cuida.common.errors import CuidaError, Invalid
from cuida.conversations.models import Message
from cuida.customers.identity import IdentityError, identity_key
from cuida.events.models import Event
from cuida.events.service import Actor, publish, subscribe
from cuida.ingest.schemas import AuthorIn, MessageIn
from cuida.ingest.service import accept
from cuida.listening.feed_parse import link_key
from cuida.listening.feed_schemas import ImportResult, RowError
from cuida.listening.models import Mention
from cuida.listening.schemas import SnapshotIn
from cuida.listening.service import add_snapshot
from cuida.quarantine import service as quarantine
from cuida.quarantine.models import QuarantinedPayload

log = logging.getLogger(__name__)
QUARANTINE_SOURCE = "mentions_import"
DEFAULT_CHANNEL = "import"
MAX_ROWS = 5000  # per request; the CLI sends a file in chunks
COUNTS = ("reshares", "replies", "likes", "views", "quotes", "saves")
# Column names of common exports, folded to ours.
ALIASES: dict[str, tuple[str, ...]] = {
    "author": (
        "author",
        "handle",
        "username",
        "user",
        "screen_name",
        "author_handle",
        "account",
        "user_name",
    ),
    "author_name": ("author_name", "name", "display_name", "full_name", "author_display_name"),
    "followers": ("followers", "author_followers", "followers_count", "follower_count", "audience", "reach"),
    "text": ("text", "content", "message", "body", "post", "snippet", "full_text", "caption"),
    "link": ("link", "url", "permalink", "post_url", "post_link"),
    "time": ("time", "date", "published", "published_at", "posted_at", "created_at", "timestamp", "datetime"),
    "channel": ("channel", "network", "platform", "source", "social_network"),
    "observed_at": ("observed_at", "captured_at", "exported_at", "measured_at"),
    "reshares": ("reshares", "retweets", "shares", "reposts", "retweet_count", "share_count", "repost_count"),
    "replies": ("replies", "comments", "reply_count", "comment_count"),
    "likes": ("likes", "favorites", "favourites", "reactions", "like_count", "favorite_count"),
    "views": ("views", "impressions", "view_count", "plays", "video_views"),
    "quotes": ("quotes", "quote_count"),
    "saves": ("saves", "bookmarks", "save_count", "bookmark_count"),
}
_COLUMN = {alias: name for name, aliases in ALIASES.items() for alias in aliases}
NETWORKS = {"x": "twitter", "x.com": "twitter", "twitter.com": "twitter", "fb": "facebook", "ig": "instagram"}
_COUNT = re.compile(r"^(\d+(?:[.,]\d+)?)\s*([kKmM]?)$")


@dataclass
class Row:
    """One record of the file: its number (from 1), the CSV line it starts on, its values."""

    row: int
    values: Any
    line: int | None = None


@dataclass
class ParsedRow:
    message: MessageIn
    counts: dict[str, int]
    observed_at: datetime


# -- reading the file -----------------------------------------------------------------------------


def read_rows(content: bytes, fmt: str) -> list[Row]:
    """The records of a CSV or JSON export. Raises Invalid when the file as a whole cannot be read."""
    if fmt not in ("csv", "json"):
        raise Invalid(f"unknown format {fmt!r}: give csv or json", field="format")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Invalid(f"the file is not UTF-8 text (byte {exc.start})", field="body") from None
    if not text.strip():
        raise Invalid("the file is empty", field="body")
    return _json_rows(text) if fmt == "json" else _csv_rows(text)


def _json_rows(text: str) -> list[Row]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise Invalid(f"the file is not valid JSON: {exc}", field="body") from None
    if isinstance(data, dict):
        data = next(
            (data[k] for k in ("items", "mentions", "data", "posts") if isinstance(data.get(k), list)), None
        )
    if not isinstance(data, list):
        raise Invalid("give a JSON list of mentions (or an object with an 'items' list)", field="body")
    return [Row(row=i + 1, values=value) for i, value in enumerate(data)]


def _csv_rows(text: str) -> list[Row]:
    header = text.lstrip().splitlines()[0]
    delimiter = max(",;\t", key=header.count) if any(d in header for d in ",;\t") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    if not reader.fieldnames or not any(_key(name) in _COLUMN for name in reader.fieldnames if name):
        raise Invalid(
            "the CSV's first line must name its columns (author, followers, text, link, time, counts)",
            field="body",
        )
    rows = []
    try:
        line = reader.line_num + 1
        for index, record in enumerate(reader):
            values = {name: value for name, value in record.items() if name is not None}
            if record.get(None):
                values["__extra__"] = record[None]
            rows.append(Row(row=index + 1, values=values, line=line))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise Invalid(f"the CSV cannot be read at line {reader.line_num}: {exc}", field="body") from None
    return rows


def _key(name: str) -> str:
    return re.sub(r"[\s\-.]+", "_", name.strip().lower())


# -- one row --------------------------------------------------------------------------------------


class RowProblem(Exception):
    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


def _count(value: Any) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValueError("must be a number")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    else:
        raw = str(value).strip().replace("\u00a0", "").replace(" ", "")
        found = _COUNT.match(raw)
        if found and found.group(2):  # 12k, 1.2M
            number = int(
                float(found.group(1).replace(",", ".")) * (1000 if found.group(2) in "kK" else 10**6)
            )
        elif re.fullmatch(r"\d{1,3}([.,]\d{3})+|\d+", raw):  # 1,234 or 1.234: thousands
            number = int(re.sub(r"[.,]", "", raw))
        else:
            raise ValueError(f"{str(value)[:40]!r} is not a count")
    if number < 0 or number > 10**12:
        raise ValueError("must be between 0 and 10^12")
    return number


def _time(value: Any) -> datetime:
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > 10**11 else value  # milliseconds, as some exports give
        return datetime.fromtimestamp(seconds, UTC)
    raw = str(value).strip()
    if re.fullmatch(r"\d{9,13}", raw):
        return _time(int(raw))
    try:
        parsed = datetime.fromisoformat(raw.replace("z", "Z"))
    except ValueError:
        try:
            parsed = parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            raise ValueError(f"{raw[:40]!r} is not a date and time (use ISO 8601)") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # exports without a zone give UTC
    return parsed.astimezone(UTC)


def _columns(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, int]]:
    """Our names for the row's values; counts given under `counts`/`engagement` objects too."""
    named: dict[str, Any] = {}
    extra_counts: dict[str, Any] = {}
    for name, value in values.items():
        if not isinstance(name, str):
            continue
        key = _key(name)
        if key in ("counts", "engagement") and isinstance(value, dict):
            extra_counts.update({_key(str(k)): v for k, v in value.items()})
        elif key in _COLUMN and _COLUMN[key] not in named:
            named[_COLUMN[key]] = value
    return named, extra_counts


def parse_row(values: Any, *, at: datetime) -> ParsedRow:
    """The message a row becomes, its counts and when they were read. Raises RowProblem."""
    if not isinstance(values, dict):
        raise RowProblem([{"field": "row", "message": "a mention must be an object with named fields"}])
    named, extra = _columns(values)
    errors: list[dict[str, str]] = []

    def problem(name: str, message: str) -> None:
        errors.append({"field": name, "message": message})

    def text_of(name: str) -> str:
        value = named.get(name)
        return "" if value is None else str(value).strip()

    author, text, link = text_of("author"), text_of("text"), text_of("link")
    if not author:
        problem("author", "missing")
    if not text:
        problem("text", "missing")
    if not link:
        problem("link", "missing")
    elif urlsplit(link).scheme not in ("http", "https") or not urlsplit(link).netloc:
        problem("link", f"{link[:80]!r} is not a web address")
    network = text_of("channel").lower()
    channel = NETWORKS.get(network, network) if network else DEFAULT_CHANNEL
    if channel not in CHANNELS:
        channel = DEFAULT_CHANNEL
    if author:
        try:
            identity_key(channel, author)
        except IdentityError as exc:
            problem("author", str(exc))
    followers = None
    try:
        followers = _count(named.get("followers"))
    except ValueError as exc:
        problem("followers", str(exc))
    counts: dict[str, int] = {}
    for name, value in [*((n, named.get(n)) for n in COUNTS), *extra.items()]:
        try:
            number = _count(value)
        except ValueError as exc:
            problem(name, str(exc))
            continue
        if number is not None and re.fullmatch(r"[a-z][a-z0-9_]{0,31}", name):
            counts[name] = number
    posted = None
    if named.get("time") in (None, ""):
        problem("time", "missing")
    else:
        try:
            posted = _time(named["time"])
        except (ValueError, OverflowError, OSError) as exc:
            problem("time", str(exc))
        else:
            if posted > at + timedelta(minutes=5):
                problem("time", f"{posted.isoformat()} is in the future")
    observed = at
    if named.get("observed_at") not in (None, ""):
        try:
            observed = min(_time(named["observed_at"]), at)
        except (ValueError, OverflowError, OSError) as exc:
            problem("observed_at", str(exc))
    if errors:
        raise RowProblem(errors)
    assert posted is not None
    posted = min(posted, at)
    observed = max(observed, posted)
    metadata: dict[str, Any] = {"url": link, "import": {"network": network or None}}
    if counts:
        metadata["engagement"] = {"counts": counts, "observed_at": observed.isoformat()}
    try:
        message = MessageIn(
            channel=channel,
            external_id=link_key(link),
            author=AuthorIn(
                value=author[:320], name=text_of("author_name")[:300] or None, followers=followers
            ),
            text=text,
            public=True,
            occurred_at=posted,
            metadata=metadata,
        )
    except ValidationError as exc:
        raise RowProblem(
            [
                {
                    "field": ".".join(str(p) for p in e["loc"]) or "row",
                    "message": e["msg"].removeprefix("Value error, "),
                }
                for e in exc.errors()
            ]
        ) from None
    return ParsedRow(message, counts, observed)


# -- importing ------------------------------------------------------------------------------------


def import_rows(
    *, session: Session, rows: Sequence[Row], actor: Actor, source: str | None = None, fmt: str = "json"
) -> ImportResult:
    """Store the readable rows as mentions (through ingest) and quarantine the others, in the
    caller's transaction; enqueue `result.message_ids` after commit."""
    at = now(session=session)
    result = ImportResult(
        rows=len(rows), stored=0, duplicates=0, snapshots=0, failed=0, errors=[], message_ids=[]
    )
    parsed: list[tuple[Row, ParsedRow]] = []
    for row in rows:
        try:
            parsed.append((row, parse_row(row.values, at=at)))
        except RowProblem as exc:
            result.errors.append(_quarantine_row(session, row, exc, source=source, fmt=fmt, actor=actor))
    if parsed:
        try:
            with session.begin_nested():
                accepted = accept(session=session, items=[p.message for _, p in parsed], actor=actor)
        except Invalid as exc:  # something ingest refuses that the row checks did not foresee
            accepted = []
            for row, _ in parsed:
                problem = RowProblem([{"field": exc.field or "row", "message": exc.message}])
                result.errors.append(
                    _quarantine_row(session, row, problem, source=source, fmt=fmt, actor=actor)
                )
            parsed = []
        for (_, item), outcome in zip(parsed, accepted, strict=True):
            if not outcome.duplicate:
                result.stored += 1
                if outcome.stage != "done":
                    result.message_ids.append(outcome.message_id)
                continue
            result.duplicates += 1
            if item.counts and _snapshot_existing(session, outcome.message_id, item, actor):
                result.snapshots += 1
    result.failed = len(result.errors)
    result.errors.sort(key=lambda e: e.row)
    publish(
        session=session,
        type="listening.mentions_imported",
        actor=actor,
        payload={
            "source": source,
            "rows": result.rows,
            "stored": result.stored,
            "duplicates": result.duplicates,
            "snapshots": result.snapshots,
            "failed": result.failed,
        },
    )
    return result


def _quarantine_row(
    session: Session, row: Row, problem: RowProblem, *, source: str | None, fmt: str, actor: Actor
) -> RowError:
    where = f"row {row.row}" + (f" (line {row.line})" if row.line else "")
    entry = quarantine.put(
        session=session,
        source=QUARANTINE_SOURCE,
        source_ref=(source or "")[:300] or None,
        raw=json.dumps(row.values, ensure_ascii=False, default=str).encode(),
        reason=f"{where}: {problem}",
        details={"row": row.row, "line": row.line, "format": fmt, "errors": problem.errors},
        content_type="application/json",
        actor=actor,
    )
    return RowError(row=row.row, line=row.line, errors=problem.errors, quarantine_id=entry.id)


def _snapshot_existing(session: Session, message_id: int, item: ParsedRow, actor: Actor) -> bool:
    """A post imported again: its counts are a new reading when they changed, else nothing."""
    mention = session.scalar(select(Mention).where(Mention.message_id == message_id))
    if mention is None:
        return False  # not processed yet (or not public): its first reading comes with it
    latest = mention.counts or {}
    if all(latest.get(name) == value for name, value in item.counts.items()):
        return False
    try:
        with session.begin_nested():
            add_snapshot(
                session=session,
                mention_id=mention.id,
                data=SnapshotIn(observed_at=item.observed_at, counts=item.counts),
                actor=actor,
            )
    except CuidaError as exc:  # an older reading than the mention's last one: keep the newer
        log.info("import: reading for mention %s not stored: %s", mention.id, exc.message)
        return False
    return True


@subscribe("mention.recorded")
def _first_reading(*, session: Session, event: Event) -> None:
    """An imported post's counts become its mention's first snapshot, in the ingest transaction."""
    if event.message_id is None or not isinstance(event.payload, dict):
        return
    message = session.get(Message, event.message_id)
    engagement = (message.meta or {}).get("engagement") if message is not None else None
    mention_id = event.payload.get("mention_id")
    if not isinstance(engagement, dict) or not isinstance(mention_id, int):
        return
    try:
        data = SnapshotIn(
            observed_at=datetime.fromisoformat(str(engagement.get("observed_at"))),
            counts=dict(engagement.get("counts") or {}),
        )
        with session.begin_nested():
            add_snapshot(
                session=session, mention_id=mention_id, data=data, actor=Actor("import", None, "import")
            )
    except (CuidaError, ValidationError, ValueError) as exc:  # never fail the ingest over a reading
        log.warning("first reading of mention %s not stored: %s", mention_id, exc)


def _clock_of(row: QuarantinedPayload) -> datetime:
    """The domain clock, read through the reprocessing transaction the entry is loaded in."""
    session = object_session(row)
    return now(session=session) if session is not None else datetime.now(UTC)


@quarantine.register_parser(QUARANTINE_SOURCE)
def _reparse_row(
    row: QuarantinedPayload, corrected: dict[str, Any] | None, max_items: int
) -> list[MessageIn]:
    values = corrected if corrected is not None else quarantine.decode_json(row.raw)
    try:
        return [parse_row(values, at=_clock_of(row)).message]
    except RowProblem as exc:
        raise quarantine.PayloadError(str(exc), exc.errors) from None
