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

        @huey.task(name="poll_channel")
        def _poll_channel(account_id: int) -> Any:
            from cuida.channels.service import poll_now

            return poll_now(current(), account_id)

        @huey.task(name="poll_feed")
        def _poll_feed(feed_id: int) -> Any:
            from cuida.listening.feeds import poll_now as poll_listening_feed

            return poll_listening_feed(current(), feed_id).model_dump()

        _registered[key] = {
            "process_messages": _process_messages,
            "deliver_reply": _deliver_reply,
            "poll_channel": _poll_channel,
            "poll_feed": _poll_feed,
        }
    return _registered[key]


def register() -> None:
    """Make sure this process's Huey knows every handler (consumers call it before dequeuing)."""
    _tasks()


def process_messages(ids: list[int]) -> None:
    _tasks()["process_messages"](ids)


def deliver_reply(delivery_id: int) -> None:
    _tasks()["deliver_reply"](delivery_id)


def poll_channel(account_id: int) -> None:
    _tasks()["poll_channel"](account_id)


def poll_feed(feed_id: int) -> None:
    _tasks()["poll_feed"](feed_id)
