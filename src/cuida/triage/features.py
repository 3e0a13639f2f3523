"""Turning a message into the sparse feature vector every triage head reads.

Three families, each L2-normalised on its own and then put side by side: word 1–2-grams and
character 2–5-grams inside words (both sublinear TF × IDF over the training corpus), and the
named lexicon features. Written here rather than with scikit-learn's vectorisers so that
inference needs only numpy and the artifact is plain arrays and a word list (no pickles)."""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
MENTION = re.compile(r"@\w+")
DIGITS = re.compile(r"\d+")
REPEATS = re.compile(r"(\w)\1{2,}")
TOKEN = re.compile(r"<url>|<user>|[#]?\w+|[!?¡¿]+|[^\w\s]", re.UNICODE)
WORD_FAMILY = "w"
CHAR_FAMILY = "c"


# Common accented letters mapped directly; anything else non-ASCII goes through NFKD.
_ACCENTS = str.maketrans("áéíóúüàèìòùâêîôûäëïöçãõ", "aeiouuaeiouaeiouaeiocao")


def normalise(text: str) -> str:
    """Lower case, accents off, URLs and @mentions dropped, numbers as 0, letters repeated 3+ times
    squeezed to two, so "GRACIASSSS" and "graciass" meet. Mentions and links say how a message was
    sent, not what it says; as features they taught the model "tweets to a brand are complaints"."""
    if "http" in text or "www." in text:
        text = URL.sub(" ", text)
    if "@" in text:
        text = MENTION.sub(" ", text)
    text = text.lower().translate(_ACCENTS)
    if not text.isascii() and any(unicodedata.combining(ch) for ch in unicodedata.normalize("NFKD", text)):
        text = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    text = DIGITS.sub("0", text)
    return REPEATS.sub(r"\1\1", text)


def word_terms(normalised: str) -> list[str]:
    tokens = TOKEN.findall(normalised)
    terms = list(tokens)
    terms.extend(f"{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False))
    return terms


def word_char_terms(word: str, low: int = 2, high: int = 5) -> list[str]:
    """Character n-grams of one word, padded with a space on each side (as `char_wb` does)."""
    padded = f" {word} "
    size = len(padded)
    terms: list[str] = []
    for n in range(low, min(high, size) + 1):
        terms.extend([padded[i : i + n] for i in range(size - n + 1)])
    return terms


def char_terms(normalised: str) -> list[str]:
    terms: list[str] = []
    for word in normalised.split():
        terms.extend(word_char_terms(word))
    return terms


@dataclass
class Vocabulary:
    """Terms of one family with their inverse document frequencies."""

    terms: list[str]
    idf: np.ndarray
    index: dict[str, int]

    @classmethod
    def build(cls, documents: Iterable[list[str]], *, min_df: int, max_terms: int) -> Vocabulary:
        df: Counter[str] = Counter()
        count = 0
        for terms in documents:
            df.update(set(terms))
            count += 1
        kept = [t for t, n in df.items() if n >= min_df]
        kept.sort(key=lambda t: (-df[t], t))
        kept = sorted(kept[:max_terms])
        idf = np.array([math.log((1 + count) / (1 + df[t])) + 1.0 for t in kept], dtype=np.float32)
        return cls(kept, idf, {t: i for i, t in enumerate(kept)})

    @classmethod
    def restore(cls, terms: list[str], idf: np.ndarray) -> Vocabulary:
        return cls(terms, idf, {t: i for i, t in enumerate(terms)})

    def weigh(self, terms: Sequence[str], offset: int) -> tuple[np.ndarray, np.ndarray]:
        get = self.index.get
        return self.weigh_ids(
            np.asarray([i for i in map(get, terms) if i is not None], dtype=np.int64), offset
        )

    def weigh_ids(self, found: np.ndarray, offset: int) -> tuple[np.ndarray, np.ndarray]:
        """Sublinear TF x IDF, L2-normalised, from the vocabulary ids of a text's terms."""
        if not len(found):
            return _EMPTY_I, _EMPTY_V
        indices, counts = np.unique(found, return_counts=True)
        values = (1.0 + np.log(counts)).astype(np.float32) * self.idf[indices]
        values /= np.sqrt(np.dot(values, values))
        return indices + offset, values

    def ids(self, terms: Sequence[str]) -> np.ndarray:
        get = self.index.get
        return np.asarray([i for i in map(get, terms) if i is not None], dtype=np.int64)


_EMPTY_I = np.zeros(0, dtype=np.int64)
_EMPTY_V = np.zeros(0, dtype=np.float32)


DenseFeatures = Callable[[str, str], dict[str, float]]


class Featurizer:
    """Maps (text, language) to (indices, values) over a fixed feature space."""

    def __init__(
        self,
        words: Vocabulary,
        chars: Vocabulary,
        dense_names: list[str],
        dense: DenseFeatures | None,
        dense_scale: float = 0.35,
    ) -> None:
        self.words = words
        self.chars = chars
        self.dense_names = dense_names
        self.dense = dense
        self.dense_scale = dense_scale
        self.char_offset = len(words.terms)
        self.dense_offset = self.char_offset + len(chars.terms)
        self.size = self.dense_offset + len(dense_names)
        # Word -> ids of its character n-grams. Words repeat (Zipf), so most messages cost one
        # lookup per word instead of hashing a few hundred fresh n-gram strings.
        self._char_ids: dict[str, np.ndarray] = {}

    def char_ids(self, normalised: str) -> np.ndarray:
        cache = self._char_ids
        parts = []
        for word in normalised.split():
            ids = cache.get(word)
            if ids is None:
                ids = self.chars.ids(word_char_terms(word))
                if len(cache) >= 200_000:
                    cache.clear()
                cache[word] = ids
            parts.append(ids)
        return np.concatenate(parts) if parts else _EMPTY_I

    @classmethod
    def fit(
        cls,
        texts: Sequence[str],
        *,
        dense: DenseFeatures | None,
        dense_names: list[str],
        max_words: int = 100000,
        max_chars: int = 200000,
    ) -> Featurizer:
        normalised = [normalise(t) for t in texts]
        words = Vocabulary.build((word_terms(t) for t in normalised), min_df=1, max_terms=max_words)
        chars = Vocabulary.build((char_terms(t) for t in normalised), min_df=2, max_terms=max_chars)
        return cls(words, chars, dense_names, dense)

    def transform_one(self, text: str, language: str) -> tuple[np.ndarray, np.ndarray]:
        normalised = normalise(text)
        wi, wv = self.words.weigh(word_terms(normalised), 0)
        ci, cv = self.chars.weigh_ids(self.char_ids(normalised), self.char_offset)
        parts_i, parts_v = [wi, ci], [wv, cv]
        if self.dense is not None and self.dense_names:
            named = self.dense(text, language)
            dense = [
                (self.dense_offset + j, named[n]) for j, n in enumerate(self.dense_names) if named.get(n)
            ]
            if dense:
                parts_i.append(np.asarray([j for j, _ in dense], dtype=np.int64))
                parts_v.append(np.asarray([v for _, v in dense], dtype=np.float32) * self.dense_scale)
        return np.concatenate(parts_i), np.concatenate(parts_v)

    def transform(self, texts: Sequence[str], languages: Sequence[str]) -> object:
        """A scipy CSR matrix for training (scipy is only needed there)."""
        from scipy.sparse import csr_matrix

        indptr = [0]
        all_indices: list[np.ndarray] = []
        all_values: list[np.ndarray] = []
        for text, language in zip(texts, languages, strict=True):
            indices, values = self.transform_one(text, language)
            all_indices.append(indices)
            all_values.append(values)
            indptr.append(indptr[-1] + len(indices))
        return csr_matrix(
            (
                np.concatenate(all_values) if all_values else np.zeros(0, np.float32),
                np.concatenate(all_indices) if all_indices else np.zeros(0, np.int64),
                np.asarray(indptr),
            ),
            shape=(len(indptr) - 1, self.size),
        )
