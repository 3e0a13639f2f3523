"""Customer profiles, identities, merging and the timeline. The only code that changes them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cuida.clock.service import now
from cuida.common.errors import Conflict, Invalid, NotFound
from cuida.common.pagination import decode_cursor, encode_cursor
from cuida.conversations.models import Conversation, Message
from cuida.customers.identity import IdentityError, identity_key
from cuida.customers.models import Customer, Identity
from cuida.customers.schemas import CustomerCreate, CustomerUpdate, IdentityIn
from cuida.db.base import affected_rows
from cuida.events.service import SYSTEM, Actor, publish
from cuida.search.text import fold, index_text


def _refresh_search_text(customer: Customer) -> None:
    parts = [customer.name, customer.company, " ".join(customer.tags or [])]
    values = " ".join(i.value for i in customer.identities)
    customer.search_text = f"{fold(' '.join(p for p in parts if p))} {values} {index_text(*parts)}".strip()


def resolve(*, session: Session, customer_id: int) -> Customer:
    """The live profile for an id, following merges."""
    customer = session.get(Customer, customer_id)
    seen = set()
    while customer is not None and customer.merged_into_id is not None and customer.id not in seen:
        seen.add(customer.id)
        customer = session.get(Customer, customer.merged_into_id)
    if customer is None:
        raise NotFound(f"customer {customer_id} does not exist")
    return customer


def _new_identity(session: Session, customer: Customer, item: IdentityIn) -> Identity:
    try:
        channel, value = identity_key(item.channel, item.value)
    except IdentityError as exc:
        raise Invalid(str(exc), field="identities") from None
    owner = session.scalar(select(Identity).where(Identity.channel == channel, Identity.value == value))
    if owner is not None:
        if owner.customer_id == customer.id:
            return owner
        raise Conflict(
            f"identity {channel}:{value} already belongs to customer {owner.customer_id}; merge the two "
            "profiles instead",
            field="identities",
        )
    identity = Identity(
        customer=customer, channel=channel, value=value, display=item.value, created_at=now(session=session)
    )
    session.add(identity)
    return identity


def create_customer(*, session: Session, data: CustomerCreate, actor: Actor = SYSTEM) -> Customer:
    at = now(session=session)
    customer = Customer(
        name=data.name,
        company=data.company,
        lifetime_value=data.lifetime_value,
        currency=data.currency,
        tier=data.tier,
        tags=list(data.tags),
        notes=data.notes,
        attributes=dict(data.attributes),
        created_at=at,
        updated_at=at,
    )
    session.add(customer)
    for item in data.identities:
        _new_identity(session, customer, item)
    _refresh_search_text(customer)
    session.flush()
    publish(
        session=session,
        type="customer.created",
        actor=actor,
        customer_id=customer.id,
        payload={"name": customer.name},
    )
    return customer


def update_customer(*, session: Session, customer_id: int, data: CustomerUpdate, actor: Actor) -> Customer:
    customer = resolve(session=session, customer_id=customer_id)
    changes = data.model_dump(exclude_unset=True)
    for field, value in changes.items():
        setattr(customer, field, value)
    customer.updated_at = now(session=session)
    _refresh_search_text(customer)
    publish(
        session=session,
        type="customer.updated",
        actor=actor,
        customer_id=customer.id,
        payload={"fields": sorted(changes)},
    )
    return customer


def add_identity(*, session: Session, customer_id: int, data: IdentityIn, actor: Actor) -> Identity:
    customer = resolve(session=session, customer_id=customer_id)
    identity = _new_identity(session, customer, data)
    _refresh_search_text(customer)
    session.flush()
    publish(
        session=session,
        type="customer.identity_added",
        actor=actor,
        customer_id=customer.id,
        payload={"channel": identity.channel, "value": identity.value},
    )
    return identity


def link_author(
    *, session: Session, channel: str, value: str, display: str | None = None, followers: int | None = None
) -> Identity:
    """The identity for an author, creating the identity and a new customer when unknown.

    Safe under concurrency: two workers meeting the same new author race on the unique
    (channel, value) constraint, and the loser uses the winner's row.
    """
    key_channel, key_value = identity_key(channel, value)
    found = session.scalar(
        select(Identity).where(Identity.channel == key_channel, Identity.value == key_value)
    )
    if found is None:
        at = now(session=session)
        try:
            with session.begin_nested():
                customer = Customer(name=display, tags=[], attributes={}, created_at=at, updated_at=at)
                session.add(customer)
                found = Identity(
                    customer=customer,
                    channel=key_channel,
                    value=key_value,
                    display=value,
                    followers=followers,
                    created_at=at,
                )
                session.add(found)
                _refresh_search_text(customer)
                session.flush()
        except IntegrityError:
            found = session.scalar(
                select(Identity).where(Identity.channel == key_channel, Identity.value == key_value)
            )
            if found is None:
                raise
        else:
            publish(
                session=session,
                type="customer.created",
                customer_id=customer.id,
                payload={"name": display, "identity": f"{key_channel}:{key_value}"},
            )
    if followers is not None and found.followers != followers:
        found.followers = followers
    customer = resolve(session=session, customer_id=found.customer_id)
    if display and not customer.name:
        customer.name = display
        _refresh_search_text(customer)
    return found


def merge_customers(*, session: Session, target_id: int, source_id: int, actor: Actor) -> dict[str, Any]:
    """Fold `source` into `target`: identities, conversations and messages move; nothing is lost.

    The source row stays, pointing at the target, so old links and audit events still resolve.
    """
    if target_id == source_id:
        raise Invalid("cannot merge a customer into itself", field="source_id")
    target = resolve(session=session, customer_id=target_id)
    source = resolve(session=session, customer_id=source_id)
    if target.id == source.id:
        raise Conflict(f"customer {source_id} is already merged into {target.id}")
    at = now(session=session)
    moved_identities = affected_rows(
        session.execute(
            update(Identity).where(Identity.customer_id == source.id).values(customer_id=target.id)
        )
    )
    moved_conversations = affected_rows(
        session.execute(
            update(Conversation).where(Conversation.customer_id == source.id).values(customer_id=target.id)
        )
    )
    moved_messages = affected_rows(
        session.execute(update(Message).where(Message.customer_id == source.id).values(customer_id=target.id))
    )
    for field in ("name", "company", "lifetime_value", "tier", "notes"):
        if getattr(target, field) in (None, "") and getattr(source, field) not in (None, ""):
            setattr(target, field, getattr(source, field))
    target.tags = sorted(set(target.tags or []) | set(source.tags or []))
    target.attributes = {**(source.attributes or {}), **(target.attributes or {})}
    source.merged_into_id = target.id
    source.updated_at = target.updated_at = at
    session.flush()
    session.expire(target, ["identities"])
    _refresh_search_text(target)
    source.search_text = ""
    result = {
        "moved_identities": moved_identities,
        "moved_conversations": moved_conversations,
        "moved_messages": moved_messages,
    }
    publish(
        session=session,
        type="customer.merged",
        actor=actor,
        customer_id=target.id,
        payload={"source_id": source.id, **result},
    )
    return {"customer": target, **result}


def search_customers(*, session: Session, q: str, limit: int = 20) -> list[Customer]:
    words = [w for w in fold(q).split() if w][:8]
    if not words:
        raise Invalid("the search is empty", field="q")
    stems = index_text(q).split()
    conditions = []
    for i, word in enumerate(words):
        alternatives = [Customer.search_text.like(f"%{_escape_like(word)}%", escape="\\")]
        if i < len(stems):
            alternatives.append(Customer.search_text.like(f"%{_escape_like(stems[i])}%", escape="\\"))
        conditions.append(or_(*alternatives))
    query = (
        select(Customer)
        .where(Customer.merged_into_id.is_(None), and_(*conditions))
        .order_by(Customer.updated_at.desc(), Customer.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def timeline(
    *,
    session: Session,
    customer_id: int,
    cursor: str | None = None,
    limit: int = 50,
    visible: Any = None,
) -> tuple[Customer, list[Message], str | None]:
    """Everything the customer said or was told, on every channel, newest first. `visible`: a WHERE
    clause on Conversation (conversations.access): messages of other conversations are left out."""
    customer = resolve(session=session, customer_id=customer_id)
    query = select(Message).where(Message.customer_id == customer.id)
    if visible is not None:
        shown = select(Conversation.id).where(Conversation.customer_id == customer.id, visible)
        query = query.where(or_(Message.conversation_id.is_(None), Message.conversation_id.in_(shown)))
    if cursor:
        at_text, last_id = decode_cursor(cursor)
        try:
            at = datetime.fromisoformat(at_text)
        except (TypeError, ValueError):
            raise Invalid("cursor is not one this server gave out", field="cursor") from None
        query = query.where(
            or_(Message.occurred_at < at, and_(Message.occurred_at == at, Message.id < int(last_id)))
        )
    rows = list(
        session.scalars(query.order_by(Message.occurred_at.desc(), Message.id.desc()).limit(limit + 1))
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor([rows[-1].occurred_at.isoformat(), rows[-1].id])
    return customer, rows, next_cursor


def count_customers(*, session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Customer)) or 0)
