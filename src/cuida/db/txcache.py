"""Scratch space that lives exactly as long as the current database transaction.

Reactions run once per message inside the publisher's transaction; what they read again and
again in one transaction (the active SLA policies, rows this transaction already locked) is kept
here, in `session.info`, tied to the root transaction object: a new transaction on the same
session starts empty, so nothing read under one snapshot leaks into the next.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

_KEY = "cuida.txcache"
# Spaces that record locks: a lock taken inside a savepoint is released when that savepoint rolls
# back, so these are forgotten on any rollback (the next caller simply locks again).
LOCK_SPACES = ("locked", "events")


def scratch(session: Session, name: str) -> dict[Any, Any]:
    """The dict called `name` for the session's current root transaction (empty at its start)."""
    transaction = session.get_transaction()
    entry = session.info.get(_KEY)
    if entry is None or entry[0] is not transaction:
        # Holding the transaction object itself keeps its id from being reused by the next one.
        entry = (transaction, {})
        session.info[_KEY] = entry
    spaces: dict[str, dict[Any, Any]] = entry[1]
    return spaces.setdefault(name, {})


def forget(session: Session, name: str) -> None:
    scratch(session, name).clear()


def hold(session: Session, rows: Any) -> None:
    """Keep rows loaded for later `session.get`s of this transaction: the session's identity map
    holds unchanged rows weakly, so rows loaded ahead in bulk would otherwise be dropped at once
    and each `get` would query again."""
    scratch(session, "held").setdefault("rows", []).extend(rows)


def mark_locked(session: Session, table: str, ids: Any) -> None:
    """Record rows locked FOR UPDATE in this transaction (a rollback, even of a savepoint,
    forgets them all: rolling one back releases the row locks taken in it)."""
    scratch(session, "locked").setdefault(table, set()).update(ids)


def is_locked(session: Session, table: str, row_id: Any) -> bool:
    return row_id in scratch(session, "locked").get(table, ())


@event.listens_for(Session, "after_soft_rollback")
def _forget_locks(session: Session, previous_transaction: SessionTransaction) -> None:
    entry = session.info.get(_KEY)
    if entry is not None:
        for name in LOCK_SPACES:
            entry[1].pop(name, None)
