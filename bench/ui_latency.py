"""Server time of the agents' web pages on a large database (issue #4's quality bar: every page
under 150 ms with 100,000 conversations and 1,000,000 messages, on SQLite and PostgreSQL).

Seeds a fresh database per backend with deterministic synthetic data (bulk inserts), then asks the
real application for each page in-process (FastAPI's TestClient on `create_app`, logged in with the
session cookie as a team lead and as an agent of one team). The wall time of a request in-process
is the server time: routing, authentication, queries and template rendering, with no network in
between. Each page is requested once to warm up, then `--repeat` times; p50/p95/max per page.

    .venv/bin/python bench/ui_latency.py --backend both
    .venv/bin/python bench/ui_latency.py --backend sqlite --conversations 20000 --repeat 10

PostgreSQL: the database `cuida_bench_ui` on 127.0.0.1:5432 (user postgres) is dropped and
created. SQLite: a file in a temporary folder, deleted at the end.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import Connection

import cuida.db.models  # noqa: F401  (every table, so the metadata is complete)
from cuida.app import create_app
from cuida.auth.models import Agent, Team, agent_teams
from cuida.auth.service import hash_password
from cuida.commitments.models import Commitment
from cuida.conversations.models import Conversation, Message
from cuida.customers.models import Customer, Identity
from cuida.db.migrate import upgrade
from cuida.jobs.reconciler import refresh_sqlite_statistics
from cuida.runtime import Runtime
from cuida.search.text import fold, index_text
from cuida.settings import load_settings
from cuida.sla.models import SlaClock
from cuida.triage.schemas import INTENTS, Analysis
from cuida.web.board import SECTIONS as BOARD_SECTIONS

BUDGET_MS = 150.0
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DATABASE = "cuida_bench_ui"
PASSWORD = "bench password 1234"
TEAMS = 8
CHUNK = 20_000
SEARCH_WORD = "factura"
CHANNELS = ("email", "whatsapp", "twitter", "phone", "webchat")

FIRST_NAMES = (
    "María", "José", "Carmen", "Antonio", "Lucía", "Manuel", "Ana", "Francisco", "Laura", "David",
    "Marta", "Javier", "Elena", "Daniel", "Paula", "Sergio", "Cristina", "Pablo", "Isabel", "Jorge",
)  # fmt: skip
LAST_NAMES = (
    "García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez", "Pérez", "Gómez",
    "Martín", "Jiménez", "Ruiz", "Hernández", "Díaz", "Moreno", "Muñoz", "Álvarez", "Romero", "Alonso",
    "Gutiérrez", "Navarro", "Torres", "Domínguez", "Vázquez", "Ramos", "Gil", "Ramírez", "Serrano",
    "Blanco", "Molina", "Morales", "Suárez", "Ortega", "Delgado", "Castro", "Ortiz", "Rubio", "Marín",
    "Sanz", "Iglesias", "Garrido", "Cortés", "Medina", "Castillo", "Lozano", "Guerrero", "Cano", "Prieto",
)  # fmt: skip
INBOUND = (
    "Hola, mi pedido {ref} todavía no ha llegado y ya han pasado {n} días.",
    "Me habéis cobrado dos veces la factura {ref}, quiero la devolución ya.",
    "Llevo {n} días sin conexión, si no lo arregláis me doy de baja.",
    "¿Podéis decirme cuándo llega el técnico? Es la tercera vez que llamo.",
    "El producto {ref} vino roto, necesito un cambio cuanto antes.",
    "Gracias por la ayuda de ayer, todo funciona perfectamente.",
    "Como no me devolváis los {n} euros os denuncio en consumo.",
    "Quiero cancelar el contrato, vuestro servicio es un desastre.",
    "No me llega la factura del mes pasado, ¿me la podéis reenviar?",
    "Voy a contar en Twitter cómo tratáis a los clientes, {n} horas esperando.",
    "Necesito cambiar la dirección de entrega del pedido {ref}.",
    "Sois unos inútiles, nadie me da una solución.",
)  # fmt: skip
OUTBOUND = (
    "Hola, sentimos las molestias. Revisamos el pedido {ref} y te decimos algo hoy.",
    "Te hemos abierto una incidencia con el número {ref}; te llamamos mañana.",
    "Ya hemos tramitado la devolución de la factura {ref}, la verás en {n} días.",
    "Gracias por escribirnos. ¿Nos confirmas tu número de cliente por privado?",
    "El técnico irá el jueves entre las 9 y las 14 h.",
)  # fmt: skip


# --- synthetic content ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Text:
    text: str
    search_text: str
    triage: dict[str, Any] | None


def _analysis(rnd: random.Random, body: str, ref: str) -> dict[str, Any]:
    churn = "baja" in body or "cancelar" in body
    legal = "denuncio" in body
    public = "Twitter" in body
    complaint = not body.startswith("Gracias")
    insult = 0.8 if "inútiles" in body else round(rnd.random() * 0.1, 3)
    negative = 0.8 if complaint else 0.05
    intents = {name: round(rnd.random() * 0.2, 3) for name in INTENTS}
    intents.update(
        churn_threat=0.9 if churn else intents["churn_threat"],
        legal_threat=0.85 if legal else intents["legal_threat"],
        public_escalation_threat=0.8 if public else intents["public_escalation_threat"],
        complaint=0.9 if complaint else 0.05,
    )
    start = body.find(ref)
    entities = (
        [{"type": "order_number", "text": ref, "start": start, "end": start + len(ref), "value": ref}]
        if start >= 0
        else []
    )
    analysis = Analysis.model_validate(
        {
            "language": "es",
            "language_scores": {"es": 0.97, "pt": 0.02, "ca": 0.01},
            "sentiment": {
                "label": "negative" if complaint else "positive",
                "scores": {"negative": negative, "neutral": 0.1, "positive": round(0.9 - negative, 3)},
            },
            "complaint": {"label": complaint, "probability": 0.9 if complaint else 0.05},
            "intents": intents,
            "request_kind": "refund" if "devolución" in body or "devolváis" in body else None,
            "toxicity": {"insult": insult, "threat": 0.01, "profanity": 0.02},
            "urgency": {
                "label": "high" if churn or legal else "normal",
                "reasons": ["amenaza"] if legal else [],
            },
            "emotion": {"anger": 0.7 if complaint else 0.05, "sadness": 0.1, "joy": 0.05, "fear": 0.02},
            "entities": entities,
            "reasons": {"complaint": ["cobrado", "roto"]} if complaint else {},
        }
    )
    return analysis.model_dump()


def text_pool(rnd: random.Random, templates: tuple[str, ...], inbound: bool, size: int) -> list[Text]:
    """A few hundred distinct texts, stemmed and triaged once (stemming a million is the slow part)."""
    pool = []
    for _ in range(size):
        ref = f"{rnd.choice('ABCDEFGH')}{rnd.randint(100000, 999999)}"
        body = rnd.choice(templates).format(ref=ref, n=rnd.randint(2, 40))
        pool.append(Text(body, index_text(body), _analysis(rnd, body, ref) if inbound else None))
    return pool


# --- seeding -------------------------------------------------------------------------------------


@dataclass
class Seeded:
    conversation_id: int  # ~10 messages, its customer has several conversations
    customer_id: int
    customer_name: str
    lead_email: str
    agent_email: str


def _chunks(rows: Iterator[dict[str, Any]], size: int = CHUNK) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _secondary_indexes(conn: Connection, dialect: str, table: str) -> list[tuple[str, str]]:
    """(name, CREATE statement) of a table's plain indexes, to drop before a bulk load and rebuild
    after it exactly as the migrations made them."""
    if dialect == "postgresql":
        rows = conn.execute(
            text(
                "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = :t AND NOT EXISTS "
                "(SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"
            ),
            {"t": table},
        )
    else:
        rows = conn.execute(
            text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = :t AND sql IS NOT NULL"
            ),
            {"t": table},
        )
    return [(str(name), str(sql)) for name, sql in rows]


def seed(
    runtime: Runtime, conversations: int, per_conversation: int, seed_value: int, console: Console
) -> Seeded:
    rnd = random.Random(seed_value)
    engine = runtime.db.engine
    dialect = engine.dialect.name
    at = datetime.now(UTC).replace(microsecond=0)
    customers = max(1, conversations // 2)
    inbound_pool = text_pool(rnd, INBOUND, True, 400)
    outbound_pool = text_pool(rnd, OUTBOUND, False, 100)
    password_hash = hash_password(PASSWORD)

    def customer_name(i: int) -> str:
        r = random.Random(seed_value * 1_000_003 + i)
        return f"{r.choice(FIRST_NAMES)} {r.choice(LAST_NAMES)} {r.choice(LAST_NAMES)}"

    # Customer 1 owns the first six conversations: the "customer with several conversations".
    owners = [1] * min(6, conversations) + [
        rnd.randint(2, customers) if customers > 1 else 1 for _ in range(max(0, conversations - 6))
    ]
    conversation_rows: list[dict[str, Any]] = []
    for i in range(1, conversations + 1):
        roll = rnd.random()
        status = "open" if roll < 0.14 else "pending" if roll < 0.2 else "resolved"
        if i == 1:
            status = "open"
        team = 1 if i == 1 else rnd.randint(1, TEAMS)
        live = status != "resolved"
        assignee = None
        if live and rnd.random() < 0.6:
            assignee = 2 * team - rnd.randint(0, 1)  # the team's lead (2t-1) or agent (2t)
        elif not live:
            assignee = 2 * team
        channel = rnd.choice(CHANNELS)
        created = at - timedelta(days=2 if live else rnd.uniform(3, 365), minutes=rnd.randint(0, 2000))
        last = (
            created + timedelta(minutes=rnd.randint(5, 2000))
            if not live
            else at - timedelta(minutes=rnd.randint(1, 2800))
        )
        conversation_rows.append(
            {
                "id": i,
                "customer_id": owners[i - 1],
                "channel": channel,
                "channels": [channel],
                "status": status,
                "priority": rnd.choices((0, 1, 2, 3), weights=(15, 60, 20, 5))[0],
                "assignee_id": assignee,
                "team_id": team,
                "subject": None,
                "risk_score": round(rnd.random() ** 4, 4),
                "is_public": channel == "twitter" and rnd.random() < 0.5,
                "tags": [],
                "message_count": per_conversation,
                "created_at": created,
                "updated_at": last,
                "last_message_at": last,
                "last_inbound_at": last,
                "first_response_at": None if status == "open" else created + timedelta(minutes=30),
                "resolved_at": last if status == "resolved" else None,
            }
        )

    def customer_rows() -> Iterator[dict[str, Any]]:
        for i in range(1, customers + 1):
            name = customer_name(i)
            values = f"cliente{i}@correo.example" + (f" +3460{i:07d}" if i % 2 == 0 else "")
            yield {
                "id": i,
                "name": name,
                "company": None,
                "currency": "EUR",
                "tags": [],
                "attributes": {},
                "search_text": f"{fold(name)} {values} {index_text(name)}",
                "created_at": at - timedelta(days=400),
                "updated_at": at - timedelta(minutes=i),
            }

    def identity_rows() -> Iterator[dict[str, Any]]:
        for i in range(1, customers + 1):
            yield {
                "customer_id": i,
                "channel": "email",
                "value": f"cliente{i}@correo.example",
                "created_at": at,
            }
            if i % 2 == 0:
                yield {"customer_id": i, "channel": "phone", "value": f"+3460{i:07d}", "created_at": at}

    def message_rows() -> Iterator[dict[str, Any]]:
        message_id = 0
        for conv in conversation_rows:
            start = conv["last_message_at"] - timedelta(minutes=10 * per_conversation)
            for k in range(per_conversation):
                message_id += 1
                inbound = k % 2 == 0
                body = rnd.choice(inbound_pool if inbound else outbound_pool)
                when = start + timedelta(minutes=10 * k)
                yield {
                    "id": message_id,
                    "channel": conv["channel"],
                    "external_id": f"bench-{message_id}",
                    "direction": "in" if inbound else "out",
                    "conversation_id": conv["id"],
                    "customer_id": conv["customer_id"],
                    "agent_id": None if inbound else conv["assignee_id"],
                    "text": body.text,
                    "public": conv["is_public"],
                    "occurred_at": when,
                    "received_at": when,
                    "meta": {},
                    "language": "es",
                    "triage": body.triage,
                    "search_text": body.search_text,
                    "stage": "done",
                    "attempts": 0,
                    "processed_at": when,
                }

    def clock_rows() -> Iterator[dict[str, Any]]:
        for conv in conversation_rows:
            if conv["status"] == "resolved":
                continue
            target = rnd.choice((60, 240, 480))
            started = conv["last_message_at"]
            due = started + timedelta(minutes=target)
            breached = due if due < at and rnd.random() < 0.5 else None
            yield {
                "conversation_id": conv["id"],
                "kind": "first_response" if conv["first_response_at"] is None else "next_response",
                "policy_name": "Estándar",
                "ladder": [],
                "generation": 1,
                "started_at": started,
                "base_target_minutes": target,
                "target_minutes": target,
                "base_due_at": due,
                "due_at": due,
                "factor": 1.0,
                "reasons": [],
                "paused_at": started if conv["status"] == "pending" else None,
                "paused_minutes": 0.0,
                "breached_at": breached,
                "level": 1 if breached else 0,
                "marks": [],
            }

    def commitment_rows() -> Iterator[dict[str, Any]]:
        for _ in range(max(1, conversations // 20)):
            conv = conversation_rows[rnd.randrange(conversations)]
            status = rnd.choice(("open", "open", "fulfilled", "cancelled"))
            yield {
                "customer_id": conv["customer_id"],
                "conversation_id": conv["id"],
                "text": "Llamar al cliente para confirmar la visita del técnico",
                "kind": rnd.choice(("callback", "refund", "visit", "contact")),
                "status": status,
                "owner_agent_id": conv["assignee_id"],
                "owner_team_id": conv["team_id"],
                "due_at": at + timedelta(hours=rnd.randint(-72, 72)),
                "created_at": at - timedelta(days=3),
                "fulfilled_at": at - timedelta(days=1) if status == "fulfilled" else None,
            }
        # Customer 1's open promise, shown on the conversation's customer panel.
        yield {
            "customer_id": 1,
            "conversation_id": 1,
            "text": "Devolver el cargo duplicado",
            "kind": "refund",
            "status": "open",
            "owner_agent_id": 2,
            "owner_team_id": 1,
            "due_at": at - timedelta(hours=5),
            "created_at": at - timedelta(days=2),
            "fulfilled_at": None,
        }

    total_messages = conversations * per_conversation
    with engine.begin() as conn:
        conn.execute(
            insert(Team),
            [
                {"id": t, "slug": f"equipo-{t}", "name": f"Equipo {t}", "kind": "care", "created_at": at}
                for t in range(1, TEAMS + 1)
            ],
        )
        agents: list[dict[str, Any]] = []
        for t in range(1, TEAMS + 1):
            for role, agent_id in (("lead", 2 * t - 1), ("agent", 2 * t)):
                agents.append(
                    {
                        "id": agent_id,
                        "email": f"{role}{t}@bench.example",
                        "name": f"{'Responsable' if role == 'lead' else 'Agente'} {t}",
                        "password_hash": password_hash,
                        "role": role,
                        "language": "es",
                        "active": True,
                        "away": False,
                        "created_at": at,
                    }
                )
        conn.execute(insert(Agent), agents)
        conn.execute(
            agent_teams.insert(), [{"agent_id": a["id"], "team_id": (a["id"] + 1) // 2} for a in agents]
        )

    steps = [
        ("customers", Customer, customer_rows(), customers),
        ("identities", Identity, identity_rows(), customers + customers // 2),
        ("conversations", Conversation, iter(conversation_rows), conversations),
        ("messages", Message, message_rows(), total_messages),
        (
            "SLA clocks",
            SlaClock,
            clock_rows(),
            sum(c["status"] != "resolved" for c in conversation_rows),
        ),
        ("commitments", Commitment, commitment_rows(), max(1, conversations // 20) + 1),
    ]
    with engine.connect() as conn:
        dropped = _secondary_indexes(conn, dialect, "messages")
        triggers: list[tuple[str, str]] = []
        if dialect == "sqlite":
            # The FTS5 index is rebuilt in one pass after the load instead of row by row.
            triggers = [
                (str(n), str(s))
                for n, s in conn.execute(
                    text(
                        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'messages'"
                    )
                )
            ]
        for name, _ in dropped:
            conn.execute(text(f'DROP INDEX "{name}"'))
        for name, _ in triggers:
            conn.execute(text(f'DROP TRIGGER "{name}"'))
        conn.commit()
    started = time.perf_counter()
    columns = (
        TextColumn("[bold]{task.description:<14}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        for label, table, rows, expected in steps:
            task = progress.add_task(label, total=expected)
            for batch in _chunks(rows):
                with engine.begin() as conn:
                    conn.execute(insert(table), batch)
                progress.advance(task, len(batch))
        task = progress.add_task("indexes", total=len(dropped) + len(triggers) + 1)
        with engine.connect() as conn:
            for _, create in dropped:
                conn.execute(text(create))
                conn.commit()
                progress.advance(task)
            for _, create in triggers:
                conn.execute(text(create))
                progress.advance(task)
            if dialect == "sqlite":
                conn.execute(text("INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')"))
            conn.commit()
            progress.advance(task)
    if dialect == "postgresql":
        with engine.connect() as conn:
            for table_name in ("teams", "agents", "customers", "identities", "conversations", "messages",
                               "sla_clocks", "commitments"):  # fmt: skip
                # Explicit ids leave the sequences behind; a page that inserts must not collide.
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table_name}', 'id'), "
                        f"(SELECT coalesce(max(id), 1) FROM {table_name}))"
                    )
                )
            conn.commit()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    console.print(
        f"seeded {customers:,} customers, {conversations:,} conversations, {total_messages:,} messages "
        f"in {time.perf_counter() - started:.0f} s"
    )
    return Seeded(
        conversation_id=1,
        customer_id=1,
        customer_name=customer_name(1).split()[1],
        lead_email="lead1@bench.example",
        agent_email="agent1@bench.example",
    )


# --- measuring -----------------------------------------------------------------------------------


@dataclass
class Timing:
    page: str
    who: str
    status: int
    times_ms: list[float]

    def quantile(self, q: float) -> float:
        ordered = sorted(self.times_ms)
        return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]

    @property
    def p50(self) -> float:
        return statistics.median(self.times_ms)

    @property
    def p95(self) -> float:
        return self.quantile(0.95)


def pages(seeded: Seeded) -> list[str]:
    urls = [
        f"/inbox?view={view}&sort={sort}"
        for view in ("mine", "team", "unassigned", "all", "at_risk", "overdue")
        for sort in ("priority", "activity")
    ]
    urls += [
        f"/inbox?q={SEARCH_WORD}",
        f"/conversations/{seeded.conversation_id}",
        "/board",
        *(f"/board/fragments/{section}" for section in BOARD_SECTIONS),
        f"/customers?q={seeded.customer_name}",
        f"/customers/{seeded.customer_id}",
    ]
    return urls


def login(client: TestClient, email: str) -> None:
    response = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    response.raise_for_status()


def measure(runtime: Runtime, seeded: Seeded, repeat: int, console: Console) -> list[Timing]:
    app = create_app(runtime.settings, runtime=runtime, start_workers=False)
    timings: list[Timing] = []
    for who, email in (("lead", seeded.lead_email), ("agent", seeded.agent_email)):
        with TestClient(app) as client:
            login(client, email)
            for url in pages(seeded):
                status = client.get(url).status_code  # warm-up
                times = []
                for _ in range(repeat):
                    start = time.perf_counter()
                    response = client.get(url)
                    times.append((time.perf_counter() - start) * 1000)
                    status = response.status_code
                timings.append(Timing(url, who, status, times))
                console.print(f"  {who:5} {url:45} p50 {timings[-1].p50:7.1f} ms", highlight=False)
    return timings


def report(backend: str, timings: list[Timing], console: Console) -> None:
    table = Table(title=f"{backend}: server time per page (ms)")
    for column in ("page", "as", "status", "p50", "p95", "max", f"< {BUDGET_MS:.0f} ms (p95)"):
        table.add_column(column, justify="left" if column in ("page", "as") else "right", no_wrap=True)
    for timing in timings:
        ok = timing.p95 < BUDGET_MS
        table.add_row(
            timing.page,
            timing.who,
            str(timing.status),
            f"{timing.p50:.1f}",
            f"{timing.p95:.1f}",
            f"{max(timing.times_ms):.1f}",
            "[green]yes[/]" if ok else "[red]NO[/]",
        )
    console.print(table)
    under_p95 = sum(t.p95 < BUDGET_MS for t in timings)
    under_p50 = sum(t.p50 < BUDGET_MS for t in timings)
    console.print(
        f"{backend}: {under_p95}/{len(timings)} pages under {BUDGET_MS:.0f} ms at p95 "
        f"({100 * under_p95 / len(timings):.0f}%), {under_p50}/{len(timings)} at p50"
    )


def run_backend(backend: str, args: argparse.Namespace, console: Console) -> None:
    console.rule(
        f"{backend}: {args.conversations:,} conversations x {args.messages_per_conversation} messages"
    )
    folder = Path(tempfile.mkdtemp(prefix="cuida-bench-ui-"))
    overrides: dict[str, Any] = {"data_dir": folder}
    admin = None
    if backend == "postgresql":
        admin = create_engine(
            PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{PG_DATABASE}"'))
        overrides["database_url"] = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{PG_DATABASE}"
    runtime = Runtime(load_settings(**overrides), immediate=True).install()
    try:
        upgrade(runtime.db)
        seeded = seed(runtime, args.conversations, args.messages_per_conversation, args.seed, console)
        if backend == "sqlite" and not args.no_sqlite_analyze:
            # What a running install has: the reconciler's first pass gathers planner statistics.
            refresh_sqlite_statistics(runtime)
            console.print("sqlite: planner statistics gathered as the reconciler does at start")
        timings = measure(runtime, seeded, args.repeat, console)
        report(backend, timings, console)
    finally:
        runtime.close()
        if args.keep:
            console.print(
                f"kept the data folder {folder}" + (f" and the database {PG_DATABASE}" if admin else "")
            )
        else:
            shutil.rmtree(folder, ignore_errors=True)
        if admin is not None:
            admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--messages-per-conversation", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument(
        "--no-sqlite-analyze",
        action="store_true",
        help="measure SQLite without planner statistics (the reconciler gathers them at start and hourly)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the SQLite folder for EXPLAIN (PostgreSQL's stays)"
    )
    args = parser.parse_args()
    console = Console(width=120)
    for backend in ("sqlite", "postgresql") if args.backend == "both" else (args.backend,):
        run_backend(backend, args, console)


if __name__ == "__main__":
    main()
