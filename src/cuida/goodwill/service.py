"""The goodwill domain's state changes (the only code here that writes and publishes events).

A gesture within the requester's authority (per gesture, and their month's total of that kind) is
granted at once; above it, it waits for a lead whose own authority covers it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from cuida.auth.models import Agent
from cuida.auth.permissions import ROLES
from cuida.clock.service import now
from cuida.common.errors import Conflict, Forbidden, Invalid, NotFound
from cuida.conversations.models import Conversation, Message
from cuida.customers.models import Customer
from cuida.customers.service import resolve
from cuida.events.service import Actor, publish
from cuida.goodwill.models import CURRENCY, GIVEN, KINDS, GoodwillGesture, GoodwillLimit
from cuida.goodwill.schemas import (
    Decision,
    GestureCreate,
    GestureOutcome,
    GestureRead,
    LimitIn,
    LimitRead,
    Report,
    ReportTotals,
    SentimentMix,
)
from cuida.notifications.service import leads_of, managers, notify
from cuida.ratings.service import ratings_between

# Used when the table has no row for a role and kind (the migration seeds the same values).
DEFAULT_LIMITS: dict[str, tuple[Decimal | None, Decimal | None]] = {
    "agent": (Decimal("50"), Decimal("300")),
    "lead": (Decimal("300"), Decimal("3000")),
    "manager": (Decimal("2000"), Decimal("20000")),
    "admin": (None, None),
}
DECIDER_ROLES = ("lead", "manager", "admin")
BEFORE_WINDOW = timedelta(days=90)
Outcome = Literal["positive", "neutral", "negative", "unknown"]


@dataclass(frozen=True)
class Authority:
    """Who acts and with which role's limits. role None: no authority of its own (a plain token)."""

    kind: str  # "agent" or "token"
    id: int
    name: str
    role: str | None

    @property
    def actor(self) -> Actor:
        return Actor(self.kind, self.id, self.name)


# --- limits ---------------------------------------------------------------------------------


def limit_for(*, session: Session, role: str, kind: str) -> tuple[Decimal | None, Decimal | None]:
    row = session.scalar(select(GoodwillLimit).where(GoodwillLimit.role == role, GoodwillLimit.kind == kind))
    if row is not None:
        return row.per_gesture_limit, row.per_month_limit
    return DEFAULT_LIMITS[role]


def list_limits(*, session: Session) -> list[LimitRead]:
    rows = {(r.role, r.kind): r for r in session.scalars(select(GoodwillLimit))}
    result = []
    for role in ROLES:
        for kind in KINDS:
            row = rows.get((role, kind))
            each, month = (row.per_gesture_limit, row.per_month_limit) if row else DEFAULT_LIMITS[role]
            result.append(
                LimitRead.model_validate(
                    {
                        "role": role,
                        "kind": kind,
                        "per_gesture_limit": each,
                        "per_month_limit": month,
                        "currency": CURRENCY,
                    }
                )
            )
    return result


def set_limits(*, session: Session, limits: Iterable[LimitIn], actor: Actor) -> list[LimitRead]:
    at = now(session=session)
    changed = []
    for item in limits:
        row = session.scalar(
            select(GoodwillLimit).where(GoodwillLimit.role == item.role, GoodwillLimit.kind == item.kind)
        )
        if row is None:
            row = GoodwillLimit(role=item.role, kind=item.kind, currency=CURRENCY)
            session.add(row)
        row.per_gesture_limit = item.per_gesture_limit
        row.per_month_limit = item.per_month_limit
        row.updated_at = at
        changed.append(
            {
                "role": item.role,
                "kind": item.kind,
                "per_gesture_limit": _money(item.per_gesture_limit),
                "per_month_limit": _money(item.per_month_limit),
            }
        )
    session.flush()
    publish(session=session, type="goodwill.limits_changed", actor=actor, payload={"limits": changed})
    return list_limits(session=session)


# --- gestures -------------------------------------------------------------------------------


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(Decimal(value).quantize(Decimal("0.01")))


def _month_start(at: datetime) -> datetime:
    # Calendar months in UTC: simple and the same on every worker.
    at = at.astimezone(UTC)
    return at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def authorised_this_month(*, session: Session, authority: Authority, kind: str) -> Decimal:
    """What `authority` has given of `kind` this calendar month on its own authority: gestures it
    granted at once plus those it approved for others."""
    start = _month_start(now(session=session))
    if authority.kind == "agent":
        granted_by = GoodwillGesture.requested_by_agent_id == authority.id
        approved_by = GoodwillGesture.decided_by_agent_id == authority.id
    else:
        granted_by = GoodwillGesture.requested_by_token_id == authority.id
        approved_by = GoodwillGesture.decided_by_token_id == authority.id
    total = session.scalar(
        select(func.coalesce(func.sum(GoodwillGesture.cost), 0)).where(
            GoodwillGesture.kind == kind,
            GoodwillGesture.decided_at >= start,
            or_(
                and_(GoodwillGesture.status == "granted", granted_by),
                and_(GoodwillGesture.status == "approved", approved_by),
            ),
        )
    )
    return Decimal(total or 0)


def _over_authority(
    session: Session, authority: Authority, kind: str, cost: Decimal, *, count_month: bool = True
) -> str | None:
    """Why `authority` may not give this on its own, or None when it may."""
    if authority.role is None:
        return "it has no goodwill authority of its own (an integration token without the admin scope)"
    each, month = limit_for(session=session, role=authority.role, kind=kind)
    if each is not None and cost > each:
        return f"{_money(cost)} {CURRENCY} is above the {authority.role} limit of {_money(each)} per {kind}"
    if count_month and month is not None:
        spent = authorised_this_month(session=session, authority=authority, kind=kind)
        if spent + cost > month:
            return (
                f"this month's {kind} total would be {_money(spent + cost)} {CURRENCY}, "
                f"above the {authority.role} limit of {_money(month)} a month"
            )
    return None


def _lock_authority(session: Session, authority: Authority) -> None:
    # Two gestures by the same agent at once must not both fit in the same monthly room.
    if authority.kind == "agent":
        session.get(Agent, authority.id, with_for_update=True)


def customer_value(customer: Customer) -> Decimal | None:
    """The customer's value: lifetime_value, else a numeric attributes["value"]."""
    if customer.lifetime_value is not None:
        return Decimal(customer.lifetime_value)
    raw = (customer.attributes or {}).get("value")
    if isinstance(raw, bool) or raw is None:
        return None
    try:
        return Decimal(str(raw)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return None


def _event_payload(gesture: GoodwillGesture, **extra: Any) -> dict[str, Any]:
    return {
        "goodwill_id": gesture.id,
        "kind": gesture.kind,
        "cost": _money(gesture.cost),
        "currency": gesture.currency,
        "description": gesture.description,
        "status": gesture.status,
        "requested_by": gesture.requested_by_name,
        "decided_by": gesture.decided_by_name,
        **extra,
    }


def record_gesture(
    *, session: Session, customer_id: int, data: GestureCreate, authority: Authority
) -> GoodwillGesture:
    customer = resolve(session=session, customer_id=customer_id)
    if data.conversation_id is not None:
        conversation = session.get(Conversation, data.conversation_id)
        owner = resolve(session=session, customer_id=conversation.customer_id) if conversation else None
        if owner is None or owner.id != customer.id:
            raise Invalid(
                f"conversation {data.conversation_id} is not one of customer {customer.id}'s",
                field="conversation_id",
            )
    _lock_authority(session, authority)
    at = now(session=session)
    why_not = _over_authority(session, authority, data.kind, data.cost)
    gesture = GoodwillGesture(
        customer_id=customer.id,
        conversation_id=data.conversation_id,
        kind=data.kind,
        description=data.description,
        cost=data.cost,
        currency=data.currency,
        status="pending_approval" if why_not else "granted",
        reason=data.reason,
        requested_by_agent_id=authority.id if authority.kind == "agent" else None,
        requested_by_token_id=authority.id if authority.kind == "token" else None,
        requested_by_name=authority.name,
        requested_role=authority.role,
        customer_value_before=customer_value(customer),
        created_at=at,
        decided_at=None if why_not else at,
    )
    session.add(gesture)
    session.flush()
    ids = {"customer_id": customer.id, "conversation_id": data.conversation_id}
    if why_not is None:
        publish(
            session=session,
            type="goodwill.granted",
            actor=authority.actor,
            **ids,
            payload=_event_payload(gesture),
        )
        return gesture
    approvers = _approvers(session, authority, gesture)
    publish(
        session=session,
        type="goodwill.requested",
        actor=authority.actor,
        **ids,
        payload=_event_payload(gesture, why=why_not, approvers=approvers),
    )
    notify(
        session=session,
        agent_ids=approvers,
        kind="goodwill.approval",
        text=(
            f"{authority.name} asks to give a {gesture.kind} of {_money(gesture.cost)} {gesture.currency}: "
            f"{gesture.description} ({why_not})"
        ),
        actor=authority.actor,
        **ids,
        payload={
            "goodwill_id": gesture.id,
            "approve_url": f"/api/v1/goodwill/{gesture.id}/approve",
            "reject_url": f"/api/v1/goodwill/{gesture.id}/reject",
        },
    )
    return gesture


def _approvers(session: Session, requester: Authority, gesture: GoodwillGesture) -> list[int]:
    """The requester's leads whose own per-gesture limit covers it; else the managers and admins."""

    def able(agent_ids: list[int]) -> list[int]:
        found = []
        for agent_id in agent_ids:
            agent = session.get(Agent, agent_id)
            if agent is None or (requester.kind == "agent" and agent_id == requester.id):
                continue
            if agent.role in DECIDER_ROLES:
                each, _ = limit_for(session=session, role=agent.role, kind=gesture.kind)
                if each is None or Decimal(gesture.cost) <= each:
                    found.append(agent_id)
        return found

    leads = leads_of(session=session, agent_id=requester.id if requester.kind == "agent" else None)
    return able(leads) or able(managers(session=session))


def get_gesture(*, session: Session, goodwill_id: int, for_update: bool = False) -> GoodwillGesture:
    gesture = session.get(GoodwillGesture, goodwill_id, with_for_update=for_update)
    if gesture is None:
        raise NotFound(f"goodwill gesture {goodwill_id} does not exist")
    return gesture


def _is_requester(gesture: GoodwillGesture, authority: Authority) -> bool:
    if authority.kind == "agent":
        return gesture.requested_by_agent_id == authority.id
    return gesture.requested_by_token_id == authority.id


def decide(
    *, session: Session, goodwill_id: int, approve: bool, decision: Decision, authority: Authority
) -> GoodwillGesture:
    """Approve or reject a pending gesture. The decider must be a lead or above, not the requester,
    and their own per-gesture limit must cover it (approving also counts against their month)."""
    gesture = get_gesture(session=session, goodwill_id=goodwill_id, for_update=True)
    if gesture.status != "pending_approval":
        raise Conflict(f"goodwill gesture {goodwill_id} is already {gesture.status}")
    if _is_requester(gesture, authority):
        raise Forbidden("you asked for this gesture, so someone else must approve or reject it")
    if authority.role not in DECIDER_ROLES:
        raise Forbidden("only a lead, a manager or an admin may approve or reject goodwill")
    _lock_authority(session, authority)
    why_not = _over_authority(session, authority, gesture.kind, Decimal(gesture.cost), count_month=approve)
    if why_not:
        raise Forbidden(f"beyond your authority: {why_not}; a higher role must decide")
    gesture.status = "approved" if approve else "rejected"
    gesture.decided_by_agent_id = authority.id if authority.kind == "agent" else None
    gesture.decided_by_token_id = authority.id if authority.kind == "token" else None
    gesture.decided_by_name = authority.name
    gesture.decision_note = decision.note
    gesture.decided_at = now(session=session)
    publish(
        session=session,
        type="goodwill.approved" if approve else "goodwill.rejected",
        actor=authority.actor,
        customer_id=gesture.customer_id,
        conversation_id=gesture.conversation_id,
        payload=_event_payload(gesture, note=decision.note),
    )
    return gesture


def gestures_of(*, session: Session, customer_id: int) -> list[GoodwillGesture]:
    customer = resolve(session=session, customer_id=customer_id)
    # A merged-away profile's gestures belong to the survivor too.
    merged = select(Customer.id).where(Customer.merged_into_id == customer.id)
    return list(
        session.scalars(
            select(GoodwillGesture)
            .where(or_(GoodwillGesture.customer_id == customer.id, GoodwillGesture.customer_id.in_(merged)))
            .order_by(GoodwillGesture.created_at.desc(), GoodwillGesture.id.desc())
        )
    )


# --- report ---------------------------------------------------------------------------------

DEFINITIONS = {
    "gestures": "Gestures recorded in [from, to), by created_at, whatever their status.",
    "given": "Gestures granted at once or approved; only these count as cost.",
    "before": "The customer's inbound messages in the 90 days up to the gesture's recording.",
    "after": "The customer's inbound messages after the gesture took effect (grant or approval; "
    "recording, for pending and rejected ones) up to now.",
    "sentiment": "Share of those messages triaged negative / neutral / positive (untriaged ones are skipped).",
    "wrote_again": "At least one inbound message after.",
    "bought_again": "The customer's value (lifetime_value, else attributes.value) is higher now than "
    "when the gesture was recorded; null when either is unknown.",
    "public_mentions": "The customer's public inbound messages after; reach is the sum of their "
    "author_followers.",
    "outcome": "positive: bought again, or the last rating after is 4-5, or (no rating) more positive "
    "than negative messages after; negative: the last rating after is 1-2, or (no rating) more negative "
    "than positive after; neutral: a rating of 3, or messages after with neither; unknown: no signal yet.",
    "approval_share": "Gestures that needed approval (pending, approved or rejected) / all gestures.",
    "approved_share": "Approved / (approved + rejected).",
    "cost_per_positive_outcome": "Cost of given gestures / given gestures with a positive outcome.",
    "ratings_after": "The customer's CSAT answers (1-5) given after the gesture took effect; the latest "
    "one is their own verdict and decides the outcome over message sentiment.",
}


def _mix(messages: list[Message]) -> SentimentMix:
    labels = []
    for m in messages:
        sentiment = (m.triage or {}).get("sentiment")
        if isinstance(sentiment, dict) and sentiment.get("label") in ("negative", "neutral", "positive"):
            labels.append(sentiment["label"])
    if not labels:
        return SentimentMix(messages=0, negative=None, neutral=None, positive=None)
    n = len(labels)
    return SentimentMix(
        messages=n,
        negative=round(labels.count("negative") / n, 3),
        neutral=round(labels.count("neutral") / n, 3),
        positive=round(labels.count("positive") / n, 3),
    )


def _outcome(after: SentimentMix, bought_again: bool | None, last_rating: int | None = None) -> Outcome:
    if bought_again:
        return "positive"
    if last_rating is not None:
        return "positive" if last_rating >= 4 else "negative" if last_rating <= 2 else "neutral"
    if after.messages == 0:
        return "unknown"
    pos, neg = after.positive or 0.0, after.negative or 0.0
    return "positive" if pos > neg else "negative" if neg > pos else "neutral"


def _gesture_outcome(session: Session, gesture: GoodwillGesture, at: datetime) -> GestureOutcome:
    customer = resolve(session=session, customer_id=gesture.customer_id)
    effective = gesture.decided_at if gesture.status in GIVEN and gesture.decided_at else gesture.created_at
    inbound = list(
        session.scalars(
            select(Message)
            .where(
                Message.customer_id == customer.id,
                Message.direction == "in",
                Message.occurred_at > gesture.created_at - BEFORE_WINDOW,
                Message.occurred_at <= at,
            )
            .order_by(Message.occurred_at, Message.id)
        )
    )
    # A message at the very instant of recording was what the gesture answered: it is "before".
    before = [m for m in inbound if m.occurred_at <= gesture.created_at]
    after = [m for m in inbound if m.occurred_at > effective]
    public = [m for m in after if m.public]
    value_now = customer_value(customer)
    value_before = gesture.customer_value_before
    bought_again = None if value_now is None or value_before is None else value_now > value_before
    after_mix = _mix(after)
    ratings = ratings_between(session=session, customer_ids=[customer.id], after=effective, until=at)
    last_rating = ratings[-1].score if ratings else None
    return GestureOutcome(
        gesture=GestureRead.model_validate(gesture),
        sentiment_before=_mix(before),
        sentiment_after=after_mix,
        later_messages=len(after),
        wrote_again=bool(after),
        customer_value_before=value_before,
        customer_value_now=value_now,
        bought_again=bought_again,
        public_mentions=len(public),
        public_reach=sum(m.author_followers or 0 for m in public),
        ratings_after=len(ratings),
        last_rating_after=last_rating,
        outcome=_outcome(after_mix, bought_again, last_rating),
    )


def report(*, session: Session, start: datetime | None, end: datetime | None) -> Report:
    at = now(session=session)
    end = end or at
    start = start or end - timedelta(days=30)
    if start.tzinfo is None or end.tzinfo is None:
        raise Invalid("give 'from' and 'to' with a time zone offset, e.g. 2026-03-01T00:00:00Z")
    if start >= end:
        raise Invalid("'from' must be before 'to'", field="from")
    gestures = list(
        session.scalars(
            select(GoodwillGesture)
            .where(GoodwillGesture.created_at >= start, GoodwillGesture.created_at < end)
            .order_by(GoodwillGesture.created_at, GoodwillGesture.id)
        )
    )
    items = [_gesture_outcome(session, g, at) for g in gestures]
    by_status = {s: 0 for s in ("granted", "pending_approval", "approved", "rejected")}
    for g in gestures:
        by_status[g.status] = by_status.get(g.status, 0) + 1
    given = [i for i in items if i.gesture.status in GIVEN]
    cost = sum((Decimal(i.gesture.cost) for i in given), Decimal("0.00"))
    positive = sum(1 for i in given if i.outcome == "positive")
    needed_approval = by_status["pending_approval"] + by_status["approved"] + by_status["rejected"]
    decided = by_status["approved"] + by_status["rejected"]
    totals = ReportTotals(
        gestures=len(gestures),
        given=len(given),
        cost=cost.quantize(Decimal("0.01")),
        by_status=by_status,
        approval_share=round(needed_approval / len(gestures), 3) if gestures else None,
        approved_share=round(by_status["approved"] / decided, 3) if decided else None,
        positive_outcomes=positive,
        cost_per_positive_outcome=(cost / positive).quantize(Decimal("0.01")) if positive else None,
    )
    return Report.model_validate(
        {"from": start, "to": end, "definitions": DEFINITIONS, "items": items, "totals": totals}
    )
