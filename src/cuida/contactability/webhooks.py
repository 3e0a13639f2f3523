"""Signed outbound webhooks: the subscriptions, and delivering each event to each of them.

A delivery is a row (the outbox) written in the transaction that decided to push, plus a timer
(`webhook.deliver`) due at once. Sending never happens inside a transaction (a slow receiver must
not hold the database): right after the deciding transaction commits, and whenever the timer
fires, the delivery is claimed in a short transaction that counts the attempt and moves its timer
to the next retry; then it is POSTed; then the answer is recorded. A 2xx marks it sent and cancels
the timer, so an acknowledged delivery is never sent again. A crash between the POST and the
record sends it again at the retry, with the same `X-Cuida-Delivery` id for the receiver to drop.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.orm import Session

from cuida.clock.service import now
from cuida.common.errors import Conflict, NotFound
from cuida.contactability.models import WebhookDelivery, WebhookSubscription
from cuida.contactability.schemas import WebhookCreate, WebhookUpdate
from cuida.events.service import SYSTEM, Actor, publish
from cuida.timers.models import Timer
from cuida.timers.service import cancel, on, schedule

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Cuida-Signature"
DELIVERY_HEADER = "X-Cuida-Delivery"
EVENT_HEADER = "X-Cuida-Event"
TIMER_KIND = "webhook.deliver"
MAX_ATTEMPTS = 12  # about a day of retries with the backoff below, then "failed" (retry by hand)
TIMEOUT_SECONDS = 5.0
_AFTER_COMMIT = "cuida.webhooks.send_after_commit"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def body_of(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent (and signed): compact JSON with sorted keys."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min ... capped at 6 h; in the domain clock, like every timer."""
    return timedelta(seconds=min(6 * 3600, 30 * 2 ** max(0, attempts - 1)))


def _timer_key(delivery_id: int) -> str:
    return f"webhook:{delivery_id}"


# --- subscriptions ------------------------------------------------------------------------------


def create_subscription(
    *, session: Session, data: WebhookCreate, actor: Actor
) -> tuple[WebhookSubscription, str]:
    at = now(session=session)
    secret = data.secret or secrets.token_urlsafe(32)
    row = WebhookSubscription(
        url=data.url,
        secret=secret,
        events=list(data.events),
        description=data.description,
        active=data.active,
        created_at=at,
        updated_at=at,
    )
    session.add(row)
    session.flush()
    publish(
        session=session,
        type="webhook.subscription_created",
        actor=actor,
        payload={"subscription_id": row.id, "url": row.url, "events": row.events},
    )
    return row, secret


def get_subscription(*, session: Session, subscription_id: int) -> WebhookSubscription:
    row = session.get(WebhookSubscription, subscription_id)
    if row is None:
        raise NotFound(f"webhook subscription {subscription_id} does not exist")
    return row


def list_subscriptions(*, session: Session) -> list[WebhookSubscription]:
    return list(session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.id)))


def update_subscription(
    *, session: Session, subscription_id: int, data: WebhookUpdate, actor: Actor
) -> WebhookSubscription:
    row = get_subscription(session=session, subscription_id=subscription_id)
    changed = sorted(data.model_fields_set)
    was_active = row.active
    for field in ("url", "secret", "events", "description", "active"):
        if field in data.model_fields_set and getattr(data, field) is not None:
            setattr(row, field, getattr(data, field))
    row.updated_at = now(session=session)
    if row.active and not was_active:
        # Deliveries held while it was paused go out now, oldest first.
        held = session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.subscription_id == row.id, WebhookDelivery.status == "pending")
            .order_by(WebhookDelivery.id)
        ).all()
        for delivery in held:
            delivery.next_attempt_at = row.updated_at
            _arm(session, delivery)
    publish(
        session=session,
        type="webhook.subscription_updated",
        actor=actor,
        payload={"subscription_id": row.id, "changed": [f for f in changed if f != "secret"]},
    )
    return row


def deliveries_of(*, session: Session, subscription_id: int, limit: int = 100) -> list[WebhookDelivery]:
    get_subscription(session=session, subscription_id=subscription_id)
    return list(
        session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.subscription_id == subscription_id)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit)
        )
    )


def retry_delivery(*, session: Session, delivery_id: int, actor: Actor = SYSTEM) -> WebhookDelivery:
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise NotFound(f"webhook delivery {delivery_id} does not exist")
    if delivery.status != "failed":
        raise Conflict(f"only a failed delivery can be retried; this one is {delivery.status}")
    delivery.status = "pending"
    delivery.attempts = 0
    delivery.next_attempt_at = now(session=session)
    _arm(session, delivery)
    publish(
        session=session, type="webhook.retry_requested", actor=actor, payload={"delivery_id": delivery.id}
    )
    return delivery


# --- enqueueing and delivering ------------------------------------------------------------------


def enqueue(*, session: Session, event: str, payload: dict[str, Any]) -> list[WebhookDelivery]:
    """A delivery of `event` for every active subscription that asked for it (in this transaction)."""
    at = now(session=session)
    subscriptions = session.scalars(
        select(WebhookSubscription)
        .where(WebhookSubscription.active.is_(True))
        .order_by(WebhookSubscription.id)
    ).all()
    created = []
    for subscription in subscriptions:
        if event not in (subscription.events or []):
            continue  # filtered here: JSON containment is spelt differently on each database
        delivery = WebhookDelivery(
            subscription_id=subscription.id,
            event=event,
            payload={"event": event, **payload},
            status="pending",
            attempts=0,
            next_attempt_at=at,
            created_at=at,
        )
        session.add(delivery)
        session.flush()
        _arm(session, delivery)
        created.append(delivery)
    return created


def _arm(session: Session, delivery: WebhookDelivery) -> None:
    """The timer is the safety net; the send right after commit is the fast path."""
    schedule(
        session=session,
        kind=TIMER_KIND,
        key=_timer_key(delivery.id),
        due_at=delivery.next_attempt_at,
        payload={"delivery_id": delivery.id},
        rearm=True,
    )
    session.info.setdefault(_AFTER_COMMIT, []).append(delivery.id)


@on(TIMER_KIND)
def _on_timer(*, session: Session, timer: Timer, at: datetime) -> None:
    delivery_id = int(str(timer.payload.get("delivery_id")))
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.status != "pending":
        return
    # No POST inside this transaction: keep the timer armed for the attempt after it, and send
    # once the reconciler's transaction has committed.
    schedule(
        session=session,
        kind=TIMER_KIND,
        key=timer.key,
        due_at=at + backoff(delivery.attempts + 1),
        payload=timer.payload,
        rearm=True,
    )
    session.info.setdefault(_AFTER_COMMIT, []).append(delivery_id)


@dataclass(frozen=True)
class _Send:
    delivery_id: int
    event: str
    url: str
    secret: str
    body: bytes


def _claim(session: Session, delivery_id: int) -> _Send | None:
    at = now(session=session)
    delivery = session.get(WebhookDelivery, delivery_id, with_for_update=True)
    if delivery is None or delivery.status != "pending" or delivery.next_attempt_at > at:
        return None
    subscription = session.get(WebhookSubscription, delivery.subscription_id)
    if subscription is None or not subscription.active:
        return None  # held; re-armed when the subscription is active again
    delivery.attempts += 1
    delivery.next_attempt_at = at + backoff(delivery.attempts)
    # Doubles as the lease: nobody else claims it before then, and a crash retries it then.
    schedule(
        session=session,
        kind=TIMER_KIND,
        key=_timer_key(delivery.id),
        due_at=delivery.next_attempt_at,
        payload={"delivery_id": delivery.id},
        rearm=True,
    )
    return _Send(
        delivery.id, delivery.event, subscription.url, subscription.secret, body_of(delivery.payload)
    )


def _record(session: Session, delivery_id: int, status_code: int | None, error: str | None) -> None:
    delivery = session.get(WebhookDelivery, delivery_id, with_for_update=True)
    if delivery is None or delivery.status != "pending":
        return
    delivery.last_status_code = status_code
    if status_code is not None and 200 <= status_code < 300:
        delivery.status = "sent"
        delivery.sent_at = now(session=session)
        delivery.last_error = None
        cancel(session=session, key=_timer_key(delivery.id))
        return
    delivery.last_error = (error or f"HTTP {status_code}")[:2000]
    if delivery.attempts >= MAX_ATTEMPTS:
        delivery.status = "failed"
        cancel(session=session, key=_timer_key(delivery.id))
        publish(
            session=session,
            type="webhook.failed",
            payload={"delivery_id": delivery.id, "attempts": delivery.attempts, "error": delivery.last_error},
        )
    # Otherwise the timer moved by _claim fires the next attempt.


def _post(send: _Send) -> tuple[int | None, str | None]:
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(send.secret, send.body),
        DELIVERY_HEADER: str(send.delivery_id),
        EVENT_HEADER: send.event,
        "User-Agent": "Cuida-Webhooks/1",
    }
    try:
        with httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False) as client:
            response = client.post(send.url, content=send.body, headers=headers)
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"
    return response.status_code, None if response.is_success else response.text[:500]


def attempt(*, bind: Any, manual_clock: bool, delivery_id: int) -> bool:
    """Claim, POST, record: True when the receiver acknowledged it."""

    def new_session() -> Session:
        return Session(bind=bind, info={"manual_clock": manual_clock}, expire_on_commit=False)

    with new_session() as session, session.begin():
        send = _claim(session, delivery_id)
    if send is None:
        return False
    status_code, error = _post(send)
    with new_session() as session, session.begin():
        _record(session, delivery_id, status_code, error)
    if error:
        log.warning("webhook delivery %s to %s: %s", delivery_id, send.url, error)
    return status_code is not None and 200 <= status_code < 300


@sa_event.listens_for(Session, "after_commit")
def _send_after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: the transaction that decided is still open
    ids = session.info.pop(_AFTER_COMMIT, None)
    if not ids:
        return
    bind = session.get_bind()
    manual_clock = bool(session.info.get("manual_clock"))
    for delivery_id in dict.fromkeys(ids):
        try:
            attempt(bind=bind, manual_clock=manual_clock, delivery_id=delivery_id)
        except Exception:
            # The timer is still armed: the reconciler tries again.
            log.exception("webhook delivery %s could not be attempted", delivery_id)


@sa_event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    if session.in_nested_transaction():
        return  # only a savepoint: its deliveries are gone, and claiming a missing one does nothing
    session.info.pop(_AFTER_COMMIT, None)
