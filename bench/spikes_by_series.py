#!/usr/bin/env python
"""Spikes per brand term and per topic, on generated volumes with known spikes.

    .venv/bin/python bench/spikes_by_series.py [--series 20] [--days 35] [--base 12] [--rest 150]

Each run generates, per seed, the brand's other mentions (`--rest` an hour), one term and one topic
(`--base` an hour each) with surges of 2x to 5x the usual rate injected (2-4 hours), and a quiet
topic (`--base`, no surges); strong daily and weekly cycles, negative-binomial counts. It runs
`cuida.listening.spikes.detect` on each series, as the hourly check does, and on the brand's total,
and prints the surges found in their own series and in the total, by size, the detection delay and
the false alarms per series and week (after the eight-day warm-up, kept free of surges).
"""

from __future__ import annotations

import argparse
import statistics
from collections import defaultdict
from datetime import timedelta

import numpy as np
from rich.console import Console
from rich.table import Table

from cuida.listening.spikes import detect
from cuida.listening.volumes import evaluate, generate, place_spikes

HOUR = timedelta(hours=1)
WARMUP = 8 * 24
SIZES = (2.0, 3.0, 4.0, 5.0)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--series", type=int, default=20, help="seeds (each: a term, a topic, a quiet topic)")
    parser.add_argument("--days", type=int, default=35)
    parser.add_argument("--base", type=float, default=12.0, help="mentions per hour of a term or topic")
    parser.add_argument("--rest", type=float, default=150.0, help="the brand's other mentions per hour")
    args = parser.parse_args()
    n = args.days * 24
    found: dict[tuple[str, float], list[int]] = defaultdict(lambda: [0, 0])  # (where, size) -> [hits, total]
    delays: list[int] = []
    false_alarms = {"term": 0, "topic": 0, "quiet topic": 0, "brand total": 0}
    weeks = 0.0
    for seed in range(args.series):
        rng = np.random.default_rng(seed)
        spiky = {}
        for offset, name in ((0, "term"), (10_000, "topic")):
            specs = place_spikes(rng, n, sizes=[*SIZES, *SIZES], lengths=[2, 3, 4], earliest=WARMUP, gap=12)
            spiky[name] = generate(
                days=args.days, base=args.base, dispersion=0.02, spikes=specs, seed=20_000 + seed + offset
            )
        quiet = generate(days=args.days, base=args.base, dispersion=0.02, seed=30_000 + seed)
        rest = generate(days=args.days, base=args.rest, dispersion=0.02, seed=40_000 + seed)
        times, since = rest.times, rest.times[WARMUP]
        parts = [*spiky.values(), quiet, rest]
        total = [sum(p.counts[i] for p in parts) for i in range(n)]
        negative = [sum(p.negative[i] for p in parts) for i in range(n)]
        total_alerts = [s.alerted_at for s in detect(list(zip(times, total, strict=True)), negative=negative)]
        for name, volumes in spiky.items():
            alerts = [s.alerted_at for s in detect(volumes.series(), negative=volumes.negative)]
            own = evaluate(volumes.spikes, alerts, interval=HOUR, since=since)
            false_alarms[name] += len(own.false_alarms)
            delays += [d for _, d in own.hits]
            for where, result in (
                ("own series", own),
                ("brand total", evaluate(volumes.spikes, total_alerts, interval=HOUR)),
            ):
                for spike, _ in result.hits:
                    found[(where, spike.size)][0] += 1
                for spike in [*(s for s, _ in result.hits), *result.misses]:
                    found[(where, spike.size)][1] += 1
        false_alarms["quiet topic"] += sum(
            1 for s in detect(quiet.series(), negative=quiet.negative) if s.alerted_at >= since
        )
        surges = [s for v in spiky.values() for s in v.spikes]
        false_alarms["brand total"] += len(
            evaluate(surges, total_alerts, interval=HOUR, since=since).false_alarms
        )
        weeks += (n - WARMUP) / (7 * 24)

    console = Console(width=120)
    table = Table(
        title=f"surges found ({args.series} seeds, {args.base:g}/h per series, {args.rest:g}/h other)"
    )
    table.add_column("where")
    for size in SIZES:
        table.add_column(f"{size:g}x", justify="right")
    for where in ("own series", "brand total"):
        table.add_row(where, *(f"{found[(where, s)][0]}/{found[(where, s)][1]}" for s in SIZES))
    console.print(table)
    console.print(
        f"delay (buckets from the surge's start): median {statistics.median(delays) if delays else '-'}, "
        f"max {max(delays) if delays else '-'}"
    )
    console.print(
        f"false alarms over {weeks:.1f} weeks per series: "
        + ", ".join(f"{k} {v} ({v / weeks:.2f}/week)" for k, v in false_alarms.items())
    )


if __name__ == "__main__":
    main()
