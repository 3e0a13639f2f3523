"""Imports every domain's tables so metadata (and Alembic) sees the whole schema."""

# Domains added by care operations register their tables here too.
import cuida.automation.models  # noqa: E402,F401
import cuida.channels.models  # noqa: E402,F401
import cuida.commitments.models  # noqa: E402,F401
import cuida.contactability.models  # noqa: E402,F401
import cuida.goodwill.models  # noqa: E402,F401
import cuida.inbox.models  # noqa: E402,F401
import cuida.listening.delivery_models  # noqa: E402,F401
import cuida.listening.feed_models  # noqa: E402,F401
import cuida.listening.incident_models  # noqa: E402,F401
import cuida.listening.models  # noqa: E402,F401
import cuida.preferences.models  # noqa: E402,F401
import cuida.quarantine.models  # noqa: E402,F401
import cuida.ratings.models  # noqa: E402,F401
import cuida.routing.models  # noqa: E402,F401
import cuida.sla.models  # noqa: E402,F401
import cuida.webchat.models  # noqa: E402,F401
from cuida.auth.models import Agent, AgentSession, ApiToken, Team, agent_teams
from cuida.clock.models import ClockState
from cuida.conversations.models import Conversation, Delivery, Message
from cuida.customers.models import Customer, Identity
from cuida.events.models import Event
from cuida.notifications.models import Notification
from cuida.timers.models import Timer
from cuida.triage.models import TriageCorrection

__all__ = [
    "Agent",
    "AgentSession",
    "ApiToken",
    "ClockState",
    "Conversation",
    "Customer",
    "Delivery",
    "Event",
    "Identity",
    "Message",
    "Notification",
    "Team",
    "Timer",
    "TriageCorrection",
    "agent_teams",
]
