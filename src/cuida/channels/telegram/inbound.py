"""A Telegram bot's updates in, by getUpdates long polling or by the webhook.

Each text message (or captioned media) becomes a message through ingest, keyed by chat id and
message id, so the same update twice (a webhook re-delivery, a poll repeated after a crash) is
one message. Updates that are not a new message with text (edits, stickers, callbacks...) and
updates that cannot be read go to the quarantine once, with the reason and the raw JSON.

Polling: Telegram forgets an update once getUpdates is called with an offset past it. The offset
(last update_id + 1) is stored in channel_cursors in the same transaction that stores the batch,
so a poller killed before committing asks again from the old offset and gets the same updates,
which ingest then sees as duplicates; nothing is confirmed to Telegram before it is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import ValidationError
from sqlalchemy.orm import Session

from cuida.channels import service as channels
from cuida.channels.messaging import (
    Item,
    Outcome,
    Unreadable,
    quarantine_once,
    raw_json,
    reject_webhook,
    reply_target,
    store_items,
    unstorable,
)
from cuida.channels.schemas import PollAnswer
from cuida.channels.telegram.config import TelegramConfig
from cuida.common.errors import Forbidden, NotFound
from cuida.customers.identity import IdentityError, identity_key
from cuida.ingest.schemas import MAX_TEXT_CHARS, AuthorIn, MessageIn
from cuida.quarantine.models import QuarantinedPayload
from cuida.quarantine.service import PayloadError, decode_json, parse_webhook_entry, register_parser

if TYPE_CHECKING:
    from cuida.runtime import Runtime

log = logging.getLogger(__name__)
KIND = "telegram"
CURSOR_KEY = "getUpdates"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# The content a message without text carries, named in the quarantine's reason.
MEDIA = (
    "photo",
    "sticker",
    "animation",
    "audio",
    "document",
    "video",
    "video_note",
    "voice",
    "contact",
    "dice",
    "game",
    "poll",
    "venue",
    "location",
    "new_chat_members",
    "left_chat_member",
    "pinned_message",
)


class TelegramError(Exception):
    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


def call(config: TelegramConfig, token: str, method: str, body: dict[str, Any], timeout: float) -> Any:
    """One Bot API call; its `result`, or TelegramError with the API's code and description."""
    url = f"{config.base_url.rstrip('/')}/bot{token}/{method}"
    response = httpx.post(url, json=body, timeout=timeout)
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if isinstance(answer, dict) and answer.get("ok") is True:
        return answer.get("result")
    description = answer.get("description") if isinstance(answer, dict) else None
    code = answer.get("error_code") if isinstance(answer, dict) else None
    parameters = answer.get("parameters") if isinstance(answer, dict) else None
    retry_after = parameters.get("retry_after") if isinstance(parameters, dict) else None
    status = code if isinstance(code, int) else response.status_code
    text = description or response.text[:300] or response.reason_phrase
    raise TelegramError(
        f"Telegram {method} answered {status}: {text}"[:500],
        status=status,
        retry_after=float(retry_after) if isinstance(retry_after, int | float) else None,
    )


# --- update → message ------------------------------------------------------------------------------


def _content_of(message: dict[str, Any]) -> str:
    found = [key for key in MEDIA if key in message]
    return found[0] if found else "unknown content"


def read_update(
    update: Any, *, account_id: int | None, resolve: Callable[[str], str | None] | None = None
) -> Item:
    """The message an update carries, or why it cannot be one."""
    raw = raw_json(update)
    if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
        ref = "sha256:" + hashlib.sha256(raw).hexdigest()
        return Item(ref, raw, problem=Unreadable("an update must be a JSON object with an integer update_id"))
    update_id = update["update_id"]
    ref = f"update:{update_id}"

    def bad(reason: str, kind: str = "malformed") -> Item:
        return Item(ref, raw, problem=Unreadable(reason, kind))

    if "message" not in update:
        what = ", ".join(sorted(k for k in update if k != "update_id")) or "nothing"
        return bad(f"unsupported update ({what}): only new messages are read", "unsupported")
    message = update["message"]
    if not isinstance(message, dict):
        return bad("message must be an object")
    chat = message.get("chat")
    chat_id = chat.get("id") if isinstance(chat, dict) else None
    message_id = message.get("message_id")
    sender = message.get("from")
    if not isinstance(chat_id, int) or not isinstance(message_id, int):
        return bad("message.chat.id and message.message_id must be integers")
    if not isinstance(sender, dict) or not isinstance(sender.get("id"), int):
        return bad("message.from.id is missing: a message without a sender cannot be a customer's")
    if sender.get("is_bot") is True:
        return bad("sent by a bot, not a customer", "unsupported")
    text = message.get("text")
    caption = message.get("caption")
    if not isinstance(text, str) or not text.strip():
        if isinstance(caption, str) and caption.strip():
            text = f"[{_content_of(message)}] {caption}"
        else:
            return bad(f"a message without text ({_content_of(message)}) is not read", "unsupported")
    date = message.get("date")
    occurred_at = datetime.fromtimestamp(date, UTC) if isinstance(date, int) and date > 0 else None
    first, last = sender.get("first_name"), sender.get("last_name")
    username = sender.get("username") if isinstance(sender.get("username"), str) else None
    name = " ".join(p for p in (first, last) if isinstance(p, str) and p.strip()) or (
        f"@{username}" if username else None
    )
    author = str(sender["id"])
    try:
        identity_key(KIND, author)
    except IdentityError as exc:
        return bad(f"the sender cannot be a customer identity: {exc}")
    parent = message.get("reply_to_message")
    parent_id = parent.get("message_id") if isinstance(parent, dict) else None
    parent_ref = f"{chat_id}:{parent_id}" if isinstance(parent_id, int) else None
    in_reply_to = (resolve(parent_ref) if resolve else parent_ref) if parent_ref else None
    meta = {
        "account_id": account_id,
        "update_id": update_id,
        "chat_id": chat_id,
        "chat_type": chat.get("type") if isinstance(chat, dict) else None,
        "chat_title": chat.get("title") if isinstance(chat, dict) else None,
        "message_id": message_id,
        "username": username,
        "language_code": sender.get("language_code"),
    }
    try:
        message_in = MessageIn(
            channel=KIND,
            external_id=f"{chat_id}:{message_id}",
            direction="in",
            author=AuthorIn(value=author, name=name[:300] if name else None),
            text=text[:MAX_TEXT_CHARS],
            occurred_at=occurred_at,
            in_reply_to=in_reply_to,
            metadata={"telegram": meta},
        )
    except ValidationError as exc:
        return bad(unstorable(exc))
    return Item(ref, raw, message=message_in)


def store_updates(
    runtime: Runtime,
    *,
    account_id: int,
    updates: list[Any],
    offset: int | None = None,
    lease_seconds: float | None = None,
) -> Outcome:
    """Store a batch of updates and, when polling, move the offset past them, in one transaction;
    then hand the new messages to the pipeline."""
    with runtime.db.session() as session:

        def resolve(ref: str) -> str | None:
            return reply_target(session, channel=KIND, ref=ref)

        items = [read_update(u, account_id=account_id, resolve=resolve) for u in updates]
        outcome = store_items(session, kind=KIND, account_id=account_id, items=items)
        if offset is not None:
            channels.set_cursor(
                session=session, account_id=account_id, key=CURSOR_KEY, value={"offset": offset}
            )
        if lease_seconds is not None:
            channels.extend_poll(session=session, account_id=account_id, lease_seconds=lease_seconds)
    if outcome.fresh_ids:  # after commit: a job must never look for a message not there yet
        runtime.enqueue_messages(outcome.fresh_ids)
    return outcome


# --- polling ------------------------------------------------------------------------------------------


def _count(answer: PollAnswer, fetched: int, outcome: Outcome) -> None:
    answer.fetched += fetched
    answer.stored += sum(not r.duplicate for r in outcome.results)
    answer.duplicates += sum(r.duplicate for r in outcome.results)
    answer.quarantined += outcome.quarantined


def _lease(runtime: Runtime, config: TelegramConfig) -> float:
    # Long enough for a long poll that runs into its HTTP timeout, so no second worker steps in.
    return max(runtime.settings.lease_seconds, 2 * (config.timeout_seconds + config.long_poll_seconds))


def poll_updates(
    runtime: Runtime, account_id: int, config: TelegramConfig, token: str, answer: PollAnswer
) -> None:
    lease = _lease(runtime, config)
    for round_number in range(config.rounds):
        with runtime.db.sessions() as session:
            offset = channels.get_cursor(session=session, account_id=account_id, key=CURSOR_KEY).get("offset")
        # Wait for news only when nothing is waiting: after a full batch, ask again at once.
        wait = config.long_poll_seconds if round_number == 0 else 0
        body: dict[str, Any] = {"limit": config.batch, "timeout": wait}
        if isinstance(offset, int):
            body["offset"] = offset
        updates = call(config, token, "getUpdates", body, timeout=config.timeout_seconds + wait)
        if not isinstance(updates, list):
            raise TelegramError(f"getUpdates answered {type(updates).__name__}, not a list of updates")
        if not updates:
            answer.backlog = 0
            return
        ids = [u["update_id"] for u in updates if isinstance(u, dict) and isinstance(u.get("update_id"), int)]
        next_offset = max(ids) + 1 if ids else offset
        outcome = store_updates(
            runtime,
            account_id=account_id,
            updates=updates,
            offset=next_offset if isinstance(next_offset, int) else None,
            lease_seconds=lease,
        )
        _count(answer, len(updates), outcome)
        answer.backlog = len(updates) if len(updates) >= config.batch else 0
        if len(updates) < config.batch:
            return


def poll(runtime: Runtime, account_id: int) -> PollAnswer:
    """One poll of a bot's updates, unless another worker holds the account or it takes webhooks."""
    db = runtime.db
    with db.session() as session:
        if not channels.claim_poll(
            session=session, account_id=account_id, lease_seconds=runtime.settings.lease_seconds
        ):
            return PollAnswer(account_id=account_id, polled=False)
        account = channels.get_account(session=session, account_id=account_id)
        config = TelegramConfig.model_validate(account.config)
        token = str((account.secrets or {}).get("bot_token") or "")
        channels.extend_poll(session=session, account_id=account_id, lease_seconds=_lease(runtime, config))
    answer = PollAnswer(account_id=account_id, polled=True)
    if config.mode == "webhook":
        # Telegram pushes; getUpdates would be refused while a webhook is set.
        with db.session() as session:
            channels.release_poll(session=session, account_id=account_id, next_in_seconds=3600)
        return answer
    try:
        if not token:
            raise TelegramError("the account has no bot_token secret")
        poll_updates(runtime, account_id, config, token, answer)
        with db.session() as session:
            channels.record_success(session=session, account_id=account_id, backlog=answer.backlog)
    except Exception as exc:
        answer.error = f"{type(exc).__name__}: {exc}"[:2000].replace(token or "\0", "<bot_token>")
        log.warning("telegram account %s: poll failed: %s", account_id, answer.error)
        with db.session() as session:
            channels.record_error(session=session, account_id=account_id, error=answer.error)
    finally:
        with db.session() as session:
            channels.release_poll(session=session, account_id=account_id, next_in_seconds=config.poll_seconds)
    return answer


# --- the webhook ----------------------------------------------------------------------------------------


@dataclass
class WebhookAnswer:
    status_code: int
    body: dict[str, Any]


def _account(session: Session, account_id: int) -> tuple[str, bool]:
    try:
        account = channels.get_account(session=session, account_id=account_id)
    except NotFound:
        raise NotFound(f"there is no telegram account {account_id}") from None
    if account.kind != KIND:
        raise NotFound(f"there is no telegram account {account_id}")
    return str((account.secrets or {}).get("webhook_secret") or ""), bool(account.enabled)


def receive_webhook(
    runtime: Runtime, *, account_id: int, secret_token: str | None, body: bytes, remote: str | None
) -> WebhookAnswer:
    """One update pushed by Telegram. Anything but 2xx makes Telegram send it again, so an update
    we cannot read is quarantined and answered 200; only a bad secret is refused (401)."""
    with runtime.db.sessions() as session:
        expected, enabled = _account(session, account_id)
    if not expected:
        reason, words = (
            "no_secret",
            "set the account's webhook_secret (and the same secret_token in setWebhook)",
        )
    elif not secret_token:
        reason, words = "missing_secret", f"send {SECRET_HEADER}"
    elif not hmac.compare_digest(expected.encode(), secret_token.encode()):
        reason, words = "bad_secret", f"{SECRET_HEADER} does not match the account's webhook_secret"
    else:
        reason = words = ""
    if reason:
        reject_webhook(runtime, kind=KIND, account_id=account_id, reason=reason, words=words, remote=remote)
        return WebhookAnswer(401, {"reason": reason, "message": words})
    if not enabled:
        raise Forbidden(f"telegram account {account_id} is disabled")
    try:
        update: Any = decode_json(body)
    except PayloadError as exc:
        with runtime.db.session() as session:
            kept = quarantine_once(
                session,
                kind=KIND,
                account_id=account_id,
                ref="sha256:" + hashlib.sha256(body).hexdigest(),
                raw=body,
                problem=Unreadable(exc.reason),
            )
        return WebhookAnswer(200, {"ok": True, "stored": 0, "duplicates": 0, "quarantined": int(kept)})
    outcome = store_updates(runtime, account_id=account_id, updates=[update])
    with runtime.db.session() as session:
        channels.record_success(session=session, account_id=account_id, backlog=0)
    return WebhookAnswer(
        200,
        {
            "ok": True,
            "stored": sum(not r.duplicate for r in outcome.results),
            "duplicates": sum(r.duplicate for r in outcome.results),
            "quarantined": outcome.quarantined,
        },
    )


# --- reprocessing from the quarantine ----------------------------------------------------------------


@register_parser(KIND)
def reprocess_update(
    row: QuarantinedPayload, corrected: dict[str, Any] | None, max_items: int
) -> list[MessageIn]:
    """An agent fixed an update (or sends our own message JSON): read it again."""
    if corrected is not None and "update_id" not in corrected:
        return parse_webhook_entry(row, corrected, max_items)
    try:
        update = corrected if corrected is not None else json.loads(bytes(row.raw))
    except ValueError as exc:
        raise PayloadError(f"not JSON: {exc}") from None
    account_id = (row.details or {}).get("account_id")
    item = read_update(update, account_id=account_id if isinstance(account_id, int) else None)
    if item.message is None:
        raise PayloadError(item.problem.reason if item.problem else "no message in this update")
    return [item.message]
