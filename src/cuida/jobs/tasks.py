"""Job handlers. Registered lazily on the current runtime's Huey, by name, so a worker on
another machine runs the same handler for the same name."""

from __future__ import annotations

import logging
from typing import Any

from cuida.runtime import current

log = logging.getLogger(__name__)
_registered: dict[int, dict[str, Any]] = {}


def _tasks() -> dict[str, Any]:
    runtime = current()
    key = id(runtime.huey)
    if key not in _registered:
        huey = runtime.huey

        @huey.task(name="process_messages")
        def _process_messages(ids: list[int]) -> int:
            from cuida.ingest.service import process_messages

            rt = current()
            return process_messages(rt.db, ids, lease_seconds=rt.settings.lease_seconds)

        @huey.task(name="deliver_reply")
        def _deliver_reply(delivery_id: int) -> bool:
            from cuida.jobs.delivery import deliver

            return deliver(current(), delivery_id)

        _registered[key] = {"process_messages": _process_messages, "deliver_reply": _deliver_reply}
    return _registered[key]


def register() -> None:
    """Make sure this process's Huey knows every handler (consumers call it before dequeuing)."""
    _tasks()


def process_messages(ids: list[int]) -> None:
    _tasks()["process_messages"](ids)


def deliver_reply(delivery_id: int) -> None:
    _tasks()["deliver_reply"](delivery_id)
