"""The sla domain's state changes (the only code here that writes and publishes events).

Clocks are driven by other domains' events (subscribers below, run inside the publisher's
transaction) and by DB timers, one per escalation step, fired by the reconciler. Nothing here
sweeps open conversations: a clock's future exists only as its pending timers."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from cuida.clock.service import now
from cuida.common.errors import Conflict, Invalid, NotFound
from cuida.conversations.models import PRIORITIES, Conversation, Message
from cuida.customers.models import Customer
from cuida.db import txcache
from cuida.events.models import Event
from cuida.events.service import SYSTEM, Actor, publish, subscribe
from cuida.notifications.service import leads_of, managers, notify
from cuida.sla.calendar import BusinessCalendar, add_business_time, business_minutes_between
from cuida.sla.models import CLOCK_KINDS, SlaCalendar, SlaClock, SlaPolicy
from cuida.sla.schemas import (
    DEFAULT_LADDER,
    CalendarCreate,
    CalendarUpdate,
    ClockRead,
    Conditions,
    ConversationSla,
    PolicyCreate,
    PolicyRead,
    PolicyUpdate,
    RiskFactors,
    check_calendar,
)
from cuida.timers.service import cancel_prefix, on, schedule_many

log = logging.getLogger(__name__)
STEP_TIMER = "sla.step"
PAUSED_STATES = ("pending", "snoozed")


@dataclass(frozen=True)
class Terms:
    """A policy as clocks use it: the built-in default or a row, with its calendar resolved."""

    policy_id: int | None
    name: str
    targets: dict[str, int | None]
    calendar: dict[str, Any] | None  # {"timezone", "hours", "holidays"} snapshot; None = 24/7
    risk: RiskFactors
    ladder: list[dict[str, Any]] = field(default_factory=list)


# No conversation is ever without a clock: this applies when no policy matches (off-topic too).
DEFAULT_POLICY = PolicyRead(
    id=None,
    name="default",
    position=1_000_000,
    active=True,
    conditions={},
    first_response_minutes=4 * 60,
    next_response_minutes=8 * 60,
    resolution_minutes=3 * 24 * 60,
    calendar_id=None,
    risk_factors=RiskFactors().model_dump(),
    escalation=[s.model_dump() for s in DEFAULT_LADDER],
)


# -- calendars -----------------------------------------------------------------------------


def _calendar_spec(row: SlaCalendar) -> dict[str, Any]:
    return {"timezone": row.timezone, "hours": row.hours, "holidays": row.holidays}


@lru_cache(maxsize=256)
def _parsed(spec_json: str) -> BusinessCalendar:
    spec = json.loads(spec_json)
    return BusinessCalendar.from_spec(
        timezone=spec["timezone"], hours=spec["hours"], holidays=spec["holidays"]
    )


def business_calendar(spec: dict[str, Any] | None) -> BusinessCalendar | None:
    return None if spec is None else _parsed(json.dumps(spec, sort_keys=True))


def list_calendars(*, session: Session) -> list[SlaCalendar]:
    return list(session.scalars(select(SlaCalendar).order_by(SlaCalendar.id)))


def get_calendar(*, session: Session, calendar_id: int) -> SlaCalendar:
    row = session.get(SlaCalendar, calendar_id)
    if row is None:
        raise NotFound(f"calendar {calendar_id} does not exist")
    return row


def _unique_name(
    session: Session, model: type[SlaCalendar] | type[SlaPolicy], name: str, own: int | None
) -> None:
    found = session.scalar(select(model.id).where(model.name == name))
    if found is not None and found != own:
        raise Conflict(f"the name {name!r} is taken", field="name")


def create_calendar(*, session: Session, data: CalendarCreate, actor: Actor = SYSTEM) -> SlaCalendar:
    _unique_name(session, SlaCalendar, data.name, None)
    at = now(session=session)
    row = SlaCalendar(
        name=data.name,
        timezone=data.timezone,
        hours=data.hours,
        holidays=sorted(d.isoformat() for d in data.holidays),
        created_at=at,
        updated_at=at,
    )
    session.add(row)
    session.flush()
    _forget_policies(session)
    publish(session=session, type="sla.calendar_created", actor=actor, payload={"calendar_id": row.id})
    return row


def update_calendar(
    *, session: Session, calendar_id: int, data: CalendarUpdate, actor: Actor = SYSTEM
) -> SlaCalendar:
    row = get_calendar(session=session, calendar_id=calendar_id)
    if data.name is not None:
        _unique_name(session, SlaCalendar, data.name, row.id)
        row.name = data.name
    timezone = data.timezone or row.timezone
    hours = data.hours if data.hours is not None else row.hours
    holidays = sorted(d.isoformat() for d in data.holidays) if data.holidays is not None else row.holidays
    try:
        check_calendar(timezone, hours, [date.fromisoformat(d) for d in holidays])
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    row.timezone, row.hours, row.holidays = timezone, hours, holidays
    row.updated_at = now(session=session)
    # Running clocks keep the calendar they started with; new clocks use this one.
    _forget_policies(session)
    publish(session=session, type="sla.calendar_updated", actor=actor, payload={"calendar_id": row.id})
    return row


def delete_calendar(*, session: Session, calendar_id: int, actor: Actor = SYSTEM) -> None:
    row = get_calendar(session=session, calendar_id=calendar_id)
    users = session.scalars(select(SlaPolicy.name).where(SlaPolicy.calendar_id == row.id)).all()
    if users:
        raise Conflict(f"calendar {row.id} is used by policies: {', '.join(users)}")
    session.delete(row)
    _forget_policies(session)
    publish(session=session, type="sla.calendar_deleted", actor=actor, payload={"calendar_id": calendar_id})


# -- policies ------------------------------------------------------------------------------


def list_policies(*, session: Session) -> list[SlaPolicy]:
    return list(session.scalars(select(SlaPolicy).order_by(SlaPolicy.position, SlaPolicy.id)))


def get_policy(*, session: Session, policy_id: int) -> SlaPolicy:
    row = session.get(SlaPolicy, policy_id)
    if row is None:
        raise NotFound(f"SLA policy {policy_id} does not exist")
    return row


def _check_calendar_id(session: Session, calendar_id: int | None) -> None:
    if calendar_id is not None and session.get(SlaCalendar, calendar_id) is None:
        raise Invalid(f"calendar {calendar_id} does not exist", field="calendar_id")


def create_policy(*, session: Session, data: PolicyCreate, actor: Actor = SYSTEM) -> SlaPolicy:
    _unique_name(session, SlaPolicy, data.name, None)
    _check_calendar_id(session, data.calendar_id)
    at = now(session=session)
    row = SlaPolicy(
        name=data.name,
        position=data.position,
        active=data.active,
        conditions=data.conditions.model_dump(exclude_none=True),
        first_response_minutes=data.first_response_minutes,
        next_response_minutes=data.next_response_minutes,
        resolution_minutes=data.resolution_minutes,
        calendar_id=data.calendar_id,
        risk_factors=data.risk_factors.model_dump(),
        escalation=[s.model_dump() for s in data.escalation],
        created_at=at,
        updated_at=at,
    )
    session.add(row)
    session.flush()
    _forget_policies(session)
    publish(session=session, type="sla.policy_created", actor=actor, payload={"policy_id": row.id})
    return row


def update_policy(
    *, session: Session, policy_id: int, data: PolicyUpdate, actor: Actor = SYSTEM
) -> SlaPolicy:
    row = get_policy(session=session, policy_id=policy_id)
    given = data.model_fields_set
    if data.name is not None:
        _unique_name(session, SlaPolicy, data.name, row.id)
        row.name = data.name
    if "calendar_id" in given:
        _check_calendar_id(session, data.calendar_id)
        row.calendar_id = data.calendar_id
    if "first_response_minutes" in given and data.first_response_minutes is None:
        raise Invalid("a policy always has a first-response target", field="first_response_minutes")
    for name in ("position", "active", "first_response_minutes"):
        if getattr(data, name) is not None:
            setattr(row, name, getattr(data, name))
    for name in ("next_response_minutes", "resolution_minutes"):
        if name in given:
            setattr(row, name, getattr(data, name))
    if data.conditions is not None:
        row.conditions = data.conditions.model_dump(exclude_none=True)
    if data.risk_factors is not None:
        row.risk_factors = data.risk_factors.model_dump()
    if data.escalation is not None:
        row.escalation = [s.model_dump() for s in data.escalation]
    row.updated_at = now(session=session)
    _forget_policies(session)
    publish(session=session, type="sla.policy_updated", actor=actor, payload={"policy_id": row.id})
    return row


def delete_policy(*, session: Session, policy_id: int, actor: Actor = SYSTEM) -> None:
    row = get_policy(session=session, policy_id=policy_id)
    session.delete(row)  # running clocks keep their snapshot (policy_id becomes null)
    _forget_policies(session)
    publish(session=session, type="sla.policy_deleted", actor=actor, payload={"policy_id": policy_id})


def _terms(session: Session, policy: SlaPolicy | PolicyRead) -> Terms:
    calendar = None
    if policy.calendar_id is not None:
        row = session.get(SlaCalendar, policy.calendar_id)
        calendar = _calendar_spec(row) if row is not None else None
    return Terms(
        policy_id=policy.id,
        name=policy.name,
        targets={
            "first_response": policy.first_response_minutes,
            "next_response": policy.next_response_minutes,
            "resolution": policy.resolution_minutes,
        },
        calendar=calendar,
        risk=RiskFactors.model_validate(policy.risk_factors or {}),
        ladder=list(policy.escalation or DEFAULT_POLICY.escalation),
    )


def _intents(message: Message) -> dict[str, float]:
    triage = message.triage or {}
    intents = triage.get("intents") if isinstance(triage, dict) else None
    return {str(k): float(v) for k, v in intents.items()} if isinstance(intents, dict) else {}


def matches(
    conditions: Conditions, *, session: Session, conversation: Conversation, message: Message
) -> bool:
    if conditions.channels is not None and message.channel not in conditions.channels:
        return False
    if conditions.public is not None and bool(message.public) != conditions.public:
        return False
    if conditions.intents is not None:
        intents = _intents(message)
        if not any(intents.get(i, 0.0) >= conditions.intent_threshold for i in conditions.intents):
            return False
    if conditions.min_priority is not None and conversation.priority < PRIORITIES.index(
        conditions.min_priority
    ):
        return False
    if conditions.min_lifetime_value is not None or conditions.tiers is not None:
        customer = session.get(Customer, conversation.customer_id)
        if customer is None:
            return False
        if conditions.min_lifetime_value is not None and (
            customer.lifetime_value is None or float(customer.lifetime_value) < conditions.min_lifetime_value
        ):
            return False
        if conditions.tiers is not None and customer.tier not in conditions.tiers:
            return False
    return True


_POLICIES = "sla.policies"  # txcache: "active" -> [(policy, conditions)], policy id -> Terms


def _forget_policies(session: Session) -> None:
    """A policy or calendar changed in this transaction: read them again."""
    txcache.forget(session, _POLICIES)


def _active_policies(session: Session) -> list[tuple[SlaPolicy, Conditions]]:
    """The active policies in order, read once per transaction (this runs for every message)."""
    cache = txcache.scratch(session, _POLICIES)
    if "active" not in cache:
        cache["active"] = [
            (policy, Conditions.model_validate(policy.conditions or {}))
            for policy in session.scalars(
                select(SlaPolicy).where(SlaPolicy.active.is_(True)).order_by(SlaPolicy.position, SlaPolicy.id)
            )
        ]
    return list(cache["active"])


def _cached_terms(session: Session, policy: SlaPolicy | PolicyRead) -> Terms:
    cache = txcache.scratch(session, _POLICIES)
    key = ("terms", policy.id)
    if key not in cache:
        cache[key] = _terms(session, policy)
    terms: Terms = cache[key]
    return terms


def policy_for(*, session: Session, conversation: Conversation, message: Message) -> Terms:
    """The first active policy, by position, whose conditions hold; else the built-in default.
    A policy forced on the conversation in this transaction (force_policy) wins."""
    forced = session.info.get(_FORCED, {}).get(conversation.id)
    forced_policy = session.get(SlaPolicy, forced) if forced is not None else None
    if forced_policy is not None:
        return _terms(session, forced_policy)
    for policy, conditions in _active_policies(session):
        if matches(conditions, session=session, conversation=conversation, message=message):
            return _cached_terms(session, policy)
    return _cached_terms(session, DEFAULT_POLICY)


_FORCED = "cuida.sla.forced_policy"  # session.info: {conversation id: policy id}


def force_policy(*, session: Session, conversation_id: int, policy_name: str) -> list[str]:
    """Put a conversation on the named policy (an automation rule's action), whatever its
    conditions say. Clocks started later in this transaction use it; running clocks on another
    policy restart from their own start with its targets, calendar and ladder (the deadline moves,
    the start does not). Returns the kinds of clock restarted."""
    policy = session.scalar(select(SlaPolicy).where(SlaPolicy.name == policy_name))
    if policy is None:
        raise Invalid(f"no SLA policy named {policy_name!r}", field="policy")
    session.info.setdefault(_FORCED, {})[conversation_id] = policy.id
    conversation = _locked_conversation(session, conversation_id)
    if conversation is None or conversation.status == "resolved":
        return []
    at = now(session=session)
    clocks = _clocks(session, conversation.id)
    terms = _terms(session, policy)
    carried = _conversation_risk(clocks)
    restarted = []
    for kind, clock in sorted(clocks.items()):
        if not _running(clock) or clock.policy_id == policy.id:
            continue
        cancel_prefix(session=session, prefix=_prefix(clock))
        if _start(session, conversation, clocks, kind, terms, clock.started_at, carried) is None:
            _finish(session, clock, conversation, at, met=False)  # the policy sets no target of this kind
        restarted.append(kind)
    _sync_pause(session, conversation, clocks, at)
    return restarted


# -- risk ----------------------------------------------------------------------------------

RISK_INTENTS = (
    ("legal_threat", "legal threat"),
    ("churn_threat", "churn threat"),
    ("public_escalation_threat", "public escalation threat"),
)


def assess_risk(
    risk: RiskFactors, *, message: Message | None, conversation: Conversation
) -> list[tuple[str, float]]:
    """Every risk present, as (reason, factor); a factor of 1 means that risk is switched off."""
    found: list[tuple[str, float]] = []
    if message is not None:
        followers = message.author_followers or 0
        if message.public and followers >= risk.public_reach_followers:
            found.append((f"public author with {followers:,} followers", risk.public_reach))
        intents = _intents(message)
        for name, words in RISK_INTENTS:
            if intents.get(name, 0.0) >= risk.intent_threshold:
                found.append((words, getattr(risk, name)))
    if (conversation.risk_score or 0.0) >= risk.reputation_risk_at:
        found.append((f"reputation risk {conversation.risk_score:.2f}", risk.reputation_risk))
    return [(f"{reason}: ×{factor:g}", factor) for reason, factor in found if factor < 1]


# -- clocks --------------------------------------------------------------------------------


def _locked_conversation(session: Session, conversation_id: int) -> Conversation | None:
    """The conversation, locked on PostgreSQL so two workers never start the same clock twice
    (SQLite already runs one writer at a time). A row this transaction locked already (ingest
    locks a batch's conversations up front) is not asked for again."""
    if session.get_bind().dialect.name != "postgresql" or txcache.is_locked(
        session, "conversations", conversation_id
    ):
        return session.get(Conversation, conversation_id)
    return session.get(Conversation, conversation_id, with_for_update=True)


def _clocks(session: Session, conversation_id: int) -> dict[str, SlaClock]:
    rows = session.scalars(select(SlaClock).where(SlaClock.conversation_id == conversation_id))
    return {c.kind: c for c in rows}


def _running(clock: SlaClock | None) -> bool:
    return clock is not None and clock.met_at is None and clock.cancelled_at is None


def _prefix(clock: SlaClock) -> str:
    return f"sla:{clock.conversation_id}:{clock.kind}:"


def step_due_times(clock: SlaClock) -> list[datetime]:
    """When each ladder step falls due: its share of the target, plus the time spent paused."""
    calendar = business_calendar(clock.calendar)
    return [
        add_business_time(
            clock.started_at, clock.target_minutes * float(step["at"]) + clock.paused_minutes, calendar
        )
        for step in clock.ladder
    ]


def _recompute(clock: SlaClock) -> None:
    calendar = business_calendar(clock.calendar)
    clock.target_minutes = clock.base_target_minutes * clock.factor
    clock.due_at = add_business_time(clock.started_at, clock.target_minutes + clock.paused_minutes, calendar)
    clock.base_due_at = add_business_time(
        clock.started_at, clock.base_target_minutes + clock.paused_minutes, calendar
    )


def _step_timers(clock: SlaClock) -> list[tuple[str, datetime, dict[str, Any]]]:
    """(key, due, payload) of the steps not reached yet; earlier ones have fired for this run."""
    return [
        (
            f"{_prefix(clock)}{index}",
            due,
            {"clock_id": clock.id, "step": index, "generation": clock.generation},
        )
        for index, due in enumerate(step_due_times(clock))
        if index >= clock.level
    ]


def _schedule_steps(session: Session, clock: SlaClock) -> None:
    """(Re)arm the timers of the steps not reached yet."""
    schedule_many(
        session=session,
        kind=STEP_TIMER,
        timers=_step_timers(clock),
        conversation_id=clock.conversation_id,
        rearm=True,
    )


def _clock_event(
    session: Session, type_: str, clock: SlaClock, conversation: Conversation, **extra: Any
) -> None:
    publish(
        session=session,
        type=type_,
        customer_id=conversation.customer_id,
        conversation_id=conversation.id,
        payload={
            "kind": clock.kind,
            "policy": clock.policy_name,
            "due_at": clock.due_at.isoformat(),
            **extra,
        },
    )


def _start(
    session: Session,
    conversation: Conversation,
    clocks: dict[str, SlaClock],
    kind: str,
    terms: Terms,
    started_at: datetime,
    risk: list[tuple[str, float]],
) -> SlaClock | None:
    clock = _prepare(session, conversation, clocks, kind, terms, started_at, risk)
    if clock is not None:
        _arm(session, conversation, [clock])
    return clock


def _prepare(
    session: Session,
    conversation: Conversation,
    clocks: dict[str, SlaClock],
    kind: str,
    terms: Terms,
    started_at: datetime,
    risk: list[tuple[str, float]],
) -> SlaClock | None:
    """Set a clock (new or restarted) going; `_arm` then sets its timers and says so."""
    minutes = terms.targets.get(kind)
    if minutes is None:
        return None
    clock = clocks.get(kind)
    if clock is None:
        clock = SlaClock(conversation_id=conversation.id, kind=kind, generation=0)
        session.add(clock)
        clocks[kind] = clock
    clock.generation = (clock.generation or 0) + 1
    clock.policy_id = terms.policy_id
    clock.policy_name = terms.name
    # Copies: the terms are shared by every clock started in this transaction.
    clock.calendar = dict(terms.calendar) if terms.calendar is not None else None
    clock.ladder = [dict(step) for step in terms.ladder]
    clock.started_at = started_at
    clock.base_target_minutes = float(minutes)
    clock.factor = min([1.0, *(f for _, f in risk)])
    clock.reasons = [reason for reason, _ in risk]
    clock.paused_at = None
    clock.paused_minutes = 0.0
    clock.met_at = clock.cancelled_at = clock.breached_at = None
    clock.level = 0
    clock.marks = []
    _recompute(clock)
    return clock


def _arm(session: Session, conversation: Conversation, started: list[SlaClock]) -> None:
    """Timers and `sla.started` for clocks just prepared: one flush gives the new ones their ids,
    one lookup and one insert cover every step of all of them."""
    session.flush()
    steps: list[tuple[str, datetime, dict[str, Any]]] = []
    for clock in started:
        steps.extend(_step_timers(clock))
    schedule_many(session=session, kind=STEP_TIMER, timers=steps, conversation_id=conversation.id, rearm=True)
    for clock in started:
        _clock_event(
            session,
            "sla.started",
            clock,
            conversation,
            base_due_at=clock.base_due_at.isoformat(),
            factor=clock.factor,
            reasons=clock.reasons,
        )


def _tighten(
    session: Session, clock: SlaClock, conversation: Conversation, risk: list[tuple[str, float]]
) -> None:
    reasons = list(clock.reasons or [])
    new = [reason for reason, _ in risk if reason not in reasons]
    if not new:
        return
    factor = min([clock.factor, *(f for _, f in risk)])
    clock.reasons = reasons + new
    if factor >= clock.factor:
        return  # another reason for the same factor: shown, the deadline does not move
    previous = clock.due_at
    clock.factor = factor
    _recompute(clock)
    if clock.paused_at is None:
        _schedule_steps(session, clock)
    _clock_event(
        session,
        "sla.tightened",
        clock,
        conversation,
        previous_due_at=previous.isoformat(),
        base_due_at=clock.base_due_at.isoformat(),
        factor=clock.factor,
        reasons=clock.reasons,
    )


def _pause(session: Session, clock: SlaClock, conversation: Conversation, at: datetime) -> None:
    if not _running(clock) or clock.paused_at is not None:
        return
    clock.paused_at = at
    cancel_prefix(session=session, prefix=_prefix(clock))
    _clock_event(session, "sla.paused", clock, conversation, status=conversation.status)


def _settle_pause(clock: SlaClock, at: datetime) -> None:
    if clock.paused_at is not None:
        calendar = business_calendar(clock.calendar)
        clock.paused_minutes += max(0.0, business_minutes_between(clock.paused_at, at, calendar))
        clock.paused_at = None


def _resume(session: Session, clock: SlaClock, conversation: Conversation, at: datetime) -> None:
    if not _running(clock) or clock.paused_at is None:
        return
    _settle_pause(clock, at)
    _recompute(clock)
    _schedule_steps(session, clock)
    _clock_event(session, "sla.resumed", clock, conversation, paused_minutes=round(clock.paused_minutes, 1))


def _sync_pause(
    session: Session, conversation: Conversation, clocks: dict[str, SlaClock], at: datetime
) -> None:
    """Clocks stop while the conversation waits on the customer (pending) or is snoozed."""
    for clock in clocks.values():
        if conversation.status in PAUSED_STATES:
            _pause(session, clock, conversation, at)
        elif conversation.status == "open":
            _resume(session, clock, conversation, at)


def _finish(
    session: Session, clock: SlaClock, conversation: Conversation, at: datetime, *, met: bool
) -> None:
    if not _running(clock):
        return
    _settle_pause(clock, at)
    if met:
        clock.met_at = at
    else:
        clock.cancelled_at = at
    cancel_prefix(session=session, prefix=_prefix(clock))
    late = max(0.0, business_minutes_between(clock.due_at, at, business_calendar(clock.calendar)))
    _clock_event(
        session,
        "sla.met" if met else "sla.stopped",
        clock,
        conversation,
        breached=clock.breached_at is not None,
        late_business_minutes=round(late, 1),
    )


def _conversation_risk(clocks: dict[str, SlaClock]) -> list[tuple[str, float]]:
    """Risk already found on this conversation (a legal threat stays one on the next message)."""
    seen: dict[str, float] = {}
    for clock in clocks.values():
        if _running(clock):
            for reason in clock.reasons or []:
                seen.setdefault(reason, _factor_of(reason))
    return list(seen.items())


def _factor_of(reason: str) -> float:
    try:
        return float(reason.rsplit("×", 1)[1])
    except (IndexError, ValueError):
        return 1.0


def _merge(*lists: list[tuple[str, float]]) -> list[tuple[str, float]]:
    merged: dict[str, float] = {}
    for items in lists:
        for reason, factor in items:
            merged.setdefault(reason, factor)
    return list(merged.items())


def on_inbound(*, session: Session, message: Message) -> None:
    """A customer message was triaged: start or restart the clocks it calls for, and tighten
    running ones if it carries a risk."""
    if message.conversation_id is None:
        return
    conversation = _locked_conversation(session, message.conversation_id)
    if conversation is None or conversation.status == "resolved":
        return
    at = now(session=session)
    clocks = _clocks(session, conversation.id)
    _sync_pause(session, conversation, clocks, at)
    terms = policy_for(session=session, conversation=conversation, message=message)
    risk = assess_risk(terms.risk, message=message, conversation=conversation)
    carried = _merge(_conversation_risk(clocks), risk)
    started_at = min(message.received_at or at, at)
    kinds = []
    if conversation.first_response_at is None:
        if not _running(clocks.get("first_response")):
            kinds.append("first_response")
    elif not _running(clocks.get("next_response")):
        # A clock already running keeps its earlier deadline: writing again must not buy time.
        kinds.append("next_response")
    if not _running(clocks.get("resolution")):
        kinds.append("resolution")
    started = [
        clock
        for kind in kinds
        if (clock := _prepare(session, conversation, clocks, kind, terms, started_at, carried)) is not None
    ]
    if started:
        _arm(session, conversation, started)
    if risk:
        for clock in clocks.values():
            if _running(clock):
                _tighten(session, clock, conversation, risk)


def on_reply(*, session: Session, conversation_id: int) -> None:
    """An agent answered: the response clocks are met; the resolution clock pauses if the
    conversation now waits on the customer."""
    conversation = _locked_conversation(session, conversation_id)
    if conversation is None:
        return
    at = now(session=session)
    clocks = _clocks(session, conversation.id)
    for kind in ("first_response", "next_response"):
        clock = clocks.get(kind)
        if clock is not None:
            _finish(session, clock, conversation, at, met=True)
    _sync_pause(session, conversation, clocks, at)


def on_status(*, session: Session, conversation_id: int, status: str) -> None:
    conversation = _locked_conversation(session, conversation_id)
    if conversation is None:
        return
    at = now(session=session)
    clocks = _clocks(session, conversation.id)
    if status == "resolved":
        for clock in clocks.values():
            _finish(session, clock, conversation, at, met=clock.kind == "resolution")
        cancel_prefix(session=session, prefix=f"sla:{conversation.id}:")
    else:
        _sync_pause(session, conversation, clocks, at)


def on_risk_change(*, session: Session, conversation_id: int) -> None:
    """The conversation's reputation-risk score changed: tighten if it crossed a policy's line."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        return
    for clock in _clocks(session, conversation.id).values():
        if not _running(clock):
            continue
        policy = session.get(SlaPolicy, clock.policy_id) if clock.policy_id is not None else None
        risk = RiskFactors.model_validate(policy.risk_factors if policy else DEFAULT_POLICY.risk_factors)
        found = assess_risk(risk, message=None, conversation=conversation)
        if found:
            _tighten(session, clock, conversation, found)


def _guarded(fn: Callable[..., None]) -> Callable[..., None]:
    """Run a reaction in a savepoint: a fault in SLA bookkeeping is logged on the conversation's
    events, never allowed to fail the ingest, reply or status change that triggered it."""

    @functools.wraps(fn)
    def run(*, session: Session, event: Event) -> None:
        try:
            with session.begin_nested():
                fn(session=session, event=event)
        except Exception as exc:
            log.exception("SLA reaction to %s failed", event.type)
            publish(
                session=session,
                type="sla.error",
                conversation_id=event.conversation_id,
                payload={"event": event.type, "error": str(exc)[:500]},
            )

    return run


@subscribe("message.triaged")
@_guarded
def _message_triaged(*, session: Session, event: Event) -> None:
    message = session.get(Message, event.message_id) if event.message_id is not None else None
    if message is not None and message.direction == "in":
        on_inbound(session=session, message=message)


@subscribe("message.received")
@_guarded
def _message_received(*, session: Session, event: Event) -> None:
    # An outbound message imported from a channel (answered outside the hub) answers too.
    if (event.payload or {}).get("direction") == "out" and event.conversation_id is not None:
        on_reply(session=session, conversation_id=event.conversation_id)


@subscribe("reply.created")
@_guarded
def _reply_created(*, session: Session, event: Event) -> None:
    if event.conversation_id is not None:
        on_reply(session=session, conversation_id=event.conversation_id)


@subscribe("conversation.updated")
@_guarded
def _conversation_updated(*, session: Session, event: Event) -> None:
    payload = event.payload or {}
    if event.conversation_id is None:
        return
    status = payload.get("status")
    if isinstance(status, list) and len(status) == 2:
        on_status(session=session, conversation_id=event.conversation_id, status=str(status[1]))
    if "risk_score" in payload:
        on_risk_change(session=session, conversation_id=event.conversation_id)


# -- escalation ----------------------------------------------------------------------------


def _recipients(session: Session, conversation: Conversation, who: list[str]) -> list[int]:
    # Many steps of one batch go to the same leads and managers: asked once per transaction.
    cache = txcache.scratch(session, "sla.recipients")
    key = (tuple(who), conversation.assignee_id, conversation.team_id)
    if key not in cache:
        cache[key] = _find_recipients(session, conversation, who)
    return list(cache[key])


def _find_recipients(session: Session, conversation: Conversation, who: list[str]) -> list[int]:
    agents: set[int] = set()
    for target in who:
        if target == "assignee":
            if conversation.assignee_id is not None:
                agents.add(conversation.assignee_id)
            else:  # nobody owns it yet: whoever leads the team (or the managers) must know
                agents.update(leads_of(session=session, team_id=conversation.team_id))
        elif target == "leads":
            agents.update(
                leads_of(session=session, agent_id=conversation.assignee_id, team_id=conversation.team_id)
            )
        elif target == "managers":
            agents.update(managers(session=session))
    return sorted(agents)


KIND_WORDS = {
    "first_response": "first response",
    "next_response": "next response",
    "resolution": "resolution",
}


def _prepare_steps(*, session: Session, timers: list[Any]) -> None:
    """A batch of due steps: their clocks (locked on PostgreSQL, skipping any another worker
    holds: those are locked one by one as before) and conversations in two queries."""
    postgres = session.get_bind().dialect.name == "postgresql"
    clock_ids = sorted({int((t.payload or {}).get("clock_id", 0)) for t in timers})
    query = select(SlaClock).where(SlaClock.id.in_(clock_ids)).order_by(SlaClock.id)
    clocks = session.scalars(query.with_for_update(skip_locked=True) if postgres else query).all()
    conversation_ids = sorted({c.conversation_id for c in clocks})
    txcache.hold(session, clocks)
    txcache.hold(session, session.scalars(select(Conversation).where(Conversation.id.in_(conversation_ids))))
    if postgres:
        txcache.mark_locked(session, "sla_clocks", [c.id for c in clocks])


@on(STEP_TIMER, prepare=_prepare_steps)
def _fire_step(*, session: Session, timer: Any, at: datetime) -> None:
    payload = timer.payload or {}
    # Two workers may fire two steps of one clock at once (after a pause); one waits for the other.
    clock_id = int(payload.get("clock_id", 0))
    if session.get_bind().dialect.name != "postgresql" or txcache.is_locked(session, "sla_clocks", clock_id):
        clock = session.get(SlaClock, clock_id)
    else:
        clock = session.get(SlaClock, clock_id, with_for_update=True)
    index = int(payload.get("step", -1))
    if (
        clock is None
        or not _running(clock)
        or clock.paused_at is not None
        or payload.get("generation") != clock.generation
        or index < clock.level
        or index >= len(clock.ladder)
    ):
        return  # met, stopped, paused or restarted since this timer was set
    conversation = session.get(Conversation, clock.conversation_id)
    if conversation is None:
        return
    step = clock.ladder[index]
    fraction = float(step["at"])
    who = list(step.get("notify") or [])
    clock.level = index + 1
    agents = _recipients(session, conversation, who)
    what = KIND_WORDS.get(clock.kind, clock.kind)
    subject = conversation.subject or f"conversation {conversation.id}"
    if fraction < 1:
        type_ = "sla.warning"
        text = f"SLA {what} due {clock.due_at:%Y-%m-%d %H:%M} UTC: {subject}"
    else:
        type_ = "sla.escalated"
        text = f"SLA {what} breached (level {clock.level}): {subject}"
    clock.marks = [
        *(clock.marks or []),
        {
            "level": clock.level,
            "type": type_,
            "at_fraction": fraction,
            "due_at": timer.due_at.isoformat(),
            "fired_at": at.isoformat(),
            "notified": agents,
            "to": who,
        },
    ]
    detail = {"level": clock.level, "to": who, "agents": agents, "reasons": clock.reasons}
    if fraction >= 1 and clock.breached_at is None:
        clock.breached_at = clock.due_at
        _clock_event(session, "sla.breached", clock, conversation, **detail)
    if fraction < 1 or who:
        _clock_event(session, type_, clock, conversation, **detail)
    if agents:
        notify(
            session=session,
            agent_ids=agents,
            kind=type_,
            text=text,
            conversation_id=conversation.id,
            customer_id=conversation.customer_id,
            payload={"kind": clock.kind, "level": clock.level, "due_at": clock.due_at.isoformat()},
        )


# -- reading -------------------------------------------------------------------------------


def clock_read(clock: SlaClock, at: datetime) -> ClockRead:
    calendar = business_calendar(clock.calendar)
    remaining: float | None = None
    if _running(clock):
        remaining = round(business_minutes_between(clock.paused_at or at, clock.due_at, calendar), 1)
    state: Literal["running", "paused", "met", "stopped"] = "running"
    if clock.met_at:
        state = "met"
    elif clock.cancelled_at:
        state = "stopped"
    elif clock.paused_at:
        state = "paused"
    return ClockRead(
        kind=clock.kind,
        state=state,
        policy_id=clock.policy_id,
        policy_name=clock.policy_name,
        started_at=clock.started_at,
        due_at=clock.due_at,
        base_due_at=clock.base_due_at,
        target_minutes=round(clock.target_minutes, 1),
        base_target_minutes=clock.base_target_minutes,
        factor=clock.factor,
        reasons=list(clock.reasons or []),
        remaining_business_minutes=remaining,
        paused_at=clock.paused_at,
        paused_minutes=round(clock.paused_minutes, 1),
        met_at=clock.met_at,
        stopped_at=clock.cancelled_at,
        breached=clock.breached_at is not None or (remaining is not None and remaining < 0),
        breached_at=clock.breached_at,
        level=clock.level,
        marks=list(clock.marks or []),
    )


def conversation_sla(*, session: Session, conversation_id: int) -> ConversationSla:
    if session.get(Conversation, conversation_id) is None:
        raise NotFound(f"conversation {conversation_id} does not exist")
    at = now(session=session)
    clocks = _clocks(session, conversation_id)
    ordered = [clocks[k] for k in CLOCK_KINDS if k in clocks]
    return ConversationSla(
        conversation_id=conversation_id, now=at, clocks=[clock_read(c, at) for c in ordered]
    )


def policy_read(row: SlaPolicy) -> PolicyRead:
    return PolicyRead.model_validate(row)
