"""Imports every domain's tables so metadata (and Alembic) sees the whole schema."""

from cuida.auth.models import Agent, AgentSession, ApiToken, Team, agent_teams
from cuida.clock.models import ClockState
from cuida.conversations.models import Conversation, Delivery, Message
from cuida.customers.models import Customer, Identity
from cuida.events.models import Event
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
    "Team",
    "TriageCorrection",
    "agent_teams",
]
