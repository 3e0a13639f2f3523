"""Wake-ups for live listeners. The events table holds the data; this only says "look again".

In one process a counter is bumped after each commit that published; across processes the
bump travels over Redis pub/sub when Redis is configured, and listeners also look at the table
every couple of seconds, so a missed wake-up delays an update but never loses it.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)
CHANNEL = "cuida:events"


class Broker:
    def __init__(self, redis_url: str | None = None) -> None:
        self.version = 0
        self._lock = threading.Lock()
        self._redis_url = redis_url
        self._redis: Any = None
        self._listener: threading.Thread | None = None
        self._stop = threading.Event()

    def bump(self) -> None:
        with self._lock:
            self.version += 1

    def notify(self) -> None:
        self.bump()
        if self._redis_url:
            try:
                self._client().publish(CHANNEL, "1")
            except Exception as exc:  # the poll fallback still delivers; never fail a commit for this
                log.warning("could not publish wake-up to Redis: %s", exc)

    def _client(self) -> Any:
        if self._redis is None:
            import redis

            self._redis = redis.Redis.from_url(str(self._redis_url), socket_timeout=2)
        return self._redis

    def listen(self) -> None:
        """Start a background thread that turns Redis wake-ups from other processes into bumps."""
        if not self._redis_url or self._listener is not None:
            return

        def run() -> None:
            while not self._stop.is_set():
                try:
                    pubsub = self._client().pubsub(ignore_subscribe_messages=True)
                    pubsub.subscribe(CHANNEL)
                    while not self._stop.is_set():
                        if pubsub.get_message(timeout=1.0):
                            self.bump()
                except Exception as exc:
                    log.warning("Redis wake-up listener: %s; retrying", exc)
                    self._stop.wait(2.0)

        self._listener = threading.Thread(target=run, name="cuida-events-listener", daemon=True)
        self._listener.start()

    def close(self) -> None:
        self._stop.set()


def attach(sessions: sessionmaker[Session], broker: Broker) -> None:
    """Notify the broker after every commit that published an event."""

    @sa_event.listens_for(sessions, "after_commit")
    def _after_commit(session: Session) -> None:
        if session.in_nested_transaction():
            return  # a savepoint released: the real commit is still to come
        if session.info.pop("published", False):
            broker.notify()

    @sa_event.listens_for(sessions, "after_rollback")
    def _after_rollback(session: Session) -> None:
        if session.in_nested_transaction():
            return  # a savepoint rolled back; what was published before it still stands
        session.info.pop("published", None)
