"""Who may see which conversation: the one rule the API and every page apply on the server.

An agent (or a team lead) sees the conversations of their own teams, those assigned to them, those
no team holds yet (the shared queue) and public ones (a tweet is public anyway). Another team's
private conversation (a DM, an email, a call) stays with that team: asking for it answers 404, so
its existence is not confirmed. Managers and admins see everything. API tokens are governed by
their scopes alone."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Protocol

from sqlalchemy import false, or_, true
from sqlalchemy.orm import Session

from cuida.common.errors import NotFound
from cuida.conversations.models import Conversation

SEES_EVERY_TEAM = ("manager", "admin")
HIDDEN = "this conversation does not exist or belongs to another team"


def sees_everything(role: str | None) -> bool:
    return role in SEES_EVERY_TEAM


def visible_clause(*, role: str | None, agent_id: int, team_ids: Collection[int]) -> Any:
    """A WHERE clause on Conversation for what this agent may see."""
    if sees_everything(role):
        return true()
    return or_(
        Conversation.is_public.is_(True),
        Conversation.team_id.is_(None),
        Conversation.team_id.in_(list(team_ids)) if team_ids else false(),
        Conversation.assignee_id == agent_id,
    )


def can_see(
    *, role: str | None, agent_id: int, team_ids: Collection[int], conversation: Conversation
) -> bool:
    if sees_everything(role):
        return True
    return bool(
        conversation.is_public
        or conversation.team_id is None
        or conversation.team_id in team_ids
        or conversation.assignee_id == agent_id
    )


def check_visible(
    *, role: str | None, agent_id: int, team_ids: Collection[int], conversation: Conversation | None
) -> Conversation:
    """The conversation, or NotFound."""
    if conversation is None or not can_see(
        role=role, agent_id=agent_id, team_ids=team_ids, conversation=conversation
    ):
        raise NotFound(HIDDEN)
    return conversation


class Caller(Protocol):
    """What the API knows of who calls (cuida.web.deps.Principal)."""

    @property
    def kind(self) -> str: ...
    @property
    def id(self) -> int: ...
    @property
    def role(self) -> str | None: ...
    @property
    def team_ids(self) -> list[int]: ...


def clause_for(caller: Caller) -> Any:
    """The WHERE clause for an API caller: agents see what the rule allows; tokens, by scope, all."""
    if caller.kind != "agent":
        return None
    return visible_clause(role=caller.role, agent_id=caller.id, team_ids=caller.team_ids)


def get_for(session: Session, caller: Caller, conversation_id: int) -> Conversation:
    """The conversation if this caller may see it; NotFound otherwise (and when it does not exist)."""
    conversation = session.get(Conversation, conversation_id)
    if caller.kind != "agent":
        if conversation is None:
            raise NotFound(f"conversation {conversation_id} does not exist")
        return conversation
    return check_visible(
        role=caller.role, agent_id=caller.id, team_ids=caller.team_ids, conversation=conversation
    )
