"""May marketing or sales contact this customer now, and if not, why and until when.

The answer is computed from the database each time (conversations, triage of inbound messages,
commitments, opt-outs), never from a cached guess. What changes it is watched through events; a
flip of the marketing or sales answer is recorded in `contactability_state` and pushed to the
webhook subscribers (suppress / release). Reasons that end by themselves (a cooling period, a
threat ageing out, a promise falling due) set a timer at that moment, so a release is pushed on
time without sweeping every customer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from cuida.auth.models import Agent
from cuida.channels.registry import check_channel
from cuida.clock.service import now
from cuida.commitments.models import Commitment
from cuida.common.errors import Invalid, NotFound
from cuida.contactability import webhooks
from cuida.contactability.models import (
    PREFERENCE_PURPOSES,
    PURPOSES,
    ContactabilityQuery,
    ContactabilityState,
    ContactPreference,
)
from cuida.contactability.schemas import Answer, Reason
from cuida.conversations.models import Conversation, Message
from cuida.conversations.service import OUTREACH_PURPOSES, lock_customer
from cuida.customers.identity import IdentityError, identity_key
from cuida.customers.models import Customer, Identity
from cuida.customers.service import resolve
from cuida.db import txcache
from cuida.events.models import Event
from cuida.events.service import SYSTEM, Actor, publish, subscribe
from cuida.notifications.service import leads_of, managers, notify
from cuida.ratings.service import last_rating
from cuida.timers.models import Timer
from cuida.timers.service import cancel, on, schedule

log = logging.getLogger(__name__)

# After a complaint is resolved, marketing and sales wait this long (ask: CUIDA_CONTACTABILITY_COOLING_DAYS).
COOLING_PERIOD = timedelta(days=14)
THREAT_WINDOW = timedelta(days=30)
TREND_WINDOW = timedelta(days=30)
THREAT_THRESHOLD = 0.5
THREATS = {
    "churn_threat": "threatened to leave",
    "legal_threat": "threatened legal action",
    "public_escalation_threat": "threatened to go public",
}
# The purposes whose flips are pushed to campaign tools.
TRACKED_PURPOSES = ("marketing", "sales")
RECHECK_TIMER = "contactability.recheck"


# --- identities ---------------------------------------------------------------------------------


def parse_identity(text: str) -> tuple[str, str]:
    """'<channel>:<value>' → the normalised identity key ingest uses, so every spelling of a
    phone number, email case or @handle finds the same identity."""
    channel, sep, value = text.partition(":")
    channel = channel.strip().lower()
    if not sep or not channel or not value.strip():
        raise Invalid(
            "identity must look like <channel>:<value>, e.g. phone:+34612345678 or twitter:@handle",
            field="identity",
        )
    try:
        check_channel(channel)
        return identity_key(channel, value)
    except (ValueError, IdentityError) as exc:
        raise Invalid(str(exc), field="identity") from None


def customer_for_identity(*, session: Session, identity: str) -> Customer:
    channel, value = parse_identity(identity)
    found = session.scalar(select(Identity).where(Identity.channel == channel, Identity.value == value))
    if found is None:
        raise NotFound(
            f"no customer has the identity {channel}:{value}; Cuida knows nothing about them, so it "
            "cannot say whether they may be contacted (treat them as any prospect under your own rules)",
            field="identity",
        )
    return resolve(session=session, customer_id=found.customer_id)


def _family(session: Session, customer_id: int) -> list[int]:
    """The live profile and every profile merged into it (commitments and opt-outs stay on those)."""
    ids = [customer_id]
    frontier = [customer_id]
    while frontier:
        frontier = list(session.scalars(select(Customer.id).where(Customer.merged_into_id.in_(frontier))))
        frontier = [i for i in frontier if i not in ids]
        ids.extend(frontier)
    return ids


# --- computing the answer -----------------------------------------------------------------------


@dataclass
class _Facts:
    """What the database says about one customer at one moment, before the purpose is applied."""

    at: datetime
    case_reasons: list[Reason] = field(default_factory=list)
    opt_outs: dict[str, ContactPreference] = field(default_factory=dict)  # purpose -> row
    next_due: datetime | None = None  # an open promise falling due later: the answer may change then

    def answer(self, *, customer_id: int, purpose: str) -> Answer:
        reasons: list[Reason] = []
        applies = ("all",) if purpose == "service" else (purpose, "all")
        for key in applies:
            pref = self.opt_outs.get(key)
            if pref is not None and pref.opted_out_at is not None:
                what = "everything" if key == "all" else key
                reasons.append(
                    Reason(
                        code="opted_out",
                        detail=f"opted out of {what} ({pref.source})",
                        since=pref.opted_out_at,
                        until=None,
                    )
                )
        if purpose != "service":
            # Service (answering their own case) goes on whatever the mood; only an opt-out stops it.
            reasons.extend(self.case_reasons)
        contactable = not reasons
        until = None
        if not contactable and all(r.until is not None for r in reasons):
            until = max(r.until for r in reasons if r.until is not None)
        return Answer(
            customer_id=customer_id,
            contactable=contactable,
            purpose=purpose,  # type: ignore[arg-type]
            reasons=reasons,
            until=until,
            until_condition=_until_condition(reasons) if not contactable and until is None else None,
            checked_at=self.at,
        )

    def next_change(self) -> datetime | None:
        moments = [r.until for r in self.case_reasons if r.until is not None and r.until > self.at]
        if self.next_due is not None:
            moments.append(self.next_due)
        return min(moments) if moments else None


# What ends a reason that has no date of its own, in the words a campaign manager reads.
_ENDS_WHEN = {
    "opted_out": "the customer opts back in",
    "open_complaint": "the open complaint is resolved",
    "churn_threat": "the case where they threatened to leave is resolved",
    "legal_threat": "the case where they threatened legal action is resolved",
    "public_escalation_threat": "the case where they threatened to go public is resolved",
    "overdue_commitment": "the overdue promise is kept",
}


def _until_condition(reasons: list[Reason]) -> str:
    ends = list(dict.fromkeys(_ENDS_WHEN.get(r.code, r.detail) for r in reasons if r.until is None))
    text = ", and ".join(ends) if len(ends) < 3 else ", ".join(ends[:-1]) + ", and " + ends[-1]
    if any(r.code != "opted_out" and r.until is None for r in reasons):
        text += f"; then a {COOLING_PERIOD.days}-day cooling period without a negative word"
    return text[:1].upper() + text[1:]


def _day(at: datetime) -> str:
    return at.strftime("%Y-%m-%d")


def _part(triage: dict[str, Any] | None, name: str) -> dict[str, Any]:
    """One section of a stored triage result (Analysis.model_dump()), {} when absent."""
    value = (triage or {}).get(name)
    return value if isinstance(value, dict) else {}


def _facts(session: Session, family: list[int], at: datetime) -> _Facts:
    facts = _Facts(at=at)
    conversations = {
        c.id: c for c in session.scalars(select(Conversation).where(Conversation.customer_id.in_(family)))
    }

    def resolved_at(conversation_id: int | None) -> datetime | None:
        """When its case was resolved, as seen at `at` (None: still open then)."""
        c = conversations.get(conversation_id) if conversation_id is not None else None
        if c is None or c.status != "resolved" or c.resolved_at is None or c.resolved_at > at:
            return None
        return c.resolved_at

    # Conversations that can still give a complaint reason: unresolved, or resolved recently enough
    # for the cooling period (or a negative last word after it) to hold.
    live_ids = [
        cid
        for cid in conversations
        if (resolved := resolved_at(cid)) is None or resolved + COOLING_PERIOD + TREND_WINDOW > at
    ]
    window_start = at - max(THREAT_WINDOW, TREND_WINDOW)
    condition = Message.occurred_at > window_start
    if live_ids:
        condition = or_(condition, Message.conversation_id.in_(live_ids))
    inbound = session.execute(
        select(Message.id, Message.conversation_id, Message.occurred_at, Message.triage)
        .where(
            Message.customer_id.in_(family),
            Message.direction == "in",
            Message.occurred_at <= at,
            condition,
        )
        .order_by(Message.occurred_at, Message.id)
    ).all()

    # Complaints: open ones block until resolved; resolved ones cool down.
    moods = [
        (occurred_at, _part(triage, "sentiment").get("label"))
        for _id, _c, occurred_at, triage in inbound
        if _part(triage, "sentiment")
    ]
    last_mood = moods[-1] if moods else None
    last_word = "message"
    # A CSAT answer more recent than their last message is their last word.
    rating = last_rating(session=session, customer_ids=family, at=at)
    if rating is not None and (last_mood is None or rating.answered_at >= last_mood[0]):
        last_mood, last_word = (rating.answered_at, rating.mood), f"rating ({rating.score}/5)"
    complaint_since: dict[int, datetime] = {}
    for _id, conversation_id, occurred_at, triage in inbound:
        complaint = _part(triage, "complaint")
        if conversation_id in live_ids and complaint.get("label"):
            complaint_since.setdefault(conversation_id, occurred_at)
    for conversation_id, since in complaint_since.items():
        resolved = resolved_at(conversation_id)
        if resolved is None:
            facts.case_reasons.append(
                Reason(
                    code="open_complaint",
                    detail=f"complaint in conversation {conversation_id}, open since {_day(since)}",
                    since=since,
                    until=None,
                )
            )
        else:
            # Released after the cooling period only if their last word was not negative; a negative
            # one (message or rating) holds it until it is TREND_WINDOW old.
            until = resolved + COOLING_PERIOD
            detail = (
                f"complaint in conversation {conversation_id} resolved on {_day(resolved)}; "
                f"cooling period of {COOLING_PERIOD.days} days"
            )
            if last_mood is not None and last_mood[1] == "negative" and last_mood[0] + TREND_WINDOW > until:
                until = last_mood[0] + TREND_WINDOW
                detail += f"; their last {last_word} ({_day(last_mood[0])}) was negative"
            if until > at:
                facts.case_reasons.append(
                    Reason(code="recently_resolved_complaint", detail=detail, since=resolved, until=until)
                )

    # Threats last THREAT_WINDOW, or until their case is resolved and has cooled down if sooner.
    for intent, words in THREATS.items():
        active: list[tuple[datetime, datetime]] = []
        for _id, conversation_id, occurred_at, triage in inbound:
            probability = _part(triage, "intents").get(intent, 0.0)
            if occurred_at <= at - THREAT_WINDOW or float(probability) < THREAT_THRESHOLD:
                continue
            ends = occurred_at + THREAT_WINDOW
            resolved = resolved_at(conversation_id)
            if resolved is not None:
                ends = min(ends, resolved + COOLING_PERIOD)
            if ends > at:
                active.append((occurred_at, ends))
        if active:
            last = max(a[0] for a in active)
            facts.case_reasons.append(
                Reason(
                    code=intent,
                    detail=f"{words} on {_day(last)}"
                    + (f" ({len(active)} times in {THREAT_WINDOW.days} days)" if len(active) > 1 else ""),
                    since=min(a[0] for a in active),
                    until=max(a[1] for a in active),
                )
            )

    # Negative trend: the latest inbound message is negative and so are most of the last three.
    recent = [mood for mood in moods if mood[0] > at - TREND_WINDOW][-3:]
    negatives = [occurred_at for occurred_at, label in recent if label == "negative"]
    if recent and recent[-1][1] == "negative" and len(negatives) >= 2:
        facts.case_reasons.append(
            Reason(
                code="negative_trend",
                detail=f"{len(negatives)} of the last {len(recent)} messages negative, the latest on "
                f"{_day(recent[-1][0])}",
                since=negatives[0],
                # Ends when the second most recent negative message leaves the window.
                until=negatives[-2] + TREND_WINDOW,
            )
        )

    # Promises: an overdue one blocks until kept; a future one may become overdue.
    commitments = session.scalars(
        select(Commitment)
        .where(Commitment.customer_id.in_(family), Commitment.status == "open")
        .order_by(Commitment.due_at)
    ).all()
    for commitment in commitments:
        if commitment.due_at < at:
            facts.case_reasons.append(
                Reason(
                    code="overdue_commitment",
                    detail=f'promise "{commitment.text}" was due on {_day(commitment.due_at)}',
                    since=commitment.due_at,
                    until=None,
                )
            )
        elif facts.next_due is None:
            facts.next_due = commitment.due_at

    # "recent_crisis" (a public crisis around the brand) comes with the listening issue.

    for pref in session.scalars(select(ContactPreference).where(ContactPreference.customer_id.in_(family))):
        if pref.opted_out_at is not None and pref.opted_out_at <= at:
            current = facts.opt_outs.get(pref.purpose)
            if current is None or (current.opted_out_at or at) > pref.opted_out_at:
                facts.opt_outs[pref.purpose] = pref
    return facts


def compute(*, session: Session, customer_id: int, purpose: str, at: datetime | None = None) -> Answer:
    """The answer for a customer (any id, merged ones follow to the live profile) at `at` (now)."""
    if purpose not in PURPOSES:
        raise Invalid(f"purpose must be one of {', '.join(PURPOSES)}", field="purpose")
    customer = resolve(session=session, customer_id=customer_id)
    at = at or now(session=session)
    facts = _facts(session, _family(session, customer.id), at)
    return facts.answer(customer_id=customer.id, purpose=purpose)


def ask(
    *,
    session: Session,
    purpose: str,
    principal: Actor,
    identity: str | None = None,
    customer_id: int | None = None,
) -> Answer:
    """Answer a caller and log the question, the caller and the answer. An unknown identity raises
    NotFound; the caller logs that question with `log_unanswered` in a transaction of its own."""
    if purpose not in PURPOSES:
        raise Invalid(f"purpose must be one of {', '.join(PURPOSES)}", field="purpose")
    if (identity is None) == (customer_id is None):
        raise Invalid("give exactly one of identity or customer_id", field="identity")
    at = now(session=session)
    log_row = ContactabilityQuery(
        at=at,
        principal_type=principal.type,
        principal_id=principal.id,
        principal_name=principal.name,
        identity=identity,
        customer_id=customer_id,
        purpose=purpose,
        contactable=None,
        reasons=[],
        until=None,
    )
    if identity is not None:
        customer = customer_for_identity(session=session, identity=identity)
    else:
        assert customer_id is not None
        customer = resolve(session=session, customer_id=customer_id)
    answer = compute(session=session, customer_id=customer.id, purpose=purpose, at=at)
    log_row.customer_id = customer.id
    log_row.contactable = answer.contactable
    log_row.reasons = [r.code for r in answer.reasons]
    log_row.until = answer.until
    session.add(log_row)
    return answer


def log_unanswered(
    *, session: Session, purpose: str, principal: Actor, identity: str | None, customer_id: int | None
) -> ContactabilityQuery:
    row = ContactabilityQuery(
        at=now(session=session),
        principal_type=principal.type,
        principal_id=principal.id,
        principal_name=principal.name,
        identity=identity,
        customer_id=None,
        purpose=purpose,
        contactable=None,
        reasons=[],
        until=None,
    )
    session.add(row)
    return row


def queries_of(*, session: Session, customer_id: int, limit: int = 100) -> list[ContactabilityQuery]:
    return list(
        session.scalars(
            select(ContactabilityQuery)
            .where(ContactabilityQuery.customer_id.in_(_family(session, customer_id)))
            .order_by(ContactabilityQuery.id.desc())
            .limit(limit)
        )
    )


# --- opt-outs -----------------------------------------------------------------------------------


def set_preference(
    *,
    session: Session,
    purpose: str,
    opted_out: bool,
    source: str,
    actor: Actor,
    customer_id: int | None = None,
    identity: str | None = None,
) -> ContactPreference:
    if purpose not in PREFERENCE_PURPOSES:
        raise Invalid(f"purpose must be one of {', '.join(PREFERENCE_PURPOSES)}", field="purpose")
    if identity is not None:
        customer = customer_for_identity(session=session, identity=identity)
    elif customer_id is not None:
        customer = resolve(session=session, customer_id=customer_id)
    else:
        raise Invalid("give exactly one of customer_id or identity", field="customer_id")
    lock_customer(session, customer.id)
    at = now(session=session)
    pref = session.scalar(
        select(ContactPreference).where(
            ContactPreference.customer_id == customer.id, ContactPreference.purpose == purpose
        )
    )
    if pref is None:
        pref = ContactPreference(customer_id=customer.id, purpose=purpose, source=source, updated_at=at)
        session.add(pref)
    if opted_out:
        pref.opted_out_at = pref.opted_out_at or at
    else:
        pref.opted_out_at = None
        pref.opted_in_at = at
    pref.source = source
    pref.updated_at = at
    # An opt-out on a merged-away profile no longer applies once the customer says otherwise here.
    if not opted_out:
        for other in session.scalars(
            select(ContactPreference).where(
                ContactPreference.customer_id.in_(_family(session, customer.id)),
                ContactPreference.purpose == purpose,
                ContactPreference.opted_out_at.is_not(None),
            )
        ):
            other.opted_out_at = None
            other.opted_in_at = at
    session.flush()
    publish(
        session=session,
        type="contact_preference.changed",
        actor=actor,
        customer_id=customer.id,
        payload={"purpose": purpose, "opted_out": opted_out, "source": source},
    )
    refresh(session=session, customer_id=customer.id, cause="contact_preference.changed")
    return pref


def preferences_of(*, session: Session, customer_id: int) -> list[ContactPreference]:
    customer = resolve(session=session, customer_id=customer_id)
    return list(
        session.scalars(
            select(ContactPreference)
            .where(ContactPreference.customer_id.in_(_family(session, customer.id)))
            .order_by(ContactPreference.purpose, ContactPreference.id)
        )
    )


# --- pushing flips ------------------------------------------------------------------------------


def _push_payload(customer: Customer, answer: Answer, cause: str) -> dict[str, Any]:
    return {
        "customer_id": customer.id,
        "purpose": answer.purpose,
        "contactable": answer.contactable,
        "action": "release" if answer.contactable else "suppress",
        "reasons": [r.model_dump(mode="json") for r in answer.reasons],
        "until": answer.until.isoformat() if answer.until else None,
        # Campaign tools key their suppression lists on these.
        "identities": [{"channel": i.channel, "value": i.value} for i in customer.identities],
        "occurred_at": answer.checked_at.isoformat(),
        "cause": cause,
    }


def refresh(*, session: Session, customer_id: int, cause: str) -> list[ContactabilityState]:
    """Recompute the tracked purposes, push what flipped, and set the timer for the next change."""
    try:
        customer = resolve(session=session, customer_id=customer_id)
    except NotFound:
        return []
    # One refresher per customer at a time, so two transactions cannot push the same flip twice
    # (ingest locks a batch's customers up front: not asked for again).
    if not txcache.is_locked(session, "customers", customer.id):
        lock_customer(session, customer.id)
    at = now(session=session)
    facts = _facts(session, _family(session, customer.id), at)
    states = []
    known = {
        row.purpose: row
        for row in session.scalars(
            select(ContactabilityState).where(
                ContactabilityState.customer_id == customer.id,
                ContactabilityState.purpose.in_(TRACKED_PURPOSES),
            )
        )
    }  # both purposes in one query: this runs for most inbound messages
    for purpose in TRACKED_PURPOSES:
        answer = facts.answer(customer_id=customer.id, purpose=purpose)
        state = known.get(purpose)
        if state is None:
            if answer.contactable:
                continue  # no row means never pushed: campaign tools treat such customers as contactable
            state = ContactabilityState(
                customer_id=customer.id, purpose=purpose, contactable=True, reasons=[], computed_at=at
            )
            session.add(state)
        flipped = state.contactable != answer.contactable
        codes = [r.code for r in answer.reasons]
        # Written only when something changed: this runs for every inbound message.
        if flipped or state.until != answer.until or state.reasons != codes:
            state.contactable = answer.contactable
            state.until = answer.until
            state.reasons = codes
            state.computed_at = at
        if flipped:
            state.pushed_at = at
            event = "contactability.released" if answer.contactable else "contactability.suppressed"
            payload = _push_payload(customer, answer, cause)
            publish(session=session, type=event, customer_id=customer.id, payload=payload)
            webhooks.enqueue(session=session, event=event, payload=payload)
        states.append(state)
    key = f"contactability:{customer.id}"
    next_change = facts.next_change()
    if next_change is not None:
        schedule(
            session=session,
            kind=RECHECK_TIMER,
            key=key,
            due_at=next_change,
            payload={"customer_id": customer.id},
            rearm=True,
        )
    else:
        cancel(session=session, key=key)
    return states


@on(RECHECK_TIMER)
def _recheck(*, session: Session, timer: Timer, at: datetime) -> None:
    refresh(session=session, customer_id=int(str(timer.payload["customer_id"])), cause="timer")


def _guarded(session: Session, what: str, fn: Any, **kwargs: Any) -> None:
    """Run a reaction in a savepoint: a fault here must never fail the message pipeline."""
    try:
        with session.begin_nested():
            fn(session=session, **kwargs)
    except Exception:
        log.exception("contactability: %s failed", what)


# --- reacting to the other domains --------------------------------------------------------------


@subscribe("message.triaged")
def _on_message_triaged(*, session: Session, event: Event) -> None:
    if event.message_id is None:
        return
    message = session.get(Message, event.message_id)
    if message is None or message.customer_id is None:
        return
    if message.direction == "in":
        if _cannot_suppress(message) and not _suppressed_now(session, message.customer_id):
            # A calm message cannot make a contactable customer uncontactable (every reason needs
            # a complaint, a threat or a negative word), and this runs on every message.
            return
        _guarded(session, "refresh", refresh, customer_id=message.customer_id, cause="message.triaged")
        return
    purpose = (message.meta or {}).get("purpose")
    if purpose in OUTREACH_PURPOSES:
        _guarded(session, "violation check", check_outreach, message=message, purpose=str(purpose))


def _cannot_suppress(message: Message) -> bool:
    triage: dict[str, Any] = dict(message.triage or {})
    complaint = (triage.get("complaint") or {}).get("label")
    negative = (triage.get("sentiment") or {}).get("label") == "negative"
    intents = triage.get("intents") or {}
    threats = any(intents.get(name, 0.0) >= THREAT_THRESHOLD for name in THREATS)
    return not (complaint or negative or threats)


def _suppressed_now(session: Session, customer_id: int) -> bool:
    return (
        session.scalar(
            select(ContactabilityState.customer_id)
            .where(ContactabilityState.customer_id == customer_id, ContactabilityState.contactable.is_(False))
            .limit(1)
        )
        is not None
    )


@subscribe("conversation.updated")
def _on_conversation_updated(*, session: Session, event: Event) -> None:
    if event.customer_id is not None and "status" in (event.payload or {}):
        _guarded(session, "refresh", refresh, customer_id=event.customer_id, cause="conversation.updated")


@subscribe(
    "customer.merged",
    "rating.received",
    "commitment.created",
    "commitment.proposed",
    "commitment.confirmed",
    "commitment.updated",
    "commitment.fulfilled",
    "commitment.cancelled",
    "commitment.overdue",
)
def _on_customer_change(*, session: Session, event: Event) -> None:
    if event.customer_id is not None:
        _guarded(session, "refresh", refresh, customer_id=event.customer_id, cause=event.type)


@subscribe("customer.merge_undone")
def _on_merge_undone(*, session: Session, event: Event) -> None:
    # Both profiles again: each answers for its own cases and promises.
    target_id = (event.payload or {}).get("target_id")
    for customer_id in (event.customer_id, target_id):
        if isinstance(customer_id, int):
            _guarded(session, "refresh", refresh, customer_id=customer_id, cause=event.type)


# --- flagging outreach to a customer who was "do not contact" ------------------------------------


def _outreach_agent(session: Session, message: Message) -> Agent | None:
    if message.agent_id is not None:
        return session.get(Agent, message.agent_id)
    meta = message.meta or {}
    if isinstance(meta.get("agent_id"), int):
        return session.get(Agent, meta["agent_id"])
    email = meta.get("agent_email")
    if isinstance(email, str):
        return session.scalar(select(Agent).where(Agent.email == email.strip().lower()))
    return None


def check_outreach(*, session: Session, message: Message, purpose: str) -> Event | None:
    """A sales or marketing contact logged for a customer who was not contactable then: flag it."""
    assert message.customer_id is not None
    answer = compute(
        session=session, customer_id=message.customer_id, purpose=purpose, at=message.occurred_at
    )
    if answer.contactable:
        return None
    agent = _outreach_agent(session, message)
    conversation = session.get(Conversation, message.conversation_id) if message.conversation_id else None
    if agent is not None:
        recipients = leads_of(session=session, agent_id=agent.id)
    elif conversation is not None and conversation.team_id is not None:
        recipients = leads_of(session=session, team_id=conversation.team_id)
    else:
        recipients = managers(session=session)
    codes = ", ".join(dict.fromkeys(r.code.replace("_", " ") for r in answer.reasons))
    who = agent.name if agent is not None else "someone"
    text = (
        f"{who} made a {purpose} contact on {message.channel} to a customer marked do-not-contact ({codes})"
    )
    payload = {
        "message_id": message.id,
        "customer_id": answer.customer_id,
        "purpose": purpose,
        "channel": message.channel,
        "agent_id": agent.id if agent is not None else None,
        "occurred_at": message.occurred_at.isoformat(),
        "reasons": [r.model_dump(mode="json") for r in answer.reasons],
        "until": answer.until.isoformat() if answer.until else None,
    }
    violation = publish(
        session=session,
        type="contactability.violation",
        actor=SYSTEM,
        customer_id=answer.customer_id,
        conversation_id=message.conversation_id,
        message_id=message.id,
        payload=payload,
    )
    notify(
        session=session,
        agent_ids=recipients,
        kind="contactability.violation",
        text=text,
        conversation_id=message.conversation_id,
        customer_id=answer.customer_id,
        payload=payload,
    )
    webhooks.enqueue(session=session, event="contactability.violation", payload=payload)
    return violation
