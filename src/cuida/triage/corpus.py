"""Reading and checking the project's own labelled corpus (`triage/corpus/*.jsonl`).

python -m cuida.triage.corpus [FILE ...]   # check files, print label counts
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cuida.triage.schemas import EMOTIONS, INTENTS, REQUEST_KINDS, SENTIMENTS, TOXICITY, URGENCIES

CORPUS_DIR = Path(__file__).parent / "corpus"
LANGS = ("es", "en", "pt", "ca")
CHANNELS = ("twitter", "instagram", "facebook", "email", "webchat", "whatsapp", "review", "phone", "feed")


class CorpusError(ValueError):
    pass


@dataclass
class Example:
    text: str
    lang: str
    sentiment: str
    complaint: bool
    intents: frozenset[str]
    toxicity: frozenset[str]
    emotion: str
    urgency: str
    request_kind: str | None = None
    variant: str = ""
    channel: str = ""
    industry: str = ""
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def parse_record(record: dict[str, Any], where: str) -> Example:
    def need(name: str, allowed: Iterable[str] | None = None) -> Any:
        if name not in record:
            raise CorpusError(f"{where}: missing field {name!r}")
        value = record[name]
        if allowed is not None and value not in allowed:
            raise CorpusError(f"{where}: {name}={value!r} is not one of {sorted(allowed)}")
        return value

    text = need("text")
    if not isinstance(text, str) or not text.strip():
        raise CorpusError(f"{where}: text must be a non-empty string")
    complaint = need("complaint")
    if not isinstance(complaint, bool):
        raise CorpusError(f"{where}: complaint must be true or false")
    intents = record.get("intents") or []
    toxicity = record.get("toxicity") or []
    for name, values, allowed in (("intents", intents, INTENTS), ("toxicity", toxicity, TOXICITY)):
        if not isinstance(values, list) or any(v not in allowed for v in values):
            raise CorpusError(f"{where}: {name} must be a list drawn from {list(allowed)}, not {values!r}")
    request_kind = record.get("request_kind")
    if request_kind is not None and request_kind not in REQUEST_KINDS:
        raise CorpusError(f"{where}: request_kind={request_kind!r} is not one of {list(REQUEST_KINDS)}")
    if complaint and "complaint" not in intents:
        intents = [*intents, "complaint"]
    return Example(
        text=text,
        lang=need("lang", LANGS),
        sentiment=need("sentiment", SENTIMENTS),
        complaint=complaint,
        intents=frozenset(intents),
        toxicity=frozenset(toxicity),
        emotion=need("emotion", (*EMOTIONS, "none")),
        urgency=need("urgency", URGENCIES),
        request_kind=request_kind,
        variant=str(record.get("variant", "")),
        channel=str(record.get("channel", "")),
        industry=str(record.get("industry", "")),
        source=where,
    )


def read_file(path: Path) -> Iterator[Example]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            where = f"{path.name}:{number}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CorpusError(f"{where}: not valid JSON ({exc.msg})") from None
            if not isinstance(record, dict):
                raise CorpusError(f"{where}: each line must be a JSON object")
            yield parse_record(record, where)


def load_messages(folder: Path = CORPUS_DIR) -> list[Example]:
    """Every inbound example of the corpus, duplicates (same text) dropped."""
    seen: set[str] = set()
    examples = []
    for path in sorted(folder.glob("messages-*.jsonl")):
        for example in read_file(path):
            key = " ".join(example.text.lower().split())
            if key not in seen:
                seen.add(key)
                examples.append(example)
    return examples


def describe(examples: list[Example]) -> str:
    lines = [f"{len(examples)} examples"]
    for name, counter in (
        ("lang", Counter(e.lang for e in examples)),
        ("variant", Counter(e.variant for e in examples)),
        ("sentiment", Counter(e.sentiment for e in examples)),
        ("complaint", Counter(str(e.complaint) for e in examples)),
        ("intents", Counter(i for e in examples for i in e.intents)),
        ("toxicity", Counter(t for e in examples for t in e.toxicity)),
        ("emotion", Counter(e.emotion for e in examples)),
        ("urgency", Counter(e.urgency for e in examples)),
        ("industry", Counter(e.industry for e in examples)),
    ):
        lines.append(f"  {name}: " + ", ".join(f"{k}={v}" for k, v in counter.most_common()))
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or sorted(CORPUS_DIR.glob("messages-*.jsonl"))
    examples: list[Example] = []
    for path in paths:
        try:
            examples.extend(read_file(path))
        except CorpusError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    texts = Counter(" ".join(e.text.lower().split()) for e in examples)
    duplicates = sum(n - 1 for n in texts.values() if n > 1)
    print(describe(examples))
    print(f"  duplicate texts: {duplicates}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
