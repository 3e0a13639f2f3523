#!/usr/bin/env python
"""Triage measured on public data nobody on the team wrote, beside a plain baseline.

    .venv/bin/python bench/triage_eval.py [--datasets ../shared/datasets] [--folds 10]

Prints, in one run:
  1. sentiment macro-F1 on TASS 2020 dev (all variants and per variant): the shipped model as is
     (trained only on Cuida's own corpus) and a TF-IDF (word 1-2 + char 2-5) + logistic
     regression baseline trained on the same corpus;
  2. complaint macro-F1 on complaints-en: shipped as is, baseline trained on the corpus; and
     10-fold cross-validation of Cuida's learner and of the baseline on the dataset itself;
  3. anger F1 on EmoEvent dev (shipped; baseline trained on the corpus);
  4. the learner trained on TASS train (a throwaway model, never shipped) on TASS dev, beside the
     baseline trained the same way: what a company's own labelled data buys;
  5. speed: analyze() messages per second on one core, model load time, memory, artifact size.

The datasets are read in place and never copied; models trained on them are thrown away.
"""

from __future__ import annotations

import argparse
import csv
import gc
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import track
from rich.table import Table
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import FeatureUnion, make_pipeline

from cuida.triage.corpus import load_messages
from cuida.triage.train import train_single

console = Console(width=110)
TASS_LABELS = {"N": "negative", "NEU": "neutral", "P": "positive"}
VARIANTS = ["es", "mx", "pe", "cr", "uy"]


# --- data --------------------------------------------------------------------------------------


def read_tass(folder: Path, split: str) -> list[tuple[str, str, str]]:
    rows = []
    for variant in VARIANTS:
        with (folder / split / f"{variant}.tsv").open(encoding="utf-8") as handle:
            for line in handle:
                parts = line.rstrip("\n").split("\t")
                if len(parts) >= 3 and parts[2].strip() in TASS_LABELS:
                    rows.append((parts[1].strip(), TASS_LABELS[parts[2].strip()], variant))
    return rows


def read_emoevent(path: Path) -> list[tuple[str, str]]:
    rows = []
    with path.open(encoding="utf-8") as handle:
        reader = csv.reader(handle, delimiter="\t")
        next(reader)
        for row in reader:
            if len(row) >= 3:
                rows.append((row[1].strip(), row[2].strip()))
    return rows


def read_complaints(path: Path) -> list[tuple[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return [(row[1], row[2].strip()) for row in csv.reader(handle) if len(row) >= 3]


# --- learners ----------------------------------------------------------------------------------


def baseline(texts: Sequence[str], labels: Sequence[str]) -> Callable[[Sequence[str]], list[str]]:
    """The plain reference: TF-IDF word 1-2 + char 2-5 grams, logistic regression."""
    features = FeatureUnion(
        [
            ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)),
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2)),
        ]
    )
    pipeline = make_pipeline(features, LogisticRegression(C=4.0, max_iter=3000))
    pipeline.fit(list(texts), list(labels))
    return lambda batch: list(pipeline.predict(list(batch)))


def learner(
    texts: Sequence[str], labels: Sequence[str], language: str
) -> Callable[[Sequence[str]], list[str]]:
    """Cuida's own learner (the shipped featurizer with lexicon features), one head."""
    model = train_single(texts, labels, [language] * len(texts), head="label")
    head = model.heads["label"]

    def predict(batch: Sequence[str]) -> list[str]:
        out = []
        for text in batch:
            probs = head.probabilities(model.scores(text, language).tolist())
            out.append(max(probs, key=lambda k: probs[k]))
        return out

    return predict


def macro_f1(gold: Sequence[str], predicted: Sequence[str]) -> float:
    return float(f1_score(gold, predicted, average="macro"))


# --- the shipped path --------------------------------------------------------------------------


def shipped_sentiment(texts: Sequence[str]) -> list[str]:
    from cuida.triage import analyze

    return [analyze(t).sentiment.label for t in track(texts, "shipped: TASS dev", console=console)]


def measure_load() -> tuple[float, float]:
    """Model load time and the memory it adds, in a fresh interpreter so nothing is cached."""
    code = (
        "import time, re\n"
        "def rss():\n"
        "    return int(re.search(r'VmRSS:\\s+(\\d+)', open('/proc/self/status').read()).group(1)) / 1024\n"
        "import cuida.triage.service as s\n"
        "before = rss(); t = time.perf_counter()\n"
        "s.load_model(); s.analyze('hola, ¿qué tal?')\n"
        "print(time.perf_counter() - t, rss() - before)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    seconds, megabytes = out.stdout.split()
    return float(seconds), float(megabytes)


def throughput(texts: Sequence[str], rounds: int = 5) -> float:
    from cuida.triage import analyze

    for text in texts[:50]:
        analyze(text)
    rates = []
    for _ in range(rounds):
        gc.collect()
        start = time.perf_counter()
        for text in texts:
            analyze(text)
        rates.append(len(texts) / (time.perf_counter() - start))
    return statistics.median(rates)


# --- main --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--datasets", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "datasets"
    )
    parser.add_argument("--folds", type=int, default=10)
    args = parser.parse_args()
    data = args.datasets
    if not data.is_dir():
        sys.exit(f"datasets folder not found: {data} (use --datasets)")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    random.seed(7)

    corpus = load_messages()
    corpus_es_en = [e for e in corpus if e.lang in ("es", "en")]
    console.print(f"Cuida corpus: {len(corpus)} examples; datasets from {data}")
    tass_train, tass_dev = read_tass(data / "tass2020-es", "train"), read_tass(data / "tass2020-es", "dev")
    emo_dev = read_emoevent(data / "emoevent-es" / "dev.tsv")
    complaints = read_complaints(data / "complaints-en" / "complaints-data.csv")

    results = Table(title="Triage on public data (macro-F1 unless said)")
    for column in ("task", "Cuida shipped", "baseline (same data)", "note"):
        results.add_column(column)

    # 1. Sentiment, trained on the corpus only.
    dev_texts = [t for t, _, _ in tass_dev]
    dev_gold = [g for _, g, _ in tass_dev]
    shipped = shipped_sentiment(dev_texts)
    base_sent = baseline([e.text for e in corpus_es_en], [e.sentiment for e in corpus_es_en])(dev_texts)
    results.add_row(
        "sentiment, TASS dev (all)",
        f"{macro_f1(dev_gold, shipped):.3f}",
        f"{macro_f1(dev_gold, base_sent):.3f}",
        "trained on Cuida corpus only",
    )
    for variant in VARIANTS:
        idx = [i for i, (_, _, v) in enumerate(tass_dev) if v == variant]
        results.add_row(
            f"  variant {variant} (n={len(idx)})",
            f"{macro_f1([dev_gold[i] for i in idx], [shipped[i] for i in idx]):.3f}",
            f"{macro_f1([dev_gold[i] for i in idx], [base_sent[i] for i in idx]):.3f}",
            "",
        )

    # 2. Complaints: shipped as is, then 10-fold CV of both learners on the dataset.
    from cuida.triage import analyze

    c_texts = [t for t, _ in complaints]
    c_gold = [g for _, g in complaints]
    c_shipped = [
        "1" if analyze(t).complaint.label else "0"
        for t in track(c_texts, "shipped: complaints", console=console)
    ]
    c_base = baseline([e.text for e in corpus_es_en], ["1" if e.complaint else "0" for e in corpus_es_en])(
        c_texts
    )
    results.add_row(
        "complaint, complaints-en",
        f"{macro_f1(c_gold, c_shipped):.3f}",
        f"{macro_f1(c_gold, c_base):.3f}",
        "trained on Cuida corpus only",
    )
    folds = StratifiedKFold(n_splits=args.folds, shuffle=True, random_state=7)
    ours_cv: list[str] = [""] * len(c_texts)
    base_cv: list[str] = [""] * len(c_texts)
    for k, (train_idx, test_idx) in enumerate(folds.split(c_texts, c_gold), 1):
        console.print(f"  complaints CV fold {k}/{args.folds}")
        tr_t, tr_y = [c_texts[i] for i in train_idx], [c_gold[i] for i in train_idx]
        te_t = [c_texts[i] for i in test_idx]
        for i, label in zip(test_idx, learner(tr_t, tr_y, "en")(te_t), strict=True):
            ours_cv[i] = label
        for i, label in zip(test_idx, baseline(tr_t, tr_y)(te_t), strict=True):
            base_cv[i] = label
    results.add_row(
        f"complaint, {args.folds}-fold CV in-domain",
        f"{macro_f1(c_gold, ours_cv):.3f}",
        f"{macro_f1(c_gold, base_cv):.3f}",
        "Cuida learner vs baseline, both trained on folds",
    )

    # 3. Anger on EmoEvent dev.
    e_texts = [t for t, _ in emo_dev]
    e_gold = ["1" if g == "anger" else "0" for _, g in emo_dev]
    e_shipped = []
    for text in track(e_texts, "shipped: EmoEvent dev", console=console):
        emotion = analyze(text).emotion
        e_shipped.append("1" if emotion.get("anger", 0.0) >= 0.5 else "0")
    e_base = baseline(
        [e.text for e in corpus_es_en], ["1" if e.emotion == "anger" else "0" for e in corpus_es_en]
    )(e_texts)
    results.add_row(
        "anger F1, EmoEvent dev",
        f"{f1_score(e_gold, e_shipped, pos_label='1'):.3f}",
        f"{f1_score(e_gold, e_base, pos_label='1'):.3f}",
        f"F1 of the anger class ({e_gold.count('1')} of {len(e_gold)})",
    )

    # 4. What a company's own data buys: train on TASS train, test on TASS dev.
    console.print("training on TASS train (throwaway models)")
    tr_texts = [t for t, _, _ in tass_train]
    tr_gold = [g for _, g, _ in tass_train]
    ours_tass = learner(tr_texts, tr_gold, "es")(dev_texts)
    base_tass = baseline(tr_texts, tr_gold)(dev_texts)
    results.add_row(
        "sentiment, TASS train → dev",
        f"{macro_f1(dev_gold, ours_tass):.3f}",
        f"{macro_f1(dev_gold, base_tass):.3f}",
        "Cuida learner vs baseline, thrown away",
    )
    console.print(results)

    # 5. Speed and footprint.
    sample = dev_texts + c_texts + e_texts
    random.shuffle(sample)
    rate = throughput(sample[:3000])
    load_seconds, load_mb = measure_load()
    from cuida.triage.service import MODEL_DIR

    size_mb = sum(p.stat().st_size for p in MODEL_DIR.iterdir() if p.is_file()) / 1e6
    lex_mb = sum(p.stat().st_size for p in (MODEL_DIR.parent / "lexicons").glob("*.tsv")) / 1e6
    mean_chars = float(np.mean([len(t) for t in sample[:3000]]))
    speed = Table(title="Speed and footprint (one core, median of 5 rounds)")
    speed.add_column("figure")
    speed.add_column("value")
    speed.add_row("analyze() messages/s on one core", f"{rate:,.0f}")
    speed.add_row("mean message length", f"{mean_chars:.0f} chars")
    speed.add_row("model load + first analyze (fresh process, after imports)", f"{load_seconds:.2f} s")
    speed.add_row("memory added by loading", f"{load_mb:.0f} MB")
    speed.add_row("artifact size (model + lexicons)", f"{size_mb + lex_mb:.1f} MB")
    speed.add_row(
        "peak RSS of this run", f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    )
    console.print(speed)


if __name__ == "__main__":
    main()
