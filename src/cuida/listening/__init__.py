"""Listening: brand mentions, reach forecasts, spikes and crisis alerts.

`forecast(snapshots, followers=None, now=None) -> Forecast` is callable on its own."""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name in ("forecast", "Forecast"):
        from cuida.listening import reach as module

        return getattr(module, name)
    raise AttributeError(f"module 'cuida.listening' has no attribute {name!r}")
