"""Replies by sendMessage to the chat the customer wrote from, as an answer to their message.

Telegram's answer decides: 429 (with parameters.retry_after, which the outbox respects) and 5xx
or a network failure are tried again; 400 (bad chat, text refused), 403 (the customer blocked
the bot) and a refused token fail at once. The Bot API takes no idempotency key, so a send
repeated after a crash between sending and recording may show twice in the chat."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

from cuida.channels.base import DeliveryResult, OutboundMessage
from cuida.channels.messaging import answering_account
from cuida.channels.models import ChannelAccount
from cuida.channels.telegram.config import TelegramConfig
from cuida.channels.telegram.inbound import KIND, TelegramError, call

if TYPE_CHECKING:
    from cuida.runtime import Runtime

MAX_CHARS = 4096  # sendMessage's limit on text


def parse_ref(ref: str | None) -> tuple[int, int] | None:
    """(chat id, message id) of a Telegram external id "chat:message"."""
    if not ref:
        return None
    chat, _, message = ref.rpartition(":")
    try:
        return int(chat), int(message)
    except ValueError:
        return None


class TelegramAdapter:
    """The "telegram" channel's sender; with no enabled account it records like RecordOnlyAdapter."""

    name = KIND

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def _account(self, message: OutboundMessage) -> ChannelAccount | None:
        # The bot the customer wrote to answers; else the first one.
        return answering_account(self.runtime.db, kind=KIND, in_reply_to=message.in_reply_to)

    def send(self, message: OutboundMessage) -> DeliveryResult:
        account = self._account(message)
        if account is None:
            return DeliveryResult(ok=True, provider_id=f"recorded:{message.delivery_id}")
        config = TelegramConfig.model_validate(account.config)
        token = str((account.secrets or {}).get("bot_token") or "")
        if not token:
            return DeliveryResult(
                ok=False, error=f"telegram account {account.id} has no bot_token", retry=False
            )
        answered = parse_ref(message.in_reply_to)
        if answered is not None:
            chat_id: int | str = answered[0]
        elif message.recipient and message.recipient.lstrip("-").isdigit():
            chat_id = int(message.recipient)  # a private chat's id is the user's id
        else:
            return DeliveryResult(ok=False, error=f"no Telegram chat for {message.recipient!r}", retry=False)
        if len(message.text) > MAX_CHARS:
            error = f"the text has {len(message.text)} characters; Telegram takes at most {MAX_CHARS}"
            return DeliveryResult(ok=False, error=error, retry=False)
        body: dict[str, Any] = {"chat_id": chat_id, "text": message.text}
        if answered is not None:
            # Shown as an answer to the customer's message; sent anyway if they deleted it.
            body["reply_parameters"] = {"message_id": answered[1], "allow_sending_without_reply": True}
        try:
            result = call(config, token, "sendMessage", body, timeout=config.timeout_seconds)
        except TelegramError as exc:
            error = str(exc).replace(token, "<bot_token>")
            status = exc.status or 0
            if status == 429:
                return DeliveryResult(ok=False, error=error, retry=True, retry_after=exc.retry_after)
            return DeliveryResult(ok=False, error=error, retry=status >= 500)
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}".replace(token, "<bot_token>")[:500]
            return DeliveryResult(ok=False, error=error, retry=True)
        sent_id = result.get("message_id") if isinstance(result, dict) else None
        chat = result.get("chat") if isinstance(result, dict) else None
        sent_chat = chat.get("id") if isinstance(chat, dict) else chat_id
        return DeliveryResult(ok=True, provider_id=f"{sent_chat}:{sent_id}")
