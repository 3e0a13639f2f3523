"""Building the triage model from labelled examples: the project's corpus, and optionally a
company's own corrections made by its agents."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cuida.triage.corpus import Example
from cuida.triage.features import Featurizer
from cuida.triage.model import HeadData, TriageModel, fit_heads
from cuida.triage.schemas import INTENTS, REQUEST_KINDS, SENTIMENTS, TOXICITY, URGENCIES

EMOTION_LABELS = ["anger", "sadness", "joy", "fear", "none"]
# The complaint intent is the complaint head; the others get a head each.
INTENT_HEADS = [i for i in INTENTS if i != "complaint"]
RARE = {"churn_threat", "legal_threat", "public_escalation_threat", "escalation_request"}


@dataclass
class PartialExample:
    """An example that may carry only some labels (an agent's correction names one field)."""

    text: str
    lang: str
    labels: dict[str, object]


def from_corpus(example: Example) -> PartialExample:
    labels: dict[str, object] = {
        "sentiment": example.sentiment,
        "complaint": example.complaint,
        "emotion": example.emotion,
        "urgency": example.urgency,
    }
    for intent in INTENT_HEADS:
        labels[f"intent:{intent}"] = intent in example.intents
    for kind in TOXICITY:
        labels[f"toxicity:{kind}"] = kind in example.toxicity
    if example.request_kind:
        labels["request_kind"] = example.request_kind
    return PartialExample(example.text, example.lang, labels)


def head_data(examples: Sequence[PartialExample]) -> list[HeadData]:
    def softmax(name: str, labels: Sequence[str], c: float = 4.0) -> HeadData:
        rows = [i for i, e in enumerate(examples) if e.labels.get(name) in labels]
        return HeadData(
            name, "softmax", list(labels), rows, [str(examples[i].labels[name]) for i in rows], c=c
        )

    def sigmoid(name: str, balanced: bool = False) -> HeadData:
        rows = [i for i, e in enumerate(examples) if isinstance(e.labels.get(name), bool)]
        targets = ["1" if examples[i].labels[name] else "0" for i in rows]
        return HeadData(name, "sigmoid", [name], rows, targets, balanced=balanced)

    heads = [softmax("sentiment", SENTIMENTS), sigmoid("complaint")]
    heads += [sigmoid(f"intent:{i}", balanced=i in RARE) for i in INTENT_HEADS]
    heads += [sigmoid(f"toxicity:{k}", balanced=True) for k in TOXICITY]
    heads += [softmax("emotion", EMOTION_LABELS), softmax("urgency", URGENCIES)]
    heads.append(softmax("request_kind", REQUEST_KINDS))
    return heads


def dense_features() -> tuple[Callable[[str, str], dict[str, float]] | None, list[str]]:
    """The lexicon features, when the lexicon module is there."""
    try:
        from cuida.triage import lexicon
    except ImportError:  # pragma: no cover - the lexicon ships with the package
        return None, []
    names = sorted(lexicon.features("", "es"))
    return lexicon.features, names


def train(
    examples: Sequence[PartialExample],
    progress: Callable[[str], None] | None = None,
    meta: dict[str, object] | None = None,
) -> TriageModel:
    texts = [e.text for e in examples]
    languages = [e.lang for e in examples]
    dense, names = dense_features()
    if progress:
        progress("vocabulary")
    featurizer = Featurizer.fit(texts, dense=dense, dense_names=names)
    model = fit_heads(featurizer, texts, languages, head_data(examples), progress=progress)
    model.meta = {"examples": len(examples), **(meta or {})}
    return model


def train_single(
    texts: Sequence[str], labels: Sequence[str], languages: Sequence[str], head: str = "sentiment"
) -> TriageModel:
    """One softmax head on someone's labelled data (evaluation, a company's own set)."""
    examples = [
        PartialExample(t, lang, {head: label})
        for t, label, lang in zip(texts, labels, languages, strict=True)
    ]
    dense, names = dense_features()
    featurizer = Featurizer.fit(texts, dense=dense, dense_names=names)
    data = HeadData(head, "softmax", sorted(set(labels)), list(range(len(examples))), list(labels))
    return fit_heads(featurizer, texts, languages, [data])


def save(model: TriageModel, folder: Path) -> list[Path]:
    return model.save(folder)
