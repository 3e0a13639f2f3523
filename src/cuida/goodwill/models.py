"""Tables of the goodwill domain."""

from __future__ import annotations
