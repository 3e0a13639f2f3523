"""The Telegram channel: a bot's updates in (getUpdates long polling or the webhook, inbound.py),
replies out with sendMessage (outbound.py)."""

from __future__ import annotations

from typing import Any

from cuida.channels.kinds import Kind, register_kind
from cuida.channels.telegram.config import SECRETS, TelegramConfig


def _poll(runtime: Any, account_id: int) -> Any:
    from cuida.channels.telegram.inbound import poll

    return poll(runtime, account_id)


def _adapter(runtime: Any) -> Any:
    from cuida.channels.telegram.outbound import TelegramAdapter

    return TelegramAdapter(runtime)


register_kind(Kind(name="telegram", config=TelegramConfig, secrets=SECRETS, poll=_poll, adapter=_adapter))

# The quarantine's reprocessing finds the update reader once the channel is loaded.
from cuida.channels.telegram import inbound as _inbound  # noqa: E402,F401
