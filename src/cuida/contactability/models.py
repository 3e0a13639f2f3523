"""Tables of the contactability domain."""

from __future__ import annotations
