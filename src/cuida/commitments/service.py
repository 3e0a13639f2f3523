"""The commitments domain's state changes (the only code here that writes and publishes events).

Life of a commitment: `proposed` (found in an outgoing reply) -> `open` (confirmed by an agent, or
created by one) -> `fulfilled` | `cancelled`. Two timers per pending commitment: at due_at the
owner and their leads are alerted (`commitment.due`), and an hour after that alert the leads again
if it is still pending (`commitment.escalate`). Proposals alert too: the customer read the promise
whether or not an agent reviewed the proposal."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cuida.auth.models import Agent, Team
from cuida.clock.service import now
from cuida.commitments.extract import propose_commitments
from cuida.commitments.models import Commitment
from cuida.commitments.schemas import CommitmentCreate, CommitmentUpdate
from cuida.common.errors import Conflict, Invalid, NotFound
from cuida.conversations.models import Conversation, Message
from cuida.customers.models import Customer
from cuida.customers.service import resolve
from cuida.events.models import Event
from cuida.events.service import SYSTEM, Actor, publish, subscribe
from cuida.notifications.service import leads_of, notify
from cuida.timers import service as timers
from cuida.timers.models import Timer

log = logging.getLogger(__name__)

PENDING = ("proposed", "open")
# Local time for "hoy", "mañana", "end of day" when reading replies. Per-team calendars (SLA) may
# replace this later; one zone is right for a Spanish care centre.
TIME_ZONE = "Europe/Madrid"
ESCALATE_AFTER = timedelta(hours=1)
OFFER_FOLLOW_UP = timedelta(hours=24)  # an offer taken up: answer the private message within a day
# Channels whose private messages are "direct messages" (a promise of a DM is kept by one of these).
SOCIAL = frozenset(
    {"twitter", "instagram", "facebook", "tiktok", "youtube", "linkedin", "telegram", "whatsapp"}
)
# Kinds a later outbound contact keeps on its own; a refund or a visit needs an agent to say so.
CONTACT_KINDS = ("contact", "callback")


def get(*, session: Session, commitment_id: int) -> Commitment:
    commitment = session.get(Commitment, commitment_id)
    if commitment is None:
        raise NotFound(f"commitment {commitment_id} does not exist")
    return commitment


def is_overdue(commitment: Commitment, at: datetime) -> bool:
    return commitment.status in PENDING and commitment.due_at <= at


def _payload(commitment: Commitment, **extra: Any) -> dict[str, Any]:
    return {
        "commitment_id": commitment.id,
        "kind": commitment.kind,
        "text": commitment.text,
        "status": commitment.status,
        "due_at": commitment.due_at.isoformat(),
        "owner_agent_id": commitment.owner_agent_id,
        "owner_team_id": commitment.owner_team_id,
        "channel": commitment.channel,
        **extra,
    }


def _publish(session: Session, type_: str, commitment: Commitment, actor: Actor, **extra: Any) -> None:
    publish(
        session=session,
        type=type_,
        actor=actor,
        customer_id=commitment.customer_id,
        conversation_id=commitment.conversation_id,
        message_id=commitment.message_id,
        payload=_payload(commitment, **extra),
    )


# --- timers -------------------------------------------------------------------------------------


def _key(commitment_id: int, step: str) -> str:
    return f"commitment:{commitment_id}:{step}"


def _arm(session: Session, commitment: Commitment) -> None:
    """(Re)schedule the due alert; the escalation is scheduled when the alert fires. Once alerted
    for the current due time (overdue_alerted_at set), nothing changes: no second alert. An offer
    raises no alert: it waits on the customer, and lapses at its due time if they never write."""
    if commitment.kind == "offer":
        timers.schedule(
            session=session,
            kind="commitment.offer_lapses",
            key=_key(commitment.id, "lapse"),
            due_at=commitment.due_at,
            conversation_id=commitment.conversation_id,
            payload={"commitment_id": commitment.id},
            rearm=True,
        )
        return
    if commitment.overdue_alerted_at is not None:
        return
    timers.cancel(session=session, key=_key(commitment.id, "escalate"))
    timers.schedule(
        session=session,
        kind="commitment.due",
        key=_key(commitment.id, "due"),
        due_at=commitment.due_at,
        conversation_id=commitment.conversation_id,
        payload={"commitment_id": commitment.id},
        rearm=True,  # a due date moved after its alert fired alerts again at the new time
    )


def _disarm(session: Session, commitment: Commitment) -> None:
    timers.cancel_prefix(session=session, prefix=f"commitment:{commitment.id}:")


def _recipients(session: Session, commitment: Commitment, *, owner: bool) -> list[int]:
    leads = leads_of(session=session, agent_id=commitment.owner_agent_id, team_id=commitment.owner_team_id)
    ids = set(leads)
    if owner and commitment.owner_agent_id is not None:
        ids.add(commitment.owner_agent_id)
    return sorted(ids)


def _who(session: Session, commitment: Commitment) -> str:
    customer = session.get(Customer, commitment.customer_id)
    name = getattr(customer, "name", None)
    return name or f"customer #{commitment.customer_id}"


def _local(at: datetime) -> str:
    return at.astimezone(ZoneInfo(TIME_ZONE)).strftime("%d/%m %H:%M")


def _pending_from_timer(session: Session, timer: Timer) -> Commitment | None:
    commitment_id = timer.payload.get("commitment_id")
    commitment = session.get(Commitment, commitment_id) if isinstance(commitment_id, int) else None
    if commitment is None or commitment.status not in PENDING:
        return None
    return commitment


@timers.on("commitment.due")
def _on_due(*, session: Session, timer: Timer, at: datetime) -> None:
    commitment = _pending_from_timer(session, timer)
    if commitment is None or commitment.due_at > at:
        return
    commitment.overdue_alerted_at = at
    unconfirmed = " (proposal not yet confirmed)" if commitment.status == "proposed" else ""
    notify(
        session=session,
        agent_ids=_recipients(session, commitment, owner=True),
        kind="commitment.due",
        text=f"Promise to {_who(session, commitment)} is due{unconfirmed}: {commitment.text} "
        f"(due {_local(commitment.due_at)})",
        conversation_id=commitment.conversation_id,
        customer_id=commitment.customer_id,
        payload={"commitment_id": commitment.id},
    )
    _publish(session, "commitment.overdue", commitment, SYSTEM, step="due")
    timers.schedule(
        session=session,
        kind="commitment.escalate",
        key=_key(commitment.id, "escalate"),
        due_at=at + ESCALATE_AFTER,
        conversation_id=commitment.conversation_id,
        payload={"commitment_id": commitment.id},
        rearm=True,
    )


@timers.on("commitment.offer_lapses")
def _on_offer_lapses(*, session: Session, timer: Timer, at: datetime) -> None:
    commitment = _pending_from_timer(session, timer)
    if commitment is None or commitment.kind != "offer" or commitment.due_at > at:
        return
    commitment.status = "cancelled"
    _publish(
        session, "commitment.lapsed", commitment, SYSTEM, reason="the customer did not take up the offer"
    )


def take_up_offers(*, session: Session, message: Message) -> list[Commitment]:
    """The customer wrote privately after we invited them to: each open offer becomes a promise to
    answer them there, due OFFER_FOLLOW_UP later, alerting like any other."""
    if message.direction != "in" or message.public or message.customer_id is None:
        return []
    customer_id = resolve(session=session, customer_id=message.customer_id).id
    offers = session.scalars(
        select(Commitment).where(
            Commitment.customer_id == customer_id,
            Commitment.kind == "offer",
            Commitment.status.in_(PENDING),
            Commitment.created_at <= message.occurred_at,
        )
    ).all()
    for offer in offers:
        timers.cancel(session=session, key=_key(offer.id, "lapse"))
        offer.kind = "contact"
        offer.text = "answer the customer's private message"
        offer.due_at = message.occurred_at + OFFER_FOLLOW_UP
        offer.status = "open"
        _arm(session, offer)
        _publish(session, "commitment.offer_taken_up", offer, SYSTEM, by_message_id=message.id)
    return list(offers)


@timers.on("commitment.escalate")
def _on_escalate(*, session: Session, timer: Timer, at: datetime) -> None:
    commitment = _pending_from_timer(session, timer)
    if commitment is None or commitment.due_at > at:
        return
    notify(
        session=session,
        agent_ids=_recipients(session, commitment, owner=False),
        kind="commitment.overdue_escalated",
        text=f"Still not kept, {_local(at)}: promise to {_who(session, commitment)}: {commitment.text} "
        f"(due {_local(commitment.due_at)})",
        conversation_id=commitment.conversation_id,
        customer_id=commitment.customer_id,
        payload={"commitment_id": commitment.id},
    )
    _publish(session, "commitment.overdue", commitment, SYSTEM, step="escalated")


# --- checks -------------------------------------------------------------------------------------


def _check_owner(session: Session, agent_id: int | None, team_id: int | None) -> None:
    if agent_id is not None:
        agent = session.get(Agent, agent_id)
        if agent is None or not agent.active:
            raise Invalid(f"agent {agent_id} does not exist or is not active", field="owner_agent_id")
    if team_id is not None and session.get(Team, team_id) is None:
        raise Invalid(f"team {team_id} does not exist", field="owner_team_id")


def _default_team(session: Session, conversation: Conversation | None, agent_id: int | None) -> int | None:
    if conversation is not None and conversation.team_id is not None:
        return conversation.team_id
    agent = session.get(Agent, agent_id) if agent_id is not None else None
    return agent.teams[0].id if agent is not None and agent.teams else None


def _must_be(commitment: Commitment, allowed: tuple[str, ...], action: str) -> None:
    if commitment.status not in allowed:
        raise Conflict(
            f"commitment {commitment.id} is {commitment.status}; only a "
            f"{' or '.join(allowed)} commitment can be {action}",
            details={"status": commitment.status},
        )


# --- agent actions ------------------------------------------------------------------------------


def create(
    *, session: Session, customer_id: int, data: CommitmentCreate, actor: Actor, agent_id: int | None
) -> Commitment:
    """A commitment an agent records by hand: open at once, owned by them unless they say otherwise."""
    customer = resolve(session=session, customer_id=customer_id)
    conversation = None
    if data.conversation_id is not None:
        conversation = session.get(Conversation, data.conversation_id)
        if conversation is None:
            raise Invalid(f"conversation {data.conversation_id} does not exist", field="conversation_id")
        if resolve(session=session, customer_id=conversation.customer_id).id != customer.id:
            raise Invalid(
                f"conversation {conversation.id} belongs to another customer", field="conversation_id"
            )
    owner = data.owner_agent_id if data.owner_agent_id is not None else agent_id
    team = (
        data.owner_team_id if data.owner_team_id is not None else _default_team(session, conversation, owner)
    )
    _check_owner(session, owner, team)
    commitment = Commitment(
        customer_id=customer.id,
        conversation_id=conversation.id if conversation else None,
        text=data.text,
        source_text=data.source_text,
        kind=data.kind,
        channel=data.channel,
        status="open",
        owner_agent_id=owner,
        owner_team_id=team,
        due_at=data.due_at.astimezone(UTC),
        created_at=now(session=session),
    )
    session.add(commitment)
    session.flush()
    _arm(session, commitment)
    _publish(session, "commitment.created", commitment, actor, source="agent")
    return commitment


def _apply(session: Session, commitment: Commitment, data: CommitmentUpdate) -> dict[str, list[Any]]:
    fields = data.model_dump(exclude_unset=True)
    _check_owner(session, fields.get("owner_agent_id"), fields.get("owner_team_id"))
    changes: dict[str, list[Any]] = {}
    for name, value in fields.items():
        if name in ("text", "kind", "due_at") and value is None:
            raise Invalid(f"{name} cannot be empty", field=name)
        if isinstance(value, datetime):
            value = value.astimezone(UTC)
        old = getattr(commitment, name)
        if old != value:
            changes[name] = [old.isoformat() if isinstance(old, datetime) else old, value]
            setattr(commitment, name, value)
    if "due_at" in changes:
        changes["due_at"][1] = commitment.due_at.isoformat()
        if commitment.due_at > now(session=session):
            commitment.overdue_alerted_at = None  # a new deadline: not overdue any more
    return changes


def confirm(
    *,
    session: Session,
    commitment_id: int,
    data: CommitmentUpdate | None,
    actor: Actor,
    agent_id: int | None,
) -> Commitment:
    """The agent accepts a proposal, optionally correcting it: it becomes open."""
    commitment = get(session=session, commitment_id=commitment_id)
    _must_be(commitment, ("proposed",), "confirmed")
    changes = _apply(session, commitment, data or CommitmentUpdate())
    if commitment.owner_agent_id is None and agent_id is not None:
        commitment.owner_agent_id = agent_id
        changes["owner_agent_id"] = [None, agent_id]
    commitment.status = "open"
    session.flush()
    _arm(session, commitment)
    _publish(session, "commitment.confirmed", commitment, actor, changes=changes)
    return commitment


def edit(*, session: Session, commitment_id: int, data: CommitmentUpdate, actor: Actor) -> Commitment:
    commitment = get(session=session, commitment_id=commitment_id)
    _must_be(commitment, PENDING, "edited")
    changes = _apply(session, commitment, data)
    if not changes:
        return commitment
    session.flush()
    if "due_at" in changes:
        _arm(session, commitment)
    _publish(session, "commitment.updated", commitment, actor, changes=changes)
    return commitment


def fulfil(
    *,
    session: Session,
    commitment_id: int,
    actor: Actor,
    note: str | None = None,
    by_message_id: int | None = None,
) -> Commitment:
    commitment = get(session=session, commitment_id=commitment_id)
    _must_be(commitment, PENDING, "fulfilled")
    commitment.status = "fulfilled"
    commitment.fulfilled_at = now(session=session)
    _disarm(session, commitment)
    extra: dict[str, Any] = {"how": "automatic" if by_message_id else "agent"}
    if by_message_id:
        extra["by_message_id"] = by_message_id
    if note:
        extra["note"] = note
    _publish(session, "commitment.fulfilled", commitment, actor, **extra)
    return commitment


def cancel(*, session: Session, commitment_id: int, actor: Actor, note: str | None = None) -> Commitment:
    commitment = get(session=session, commitment_id=commitment_id)
    _must_be(commitment, PENDING, "cancelled")
    previous = commitment.status
    commitment.status = "cancelled"
    _disarm(session, commitment)
    _publish(session, "commitment.cancelled", commitment, actor, previous=previous, note=note)
    return commitment


def list_commitments(
    *,
    session: Session,
    customer_id: int | None = None,
    statuses: list[str] | None = None,
    owner_agent_id: int | None = None,
    owner_team_id: int | None = None,
    overdue: bool | None = None,
    limit: int = 200,
) -> list[Commitment]:
    query = select(Commitment)
    if customer_id is not None:
        query = query.where(Commitment.customer_id == resolve(session=session, customer_id=customer_id).id)
    if statuses:
        query = query.where(Commitment.status.in_(statuses))
    if owner_agent_id is not None:
        query = query.where(Commitment.owner_agent_id == owner_agent_id)
    if owner_team_id is not None:
        query = query.where(Commitment.owner_team_id == owner_team_id)
    if overdue is not None:
        at = now(session=session)
        late = Commitment.status.in_(PENDING) & (Commitment.due_at <= at)
        query = query.where(late if overdue else ~late)
    return list(session.scalars(query.order_by(Commitment.due_at, Commitment.id).limit(limit)))


def overdue_for_customer(*, session: Session, customer_id: int) -> list[Commitment]:
    """Promises to this customer not kept in time (for contactability and the customer panel)."""
    return list_commitments(session=session, customer_id=customer_id, overdue=True)


# --- reactions to outgoing messages -------------------------------------------------------------


def _keeps(commitment: Commitment, message: Message, promised_on: str | None) -> bool:
    """Does this outbound message keep the promised contact?"""
    if commitment.kind not in CONTACT_KINDS or message.id == commitment.message_id:
        return False
    if message.occurred_at < commitment.created_at:
        return False
    channel = commitment.channel
    if channel is None:
        return True  # "we'll contact you": any contact does
    if channel == "dm":
        if message.public or message.channel not in SOCIAL:
            return False
        return promised_on not in SOCIAL or message.channel == promised_on
    return message.channel == channel


def fulfil_by_contact(*, session: Session, message: Message, actor: Actor = SYSTEM) -> list[Commitment]:
    """Fulfil the pending contact promises this outbound message keeps."""
    if message.direction != "out" or message.customer_id is None:
        return []
    customer_id = resolve(session=session, customer_id=message.customer_id).id
    candidates = session.scalars(
        select(Commitment).where(
            Commitment.customer_id == customer_id,
            Commitment.status.in_(PENDING),
            Commitment.kind.in_(CONTACT_KINDS),
        )
    ).all()
    kept = []
    for commitment in candidates:
        source = session.get(Message, commitment.message_id) if commitment.message_id else None
        if _keeps(commitment, message, source.channel if source else None):
            kept.append(
                fulfil(session=session, commitment_id=commitment.id, actor=actor, by_message_id=message.id)
            )
    return kept


def propose_from_message(*, session: Session, message: Message, actor: Actor = SYSTEM) -> list[Commitment]:
    """Store the promises an outgoing message makes as proposals for its author to confirm."""
    if message.direction != "out" or message.customer_id is None or not message.text:
        return []
    if session.scalar(select(Commitment.id).where(Commitment.message_id == message.id).limit(1)):
        return []  # already read (an event delivered twice)
    proposals = propose_commitments(message.text, message.language, message.occurred_at, tz=TIME_ZONE)
    if not proposals:
        return []
    conversation = session.get(Conversation, message.conversation_id) if message.conversation_id else None
    owner = message.agent_id if message.agent_id is not None else getattr(conversation, "assignee_id", None)
    team = _default_team(session, conversation, owner)
    customer_id = resolve(session=session, customer_id=message.customer_id).id
    at = now(session=session)
    created = []
    for proposal in proposals:
        commitment = Commitment(
            customer_id=customer_id,
            conversation_id=message.conversation_id,
            message_id=message.id,
            text=proposal.text,
            source_text=proposal.source_text,
            kind=proposal.kind,
            channel=proposal.channel,
            status="proposed",
            owner_agent_id=owner,
            owner_team_id=team,
            due_at=proposal.due_at,
            created_at=at,
        )
        session.add(commitment)
        session.flush()
        _arm(session, commitment)
        _publish(
            session,
            "commitment.proposed",
            commitment,
            actor,
            span=[proposal.start, proposal.end],
            due_phrase=proposal.due_phrase,
        )
        created.append(commitment)
    return created


def _actor_of(event: Event) -> Actor:
    return Actor(event.actor_type, event.actor_id, event.actor_name)


def _outbound(session: Session, event: Event) -> Message | None:
    if event.message_id is None:
        return None
    message = session.get(Message, event.message_id)
    return message if message is not None and message.direction == "out" else None


@subscribe("reply.created")
def _on_reply(*, session: Session, event: Event) -> None:
    message = _outbound(session, event)
    if message is None:
        return
    # Keep earlier promises first, so a reply never fulfils the promise it makes itself.
    fulfil_by_contact(session=session, message=message)
    propose_from_message(session=session, message=message, actor=_actor_of(event))


@subscribe("message.received")
def _on_logged_outbound(*, session: Session, event: Event) -> None:
    """An outbound message logged through ingest (a call made, a reply sent from the channel's own
    tool) counts as contact, and its promises are proposed like a reply's."""
    if (event.payload or {}).get("direction") != "out":
        return
    message = _outbound(session, event)
    if message is None:
        return
    fulfil_by_contact(session=session, message=message)
    propose_from_message(session=session, message=message, actor=_actor_of(event))


@subscribe("message.received")
def _on_inbound(*, session: Session, event: Event) -> None:
    if (event.payload or {}).get("direction") not in (None, "in") or event.message_id is None:
        return
    message = session.get(Message, event.message_id)
    if message is not None:
        take_up_offers(session=session, message=message)


@subscribe("customer.merge_undone")
def _on_merge_undone(*, session: Session, event: Event) -> None:
    """Promises made in the conversations that went back go back with them (registered before
    contactability's refresh, which reads them)."""
    payload = event.payload or {}
    target_id, returned = payload.get("target_id"), payload.get("conversation_ids")
    conversation_ids = [int(i) for i in returned] if isinstance(returned, list) else []
    if event.customer_id is None or not isinstance(target_id, int) or not conversation_ids:
        return
    session.execute(
        update(Commitment)
        .where(Commitment.customer_id == target_id, Commitment.conversation_id.in_(conversation_ids))
        .values(customer_id=event.customer_id)
    )


@subscribe("customer.merged")
def _on_merge(*, session: Session, event: Event) -> None:
    source_id = (event.payload or {}).get("source_id")
    if not isinstance(source_id, int) or event.customer_id is None:
        return
    session.execute(
        update(Commitment).where(Commitment.customer_id == source_id).values(customer_id=event.customer_id)
    )
