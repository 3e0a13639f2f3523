#!/usr/bin/env python
"""SLA timer benchmark: N open conversations whose first-response deadlines are staggered over a
window; a worker runs the reconciler's timer pass while the clock passes every deadline; prints
the delay between each escalation step's due time and the moment it fired (p50/p99/max) and the
worker's CPU seconds.

    .venv/bin/python bench/sla_timers.py --backend both --n 100000

Setup stores exactly what the product stores for an unanswered conversation (customer,
conversation assigned to an agent of a team with a lead, its `sla_clocks` row and one `timers`
row per ladder step, computed with `sla.service.step_due_times`), in bulk inserts.

Time: the manual clock, moved the way a worker experiences time. A pass runs what
`jobs.reconciler.fire_timers` runs (batches of 200 through `timers.service.fire_due`, one
transaction each) and before every batch the clock is set to the pass's start plus the wall time
the pass has spent so far; between passes it moves CUIDA_RECONCILE_SECONDS (10). So a worker too
slow for the rate of deadlines shows up as delay, yet a two-hour story takes minutes, not hours.
CPU seconds are this process's (the worker's); PostgreSQL's server CPU is not included.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import func, insert, select, text

from cuida.auth.schemas import AgentCreate, TeamCreate
from cuida.auth.service import create_agent, create_team
from cuida.clock.service import set_now
from cuida.conversations.models import Conversation
from cuida.customers.models import Customer
from cuida.db.migrate import upgrade
from cuida.notifications.models import Notification
from cuida.runtime import Runtime
from cuida.settings import load_settings
from cuida.sla.models import SlaClock
from cuida.sla.service import DEFAULT_POLICY, STEP_TIMER, step_due_times
from cuida.timers.models import Timer
from cuida.timers.service import fire_due

console = Console() if sys.stdout.isatty() else Console(width=120)
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
CHUNK = 5000
BATCH = 200  # as jobs.reconciler.fire_timers
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


def run_worker(runtime: Runtime, total: int, interval_s: float) -> dict[str, float]:
    """Passes of the reconciler's timer work until every timer has fired; returns CPU and wall."""
    with runtime.db.sessions() as session:
        story = session.scalar(select(func.min(Timer.due_at))) or T0
    fired_total = 0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    passes = 0
    with progress() as bar:
        task = bar.add_task(f"{runtime.db.dialect}: firing SLA steps", total=total)
        while fired_total < total:
            passes += 1
            pass_wall = time.perf_counter()
            while True:
                with runtime.db.session() as session:
                    at = story + timedelta(seconds=time.perf_counter() - pass_wall)
                    set_now(session=session, to=at)
                    fired = fire_due(session=session, limit=BATCH)
                fired_total += fired
                bar.advance(task, fired)
                if fired < BATCH:
                    break
            story = story + timedelta(seconds=time.perf_counter() - pass_wall + interval_s)
    return {"cpu_s": time.process_time() - cpu0, "wall_s": time.perf_counter() - wall0, "passes": passes}


def delays(runtime: Runtime) -> dict[str, Any]:
    with runtime.db.sessions() as session:
        rows = session.execute(
            select(Timer.due_at, Timer.fired_at, Timer.error).where(Timer.kind == STEP_TIMER)
        )
        lags, errors = [], 0
        for due, fired, error in rows:
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

        timers = setup(runtime, args.n, args.window, args.target)
        worker = run_worker(runtime, timers, args.interval)
        return {"backend": backend, "timers": timers, **worker, **delays(runtime)}


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
            f"{r['wall_s']:.0f}s",
            f"{r['fully_escalated']:,}",
            str(r["errors"]),
        )
    console.print(table)


if __name__ == "__main__":
    main()
