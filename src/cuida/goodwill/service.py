"""The goodwill domain's state changes (the only code here that writes and publishes events)."""

from __future__ import annotations
