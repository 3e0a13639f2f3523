"""Sending one outbound reply through its channel adapter, at most once per successful send."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from cuida.channels.base import DeliveryResult, OutboundMessage
from cuida.conversations.models import Delivery, Message
from cuida.conversations.service import claim_delivery, finish_delivery

if TYPE_CHECKING:
    from cuida.runtime import Runtime

log = logging.getLogger(__name__)


def deliver(runtime: Runtime, delivery_id: int) -> bool:
    db, settings = runtime.db, runtime.settings
    with db.session() as session:
        if not claim_delivery(session=session, delivery_id=delivery_id, lease_seconds=settings.lease_seconds):
            return False
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None
        message = session.get(Message, delivery.message_id)
        assert message is not None
        outbound = OutboundMessage(
            delivery_id=delivery.id,
            channel=delivery.channel,
            recipient=_recipient(message.meta),
            text=message.text,
            public=message.public,
            in_reply_to=message.in_reply_to,
        )
    adapter = runtime.adapters.for_channel(outbound.channel)
    try:
        result = adapter.send(outbound)
    except Exception as exc:  # an adapter bug or a network error: retried with backoff
        log.warning("delivery %s via %s raised: %s", delivery_id, outbound.channel, exc)
        result = DeliveryResult(ok=False, error=f"{type(exc).__name__}: {exc}")
    with db.session() as session:
        finish_delivery(
            session=session,
            delivery_id=delivery_id,
            ok=result.ok,
            provider_id=result.provider_id,
            error=result.error,
            retry=result.retry,
            retry_after=result.retry_after,
            max_attempts=settings.delivery_max_attempts,
        )
    return result.ok


def _recipient(meta: dict[str, object] | None) -> str | None:
    value = (meta or {}).get("recipient")
    return str(value) if value is not None else None
