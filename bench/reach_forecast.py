#!/usr/bin/env python
"""Reach forecast benchmark: Cuida's forecaster against the published baselines on the 100 real
retweet cascades in ../shared/datasets/cascades/, then crisis-alert error rates on synthetic cascades.

    .venv/bin/python bench/reach_forecast.py [--threshold 500] [--synthetic 2000] [--other-splits 4]

Real cascades (`RT<n>.txt`: header `<total_retweets> <start_day>`, then `<seconds> <followers>` per
event, the original post first; final size = number of events). For each observation window (10 min,
1 h, 6 h) it prints the median and 75th-percentile absolute percentage error of the final size, the
share of cascades a method cannot score, and the 80%-interval coverage, for:

* Cuida shipped, per-event times and followers (`forecast_events`) -- never fitted on these
  cascades (its model was fitted on the project's synthetic cascades);
* Cuida shipped, cumulative counts only (`forecast`), polled at 1, 2, 5, 10, 20, 30 min, 1, 2, 3 h
  ... up to the window, with the author's followers;
* Cuida + local correction (`fit_local`, what a company gets by fitting on its own finished
  cascades), per-event and counts only: fitted on the training folds only (its penalty and interval
  come from a cross-validation inside them), scored on the held-out fold, then thrown away -- the
  README allows research data in "training runs whose artifacts are thrown away after measuring";
* the observed count so far, and Szabo-Huberman log-linear regression of log(final) on
  log(count so far), fitted on the training folds of a 5-fold cross-validation (its interval: the
  training residuals' 10th/90th percentiles). Cuida is scored on the same held-out folds;
* a reference that ignores the post: the training folds' median final size. The sample holds only
  cascades that reached 2,000 retweets, so "about the usual size" is already a strong guess here;
  any method fitted on the folds inherits that selection.

Synthetic cascades (`cuida.listening.synthetic`, a seed the correction was not fitted on; most never
take off): false-alarm and miss rates of the crisis-alert rule "alert when the forecast median (or
the interval's low end) reaches T" at 10 min and 1 h.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cuida.listening.reach import LocalCorrection, fit_local, forecast, forecast_events
from cuida.listening.synthetic import population

console = Console() if sys.stdout.isatty() else Console(width=140)
ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets" / "cascades"
WINDOWS = {"10 min": 600.0, "1 h": 3600.0, "6 h": 21600.0}
POLL = (60, 120, 300, 600, 1200, 1800, 3600, 7200, 10800, 21600)
FOLDS = 5


def progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


@dataclass
class Scores:
    """Per-cascade predictions of one method at one window (NaN: could not score)."""

    pred: list[float] = field(default_factory=list)
    low: list[float] = field(default_factory=list)
    high: list[float] = field(default_factory=list)
    true: list[float] = field(default_factory=list)

    def add(self, true: float, pred: float, low: float = math.nan, high: float = math.nan) -> None:
        self.true.append(true)
        self.pred.append(pred)
        self.low.append(low)
        self.high.append(high)

    def row(self) -> tuple[str, str, str, str, str]:
        true, pred = np.array(self.true), np.array(self.pred)
        ok = np.isfinite(pred)
        ape = np.abs(pred[ok] - true[ok]) / true[ok]
        low, high = np.array(self.low)[ok], np.array(self.high)[ok]
        has_interval = np.isfinite(low).all() and np.isfinite(high).all()
        cover = f"{np.mean((low <= true[ok]) & (true[ok] <= high)):.2f}" if has_interval else "—"
        bias = float(np.median(np.log(pred[ok] / true[ok])))
        return (
            f"{np.median(ape):.3f}",
            f"{np.percentile(ape, 75):.3f}",
            f"{1 - ok.mean():.0%}",
            cover,
            f"{bias:+.2f}",
        )


def load(folder: Path) -> list[np.ndarray]:
    files = sorted(folder.glob("RT*.txt"), key=lambda p: int(p.stem[2:]))
    if not files:
        sys.exit(f"no cascades in {folder} (expected RT<n>.txt; see ../shared/datasets/README.md)")
    out = []
    for f in files:
        lines = f.read_text().split("\n")[1:]
        out.append(np.array([[float(v) for v in line.split()] for line in lines if line.strip()]))
    return out


METHODS = (
    "cuida-events",
    "cuida-counts",
    "local-events",
    "local-counts",
    "observed",
    "log-linear",
    "fold-median",
)


def real_benchmark(cascades: list[np.ndarray], split_seed: int = 0) -> dict[str, dict[str, Scores]]:
    rng = np.random.default_rng(split_seed)
    fold_of = rng.permutation(np.arange(len(cascades)) % FOLDS)
    finals = np.array([c.shape[0] for c in cascades], dtype=float)
    results: dict[str, dict[str, Scores]] = {}
    with progress() as bar:
        # The local correction sees only the training folds' cascades (its own inner CV picks its
        # penalty and interval there); the fitted corrections are thrown away after scoring.
        task = bar.add_task("local correction, fitted per training fold", total=FOLDS)
        local = []
        for fold in range(FOLDS):
            train_cascades = [cascades[i] for i in np.flatnonzero(fold_of != fold)]
            local.append(fit_local(train_cascades, times=tuple(WINDOWS.values())))
            bar.advance(task)
        task = bar.add_task("real cascades", total=len(WINDOWS) * len(cascades))
        for wname, w in WINDOWS.items():
            counts = np.array([np.searchsorted(c[:, 0], w, side="right") for c in cascades], dtype=float)
            res = {k: Scores() for k in METHODS}
            for fold in range(FOLDS):
                train, test = fold_of != fold, np.flatnonzero(fold_of == fold)
                x, y = np.log(counts[train]), np.log(finals[train])
                slope, icpt = np.polyfit(x, y, 1)
                resid = y - (icpt + slope * x)
                q10, q90 = np.percentile(resid, [10, 90])
                typical = float(np.median(finals[train]))
                t10, t90 = np.percentile(finals[train], [10, 90])
                for i in test:
                    c, true, n = cascades[i], finals[i], counts[i]
                    root, reshares = c[0, 1], c[1:]
                    k = int(np.searchsorted(reshares[:, 0], w, side="right"))
                    polls = [t for t in POLL if t < w] + [w]
                    snaps = [(t, int(np.searchsorted(reshares[:, 0], t, side="right"))) for t in polls]
                    corrections: tuple[tuple[str, LocalCorrection | Literal[False]], ...] = (
                        ("cuida", False),
                        ("local", local[fold]),
                    )
                    for key, corr in corrections:
                        fe = forecast_events(reshares[:k].tolist(), followers=root, now=w, correction=corr)
                        res[f"{key}-events"].add(true, fe.final + 1, fe.low + 1, fe.high + 1)
                        fc = forecast(snaps, followers=root, correction=corr)
                        res[f"{key}-counts"].add(true, fc.final + 1, fc.low + 1, fc.high + 1)
                    res["observed"].add(true, n)
                    mid = icpt + slope * math.log(n)
                    res["log-linear"].add(true, math.exp(mid), math.exp(mid + q10), math.exp(mid + q90))
                    res["fold-median"].add(true, typical, t10, t90)
                    bar.advance(task)
            results[wname] = res
    return results


def other_splits(cascades: list[np.ndarray], n: int, labels: dict[str, str]) -> Table:
    """Median APE (coverage) of each method on `n` further fold splits (seeds 1..n)."""
    table = Table(title=f"Median APE (80% coverage) on {n} other 5-fold splits (split seeds 1–{n})")
    table.add_column("window")
    table.add_column("method")
    for seed in range(1, n + 1):
        table.add_column(f"split {seed}", justify="right")
    runs = [real_benchmark(cascades, split_seed=seed) for seed in range(1, n + 1)]
    for wname in WINDOWS:
        for key in METHODS:
            cells = []
            for run in runs:
                med, _, _, cover, _ = run[wname][key].row()
                cells.append(med if cover == "—" else f"{med} ({cover})")
            table.add_row(wname, labels[key], *cells)
        table.add_section()
    return table


def timing(cascades: list[np.ndarray]) -> tuple[float, float]:
    c = cascades[0]
    root, reshares = c[0, 1], c[1:]
    k = int(np.searchsorted(reshares[:, 0], 3600, side="right"))
    ev = reshares[:k].tolist()
    snaps = [(t, int(np.searchsorted(reshares[:, 0], t, side="right"))) for t in POLL if t <= 3600]
    out = []
    for fn in (
        lambda: forecast(snaps, followers=root),
        lambda: forecast_events(ev, followers=root, now=3600),
    ):
        fn()
        n = 300
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        out.append((time.perf_counter() - t0) / n * 1e6)
    return out[0], out[1]


def alert_benchmark(n: int, threshold: float, seed: int) -> Table:
    with console.status(f"drawing {n} synthetic cascades (seed {seed})"):
        cascades = population(n, seed=seed)
    finals = np.array([c.final for c in cascades])
    table = Table(
        title=(
            f"Crisis alert on {n} synthetic cascades (seed {seed}): T = {threshold:g} reshares; "
            f"{(finals >= threshold).sum()} reach T, {(finals < 10).sum()} end below 10"
        )
    )
    for name in ("window", "input", "rule", "alerts", "false-alarm rate", "miss rate", "precision"):
        table.add_column(name, justify="right" if name not in ("input", "rule") else "left")
    positive = finals >= threshold
    with progress() as bar:
        task = bar.add_task("synthetic alerts", total=2 * n)
        for wname, w in (("10 min", 600.0), ("1 h", 3600.0)):
            preds: dict[str, list[tuple[float, float]]] = {"events": [], "counts": []}
            for c in cascades:
                fe = forecast_events(
                    c.events_until(w), followers=c.params.root_followers, now=w, correction=False
                )
                preds["events"].append((fe.final, fe.low))
                polls = [t for t in POLL if t < w] + [w]
                fc = forecast(c.snapshots(polls), followers=c.params.root_followers, correction=False)
                preds["counts"].append((fc.final, fc.low))
                bar.advance(task)
            for mode, rows in preds.items():
                arr = np.array(rows)
                for rule, col in (("median ≥ T", 0), ("low ≥ T", 1)):
                    alert = arr[:, col] >= threshold
                    fa = (alert & ~positive).sum() / max((~positive).sum(), 1)
                    miss = (~alert & positive).sum() / max(positive.sum(), 1)
                    prec = (alert & positive).sum() / alert.sum() if alert.sum() else math.nan
                    table.add_row(
                        wname, mode, rule, str(int(alert.sum())), f"{fa:.3%}", f"{miss:.1%}", f"{prec:.2f}"
                    )
    return table


def synthetic_accuracy(n: int, seed: int) -> Table:
    """The same scores on held-out synthetic cascades (a seed the model was not fitted on), for all
    that reached 100 reshares and for those that reached 2,000 -- the real sample's selection."""
    cascades = population(n, seed=seed, min_size=100)
    table = Table(title=f"Cuida on {n} held-out synthetic cascades with final ≥ 100 (seed {seed})")
    for col in (
        "window",
        "input",
        "cascades",
        "median APE",
        "p75 APE",
        "80% coverage",
        "median log(pred/true)",
    ):
        table.add_column(col, justify="left" if col == "input" else "right")
    for wname, w in WINDOWS.items():
        scores = {
            key: Scores() for key in ("events", "counts", "events, final ≥ 2000", "counts, final ≥ 2000")
        }
        for c in cascades:
            fe = forecast_events(
                c.events_until(w), followers=c.params.root_followers, now=w, correction=False
            )
            polls = [t for t in POLL if t < w] + [w]
            fc = forecast(c.snapshots(polls), followers=c.params.root_followers, correction=False)
            for mode, f in (("events", fe), ("counts", fc)):
                keys = [mode, f"{mode}, final ≥ 2000"] if c.final >= 2000 else [mode]
                for key in keys:
                    scores[key].add(c.final + 1, f.final + 1, f.low + 1, f.high + 1)
        for key, s in scores.items():
            med, p75, _, cover, bias = s.row()
            table.add_row(wname, key, str(len(s.true)), med, p75, cover, bias)
        table.add_section()
    return table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--threshold", type=float, default=500.0, help="crisis-alert threshold T (reshares)")
    ap.add_argument("--synthetic", type=int, default=2000, help="synthetic cascades for the alert test")
    ap.add_argument("--synthetic-accuracy", type=int, default=1000, help="held-out synthetic cascades scored")
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument(
        "--other-splits",
        type=int,
        default=0,
        help="also score the fitted methods on this many other 5-fold splits (how much one split moves)",
    )
    args = ap.parse_args()

    cascades = load(args.data)
    finals = [c.shape[0] for c in cascades]
    console.print(
        f"{len(cascades)} real cascades from {args.data}: final sizes {min(finals)}–{max(finals)} "
        f"(median {int(np.median(finals))})"
    )
    results = real_benchmark(cascades)
    labels = {
        "cuida-events": "Cuida shipped, per-event times (not fitted here)",
        "cuida-counts": "Cuida shipped, cumulative counts only",
        "local-events": "Cuida + local correction, per-event, 5-fold CV",
        "local-counts": "Cuida + local correction, counts only, 5-fold CV",
        "observed": "baseline: observed count so far",
        "log-linear": "baseline: log-linear (Szabo–Huberman), 5-fold CV",
        "fold-median": "reference: training folds' median final, 5-fold CV",
    }
    table = Table(
        title="Final-size forecast on the real cascades (targets: median APE ≤ 0.30 @10 min, ≤ 0.25 @1 h)"
    )
    for col in (
        "window",
        "method",
        "median APE",
        "p75 APE",
        "cannot score",
        "80% coverage",
        "median log(pred/true)",
    ):
        table.add_column(col, justify="left" if col == "method" else "right")
    for wname, res in results.items():
        for key, scores in res.items():
            table.add_row(wname, labels[key], *scores.row())
        table.add_section()
    console.print(table)
    if args.other_splits:
        console.print(other_splits(cascades, args.other_splits, labels))
    console.print(
        "Published on these cascades: log-linear ≈ 0.34 @10 min, 0.33 @1 h; SEISMIC reference ≈ 0.48 @10 min, "
        "0.38 @1 h, 0.14 @12 h. Coverage target 0.75–0.85."
    )
    t_counts, t_events = timing(cascades)
    console.print(
        f"Time per call: {t_counts:.0f} µs from {sum(1 for t in POLL if t <= 3600)} cumulative counts; "
        f"{t_events:.0f} µs from {int(np.searchsorted(cascades[0][1:, 0], 3600, side='right'))} per-event reshares."
    )
    console.print(synthetic_accuracy(args.synthetic_accuracy, args.seed + 1))
    console.print(alert_benchmark(args.synthetic, args.threshold, args.seed))


if __name__ == "__main__":
    main()
