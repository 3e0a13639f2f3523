"""Threading, conversation state, replies and notes. The only code that changes them."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from cuida.clock.service import now, wall_now
from cuida.common.errors import Conflict, Invalid, NotFound
from cuida.common.pagination import decode_cursor, encode_cursor
from cuida.conversations.models import PRIORITIES, Conversation, Delivery, Message
from cuida.conversations.schemas import AssignRequest, ConversationUpdate, NoteCreate, ReplyCreate
from cuida.customers.identity import PHONE_CHANNELS
from cuida.customers.models import Customer, Identity
from cuida.db.base import affected_rows
from cuida.events.models import Event
from cuida.events.service import SYSTEM, Actor, publish, subscribe
from cuida.notifications.models import Notification
from cuida.notifications.service import leads_of, notify
from cuida.search.text import fold, index_text

OPEN_STATES = ("open", "pending", "snoozed")


def get_conversation(*, session: Session, conversation_id: int) -> Conversation:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound(f"conversation {conversation_id} does not exist")
    return conversation


def lock_customer(session: Session, customer_id: int) -> None:
    """Serialise threading per customer, so two workers never open two conversations at once."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(Customer.id).where(Customer.id == customer_id).with_for_update())
    # SQLite: every write transaction already holds the database write lock (BEGIN IMMEDIATE).


def thread_message(*, session: Session, message: Message, customer_id: int) -> tuple[Conversation, bool]:
    """Put a message into its conversation: the one it replies to, else the customer's open
    conversation on the same channel, else (for a private inbound message) the customer's open
    private conversation on any channel, else a new one. Returns (conversation, created)."""
    lock_customer(session, customer_id)
    conversation = None
    if _is_outreach(message):
        return _new_conversation(session, message, customer_id, status="resolved"), True
    if message.in_reply_to:
        parent_conversation = session.scalar(
            select(Message.conversation_id).where(
                Message.channel == message.channel, Message.external_id == message.in_reply_to
            )
        )
        if parent_conversation is not None:
            conversation = session.get(Conversation, parent_conversation)
    if conversation is None:
        conversation = session.scalar(
            select(Conversation)
            .where(
                Conversation.customer_id == customer_id,
                Conversation.channel == message.channel,
                Conversation.status.in_(OPEN_STATES),
            )
            .order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
            .limit(1)
        )
    if conversation is None and message.direction == "in" and not message.public:
        # A customer who writes privately on another channel about an open case (a web form after
        # a complaint in the shop) continues that case, not a new ticket. Public posts keep their
        # own thread: they are answered in public, where they were written.
        conversation = session.scalar(
            select(Conversation)
            .where(
                Conversation.customer_id == customer_id,
                Conversation.is_public.is_(False),
                Conversation.status.in_(OPEN_STATES),
            )
            .order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
            .limit(1)
        )
    if conversation is None:
        return _new_conversation(session, message, customer_id), True
    message.conversation_id = conversation.id
    message.customer_id = customer_id
    _count_message(conversation, message, now(session=session))
    return conversation, False


# Logged contacts made to sell, not to care (message metadata `purpose`); contactability checks them.
OUTREACH_PURPOSES = ("sales", "marketing")


def _is_outreach(message: Message) -> bool:
    """A sales or marketing contact logged for the record: it is not part of any care case (it must
    not answer a complaint's clock, nor gather the customer's next message into a sales thread)."""
    return message.direction == "out" and (message.meta or {}).get("purpose") in OUTREACH_PURPOSES


def _new_conversation(
    session: Session, message: Message, customer_id: int, status: str = "open"
) -> Conversation:
    at = now(session=session)
    subject = (message.text or "").strip().split("\n", 1)[0][:120] or None
    conversation = Conversation(
        customer_id=customer_id,
        channel=message.channel,
        channels=[message.channel],
        status=status,
        priority=1,
        subject=subject,
        risk_score=0.0,
        is_public=message.public,
        message_count=0,
        created_at=at,
        updated_at=at,
        last_message_at=message.occurred_at,
        resolved_at=at if status == "resolved" else None,
    )
    session.add(conversation)
    session.flush()
    message.conversation_id = conversation.id
    message.customer_id = customer_id
    _count_message(conversation, message, at)
    return conversation


def _count_message(conversation: Conversation, message: Message, at: datetime) -> None:
    conversation.message_count += 1
    conversation.updated_at = at
    if message.occurred_at > conversation.last_message_at:
        conversation.last_message_at = message.occurred_at
    if message.channel not in (conversation.channels or []):
        conversation.channels = [*(conversation.channels or []), message.channel]
    if message.public:
        conversation.is_public = True
    if message.direction == "in":
        if conversation.last_inbound_at is None or message.occurred_at > conversation.last_inbound_at:
            conversation.last_inbound_at = message.occurred_at
        if conversation.status in ("pending", "snoozed", "resolved"):
            # The customer wrote again: it needs someone's attention.
            conversation.status = "open"
            conversation.resolved_at = None
    elif message.direction == "out" and conversation.first_response_at is None:
        conversation.first_response_at = message.occurred_at


SORTS = {
    # The default: most urgent first, then riskiest, then the one waiting longest.
    "priority": (
        Conversation.priority.desc(),
        Conversation.risk_score.desc(),
        Conversation.last_message_at.asc(),
    ),
    "-updated": (Conversation.updated_at.desc(),),
    "updated": (Conversation.updated_at.asc(),),
    "-created": (Conversation.created_at.desc(),),
    "created": (Conversation.created_at.asc(),),
    "-risk": (Conversation.risk_score.desc(),),
}


def list_conversations(
    *,
    session: Session,
    status: list[str] | None = None,
    assignee_id: int | None = None,
    unassigned: bool = False,
    team_id: int | None = None,
    channel: str | None = None,
    customer_id: int | None = None,
    priority: str | None = None,
    min_risk: float | None = None,
    sort: str = "priority",
    cursor: str | None = None,
    limit: int = 50,
    visible: Any = None,
) -> tuple[list[Conversation], str | None]:
    """`visible`: a WHERE clause limiting the list to what the caller may see (conversations.access)."""
    if sort not in SORTS:
        raise Invalid(f"sort must be one of {', '.join(SORTS)}", field="sort")
    query = select(Conversation)
    if visible is not None:
        query = query.where(visible)
    if status:
        query = query.where(Conversation.status.in_(status))
    if assignee_id is not None:
        query = query.where(Conversation.assignee_id == assignee_id)
    if unassigned:
        query = query.where(Conversation.assignee_id.is_(None))
    if team_id is not None:
        query = query.where(Conversation.team_id == team_id)
    if channel:
        query = query.where(Conversation.channel == channel)
    if customer_id is not None:
        query = query.where(Conversation.customer_id == customer_id)
    if priority:
        query = query.where(Conversation.priority == PRIORITIES.index(priority))
    if min_risk is not None:
        query = query.where(Conversation.risk_score >= min_risk)
    # Keyset pagination over (sort columns..., id): the cursor holds the last row's values.
    order = SORTS[sort]
    if cursor:
        values = decode_cursor(cursor)
        if len(values) != len(order) + 1:
            raise Invalid("cursor does not belong to this sort", field="cursor")
        query = query.where(_after(order, values))
    query = query.order_by(*order, Conversation.id.asc()).limit(limit + 1)
    rows = list(session.scalars(query))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor([_sort_value(rows[-1], col) for col in order] + [rows[-1].id])
    return rows, next_cursor


def _column_of(order_clause: Any) -> Any:
    return order_clause.element


def _is_desc(order_clause: Any) -> bool:
    return "DESC" in str(order_clause).upper()


def _sort_value(row: Conversation, order_clause: Any) -> Any:
    value = getattr(row, _column_of(order_clause).key)
    return value.isoformat() if isinstance(value, datetime) else value


def _after(order: tuple[Any, ...], values: list[Any]) -> Any:
    """Rows strictly after `values` in (order..., id ASC), built as nested OR/AND."""
    columns = [_column_of(o) for o in order]
    parsed = []
    for col, value in zip(columns, values, strict=False):
        if isinstance(value, str) and col.key.endswith("_at"):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                raise Invalid("cursor is not one this server gave out", field="cursor") from None
        parsed.append(value)
    last_id = values[-1]
    condition: Any = Conversation.id > last_id
    for o, col, value in reversed(list(zip(order, columns, parsed, strict=False))):
        beyond = col < value if _is_desc(o) else col > value
        condition = or_(beyond, and_(col == value, condition))
    return condition


def update_conversation(
    *, session: Session, conversation_id: int, data: ConversationUpdate, actor: Actor
) -> Conversation:
    conversation = get_conversation(session=session, conversation_id=conversation_id)
    changes: dict[str, Any] = {}
    at = now(session=session)
    if data.status is not None and data.status != conversation.status:
        changes["status"] = [conversation.status, data.status]
        conversation.status = data.status
        conversation.resolved_at = at if data.status == "resolved" else None
    if data.priority is not None and PRIORITIES[conversation.priority] != data.priority:
        changes["priority"] = [PRIORITIES[conversation.priority], data.priority]
        conversation.priority = PRIORITIES.index(data.priority)
    if "team_id" in data.model_fields_set and data.team_id != conversation.team_id:
        _check_team(session, data.team_id)
        changes["team_id"] = [conversation.team_id, data.team_id]
        conversation.team_id = data.team_id
    if data.subject is not None and data.subject != conversation.subject:
        changes["subject"] = [conversation.subject, data.subject]
        conversation.subject = data.subject
    if changes:
        conversation.updated_at = at
        publish(
            session=session,
            type="conversation.updated",
            actor=actor,
            customer_id=conversation.customer_id,
            conversation_id=conversation.id,
            payload=changes,
        )
    return conversation


def _check_team(session: Session, team_id: int | None) -> None:
    from cuida.auth.models import Team

    if team_id is not None and session.get(Team, team_id) is None:
        raise Invalid(f"team {team_id} does not exist", field="team_id")


def assign(*, session: Session, conversation_id: int, data: AssignRequest, actor: Actor) -> Conversation:
    from cuida.auth.models import Agent

    conversation = get_conversation(session=session, conversation_id=conversation_id)
    if data.agent_id is not None:
        agent = session.get(Agent, data.agent_id)
        if agent is None or not agent.active:
            raise Invalid(f"agent {data.agent_id} does not exist or is inactive", field="agent_id")
    if "team_id" in data.model_fields_set:
        _check_team(session, data.team_id)
        conversation.team_id = data.team_id
    previous = conversation.assignee_id
    conversation.assignee_id = data.agent_id
    conversation.updated_at = now(session=session)
    publish(
        session=session,
        type="conversation.assigned",
        actor=actor,
        customer_id=conversation.customer_id,
        conversation_id=conversation.id,
        payload={"from": previous, "to": data.agent_id, "team_id": conversation.team_id},
    )
    return conversation


def _recipient_for(session: Session, conversation: Conversation, channel: str) -> str | None:
    """Where a reply on `channel` goes: the author of the latest inbound message there, else the
    customer's identity for that channel."""
    author = session.scalar(
        select(Message.author_value)
        .where(
            Message.conversation_id == conversation.id, Message.channel == channel, Message.direction == "in"
        )
        .order_by(Message.occurred_at.desc(), Message.id.desc())
        .limit(1)
    )
    if author:
        return author
    # Identities are kept per kind: a WhatsApp or SMS reply goes to the customer's phone identity,
    # a web form's answer to their email.
    kind = "phone" if channel in PHONE_CHANNELS else "email" if channel in ("email", "webform") else channel
    return session.scalar(
        select(Identity.value)
        .where(Identity.customer_id == conversation.customer_id, Identity.channel == kind)
        .order_by(Identity.id)
        .limit(1)
    )


def add_reply(
    *, session: Session, conversation_id: int, data: ReplyCreate, actor: Actor, agent_id: int | None
) -> tuple[Message, Delivery]:
    """Store an outbound reply and put it in the outbox; the channel adapter delivers it."""
    conversation = get_conversation(session=session, conversation_id=conversation_id)
    channel = data.channel or conversation.channel
    at = now(session=session)
    last_inbound = session.scalar(
        select(Message.external_id)
        .where(
            Message.conversation_id == conversation.id, Message.channel == channel, Message.direction == "in"
        )
        .order_by(Message.occurred_at.desc(), Message.id.desc())
        .limit(1)
    )
    message = Message(
        channel=channel,
        external_id=f"cuida:{uuid.uuid4()}",
        direction="out",
        conversation_id=conversation.id,
        customer_id=conversation.customer_id,
        agent_id=agent_id,
        author_name=actor.name,
        text=data.text,
        public=data.public,
        in_reply_to=last_inbound,
        occurred_at=at,
        received_at=at,
        meta={"recipient": data.recipient or _recipient_for(session, conversation, channel)},
        search_text=index_text(data.text),
        stage="done",
        processed_at=at,
        attempts=0,
    )
    session.add(message)
    _count_message(conversation, message, at)
    status = data.status or ("open" if _still_working_on_it(data.text) else "pending")
    before = conversation.status
    if status != before and (before == "open" or data.status):
        conversation.status = status
        conversation.resolved_at = at if status == "resolved" else None
    session.flush()
    delivery = Delivery(
        message_id=message.id,
        channel=channel,
        status="pending",
        attempts=0,
        next_attempt_at=wall_now(),
        created_at=at,
    )
    session.add(delivery)
    session.flush()
    publish(
        session=session,
        type="reply.created",
        actor=actor,
        customer_id=conversation.customer_id,
        conversation_id=conversation.id,
        message_id=message.id,
        payload={"channel": channel, "public": data.public, "delivery_id": delivery.id},
    )
    if conversation.status != before:
        publish(
            session=session,
            type="conversation.updated",
            actor=actor,
            customer_id=conversation.customer_id,
            conversation_id=conversation.id,
            message_id=message.id,
            payload={"status": [before, conversation.status]},
        )
    return message, delivery


# A reply that says the case is still being worked on leaves the ball with the team, not the customer.
_WORKING_ON_IT = re.compile(
    r"\b(en (?:estudio|tramite|revision|curso)|estamos (?:revisando|estudiando|analizando|mirando|"
    r"investigando|gestionando|tramitando|valorando)|lo (?:estamos )?(?:revisamos|estudiamos|miramos|"
    r"investigamos|valoramos)|under (?:review|investigation)|(?:we are|we're) (?:looking into|reviewing|"
    r"investigating|checking|working on))\b"
)


def _still_working_on_it(text: str) -> bool:
    return bool(_WORKING_ON_IT.search(fold(text)))


def add_note(
    *, session: Session, conversation_id: int, data: NoteCreate, actor: Actor, agent_id: int | None
) -> Message:
    conversation = get_conversation(session=session, conversation_id=conversation_id)
    at = now(session=session)
    message = Message(
        channel=conversation.channel,
        external_id=f"cuida-note:{uuid.uuid4()}",
        direction="note",
        conversation_id=conversation.id,
        customer_id=conversation.customer_id,
        agent_id=agent_id,
        author_name=actor.name,
        text=data.text,
        public=False,
        occurred_at=at,
        received_at=at,
        meta={},
        search_text=index_text(data.text),
        stage="done",
        processed_at=at,
        attempts=0,
    )
    session.add(message)
    conversation.updated_at = at
    session.flush()
    publish(
        session=session,
        type="note.created",
        actor=actor,
        customer_id=conversation.customer_id,
        conversation_id=conversation.id,
        message_id=message.id,
    )
    return message


def messages_of(*, session: Session, conversation_id: int, limit: int = 500) -> list[Message]:
    get_conversation(session=session, conversation_id=conversation_id)
    return list(
        session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation_id)
            .order_by(Message.occurred_at, Message.id)
            .limit(limit)
        )
    )


def deliveries_of(*, session: Session, conversation_id: int) -> list[tuple[Message, Delivery]]:
    get_conversation(session=session, conversation_id=conversation_id)
    rows = session.execute(
        select(Message, Delivery)
        .join(Delivery, Delivery.message_id == Message.id)
        .where(Message.conversation_id == conversation_id)
        .order_by(Delivery.id)
    )
    return [(m, d) for m, d in rows]


# --- delivery (the outbox) -------------------------------------------------------------------


def claim_delivery(*, session: Session, delivery_id: int, lease_seconds: int) -> bool:
    """Take a pending delivery for one worker; False if it is sent, failed or someone has it."""
    wall = wall_now()
    result = session.execute(
        update(Delivery)
        .where(
            Delivery.id == delivery_id,
            Delivery.status == "pending",
            Delivery.next_attempt_at <= wall,
            or_(Delivery.lease_until.is_(None), Delivery.lease_until < wall),
        )
        .values(lease_until=wall + timedelta(seconds=lease_seconds), attempts=Delivery.attempts + 1)
    )
    return affected_rows(result) == 1


def finish_delivery(
    *,
    session: Session,
    delivery_id: int,
    ok: bool,
    provider_id: str | None,
    error: str | None,
    retry: bool,
    max_attempts: int,
    retry_after: float | None = None,
) -> Delivery:
    delivery = session.get(Delivery, delivery_id)
    if delivery is None:
        raise NotFound(f"delivery {delivery_id} does not exist")
    if delivery.status != "pending":
        raise Conflict(f"delivery {delivery_id} is already {delivery.status}")
    message = session.get(Message, delivery.message_id)
    assert message is not None
    delivery.lease_until = None
    if ok:
        delivery.status = "sent"
        delivery.provider_id = provider_id
        delivery.sent_at = now(session=session)
        delivery.last_error = None
        kind = "reply.sent"
    elif retry and delivery.attempts < max_attempts:
        delivery.last_error = error
        # Exponential backoff in real seconds: 5s, 10s, 20s ... capped at an hour.
        # A provider's own "retry after" (a rate limit) is never cut short.
        backoff = max(min(3600, 5 * 2 ** (delivery.attempts - 1)), retry_after or 0)
        delivery.next_attempt_at = wall_now() + timedelta(seconds=backoff)
        kind = "reply.retrying"
    else:
        delivery.status = "failed"
        delivery.last_error = error
        kind = "reply.failed"
    publish(
        session=session,
        type=kind,
        customer_id=message.customer_id,
        conversation_id=message.conversation_id,
        message_id=message.id,
        payload={"delivery_id": delivery.id, "attempts": delivery.attempts, "error": delivery.last_error},
    )
    return delivery


def retry_failed_delivery(*, session: Session, delivery_id: int, actor: Actor = SYSTEM) -> Delivery:
    delivery = session.get(Delivery, delivery_id)
    if delivery is None:
        raise NotFound(f"delivery {delivery_id} does not exist")
    if delivery.status != "failed":
        raise Conflict(f"only a failed delivery can be retried; this one is {delivery.status}")
    delivery.status = "pending"
    delivery.attempts = 0
    delivery.next_attempt_at = wall_now()
    publish(session=session, type="reply.retry_requested", actor=actor, payload={"delivery_id": delivery.id})
    return delivery


def due_deliveries(*, session: Session, limit: int) -> list[int]:
    wall = wall_now()
    query = (
        select(Delivery.id)
        .where(
            Delivery.status == "pending",
            Delivery.next_attempt_at <= wall,
            or_(Delivery.lease_until.is_(None), Delivery.lease_until < wall),
        )
        .order_by(Delivery.next_attempt_at)
        .limit(limit)
    )
    return list(session.scalars(query))


# -- priority from what a message says ---------------------------------------------------------
# Triage sets a floor under the conversation's priority, never a ceiling: an agent's or a rule's
# higher choice stands, and a calm message never lowers a case that was raised. A threat to sue or
# to go public also tells the leads at once, whatever the SLA clocks say.
THREATS = ("legal_threat", "public_escalation_threat")
RAISING = ("churn_threat", "escalation_request", *THREATS)
REACH_FOR_URGENT = 1000  # followers: a public threat from an author this visible is urgent


def triage_priority(message: Message) -> tuple[int, list[str]]:
    """The priority a message's triage asks for (index into PRIORITIES), and why."""
    triage: dict[str, Any] = message.triage or {}
    intents = {k: float(v) for k, v in (triage.get("intents") or {}).items() if float(v) >= 0.5}
    reasons = [name.replace("_", " ") for name in RAISING if name in intents]
    level = PRIORITIES.index("normal")
    if reasons:
        level = PRIORITIES.index("high")
        visible = message.public and (message.author_followers or 0) >= REACH_FOR_URGENT
        if visible and any(name in intents for name in THREATS):
            level = PRIORITIES.index("urgent")
            reasons.append(f"public, {message.author_followers} followers")
    urgency: dict[str, Any] = triage.get("urgency") or {}
    if not reasons and urgency.get("label") == "high":
        level = PRIORITIES.index("high")
        reasons.append("urgent: " + ", ".join(urgency.get("reasons") or []))
    return level, reasons


def raise_priority_from_triage(*, session: Session, message: Message) -> Conversation | None:
    """Lift the conversation to what the message asks for; returns it when it was raised."""
    if message.conversation_id is None or message.direction != "in":
        return None
    conversation = session.get(Conversation, message.conversation_id)
    level, reasons = triage_priority(message)
    if conversation is None or level <= conversation.priority:
        return None
    before = PRIORITIES[conversation.priority]
    conversation.priority = level
    conversation.updated_at = now(session=session)
    publish(
        session=session,
        type="conversation.updated",
        customer_id=conversation.customer_id,
        conversation_id=conversation.id,
        message_id=message.id,
        payload={"priority": [before, PRIORITIES[level]], "reasons": reasons},
    )
    return conversation


THREAT_ALERT_QUIET = timedelta(hours=24)  # one alert per case and day, however many threats follow


def alert_threats(*, session: Session, message: Message) -> list[Notification]:
    """Tell the case's leads (managers when it has no team) of a threat to sue or to go public."""
    if message.conversation_id is None or message.direction != "in":
        return []
    triage: dict[str, Any] = message.triage or {}
    intents: dict[str, Any] = triage.get("intents") or {}
    threats = [name.replace("_", " ") for name in THREATS if float(intents.get(name, 0)) >= 0.5]
    conversation = session.get(Conversation, message.conversation_id)
    if not threats or conversation is None:
        return []
    at = now(session=session)
    recent = session.scalar(
        select(Notification.id)
        .where(
            Notification.conversation_id == conversation.id,
            Notification.kind == "conversation.threat",
            Notification.created_at > at - THREAT_ALERT_QUIET,
        )
        .limit(1)
    )
    if recent is not None:
        return []
    return notify(
        session=session,
        agent_ids=leads_of(session=session, team_id=conversation.team_id),  # managers without a team
        kind="conversation.threat",
        text=f"{' and '.join(threats).capitalize()} in conversation {conversation.id} "
        f"(priority {PRIORITIES[conversation.priority]})",
        conversation_id=conversation.id,
        customer_id=conversation.customer_id,
        payload={"threats": threats, "priority": PRIORITIES[conversation.priority], "message_id": message.id},
    )


@subscribe("message.triaged")
def _message_triaged(*, session: Session, event: Event) -> None:
    message = session.get(Message, event.message_id) if event.message_id is not None else None
    if message is not None:
        raise_priority_from_triage(session=session, message=message)
        alert_threats(session=session, message=message)
