"""The lead's board (/board): what needs a lead's eyes now, per section, refreshed live.

Sections: at-risk conversations, SLA breaches with their escalation level, overdue commitments,
customers threatening to leave or to sue, crisis alerts, and counts per team. Each section is
also a fragment (/board/fragments/{section}) that the page re-fetches with htmx when a
`cuida:event` of a matching type arrives over SSE.

Leads, managers and admins see every team; an agent sees what the inbox lets them see (their
teams, the shared queue with no team, and what is assigned to them: `web.access`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import case, false, func, or_, select, true
from sqlalchemy.orm import Session

from cuida.auth.models import Agent, Team
from cuida.clock.service import now
from cuida.commitments.models import Commitment
from cuida.commitments.service import PENDING as PENDING_COMMITMENTS
from cuida.common.errors import NotFound
from cuida.conversations.models import Conversation, Message
from cuida.customers.models import Customer
from cuida.runtime import Runtime
from cuida.sla.models import SlaClock
from cuida.web.access import visible_conversations
from cuida.web.deps import get_runtime
from cuida.web.render import PageAgent, page_agent, render

router = APIRouter(include_in_schema=False)

OPEN_STATUSES = ("open", "pending", "snoozed")
# The reputation-risk score from which a conversation counts as at risk (the SLA risk factors'
# default `reputation_risk_at`).
AT_RISK_SCORE = 0.7
THREAT_INTENTS = ("churn_threat", "legal_threat")
THREAT_THRESHOLD = 0.5
SECTION_LIMIT = 25
THREAT_WINDOW = 1000  # most recently updated open conversations searched for threats
# Which event types make each section stale (prefix before the dot); the page's htmx triggers
# use them, so a section is re-fetched only when something it shows may have changed.
SECTION_EVENTS: dict[str, tuple[str, ...]] = {
    "counts": ("conversation", "message", "sla", "commitment", "reply"),
    "at_risk": ("conversation", "message", "sla"),
    "sla": ("sla", "conversation", "reply"),
    "commitments": ("commitment",),
    "threats": ("message", "conversation"),
    "crisis": ("crisis",),
}
SECTIONS = tuple(SECTION_EVENTS)
# Read after the page paints (each its own request, so the page never waits for the sum): the
# per-team counts read every open conversation and clock; threats read their recent messages.
DEFERRED = ("counts", "threats")


def sees_whole_board(agent: PageAgent) -> bool:
    return agent.role in ("lead", "manager", "admin")


def _visible(agent: PageAgent) -> Any:
    return true() if sees_whole_board(agent) else visible_conversations(agent)


def _commitments_visible(agent: PageAgent) -> Any:
    if sees_whole_board(agent):
        return true()
    return or_(
        Commitment.owner_team_id.is_(None),
        Commitment.owner_team_id.in_(agent.team_ids) if agent.team_ids else false(),
        Commitment.owner_agent_id == agent.id,
    )


@dataclass
class Row:
    """One line on the board: a conversation (or promise) and why it is there."""

    conversation: Conversation | None
    customer_id: int | None
    customer_name: str | None
    team_name: str | None
    detail: dict[str, Any]


def _names(session: Session, model: Any, ids: set[int | None]) -> dict[int, str]:
    wanted = sorted(i for i in ids if i is not None)
    if not wanted:
        return {}
    rows = session.execute(select(model.id, model.name).where(model.id.in_(wanted)))
    return {int(i): str(name or "") for i, name in rows}


def at_risk(session: Session, agent: PageAgent, at: datetime) -> list[Row]:
    conversations = list(
        session.scalars(
            select(Conversation)
            .where(
                Conversation.status.in_(OPEN_STATUSES),
                Conversation.risk_score >= AT_RISK_SCORE,
                _visible(agent),
            )
            .order_by(Conversation.risk_score.desc(), Conversation.id.desc())
            .limit(SECTION_LIMIT)
        )
    )
    customers = _names(session, Customer, {c.customer_id for c in conversations})
    teams = _names(session, Team, {c.team_id for c in conversations})
    return [
        Row(c, c.customer_id, customers.get(c.customer_id), teams.get(c.team_id or 0), {"risk": c.risk_score})
        for c in conversations
    ]


def _breached() -> Any:
    """A running clock past its deadline (marked breached, or due and not paused)."""
    return (
        SlaClock.met_at.is_(None)
        & SlaClock.cancelled_at.is_(None)
        & (SlaClock.breached_at.is_not(None) | SlaClock.paused_at.is_(None))
    )


def sla_breaches(session: Session, agent: PageAgent, at: datetime) -> list[Row]:
    """One row per conversation with a breached clock: the longest overdue one, and every kind late."""
    pairs = list(
        session.execute(
            select(SlaClock, Conversation)
            .join(Conversation, Conversation.id == SlaClock.conversation_id)
            .where(
                _breached(),
                SlaClock.due_at <= at,
                Conversation.status.in_(OPEN_STATUSES),
                _visible(agent),
            )
            .order_by(SlaClock.due_at, SlaClock.id)
            .limit(SECTION_LIMIT * 3)  # a conversation has up to three clocks
        )
    )
    customers = _names(session, Customer, {c.customer_id for _, c in pairs})
    teams = _names(session, Team, {c.team_id for _, c in pairs})
    rows: dict[int, Row] = {}
    for clock, conversation in pairs:
        if conversation.id in rows:
            row = rows[conversation.id]
            row.detail["kinds"].append(clock.kind)
            row.detail["level"] = max(row.detail["level"], clock.level)
            continue
        if len(rows) == SECTION_LIMIT:
            continue
        marks = list(clock.marks or [])
        rows[conversation.id] = Row(
            conversation,
            conversation.customer_id,
            customers.get(conversation.customer_id),
            teams.get(conversation.team_id or 0),
            {
                "kinds": [clock.kind],
                "due_at": clock.due_at,
                "late_minutes": (at - clock.due_at).total_seconds() / 60,
                "level": clock.level,
                "escalated_to": [str(who) for who in (marks[-1].get("to") or [])] if marks else [],
                "reasons": list(clock.reasons or []),
            },
        )
    return list(rows.values())


def overdue_commitments(session: Session, agent: PageAgent, at: datetime) -> list[Row]:
    promises = list(
        session.scalars(
            select(Commitment)
            .where(
                Commitment.status.in_(PENDING_COMMITMENTS),
                Commitment.due_at <= at,
                _commitments_visible(agent),
            )
            .order_by(Commitment.due_at, Commitment.id)
            .limit(SECTION_LIMIT)
        )
    )
    customers = _names(session, Customer, {p.customer_id for p in promises})
    teams = _names(session, Team, {p.owner_team_id for p in promises})
    owners = _names(session, Agent, {p.owner_agent_id for p in promises})
    return [
        Row(
            None,
            p.customer_id,
            customers.get(p.customer_id),
            teams.get(p.owner_team_id or 0),
            {
                "commitment": p,
                "owner": owners.get(p.owner_agent_id or 0),
                "late_minutes": (at - p.due_at).total_seconds() / 60,
            },
        )
        for p in promises
    ]


def _intent(name: str) -> Any:
    return Message.triage["intents"][name].as_float()


def threats(session: Session, agent: PageAgent, at: datetime) -> list[Row]:
    """Open conversations where the customer threatened to leave or to sue (one row each).

    Only the THREAT_WINDOW most recently updated open conversations are read (the
    status-and-updated index finds them), so the cost does not grow with the message table: a
    threat in a conversation nobody has touched for that long is the SLA section's business."""
    churn, legal = _intent("churn_threat"), _intent("legal_threat")
    recent = (
        select(Conversation.id)
        .where(Conversation.status.in_(OPEN_STATUSES), _visible(agent))
        .order_by(Conversation.updated_at.desc())
        .limit(THREAT_WINDOW)
        .scalar_subquery()
    )
    found = session.execute(
        select(
            Message.conversation_id,
            func.max(churn).label("churn"),
            func.max(legal).label("legal"),
            func.max(Message.occurred_at).label("last_at"),
        )
        .where(
            Message.conversation_id.in_(recent),
            Message.direction == "in",
            or_(churn >= THREAT_THRESHOLD, legal >= THREAT_THRESHOLD),
        )
        .group_by(Message.conversation_id)
        .order_by(func.max(Message.occurred_at).desc())
        .limit(SECTION_LIMIT)
    ).all()
    ids = [int(r.conversation_id) for r in found]
    conversations = {c.id: c for c in session.scalars(select(Conversation).where(Conversation.id.in_(ids)))}
    customers = _names(session, Customer, {c.customer_id for c in conversations.values()})
    teams = _names(session, Team, {c.team_id for c in conversations.values()})
    rows = []
    for r in found:
        conversation = conversations[int(r.conversation_id)]
        kinds = [
            name
            for name, score in (("churn_threat", r.churn), ("legal_threat", r.legal))
            if score is not None and float(score) >= THREAT_THRESHOLD
        ]
        rows.append(
            Row(
                conversation,
                conversation.customer_id,
                customers.get(conversation.customer_id),
                teams.get(conversation.team_id or 0),
                {"kinds": kinds, "last_at": r.last_at},
            )
        )
    return rows


def crisis_alerts(session: Session, agent: PageAgent, at: datetime) -> list[Row]:
    """Open and acknowledged-but-raised listening alerts (cuida.listening): a case whose public
    mention is forecast to spread, or a spike in the brand's volume; crises first, newest first.
    An agent sees the alerts of cases they may see, and those with no case (a spike)."""
    from cuida.listening.models import ALERT_LEVELS, ListeningAlert

    visible_case = select(Conversation.id).where(_visible(agent))
    query = (
        select(ListeningAlert)
        .where(
            ListeningAlert.status == "open",
            or_(ListeningAlert.conversation_id.is_(None), ListeningAlert.conversation_id.in_(visible_case)),
        )
        .order_by(ListeningAlert.level.desc(), ListeningAlert.updated_at.desc())
        .limit(SECTION_LIMIT)
    )
    alerts = list(session.scalars(query))
    conversations = {
        c.id: c
        for c in session.scalars(
            select(Conversation).where(
                Conversation.id.in_({a.conversation_id for a in alerts if a.conversation_id})
            )
        )
    }
    customers = _names(session, Customer, {a.customer_id for a in alerts})
    teams = _names(session, Team, {c.team_id for c in conversations.values()})
    rows = []
    for alert in alerts:
        conversation = conversations.get(alert.conversation_id or 0)
        forecast = (alert.details or {}).get("forecast") or {}
        rows.append(
            Row(
                conversation,
                alert.customer_id,
                customers.get(alert.customer_id or 0),
                teams.get(conversation.team_id or 0) if conversation and conversation.team_id else None,
                {
                    "level": ALERT_LEVELS.get(alert.level, str(alert.level)),
                    "kind": alert.kind,
                    "reasons": list(alert.reasons or []),
                    "forecast": forecast,
                    "raised_at": alert.raised_at,
                },
            )
        )
    return rows


@dataclass
class TeamCounts:
    team_id: int | None
    name: str | None
    open: int = 0
    at_risk: int = 0
    sla_breached: int = 0
    overdue_commitments: int = 0


def team_counts(session: Session, agent: PageAgent, at: datetime) -> list[TeamCounts]:
    """Per team: open conversations, at risk, with a breached SLA, overdue promises.

    Counted per shown team only: an agent's board shows their teams and the shared queue, so a
    team filter is the visibility rule here (public or assigned conversations of other teams would
    be in no row) and it keeps the count on the (team, status, risk) index alone."""
    whole = sees_whole_board(agent)
    teams = session.execute(
        select(Team.id, Team.name)
        .where(true() if whole else (Team.id.in_(agent.team_ids) if agent.team_ids else false()))
        .order_by(Team.name, Team.id)
    ).all()
    counts: dict[int | None, TeamCounts] = {int(i): TeamCounts(int(i), str(n)) for i, n in teams}
    counts[None] = TeamCounts(None, None)
    shown = (
        true()
        if whole
        else or_(Conversation.team_id.is_(None), Conversation.team_id.in_(agent.team_ids or [-1]))
    )
    for team_id, total, risky in session.execute(
        select(
            Conversation.team_id,
            func.count(),
            func.sum(case((Conversation.risk_score >= AT_RISK_SCORE, 1), else_=0)),
        )
        .where(Conversation.status.in_(OPEN_STATUSES), shown)
        .group_by(Conversation.team_id)
    ):
        if team_id in counts:
            counts[team_id].open, counts[team_id].at_risk = int(total), int(risky or 0)
    # The running clocks past due come from their partial index; the conversations by key.
    late = select(SlaClock.conversation_id).where(_breached(), SlaClock.due_at <= at)
    for team_id, total in session.execute(
        select(Conversation.team_id, func.count())
        .where(Conversation.id.in_(late), Conversation.status.in_(OPEN_STATUSES), shown)
        .group_by(Conversation.team_id)
    ):
        if team_id in counts:
            counts[team_id].sla_breached = int(total)
    for team_id, total in session.execute(
        select(Commitment.owner_team_id, func.count())
        .where(
            Commitment.status.in_(PENDING_COMMITMENTS), Commitment.due_at <= at, _commitments_visible(agent)
        )
        .group_by(Commitment.owner_team_id)
    ):
        if team_id in counts:
            counts[team_id].overdue_commitments = int(total)
    no_team = counts.pop(None)
    result = list(counts.values())
    if no_team.open or no_team.sla_breached or no_team.overdue_commitments:
        result.append(no_team)  # the shared queue, shown only when something is in it
    return result


LOADERS = {
    "counts": team_counts,
    "at_risk": at_risk,
    "sla": sla_breaches,
    "commitments": overdue_commitments,
    "threats": threats,
    "crisis": crisis_alerts,
}


def board_sections(session: Session, agent: PageAgent, names: tuple[str, ...] = SECTIONS) -> dict[str, Any]:
    at = now(session=session)
    return {"now": at, **{name: LOADERS[name](session, agent, at) for name in names}}


@router.get("/board", response_class=HTMLResponse)
def board_page(
    request: Request, agent: PageAgent = Depends(page_agent), runtime: Runtime = Depends(get_runtime)
) -> Response:
    with runtime.db.sessions() as session:
        data = board_sections(session, agent, tuple(s for s in SECTIONS if s not in DEFERRED))
        return render(
            request,
            "board.html",
            agent=agent,
            nav="board",
            whole_board=sees_whole_board(agent),
            section_events=SECTION_EVENTS,
            sections=SECTIONS,
            deferred=DEFERRED,
            **data,
        )


@router.get("/board/fragments/{section}", response_class=HTMLResponse)
def board_fragment(
    section: str,
    request: Request,
    agent: PageAgent = Depends(page_agent),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    if section not in LOADERS:
        raise NotFound(f"the board has no section {section!r}; it has {', '.join(SECTIONS)}")
    with runtime.db.sessions() as session:
        data = board_sections(session, agent, (section,))
        return render(
            request,
            "board_section.html",
            agent=agent,
            section=section,
            whole_board=sees_whole_board(agent),
            section_events=SECTION_EVENTS,
            **data,
        )
