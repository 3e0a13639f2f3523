"""Language identification with py3langid's bundled model (no download)."""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from typing import Any

# Languages the model chooses among: the ones we answer in, plus close neighbours that would
# otherwise be mistaken for them. Anything else, or too little text, is "other".
CANDIDATES = ["es", "en", "pt", "ca", "fr", "it", "gl", "de"]
REPORTED = {"es", "en", "pt", "ca"}
MIN_CONFIDENCE = 0.35
_NOISE = re.compile(r"https?://\S+|www\.\S+|[@#]\w+|\S+@\S+")
_LETTER = re.compile(r"[^\W\d_]")
_lock = threading.Lock()


@lru_cache(maxsize=1)
def _identifier() -> Any:
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_modelpath(MODEL_DIR / MODEL_FILE, norm_probs=True)
    identifier.set_languages(CANDIDATES)
    return identifier


def detect(text: str) -> tuple[str, float]:
    """(language, confidence). Mentions, hashtags, URLs and emails say nothing of the language."""
    cleaned = _NOISE.sub(" ", text)[:5000]
    if len(_LETTER.findall(cleaned, 0, 400)) < 3:
        return "other", 0.0
    with _lock:  # the identifier keeps per-call buffers; one call at a time
        label, prob = _identifier().classify(cleaned)
    if label not in REPORTED or prob < MIN_CONFIDENCE:
        return "other", float(prob)
    return str(label), float(prob)
