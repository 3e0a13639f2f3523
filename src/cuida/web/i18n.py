"""UI strings in Spanish (default) and English, merged from the per-screen modules in web/strings."""

from __future__ import annotations

from collections.abc import Callable

from cuida.web.strings import LANGUAGES, all_strings


def translator(language: str | None) -> Callable[..., str]:
    strings = all_strings()
    table = strings.get(language or "es", strings["es"])
    fallback = strings["es"]

    def t(key: str, **values: object) -> str:
        text = table.get(key, fallback.get(key, key))
        return text.format(**values) if values else text

    return t


def pick_language(accept_language: str | None, preferred: str | None = None) -> str:
    if preferred in LANGUAGES:
        return str(preferred)
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return "es"
