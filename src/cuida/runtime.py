"""Everything one process needs at run time, built once from the settings.

`cuida serve`, `cuida worker` and the tests each make one Runtime; job handlers find it with
`current()` because Huey calls them with ids only.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Any

from cuida.channels.base import AdapterRegistry
from cuida.db.engine import Database
from cuida.events.broker import Broker, attach
from cuida.settings import Settings, get_settings

log = logging.getLogger(__name__)
_current: Runtime | None = None
JOB_CHUNK = 50  # message ids per job: small enough to spread over workers, big enough to be cheap


class Runtime:
    def __init__(self, settings: Settings, *, immediate: bool = False) -> None:
        import cuida.db.models  # noqa: F401  every table mapped: `cuida worker` imports no routers
        import cuida.events.subscribers  # noqa: F401  domains' reactions and timer handlers
        from cuida.jobs.queue import make_huey

        self.settings = settings
        self.db = Database(settings)
        self.db.sessions.configure(info={"manual_clock": settings.manual_clock})
        self.broker = Broker(settings.redis_url)
        attach(self.db.sessions, self.broker)
        self.adapters = AdapterRegistry()
        from cuida.channels.service import install_adapters

        install_adapters(self)  # senders of configured channel accounts (email), by kind
        self.huey = make_huey(settings, immediate=immediate)
        self.wake = threading.Event()  # nudges in-process consumers the moment work is enqueued
        self.consumers: Any = None
        self.triage_model_dir = settings.data_dir / "models" / "triage"
        if (self.triage_model_dir / "triage-model.npz").exists():
            # A model this company trained on its own corrections wins over the shipped one.
            from cuida.triage.service import use_model_dir

            use_model_dir(self.triage_model_dir)

    def install(self) -> Runtime:
        global _current
        _current = self
        return self

    # -- enqueueing: only ids travel; the database holds everything else ---------------------
    def enqueue_messages(self, ids: Iterable[int]) -> None:
        from cuida.jobs.tasks import process_messages

        ids = list(ids)
        for start in range(0, len(ids), JOB_CHUNK):
            process_messages(ids[start : start + JOB_CHUNK])
        self.wake.set()

    def enqueue_delivery(self, delivery_id: int) -> None:
        from cuida.jobs.tasks import deliver_reply

        deliver_reply(delivery_id)
        self.wake.set()

    def close(self) -> None:
        if self.consumers is not None:
            self.consumers.stop()
        self.broker.close()
        self.db.dispose()


def current() -> Runtime:
    if _current is None:
        raise RuntimeError("no Cuida runtime in this process (Runtime(settings).install() first)")
    return _current


def current_settings() -> Settings:
    """The running process's settings; read from the environment when no runtime is installed
    (a service function called from a script or a test without one)."""
    return _current.settings if _current is not None else get_settings()
