"""The WhatsApp Cloud API webhook: Meta's subscription check (GET) and signed notifications (POST).

A notification is checked against X-Hub-Signature-256 (HMAC-SHA256 of the exact body, keyed with
the app secret) before anything is read; a wrong or missing signature is refused with 401 and
logged. Each message becomes a message through ingest keyed by its wamid, so Meta's re-deliveries
(it sends again until it gets a 200) are one message; a text is its body, any other type is kept
with a note of its type ("[image] caption"). The author is the sender's wa_id as an E.164 number,
the same identity a phone call or an SMS from that number has. Statuses (sent, delivered, read,
failed) are receipts on the delivery that sent the message they name. Everything in one body is
stored in one transaction, and only then answered 200.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from cuida.channels import service as channels
from cuida.channels.messaging import (
    Item,
    Unreadable,
    quarantine_once,
    raw_json,
    record_receipt,
    reject_webhook,
    reply_target,
    store_items,
    unstorable,
)
from cuida.common.errors import Forbidden, NotFound
from cuida.customers.identity import IdentityError, normalize_phone
from cuida.ingest.schemas import MAX_TEXT_CHARS, AuthorIn, MessageIn
from cuida.quarantine.models import QuarantinedPayload
from cuida.quarantine.service import PayloadError, decode_json, parse_webhook_entry, register_parser

if TYPE_CHECKING:
    from cuida.runtime import Runtime

log = logging.getLogger(__name__)
KIND = "whatsapp"
SIGNATURE_HEADER = "X-Hub-Signature-256"
STATUSES = {"sent", "delivered", "read", "failed"}


def signature(app_secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def _secrets(session: Session, account_id: int) -> tuple[dict[str, Any], dict[str, Any], bool]:
    try:
        account = channels.get_account(session=session, account_id=account_id)
    except NotFound:
        raise NotFound(f"there is no whatsapp account {account_id}") from None
    if account.kind != KIND:
        raise NotFound(f"there is no whatsapp account {account_id}")
    return dict(account.secrets or {}), dict(account.config or {}), bool(account.enabled)


def verify_subscription(
    runtime: Runtime, *, account_id: int, mode: str | None, token: str | None, challenge: str | None
) -> str:
    """Meta's GET check when the webhook is configured: the challenge back, if the token is ours."""
    with runtime.db.sessions() as session:
        secrets, _, _ = _secrets(session, account_id)
    expected = str(secrets.get("verify_token") or "")
    if (
        mode != "subscribe"
        or not expected
        or not hmac.compare_digest(expected.encode(), (token or "").encode())
    ):
        reject_webhook(
            runtime,
            kind=KIND,
            account_id=account_id,
            reason="bad_verify_token",
            words="hub.mode must be subscribe and hub.verify_token the account's verify_token",
            remote=None,
        )
        raise Forbidden("hub.verify_token does not match this account's verify_token")
    return challenge or ""


# --- message → normalised message ------------------------------------------------------------------


def _note(kind: str, body: dict[str, Any]) -> str:
    """Words for a message that is not text: its type, and what it says about itself."""
    part = body.get(kind) if isinstance(body.get(kind), dict) else {}
    assert isinstance(part, dict)
    said: list[str] = []
    if kind == "location":
        said = [str(part.get(k)) for k in ("name", "address") if part.get(k)]
        if part.get("latitude") is not None and part.get("longitude") is not None:
            said.append(f"({part.get('latitude')}, {part.get('longitude')})")
    elif kind == "reaction":
        said = [str(part.get("emoji") or "")]
    elif kind == "button":
        said = [str(part.get("text") or "")]
    elif kind == "interactive":
        reply = part.get("button_reply") or part.get("list_reply") or {}
        said = [str(reply.get("title") or "")] if isinstance(reply, dict) else []
    elif kind == "contacts" and isinstance(body.get("contacts"), list):
        said = [
            str((c.get("name") or {}).get("formatted_name") or "")
            for c in body["contacts"]
            if isinstance(c, dict) and isinstance(c.get("name"), dict)
        ]
    else:
        said = [str(part.get("caption") or part.get("filename") or "")]
    words = " ".join(s for s in said if s.strip())
    return f"[{kind}] {words}".strip()


def read_message(
    body: Any,
    *,
    account_id: int | None,
    phone_number_id: str | None,
    names: dict[str, str],
    session: Session | None = None,
) -> Item:
    raw = raw_json(body)
    wamid = body.get("id") if isinstance(body, dict) else None
    if not isinstance(body, dict) or not isinstance(wamid, str) or not wamid:
        ref = "sha256:" + hashlib.sha256(raw).hexdigest()
        return Item(ref, raw, problem=Unreadable("a message must be an object with its id (wamid)"))
    ref = f"message:{wamid}"

    def bad(reason: str) -> Item:
        return Item(ref, raw, problem=Unreadable(reason))

    sender = body.get("from")
    kind = body.get("type")
    if not isinstance(sender, str) or not sender.strip():
        return bad("message.from (the sender's wa_id) is missing")
    if not isinstance(kind, str) or not kind:
        return bad("message.type is missing")
    try:
        phone = normalize_phone(sender if sender.startswith("+") else "+" + sender)
    except IdentityError as exc:
        return bad(f"message.from is not a phone number: {exc}")
    if kind == "text":
        text_part = body.get("text")
        text = text_part.get("body") if isinstance(text_part, dict) else None
        if not isinstance(text, str) or not text.strip():
            return bad("a text message without text.body")
    else:
        text = _note(kind, body)
    stamp = body.get("timestamp")
    occurred_at = (
        datetime.fromtimestamp(int(stamp), UTC)
        if isinstance(stamp, str | int) and str(stamp).isdigit()
        else None
    )
    context = body.get("context") if isinstance(body.get("context"), dict) else {}
    assert isinstance(context, dict)
    parent = context.get("id") if isinstance(context.get("id"), str) else None
    if kind == "reaction" and isinstance(body.get("reaction"), dict):
        reacted = body["reaction"].get("message_id")
        parent = reacted if isinstance(reacted, str) else parent
    in_reply_to = (
        reply_target(session, channel=KIND, ref=parent) if session is not None and parent else parent
    )
    meta: dict[str, Any] = {
        "account_id": account_id,
        "type": kind,
        "wa_id": sender,
        "phone_number_id": phone_number_id,
    }
    part = body.get(kind)
    if isinstance(part, dict):
        for key in ("id", "mime_type", "sha256", "filename"):
            if isinstance(part.get(key), str):
                meta[f"media_{key}" if key != "filename" else "filename"] = part[key]
    if kind == "unsupported" or body.get("errors"):
        meta["errors"] = body.get("errors")
    try:
        message_in = MessageIn(
            channel=KIND,
            external_id=wamid,
            direction="in",
            author=AuthorIn(value=phone, name=(names.get(sender) or None)),
            text=text[:MAX_TEXT_CHARS],
            occurred_at=occurred_at,
            in_reply_to=in_reply_to,
            metadata={"whatsapp": meta},
        )
    except ValidationError as exc:
        return bad(unstorable(exc))
    return Item(ref, raw, message=message_in)


def _contact_names(value: dict[str, Any]) -> dict[str, str]:
    names: dict[str, str] = {}
    for contact in value.get("contacts") or []:
        if isinstance(contact, dict) and isinstance(contact.get("wa_id"), str):
            profile = contact.get("profile")
            name = profile.get("name") if isinstance(profile, dict) else None
            if isinstance(name, str) and name.strip():
                names[contact["wa_id"]] = name.strip()[:300]
    return names


def _status_error(status: dict[str, Any]) -> str | None:
    errors = status.get("errors")
    if not isinstance(errors, list) or not errors or not isinstance(errors[0], dict):
        return None
    first = errors[0]
    details = (
        first.get("error_data", {}).get("details") if isinstance(first.get("error_data"), dict) else None
    )
    words = details or first.get("message") or first.get("title") or ""
    return f"WhatsApp {first.get('code')}: {words}"[:2000]


# --- receiving a notification ----------------------------------------------------------------------


@dataclass
class Handled:
    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    statuses: int = 0
    unmatched_statuses: int = 0
    ignored: int = 0


def handle_notification(
    session: Session, *, account_id: int, phone_number_id: str, document: Any
) -> tuple[Handled, list[int]]:
    """Store a notification's messages and statuses; returns counts and the new message ids."""
    handled = Handled()
    items: list[Item] = []
    if not isinstance(document, dict) or not isinstance(document.get("entry"), list):
        raise PayloadError("a WhatsApp notification is an object with an entry list")
    for entry in document["entry"]:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        if not isinstance(changes, list):
            raise PayloadError("each entry must have a changes list")
        for change in changes:
            if not isinstance(change, dict) or not isinstance(change.get("value"), dict):
                raise PayloadError("each change must be an object with a value object")
            if change.get("field") != "messages":
                handled.ignored += 1  # account updates, template reviews...: not conversations
                continue
            value = change["value"]
            metadata = value.get("metadata") if isinstance(value.get("metadata"), dict) else {}
            assert isinstance(metadata, dict)
            number = metadata.get("phone_number_id")
            if number is not None and str(number) != phone_number_id:
                raise PayloadError(f"for phone number id {number}, not this account's {phone_number_id}")
            names = _contact_names(value)
            for body in value.get("messages") or []:
                items.append(
                    read_message(
                        body,
                        account_id=account_id,
                        phone_number_id=phone_number_id,
                        names=names,
                        session=session,
                    )
                )
            for status in value.get("statuses") or []:
                if not isinstance(status, dict) or status.get("status") not in STATUSES:
                    handled.ignored += 1
                    continue
                if not isinstance(status.get("id"), str):
                    handled.ignored += 1
                    continue
                matched = record_receipt(
                    session,
                    kind=KIND,
                    account_id=account_id,
                    provider_id=status["id"],
                    status=str(status["status"]),
                    error=_status_error(status),
                )
                handled.statuses += 1
                handled.unmatched_statuses += not matched
    outcome = store_items(session, kind=KIND, account_id=account_id, items=items)
    handled.stored = sum(not r.duplicate for r in outcome.results)
    handled.duplicates = sum(r.duplicate for r in outcome.results)
    handled.quarantined = outcome.quarantined
    return handled, outcome.fresh_ids


@dataclass
class WebhookAnswer:
    status_code: int
    body: dict[str, Any]


def receive_webhook(
    runtime: Runtime, *, account_id: int, signature_header: str | None, body: bytes, remote: str | None
) -> WebhookAnswer:
    with runtime.db.sessions() as session:
        secrets, config, enabled = _secrets(session, account_id)
    app_secret = str(secrets.get("app_secret") or "")
    if not app_secret:
        reason, words = "no_secret", "set the account's app_secret: every notification is signed with it"
    elif not signature_header:
        reason, words = "missing_signature", f"send {SIGNATURE_HEADER}: sha256=<hex HMAC-SHA256 of the body>"
    elif not hmac.compare_digest(
        signature(app_secret, body).encode(), signature_header.strip().lower().encode()
    ):
        reason, words = "bad_signature", "the signature does not match the body and the app secret"
    else:
        reason = words = ""
    if reason:
        reject_webhook(runtime, kind=KIND, account_id=account_id, reason=reason, words=words, remote=remote)
        return WebhookAnswer(401, {"reason": reason, "message": words})
    if not enabled:
        raise Forbidden(f"whatsapp account {account_id} is disabled")
    phone_number_id = str(config.get("phone_number_id") or "")
    fresh: list[int] = []
    try:
        document = decode_json(body)
        with runtime.db.session() as session:
            handled, fresh = handle_notification(
                session, account_id=account_id, phone_number_id=phone_number_id, document=document
            )
    except PayloadError as exc:
        # Answered 200 all the same: Meta would only send the same unreadable body again.
        with runtime.db.session() as session:
            kept = quarantine_once(
                session,
                kind=KIND,
                account_id=account_id,
                ref="sha256:" + hashlib.sha256(body).hexdigest(),
                raw=body,
                problem=Unreadable(exc.reason),
            )
            channels.record_error(session=session, account_id=account_id, error=f"quarantined: {exc.reason}")
        return WebhookAnswer(200, {"ok": True, "stored": 0, "duplicates": 0, "quarantined": int(kept)})
    if fresh:  # after commit: a job must never look for a message not there yet
        runtime.enqueue_messages(fresh)
    with runtime.db.session() as session:
        channels.record_success(session=session, account_id=account_id, backlog=0)
    return WebhookAnswer(200, {"ok": True, **handled.__dict__})


# --- reprocessing from the quarantine ----------------------------------------------------------------


@register_parser(KIND)
def reprocess_message(
    row: QuarantinedPayload, corrected: dict[str, Any] | None, max_items: int
) -> list[MessageIn]:
    """An agent fixed a WhatsApp message object or a whole notification (or sends our own message
    JSON): read it again. A notification's statuses are not replayed; its messages are."""
    if corrected is not None and "type" not in corrected and "entry" not in corrected:
        return parse_webhook_entry(row, corrected, max_items)
    try:
        body = corrected if corrected is not None else json.loads(bytes(row.raw))
    except ValueError as exc:
        raise PayloadError(f"not JSON: {exc}") from None
    account_id = (row.details or {}).get("account_id")
    known = account_id if isinstance(account_id, int) else None
    bodies: list[tuple[Any, dict[str, str]]] = [(body, {})]
    if isinstance(body, dict) and "entry" in body:
        bodies = []
        try:
            for entry in body["entry"]:
                for change in entry["changes"]:
                    value = change["value"]
                    names = _contact_names(value)
                    bodies += [(message, names) for message in value.get("messages") or []]
        except (KeyError, TypeError, AttributeError) as exc:
            raise PayloadError(f"not a WhatsApp notification: missing or wrong {exc}") from None
    messages = []
    for message, names in bodies[:max_items]:
        item = read_message(message, account_id=known, phone_number_id=None, names=names)
        if item.message is None:
            raise PayloadError(item.problem.reason if item.problem else "no message here")
        messages.append(item.message)
    if not messages:
        raise PayloadError("there is no message in this notification")
    return messages
