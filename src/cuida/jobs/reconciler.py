"""The safety net: finds work whose job was lost (a killed worker, a lost enqueue) and
enqueues it again. The database says what is unfinished; the queue is only a hint."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from cuida.conversations.service import due_deliveries
from cuida.ingest.service import stale_messages
from cuida.listening.feeds import enqueue_feed_polls

if TYPE_CHECKING:
    from cuida.runtime import Runtime

log = logging.getLogger(__name__)
BATCH = 2000


ANALYZE_EVERY = 3600.0  # seconds between refreshes of SQLite's planner statistics
_analyzed_at: dict[int, float] = {}


def refresh_sqlite_statistics(runtime: Runtime) -> bool:
    """SQLite plans without statistics until ANALYZE runs, and then picks a status index and sorts
    every open conversation instead of walking the inbox's own indexes (80 ms instead of 15 ms at
    100,000 conversations). A bounded ANALYZE (sampled, milliseconds) once an hour keeps them fresh;
    PostgreSQL's autovacuum does this by itself."""
    if runtime.db.engine.dialect.name != "sqlite":
        return False
    last = _analyzed_at.get(id(runtime))
    if last is not None and time.monotonic() - last < ANALYZE_EVERY:
        return False
    _analyzed_at[id(runtime)] = time.monotonic()
    with runtime.db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA analysis_limit=1000")
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    return True


def reconcile(runtime: Runtime) -> dict[str, int]:
    refresh_sqlite_statistics(runtime)
    queue_empty = runtime.huey.pending_count() == 0
    with runtime.db.session() as session:
        message_ids = stale_messages(
            session=session,
            stale_seconds=runtime.settings.lease_seconds,
            limit=BATCH,
            queue_empty=queue_empty,
        )
        delivery_ids = due_deliveries(session=session, limit=BATCH)
    if message_ids:
        log.info("reconciler: re-enqueueing %d unfinished messages", len(message_ids))
        runtime.enqueue_messages(message_ids)
    for delivery_id in delivery_ids:
        runtime.enqueue_delivery(delivery_id)
    polls = enqueue_polls(runtime)
    return {
        "messages": len(message_ids),
        "deliveries": len(delivery_ids),
        "polls": polls,
        "feeds": enqueue_feed_polls(runtime),
        "timers": fire_timers(runtime),
    }


def enqueue_polls(runtime: Runtime) -> int:
    """A job per channel account whose poll is due (IMAP mailboxes). The job leases the account,
    so a poll enqueued twice runs once; a poller killed mid-poll leaves a lease that runs out."""
    from cuida.channels.service import due_polls
    from cuida.jobs.tasks import poll_channel

    with runtime.db.session() as session:
        account_ids = due_polls(session=session)
    for account_id in account_ids:
        poll_channel(account_id)
    if account_ids:
        runtime.wake.set()
    return len(account_ids)


def fire_timers(runtime: Runtime, batch: int = 200, max_seconds: float = 50.0) -> int:
    """Fire every due timer, a batch per transaction, so one slow pass never holds a long lock.

    A burst (thousands due in the same minute) is drained in this pass, not one batch per
    reconciler interval; `max_seconds` bounds the pass so the reconciler's other duties still run,
    and the next pass (CUIDA_RECONCILE_SECONDS later) goes on where this one stopped."""
    from cuida.timers.service import fire_due

    total = 0
    started = time.monotonic()
    while True:
        with runtime.db.session() as session:
            fired = fire_due(session=session, limit=batch)
        total += fired
        if fired < batch:
            return total
        if time.monotonic() - started > max_seconds:
            log.warning(
                "reconciler: fired %d timers in %.0fs, more are due; going on next pass", total, max_seconds
            )
            return total
