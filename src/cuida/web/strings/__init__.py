"""UI strings, one module per screen so several people can add strings without editing one file.

Every module here defines `ES` and `EN` (dict[str, str]) with keys prefixed by the screen
(`inbox.`, `conversation.`, `board.`, `common.`...). `all_strings()` merges them; a test checks that
each module has the same keys in both languages."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from types import ModuleType

LANGUAGES = ("es", "en")


def modules() -> list[ModuleType]:
    return [importlib.import_module(f"{__name__}.{info.name}") for info in pkgutil.iter_modules(__path__)]


@cache
def all_strings() -> dict[str, dict[str, str]]:
    merged: dict[str, dict[str, str]] = {"es": {}, "en": {}}
    for module in modules():
        merged["es"].update(getattr(module, "ES", {}))
        merged["en"].update(getattr(module, "EN", {}))
    return merged
