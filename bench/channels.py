#!/usr/bin/env python
"""Channel benchmarks. Webhook part: signed messages per second accepted by
POST /api/v1/webhooks/{slug}, next to POST /api/v1/messages/batch in the same run.

    .venv/bin/python bench/channels.py --messages 5000 --repeat 3

Each measurement starts `cuida serve --no-workers` on a free port over a fresh SQLite data folder
(a single-machine install), creates an inbound webhook through the admin API, and posts the same
messages in batches of 100: through the webhook as {"messages": [...]} signed with
HMAC-SHA256 over "timestamp.body" (signing is counted in the time), and through the batch API with
a bearer token. "Accepted" means stored and enqueued, as the 202 says; processing (linking,
threading, triage) is bench/ingest.py's subject and runs after. The order of the two alternates
between runs; the table gives medians. Everything temporary is removed at the end.

Email part (`--emails 10000`): a local dovecot (started like the tests do, as root) holds a
mailbox of that many emails, put in once with IMAP APPEND: a third are replies (In-Reply-To an
earlier email of the same author), some in ISO-8859-1, some HTML-only. Each run takes a fresh
SQLite data folder and an email account on that mailbox, then times (1) the poll: fetch over
IMAP, parse, store through ingest and move the cursor, batch by batch, and (2) the link stage
the workers run next for every stored message (customer by identity, then threading into a
conversation), in this process, one transaction per message as the worker does. Triage is left
out (bench/ingest.py measures it). Medians of `--repeat` runs.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from rich.table import Table

from cuida.quarantine.service import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

# bench/ingest.py: the same subprocess and message helpers (this folder is on sys.path when run).
from ingest import Procs, console, cuida, cuida_env, free_port, make_messages, wait_healthy

ROOT = Path(__file__).resolve().parents[1]

BATCH = 100
SCOPES = "admin,messages:write,messages:read"


def webhook_messages(count: int, authors: int) -> list[dict[str, Any]]:
    """bench/ingest.py's messages, all on the webhook's channel (email, phone and handle authors)."""
    messages = make_messages(count, authors)
    for message in messages:
        message.pop("channel")
        message["public"] = False
    return messages


def serve(data: Path, procs: Procs) -> tuple[str, str]:
    """A migrated data folder, an admin token, and `cuida serve` on it: (base url, token)."""
    env = cuida_env(data, None, None)
    cuida(["migrate"], env, data)
    token = (
        cuida(["token", "create", "--name", "bench", "--scopes", SCOPES], env, data).strip().splitlines()[-1]
    )
    port = free_port()
    procs.start(["serve", "--port", str(port), "--no-workers"], env, data, data / "serve.log")
    base = f"http://127.0.0.1:{port}"
    wait_healthy(base, procs)
    return base, token


def post_webhook(base: str, token: str, messages: list[dict[str, Any]]) -> float:
    with httpx.Client(base_url=base, timeout=120) as client:
        created = client.post(
            "/api/v1/inbound-webhooks",
            json={"name": "bench", "channel": "webhook"},
            headers={"Authorization": f"Bearer {token}"},
        )
        created.raise_for_status()
        hook = created.json()
        started = time.perf_counter()
        for start in range(0, len(messages), BATCH):
            body = json.dumps({"messages": messages[start : start + BATCH]}).encode()
            ts = str(int(time.time()))
            response = client.post(
                hook["url"],
                content=body,
                headers={
                    "Content-Type": "application/json",
                    TIMESTAMP_HEADER: ts,
                    SIGNATURE_HEADER: sign(hook["secret"], ts, body),
                },
            )
            if response.status_code != 202 or response.json()["quarantined"] is not None:
                raise RuntimeError(f"webhook answered {response.status_code}: {response.text[:500]}")
        return len(messages) / (time.perf_counter() - started)


def post_batches(base: str, token: str, messages: list[dict[str, Any]]) -> float:
    with httpx.Client(base_url=base, timeout=120, headers={"Authorization": f"Bearer {token}"}) as client:
        started = time.perf_counter()
        for start in range(0, len(messages), BATCH):
            chunk = [{"channel": "webhook", **m} for m in messages[start : start + BATCH]]
            response = client.post("/api/v1/messages/batch", json={"messages": chunk})
            if response.status_code != 202:
                raise RuntimeError(f"batch answered {response.status_code}: {response.text[:500]}")
        return len(messages) / (time.perf_counter() - started)


def measure(kind: str, messages: list[dict[str, Any]], workdir: Path, tag: str) -> float:
    data = workdir / f"{kind}-{tag}"
    data.mkdir()
    procs = Procs()
    try:
        base, token = serve(data, procs)
        rate = (post_webhook if kind == "webhook" else post_batches)(base, token, messages)
        procs.check_alive()
        return rate
    finally:
        procs.stop_all()


# --- email ------------------------------------------------------------------------------------------


def make_emails(count: int, authors: int, seed: int = 11) -> list[bytes]:
    """Emails from `authors` people; a third answer the author's previous email (a reply chain)."""
    from email.message import EmailMessage

    from ingest import TEXTS

    rng = random.Random(seed)
    last_of: dict[int, str] = {}
    emails = []
    for i in range(count):
        author = rng.randrange(authors)
        msg = EmailMessage()
        msg["From"] = f"Cliente {author} <cliente{author}@correo.example>"
        msg["To"] = "ayuda@tienda.example"
        msg["Subject"] = f"Consulta {i}"
        msg["Date"] = "Mon, 02 Mar 2026 10:00:00 +0100"
        msg["Message-ID"] = f"<bench-{i}@correo.example>"
        text = rng.choice(TEXTS).format(n=rng.randint(2, 90))
        if author in last_of and rng.random() < 0.33:
            msg["In-Reply-To"] = f"<{last_of[author]}>"
            msg["References"] = f"<{last_of[author]}>"
            text += "\n\nEl lun, 2 mar 2026 a las 10:00, Tienda escribió:\n> Gracias por escribirnos.\n"
        if i % 10 == 0:
            msg.set_content(f"<p>{text}</p>", subtype="html")
        else:
            msg.set_content(text, charset="iso-8859-1" if i % 7 == 0 else "utf-8")
        last_of[author] = f"bench-{i}@correo.example"
        emails.append(msg.as_bytes())
    return emails


def email_run(dovecot: Any, user: str, workdir: Path, tag: str, count: int) -> tuple[float, float]:
    """(emails/s fetched and stored, emails/s fetched, stored and threaded) for one fresh database."""
    from sqlalchemy import func, select
    from tests.mail_servers import PASSWORD

    from cuida.channels import service as channels
    from cuida.channels.schemas import ChannelAccountCreate
    from cuida.conversations.models import Message
    from cuida.db.migrate import upgrade
    from cuida.ingest.service import link_stage
    from cuida.runtime import Runtime
    from cuida.settings import load_settings

    data = workdir / f"email-{tag}"
    data.mkdir()
    runtime = Runtime(load_settings(data_dir=data), immediate=False).install()
    try:
        upgrade(runtime.db)
        config = {
            "address": "ayuda@tienda.example",
            "imap_host": "127.0.0.1",
            "imap_port": dovecot.port,
            "imap_security": "none",
            "imap_user": user,
        }
        with runtime.db.session() as session:
            account = channels.create_account(
                session=session,
                data=ChannelAccountCreate(
                    kind="email", name="bench", config=config, secrets={"imap_password": PASSWORD}
                ),
            )
            account_id = account.id
        started = time.perf_counter()
        answer = channels.poll_now(runtime, account_id)
        polled = time.perf_counter() - started
        if answer.error or answer.stored != count:
            raise RuntimeError(f"the poll stored {answer.stored} of {count}: {answer.error}")
        with runtime.db.sessions() as session:
            ids = list(
                session.scalars(select(Message.id).where(Message.stage == "received").order_by(Message.id))
            )
        started = time.perf_counter()
        for message_id in ids:
            with runtime.db.session() as session:
                link_stage(session=session, message_id=message_id)
        linked = time.perf_counter() - started
        with runtime.db.sessions() as session:
            threaded = session.scalar(
                select(func.count()).select_from(Message).where(Message.conversation_id.is_not(None))
            )
        if threaded != count:
            raise RuntimeError(f"{threaded} of {count} emails were threaded")
        return count / polled, count / (polled + linked)
    finally:
        runtime.close()


def email_bench(count: int, repeat: int, authors: int) -> None:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.mail_servers import run_dovecot

    emails = make_emails(count, authors)
    fetched: list[float] = []
    threaded: list[float] = []
    with run_dovecot(users=1) as dovecot, tempfile.TemporaryDirectory(prefix="cuida-bench-email-") as tmp:
        user = dovecot.new_user()
        started = time.perf_counter()
        for start in range(0, count, 500):
            dovecot.append_many(user, emails[start : start + 500])
        console.print(f"email: {count} emails appended to dovecot in {time.perf_counter() - started:.1f} s")
        for run in range(1, repeat + 1):
            stored_rate, threaded_rate = email_run(dovecot, user, Path(tmp), str(run), count)
            fetched.append(stored_rate)
            threaded.append(threaded_rate)
            console.print(
                f"  run {run}: fetched+stored {stored_rate:7.0f}/s   +threaded {threaded_rate:7.0f}/s"
            )
    table = Table(title=f"cuida email channel: {count} emails from a local dovecot, median of {repeat} runs")
    for column in ("step", "emails/s", "range"):
        table.add_column(column, justify="left" if column == "step" else "right")
    for label, rates in (
        ("IMAP fetch + parse + ingest accept (poll)", fetched),
        ("… + link stage (customer, threading)", threaded),
    ):
        table.add_row(label, f"{statistics.median(rates):,.0f}", f"{min(rates):,.0f}-{max(rates):,.0f}")
    console.print(table)
    console.print("  SQLite, one process, fresh data folder per run; triage not included")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3, help="runs; the median is reported")
    parser.add_argument("--authors", type=int, default=500, help="distinct authors")
    parser.add_argument("--emails", type=int, default=10000, help="emails in the IMAP mailbox (0: skip)")
    parser.add_argument("--skip-webhook", action="store_true", help="only the email part")
    args = parser.parse_args()
    if args.emails:
        email_bench(args.emails, args.repeat, args.authors)
    if args.skip_webhook:
        return 0

    messages = webhook_messages(args.messages, args.authors)
    rates: dict[str, list[float]] = {"webhook": [], "batch": []}
    console.print(f"{args.messages} messages, batches of {BATCH}, {args.repeat} runs, SQLite, no workers")
    with tempfile.TemporaryDirectory(prefix="cuida-bench-channels-") as tmp:
        for run in range(1, args.repeat + 1):
            order = ["webhook", "batch"] if run % 2 else ["batch", "webhook"]
            for kind in order:
                rates[kind].append(measure(kind, messages, Path(tmp), str(run)))
            console.print(
                f"  run {run}: webhook {rates['webhook'][-1]:7.0f}/s   messages/batch {rates['batch'][-1]:7.0f}/s"
            )

    table = Table(title=f"cuida channels: {args.messages} messages accepted, median of {args.repeat} runs")
    for column in ("endpoint", "accepted/s", "range", "÷ batch API"):
        table.add_column(column, justify="left" if column == "endpoint" else "right")
    batch_median = statistics.median(rates["batch"])
    labels = {
        "webhook": "POST /api/v1/webhooks/{slug} (signed)",
        "batch": "POST /api/v1/messages/batch (bearer)",
    }
    for kind in ("webhook", "batch"):
        median = statistics.median(rates[kind])
        spread = f"{min(rates[kind]):,.0f}-{max(rates[kind]):,.0f}"
        table.add_row(labels[kind], f"{median:,.0f}", spread, f"{median / batch_median:.0%}")
    console.print(table)
    console.print(
        "  accepted: stored and enqueued (202), `cuida serve --no-workers` on a fresh SQLite folder per run;\n"
        "  the webhook's time includes signing each request on the client"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
