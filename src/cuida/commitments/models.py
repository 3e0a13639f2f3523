"""Tables of the commitments domain."""

from __future__ import annotations
