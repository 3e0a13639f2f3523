"""The inbox list: which conversations an agent sees in a view, in what order, one keyset page at a
time, with what each row shows (SLA clock, sentiment, intent badges) fetched for the whole page at
once; and the agent's saved filters.

Four queries per page, whatever its size: the page's ids (read in index order), those rows with
customer and assignee names, their running SLA clocks, and every row's latest inbound message."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from cuida.auth.models import Agent
from cuida.clock.service import now
from cuida.common.errors import Invalid, NotFound
from cuida.common.pagination import decode_cursor, encode_cursor
from cuida.conversations.models import Conversation, Message
from cuida.customers.models import Customer
from cuida.inbox.models import SavedFilter
from cuida.search.service import search_conversation_ids
from cuida.sla.models import SlaClock
from cuida.sla.service import clock_read

VIEWS = ("mine", "team", "unassigned", "all", "at_risk", "overdue")
SORTS = ("priority", "age", "activity")
STATUSES = ("open", "pending", "snoozed", "resolved")
# The reputation-risk score from which a conversation is "at risk" (the SLA risk factors' default
# `reputation_risk_at`; the lead's board uses the same).
AT_RISK_SCORE = 0.7
INTENT_THRESHOLD = 0.5
TOXIC_THRESHOLD = 0.5
# An SLA clock with less than this share of its target left shows amber.
WARNING_SHARE = 0.25
SEARCH_LIMIT = 500
PAGE_SIZE = 50
BADGE_INTENTS = {"churn_threat": "churn", "legal_threat": "legal", "public_escalation_threat": "public"}


@dataclass
class InboxQuery:
    view: str = "all"
    sort: str = "priority"
    q: str = ""
    channel: str = ""
    status: str = ""  # "" means open and pending
    cursor: str = ""

    def params(self) -> dict[str, str]:
        """The query as URL parameters (empty ones left out), cursor excluded."""
        values = {
            "view": self.view,
            "sort": self.sort,
            "q": self.q,
            "channel": self.channel,
            "status": self.status,
        }
        return {k: v for k, v in values.items() if v}

    def check(self) -> None:
        if self.view not in VIEWS:
            raise Invalid(f"view must be one of {', '.join(VIEWS)}", field="view")
        if self.sort not in SORTS:
            raise Invalid(f"sort must be one of {', '.join(SORTS)}", field="sort")
        if self.status and self.status not in STATUSES:
            raise Invalid(f"status must be one of {', '.join(STATUSES)}", field="status")


@dataclass
class Sla:
    state: str  # ok | warning | overdue | paused | none
    minutes: float | None = None  # business minutes left (negative: overdue by)
    kind: str | None = None


@dataclass
class InboxRow:
    conversation: Conversation
    customer_name: str | None
    assignee_name: str | None
    first_line: str = ""
    sentiment: str | None = None
    badges: list[str] = field(default_factory=list)
    sla: Sla = field(default_factory=lambda: Sla("none"))


@dataclass
class InboxPage:
    rows: list[InboxRow]
    next_cursor: str | None
    now: datetime


def _order(sort: str) -> list[Any]:
    # Priority: most urgent first, then the riskiest for the company's reputation, then the one
    # whose customer has waited longest (the SLA clock runs from the last inbound message).
    if sort == "priority":
        return [
            Conversation.priority.desc(),
            Conversation.risk_score.desc(),
            Conversation.last_message_at.asc(),
        ]
    if sort == "age":
        return [Conversation.created_at.asc()]
    return [Conversation.last_message_at.desc()]


def _is_desc(clause: Any) -> bool:
    return "DESC" in str(clause).upper()


def _after(order: list[Any], values: list[Any]) -> Any:
    """Rows strictly after `values` in (order..., id ASC), as nested OR/AND (keyset pagination)."""
    condition: Any = Conversation.id > int(values[-1])
    for clause, value in reversed(list(zip(order, values, strict=False))):
        column = clause.element
        if column.key.endswith("_at"):
            try:
                value = datetime.fromisoformat(str(value))
            except ValueError:
                raise Invalid("cursor is not one this server gave out", field="cursor") from None
        beyond = column < value if _is_desc(clause) else column > value
        condition = or_(beyond, and_(column == value, condition))
    return condition


def _running_clock(at: datetime) -> Any:
    return and_(SlaClock.met_at.is_(None), SlaClock.cancelled_at.is_(None))


def overdue_clause(at: datetime) -> Any:
    return exists().where(
        SlaClock.conversation_id == Conversation.id,
        _running_clock(at),
        SlaClock.paused_at.is_(None),
        or_(SlaClock.breached_at.is_not(None), SlaClock.due_at < at),
    )


def build_query(
    *,
    query: InboxQuery,
    agent_id: int,
    team_ids: list[int],
    visible: Any,
    at: datetime,
    matched: list[int] | None,
) -> Any:
    stmt = select(Conversation.id).where(visible)
    statuses = [query.status] if query.status else ["open", "pending"]
    stmt = stmt.where(Conversation.status.in_(statuses))
    if query.view == "mine":
        stmt = stmt.where(Conversation.assignee_id == agent_id)
    elif query.view == "team":
        stmt = stmt.where(Conversation.team_id.in_(team_ids or [-1]))
    elif query.view == "unassigned":
        stmt = stmt.where(Conversation.assignee_id.is_(None))
    elif query.view == "at_risk":
        stmt = stmt.where(Conversation.risk_score >= AT_RISK_SCORE)
    elif query.view == "overdue":
        stmt = stmt.where(overdue_clause(at))
    if query.channel:
        stmt = stmt.where(Conversation.channel == query.channel)
    if matched is not None:
        stmt = stmt.where(Conversation.id.in_(matched or [-1]))
    order = _order(query.sort)
    if query.cursor:
        values = decode_cursor(query.cursor)
        if len(values) != len(order) + 1:
            raise Invalid("cursor does not belong to this sort", field="cursor")
        stmt = stmt.where(_after(order, values))
    return stmt.order_by(*order, Conversation.id.asc())


def inbox_page(
    *,
    session: Session,
    query: InboxQuery,
    agent_id: int,
    team_ids: list[int],
    visible: Any,
    limit: int | None = None,
) -> InboxPage:
    query.check()
    limit = limit or PAGE_SIZE
    at = now(session=session)
    matched = None
    if query.q.strip():
        matched = search_conversation_ids(session=session, q=query.q, limit=SEARCH_LIMIT)
    stmt = build_query(
        query=query, agent_id=agent_id, team_ids=team_ids, visible=visible, at=at, matched=matched
    ).limit(limit + 1)
    # First the page's ids alone (read in index order, no joins), then those rows with their names.
    ids = list(session.scalars(stmt))
    assignee = aliased(Agent)
    fetched = session.execute(
        select(Conversation, Customer.name, assignee.name)
        .join(Customer, Customer.id == Conversation.customer_id)
        .outerjoin(assignee, assignee.id == Conversation.assignee_id)
        .where(Conversation.id.in_(ids or [-1]))
    ).all()
    by_id = {row[0].id: row for row in fetched}
    result = [by_id[i] for i in ids if i in by_id]
    next_cursor = None
    if len(result) > limit:
        result = result[:limit]
        last = result[-1][0]
        values: list[Any] = []
        for clause in _order(query.sort):
            value = getattr(last, clause.element.key)
            values.append(value.isoformat() if isinstance(value, datetime) else value)
        next_cursor = encode_cursor([*values, last.id])
    rows = [InboxRow(conversation=c, customer_name=name, assignee_name=who) for c, name, who in result]
    _add_badges(session, rows, at)
    return InboxPage(rows=rows, next_cursor=next_cursor, now=at)


def _add_badges(session: Session, rows: list[InboxRow], at: datetime) -> None:
    """The SLA clock and the latest inbound message's triage for every row, in two queries."""
    ids = [row.conversation.id for row in rows]
    if not ids:
        return
    clocks: dict[int, list[SlaClock]] = {}
    for clock in session.scalars(
        select(SlaClock).where(SlaClock.conversation_id.in_(ids), _running_clock(at))
    ):
        clocks.setdefault(clock.conversation_id, []).append(clock)
    latest = (
        select(func.max(Message.id))
        .where(Message.conversation_id.in_(ids), Message.direction == "in")
        .group_by(Message.conversation_id)
    )
    messages = {m.conversation_id: m for m in session.scalars(select(Message).where(Message.id.in_(latest)))}
    for row in rows:
        row.sla = _sla_of(clocks.get(row.conversation.id, []), at)
        message = messages.get(row.conversation.id)
        if message is not None:
            row.first_line = _first_line(message.text)
            row.sentiment, row.badges = _triage_badges(message.triage)
        if not row.first_line:
            row.first_line = row.conversation.subject or ""


def _sla_of(clocks: list[SlaClock], at: datetime) -> Sla:
    """The clock that runs out first; paused ones only when nothing else runs."""
    best: Sla | None = None
    for clock in clocks:
        read = clock_read(clock, at)
        left = read.remaining_business_minutes
        if read.state == "paused":
            candidate = Sla("paused", left, clock.kind)
        elif read.breached or (left is not None and left < 0):
            candidate = Sla("overdue", left if left is not None else 0.0, clock.kind)
        elif left is not None and left < max(5.0, WARNING_SHARE * (clock.target_minutes or 0)):
            candidate = Sla("warning", left, clock.kind)
        else:
            candidate = Sla("ok", left, clock.kind)
        if best is None or _sla_rank(candidate) < _sla_rank(best):
            best = candidate
    return best or Sla("none")


def _sla_rank(sla: Sla) -> tuple[int, float]:
    order = {"overdue": 0, "warning": 1, "ok": 2, "paused": 3, "none": 4}
    return order[sla.state], sla.minutes if sla.minutes is not None else float("inf")


def _first_line(text: str) -> str:
    for line in (text or "").splitlines():
        if line.strip():
            line = line.strip()
            return line if len(line) <= 160 else line[:159] + "…"
    return ""


def _triage_badges(triage: dict[str, Any] | None) -> tuple[str | None, list[str]]:
    if not isinstance(triage, dict):
        return None, []
    sentiment = triage.get("sentiment")
    label = sentiment.get("label") if isinstance(sentiment, dict) else None
    badges = []
    found = triage.get("intents")
    intents: dict[str, Any] = found if isinstance(found, dict) else {}
    for intent, badge in BADGE_INTENTS.items():
        if float(intents.get(intent, 0.0) or 0.0) >= INTENT_THRESHOLD:
            badges.append(badge)
    found = triage.get("toxicity")
    toxicity: dict[str, Any] = found if isinstance(found, dict) else {}
    if any(float(toxicity.get(k, 0.0) or 0.0) >= TOXIC_THRESHOLD for k in ("insult", "threat")):
        badges.append("toxic")
    return (str(label) if label else None), badges


# -- saved filters --------------------------------------------------------------------------------

MAX_FILTERS = 30


def saved_filters(*, session: Session, agent_id: int) -> list[SavedFilter]:
    return list(
        session.scalars(
            select(SavedFilter)
            .where(SavedFilter.agent_id == agent_id)
            .order_by(SavedFilter.name, SavedFilter.id)
        )
    )


def save_filter(*, session: Session, agent_id: int, name: str, query: InboxQuery) -> SavedFilter:
    name = " ".join(name.split())[:80]
    if not name:
        raise Invalid("give the filter a name", field="name")
    query.check()
    count = session.scalar(select(func.count()).where(SavedFilter.agent_id == agent_id)) or 0
    if count >= MAX_FILTERS:
        raise Invalid(f"at most {MAX_FILTERS} saved filters per agent; delete one first", field="name")
    row = SavedFilter(agent_id=agent_id, name=name, params=query.params(), created_at=now(session=session))
    session.add(row)
    session.flush()
    return row


def get_filter(*, session: Session, agent_id: int, filter_id: int) -> SavedFilter:
    row = session.get(SavedFilter, filter_id)
    if row is None or row.agent_id != agent_id:
        raise NotFound(f"saved filter {filter_id} does not exist")
    return row


def delete_filter(*, session: Session, agent_id: int, filter_id: int) -> None:
    session.delete(get_filter(session=session, agent_id=agent_id, filter_id=filter_id))
