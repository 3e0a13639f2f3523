"""Checks for text that comes from outside: what a database cannot store is refused clearly."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator


def check_storable(value: str) -> str:
    if "\x00" in value:
        raise ValueError("contains a NUL character (\\u0000), which cannot be stored")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("contains an unpaired surrogate (invalid Unicode)") from None
    return value


SafeStr = Annotated[str, AfterValidator(check_storable)]
