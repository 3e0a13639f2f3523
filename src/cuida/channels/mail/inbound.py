"""IMAP polling: each new email of an account's mailboxes becomes a message through ingest, a
quarantine entry (unreadable, auto-reply, bounce), never both and never twice.

Nothing is fetched twice or missed across restarts: the cursor (UIDVALIDITY, last UID) of each
mailbox moves forward in the same transaction that stores a batch, so a poller killed at any
point repeats at most the batch it had not committed; ingest's (channel, Message-ID) key and the
quarantine's (source, source_ref) check make even that repetition a no-op. A new UIDVALIDITY (the
server renumbered the mailbox) starts the mailbox again from its first UID, with the same
protection. The mailbox is opened read-only: the hub never changes the customer's mail.
"""

from __future__ import annotations

import contextlib
import hashlib
import imaplib
import logging
import os
import re
import ssl
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from cuida.channels import service as channels
from cuida.channels.mail.config import EmailConfig
from cuida.channels.mail.parse import ParsedEmail, Unreadable, our_delivery, parse_email
from cuida.channels.mail.quotes import strip_quoted
from cuida.channels.schemas import PollAnswer
from cuida.common.errors import Invalid
from cuida.conversations.models import Delivery, Message
from cuida.customers.identity import IdentityError, identity_key
from cuida.events.service import Actor, publish
from cuida.ingest.html import html_to_text, sanitize_html
from cuida.ingest.schemas import MAX_TEXT_CHARS, Accepted, AuthorIn, MessageIn
from cuida.ingest.service import accept
from cuida.quarantine.models import QuarantinedPayload
from cuida.quarantine.service import PayloadError, parse_webhook_entry, put, register_parser
from cuida.runtime import current_settings

if TYPE_CHECKING:
    from cuida.runtime import Runtime

log = logging.getLogger(__name__)
CHUNK_BYTES = 32 * 1024 * 1024  # one transaction holds at most this much mail (a batch, or one big email)
_FETCH_UID = re.compile(rb"UID (\d+)")
_FETCH_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")
# A first poll of a big mailbox gets every UID in one SEARCH line (about 7 bytes each): imaplib's
# 1 MB line limit would refuse a mailbox of more than ~150,000 emails.
setattr(imaplib, "_MAXLINE", max(int(getattr(imaplib, "_MAXLINE", 0)), 64 * 1024 * 1024))  # noqa: B010


def _actor(account_id: int) -> Actor:
    return Actor("channel", account_id, "email")


# --- attachments -------------------------------------------------------------------------------


def store_attachment(data_dir: Path, data: bytes) -> tuple[str, str]:
    """Write the bytes once under the data folder, named by their SHA-256: a repeated fetch
    writes nothing new and a crash leaves at most a file nobody lists. Returns (sha256, path
    relative to the data folder)."""
    digest = hashlib.sha256(data).hexdigest()
    relative = Path("attachments") / digest[:2] / digest
    target = data_dir / relative
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as handle:
            handle.write(data)
            temp = handle.name
        os.replace(temp, target)
    return digest, relative.as_posix()


def _attachments(data_dir: Path, parsed: ParsedEmail) -> list[dict[str, Any]]:
    listed = []
    for item in parsed.attachments:
        digest, path = store_attachment(data_dir, item.data)
        listed.append(
            {
                "filename": item.filename,
                "content_type": item.content_type,
                "size": len(item.data),
                "sha256": digest,
                "path": path,
                "inline": item.inline,
            }
        )
    return listed


# --- email → message -----------------------------------------------------------------------------


def _reply_target(session: Session, parsed: ParsedEmail) -> str | None:
    """The external_id of the message this email answers: the newest id of its reply chain that
    is ours (a reply we sent, whose Message-ID names its delivery, or an email we stored)."""
    chain = [parsed.in_reply_to] if parsed.in_reply_to else []
    chain += [ref for ref in reversed(parsed.references) if ref not in chain]
    if not chain:
        return None
    deliveries = {ref: our_delivery(ref) for ref in chain}
    ours = {d for d in deliveries.values() if d is not None}
    sent: dict[int, str] = {}
    if ours:
        rows = session.execute(
            select(Delivery.id, Message.external_id)
            .join(Message, Message.id == Delivery.message_id)
            .where(Delivery.id.in_(ours))
        )
        sent = {delivery_id: external_id for delivery_id, external_id in rows}
    stored = set(
        session.scalars(
            select(Message.external_id).where(Message.channel == "email", Message.external_id.in_(chain))
        )
    )
    for ref in chain:
        delivery_id = deliveries[ref]
        if delivery_id is not None and delivery_id in sent:
            return sent[delivery_id]
        if ref in stored:
            return ref
    # Unknown so far: the parent may be in this very batch, and is looked up again when threading.
    return parsed.in_reply_to


def to_message(
    parsed: ParsedEmail,
    *,
    account_id: int | None,
    mailbox: str | None,
    attachments: list[dict[str, Any]],
    in_reply_to: str | None,
) -> MessageIn:
    """The normalised message of a person's email. Raises Unreadable when ingest would refuse it."""
    text = parsed.text
    html = parsed.html
    if html is not None and len(html) > MAX_TEXT_CHARS * 2:
        html = None  # too big to keep as HTML; the text part or its extract still carries it
    if not text and parsed.html:
        text, parsed.quoted_chars = strip_quoted(html_to_text(sanitize_html(parsed.html)))
    if not text and not html:
        names = ", ".join(a["filename"] for a in attachments)
        text = f"[{names}]" if names else parsed.subject
    if not text and not html:
        raise Unreadable("the email has no text, no HTML, no attachment and no subject")
    try:
        identity_key("email", parsed.from_address)
    except IdentityError as exc:
        raise Unreadable(f"the sender cannot be a customer identity: {exc}") from None
    email_meta = {
        "account_id": account_id,
        "mailbox": mailbox,
        "message_id": parsed.message_id,
        "subject": parsed.subject,
        "to": parsed.to[:50],
        "cc": parsed.cc[:50],
        "in_reply_to": parsed.in_reply_to,
        "references": parsed.references,
        "quoted_chars": parsed.quoted_chars,
    }
    try:
        return MessageIn(
            channel="email",
            external_id=parsed.external_id,
            direction="in",
            author=AuthorIn(value=parsed.from_address, name=parsed.from_name),
            text=text[:MAX_TEXT_CHARS],
            html=html,
            occurred_at=parsed.date,
            in_reply_to=in_reply_to,
            metadata={"email": email_meta, "attachments": attachments},
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise Unreadable(f"the email cannot be a message: {where}: {first['msg']}") from None


# --- storing one batch -----------------------------------------------------------------------------


@dataclass
class Fetched:
    uid: int
    raw: bytes


@dataclass
class Stored:
    results: list[Accepted]
    quarantined: int


def _quarantine(
    session: Session, account_id: int, ref: str, raw: bytes, reason: str, details: dict[str, Any]
) -> bool:
    """Keep an email that is not a customer's message; False when this copy is already kept."""
    source_ref = f"{account_id}:{ref}"[:300]
    seen = session.scalar(
        select(QuarantinedPayload.id).where(
            QuarantinedPayload.source == "email", QuarantinedPayload.source_ref == source_ref
        )
    )
    if seen is not None:
        return False
    row = put(
        session=session,
        source="email",
        source_ref=source_ref,
        channel="email",
        raw=raw,
        reason=reason,
        details={"account_id": account_id, **details},
        content_type="message/rfc822",
        actor=_actor(account_id),
    )
    delivery_id = details.get("delivery_id")
    if details.get("kind") == "bounce" and isinstance(delivery_id, int):
        _bounced(session, account_id, delivery_id, row.id, reason)
    return True


def _bounced(session: Session, account_id: int, delivery_id: int, quarantine_id: int, reason: str) -> None:
    """A reply of ours bounced: say so on its conversation, where the agent who sent it looks."""
    found = session.execute(
        select(Message.id, Message.conversation_id, Message.customer_id)
        .join(Delivery, Delivery.message_id == Message.id)
        .where(Delivery.id == delivery_id)
    ).first()
    if found is None:
        return
    message_id, conversation_id, customer_id = found
    publish(
        session=session,
        type="reply.bounced",
        actor=_actor(account_id),
        customer_id=customer_id,
        conversation_id=conversation_id,
        message_id=message_id,
        payload={"delivery_id": delivery_id, "quarantine_id": quarantine_id, "reason": reason[:500]},
    )


def store_batch(
    runtime: Runtime,
    *,
    account_id: int,
    mailbox: str,
    uidvalidity: int,
    fetched: list[Fetched],
    last_uid: int,
    lease_seconds: float,
    own_address: str = "",
) -> Stored:
    """Turn a batch of raw emails into messages and quarantine entries and move the mailbox's
    cursor to `last_uid`, all in one transaction."""
    parsed: list[tuple[Fetched, ParsedEmail | Unreadable, list[dict[str, Any]]]] = []
    for item in fetched:  # parsing and writing attachments happen before the transaction opens
        try:
            email = parse_email(item.raw)
        except Unreadable as exc:
            parsed.append((item, exc, []))
            continue
        if email.from_address.lower() == own_address.lower() or (
            email.message_id and our_delivery(email.message_id) is not None
        ):
            # A copy of what this hub or this mailbox sent (a Sent folder, a Bcc to itself).
            email.automated = ("own", f"sent from this mailbox itself ({email.from_address})")
        files = _attachments(runtime.settings.data_dir, email) if email.automated is None else []
        parsed.append((item, email, files))
    quarantined = 0
    with runtime.db.session() as session:
        messages: list[tuple[Fetched, str, MessageIn]] = []
        for item, entry, files in parsed:
            where = {"mailbox": mailbox, "uid": item.uid, "uidvalidity": uidvalidity}
            if isinstance(entry, Unreadable):
                ref = "sha256:" + hashlib.sha256(item.raw).hexdigest()
                quarantined += _quarantine(
                    session,
                    account_id,
                    ref,
                    item.raw,
                    entry.reason,
                    {"kind": "unreadable", **where, **entry.details},
                )
                continue
            email = entry
            if email.automated is not None:
                kind, why = email.automated
                words = {"bounce": "bounce", "own": "our own email"}.get(kind, "auto-reply")
                details: dict[str, Any] = {"kind": kind, "from": email.from_address, "subject": email.subject}
                if email.bounce_of:
                    details["bounce_of"] = email.bounce_of
                    details["delivery_id"] = our_delivery(email.bounce_of)
                quarantined += _quarantine(
                    session,
                    account_id,
                    email.external_id,
                    item.raw,
                    f"{words}, not a customer: {why}",
                    {**details, **where},
                )
                continue
            try:
                message = to_message(
                    email,
                    account_id=account_id,
                    mailbox=mailbox,
                    attachments=files,
                    in_reply_to=_reply_target(session, email),
                )
            except Unreadable as exc:
                quarantined += _quarantine(
                    session,
                    account_id,
                    email.external_id,
                    item.raw,
                    exc.reason,
                    {"kind": "unreadable", **where},
                )
                continue
            messages.append((item, email.external_id, message))
        results = _accept(session, account_id, messages, mailbox, uidvalidity)
        quarantined += sum(1 for r in results if r is None)
        channels.set_cursor(
            session=session,
            account_id=account_id,
            key=f"imap:{mailbox}",
            value={"uidvalidity": uidvalidity, "last_uid": last_uid},
        )
        channels.extend_poll(session=session, account_id=account_id, lease_seconds=lease_seconds)
    accepted = [r for r in results if r is not None]
    return Stored(accepted, quarantined)


def _accept(
    session: Session,
    account_id: int,
    messages: list[tuple[Fetched, str, MessageIn]],
    mailbox: str,
    uidvalidity: int,
) -> list[Accepted | None]:
    """Accept the batch at once; if ingest refuses one, accept them one by one and quarantine
    only the refused ones (None in the answer)."""
    if not messages:
        return []
    try:
        with session.begin_nested():
            return list(accept(session=session, items=[m for _, _, m in messages], actor=_actor(account_id)))
    except Invalid:
        pass
    answers: list[Accepted | None] = []
    for item, ref, message in messages:
        try:
            with session.begin_nested():
                answers.extend(accept(session=session, items=[message], actor=_actor(account_id)))
        except Invalid as exc:
            where = {"mailbox": mailbox, "uid": item.uid, "uidvalidity": uidvalidity}
            _quarantine(session, account_id, ref, item.raw, exc.message, {"kind": "unreadable", **where})
            answers.append(None)
    return answers


# --- IMAP ------------------------------------------------------------------------------------------


def _connect(config: EmailConfig, secrets: dict[str, Any]) -> imaplib.IMAP4:
    assert config.imap_host is not None
    conn: imaplib.IMAP4
    if config.imap_security == "ssl":
        conn = imaplib.IMAP4_SSL(
            config.imap_host,
            config.imap_port,
            ssl_context=ssl.create_default_context(),
            timeout=config.timeout_seconds,
        )
    else:
        conn = imaplib.IMAP4(config.imap_host, config.imap_port, timeout=config.timeout_seconds)
        if config.imap_security == "starttls":
            conn.starttls(ssl.create_default_context())
    conn.login(config.imap_user or config.address, str(secrets.get("imap_password") or ""))
    return conn


def _quote(mailbox: str) -> str:
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _check(answer: tuple[str, Any], what: str) -> Any:
    status, data = answer
    if status != "OK":
        raise RuntimeError(f"IMAP {what} failed: {data!r}"[:500])
    return data


def _sizes(conn: imaplib.IMAP4, uids: list[int]) -> dict[int, int]:
    sizes: dict[int, int] = {}
    for start in range(0, len(uids), 1000):
        chunk = ",".join(str(u) for u in uids[start : start + 1000])
        for line in _check(conn.uid("FETCH", chunk, "(UID RFC822.SIZE)"), "FETCH sizes"):
            text = line[0] if isinstance(line, tuple) else line
            if not isinstance(text, bytes):
                continue
            uid, size = _FETCH_UID.search(text), _FETCH_SIZE.search(text)
            if uid and size:
                sizes[int(uid.group(1))] = int(size.group(1))
    return sizes


def _batches(uids: list[int], sizes: dict[int, int], count: int) -> Iterator[list[int]]:
    batch: list[int] = []
    total = 0
    for uid in uids:
        size = sizes.get(uid, 0)
        if batch and (len(batch) >= count or total + size > CHUNK_BYTES):
            yield batch
            batch, total = [], 0
        batch.append(uid)
        total += size
    if batch:
        yield batch


def _fetch(conn: imaplib.IMAP4, uids: list[int]) -> list[Fetched]:
    data = _check(conn.uid("FETCH", ",".join(str(u) for u in uids), "(UID BODY.PEEK[])"), "FETCH")
    found: list[Fetched] = []
    for part in data:
        if isinstance(part, tuple) and len(part) == 2:
            match = _FETCH_UID.search(part[0])
            if match and isinstance(part[1], bytes):
                found.append(Fetched(int(match.group(1)), part[1]))
    return sorted(found, key=lambda f: f.uid)


def poll_mailbox(
    runtime: Runtime,
    conn: imaplib.IMAP4,
    account_id: int,
    config: EmailConfig,
    mailbox: str,
    answer: PollAnswer,
) -> None:
    _check(conn.select(_quote(mailbox), readonly=True), f"SELECT {mailbox}")
    validity_data = conn.response("UIDVALIDITY")[1]
    uidvalidity = int(validity_data[-1]) if validity_data and validity_data[-1] else 0
    key = f"imap:{mailbox}"
    with runtime.db.sessions() as session:
        cursor = channels.get_cursor(session=session, account_id=account_id, key=key)
    last_uid = int(cursor.get("last_uid", 0)) if cursor.get("uidvalidity") == uidvalidity else 0
    if cursor and cursor.get("uidvalidity") != uidvalidity:
        log.warning("email account %s: %s has a new UIDVALIDITY; reading it again", account_id, mailbox)
    data = _check(conn.uid("SEARCH", f"UID {last_uid + 1}:*"), "SEARCH")
    # "N:*" always includes the mailbox's last message, even when its UID is below N.
    uids = sorted(u for u in (int(x) for x in (data[0] or b"").split()) if u > last_uid)
    answer.backlog += len(uids)
    if not uids:
        return
    sizes = _sizes(conn, uids)
    lease = max(runtime.settings.lease_seconds, 2 * config.timeout_seconds)
    for batch in _batches(uids, sizes, config.batch):
        fetched = _fetch(conn, batch)  # a UID expunged meanwhile is simply not there: skipped
        stored = store_batch(
            runtime,
            account_id=account_id,
            mailbox=mailbox,
            uidvalidity=uidvalidity,
            fetched=fetched,
            last_uid=batch[-1],
            lease_seconds=lease,
            own_address=config.address,
        )
        fresh = [r.message_id for r in stored.results if not r.duplicate and r.stage != "done"]
        if fresh:  # after commit: a job must never look for a message not there yet
            runtime.enqueue_messages(fresh)
        answer.fetched += len(fetched)
        answer.stored += sum(not r.duplicate for r in stored.results)
        answer.duplicates += sum(r.duplicate for r in stored.results)
        answer.quarantined += stored.quarantined
        answer.backlog -= len(batch)


def poll(runtime: Runtime, account_id: int) -> PollAnswer:
    """One poll of every mailbox of an email account, unless another worker holds it."""
    db = runtime.db
    with db.session() as session:
        if not channels.claim_poll(
            session=session, account_id=account_id, lease_seconds=runtime.settings.lease_seconds
        ):
            return PollAnswer(account_id=account_id, polled=False)
        account = channels.get_account(session=session, account_id=account_id)
        config = EmailConfig.model_validate(account.config)
        secrets = dict(account.secrets or {})
    answer = PollAnswer(account_id=account_id, polled=True)
    try:
        if config.imap_host:
            conn = _connect(config, secrets)
            try:
                for mailbox in config.mailboxes:
                    poll_mailbox(runtime, conn, account_id, config, mailbox, answer)
            finally:
                with contextlib.suppress(Exception):  # the poll's outcome matters, not a polite goodbye
                    conn.logout()
        with db.session() as session:
            channels.record_success(session=session, account_id=account_id, backlog=answer.backlog)
    except Exception as exc:
        answer.error = f"{type(exc).__name__}: {exc}"[:2000]
        log.warning("email account %s: poll failed: %s", account_id, answer.error)
        with db.session() as session:
            channels.record_error(
                session=session, account_id=account_id, error=answer.error, backlog=answer.backlog
            )
    finally:
        with db.session() as session:
            channels.release_poll(session=session, account_id=account_id, next_in_seconds=config.poll_seconds)
    return answer


# --- reprocessing from the quarantine ------------------------------------------------------------


@register_parser("email")
def reprocess_email(
    row: QuarantinedPayload, corrected: dict[str, Any] | None, max_items: int
) -> list[MessageIn]:
    """An agent decided this email is a customer's after all (an auto-reply that says more, a
    message fixed by hand): read it again, this time without the auto-reply check."""
    if corrected is not None:
        return parse_webhook_entry(row, corrected, max_items)
    try:
        email = parse_email(bytes(row.raw))
        details = row.details or {}
        files = _attachments(current_settings().data_dir, email)
        account_id = details.get("account_id")
        return [
            to_message(
                email,
                account_id=account_id if isinstance(account_id, int) else None,
                mailbox=str(details.get("mailbox") or "") or None,
                attachments=files,
                in_reply_to=email.in_reply_to,
            )
        ]
    except Unreadable as exc:
        raise PayloadError(exc.reason) from None
