"""Opaque cursors for keyset pagination: stable under inserts, cheap at any depth."""

from __future__ import annotations

import base64
import json
from typing import Any

from cuida.common.errors import Invalid


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, default=str).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except Exception:
        raise Invalid("cursor is not one this server gave out", field="cursor") from None
    if not isinstance(values, list):
        raise Invalid("cursor is not one this server gave out", field="cursor")
    return values
