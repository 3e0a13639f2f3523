#!/usr/bin/env python
"""Tone guard benchmark: median µs per draft and accuracy (draft blocked or not) on the labelled
drafts in triage/corpus/drafts-*.jsonl, beside a trivial baseline (block when the draft contains a
bare insult/swear word) measured in the same run.

    .venv/bin/python bench/tone_guard.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cuida.triage.tone import ReplyContext, review_reply

CORPUS = Path(__file__).resolve().parents[1] / "src" / "cuida" / "triage" / "corpus"
BASELINE_WORDS = re.compile(
    r"\b(?:idiota|imbécil|imbecil|pesad[oa]|listill[oa]|pringad[oa]|gilipollas|tont[oa]|estúpid[oa]|inútil"
    r"|mierda|joder|coño|puta|idiot|moron|stupid|fuck\w*|shit|bullshit|damn)\b",
    re.IGNORECASE,
)


def load(files: list[Path]) -> list[dict[str, Any]]:
    rows = []
    for path in files:
        with path.open(encoding="utf-8") as fh:
            rows.extend(json.loads(line) for line in fh if line.strip())
    return rows


def measure(
    rows: list[dict[str, Any]], blocks: Callable[[dict[str, Any]], bool], repeat: int
) -> dict[str, float]:
    times: list[float] = []
    tp = fp = fn = correct = 0
    for i in range(repeat):
        for r in rows:
            t0 = time.perf_counter()
            blocked = blocks(r)
            times.append(time.perf_counter() - t0)
            if i == 0:
                correct += blocked == (not r["ok"])
                tp += blocked and not r["ok"]
                fp += blocked and r["ok"]
                fn += (not blocked) and not r["ok"]
    return {
        "median_us": statistics.median(times) * 1e6,
        "p95_us": sorted(times)[int(0.95 * (len(times) - 1))] * 1e6,
        "accuracy": correct / len(rows),
        "precision": tp / (tp + fp) if tp + fp else 0.0,
        "recall": tp / (tp + fn) if tp + fn else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    review_reply("warm up the rules")  # compile once, outside the timings

    def guard(r: dict[str, Any]) -> bool:
        return not review_reply(r["text"], ReplyContext(**r.get("context", {}))).ok

    def baseline(r: dict[str, Any]) -> bool:
        return BASELINE_WORDS.search(r["text"]) is not None

    files = sorted(CORPUS.glob("drafts-*.jsonl"))
    print(
        f"{'file':<18}{'method':<16}{'n':>5}{'median µs':>11}{'p95 µs':>9}{'acc':>7}{'prec':>7}{'recall':>8}"
    )
    for name, subset in [(p.name, [p]) for p in files] + [("all", files)]:
        rows = load(subset)
        for method, fn in (("tone guard", guard), ("bare word list", baseline)):
            m = measure(rows, fn, args.repeat)
            print(
                f"{name:<18}{method:<16}{len(rows):>5}{m['median_us']:>11.1f}{m['p95_us']:>9.1f}"
                f"{m['accuracy']:>7.3f}{m['precision']:>7.3f}{m['recall']:>8.3f}"
            )


if __name__ == "__main__":
    main()
