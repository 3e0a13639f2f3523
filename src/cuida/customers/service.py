"""Customer profiles, identities, merging and the timeline. The only code that changes them."""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any

import phonenumbers
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cuida.clock.service import now
from cuida.common.errors import Conflict, Invalid, NotFound
from cuida.common.pagination import decode_cursor, encode_cursor
from cuida.conversations.models import Conversation, Message
from cuida.customers import identity as identity_module
from cuida.customers.identity import IdentityError, identity_key
from cuida.customers.models import Customer, CustomerMerge, Identity, MergeSuggestion
from cuida.customers.schemas import CustomerCreate, CustomerUpdate, IdentityIn
from cuida.db import txcache
from cuida.db.base import affected_rows
from cuida.events.models import Event
from cuida.events.service import SYSTEM, Actor, publish, subscribe
from cuida.search.text import fold, index_text


def name_key(name: str | None) -> str | None:
    """The name folded for comparison: no case, accents, punctuation or extra spaces."""
    words = re.findall(r"[^\W_]+", fold(name or ""))
    return " ".join(words)[:300] or None


def _refresh_search_text(customer: Customer) -> None:
    parts = [customer.name, customer.company, " ".join(customer.tags or [])]
    values = " ".join(i.value for i in customer.identities)
    customer.name_key = name_key(customer.name)
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
    # Several reactions to one message resolve the same customer: keep it for this transaction
    # (the identity map alone holds it weakly and would load it, and its identities, again).
    txcache.hold(session, [customer])
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


def _chunks(ids: list[int], size: int = 500) -> list[list[int]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def _move(session: Session, model: Any, source_id: int, target_id: int) -> list[int]:
    """Re-point every row of `model` from source to target; the ids moved (UPDATE ... RETURNING, so
    a row written meanwhile is either moved and recorded, or not moved at all)."""
    rows = session.execute(
        update(model).where(model.customer_id == source_id).values(customer_id=target_id).returning(model.id)
    )
    return sorted(int(r[0]) for r in rows)


def _actor_agent_id(actor: Actor) -> int | None:
    return actor.id if actor.type == "agent" else None


def merge_customers(
    *,
    session: Session,
    target_id: int,
    source_id: int,
    actor: Actor,
    suggestion: MergeSuggestion | None = None,
) -> dict[str, Any]:
    """Fold `source` into `target`: identities, conversations and messages move; nothing is lost.

    The source row stays, pointing at the target, so old links and audit events still resolve.
    What moved is recorded in `customer_merges`, so `undo_merge` can give each profile its own back.
    """
    if target_id == source_id:
        raise Invalid("cannot merge a customer into itself", field="source_id")
    target = resolve(session=session, customer_id=target_id)
    source = resolve(session=session, customer_id=source_id)
    if target.id == source.id:
        raise Conflict(f"customer {source_id} is already merged into {target.id}")
    at = now(session=session)
    identity_ids = _move(session, Identity, source.id, target.id)
    conversation_ids = _move(session, Conversation, source.id, target.id)
    message_ids = _move(session, Message, source.id, target.id)
    filled: dict[str, str] = {}
    for field in ("name", "company", "lifetime_value", "tier", "notes"):
        if getattr(target, field) in (None, "") and getattr(source, field) not in (None, ""):
            setattr(target, field, getattr(source, field))
            filled[field] = str(getattr(source, field))
    tags_added = sorted(set(source.tags or []) - set(target.tags or []))
    attribute_keys_added = sorted(set(source.attributes or {}) - set(target.attributes or {}))
    target.tags = sorted(set(target.tags or []) | set(source.tags or []))
    target.attributes = {**(source.attributes or {}), **(target.attributes or {})}
    source.merged_into_id = target.id
    source.updated_at = target.updated_at = at
    if suggestion is None:
        suggestion = _suggestion_for(session, target.id, source.id)
    record = CustomerMerge(
        target_id=target.id,
        source_id=source.id,
        moved={
            "identities": identity_ids,
            "conversations": conversation_ids,
            "messages": message_ids,
            "filled": filled,
            "tags_added": tags_added,
            "attribute_keys_added": attribute_keys_added,
        },
        suggestion_id=suggestion.id if suggestion is not None else None,
        actor_type=actor.type,
        actor_id=actor.id,
        actor_name=actor.name,
        merged_at=at,
    )
    session.add(record)
    session.flush()
    if suggestion is not None and suggestion.status == "pending":
        _decide(suggestion, "accepted", actor, at)
        suggestion.merge_id = record.id
    session.expire(target, ["identities"])
    session.expire(source, ["identities"])
    _refresh_search_text(target)
    source.search_text = ""
    result = {
        "moved_identities": len(identity_ids),
        "moved_conversations": len(conversation_ids),
        "moved_messages": len(message_ids),
    }
    publish(
        session=session,
        type="customer.merged",
        actor=actor,
        customer_id=target.id,
        payload={"source_id": source.id, "merge_id": record.id, **result},
    )
    return {"customer": target, "merge": record, **result}


def undo_merge(*, session: Session, merge_id: int, actor: Actor) -> CustomerMerge:
    """Give the merged-away profile back what the merge moved: its identities, its conversations
    and their messages (those written since included), the details and tags it brought.

    Only while the kept profile is still live: when it was merged again since, that later merge
    is undone first."""
    record = session.get(CustomerMerge, merge_id, with_for_update=True)
    if record is None:
        raise NotFound(f"merge {merge_id} does not exist")
    if record.undone_at is not None:
        raise Conflict(f"merge {merge_id} was already undone")
    target = session.get(Customer, record.target_id, with_for_update=True)
    source = session.get(Customer, record.source_id, with_for_update=True)
    assert target is not None and source is not None  # foreign keys
    if target.merged_into_id is not None:
        raise Conflict(
            f"customer {target.id} was merged into {target.merged_into_id} since; undo that merge first"
        )
    if source.merged_into_id != target.id:
        raise Conflict(f"customer {source.id} is no longer merged into {target.id}")
    moved = record.moved or {}
    conversation_ids = [int(i) for i in moved.get("conversations", [])]
    message_ids = [int(i) for i in moved.get("messages", [])]
    counts = {"identities": 0, "conversations": 0, "messages": 0}
    for chunk in _chunks([int(i) for i in moved.get("identities", [])]):
        counts["identities"] += affected_rows(
            session.execute(
                update(Identity)
                .where(Identity.id.in_(chunk), Identity.customer_id == target.id)
                .values(customer_id=source.id)
            )
        )
    for chunk in _chunks(conversation_ids):
        counts["conversations"] += affected_rows(
            session.execute(
                update(Conversation)
                .where(Conversation.id.in_(chunk), Conversation.customer_id == target.id)
                .values(customer_id=source.id)
            )
        )
        # Messages written since in the source's conversations are the source's too.
        counts["messages"] += affected_rows(
            session.execute(
                update(Message)
                .where(Message.conversation_id.in_(chunk), Message.customer_id == target.id)
                .values(customer_id=source.id)
            )
        )
    for chunk in _chunks(message_ids):
        counts["messages"] += affected_rows(
            session.execute(
                update(Message)
                .where(Message.id.in_(chunk), Message.customer_id == target.id)
                .values(customer_id=source.id)
            )
        )
    for field, value in (moved.get("filled") or {}).items():
        if str(getattr(target, field)) == value:  # unless someone has changed it since
            setattr(target, field, None)
    tags_added = set(moved.get("tags_added") or [])
    target.tags = [t for t in (target.tags or []) if t not in tags_added]
    keys_added = set(moved.get("attribute_keys_added") or [])
    target.attributes = {k: v for k, v in (target.attributes or {}).items() if k not in keys_added}
    at = now(session=session)
    source.merged_into_id = None
    source.updated_at = target.updated_at = at
    record.undone_at = at
    record.undone_by = _actor_agent_id(actor)
    record.undone_by_name = actor.name
    session.flush()
    session.expire(target, ["identities"])
    session.expire(source, ["identities"])
    _refresh_search_text(target)
    _refresh_search_text(source)
    if record.suggestion_id is not None:
        suggestion = session.get(MergeSuggestion, record.suggestion_id)
        if suggestion is not None:
            # An undone merge says the two are not one person: do not suggest them again.
            _decide(suggestion, "rejected", actor, at)
    publish(
        session=session,
        type="customer.merge_undone",
        actor=actor,
        customer_id=source.id,
        payload={
            "merge_id": record.id,
            "target_id": target.id,
            # Other domains that followed the merge (commitments) can follow these conversations back.
            "conversation_ids": conversation_ids,
            **{f"returned_{k}": v for k, v in counts.items()},
        },
    )
    return record


def list_merges(*, session: Session, customer_id: int, limit: int = 50) -> list[CustomerMerge]:
    """Merges into this profile (or out of it), newest first."""
    return list(
        session.scalars(
            select(CustomerMerge)
            .where(or_(CustomerMerge.target_id == customer_id, CustomerMerge.source_id == customer_id))
            .order_by(CustomerMerge.id.desc())
            .limit(limit)
        )
    )


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


# --- merge suggestions ---------------------------------------------------------------------------

log = logging.getLogger(__name__)

# How much each kind of evidence says on its own that two profiles are one person (0-1). Several
# pieces combine as independent clues: 1 - (1 - a)(1 - b)...
EVIDENCE_SCORES = {
    "same_email_address": 0.95,
    "same_phone_other_channel": 0.9,
    "phone_in_signature": 0.85,
    "email_in_dm": 0.85,
    "handle_in_email_named_network": 0.8,
    "phone_in_message": 0.7,
    "handle_in_email": 0.7,
    "email_in_message": 0.6,
    "same_name_company": 0.6,
    "site_domain_of_email": 0.6,
    "site_named_after_customer": 0.5,
}
SUGGESTION_STATUSES = ("pending", "accepted", "rejected")
_MAX_CANDIDATES = 20  # contacts looked up per message: a pasted list is not a person


def evidence_text(kind: str, data: dict[str, Any]) -> str:
    """The evidence in words (English; the pages translate by kind with the same data)."""
    value = data.get("value", "")
    channel = data.get("channel", "")
    texts = {
        "same_email_address": f"two addresses of one mailbox ({value})",
        "same_phone_other_channel": f"the same phone number {value} identifies both, once as a {channel} author",
        "phone_in_signature": f"the phone number {value} appears in the signature of a {channel} message",
        "phone_in_message": f"the phone number {value} is written in a {channel} message",
        "email_in_dm": f"the email address {value} is written in a private {channel} message",
        "email_in_message": f"the email address {value} is written in a {channel} message",
        "handle_in_email": f"the handle @{value} is written in an email",
        "handle_in_email_named_network": f"the handle @{value} is written in an email naming {data.get('network', '')}",
        "same_name_company": f"same name and company: {value}",
        "site_domain_of_email": f"the site {data.get('site', '')} is on the domain of the email address {value}",
        "site_named_after_customer": f"the site {data.get('site', '')} is named after {value}",
    }
    return texts.get(kind, kind)


def _evidence(kind: str, **data: Any) -> dict[str, Any]:
    clean = {k: v for k, v in data.items() if v is not None}
    return {"kind": kind, "score": EVIDENCE_SCORES[kind], "text": evidence_text(kind, clean), "data": clean}


def _combined_score(evidence: list[dict[str, Any]]) -> float:
    remaining = 1.0
    for item in evidence:
        remaining *= 1.0 - float(item.get("score", 0.0))
    return round(min(0.99, 1.0 - remaining), 3)


def _suggestion_for(session: Session, first: int, second: int) -> MergeSuggestion | None:
    a, b = sorted((first, second))
    return session.scalar(
        select(MergeSuggestion).where(MergeSuggestion.customer_a == a, MergeSuggestion.customer_b == b)
    )


def _decide(suggestion: MergeSuggestion, status: str, actor: Actor, at: datetime) -> None:
    suggestion.status = status
    suggestion.decided_by = _actor_agent_id(actor)
    suggestion.decided_by_name = actor.name
    suggestion.decided_at = at
    suggestion.updated_at = at


def suggest_merge(
    *, session: Session, customer_id: int, other_id: int, evidence: list[dict[str, Any]]
) -> MergeSuggestion | None:
    """Record (or strengthen) the suggestion that two profiles are one person. A pair already
    decided is left alone: a rejected pair is never suggested again."""
    first = resolve(session=session, customer_id=customer_id).id
    second = resolve(session=session, customer_id=other_id).id
    if first == second or not evidence:
        return None
    a, b = sorted((first, second))
    suggestion = _suggestion_for(session, a, b)
    at = now(session=session)
    created = False
    if suggestion is None:
        try:
            with session.begin_nested():
                suggestion = MergeSuggestion(
                    customer_a=a,
                    customer_b=b,
                    score=0.0,
                    evidence=[],
                    status="pending",
                    created_at=at,
                    updated_at=at,
                )
                session.add(suggestion)
                session.flush()
                created = True
        except IntegrityError:  # another worker found the same pair at the same moment
            suggestion = _suggestion_for(session, a, b)
            if suggestion is None:
                raise
    if suggestion.status != "pending":
        return None
    known = {(e.get("kind"), e.get("data", {}).get("value")) for e in suggestion.evidence or []}
    fresh = [e for e in evidence if (e["kind"], e["data"].get("value")) not in known]
    if not fresh and not created:
        return suggestion
    suggestion.evidence = [*(suggestion.evidence or []), *fresh]
    suggestion.score = _combined_score(suggestion.evidence)
    suggestion.updated_at = at
    session.flush()
    publish(
        session=session,
        type="customer.merge_suggested",
        customer_id=a,
        payload={
            "suggestion_id": suggestion.id,
            "customer_b": b,
            "score": suggestion.score,
            "kinds": sorted({e["kind"] for e in fresh}),
        },
    )
    return suggestion


def _owners(session: Session, condition: Any) -> list[tuple[Identity, int]]:
    """(identity, live customer id) for identities matching `condition` (an indexed lookup)."""
    found = []
    for identity in session.scalars(select(Identity).where(condition).limit(_MAX_CANDIDATES)):
        found.append((identity, resolve(session=session, customer_id=identity.customer_id).id))
    return found


def find_evidence(
    *, session: Session, message: Message, customer: Customer
) -> dict[int, list[dict[str, Any]]]:
    """Other profiles the author of `message` probably is, with why: {customer id: evidence}.

    Looks only at this message and at identities found by value (indexed), never at all customers."""
    found: dict[int, list[dict[str, Any]]] = {}

    def add(other: int, item: dict[str, Any]) -> None:
        if other != customer.id:
            found.setdefault(other, []).append(item)

    channel = message.channel
    # The author named by a national phone number on a channel that does not know phones (an
    # import, a webhook): the same number as a phone identity elsewhere, and the other way round.
    author = session.get(Identity, message.author_identity_id) if message.author_identity_id else None
    if author is not None and author.channel in identity_module.PHONE_AS_HANDLE_CHANNELS:
        number = identity_module.phone_of_handle(author.value)
        if number is not None:
            for _identity, owner in _owners(
                session, and_(Identity.channel == "phone", Identity.value == number)
            ):
                add(
                    owner,
                    _evidence(
                        "same_phone_other_channel", value=number, channel=channel, message_id=message.id
                    ),
                )
    elif author is not None and author.channel == "phone":
        national = author.value.lstrip("+")
        local = _national_digits(author.value)
        forms = [v for v in {author.value, national, local} if v]
        for identity, owner in _owners(
            session,
            and_(
                Identity.value.in_(forms),
                Identity.channel.in_(sorted(identity_module.PHONE_AS_HANDLE_CHANNELS)),
            ),
        ):
            add(
                owner,
                _evidence(
                    "same_phone_other_channel",
                    value=author.value,
                    channel=identity.channel,
                    message_id=message.id,
                ),
            )
    contacts = identity_module.written_contacts(message.text or "")
    # A chat or a direct message is private talk; an email or a form names addresses for many reasons.
    private_chat = channel not in ("email", "webform") and not message.public
    for number in contacts.phones[:_MAX_CANDIDATES]:
        kind = "phone_in_signature" if number in contacts.signature_phones else "phone_in_message"
        for _identity, owner in _owners(session, and_(Identity.channel == "phone", Identity.value == number)):
            add(owner, _evidence(kind, value=number, channel=channel, message_id=message.id))
    for address in contacts.emails[:_MAX_CANDIDATES]:
        kind = "email_in_dm" if private_chat else "email_in_message"
        for _identity, owner in _owners(
            session, and_(Identity.channel == "email", Identity.value == address)
        ):
            add(owner, _evidence(kind, value=address, channel=channel, message_id=message.id))
    if channel == "email":
        folded = fold(message.text or "")
        networks = [n for n, words in _NETWORK_WORDS.items() if any(w in folded for w in words)]
        for handle in contacts.handles[:_MAX_CANDIDATES]:
            for identity, owner in _owners(
                session,
                and_(Identity.value == handle, Identity.channel.in_(sorted(identity_module.HANDLE_CHANNELS))),
            ):
                if identity.channel in networks:
                    item = _evidence(
                        "handle_in_email_named_network",
                        value=handle,
                        channel=identity.channel,
                        network=identity.channel,
                        message_id=message.id,
                    )
                else:
                    item = _evidence(
                        "handle_in_email", value=handle, channel=identity.channel, message_id=message.id
                    )
                add(owner, item)
    if author is not None and author.channel in SITE_CHANNELS:
        for other, item in _site_evidence(session, author.value, message.id):
            add(other, item)
    for other, items in same_name_company(session=session, customer=customer).items():
        for item in items:
            add(other, item)
    return found


# Authors known by their site (a blog, a review page): the site's own domain, or a host named after
# a person, points at a customer. Hosts shared by many authors prove nothing.
SITE_CHANNELS = ("feed", "review")
_SHARED_HOSTS = frozenset(
    {
        "blogspot.com", "wordpress.com", "medium.com", "substack.com", "tumblr.com", "github.io",
        "wixsite.com", "gmail.com", "googlemail.com", "hotmail.com", "outlook.com", "yahoo.com",
        "yahoo.es", "icloud.com", "proton.me", "protonmail.com", "correo.es", "youtube.com",
    }
)  # fmt: skip
_GENERIC_LABELS = frozenset({"www", "blog", "blogs", "news", "web", "site", "m", "es", "en"})
_SITE_MAX_OWNERS = 3  # a domain or name shared by more customers than this is not a clue


def _site_evidence(session: Session, value: str, message_id: int) -> list[tuple[int, dict[str, Any]]]:
    host = value.split("/", 1)[0].strip().strip(".").lower()
    if "." not in host or "@" in host or " " in host:
        return []
    labels = host.split(".")
    found: list[tuple[int, dict[str, Any]]] = []
    domain = ".".join(labels[-2:])
    if domain not in _SHARED_HOSTS and len(labels[-2]) >= 3:
        owners = {
            owner
            for _identity, owner in _owners(
                session,
                and_(
                    Identity.channel == "email", Identity.value.like(f"%@{_escape_like(domain)}", escape="\\")
                ),
            )
        }
        if len(owners) <= _SITE_MAX_OWNERS:
            found += [
                (o, _evidence("site_domain_of_email", value=domain, site=host, message_id=message_id))
                for o in sorted(owners)
            ]
    for label in labels[:-1]:
        if label in _GENERIC_LABELS or len(label) < 8 or not label.isalpha():
            continue
        # name_key is "first last" folded: walk its index from the label's first letters.
        prefix = label[:4]
        candidates = session.execute(
            select(Customer.id, Customer.name_key, Customer.name)
            .where(
                Customer.name_key >= prefix,
                Customer.name_key < prefix + "\uffff",
                Customer.merged_into_id.is_(None),
            )
            .limit(200)
        ).all()
        named = [(i, name) for i, key, name in candidates if key and key.replace(" ", "") == label]
        if 0 < len(named) <= _SITE_MAX_OWNERS:
            found += [
                (i, _evidence("site_named_after_customer", value=name, site=host, message_id=message_id))
                for i, name in named
            ]
    return found


_NETWORK_WORDS = {
    "twitter": ("twitter", " x "),
    "instagram": ("instagram", " insta ", " ig "),
    "facebook": ("facebook",),
    "tiktok": ("tiktok",),
    "telegram": ("telegram",),
    "youtube": ("youtube",),
    "linkedin": ("linkedin",),
}


def _national_digits(e164: str) -> str | None:
    try:
        return str(phonenumbers.parse(e164, None).national_number)
    except Exception:
        return None


_LEGAL_FORMS = ("sadecv", "slu", "sl", "sau", "sa", "sas", "srl", "ltda", "ltd", "inc", "llc", "spa", "cb")


def company_key(company: str | None) -> str | None:
    """The company folded and without its legal form: "Compras Pro, S.L." and "compras pro SL" agree."""
    joined = "".join((name_key(company) or "").split())
    for form in _LEGAL_FORMS:
        if joined.endswith(form) and len(joined) > len(form) + 2:
            return joined[: -len(form)]
    return joined or None


def same_name_company(*, session: Session, customer: Customer) -> dict[int, list[dict[str, Any]]]:
    """Other live profiles with the same name and the same company (both folded)."""
    key = name_key(customer.name)
    company = company_key(customer.company)
    if not key or not company or len(key.split()) < 2:  # a first name alone says little
        return {}
    others = session.scalars(
        select(Customer)
        .where(Customer.name_key == key, Customer.id != customer.id, Customer.merged_into_id.is_(None))
        .limit(_MAX_CANDIDATES)
    )
    return {
        other.id: [
            _evidence(
                "same_name_company", value=f"{customer.name} · {customer.company}", company=customer.company
            )
        ]
        for other in others
        if company_key(other.company) == company
    }


@subscribe("message.received")
def _on_message_linked(*, session: Session, event: Event) -> None:
    """A new inbound message: does its author look like another profile? Cheap (reads by index;
    a savepoint only when there is something to record) and never blocking: a fault is logged
    and the message goes on."""
    if (event.payload or {}).get("direction") not in (None, "in") or event.message_id is None:
        return
    message = session.get(Message, event.message_id)
    if message is None or message.customer_id is None:
        return
    try:
        customer = resolve(session=session, customer_id=message.customer_id)
        found = find_evidence(session=session, message=message, customer=customer)
        if found:
            with session.begin_nested():
                for other, evidence in found.items():
                    suggest_merge(session=session, customer_id=customer.id, other_id=other, evidence=evidence)
    except Exception:
        log.exception("merge suggestions for message %s failed", event.message_id)


@subscribe("customer.created", "customer.updated")
def _on_customer_details(*, session: Session, event: Event) -> None:
    fields = (event.payload or {}).get("fields")
    if event.customer_id is None or (isinstance(fields, list) and not {"name", "company"} & set(fields)):
        return
    customer = session.get(Customer, event.customer_id)
    if customer is None or not customer.company or customer.merged_into_id is not None:
        return
    try:
        found = same_name_company(session=session, customer=customer)
        if found:
            with session.begin_nested():
                for other, evidence in found.items():
                    suggest_merge(session=session, customer_id=customer.id, other_id=other, evidence=evidence)
    except Exception:
        log.exception("merge suggestions for customer %s failed", event.customer_id)


def list_suggestions(
    *, session: Session, customer_id: int | None = None, status: str | None = "pending", limit: int = 50
) -> list[MergeSuggestion]:
    """Suggestions, best first; pending pairs whose two sides have become one are left out."""
    query = select(MergeSuggestion)
    if status is not None:
        if status not in SUGGESTION_STATUSES:
            raise Invalid(f"status must be one of {', '.join(SUGGESTION_STATUSES)}", field="status")
        query = query.where(MergeSuggestion.status == status)
    if customer_id is not None:
        live = resolve(session=session, customer_id=customer_id).id
        ids = [live, *session.scalars(select(Customer.id).where(Customer.merged_into_id == live))]
        query = query.where(or_(MergeSuggestion.customer_a.in_(ids), MergeSuggestion.customer_b.in_(ids)))
    rows = session.scalars(
        query.order_by(MergeSuggestion.score.desc(), MergeSuggestion.id.desc()).limit(limit)
    )
    result = []
    for row in rows:
        if row.status == "pending":
            a = resolve(session=session, customer_id=row.customer_a).id
            b = resolve(session=session, customer_id=row.customer_b).id
            if a == b:
                continue
        result.append(row)
    return result


def get_suggestion(*, session: Session, suggestion_id: int) -> MergeSuggestion:
    suggestion = session.get(MergeSuggestion, suggestion_id)
    if suggestion is None:
        raise NotFound(f"merge suggestion {suggestion_id} does not exist")
    return suggestion


def accept_suggestion(
    *, session: Session, suggestion_id: int, actor: Actor, keep_id: int | None = None
) -> dict[str, Any]:
    """Merge the two profiles of a pending suggestion. The older profile is kept unless `keep_id`
    names the other one."""
    suggestion = session.get(MergeSuggestion, suggestion_id, with_for_update=True)
    if suggestion is None:
        raise NotFound(f"merge suggestion {suggestion_id} does not exist")
    if suggestion.status != "pending":
        raise Conflict(f"merge suggestion {suggestion_id} is already {suggestion.status}")
    a = resolve(session=session, customer_id=suggestion.customer_a).id
    b = resolve(session=session, customer_id=suggestion.customer_b).id
    if keep_id is not None:
        keep = resolve(session=session, customer_id=keep_id).id
        if keep not in (a, b):
            raise Invalid("keep_id must be one of the two profiles of the suggestion", field="keep_id")
    else:
        keep = min(a, b)
    other = b if keep == a else a
    return merge_customers(
        session=session, target_id=keep, source_id=other, actor=actor, suggestion=suggestion
    )


def reject_suggestion(*, session: Session, suggestion_id: int, actor: Actor) -> MergeSuggestion:
    suggestion = session.get(MergeSuggestion, suggestion_id, with_for_update=True)
    if suggestion is None:
        raise NotFound(f"merge suggestion {suggestion_id} does not exist")
    if suggestion.status == "rejected":
        return suggestion
    if suggestion.status != "pending":
        raise Conflict(f"merge suggestion {suggestion_id} is already {suggestion.status}")
    _decide(suggestion, "rejected", actor, now(session=session))
    publish(
        session=session,
        type="customer.merge_rejected",
        actor=actor,
        customer_id=suggestion.customer_a,
        payload={"suggestion_id": suggestion.id, "customer_b": suggestion.customer_b},
    )
    return suggestion
