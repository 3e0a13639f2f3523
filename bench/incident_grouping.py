#!/usr/bin/env python
"""What grouping mentions into incidents costs per mention, as the window fills up.

    .venv/bin/python bench/incident_grouping.py [--mentions 3000] [--database-url URL]

Seeds public messages and their mentions straight into a fresh, migrated database (SQLite in a
temporary folder unless --database-url names an empty PostgreSQL database): a fifth of them share a
link, a hashtag or a parent post with an earlier one, a fifth copy an earlier complaint with a word
changed, the rest are unrelated. Each mention is grouped with `incidents.group_mention` in its own
transaction, as the `mention.recorded` subscriber does in the ingest one, and the script prints the
time per mention (p50 / p95 / max) for each thousand, the incidents formed and how each mention
joined.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from cuida.conversations.models import Message
from cuida.db.migrate import upgrade
from cuida.listening import incidents
from cuida.listening.incident_models import Incident, IncidentMention
from cuida.listening.models import Mention
from cuida.runtime import Runtime
from cuida.settings import load_settings

SYLLABLES = ("ba", "ca", "de", "fi", "go", "lu", "ma", "ne", "pi", "ro", "sa", "te", "vi", "zo", "qui", "tra")


def vocabulary(rng: random.Random, size: int = 2000) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def text_of(rng: random.Random, words: list[str], weights: list[float]) -> str:
    """Eight to twenty words drawn with Zipf-like frequencies, as in real posts."""
    return " ".join(rng.choices(words, weights=weights, k=rng.randint(8, 20)))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mentions", type=int, default=3000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    words = vocabulary(rng)
    # Zipf-like, without the head of the curve: the most frequent words are stop words, which
    # grouping removes before comparing texts.
    weights = [1 / (rank + 50) for rank in range(len(words))]
    folder = Path(tempfile.mkdtemp(prefix="cuida-incidents-"))
    settings = load_settings(data_dir=folder, database_url=args.database_url)
    runtime = Runtime(settings, immediate=True).install()
    upgrade(runtime.db)
    start = datetime(2027, 3, 1, tzinfo=UTC)
    texts: list[str] = []
    timings: list[float] = []
    for i in range(args.mentions):
        posted = start + timedelta(minutes=2 * i)  # 3,000 mentions span about four days: one window
        kind = rng.random()
        meta: dict[str, object] = {}
        in_reply_to = None
        if kind < 0.2 and i:
            shared = rng.choice(("link", "tag", "reply"))
            other = rng.randrange(i)
            if shared == "link":
                meta["url"] = f"https://blog{other % 50}.example/post"
            elif shared == "tag":
                meta["tag"] = f"#tema{other % 40}"
            else:
                in_reply_to = f"b-{other}"
            text = text_of(rng, words, weights) + (f" {meta.get('tag', '')}" if "tag" in meta else "")
        elif kind < 0.4 and texts:
            copied = rng.choice(texts).split()
            copied[rng.randrange(len(copied))] = rng.choice(words)
            text = " ".join(copied)
        else:
            text = text_of(rng, words, weights)
        texts.append(text)
        with runtime.db.session() as session:
            message = Message(
                channel="twitter",
                external_id=f"b-{i}",
                direction="in",
                text=text,
                public=True,
                in_reply_to=in_reply_to,
                occurred_at=posted,
                received_at=posted,
                stage="done",
                meta={k: v for k, v in meta.items() if k == "url"},
            )
            session.add(message)
            session.flush()
            mention = Mention(
                message_id=message.id,
                channel="twitter",
                url=str(meta["url"]) if "url" in meta else None,
                text=text,
                triage={},
                posted_at=posted,
                counts={},
                snapshot_count=0,
                risk_score=0.0,
                risk_reasons=[],
                created_at=posted,
                updated_at=posted,
            )
            session.add(mention)
            session.flush()
            began = time.perf_counter()
            incidents.group_mention(session=session, mention=mention)
            timings.append(time.perf_counter() - began)
    print(f"database: {runtime.db.engine.dialect.name}, mentions: {args.mentions}")
    for block in range(0, len(timings), 1000):
        chunk = sorted(timings[block : block + 1000])
        p95 = chunk[int(0.95 * (len(chunk) - 1))]
        print(
            f"mentions {block + 1:>5}-{block + len(chunk):>5}: group_mention p50 "
            f"{1000 * statistics.median(chunk):.2f} ms, p95 {1000 * p95:.2f} ms, max {1000 * chunk[-1]:.2f} ms"
        )
    with runtime.db.sessions() as session:
        count = session.scalar(select(func.count()).select_from(Incident))
        joined = Counter(
            (j or "alone").split(" ")[0] for j in session.scalars(select(IncidentMention.joined_by))
        )
    print(f"incidents: {count}; mentions by how they joined: {dict(sorted(joined.items()))}")
    runtime.close()


if __name__ == "__main__":
    main()
