"""The text both databases index: lower-cased, accent-free, Spanish-stemmed words.

Stemming in Python rather than in each database's own configuration gives SQLite and
PostgreSQL exactly the same matches ("reclamación" finds "reclamaciones", "facturacion"
finds "facturación").
"""

from __future__ import annotations

import re
import threading
import unicodedata

import snowballstemmer

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_local = threading.local()


def fold(text: str) -> str:
    """Lower case without accents (ñ becomes n too: people type it both ways)."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _stemmer() -> snowballstemmer.stemmer:
    # Snowball stemmers are not thread-safe; one per thread.
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = snowballstemmer.stemmer("spanish")
    return stemmer


def terms(text: str, limit: int = 20000) -> list[str]:
    words = _WORD.findall(fold(text[: limit * 12]))[:limit]
    return [w for w in _stemmer().stemWords(words) if w]


def index_text(*parts: str | None) -> str:
    return " ".join(" ".join(terms(p)) for p in parts if p)
