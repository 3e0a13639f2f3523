"""Job consumers: threads that take jobs from Huey and run them, plus the reconciler thread.

Used in-process by `cuida serve` and as the whole of `cuida worker`. Huey's own consumer
installs signal handlers, which only the main thread may do; these threads leave signals alone.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from cuida.jobs import tasks
from cuida.jobs.reconciler import reconcile

if TYPE_CHECKING:
    from cuida.runtime import Runtime

log = logging.getLogger(__name__)


class Consumers:
    def __init__(self, runtime: Runtime, threads: int, *, reconcile_every: float) -> None:
        self.runtime = runtime
        self.stop_flag = threading.Event()
        self.threads = [
            threading.Thread(target=self._work, name=f"cuida-worker-{i}", daemon=True) for i in range(threads)
        ]
        self.threads.append(
            threading.Thread(
                target=self._reconcile, args=(reconcile_every,), name="cuida-reconciler", daemon=True
            )
        )
        self.threads.append(threading.Thread(target=self._watch_mail, name="cuida-mail-idle", daemon=True))

    def start(self) -> Consumers:
        tasks.register()
        _warm_up()
        for thread in self.threads:
            thread.start()
        return self

    def _work(self) -> None:
        huey = self.runtime.huey
        idle = 0.02
        while not self.stop_flag.is_set():
            try:
                task = huey.dequeue()
            except Exception as exc:
                log.warning("cannot read the queue: %s", exc)
                self.stop_flag.wait(1.0)
                continue
            if task is None:
                if not huey.storage.blocking:
                    # Wake at once when this process enqueues; back off to 0.5 s otherwise.
                    self.runtime.wake.wait(idle)
                    self.runtime.wake.clear()
                    idle = min(idle * 2, 0.5)
                continue
            idle = 0.02
            try:
                huey.execute(task)
            except Exception:
                log.exception("job %s failed", task.id)

    def _reconcile(self, every: float) -> None:
        while not self.stop_flag.wait(every):
            try:
                reconcile(self.runtime)
            except Exception as exc:
                log.warning("reconciler pass failed: %s", exc)

    def _watch_mail(self) -> None:
        from cuida.channels.mail.idle import MailWatchers

        MailWatchers(self.runtime, self.stop_flag).run()

    def stop(self, timeout: float = 10.0) -> None:
        self.stop_flag.set()
        self.runtime.wake.set()
        for thread in self.threads:
            thread.join(timeout)


def _warm_up() -> None:
    """Load the language model now (about a second), not inside the first message's job."""
    from cuida.triage import analyze

    try:
        analyze("hola, buenos días")
    except Exception as exc:  # the jobs will report it; never keep the consumers from starting
        log.warning("could not load the triage model ahead of time: %s", exc)
