"""Process-level tests: real `cuida serve` and `cuida worker` subprocesses, real queues, a worker
killed with SIGKILL in the middle of its work. Nothing may be lost and nothing done twice.

PostgreSQL and Redis must be reachable (CUIDA_TEST_POSTGRES_URL, CUIDA_TEST_WORKERS_REDIS_URL);
when they are not, these tests fail: they are never skipped. Scratch databases are named
cuida_proc_*; the Redis database (14 by default) is flushed at the start of each test.
"""

from __future__ import annotations

import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

pytestmark = pytest.mark.slow

PG_ADMIN_URL = os.environ.get("CUIDA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("CUIDA_TEST_WORKERS_REDIS_URL", "redis://127.0.0.1:6379/14")
SCOPES = "messages:write,messages:read,customers:read,conversations:read"
TEXTS = [
    "Hola, llevo {n} días sin conexión a internet y nadie me da una solución. ¿Pueden ayudarme?",
    "Buenos días, quiero saber por qué me han cobrado {n} euros de más en la última factura.",
    "Me mudo el mes que viene y necesito trasladar la línea. ¿Cuánto tarda el traslado?",
    "El técnico no vino ayer a la cita de las {n}. Estoy muy molesto, es la segunda vez.",
    "Quiero darme de baja del servicio, el router se reinicia solo cada {n} minutos.",
    "La velocidad contratada es de 600 megas pero solo me llegan {n}. Por favor, revísenlo.",
]


# --- services: PostgreSQL and Redis must be there ------------------------------------------------


def _pg_admin() -> Engine:
    return create_engine(
        PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://", 1),
        isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": 5},
    )


@pytest.fixture
def pg_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test (migrated by `cuida migrate`)."""
    name = f"cuida_proc_{os.getpid()}_{re.sub(r'[^a-z0-9]', '', request.node.name.lower())[:30]}"
    engine = _pg_admin()
    try:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        engine.dispose()
        pytest.fail(f"PostgreSQL is required and is not reachable at {PG_ADMIN_URL}: {exc}", pytrace=False)
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@pytest.fixture
def redis_url() -> Iterator[str]:
    """Redis database 14, flushed before (and after) the test."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    try:
        client.flushdb()
    except Exception as exc:
        pytest.fail(f"Redis is required and is not reachable at {REDIS_URL}: {exc}", pytrace=False)
    try:
        yield REDIS_URL
    finally:
        try:
            client.flushdb()
        finally:
            client.close()


# --- subprocesses --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def tail(self, chars: int = 4000) -> str:
        return (
            f"--- {self.name} (pid {self.popen.pid}, exit {self.popen.poll()}) ---\n{self.output()[-chars:]}"
        )


@dataclass
class Cuida:
    """One installation: its data folder, its settings, and every process started for it."""

    data_dir: Path
    env: dict[str, str]
    procs: list[Proc] = field(default_factory=list)

    @property
    def command(self) -> list[str]:
        return [sys.executable, "-m", "cuida.cli"]

    def run(self, *args: str, timeout: float = 120) -> str:
        done = subprocess.run(
            [*self.command, *args],
            env=self.env,
            cwd=self.data_dir,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, (
            f"cuida {' '.join(args)} exited {done.returncode}:\n{done.stderr[-4000:]}"
        )
        return done.stdout

    def migrate_and_token(self) -> str:
        self.run("migrate")
        return self.run("token", "create", "--name", "t", "--scopes", SCOPES).strip().splitlines()[-1]

    def start(self, name: str, *args: str) -> Proc:
        log = self.data_dir / f"{name}.log"
        with open(log, "wb") as out:
            popen = subprocess.Popen(
                [*self.command, *args],
                env=self.env,
                cwd=self.data_dir,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def serve(self, *args: str) -> str:
        port = free_port()
        proc = self.start("serve", "serve", "--port", str(port), *args)
        base = f"http://127.0.0.1:{port}"

        def healthy() -> bool:
            try:
                return httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(healthy, 60, "cuida serve answers /api/v1/health", self, watch=[proc])
        return base

    def worker(self, name: str) -> Proc:
        return self.workers(name)[0]

    def workers(self, *names: str) -> list[Proc]:
        """Start `cuida worker` processes side by side; return once every one is consuming."""
        procs = [self.start(name, "worker") for name in names]
        wait_until(
            lambda: all("consuming from" in proc.output() for proc in procs),
            60,
            f"{', '.join(names)} start consuming",
            self,
            watch=procs,
        )
        return procs

    def logs(self) -> str:
        return "\n".join(p.tail() for p in self.procs)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.popen.poll() is None:
                proc.popen.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.popen.wait(15)
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait(10)


def wait_until(
    predicate: Callable[[], bool],
    seconds: float,
    what: str,
    cuida: Cuida,
    watch: list[Proc] | None = None,
    interval: float = 0.1,
) -> None:
    """Poll until `predicate()` holds; fail at the deadline or as soon as a watched process dies."""
    deadline = time.monotonic() + seconds
    while not predicate():
        for proc in watch or []:
            if proc.popen.poll() is not None:
                pytest.fail(
                    f"{proc.name} exited ({proc.popen.returncode}) while waiting until {what}\n{cuida.logs()}"
                )
        if time.monotonic() > deadline:
            pytest.fail(f"not within {seconds}s: {what}\n{cuida.logs()}")
        time.sleep(interval)


@pytest.fixture
def installation(tmp_path: Path) -> Iterator[Callable[..., Cuida]]:
    """Makes Cuida installations (one data folder and environment each); stops their processes."""
    made: list[Cuida] = []

    def make(database_url: str | None = None, redis_url: str | None = None, **settings: str) -> Cuida:
        data_dir = tmp_path / f"cuida{len(made)}"
        data_dir.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith("CUIDA_")}
        env.update({"CUIDA_DATA_DIR": str(data_dir), "CUIDA_LOG_LEVEL": "info", **settings})
        if database_url:
            env["CUIDA_DATABASE_URL"] = database_url
        if redis_url:
            env["CUIDA_REDIS_URL"] = redis_url
        cuida = Cuida(data_dir, env)
        made.append(cuida)
        return cuida

    try:
        yield make
    finally:
        for cuida in made:
            cuida.stop_all()


def fast_recovery() -> dict[str, str]:
    """Lost work is noticed within seconds. Four job threads per worker: a worker is mostly bound
    by Python (one core) but also waits on the database; four threads finish ~15% sooner than two."""
    return {"CUIDA_LEASE_SECONDS": "5", "CUIDA_RECONCILE_SECONDS": "1", "CUIDA_WORKER_THREADS": "4"}


# --- data ----------------------------------------------------------------------------------------


def author(index: int) -> tuple[str, str]:
    """(channel, author) for author number `index`: email, WhatsApp and Twitter in turn."""
    return [
        ("email", f"cliente{index}@correo.es"),
        ("whatsapp", f"+34 6{index:08d}"),
        ("twitter", f"@cliente_{index}"),
    ][index % 3]


def make_batches(
    batches: int, size: int, authors: int, repeats: int, seed: int = 11
) -> list[list[dict[str, Any]]]:
    """`batches` x `size` messages from `authors` authors (every one of them writes); each batch
    after the first repeats `repeats` messages of the batch before (same channel and external_id)."""
    rng = random.Random(seed)
    order = list(range(authors))
    rng.shuffle(order)
    result: list[list[dict[str, Any]]] = []
    serial = 0
    for b in range(batches):
        repeated = (
            [dict(m, text="otra vez: " + m["text"]) for m in rng.sample(result[-1], repeats)] if b else []
        )
        fresh = []
        for _ in range(size - len(repeated)):
            channel, value = author(order[serial % authors])
            fresh.append(
                {
                    "channel": channel,
                    "external_id": f"ext-{serial}",
                    "direction": "in",
                    "author": {"value": value, "name": f"Cliente {order[serial % authors]}"},
                    "text": rng.choice(TEXTS).format(n=rng.randint(2, 90)),
                    "public": channel == "twitter",
                }
            )
            serial += 1
        batch = fresh + repeated
        rng.shuffle(batch)
        result.append(batch)
    return result


def post_batches(base: str, token: str, batches: list[list[dict[str, Any]]]) -> tuple[int, int]:
    """POST every batch; returns (stored, duplicates) as the API counted them."""
    stored = duplicates = 0
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120) as client:
        for batch in batches:
            response = client.post("/api/v1/messages/batch", json={"messages": batch})
            assert response.status_code == 202, response.text[:2000]
            body = response.json()
            stored += body["stored"]
            duplicates += body["duplicates"]
    return stored, duplicates


# --- the database's view -------------------------------------------------------------------------


def engine_for(cuida: Cuida) -> Engine:
    url = cuida.env.get("CUIDA_DATABASE_URL")
    if url:
        return create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    return create_engine(f"sqlite:///{cuida.data_dir / 'cuida.sqlite3'}", connect_args={"timeout": 30})


def scalar(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def done_count(engine: Engine) -> int:
    return int(scalar(engine, "SELECT count(*) FROM messages WHERE stage = 'done'"))


def assert_nothing_lost_or_doubled(engine: Engine, batches: list[list[dict[str, Any]]]) -> None:
    keys = {(m["channel"], m["external_id"]) for batch in batches for m in batch}
    authors = {(m["channel"], m["author"]["value"]) for batch in batches for m in batch}
    with engine.connect() as conn:

        def one(sql: str) -> Any:
            return conn.execute(text(sql)).scalar()

        def rows(sql: str) -> list[Any]:
            return list(conn.execute(text(sql)).all())

        messages = one("SELECT count(*) FROM messages")
        assert messages == len(keys), "one row per distinct (channel, external_id)"
        assert one("SELECT count(DISTINCT channel || '|' || external_id) FROM messages") == len(keys)
        unfinished = rows(
            "SELECT id, stage, conversation_id, customer_id, attempts, last_error FROM messages "
            "WHERE stage <> 'done' OR conversation_id IS NULL OR customer_id IS NULL LIMIT 5"
        )
        assert unfinished == [], "every message done, threaded and linked to its customer"
        assert (
            rows(
                "SELECT customer_id, channel, count(*) FROM conversations "
                "WHERE status IN ('open', 'pending', 'snoozed') "
                "GROUP BY customer_id, channel HAVING count(*) > 1 LIMIT 5"
            )
            == []
        ), "one open conversation per channel"
        assert one("SELECT count(*) FROM customers") == len(authors), "one customer per distinct author"
        assert one("SELECT count(*) FROM identities") == len(authors)
        miscounted = rows(
            "SELECT c.id, c.message_count, count(m.id) FROM conversations c "
            "LEFT JOIN messages m ON m.conversation_id = c.id "
            "GROUP BY c.id, c.message_count HAVING c.message_count <> count(m.id) LIMIT 5"
        )
        assert miscounted == [], "each conversation's message_count is its number of messages"
        for event_type in ("message.received", "message.triaged"):
            assert one(f"SELECT count(*) FROM events WHERE type = '{event_type}'") == messages, event_type
            assert (
                one(f"SELECT count(DISTINCT message_id) FROM events WHERE type = '{event_type}'") == messages
            )
        assert one("SELECT count(*) FROM events WHERE type = 'customer.created'") == len(authors)
        assert one("SELECT count(*) FROM events WHERE type = 'conversation.created'") == one(
            "SELECT count(*) FROM conversations"
        )
        assert one("SELECT count(*) FROM messages WHERE language = 'es'") == messages


# --- the tests -----------------------------------------------------------------------------------


def _kill_a_worker_midway(cuida: Cuida, batches: list[list[dict[str, Any]]], finish_within: float) -> None:
    token = cuida.migrate_and_token()
    base = cuida.serve("--no-workers")
    distinct = len({(m["channel"], m["external_id"]) for batch in batches for m in batch})
    posted = sum(len(b) for b in batches)
    engine = engine_for(cuida)
    try:
        # The first worker consumes while the batches arrive (on two cores this saves the posting
        # time); it is killed only once everything is stored and enqueued.
        started = time.monotonic()
        first = cuida.worker("worker-1")
        assert post_batches(base, token, batches) == (distinct, posted - distinct)
        posted_at = time.monotonic()
        wait_until(
            lambda: done_count(engine) >= min(300, distinct // 10),
            120,
            "the first worker finishes some",
            cuida,
            watch=[first],
            interval=0.05,
        )
        first.popen.send_signal(signal.SIGKILL)
        assert first.popen.wait(10) == -signal.SIGKILL
        at_kill = done_count(engine)
        assert 0 < at_kill < distinct, "killed midway"
        killed_at = time.monotonic()
        second = cuida.worker("worker-2")
        wait_until(
            lambda: done_count(engine) == distinct,
            finish_within,
            f"all {distinct} messages done after the kill (done at kill: {at_kill})",
            cuida,
            watch=[second],
            interval=0.25,
        )
        finished = time.monotonic()
        print(
            f"{distinct} messages: posted in {posted_at - started:.1f}s, "
            f"killed at {killed_at - started:.1f}s "
            f"with {at_kill} done, all done {finished - killed_at:.1f}s later "
            f"({(distinct - at_kill) / (finished - killed_at):.0f} msg/s after the kill)"
        )
        assert_nothing_lost_or_doubled(engine, batches)
    finally:
        engine.dispose()


def test_killed_worker_loses_and_duplicates_nothing(pg_url, redis_url, installation):
    """PostgreSQL + Redis: 10 x 1000 messages (450 of them repeats), 500 authors; the worker is
    killed with SIGKILL midway and a new one finishes the work."""
    cuida = installation(pg_url, redis_url, **fast_recovery())
    batches = make_batches(10, 1000, authors=500, repeats=50)
    # A liveness bound, not a speed claim: generous, because CI machines are small and shared.
    _kill_a_worker_midway(cuida, batches, finish_within=600)


def test_killed_worker_loses_and_duplicates_nothing_on_sqlite(installation):
    """The same on one machine: SQLite and the SQLite queue file, 3 x 1000 messages."""
    cuida = installation(**fast_recovery())
    batches = make_batches(3, 1000, authors=300, repeats=50)
    _kill_a_worker_midway(cuida, batches, finish_within=300)


def test_two_workers_share_the_queue(pg_url, redis_url, installation):
    cuida = installation(pg_url, redis_url, **fast_recovery())
    token = cuida.migrate_and_token()
    base = cuida.serve("--no-workers")
    workers = cuida.workers("worker-a", "worker-b")
    batches = make_batches(2, 600, authors=200, repeats=20)
    distinct = len({(m["channel"], m["external_id"]) for batch in batches for m in batch})
    post_batches(base, token, batches)
    engine = engine_for(cuida)
    try:
        wait_until(
            lambda: done_count(engine) == distinct,
            120,
            f"all {distinct} messages done",
            cuida,
            watch=workers,
            interval=0.25,
        )
        assert_nothing_lost_or_doubled(engine, batches)
    finally:
        engine.dispose()
    # Huey logs each job it finishes; both workers must have taken jobs from the one queue.
    jobs = [len(re.findall(r"process_messages: \S+ executed in", w.output())) for w in workers]
    assert all(n > 0 for n in jobs), f"jobs finished per worker: {jobs}\n{cuida.logs()}"
    assert sum(jobs) >= distinct // 50, jobs


def test_message_is_on_timeline_within_a_second_under_serve(installation):
    cuida = installation()  # SQLite, the SQLite queue, in-process workers: the defaults
    token = cuida.migrate_and_token()
    base = cuida.serve()
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        started = time.monotonic()
        response = client.post(
            "/api/v1/messages?wait=1",
            json={
                "channel": "whatsapp",
                "external_id": "wamid-1",
                "author": {"value": "+34 612 345 678", "name": "Lucía"},
                "text": "Hola, desde ayer no tengo fibra en casa y necesito trabajar. ¿Pueden mirarlo?",
            },
        )
        elapsed = time.monotonic() - started
        assert response.status_code == 202, response.text
        accepted = response.json()
        assert accepted["stage"] == "done", f"{accepted} after {elapsed:.2f}s\n{cuida.logs()}"
        assert accepted["customer_id"] and accepted["conversation_id"]
        timeline = client.get(f"/api/v1/customers/{accepted['customer_id']}/timeline")
        assert timeline.status_code == 200, timeline.text
        [item] = timeline.json()["items"]
        assert item["message_id"] == accepted["message_id"]
        assert item["language"] == "es"
        assert item["conversation_id"] == accepted["conversation_id"]
