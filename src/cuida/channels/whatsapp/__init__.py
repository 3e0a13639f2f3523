"""The WhatsApp Cloud API channel: the webhook in (messages and delivery statuses, inbound.py),
replies out through POST /{version}/{phone_number_id}/messages (outbound.py)."""

from __future__ import annotations

from typing import Any

from cuida.channels.kinds import Kind, register_kind
from cuida.channels.whatsapp.config import SECRETS, WhatsAppConfig


def _adapter(runtime: Any) -> Any:
    from cuida.channels.whatsapp.outbound import WhatsAppAdapter

    return WhatsAppAdapter(runtime)


register_kind(Kind(name="whatsapp", config=WhatsAppConfig, secrets=SECRETS, adapter=_adapter))

# The quarantine's reprocessing finds the message reader once the channel is loaded.
from cuida.channels.whatsapp import inbound as _inbound  # noqa: E402,F401
