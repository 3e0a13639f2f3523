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
"""

from __future__ import annotations

import argparse
import json
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3, help="runs; the median is reported")
    parser.add_argument("--authors", type=int, default=500, help="distinct authors")
    args = parser.parse_args()

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
