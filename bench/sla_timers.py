#!/usr/bin/env python
"""SLA timer benchmark: N open conversations whose first-response deadlines are staggered over a
window; a worker runs the reconciler's timer pass while the clock passes every deadline; prints
the delay between each escalation step's due time and the moment it fired (p50/p99/max) and the
worker's CPU seconds.

    .venv/bin/python bench/sla_timers.py --backend both --n 100000

Setup stores exactly what the product stores for an unanswered conversation (customer,
conversation assigned to an agent of a team with a lead, its `sla_clocks` row and one `timers`
row per ladder step, computed with `sla.service.step_due_times`), in bulk inserts.

Time: the manual clock, moved the way a worker experiences time. A reconciler thread runs the
product's timer pass, `jobs.reconciler.fire_timers` (batches of 200 through
`timers.service.fire_due` and the registered SLA handlers, one transaction each, looping until
nothing due is left); while a pass runs, this process moves the clock to the pass's start plus the
wall time it has spent (every 50 ms); between passes the clock jumps the reconciler interval
(CUIDA_RECONCILE_SECONDS, 10). So a worker too slow for the rate of deadlines shows up as delay,
yet a two-hour story takes only the worker's busy time. CPU seconds are the reconciler thread's;
PostgreSQL's server CPU is not included. On PostgreSQL the plan of the due-timer query at full
size is printed (it must use the pending-timer index).

A burst: `--n 5000 --window 1` makes 5,000 timers fall due in the same second, three times over
(warning, breach, managers): every one must fire within a minute.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import event, func, insert, select, text
from sqlalchemy.exc import OperationalError

from cuida.auth.schemas import AgentCreate, TeamCreate
from cuida.auth.service import create_agent, create_team
from cuida.clock.service import set_now
from cuida.conversations.models import Conversation
from cuida.customers.models import Customer
from cuida.db.engine import Database
from cuida.db.migrate import upgrade
from cuida.jobs.reconciler import fire_timers
from cuida.notifications.models import Notification
from cuida.runtime import Runtime
from cuida.settings import load_settings
from cuida.sla.models import SlaClock
from cuida.sla.service import DEFAULT_POLICY, STEP_TIMER, step_due_times
from cuida.timers.models import Timer
from cuida.timers.service import due_query

console = Console() if sys.stdout.isatty() else Console(width=120)
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
CHUNK = 5000
BATCH = 200  # as jobs.reconciler.fire_timers
TICK = 0.05  # seconds between moves of the story clock during a pass
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


@contextlib.contextmanager
def database(backend: str, admin_url: str) -> Iterator[Runtime]:
    with tempfile.TemporaryDirectory(prefix="cuida-sla-bench-") as folder:
        if backend == "sqlite":
            settings = load_settings(data_dir=Path(folder), manual_clock=True)
            runtime = Runtime(settings, immediate=True)
            try:
                upgrade(runtime.db)
                yield runtime
            finally:
                runtime.close()
            return
        import psycopg

        name = "cuida_sla_bench"
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            url = admin_url.rsplit("/", 1)[0] + "/" + name
            settings = load_settings(
                database_url=url, data_dir=Path(folder), manual_clock=True, manual_clock_force=True
            )
            runtime = Runtime(settings, immediate=True)
            try:
                upgrade(runtime.db)
                yield runtime
            finally:
                runtime.close()
        finally:
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def setup(runtime: Runtime, n: int, window_s: float, target_minutes: int) -> int:
    """Store n unanswered conversations; conversation i breaches at T0 + window * i / n."""
    with runtime.db.session() as session:
        set_now(session=session, to=T0 - timedelta(minutes=target_minutes))
        team = create_team(session=session, data=TeamCreate(slug="care", name="Care"))
        password = "bench password 1"
        create_agent(
            session=session,
            data=AgentCreate(
                email="lead@x.es", name="Lead", password=password, role="lead", team_slugs=["care"]
            ),
        )
        create_agent(
            session=session,
            data=AgentCreate(email="boss@x.es", name="Boss", password=password, role="manager"),
        )
        agents = [
            create_agent(
                session=session,
                data=AgentCreate(email=f"a{i}@x.es", name=f"A{i}", password=password, team_slugs=["care"]),
            ).id
            for i in range(10)
        ]
        team_id = team.id
    ladder = DEFAULT_POLICY.escalation
    timers = 0
    with progress() as bar:
        task = bar.add_task(f"{runtime.db.dialect}: storing conversations", total=n)
        for start in range(0, n, CHUNK):
            ids = range(start + 1, min(n, start + CHUNK) + 1)
            customers, conversations, clocks, rows = [], [], [], []
            for i in ids:
                due = T0 + timedelta(seconds=window_s * (i - 1) / n)
                started = due - timedelta(minutes=target_minutes)
                customers.append(
                    {"id": i, "name": f"Cliente {i}", "currency": "EUR", "tags": [], "attributes": {},
                     "search_text": "", "created_at": started, "updated_at": started}
                )  # fmt: skip
                conversations.append(
                    {"id": i, "customer_id": i, "channel": "email", "channels": ["email"], "status": "open",
                     "priority": 1, "assignee_id": agents[i % len(agents)], "team_id": team_id,
                     "subject": f"Pedido {i}", "risk_score": 0.0, "is_public": False, "message_count": 1,
                     "created_at": started, "updated_at": started, "last_message_at": started,
                     "last_inbound_at": started}
                )  # fmt: skip
                clock = SlaClock(
                    id=i, conversation_id=i, kind="first_response", policy_id=None, policy_name="default",
                    calendar=None, ladder=ladder, generation=1, started_at=started,
                    base_target_minutes=float(target_minutes), target_minutes=float(target_minutes),
                    base_due_at=due, due_at=due, factor=1.0, reasons=[], paused_minutes=0.0, level=0, marks=[],
                )  # fmt: skip
                clocks.append({c.key: getattr(clock, c.key) for c in SlaClock.__table__.columns})
                for step, step_due in enumerate(step_due_times(clock)):
                    rows.append(
                        {"kind": STEP_TIMER, "key": f"sla:{i}:first_response:{step}", "due_at": step_due,
                         "conversation_id": i, "payload": {"clock_id": i, "step": step, "generation": 1},
                         "created_at": started}
                    )  # fmt: skip
            with runtime.db.session() as session:
                session.execute(insert(Customer), customers)
                session.execute(insert(Conversation), conversations)
                session.execute(insert(SlaClock), clocks)
                session.execute(insert(Timer), rows)
            timers += len(rows)
            bar.advance(task, len(ids))
    if runtime.db.dialect == "postgresql":
        with runtime.db.session() as session:
            for table in ("customers", "conversations", "sla_clocks"):
                session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {n})"))
    return timers


class Worker(threading.Thread):
    """The reconciler's timer pass as the product runs it: `jobs.reconciler.fire_timers` (batches
    through `timers.service.fire_due` with the registered SLA handlers) in its own thread, one
    pass each time it is told to go. CPU is this thread's own (time.thread_time)."""

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(name="cuida-reconciler", daemon=True)
        self.runtime = runtime
        self.go = threading.Event()
        self.idle = threading.Event()
        self.stop = False
        self.fired = 0
        self.passes: list[tuple[int, float]] = []  # (timers fired, wall seconds) per pass
        self.cpu_s = 0.0
        self.error: BaseException | None = None

    def run(self) -> None:
        cpu0 = time.thread_time()
        try:
            while True:
                self.go.wait()
                self.go.clear()
                if self.stop:
                    return
                started = time.perf_counter()
                fired = fire_timers(self.runtime)
                self.fired += fired
                self.passes.append((fired, time.perf_counter() - started))
                self.cpu_s = time.thread_time() - cpu0
                self.idle.set()
        except BaseException as exc:  # reported by the driver
            self.error = exc
            self.idle.set()


def _ticker_db(runtime: Runtime) -> Database:
    """A second engine for moving the clock mid-pass; on SQLite it waits at most 100 ms for the
    write lock instead of 30 s."""
    ticker = Database(runtime.settings)
    ticker.sessions.configure(info={"manual_clock": True})
    if ticker.dialect == "sqlite":
        event.listen(ticker.engine, "connect", lambda conn, _record: conn.execute("PRAGMA busy_timeout=100"))
    return ticker


def run_worker(runtime: Runtime, total: int, interval_s: float) -> dict[str, float]:
    """Drive the story clock while the worker runs passes until every timer has fired.

    While a pass runs, the clock is the pass's start plus the wall time spent so far (moved every
    TICK); between passes it jumps the reconciler interval, so idle time costs nothing."""
    with runtime.db.sessions() as session:
        story = session.scalar(select(func.min(Timer.due_at))) or T0
    ticker = _ticker_db(runtime)
    worker = Worker(runtime)
    worker.start()
    wall0 = time.perf_counter()
    with progress() as bar:
        task = bar.add_task(f"{runtime.db.dialect}: firing SLA steps", total=total)
        while worker.fired < total:
            with runtime.db.session() as session:
                set_now(session=session, to=story)
            pass_wall = time.perf_counter()
            worker.go.set()
            while not worker.idle.wait(TICK):
                # SQLite: the worker holds the one write lock almost all the pass; a tick that cannot
                # get it is skipped, so the clock lags and delays are, if anything, overstated.
                with contextlib.suppress(OperationalError), ticker.session() as session:
                    set_now(session=session, to=story + timedelta(seconds=time.perf_counter() - pass_wall))
                bar.update(task, completed=worker.fired)
            worker.idle.clear()
            if worker.error is not None:
                raise RuntimeError("the reconciler thread failed") from worker.error
            bar.update(task, completed=worker.fired)
            story = story + timedelta(seconds=time.perf_counter() - pass_wall + interval_s)
    worker.stop = True
    worker.go.set()
    worker.join(10)
    ticker.dispose()
    busiest = max(worker.passes, key=lambda p: p[0])
    return {
        "cpu_s": worker.cpu_s,
        "wall_s": time.perf_counter() - wall0,
        "passes": len(worker.passes),
        "busiest_pass": busiest[0],
        "busiest_pass_s": busiest[1],
        "longest_pass_s": max(p[1] for p in worker.passes),
    }


def explain(runtime: Runtime) -> str:
    """PostgreSQL's plan for the due-timer query at the current table size."""
    if runtime.db.dialect != "postgresql":
        return ""
    with runtime.db.session() as session:
        session.execute(text("ANALYZE timers"))
        query = due_query(at=T0 + timedelta(minutes=30), limit=BATCH, postgres=True)
        compiled = query.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
        rows = session.execute(text(f"EXPLAIN (ANALYZE, COSTS OFF) {compiled}")).scalars()
        return "\n".join(rows)


def delays(runtime: Runtime) -> dict[str, Any]:
    with runtime.db.sessions() as session:
        rows = session.execute(
            select(Timer.due_at, Timer.fired_at, Timer.error).where(Timer.kind == STEP_TIMER)
        )
        lags, errors = [], 0
        for due, fired, error in rows:
            assert fired is not None, "every timer has fired when the worker stops"
            lags.append((fired - due).total_seconds())
            errors += error is not None
        levels = session.scalar(select(func.count()).where(SlaClock.level == len(DEFAULT_POLICY.escalation)))
        breached = session.scalar(select(func.count()).where(SlaClock.breached_at.is_not(None)))
        notes = session.scalar(select(func.count()).select_from(Notification))
    lags.sort()
    return {
        "p50": statistics.median(lags),
        "p99": lags[min(len(lags) - 1, int(len(lags) * 0.99))],
        "max": lags[-1],
        "errors": errors,
        "fully_escalated": levels,
        "breached": breached,
        "notifications": notes,
    }


def bench(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    with database(backend, args.pg_url) as runtime:
        import cuida.events.subscribers  # noqa: F401  the sla.step handler

        started = time.perf_counter()
        timers = setup(runtime, args.n, args.window, args.target)
        seeded_s = time.perf_counter() - started
        plan = explain(runtime)
        if plan:
            console.print(f"[bold]{backend}[/]: plan of the due-timer query with {timers:,} timers\n{plan}")
        worker = run_worker(runtime, timers, args.interval)
        return {"backend": backend, "timers": timers, "seed_s": seeded_s, **worker, **delays(runtime)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--n", type=int, default=100_000, help="open conversations (default 100,000)")
    parser.add_argument("--window", type=float, default=3600, help="breaches spread over this many seconds")
    parser.add_argument("--target", type=int, default=60, help="first-response target in minutes (24/7)")
    parser.add_argument("--interval", type=float, default=10, help="seconds between reconciler passes")
    parser.add_argument(
        "--pg-url", default=DEFAULT_PG, help="PostgreSQL admin URL (a scratch database is made)"
    )
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results = [bench(b, args) for b in backends]
    table = Table(
        title=f"SLA timers: {args.n:,} conversations, breaches over {args.window:g}s, pass every {args.interval:g}s"
    )
    for column in (
        "backend",
        "steps fired",
        "delay p50",
        "p99",
        "max",
        "worker CPU",
        "wall",
        "busiest pass",
        "escalated",
        "errors",
    ):
        table.add_column(column, justify="right")
    for r in results:
        table.add_row(
            r["backend"],
            f"{r['timers']:,}",
            f"{r['p50']:.1f}s",
            f"{r['p99']:.1f}s",
            f"{r['max']:.1f}s",
            f"{r['cpu_s']:.0f}s ({r['cpu_s'] / r['timers'] * 1000:.2f} ms/step)",
            f"{r['wall_s']:.0f}s (seed {r['seed_s']:.0f}s)",
            f"{r['busiest_pass']:,} in {r['busiest_pass_s']:.1f}s",
            f"{r['fully_escalated']:,}",
            str(r["errors"]),
        )
    console.print(table)


if __name__ == "__main__":
    main()
