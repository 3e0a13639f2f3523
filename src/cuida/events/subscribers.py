"""Importing this registers every domain's reactions: event subscribers (`@subscribe(...)`) and
timer handlers (`@on(kind)`), which live side by side in the domains' services."""

import cuida.automation.service  # noqa: F401
import cuida.commitments.service  # noqa: F401
import cuida.contactability.service  # noqa: F401
import cuida.conversations.service  # noqa: F401
import cuida.customers.service  # noqa: F401
import cuida.goodwill.service  # noqa: F401
import cuida.listening.feeds  # noqa: F401
import cuida.listening.incidents  # noqa: F401
import cuida.listening.mention_import  # noqa: F401
import cuida.listening.service  # noqa: F401
import cuida.ratings.service  # noqa: F401
import cuida.sla.service  # noqa: F401
