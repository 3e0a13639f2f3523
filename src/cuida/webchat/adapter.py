"""The "webchat" channel's sender: a reply is shown to the visitor by writing it into their feed,
which their open stream picks up (the broker wakes it when the delivery commits)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cuida.channels.base import DeliveryResult, OutboundMessage

if TYPE_CHECKING:
    from cuida.runtime import Runtime


class WebchatAdapter:
    name = "webchat"

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def send(self, message: OutboundMessage) -> DeliveryResult:
        from cuida.webchat.service import deliver

        with self.runtime.db.session() as session:
            return deliver(session=session, outbound=message)
