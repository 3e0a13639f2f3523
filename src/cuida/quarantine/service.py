"""Inbound webhook channels and the quarantine: the only code that changes their state.

A signed delivery is checked (slug, signature over `timestamp.body`, timestamp within five
minutes, signature not seen in ten), then parsed. What parses goes through the ingest path
(`cuida.ingest.service.accept`, idempotent on channel + external_id); what does not is kept in the
quarantine with the reason and the raw bytes, in the same transaction that records the
signature, so a delivery is either wholly handled or not at all (and then the sender's retry is
not a replay). A rejected delivery is an event (`webhook.rejected`), never a stored body.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import re
import secrets
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, defer

from cuida.channels.registry import check_channel
from cuida.clock.service import now
from cuida.common.errors import Conflict, Invalid, NotFound
from cuida.common.pagination import decode_cursor, encode_cursor
from cuida.common.text import check_storable
from cuida.customers.identity import IdentityError, identity_key
from cuida.events.service import SYSTEM, Actor, publish
from cuida.ingest.schemas import Accepted, MessageIn
from cuida.ingest.service import accept
from cuida.quarantine.models import InboundWebhook, QuarantinedPayload, WebhookSignatureSeen
from cuida.quarantine.schemas import InboundWebhookCreate, WebhookAnswer, WebhookMessage

TIMESTAMP_HEADER = "X-Cuida-Timestamp"
SIGNATURE_HEADER = "X-Cuida-Signature"
MAX_SKEW = timedelta(minutes=5)
# A signature is only valid while its timestamp is within MAX_SKEW of now, so remembering it
# for twice that covers its whole life.
REPLAY_WINDOW = 2 * MAX_SKEW
PRUNE_CHANCE = 1 / 32  # forget expired signatures now and then, not on every request
SUCCESS_EVERY = timedelta(minutes=1)  # last_success_at is health, not an audit: spare the row
PREVIEW_CHARS = 200
MAX_REASON_CHARS = 2000
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")


# --- signing -------------------------------------------------------------------------------------


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The X-Cuida-Signature value for `body` sent at `timestamp` (unix seconds)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


# --- webhook channels ----------------------------------------------------------------------------


def _slugify(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "-", folded).strip("-")[:48].strip("-")
    return slug if len(slug) >= 3 else "webhook"


def create_webhook(
    *, session: Session, data: InboundWebhookCreate, actor: Actor = SYSTEM
) -> tuple[InboundWebhook, str]:
    """A new webhook channel and its secret (the only time the secret is handed out)."""
    if data.slug is not None:
        slug = data.slug
        if session.scalar(select(InboundWebhook.id).where(InboundWebhook.slug == slug)) is not None:
            raise Conflict(f"a webhook with slug '{slug}' already exists", field="slug")
    else:
        slug = _slugify(data.name)
        while session.scalar(select(InboundWebhook.id).where(InboundWebhook.slug == slug)) is not None:
            slug = f"{_slugify(data.name)}-{secrets.token_hex(3)}"
    secret = new_secret()
    hook = InboundWebhook(
        name=data.name,
        slug=slug,
        secret=secret,
        channel=check_channel(data.channel),
        active=True,
        created_at=now(session=session),
    )
    session.add(hook)
    session.flush()
    publish(
        session=session,
        type="inbound_webhook.created",
        actor=actor,
        payload={"webhook_id": hook.id, "slug": hook.slug, "channel": hook.channel, "name": hook.name},
    )
    return hook, secret


def list_webhooks(*, session: Session) -> list[InboundWebhook]:
    return list(session.scalars(select(InboundWebhook).order_by(InboundWebhook.id)))


def get_webhook(*, session: Session, webhook_id: int) -> InboundWebhook:
    hook = session.get(InboundWebhook, webhook_id)
    if hook is None:
        raise NotFound(f"inbound webhook {webhook_id} does not exist")
    return hook


def rotate_secret(
    *, session: Session, webhook_id: int, grace_seconds: int = 0, actor: Actor = SYSTEM
) -> tuple[InboundWebhook, str]:
    """A new secret; the old one keeps working for `grace_seconds` (0: stops at once)."""
    hook = get_webhook(session=session, webhook_id=webhook_id)
    at = now(session=session)
    if grace_seconds > 0:
        hook.previous_secret = hook.secret
        hook.previous_secret_until = at + timedelta(seconds=grace_seconds)
    else:
        hook.previous_secret = None
        hook.previous_secret_until = None
    secret = new_secret()
    hook.secret = secret
    hook.secret_rotated_at = at
    publish(
        session=session,
        type="inbound_webhook.secret_rotated",
        actor=actor,
        payload={"webhook_id": hook.id, "slug": hook.slug, "grace_seconds": grace_seconds},
    )
    return hook, secret


def set_active(*, session: Session, webhook_id: int, active: bool, actor: Actor = SYSTEM) -> InboundWebhook:
    hook = get_webhook(session=session, webhook_id=webhook_id)
    if hook.active == active:
        return hook
    hook.active = active
    hook.disabled_at = None if active else now(session=session)
    publish(
        session=session,
        type="inbound_webhook.enabled" if active else "inbound_webhook.disabled",
        actor=actor,
        payload={"webhook_id": hook.id, "slug": hook.slug},
    )
    return hook


# --- parsing a payload ---------------------------------------------------------------------------


class PayloadError(Exception):
    """The payload as a whole cannot be read; `reason` says why in words."""

    def __init__(self, reason: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.errors = errors or []


@dataclass
class Parsed:
    messages: list[MessageIn] = field(default_factory=list)
    indexes: list[int] = field(default_factory=list)  # payload positions of `messages`
    bad: dict[int, list[dict[str, str]]] = field(default_factory=dict)  # position -> errors
    batch: bool = False


def _printable(text: str) -> str:
    """Text safe to store and show: control characters (NUL included) written as \\xNN."""
    return "".join(c if c.isprintable() or c in "\n\t" else f"\\x{ord(c):02x}" for c in text)


def _where(loc: Sequence[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return _printable(out)


def _unstorable(value: Any, path: str) -> list[dict[str, str]]:
    """Strings the databases cannot hold (NUL, lone surrogates) anywhere under `value`."""
    found: list[dict[str, str]] = []
    if isinstance(value, str):
        try:
            check_storable(value)
        except ValueError as exc:
            found.append({"field": path, "message": str(exc)})
    elif isinstance(value, dict):
        for key, item in value.items():
            found += _unstorable(key, path) + _unstorable(item, f"{path}.{_printable(str(key))}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _unstorable(item, f"{path}[{index}]")
    return found


def _check_item(item: Any, channel: str | None) -> tuple[MessageIn | None, list[dict[str, str]]]:
    if not isinstance(item, dict):
        return None, [{"field": "", "message": "a message must be a JSON object"}]
    if channel is not None:
        item = {**item}
        given = item.setdefault("channel", channel)
        if given != channel:
            message = f"this webhook posts as {channel!r}, not {_printable(repr(given))[:80]}"
            return None, [{"field": "channel", "message": message}]
    try:
        message_in = WebhookMessage.model_validate(item)
    except ValidationError as exc:
        return None, [
            {"field": _where(err["loc"]), "message": _printable(err["msg"].removeprefix("Value error, "))}
            for err in exc.errors()
        ]
    problems = _unstorable(message_in.metadata, "metadata")
    if problems:
        return None, problems
    # What ingest would refuse for the whole batch is refused here per message, so the rest passes.
    value = message_in.author.value if message_in.direction == "in" and message_in.author else None
    value = value or (message_in.recipient if message_in.direction != "in" else None)
    if value:
        try:
            identity_key(message_in.channel, value)
        except IdentityError as exc:
            where = "author.value" if message_in.direction == "in" else "recipient"
            return None, [{"field": where, "message": _printable(str(exc))}]
    return message_in, []


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def decode_json(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError(
            f"the body is not valid UTF-8 (byte 0x{raw[exc.start]:02x} at position {exc.start})"
        ) from None
    try:
        return json.loads(text.removeprefix("\ufeff"), parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise PayloadError(
            f"the body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise PayloadError(f"the body is not valid JSON: {_printable(str(exc))[:200]}") from None


def parse_document(data: Any, *, channel: str | None, max_items: int) -> Parsed:
    """One message, or {"messages": [...]}, into MessageIn; bad messages of a batch are listed
    in `bad`, a document that is wrong as a whole raises PayloadError."""
    if not isinstance(data, dict):
        raise PayloadError('expected a JSON object: one message, or {"messages": [...]}')
    parsed = Parsed()
    if "messages" in data:
        extra = sorted(set(data) - {"messages"})
        if extra:
            unexpected = _printable(", ".join(map(str, extra)))[:200]
            raise PayloadError(f"a batch holds only 'messages'; unexpected: {unexpected}")
        items = data["messages"]
        if not isinstance(items, list) or not items:
            raise PayloadError("'messages' must be a non-empty list of messages")
        if len(items) > max_items:
            raise PayloadError(f"a batch holds at most {max_items} messages; this one has {len(items)}")
        parsed.batch = True
    else:
        items = [data]
    for index, item in enumerate(items):
        message, errors = _check_item(item, channel)
        if message is None:
            parsed.bad[index] = errors
        else:
            parsed.messages.append(message)
            parsed.indexes.append(index)
    if not parsed.batch and parsed.bad:
        raise PayloadError(_summary("the message is not valid", parsed.bad[0]), parsed.bad[0])
    return parsed


def _summary(lead: str, errors: list[dict[str, str]]) -> str:
    shown = "; ".join(f"{e['field'] or 'message'}: {e['message']}" for e in errors[:5])
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return f"{lead}: {shown}{more}"[:MAX_REASON_CHARS]


# --- the quarantine ------------------------------------------------------------------------------


def _preview(raw: bytes) -> str:
    text = raw[: PREVIEW_CHARS * 4].decode("utf-8", errors="backslashreplace")
    return _printable(text)[:PREVIEW_CHARS]


def put(
    *,
    session: Session,
    source: str,
    raw: bytes,
    reason: str,
    source_ref: str | None = None,
    webhook_id: int | None = None,
    channel: str | None = None,
    details: dict[str, Any] | None = None,
    content_type: str | None = None,
    actor: Actor = SYSTEM,
) -> QuarantinedPayload:
    """Keep a payload that could not be read, with why; any adapter may call this."""
    row = QuarantinedPayload(
        source=source,
        source_ref=source_ref,
        webhook_id=webhook_id,
        channel=channel,
        reason=_printable(reason)[:MAX_REASON_CHARS],
        details=details or {},
        raw=raw,
        size=len(raw),
        preview=_preview(raw),
        content_type=_printable(content_type)[:200] if content_type else None,
        status="new",
        received_at=now(session=session),
        message_ids=[],
        attempts=0,
    )
    session.add(row)
    session.flush()
    publish(
        session=session,
        type="message.quarantined",
        actor=actor,
        payload={
            "quarantine_id": row.id,
            "source": source,
            "source_ref": source_ref,
            "channel": channel,
            "reason": row.reason[:500],
            "size": row.size,
        },
    )
    return row


def list_quarantine(
    *,
    session: Session,
    status: str | None = None,
    source: str | None = None,
    webhook_id: int | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[QuarantinedPayload], str | None]:
    """Newest first, without loading the raw payloads."""
    query = select(QuarantinedPayload).options(defer(QuarantinedPayload.raw))
    if status:
        query = query.where(QuarantinedPayload.status == status)
    if source:
        query = query.where(QuarantinedPayload.source == source)
    if webhook_id is not None:
        query = query.where(QuarantinedPayload.webhook_id == webhook_id)
    if cursor:
        values = decode_cursor(cursor)
        if len(values) != 1 or not isinstance(values[0], int):
            raise Invalid("cursor is not one this server gave out", field="cursor")
        query = query.where(QuarantinedPayload.id < values[0])
    rows = list(session.scalars(query.order_by(QuarantinedPayload.id.desc()).limit(limit + 1)))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor([rows[-1].id])
    return rows, next_cursor


def get_quarantined(*, session: Session, quarantine_id: int, for_update: bool = False) -> QuarantinedPayload:
    row = session.get(QuarantinedPayload, quarantine_id, with_for_update=for_update)
    if row is None:
        raise NotFound(f"quarantine entry {quarantine_id} does not exist")
    return row


# Reprocessing parsers by source: parser(row, corrected payload or None, max_items) -> messages.
# Raise PayloadError when it still cannot be read. Adapters with their own raw format (MIME, a
# provider's JSON) register theirs; the webhook's reads the documented JSON.
Parser = Callable[[QuarantinedPayload, dict[str, Any] | None, int], list[MessageIn]]
PARSERS: dict[str, Parser] = {}


def register_parser(source: str) -> Callable[[Parser], Parser]:
    def register(fn: Parser) -> Parser:
        PARSERS[source] = fn
        return fn

    return register


def _strict(parsed: Parsed, keep: Sequence[int] | None = None) -> list[MessageIn]:
    bad = {i: e for i, e in parsed.bad.items() if keep is None or i in keep}
    if bad:
        errors = [
            {**e, "field": f"messages[{i}].{e['field']}".rstrip(".")} for i, es in bad.items() for e in es
        ]
        raise PayloadError(_summary(f"{len(bad)} message(s) still not valid", errors), errors)
    if keep is None:
        return parsed.messages
    return [m for i, m in zip(parsed.indexes, parsed.messages, strict=True) if i in keep]


@register_parser("webhook")
def parse_webhook_entry(
    row: QuarantinedPayload, corrected: dict[str, Any] | None, max_items: int
) -> list[MessageIn]:
    if corrected is not None:
        return _strict(parse_document(corrected, channel=row.channel, max_items=max_items))
    parsed = parse_document(decode_json(row.raw), channel=row.channel, max_items=max_items)
    # A batch that was partly accepted keeps its whole body; only the failed positions are retried.
    indexes = (row.details or {}).get("indexes")
    return _strict(parsed, keep=indexes if isinstance(indexes, list) else None)


@dataclass
class Reprocessed:
    row: QuarantinedPayload
    items: list[Accepted]
    error: str | None = None
    errors: list[dict[str, str]] = field(default_factory=list)

    @property
    def fresh_ids(self) -> list[int]:
        return [r.message_id for r in self.items if not r.duplicate and r.stage != "done"]


def reprocess(
    *,
    session: Session,
    quarantine_id: int,
    corrected: dict[str, Any] | None,
    actor: Actor,
    max_items: int,
) -> Reprocessed:
    """Run an entry through ingest again, as stored or as corrected. A failure is recorded on the
    entry (attempts, last_error) and returned, not raised, so the record survives."""
    row = get_quarantined(session=session, quarantine_id=quarantine_id, for_update=True)
    if row.status == "reprocessed":
        raise Conflict(f"quarantine entry {row.id} was already reprocessed into messages {row.message_ids}")
    parser = PARSERS.get(row.source)
    if parser is None and corrected is None:
        raise Invalid(
            f"there is no parser for '{row.source}' payloads: send a corrected payload", field="payload"
        )
    row.attempts += 1
    try:
        messages = (parser or parse_webhook_entry)(row, corrected, max_items)
        with session.begin_nested():
            source = Actor(row.source, row.webhook_id, row.source_ref)
            results = accept(session=session, items=messages, actor=source) if messages else []
    except PayloadError as exc:
        row.last_error = _printable(exc.reason)[:MAX_REASON_CHARS]
        return Reprocessed(row, [], row.last_error, exc.errors)
    except Invalid as exc:
        row.last_error = _printable(exc.message)[:MAX_REASON_CHARS]
        return Reprocessed(row, [], row.last_error, [{"field": exc.field or "", "message": exc.message}])
    at = now(session=session)
    row.status = "reprocessed"
    row.resolved_at = at
    row.resolved_by = actor.name
    row.last_error = None
    row.message_ids = [r.message_id for r in results]
    if corrected is not None:
        row.details = {**(row.details or {}), "corrected": corrected}
    publish(
        session=session,
        type="quarantine.reprocessed",
        actor=actor,
        payload={"quarantine_id": row.id, "message_ids": row.message_ids, "corrected": corrected is not None},
    )
    return Reprocessed(row, results)


def discard(*, session: Session, quarantine_id: int, actor: Actor) -> QuarantinedPayload:
    """Mark it as not worth a message. The raw payload stays; reprocessing it later still works."""
    row = get_quarantined(session=session, quarantine_id=quarantine_id, for_update=True)
    if row.status != "new":
        raise Conflict(f"quarantine entry {row.id} is already {row.status}")
    row.status = "discarded"
    row.resolved_at = now(session=session)
    row.resolved_by = actor.name
    publish(
        session=session,
        type="quarantine.discarded",
        actor=actor,
        payload={"quarantine_id": row.id, "source": row.source, "source_ref": row.source_ref},
    )
    return row


# --- receiving a delivery ------------------------------------------------------------------------


@dataclass
class Received:
    """What happened to one delivery: an error (status, code, message) or an answer."""

    status_code: int
    code: str | None = None
    message: str = ""
    answer: WebhookAnswer | None = None
    fresh_ids: list[int] = field(default_factory=list)


def _actor(hook: InboundWebhook) -> Actor:
    return Actor("webhook", hook.id, hook.slug)


def _verify(
    hook: InboundWebhook, at: datetime, timestamp: str | None, signature: str | None, body: bytes
) -> tuple[str, str] | None:
    """(reason code, words) when the delivery is not authentic or not fresh; None when it is."""
    if not timestamp:
        return "missing_timestamp", f"send {TIMESTAMP_HEADER}: the unix time (seconds) of signing"
    if not signature:
        return "missing_signature", f"send {SIGNATURE_HEADER}: sha256=<hex HMAC-SHA256 of 'timestamp.body'>"
    timestamp = timestamp.strip()
    if not _TIMESTAMP.match(timestamp):
        return "bad_timestamp", f"{TIMESTAMP_HEADER} must be unix seconds (digits only)"
    sent = signature.strip().lower().encode("utf-8", errors="replace")
    keys = [hook.secret]
    if hook.previous_secret and hook.previous_secret_until and at < hook.previous_secret_until:
        keys.append(hook.previous_secret)
    if not any(hmac.compare_digest(sign(key, timestamp, body).encode(), sent) for key in keys):
        return (
            "bad_signature",
            "the signature does not match: sign 'timestamp.body' (the exact bytes sent) with "
            "HMAC-SHA256 and the webhook's secret, as sha256=<hex>",
        )
    skew = abs(at.timestamp() - int(timestamp))
    if skew > MAX_SKEW.total_seconds():
        return (
            "stale_timestamp",
            f"the timestamp is {skew:.0f} s away from the server's time; at most "
            f"{MAX_SKEW.total_seconds():.0f} s is accepted (sign again with the current time)",
        )
    return None


def _first_sighting(session: Session, hook: InboundWebhook, signature: str, at: datetime) -> bool:
    """Record the signature; False when it was already seen within the replay window."""
    cutoff = at - REPLAY_WINDOW
    seen = session.scalar(
        select(WebhookSignatureSeen).where(
            WebhookSignatureSeen.webhook_id == hook.id, WebhookSignatureSeen.signature == signature
        )
    )
    if seen is not None:
        if seen.seen_at > cutoff:
            return False
        seen.seen_at = at  # only after the clock moved on: it is stale, but fresh again now
        return True
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = (
        insert(WebhookSignatureSeen)
        .values(webhook_id=hook.id, signature=signature, seen_at=at)
        .on_conflict_do_nothing(index_elements=["webhook_id", "signature"])
        .returning(WebhookSignatureSeen.id)
    )
    # A concurrent copy of the same delivery waits here for ours to commit, then inserts nothing.
    if session.execute(stmt).scalar() is None:
        return False
    if random.random() < PRUNE_CHANCE:
        session.execute(delete(WebhookSignatureSeen).where(WebhookSignatureSeen.seen_at < cutoff))
    return True


def _reject(
    session: Session,
    hook: InboundWebhook,
    at: datetime,
    status: int,
    reason: str,
    words: str,
    remote: str | None,
    size: int,
) -> Received:
    hook.last_error_at = at
    hook.last_error = f"rejected ({reason}): {words}"[:2000]
    publish(
        session=session,
        type="webhook.rejected",
        actor=_actor(hook),
        payload={
            "webhook_id": hook.id,
            "slug": hook.slug,
            "reason": reason,
            "detail": words,
            "remote": remote,
            "size": size,
        },
    )
    return Received(status, reason, words)


def receive(
    *,
    session: Session,
    slug: str,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    content_type: str | None = None,
    remote: str | None = None,
    max_items: int = 1000,
) -> Received:
    """Handle one delivery to POST /api/v1/webhooks/{slug}."""
    hook = session.scalar(select(InboundWebhook).where(InboundWebhook.slug == slug))
    if hook is None:
        return Received(404, "not_found", f"there is no webhook '{_printable(slug)[:80]}'")
    at = now(session=session)
    if not hook.active:
        return _reject(session, hook, at, 403, "disabled", "this webhook is disabled", remote, len(body))
    problem = _verify(hook, at, timestamp, signature, body)
    if problem is not None:
        return _reject(session, hook, at, 401, problem[0], problem[1], remote, len(body))
    assert signature is not None
    hex_signature = signature.strip().lower().removeprefix("sha256=")
    if not _first_sighting(session, hook, hex_signature, at):
        words = "this signed delivery was already received; to send again, sign with a new timestamp"
        return _reject(session, hook, at, 409, "replay", words, remote, len(body))

    def quarantined(reason: str, details: dict[str, Any]) -> QuarantinedPayload:
        row = put(
            session=session,
            source="webhook",
            source_ref=hook.slug,
            webhook_id=hook.id,
            channel=hook.channel,
            raw=body,
            reason=reason,
            details=details,
            content_type=content_type,
            actor=_actor(hook),
        )
        hook.last_error_at = at
        hook.last_error = f"quarantined #{row.id}: {row.reason}"[:2000]
        return row

    try:
        parsed = parse_document(decode_json(body), channel=hook.channel, max_items=max_items)
    except PayloadError as exc:
        row = quarantined(exc.reason, {"errors": exc.errors})
        return Received(
            202, answer=WebhookAnswer(items=[], stored=0, duplicates=0, quarantined=row.id, reason=row.reason)
        )

    results: list[Accepted] = []
    if parsed.messages:
        try:
            with session.begin_nested():
                results = accept(session=session, items=parsed.messages, actor=_actor(hook))
        except Invalid as exc:  # something ingest refuses that the checks above did not foresee
            row = quarantined(
                _printable(exc.message), {"errors": [{"field": exc.field or "", "message": exc.message}]}
            )
            return Received(
                202,
                answer=WebhookAnswer(items=[], stored=0, duplicates=0, quarantined=row.id, reason=row.reason),
            )
    answer = WebhookAnswer(
        items=results,
        stored=sum(not r.duplicate for r in results),
        duplicates=sum(r.duplicate for r in results),
    )
    if parsed.bad:
        errors = [
            {**e, "field": f"messages[{i}].{e['field']}".rstrip(".")}
            for i, es in parsed.bad.items()
            for e in es
        ]
        total = len(parsed.bad) + len(parsed.messages)
        row = quarantined(
            _summary(f"{len(parsed.bad)} of {total} messages could not be read", errors),
            {"indexes": sorted(parsed.bad), "errors": errors},
        )
        answer.quarantined, answer.reason, answer.quarantined_indexes = row.id, row.reason, sorted(parsed.bad)
    if results and (hook.last_success_at is None or at - hook.last_success_at >= SUCCESS_EVERY):
        hook.last_success_at = at
    single_duplicate = not parsed.batch and bool(results) and results[0].duplicate
    fresh = [r.message_id for r in results if not r.duplicate and r.stage != "done"]
    return Received(200 if single_duplicate else 202, answer=answer, fresh_ids=fresh)
