"""Accepting messages (stored at once, idempotently) and the pipeline stages that follow.

Each stage commits before the next begins and records itself in `messages.stage`, so a worker
killed at any point leaves the message either untouched or one whole stage further on. A
worker owns a message only while its lease runs (real seconds); the reconciler re-enqueues
messages whose lease ran out or whose job was lost.
"""

from __future__ import annotations

import logging
import traceback
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from cuida.clock.service import now, wall_now
from cuida.common.errors import Invalid, NotFound
from cuida.conversations.models import Conversation, Message
from cuida.conversations.service import thread_message
from cuida.customers.identity import IdentityError, identity_key
from cuida.customers.models import Customer
from cuida.customers.service import link_author, resolve
from cuida.db import txcache
from cuida.db.base import affected_rows
from cuida.db.engine import Database
from cuida.events.service import Actor, publish
from cuida.ingest.html import html_to_text, sanitize_html
from cuida.ingest.schemas import Accepted, MessageIn
from cuida.search.text import index_text
from cuida.triage import analyze

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 10


def _row(item: MessageIn, at: Any, actor: Actor) -> dict[str, Any]:
    author = item.author
    identity_value = author.value if item.direction == "in" and author else item.recipient
    if identity_value:
        try:
            identity_key(item.channel, identity_value)
        except IdentityError as exc:
            field = "author.value" if item.direction == "in" else "recipient"
            raise Invalid(str(exc), field=field) from None
    html = sanitize_html(item.html) if item.html else None
    text = item.text or (html_to_text(html) if html else "")
    meta = dict(item.metadata)
    if item.recipient:
        meta["recipient"] = item.recipient
    if item.customer_id is not None:
        meta["customer_id"] = item.customer_id
    meta["source"] = {"type": actor.type, "id": actor.id, "name": actor.name}
    return {
        "channel": item.channel,
        "external_id": item.external_id or f"generated:{uuid.uuid4()}",
        "direction": item.direction,
        "author_value": author.value if author else None,
        "author_name": author.name if author else None,
        "author_followers": author.followers if author else None,
        # An agent logging their own call or visit is its author on the timeline (and for the
        # contactability check of a sales contact); integrations name the agent in metadata.
        "agent_id": actor.id if actor.type == "agent" and item.direction != "in" else None,
        "text": text,
        "html": html,
        "public": item.public,
        "in_reply_to": item.in_reply_to,
        "occurred_at": item.occurred_at or at,
        "received_at": at,
        "raw": item.model_dump(mode="json", exclude_none=True),
        "meta": meta,
        "search_text": index_text(text),
        "stage": "received",
        "attempts": 0,
        "enqueued_at": wall_now(),
    }


def accept(*, session: Session, items: Sequence[MessageIn], actor: Actor) -> list[Accepted]:
    """Store messages at once; the same (channel, external_id) again returns the first copy."""
    at = now(session=session)
    rows: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        try:
            rows.append(_row(item, at, actor))
            if item.customer_id is not None:
                # An unknown customer gets a clear 4xx now, not a failed job later.
                resolve(session=session, customer_id=item.customer_id)
        except (Invalid, NotFound) as exc:
            prefix = f"messages[{index}]." if len(items) > 1 else ""
            field = exc.field if isinstance(exc, Invalid) else "customer_id"
            raise Invalid(exc.message, field=f"{prefix}{field}") from None
    keys = [(r["channel"], r["external_id"]) for r in rows]
    existing = _ids_for(session, keys)
    fresh: dict[tuple[str, str], dict[str, Any]] = {}
    for key, row in zip(keys, rows, strict=True):
        if key not in existing and key not in fresh:
            fresh[key] = row
    if fresh:
        dialect = session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        stmt = insert(Message).on_conflict_do_nothing(index_elements=["channel", "external_id"])
        session.execute(stmt, list(fresh.values()))
    stored = _ids_for(session, keys)
    results = []
    for key in keys:
        message_id, conversation_id, customer_id, stage = stored[key]
        results.append(
            Accepted(
                message_id=message_id,
                conversation_id=conversation_id,
                customer_id=customer_id,
                stage=stage,
                duplicate=key in existing,
            )
        )
        if key in fresh:
            fresh.pop(key)  # a key repeated inside one batch is a duplicate after its first time
            existing[key] = stored[key]
    return results


def _ids_for(session: Session, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], tuple[Any, ...]]:
    by_channel: dict[str, list[str]] = defaultdict(list)
    for channel, external_id in keys:
        by_channel[channel].append(external_id)
    found: dict[tuple[str, str], tuple[Any, ...]] = {}
    for channel, ids in by_channel.items():
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            query = select(
                Message.channel,
                Message.external_id,
                Message.id,
                Message.conversation_id,
                Message.customer_id,
                Message.stage,
            ).where(Message.channel == channel, Message.external_id.in_(chunk))
            for ch, ext, *rest in session.execute(query):
                found[(ch, ext)] = tuple(rest)
    return found


def get_message(*, session: Session, message_id: int) -> Message:
    message = session.get(Message, message_id)
    if message is None:
        raise NotFound(f"message {message_id} does not exist")
    return message


# --- the pipeline --------------------------------------------------------------------------------


def claim(*, session: Session, message_id: int, lease_seconds: int) -> bool:
    wall = wall_now()
    result = session.execute(
        update(Message)
        .where(
            Message.id == message_id,
            Message.stage.in_(("received", "linked")),
            or_(Message.lease_until.is_(None), Message.lease_until < wall),
        )
        .values(lease_until=wall + timedelta(seconds=lease_seconds), attempts=Message.attempts + 1)
    )
    return affected_rows(result) == 1


def claim_many(*, session: Session, message_ids: Sequence[int], lease_seconds: int) -> dict[int, str]:
    """Lease every message of a job at once: {id: stage} of those that still need work and were
    free. One statement, so a job repeated by the reconciler costs one query, not one per id."""
    if not message_ids:
        return {}
    wall = wall_now()
    rows = session.execute(
        update(Message)
        .where(
            Message.id.in_(list(message_ids)),
            Message.stage.in_(("received", "linked")),
            or_(Message.lease_until.is_(None), Message.lease_until < wall),
        )
        .values(lease_until=wall + timedelta(seconds=lease_seconds), attempts=Message.attempts + 1)
        .returning(Message.id, Message.stage)
        .execution_options(synchronize_session=False)
    )
    return {message_id: stage for message_id, stage in rows}


def link_stage(*, session: Session, message_id: int) -> None:
    """Author → customer, message → conversation."""
    # FOR UPDATE (PostgreSQL): a second worker whose lease on this message overlapped ours waits
    # here, then sees the stage we committed, instead of threading and counting it again.
    message = session.get(Message, message_id, with_for_update=True)
    if message is None or message.stage != "received":
        return
    identity_value = (
        message.author_value if message.direction == "in" else (message.meta or {}).get("recipient")
    )
    customer_id = None
    author_identity_id = None
    # Outbound messages and notes name their customer; so may a call or visit logged without author.
    logged_for = (
        (message.meta or {}).get("customer_id") if message.direction != "in" or not identity_value else None
    )
    if isinstance(logged_for, int):
        customer_id = resolve(session=session, customer_id=logged_for).id
    elif identity_value:
        identity = link_author(
            session=session,
            channel=message.channel,
            value=str(identity_value),
            display=message.author_name if message.direction == "in" else None,
            followers=message.author_followers if message.direction == "in" else None,
        )
        customer_id = identity.customer_id
        if message.direction == "in":
            author_identity_id = identity.id
    elif message.in_reply_to:
        customer_id = session.scalar(
            select(Message.customer_id).where(
                Message.channel == message.channel, Message.external_id == message.in_reply_to
            )
        )
    if customer_id is None:
        raise RuntimeError("no customer could be found for this message")
    conversation, created = thread_message(session=session, message=message, customer_id=customer_id)
    if author_identity_id is not None:
        message.author_identity_id = author_identity_id  # set late: one UPDATE of the message, not two
    message.stage = "linked"
    if created:
        publish(
            session=session,
            type="conversation.created",
            customer_id=customer_id,
            conversation_id=conversation.id,
            payload={"channel": conversation.channel},
        )
    publish(
        session=session,
        type="message.received",
        customer_id=customer_id,
        conversation_id=conversation.id,
        message_id=message.id,
        payload={"channel": message.channel, "direction": message.direction},
    )


def triage_stage(*, session: Session, message_id: int, analysis: dict[str, Any]) -> None:
    message = session.get(Message, message_id)
    if message is None or message.stage != "linked":
        return
    message.triage = analysis
    message.language = analysis.get("language")
    message.stage = "done"
    message.processed_at = now(session=session)
    message.lease_until = None
    message.last_error = None
    publish(
        session=session,
        type="message.triaged",
        customer_id=message.customer_id,
        conversation_id=message.conversation_id,
        message_id=message.id,
        payload={"language": message.language},
    )


def process_message(db: Database, message_id: int, *, lease_seconds: int) -> bool:
    """Run whatever stages remain for one message. True if this call finished it."""
    return process_messages(db, [message_id], lease_seconds=lease_seconds) == 1


def process_messages(db: Database, message_ids: Sequence[int], *, lease_seconds: int) -> int:
    """Run whatever stages remain for the messages of one job; returns how many this call finished.

    One statement leases them all (ids already done or leased elsewhere drop out there); each
    message is then linked in its own transaction, as before; understanding runs outside any
    transaction; and the triage results of the whole job are written in one transaction.
    Messages whose link or triage fails are recorded as failed attempts; the rest go on.
    """
    with db.session() as session:
        claimed = claim_many(session=session, message_ids=message_ids, lease_seconds=lease_seconds)
    texts: dict[int, str] = {}
    for message_id in sorted(claimed):
        try:
            with db.session() as session:
                if claimed[message_id] == "received":
                    link_stage(session=session, message_id=message_id)
                message = session.get(Message, message_id)
                if message is not None and message.stage == "linked":
                    texts[message_id] = message.text
        except Exception as exc:
            log.exception("message %s failed in the pipeline", message_id)
            _record_failure(db, message_id, exc)
    analyses: dict[int, dict[str, Any]] = {}
    for message_id, text in texts.items():
        try:
            # Understanding runs outside any transaction: it may be slow, and needs no lock.
            analyses[message_id] = analyze(text).model_dump(mode="json")
        except Exception as exc:
            log.exception("message %s failed in the pipeline", message_id)
            _record_failure(db, message_id, exc)
    if not analyses:
        return 0
    try:
        with db.session() as session, session.no_autoflush:
            # Load (and on PostgreSQL lock) them in one query; changes are flushed together at commit.
            messages = session.scalars(
                select(Message)
                .where(Message.id.in_(list(analyses)), Message.stage == "linked")
                .with_for_update()
            ).all()
            _lock_in_order(session, messages)
            for message in sorted(messages, key=lambda m: (m.conversation_id or 0, m.id)):
                triage_stage(session=session, message_id=message.id, analysis=analyses[message.id])
            finished = sum(message.stage == "done" for message in messages)
    except Exception as exc:
        log.exception("triage of messages %s failed", sorted(analyses))
        for message_id in analyses:
            _record_failure(db, message_id, exc)
        return 0
    return finished


def _lock_in_order(session: Session, messages: Sequence[Message]) -> None:
    """Take the rows that the reactions to triage will lock (SLA clocks lock the conversation,
    contactability the customer) up front, conversations then customers, each by id: the order
    every other transaction also follows (conversation before customer), so two workers
    triaging overlapping batches wait for each other instead of deadlocking.

    The whole rows are loaded, in two queries for the batch, so the reactions find them in the
    session instead of reading them once per message; on PostgreSQL the locks are recorded for
    this transaction, so the reactions do not ask for them again."""
    postgres = session.get_bind().dialect.name == "postgresql"
    conversation_ids = sorted({m.conversation_id for m in messages if m.conversation_id})
    customer_ids = sorted({m.customer_id for m in messages if m.customer_id})
    if conversation_ids:
        conversations = select(Conversation).where(Conversation.id.in_(conversation_ids))
        conversations = conversations.order_by(Conversation.id)
        txcache.hold(session, session.scalars(conversations.with_for_update() if postgres else conversations))
    if customer_ids:
        customers = select(Customer).where(Customer.id.in_(customer_ids)).order_by(Customer.id)
        txcache.hold(
            session, session.scalars(customers.with_for_update(of=Customer) if postgres else customers)
        )
    if postgres:  # SQLite runs one writer at a time: there are no row locks to remember
        txcache.mark_locked(session, "conversations", conversation_ids)
        txcache.mark_locked(session, "customers", customer_ids)


def _record_failure(db: Database, message_id: int, exc: Exception) -> None:
    detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()[:2000]
    with db.session() as session:
        message = session.get(Message, message_id)
        if message is None:
            return
        message.last_error = detail
        message.lease_until = None
        if message.attempts >= MAX_ATTEMPTS:
            message.stage = "failed"
            publish(session=session, type="message.failed", message_id=message_id, payload={"error": detail})
        else:
            message.enqueued_at = None  # the reconciler picks it up again


def stale_messages(
    *, session: Session, stale_seconds: int, limit: int, queue_empty: bool = True
) -> list[int]:
    """Messages whose job was lost: not done, nobody's lease, and not enqueued recently.

    While the queue still holds jobs (`queue_empty` false), a message enqueued long ago that no
    worker ever claimed is most likely waiting its turn behind a backlog, not lost: only messages
    with no job at all (enqueued_at empty) or whose worker's lease ran out are taken then.
    Otherwise a backlog longer than `stale_seconds` would be enqueued again and again.
    """
    wall = wall_now()
    stale_before = wall - timedelta(seconds=stale_seconds)
    conditions = [
        Message.stage.in_(("received", "linked")),
        or_(Message.lease_until.is_(None), Message.lease_until < wall),
        or_(Message.enqueued_at.is_(None), Message.enqueued_at < stale_before),
    ]
    if not queue_empty:
        conditions.append(or_(Message.enqueued_at.is_(None), Message.lease_until.is_not(None)))
    query = select(Message.id).where(*conditions).order_by(Message.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list(session.scalars(query))
    if ids:
        session.execute(update(Message).where(Message.id.in_(ids)).values(enqueued_at=wall))
    return ids
