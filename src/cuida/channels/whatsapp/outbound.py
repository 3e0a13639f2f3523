"""Replies through the Cloud API: POST /{version}/{phone_number_id}/messages with the text, as an
answer (context.message_id) to the customer's message.

Whether to try again follows the Cloud API's error codes: rate limits (4, 80007, 130429, 131048,
131056) and temporary failures (1, 2, 131000, 131016, 133004) are retried through the outbox;
everything else (a bad token, a number that is not on WhatsApp, the 24-hour window closed
(131047), an invalid parameter) fails at once, and so does any other 4xx. A 5xx without a known
code and a network failure are retried. The API takes no idempotency key, so a send repeated
after a crash between sending and recording may reach the customer twice."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import httpx

from cuida.channels.base import DeliveryResult, OutboundMessage
from cuida.channels.messaging import answering_account
from cuida.channels.models import ChannelAccount
from cuida.channels.whatsapp.config import WhatsAppConfig
from cuida.channels.whatsapp.inbound import KIND

if TYPE_CHECKING:
    from cuida.runtime import Runtime

MAX_CHARS = 4096  # a text message's body limit
RETRY_CODES = {1, 2, 4, 80007, 130429, 131000, 131016, 131048, 131056, 133004}
_NOT_DIGITS = re.compile(r"\D")


def should_retry(status: int, code: Any) -> bool:
    if isinstance(code, int) and code in RETRY_CODES:
        return True
    if isinstance(code, int) and status < 500:
        return False
    return status >= 500 or status == 429


class WhatsAppAdapter:
    """The "whatsapp" channel's sender; with no enabled account it records like RecordOnlyAdapter."""

    name = KIND

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def _account(self, message: OutboundMessage) -> ChannelAccount | None:
        # The number the customer wrote to answers; else the first one.
        return answering_account(self.runtime.db, kind=KIND, in_reply_to=message.in_reply_to)

    def send(self, message: OutboundMessage) -> DeliveryResult:
        account = self._account(message)
        if account is None:
            return DeliveryResult(ok=True, provider_id=f"recorded:{message.delivery_id}")
        config = WhatsAppConfig.model_validate(account.config)
        token = str((account.secrets or {}).get("access_token") or "")
        if not token:
            return DeliveryResult(
                ok=False, error=f"whatsapp account {account.id} has no access_token", retry=False
            )
        to = _NOT_DIGITS.sub("", message.recipient or "")
        if not to:
            return DeliveryResult(ok=False, error=f"not a phone number: {message.recipient!r}", retry=False)
        if len(message.text) > MAX_CHARS:
            error = f"the text has {len(message.text)} characters; WhatsApp takes at most {MAX_CHARS}"
            return DeliveryResult(ok=False, error=error, retry=False)
        body: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "type": "text",
            "text": {"preview_url": False, "body": message.text},
        }
        if message.in_reply_to and message.in_reply_to.startswith("wamid."):
            body["context"] = {"message_id": message.in_reply_to}
        url = f"{config.base_url.rstrip('/')}/{config.api_version}/{config.phone_number_id}/messages"
        try:
            response = httpx.post(
                url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=config.timeout_seconds
            )
        except httpx.HTTPError as exc:
            return DeliveryResult(ok=False, error=f"{type(exc).__name__}: {exc}"[:500], retry=True)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.is_success and isinstance(answer, dict):
            sent = answer.get("messages")
            wamid = (
                sent[0].get("id") if isinstance(sent, list) and sent and isinstance(sent[0], dict) else None
            )
            if isinstance(wamid, str):
                return DeliveryResult(ok=True, provider_id=wamid)
        failure = answer.get("error") if isinstance(answer, dict) else None
        code = failure.get("code") if isinstance(failure, dict) else None
        said = failure.get("message") if isinstance(failure, dict) else None
        words = said if isinstance(said, str) else response.text[:300]
        retry_after = response.headers.get("retry-after")
        return DeliveryResult(
            ok=False,
            error=f"WhatsApp {response.status_code} (code {code}): {words}"[:500],
            retry=should_retry(response.status_code, code),
            retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
        )
