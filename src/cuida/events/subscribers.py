"""Importing this registers every domain's event subscribers (`@subscribe(...)` in their services)."""

import cuida.commitments.service  # noqa: F401
import cuida.contactability.service  # noqa: F401
import cuida.goodwill.service  # noqa: F401
import cuida.sla.service  # noqa: F401
