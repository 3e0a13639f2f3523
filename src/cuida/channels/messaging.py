"""What the messaging-app adapters (Telegram, WhatsApp) share: keeping an unreadable update in the
quarantine once, accepting a batch without letting one bad message sink the rest, finding the
message a reply answers (a customer's, or ours by the provider's id), refusing a badly signed
webhook, and provider receipts on deliveries."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from cuida.channels.messaging_models import DeliveryReceipt
from cuida.channels.models import ChannelAccount
from cuida.clock.service import now
from cuida.common.errors import Invalid
from cuida.conversations.models import Delivery, Message
from cuida.events.service import Actor, publish
from cuida.ingest.schemas import Accepted, MessageIn
from cuida.ingest.service import accept
from cuida.quarantine.models import QuarantinedPayload
from cuida.quarantine.service import put

if TYPE_CHECKING:
    from cuida.db.engine import Database
    from cuida.runtime import Runtime

log = logging.getLogger(__name__)


def channel_actor(kind: str, account_id: int) -> Actor:
    return Actor("channel", account_id, kind)


def raw_json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, sort_keys=True).encode()


@dataclass
class Unreadable:
    """An update that cannot be a message: why, and what kind of problem it is."""

    reason: str
    kind: str = "malformed"  # malformed | unsupported


@dataclass
class Item:
    """One update of a delivery or a poll: a message to accept, or a payload to quarantine."""

    ref: str  # the update's own id on the provider, for quarantining it once
    raw: bytes
    message: MessageIn | None = None
    problem: Unreadable | None = None


@dataclass
class Outcome:
    results: list[Accepted]
    quarantined: int

    @property
    def fresh_ids(self) -> list[int]:
        return [r.message_id for r in self.results if not r.duplicate and r.stage != "done"]


def quarantine_once(
    session: Session, *, kind: str, account_id: int, ref: str, raw: bytes, problem: Unreadable
) -> bool:
    """Keep an update nobody can read yet; False when this one is already kept."""
    source_ref = f"{account_id}:{ref}"[:300]
    seen = session.scalar(
        select(QuarantinedPayload.id).where(
            QuarantinedPayload.source == kind, QuarantinedPayload.source_ref == source_ref
        )
    )
    if seen is not None:
        return False
    put(
        session=session,
        source=kind,
        source_ref=source_ref,
        channel=kind,
        raw=raw,
        reason=problem.reason,
        details={"account_id": account_id, "kind": problem.kind, "ref": ref},
        content_type="application/json",
        actor=channel_actor(kind, account_id),
    )
    return True


def store_items(session: Session, *, kind: str, account_id: int, items: Sequence[Item]) -> Outcome:
    """Accept the readable items at once and quarantine the rest. If ingest refuses the batch,
    the items are accepted one by one and only the refused ones are quarantined."""
    actor = channel_actor(kind, account_id)
    quarantined = 0
    readable: list[Item] = []
    for item in items:
        if item.message is None:
            problem = item.problem or Unreadable("no message in this update")
            quarantined += quarantine_once(
                session, kind=kind, account_id=account_id, ref=item.ref, raw=item.raw, problem=problem
            )
        else:
            readable.append(item)
    if not readable:
        return Outcome([], quarantined)
    try:
        with session.begin_nested():
            messages = [i.message for i in readable if i.message is not None]
            return Outcome(list(accept(session=session, items=messages, actor=actor)), quarantined)
    except Invalid:
        pass
    results: list[Accepted] = []
    for item in readable:
        assert item.message is not None
        try:
            with session.begin_nested():
                results.extend(accept(session=session, items=[item.message], actor=actor))
        except Invalid as exc:
            quarantined += quarantine_once(
                session,
                kind=kind,
                account_id=account_id,
                ref=item.ref,
                raw=item.raw,
                problem=Unreadable(f"refused by ingest: {exc.field or 'message'}: {exc.message}"),
            )
    return Outcome(results, quarantined)


def reply_target(session: Session, *, channel: str, ref: str | None) -> str | None:
    """The external_id of the message `ref` (the provider's id of the message answered) names:
    one of ours (a delivery whose provider_id is `ref`) or a stored one; else `ref` itself, which
    threading looks up again later."""
    if not ref:
        return None
    ours = session.scalar(
        select(Message.external_id)
        .join(Delivery, Delivery.message_id == Message.id)
        .where(Delivery.channel == channel, Delivery.provider_id == ref)
        .limit(1)
    )
    return ours or ref


def reject_webhook(
    runtime: Runtime, *, kind: str, account_id: int, reason: str, words: str, remote: str | None
) -> None:
    """A delivery to a channel webhook that is not authentic: logged and published, never stored."""
    log.warning("%s account %s: webhook refused (%s) from %s", kind, account_id, reason, remote)
    with runtime.db.session() as session:
        publish(
            session=session,
            type="channel.webhook_rejected",
            actor=channel_actor(kind, account_id),
            payload={
                "account_id": account_id,
                "kind": kind,
                "reason": reason,
                "detail": words,
                "remote": remote,
            },
        )


# "sent" only confirms what the send already answered: it is kept, not published.
RECEIPT_EVENTS = {"delivered": "reply.delivered", "read": "reply.read", "failed": "reply.failed"}


def record_receipt(
    session: Session,
    *,
    kind: str,
    account_id: int,
    provider_id: str,
    status: str,
    error: str | None = None,
) -> bool:
    """What the provider says became of a reply we sent (sent, delivered, read, failed). Each
    state is kept once per delivery, so a repeated status changes nothing; "failed" fails the
    delivery (the provider gave up after accepting it). False when no delivery matches."""
    delivery = session.scalar(
        select(Delivery).where(Delivery.channel == kind, Delivery.provider_id == provider_id).limit(1)
    )
    if delivery is None:
        return False
    seen = session.scalar(
        select(DeliveryReceipt.id).where(
            DeliveryReceipt.delivery_id == delivery.id, DeliveryReceipt.status == status
        )
    )
    if seen is not None:
        return True
    at = now(session=session)
    session.add(DeliveryReceipt(delivery_id=delivery.id, status=status, error=error, received_at=at))
    message = session.get(Message, delivery.message_id)
    assert message is not None
    event = RECEIPT_EVENTS.get(status)
    if status == "failed":
        delivery.status = "failed"
        delivery.last_error = (error or "the provider could not deliver it")[:2000]
        delivery.lease_until = None
    session.flush()
    if event is None:
        return True
    publish(
        session=session,
        type=event,
        actor=channel_actor(kind, account_id),
        customer_id=message.customer_id,
        conversation_id=message.conversation_id,
        message_id=message.id,
        payload={"delivery_id": delivery.id, "status": status, "error": error, "provider_id": provider_id},
    )
    return True


def answering_account(db: Database, *, kind: str, in_reply_to: str | None) -> ChannelAccount | None:
    """The enabled account of `kind` a reply goes out through: the one the customer wrote to (its id
    kept in the answered message's meta under the kind's name), else the first one; detached."""
    with db.sessions() as session:
        wanted: Any = None
        if in_reply_to:
            meta = session.scalar(
                select(Message.meta).where(Message.channel == kind, Message.external_id == in_reply_to)
            )
            found = (meta or {}).get(kind)
            wanted = found.get("account_id") if isinstance(found, dict) else None
        accounts = list(
            session.scalars(
                select(ChannelAccount)
                .where(ChannelAccount.kind == kind, ChannelAccount.enabled.is_(True))
                .order_by(ChannelAccount.id)
            )
        )
        chosen = next((a for a in accounts if a.id == wanted), accounts[0] if accounts else None)
        if chosen is not None:
            session.expunge(chosen)
        return chosen


def unstorable(exc: ValidationError) -> str:
    """Why a parsed update could not become a message, for its quarantine entry."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"the message cannot be stored: {where}: {first['msg']}"
