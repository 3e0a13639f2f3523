"""Agents' notification preferences. Defaults: every kind in the workspace, none by email.

`wants()` is what a sender asks before delivering; `cuida.notifications.service.notify` does not
consult it yet (the workspace shows everything and no email sender exists), so the choices are
stored now and honoured when the email sender arrives.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from cuida.clock.service import now
from cuida.common.errors import Invalid
from cuida.events.service import Actor, publish
from cuida.preferences.models import AgentPreferences

# The kinds of notification the domains send today (see their notify() calls).
NOTIFICATION_KINDS = (
    "sla.warning",
    "sla.breached",
    "sla.escalated",
    "commitment.due",
    "commitment.overdue_escalated",
    "goodwill.approval",
    "contactability.violation",
)
DELIVERY_CHANNELS = ("workspace", "email")
DEFAULTS = {"workspace": True, "email": False}


def notification_preferences(*, session: Session, agent_id: int) -> dict[str, dict[str, bool]]:
    """Every known kind with where it goes for this agent, defaults filled in."""
    row = session.get(AgentPreferences, agent_id)
    stored = row.notifications if row is not None else {}
    return {
        kind: {via: bool((stored.get(kind) or {}).get(via, DEFAULTS[via])) for via in DELIVERY_CHANNELS}
        for kind in NOTIFICATION_KINDS
    }


def set_notification_preferences(
    *, session: Session, agent_id: int, choices: dict[str, dict[str, bool]], actor: Actor
) -> dict[str, dict[str, bool]]:
    """Replace the agent's choices; kinds or channels not given fall back to the defaults."""
    unknown = sorted(set(choices) - set(NOTIFICATION_KINDS))
    if unknown:
        raise Invalid(
            f"unknown notification kind(s) {', '.join(unknown)}; known: {', '.join(NOTIFICATION_KINDS)}",
            field="notifications",
        )
    for kind, by_channel in choices.items():
        bad = sorted(set(by_channel) - set(DELIVERY_CHANNELS))
        if bad:
            raise Invalid(
                f"{kind}: unknown channel(s) {', '.join(bad)}; known: {', '.join(DELIVERY_CHANNELS)}",
                field="notifications",
            )
    clean = {
        kind: {via: bool(by_channel.get(via, DEFAULTS[via])) for via in DELIVERY_CHANNELS}
        for kind, by_channel in choices.items()
    }
    at = now(session=session)
    row = session.get(AgentPreferences, agent_id)
    if row is None:
        row = AgentPreferences(agent_id=agent_id, notifications=clean, updated_at=at)
        session.add(row)
    else:
        row.notifications = clean
        row.updated_at = at
    session.flush()
    publish(
        session=session,
        type="preferences.updated",
        actor=actor,
        payload={"agent_id": agent_id, "notifications": clean},
    )
    return notification_preferences(session=session, agent_id=agent_id)


def wants(*, session: Session, agent_id: int, kind: str, via: str) -> bool:
    """Does this agent want notifications of `kind` delivered `via` workspace or email?"""
    row = session.get(AgentPreferences, agent_id)
    stored = (row.notifications if row is not None else {}).get(kind) or {}
    return bool(stored.get(via, DEFAULTS.get(via, False)))
