"""The learned part of triage: one feature space, many linear heads in one weight matrix.

Every head (sentiment, complaint, each intent, each toxicity kind, emotion, urgency, request
kind) is a logistic regression trained with scikit-learn; their coefficients are stacked into a
single matrix so that scoring a message is one gather-and-sum over its few hundred active
features. The artifact is a `.npz` (float16 weights) plus a JSON description; loading needs only
numpy."""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cuida.triage.features import Featurizer, Vocabulary

ARTIFACT_VERSION = 1
MODEL_FILE = "triage-model.npz"
META_FILE = "triage-model.json.gz"


@dataclass
class Head:
    name: str
    kind: str  # "softmax" (one of labels) or "sigmoid" (one probability)
    labels: list[str]
    start: int  # first column in the weight matrix
    end: int

    def probabilities(self, scores: list[float]) -> dict[str, float]:
        # Plain floats: for a handful of numbers, math beats numpy's per-call overhead.
        raw = scores[self.start : self.end]
        if self.kind == "sigmoid":
            return {self.labels[0]: 1.0 / (1.0 + math.exp(-max(min(raw[0], 50.0), -50.0)))}
        top = max(raw)
        exps = [math.exp(v - top) for v in raw]
        total = sum(exps)
        return {label: e / total for label, e in zip(self.labels, exps, strict=True)}


@dataclass
class Scored:
    indices: np.ndarray
    values: np.ndarray
    gathered: np.ndarray  # the weight rows of the active features
    scores: np.ndarray


@dataclass
class TriageModel:
    featurizer: Featurizer
    heads: dict[str, Head]
    weights: np.ndarray  # (features, columns) float32
    bias: np.ndarray  # (columns,)
    meta: dict[str, Any] = field(default_factory=dict)

    def score(self, text: str, language: str) -> Scored:
        """Featurise once; everything else (probabilities, explanations) reads the result."""
        indices, values = self.featurizer.transform_one(text, language)
        gathered = self.weights[indices]
        scores = values @ gathered + self.bias if len(indices) else self.bias.copy()
        return Scored(indices, values, gathered, scores)

    def scores(self, text: str, language: str) -> np.ndarray:
        return self.score(text, language).scores

    def predict(self, text: str, language: str) -> dict[str, dict[str, float]]:
        return self.probabilities(self.score(text, language))

    def probabilities(self, scored: Scored) -> dict[str, dict[str, float]]:
        scores = scored.scores.tolist()
        return {name: head.probabilities(scores) for name, head in self.heads.items()}

    def top_features(self, scored: Scored, column: int, count: int = 4) -> list[str]:
        """The words that pushed one column up the most: the 'why' shown to agents. Placeholders
        and lexicon aggregates are left out (the lexicon's own evidence names those words)."""
        if len(scored.indices) == 0:
            return []
        contributions = scored.values * scored.gathered[:, column]
        names: list[str] = []
        for k in np.argsort(-contributions):
            if contributions[k] <= 0.05 or len(names) >= count:
                break
            name = self.feature_name(int(scored.indices[k]))
            if name and name not in names:
                names.append(name)
        return names

    def feature_name(self, index: int) -> str | None:
        f = self.featurizer
        if index < f.char_offset:
            term = f.words.terms[index]
            # Numbers, placeholders and punctuation explain nothing to an agent.
            return (
                None
                if any(ch.isdigit() or ch in "<>" for ch in term) or not any(c.isalpha() for c in term)
                else term
            )
        if index < f.dense_offset:
            gram = f.chars.terms[index - f.char_offset].strip()
            return f"…{gram}…" if len(gram) >= 4 and gram.isalpha() else None
        return None

    # --- storage -------------------------------------------------------------------------

    def save(self, folder: Path) -> list[Path]:
        folder.mkdir(parents=True, exist_ok=True)
        model_path, meta_path = folder / MODEL_FILE, folder / META_FILE
        np.savez_compressed(
            model_path,
            weights=self.weights.astype(np.float16),
            bias=self.bias.astype(np.float32),
            word_idf=self.featurizer.words.idf,
            char_idf=self.featurizer.chars.idf,
        )
        description = {
            "version": ARTIFACT_VERSION,
            "heads": [vars(h) for h in self.heads.values()],
            "words": self.featurizer.words.terms,
            "chars": self.featurizer.chars.terms,
            "dense_names": self.featurizer.dense_names,
            "dense_scale": self.featurizer.dense_scale,
            "meta": self.meta,
        }
        with gzip.open(meta_path, "wt", encoding="utf-8") as handle:
            json.dump(description, handle, ensure_ascii=False)
        return [model_path, meta_path]

    @classmethod
    def load(cls, folder: Path, dense: Callable[[str, str], dict[str, float]] | None) -> TriageModel:
        with gzip.open(folder / META_FILE, "rt", encoding="utf-8") as handle:
            description = json.load(handle)
        if description.get("version") != ARTIFACT_VERSION:
            raise ValueError(f"{folder}: triage model version {description.get('version')} is not supported")
        arrays = np.load(folder / MODEL_FILE)
        featurizer = Featurizer(
            Vocabulary.restore(description["words"], arrays["word_idf"]),
            Vocabulary.restore(description["chars"], arrays["char_idf"]),
            description["dense_names"],
            dense,
            description["dense_scale"],
        )
        heads = {h["name"]: Head(**h) for h in description["heads"]}
        return cls(
            featurizer,
            heads,
            arrays["weights"].astype(np.float32),
            arrays["bias"],
            description.get("meta", {}),
        )


# --- training --------------------------------------------------------------------------------


@dataclass
class HeadData:
    """Training rows for one head: which examples carry its label, and the label of each."""

    name: str
    kind: str
    labels: list[str]
    rows: list[int]
    targets: list[str]  # for sigmoid heads: "1" or "0"
    balanced: bool = False
    c: float = 4.0


def fit_heads(
    featurizer: Featurizer,
    texts: Sequence[str],
    languages: Sequence[str],
    heads: Sequence[HeadData],
    progress: Callable[[str], None] | None = None,
) -> TriageModel:
    from sklearn.linear_model import LogisticRegression

    matrix: Any = featurizer.transform(texts, languages)
    columns: list[np.ndarray] = []
    biases: list[np.ndarray] = []
    built: dict[str, Head] = {}
    start = 0
    for data in heads:
        if progress:
            progress(data.name)
        x = matrix[data.rows]
        y = np.asarray(data.targets)
        present = sorted(set(data.targets))
        if len(present) < 2:
            # Nothing to learn from (e.g. no examples of a rare intent yet): a constant head.
            width = 1 if data.kind == "sigmoid" else len(data.labels)
            columns.append(np.zeros((featurizer.size, width), dtype=np.float32))
            constant = -6.0 if data.kind == "sigmoid" and present == ["0"] else 0.0
            biases.append(np.full(width, constant, dtype=np.float32))
            built[data.name] = Head(data.name, data.kind, data.labels, start, start + width)
            start += width
            continue
        classifier = LogisticRegression(
            C=data.c, max_iter=3000, class_weight="balanced" if data.balanced else None
        )
        classifier.fit(x, y)
        if data.kind == "sigmoid":
            coef = classifier.coef_[0][:, None]
            bias = classifier.intercept_[:1]
            if list(classifier.classes_) != ["0", "1"]:
                raise ValueError(f"head {data.name}: unexpected classes {classifier.classes_}")
            width = 1
        else:
            # Columns in the head's label order; labels never seen get a very low score.
            width = len(data.labels)
            coef = np.zeros((featurizer.size, width), dtype=np.float32)
            bias = np.full(width, -20.0, dtype=np.float32)
            learned = list(classifier.classes_)
            if len(learned) == 2:
                # scikit-learn stores one column for two classes: split it symmetrically.
                for sign, label in ((-0.5, learned[0]), (0.5, learned[1])):
                    j = data.labels.index(label)
                    coef[:, j] = sign * classifier.coef_[0]
                    bias[j] = sign * classifier.intercept_[0]
            else:
                for k, label in enumerate(learned):
                    j = data.labels.index(label)
                    coef[:, j] = classifier.coef_[k]
                    bias[j] = classifier.intercept_[k]
        columns.append(np.asarray(coef, dtype=np.float32))
        biases.append(np.asarray(bias, dtype=np.float32))
        built[data.name] = Head(data.name, data.kind, data.labels, start, start + width)
        start += width
    weights = np.hstack(columns).astype(np.float32)
    return TriageModel(featurizer, built, weights, np.concatenate(biases).astype(np.float32))
