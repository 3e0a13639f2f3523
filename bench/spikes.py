#!/usr/bin/env python
"""Spike detection on generated mention volumes with known spikes, beside a plain baseline.

    .venv/bin/python bench/spikes.py [--series 40] [--days 35] [--seed 7]

For several seasonality / noise settings it generates seeded series (`cuida.listening.volumes`)
with injected volume spikes of 2x, 3x and 5x the usual rate (random start, length 2, 4 or 8 hours)
and one negative-share spike per series (the share of negative mentions rises from 15% to 40%
for three hours while volume stays flat), runs

- Cuida's detector (`cuida.listening.spikes.detect`, default `SpikeConfig`), and
- a simple baseline in the same run: the last bucket against the mean of the previous 24 hours of
  buckets, alerting above mean + 3 sd (no seasonality; consecutive alerts merged into one), and the
  same rule on the bucket's negative share,

and prints recall by spike size, false alarms per simulated week and the detection delay (buckets
from a spike's first bucket to the alert). An alert counts for a spike when raised between its first
bucket and two buckets after its last; any other alert after the first eight days (the warm-up, kept
free of spikes) is a false alarm.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cuida.listening.spikes import SpikeConfig, SpikeDetector
from cuida.listening.volumes import SpikeSpec, Volumes, evaluate, generate, place_spikes

console = Console() if sys.stdout.isatty() else Console(width=140)
SIZES = (2.0, 3.0, 5.0)
WARMUP_DAYS = 8
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Setting:
    name: str
    interval: timedelta
    params: dict[str, float]


SETTINGS = (
    Setting("hourly, 40/h, strong daily+weekly, Poisson", HOUR, {"base": 40}),
    Setting(
        "hourly, 40/h, + Monday-morning peak, NB 0.05",
        HOUR,
        {"base": 40, "monday_peak": 1.5, "dispersion": 0.05},
    ),
    Setting(
        "hourly, 400/h, NB 0.03, trend +10%/week",
        HOUR,
        {"base": 400, "dispersion": 0.03, "trend": 0.10},
    ),
    Setting("hourly, quiet brand 4/h, Poisson", HOUR, {"base": 4}),
    Setting(
        "5-minute, 120/h, NB 0.03, Monday peak",
        timedelta(minutes=5),
        {"base": 120, "dispersion": 0.03, "monday_peak": 1.0},
    ),
)


@dataclass
class Tally:
    hits: dict[float, int] = field(default_factory=lambda: dict.fromkeys(SIZES, 0))
    total: dict[float, int] = field(default_factory=lambda: dict.fromkeys(SIZES, 0))
    delays: list[int] = field(default_factory=list)
    false_alarms: int = 0
    neg_hits: int = 0
    neg_total: int = 0
    neg_delays: list[int] = field(default_factory=list)
    neg_false_alarms: int = 0
    weeks: float = 0.0
    seconds: float = 0.0
    buckets: int = 0


def naive_alerts(counts: Sequence[float], times: Sequence[datetime], window: int) -> list[datetime]:
    """Last bucket vs mean + 3 sd of the previous `window` buckets; a run of flagged buckets alerts
    once, at its first bucket."""
    values = np.asarray(counts, dtype=float)
    alerts: list[datetime] = []
    flagged_before = False
    for i in range(window, len(values)):
        past = values[i - window : i]
        past = past[~np.isnan(past)]
        flagged = False
        if len(past) >= 2 and not math.isnan(values[i]):
            flagged = values[i] > past.mean() + 3 * past.std()
        if flagged and not flagged_before:
            alerts.append(times[i])
        flagged_before = flagged
    return alerts


def one_series(setting: Setting, days: int, seed: int) -> tuple[Volumes, int]:
    rng = np.random.default_rng(seed)
    per_hour = HOUR // setting.interval
    n = int(days * 24 * per_hour)
    earliest = WARMUP_DAYS * 24 * per_hour
    lengths = [2 * per_hour, 4 * per_hour, 8 * per_hour]
    specs = place_spikes(
        rng, n, sizes=[*SIZES, *SIZES], lengths=lengths, earliest=earliest, gap=12 * per_hour
    )
    # one negative-share spike, in a gap between volume spikes
    taken = {i for s in specs for i in range(s.start - 6 * per_hour, s.start + s.length + 6 * per_hour)}
    free = [i for i in range(earliest, n - 3 * per_hour) if i not in taken and i + 3 * per_hour not in taken]
    start = int(rng.choice(free))
    specs.append(SpikeSpec(start=start, length=3 * per_hour, kind="negative_share", share=0.40))
    volumes = generate(days=days, interval=setting.interval, spikes=specs, seed=seed, **setting.params)
    return volumes, earliest


def run(setting: Setting, volumes: Volumes, earliest: int, ours: Tally, naive: Tally) -> None:
    since = volumes.times[earliest]
    weeks = (len(volumes.times) - earliest) * volumes.interval / timedelta(days=7)
    interval = volumes.interval
    injected_volume = [s for s in volumes.spikes if s.kind == "volume"]
    injected_share = [s for s in volumes.spikes if s.kind == "negative_share"]

    started = time.perf_counter()
    detector = SpikeDetector(interval=interval, config=SpikeConfig(), keep=None)
    for at, count, negative in zip(volumes.times, volumes.counts, volumes.negative, strict=True):
        detector.observe(at, count, negative)
    ours.seconds += time.perf_counter() - started
    ours.buckets += len(volumes.times)
    found = detector.spikes()
    volume_alerts = [s.alerted_at for s in found if s.kind == "volume"]
    share_alerts = [s.alerted_at for s in found if s.kind == "negative_share"]

    window = timedelta(days=1) // interval
    shares = [n / c if c else math.nan for c, n in zip(volumes.counts, volumes.negative, strict=True)]
    started = time.perf_counter()
    naive_volume = naive_alerts(volumes.counts, volumes.times, window)
    naive_share = naive_alerts(shares, volumes.times, window)
    naive.seconds += time.perf_counter() - started
    naive.buckets += len(volumes.times)

    for tally, vol, share in ((ours, volume_alerts, share_alerts), (naive, naive_volume, naive_share)):
        result = evaluate(injected_volume, vol, interval=interval, since=since)
        for spike, delay in result.hits:
            tally.hits[spike.size] += 1
            tally.delays.append(delay)
        for spike in [s for s, _ in result.hits] + result.misses:
            tally.total[spike.size] += 1
        tally.false_alarms += len(result.false_alarms)
        shared = evaluate(injected_share, share, interval=interval, since=since)
        tally.neg_hits += len(shared.hits)
        tally.neg_total += len(injected_share)
        tally.neg_delays += [d for _, d in shared.hits]
        tally.neg_false_alarms += len(shared.false_alarms)
        tally.weeks += weeks


def pct(hits: int, total: int) -> str:
    return f"{hits / total:.2f}" if total else "-"


def delays(values: list[int]) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):.0f} / {np.percentile(values, 90):.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--series", type=int, default=40, help="series per setting")
    parser.add_argument("--days", type=int, default=35)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    results: dict[str, tuple[Tally, Tally]] = {}
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("series", total=len(SETTINGS) * args.series)
        for k, setting in enumerate(SETTINGS):
            ours, naive = Tally(), Tally()
            for j in range(args.series):
                volumes, earliest = one_series(setting, args.days, seed=args.seed * 100_000 + k * 1000 + j)
                run(setting, volumes, earliest, ours, naive)
                progress.advance(task)
            results[setting.name] = (ours, naive)

    table = Table(
        title=f"Volume spikes: {args.series} series x {args.days} days per setting "
        f"(6 injected spikes each, first {WARMUP_DAYS} days warm-up)"
    )
    table.add_column("setting")
    table.add_column("detector")
    for size in SIZES:
        table.add_column(f"recall {size:g}x", justify="right")
    table.add_column("recall all", justify="right")
    table.add_column("false alarms / week", justify="right")
    table.add_column("delay median / p90 (buckets)", justify="right")
    overall = {"cuida": Tally(), "baseline": Tally()}
    for pair in results.values():
        for label, tally in zip(("cuida", "baseline"), pair, strict=True):
            agg = overall[label]
            for size in SIZES:
                agg.hits[size] += tally.hits[size]
                agg.total[size] += tally.total[size]
            agg.delays += tally.delays
            agg.false_alarms += tally.false_alarms
            agg.weeks += tally.weeks
            agg.neg_hits += tally.neg_hits
            agg.neg_total += tally.neg_total
            agg.neg_delays += tally.neg_delays
            agg.neg_false_alarms += tally.neg_false_alarms
            agg.seconds += tally.seconds
            agg.buckets += tally.buckets
    rows = [(name, pair) for name, pair in results.items()] + [
        ("ALL", (overall["cuida"], overall["baseline"]))
    ]
    for name, pair in rows:
        for label, tally in zip(("cuida", "baseline 24h mean+3sd"), pair, strict=True):
            table.add_row(
                name if label == "cuida" else "",
                label,
                *[pct(tally.hits[s], tally.total[s]) for s in SIZES],
                pct(sum(tally.hits.values()), sum(tally.total.values())),
                f"{tally.false_alarms / tally.weeks:.2f}",
                delays(tally.delays),
                end_section=label != "cuida",
            )
    console.print(table)

    table = Table(title="Negative-share spikes (15% -> 40% negative for 3 hours, volume flat)")
    table.add_column("setting")
    table.add_column("detector")
    table.add_column("recall", justify="right")
    table.add_column("false alarms / week", justify="right")
    table.add_column("delay median / p90 (buckets)", justify="right")
    for name, pair in rows:
        for label, tally in zip(("cuida", "baseline 24h mean+3sd"), pair, strict=True):
            table.add_row(
                name if label == "cuida" else "",
                label,
                pct(tally.neg_hits, tally.neg_total),
                f"{tally.neg_false_alarms / tally.weeks:.2f}",
                delays(tally.neg_delays),
                end_section=label != "cuida",
            )
    console.print(table)
    ours = overall["cuida"]
    console.print(
        f"cuida detector: {ours.seconds / ours.buckets * 1e6:.1f} us per bucket (online, both kinds), "
        f"{ours.buckets} buckets; simulated weeks after warm-up: {ours.weeks:.0f}"
    )


if __name__ == "__main__":
    main()
