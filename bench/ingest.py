#!/usr/bin/env python
"""End-to-end ingest benchmark: messages per second from the first POST until every message is
stage 'done' (accepted -> stored -> linked -> threaded -> triaged), next to the raw rate of
inserting the same rows with plain SQL, in the same run.

    .venv/bin/python bench/ingest.py --backend both --messages 5000 --repeat 3

SQLite: one `cuida serve` process with its in-process workers (CUIDA_WORKER_THREADS, default 2)
and the SqliteHuey queue file, exactly as a single-machine install runs.
PostgreSQL: `cuida serve --no-workers` plus `--pg-workers` `cuida worker` processes (default 2,
each with the default 2 threads) consuming a RedisHuey queue.

Each repeat uses fresh databases; the table reports medians (these machines are small and
noisy). Every temporary database, folder and subprocess is removed at the end, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cuida.search.text import index_text

console = Console() if sys.stdout.isatty() else Console(width=120)  # piped: no wrapping
BATCH = 1000
SCOPES = "messages:write,messages:read"
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/13"

TEXTS = [
    "Hola, llevo {n} días sin conexión a internet y nadie me da una solución. ¿Pueden ayudarme?",
    "Buenos días, quiero saber por qué me han cobrado {n} euros de más en la última factura.",
    "Me mudo el mes que viene y necesito trasladar la línea. ¿Cuánto tarda el traslado?",
    "El técnico no vino ayer a la cita de las {n}. Estoy muy molesto, es la segunda vez.",
    "Quiero darme de baja del servicio, el router se reinicia solo cada {n} minutos.",
    "Gracias por la atención de ayer, el problema con la fibra ya está resuelto.",
    "¿Tienen alguna oferta para clientes antiguos? Llevo {n} años con ustedes.",
    "No puedo acceder al área de cliente, me dice que la contraseña no es correcta.",
    "He recibido un mensaje raro pidiendo mis datos bancarios, ¿es de ustedes?",
    "La velocidad contratada es de 600 megas pero solo me llegan {n}. Por favor, revísenlo.",
]


def author_of(index: int) -> tuple[str, str]:
    """(channel, author value) for author number `index`: email, WhatsApp or Twitter."""
    kind = index % 3
    if kind == 0:
        return "email", f"cliente{index}@correo.es"
    if kind == 1:
        return "whatsapp", f"+34 6{index:08d}"
    return "twitter", f"@cliente_{index}"


def make_messages(count: int, authors: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    messages = []
    for i in range(count):
        author = rng.randrange(authors)
        channel, value = author_of(author)
        messages.append(
            {
                "channel": channel,
                "external_id": f"bench-{i}",
                "direction": "in",
                "author": {"value": value, "name": f"Cliente {author}"},
                "text": rng.choice(TEXTS).format(n=rng.randint(2, 90)),
                "public": channel == "twitter",
            }
        )
    return messages


# --- processes -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cuida_env(
    data_dir: Path, database_url: str | None, redis_url: str | None, **extra: str
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUIDA_")}
    env.update({"CUIDA_DATA_DIR": str(data_dir), "CUIDA_LOG_LEVEL": "warning", **extra})
    if database_url:
        env["CUIDA_DATABASE_URL"] = database_url
    if redis_url:
        env["CUIDA_REDIS_URL"] = redis_url
    return env


def cuida(args: list[str], env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "cuida.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"cuida {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout


@dataclass
class Procs:
    """Every subprocess started, stopped at the end whatever happens."""

    running: list[tuple[subprocess.Popen[bytes], Path]] = field(default_factory=list)

    def start(self, args: list[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "cuida.cli", *args],
                env=env,
                cwd=cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.running.append((proc, log))
        return proc

    def stop_all(self) -> None:
        for proc, _ in self.running:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc, _ in self.running:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self.running.clear()

    def check_alive(self) -> None:
        for proc, log in self.running:
            if proc.poll() is not None:
                tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
                raise RuntimeError(f"{' '.join(map(str, proc.args))} exited with {proc.returncode}:\n{tail}")


def wait_healthy(base: str, procs: Procs, deadline_s: float = 60) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        procs.check_alive()
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"cuida serve did not answer at {base} within {deadline_s}s")


# --- databases -------------------------------------------------------------------------------------


def _pg_admin(admin_url: str) -> Any:
    import psycopg

    return psycopg.connect(admin_url, autocommit=True)


@contextlib.contextmanager
def pg_database(admin_url: str, name: str) -> Iterator[str]:
    with _pg_admin(admin_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with _pg_admin(admin_url) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=5)
    client.flushdb()
    client.close()


class DoneCounter:
    """Counts messages at stage 'done' with a plain driver connection (no cuida code)."""

    def __init__(self, database_url: str | None, sqlite_file: Path | None) -> None:
        if database_url:
            import psycopg

            self.conn: Any = psycopg.connect(database_url, autocommit=True)
        else:
            assert sqlite_file is not None
            self.conn = sqlite3.connect(f"file:{sqlite_file}?mode=ro", uri=True, isolation_level=None)
            self.conn.execute("PRAGMA busy_timeout=30000")

    def count(self) -> tuple[int, int]:
        row = self.conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE stage = 'done') FROM messages"
        ).fetchone()
        return int(row[0]), int(row[1])

    def close(self) -> None:
        self.conn.close()


# --- one measured run ------------------------------------------------------------------------------


@dataclass
class Result:
    accept_rate: float  # msg/s, POST of all batches with no consumer running
    e2e_rate: float  # msg/s, first POST until all are done, consumers running
    e2e_accept_rate: float  # msg/s, POST of all batches while consumers run
    raw_rate: float  # msg/s, executemany INSERT of the same rows


def post_all(client: httpx.Client, messages: list[dict[str, Any]], progress: Progress, task: Any) -> None:
    for start in range(0, len(messages), BATCH):
        chunk = messages[start : start + BATCH]
        response = client.post("/api/v1/messages/batch", json={"messages": chunk})
        if response.status_code != 202:
            raise RuntimeError(f"batch answered {response.status_code}: {response.text[:500]}")
        progress.update(task, advance=len(chunk))


class Backend:
    def __init__(self, name: str, args: argparse.Namespace, workdir: Path) -> None:
        self.name = name
        self.args = args
        self.workdir = workdir

    @contextlib.contextmanager
    def fresh(self, tag: str) -> Iterator[tuple[dict[str, str], Path]]:
        data = self.workdir / f"{self.name}-{tag}"
        data.mkdir()
        if self.name == "sqlite":
            env = cuida_env(data, None, None)
            cuida(["migrate"], env, data)
            yield env, data
        else:
            flush_redis(self.args.redis_url)
            with pg_database(self.args.postgres_url, f"cuida_bench_{os.getpid()}_{tag}") as url:
                env = cuida_env(data, url, self.args.redis_url)
                cuida(["migrate"], env, data)
                yield env, data

    def counter(self, env: dict[str, str], data: Path) -> DoneCounter:
        return DoneCounter(env.get("CUIDA_DATABASE_URL"), data / "cuida.sqlite3")

    def serve(self, procs: Procs, env: dict[str, str], data: Path, *, workers: bool) -> str:
        port = free_port()
        args = ["serve", "--port", str(port)]
        if not workers or self.name == "postgresql":
            args.append("--no-workers")
        procs.start(args, env, data, data / "serve.log")
        if workers and self.name == "postgresql":
            for i in range(self.args.pg_workers):
                procs.start(["worker"], env, data, data / f"worker-{i}.log")
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base, procs)
        return base

    def token(self, env: dict[str, str], data: Path) -> str:
        return (
            cuida(["token", "create", "--name", "bench", "--scopes", SCOPES], env, data)
            .strip()
            .splitlines()[-1]
        )

    def accept_only(self, messages: list[dict[str, Any]], progress: Progress, run: str) -> float:
        procs = Procs()
        try:
            with self.fresh(f"accept{run}") as (env, data):
                token = self.token(env, data)
                base = self.serve(procs, env, data, workers=False)
                task = progress.add_task(f"{self.name} {run}: accept only", total=len(messages))
                with httpx.Client(
                    base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120
                ) as client:
                    started = time.perf_counter()
                    post_all(client, messages, progress, task)
                    elapsed = time.perf_counter() - started
                progress.remove_task(task)
                procs.stop_all()
                return len(messages) / elapsed
        finally:
            procs.stop_all()

    def end_to_end(self, messages: list[dict[str, Any]], progress: Progress, run: str) -> tuple[float, float]:
        procs = Procs()
        counter = None
        try:
            with self.fresh(f"e2e{run}") as (env, data):
                token = self.token(env, data)
                base = self.serve(procs, env, data, workers=True)
                counter = self.counter(env, data)
                posting = progress.add_task(f"{self.name} {run}: posting", total=len(messages))
                processing = progress.add_task(f"{self.name} {run}: done", total=len(messages))
                with httpx.Client(
                    base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120
                ) as client:
                    started = time.perf_counter()
                    post_all(client, messages, progress, posting)
                    accepted = time.perf_counter() - started
                deadline = time.monotonic() + self.args.timeout
                while True:
                    _, done = counter.count()
                    progress.update(processing, completed=done)
                    if done >= len(messages):
                        break
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"only {done} of {len(messages)} done after {self.args.timeout}s")
                    procs.check_alive()
                    time.sleep(0.05)
                elapsed = time.perf_counter() - started
                progress.remove_task(posting)
                progress.remove_task(processing)
                counter.close()
                counter = None
                procs.stop_all()
                return len(messages) / elapsed, len(messages) / accepted
        finally:
            if counter is not None:
                counter.close()
            procs.stop_all()

    def raw_insert(self, messages: list[dict[str, Any]], run: str) -> float:
        """Plain DB-API executemany of the rows `accept` would store, into `messages` of a
        fresh migrated database, one transaction per batch of BATCH rows."""
        at = datetime.now(UTC)
        rows = []
        for m in messages:
            meta = {"source": {"type": "token", "id": 1, "name": "bench"}}
            rows.append(
                (
                    m["channel"],
                    m["external_id"],
                    "in",
                    m["author"]["value"],
                    m["author"]["name"],
                    None,
                    m["text"],
                    None,
                    m["public"],
                    None,
                    at,
                    at,
                    json.dumps(m),
                    json.dumps(meta),
                    index_text(m["text"]),
                    "received",
                    0,
                    at,
                )
            )
        columns = (
            "channel, external_id, direction, author_value, author_name, author_followers, text, html, "
            "public, in_reply_to, occurred_at, received_at, raw, meta, search_text, stage, attempts, "
            "enqueued_at"
        )
        with self.fresh(f"raw{run}") as (env, data):
            if self.name == "sqlite":
                conn: Any = sqlite3.connect(data / "cuida.sqlite3", isolation_level=None)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                naive = at.replace(tzinfo=None)
                rows = [(*r[:10], naive, naive, *r[12:17], naive) for r in rows]
                sql = f"INSERT INTO messages ({columns}) VALUES ({', '.join('?' * 18)})"
                started = time.perf_counter()
                for start in range(0, len(rows), BATCH):
                    conn.execute("BEGIN IMMEDIATE")
                    conn.executemany(sql, rows[start : start + BATCH])
                    conn.execute("COMMIT")
                elapsed = time.perf_counter() - started
                conn.close()
            else:
                import psycopg
                from psycopg.types.json import Jsonb

                rows = [(*r[:12], Jsonb(json.loads(r[12])), Jsonb(json.loads(r[13])), *r[14:]) for r in rows]
                sql = f"INSERT INTO messages ({columns}) VALUES ({', '.join(['%s'] * 18)})"
                with psycopg.connect(env["CUIDA_DATABASE_URL"]) as conn:
                    started = time.perf_counter()
                    for start in range(0, len(rows), BATCH):
                        with conn.cursor() as cur:
                            cur.executemany(sql, rows[start : start + BATCH])
                        conn.commit()
                    elapsed = time.perf_counter() - started
        return len(rows) / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per backend; the median is reported")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--authors", type=int, default=500, help="distinct authors (customers to link)")
    parser.add_argument("--pg-workers", type=int, default=2, help="`cuida worker` processes for PostgreSQL")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("CUIDA_BENCH_POSTGRES_URL", DEFAULT_PG),
        help="an admin connection; scratch databases cuida_bench_* are made beside it",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("CUIDA_BENCH_REDIS_URL", DEFAULT_REDIS),
        help="a Redis database the benchmark may flush",
    )
    parser.add_argument("--timeout", type=float, default=600, help="seconds allowed for one run to finish")
    args = parser.parse_args()

    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    messages = make_messages(args.messages, args.authors)
    results: dict[str, list[Result]] = {name: [] for name in backends}
    console.print(
        f"{args.messages} messages from {args.authors} authors, batches of {BATCH}, "
        f"{args.repeat} runs per backend, {os.cpu_count()} CPUs"
    )
    with (
        tempfile.TemporaryDirectory(prefix="cuida-bench-") as tmp,
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress,
    ):
        for run in range(1, args.repeat + 1):
            for name in backends:
                backend = Backend(name, args, Path(tmp))
                raw = backend.raw_insert(messages, str(run))
                accept = backend.accept_only(messages, progress, str(run))
                e2e, e2e_accept = backend.end_to_end(messages, progress, str(run))
                results[name].append(Result(accept, e2e, e2e_accept, raw))
                progress.console.print(
                    f"  {name:10} run {run}: raw {raw:8.0f}/s  accept {accept:6.0f}/s  "
                    f"end-to-end {e2e:6.0f}/s (accepted in {args.messages / e2e_accept:5.1f}s)"
                )

    table = Table(title=f"cuida ingest: {args.messages} messages, median of {args.repeat} runs")
    for column in (
        "backend",
        "raw INSERT/s",
        "accept/s",
        "end-to-end/s",
        "e2e range",
        "e2e÷raw",
        "accept÷raw",
    ):
        table.add_column(column, justify="left" if column == "backend" else "right")
    for name, runs in results.items():
        raw = statistics.median(r.raw_rate for r in runs)
        accept = statistics.median(r.accept_rate for r in runs)
        e2e = statistics.median(r.e2e_rate for r in runs)
        spread = f"{min(r.e2e_rate for r in runs):,.0f}-{max(r.e2e_rate for r in runs):,.0f}"
        table.add_row(
            name,
            f"{raw:,.0f}",
            f"{accept:,.0f}",
            f"{e2e:,.0f}",
            spread,
            f"{e2e / raw:.1%}",
            f"{accept / raw:.1%}",
        )
    console.print(table)
    notes = {
        "sqlite": "`cuida serve` with its in-process consumers (2 threads), SqliteHuey",
        "postgresql": f"`cuida serve --no-workers` + {args.pg_workers} `cuida worker` process(es) "
        "x 2 threads, RedisHuey",
    }
    for name in results:
        console.print(f"  {name}: {notes[name]}")
    console.print(
        "  raw INSERT: executemany of the same rows into `messages` of a fresh database, "
        f"{BATCH} rows per transaction\n"
        "  accept: POST of all batches with no consumer running (stored + enqueued)\n"
        "  end-to-end: first POST until every message is stage 'done' (stored, linked, threaded, triaged)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
