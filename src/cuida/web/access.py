"""The pages' side of who may see which conversation: the rule itself lives in
cuida.conversations.access (the JSON API applies the same one); this adapts it to the page agent."""

from __future__ import annotations

from typing import Any

from cuida.conversations import access as rules
from cuida.conversations.models import Conversation
from cuida.web.deps import Principal
from cuida.web.render import PageAgent


def principal_of(agent: PageAgent) -> Principal:
    if agent.principal is not None:
        return agent.principal
    from cuida.auth.permissions import ROLE_SCOPES

    return Principal(
        "agent", agent.id, agent.name, agent.role, ROLE_SCOPES[agent.role], team_ids=agent.team_ids
    )


def visible_conversations(agent: PageAgent) -> Any:
    """A WHERE clause on Conversation for what `agent` may see."""
    return rules.visible_clause(role=agent.role, agent_id=agent.id, team_ids=agent.team_ids)


def can_see(agent: PageAgent, conversation: Conversation) -> bool:
    return rules.can_see(
        role=agent.role, agent_id=agent.id, team_ids=agent.team_ids, conversation=conversation
    )


def check_visible(agent: PageAgent, conversation: Conversation | None) -> Conversation:
    """The conversation, or NotFound (404: a private one's existence is not confirmed)."""
    return rules.check_visible(
        role=agent.role, agent_id=agent.id, team_ids=agent.team_ids, conversation=conversation
    )
