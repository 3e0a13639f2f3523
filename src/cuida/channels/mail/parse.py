"""One raw email (RFC 5322 bytes) → what ingest needs, or the reason it cannot be read.

Decisions: the text is the new part of the message (quotes cut, see quotes.py), the HTML body is
kept whole (ingest sanitises it); attachments are returned as bytes for the poller to store;
auto-replies and bounces are recognised here and never become customer messages."""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import errors as mime_errors
from email import policy
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from typing import Any

from cuida.channels.mail.quotes import strip_quoted

MAX_ID_CHARS = 300
# Defects that mean the structure itself is broken: the parts we would read are not the ones sent.
_BROKEN = (
    mime_errors.StartBoundaryNotFoundDefect,
    mime_errors.NoBoundaryInMultipartDefect,
    mime_errors.MultipartInvariantViolationDefect,
)
_MSG_ID = re.compile(r"<([^<>\s]{1,998})>")
_OURS = re.compile(r"^cuida\.(\d+)\.(\d+)@", re.I)
_AUTO_SUBJECT = re.compile(
    r"^\s*(?:respuesta autom[aá]tica|auto(?:matic)?[ -]?reply|auto:|out of (?:the )?office|"
    r"fuera de (?:la )?oficina|ausencia|absence|autorespuesta|r[eé]ponse automatique)",
    re.I,
)
_BOUNCE_FROM = re.compile(r"^(?:mailer-daemon|postmaster)@", re.I)
_BOUNCE_SUBJECT = re.compile(
    r"^\s*(?:undeliver(?:ed|able)|delivery status notification \(failure\)|mail delivery failed|"
    r"returned mail|no se ha podido entregar|notificaci[oó]n de estado de (?:la )?entrega)",
    re.I,
)


class Unreadable(Exception):
    """The email cannot become a message; `reason` says why, for the quarantine."""

    def __init__(self, reason: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.details = details or {}


@dataclass
class Attachment:
    filename: str
    content_type: str
    data: bytes
    inline: bool = False


@dataclass
class ParsedEmail:
    external_id: str  # the Message-ID without brackets, or a hash of the bytes when it has none
    message_id: str | None
    from_address: str
    from_name: str | None
    to: list[str]
    cc: list[str]
    subject: str
    date: datetime | None
    in_reply_to: str | None
    references: list[str]
    text: str
    quoted_chars: int
    html: str | None
    attachments: list[Attachment] = field(default_factory=list)
    # ("auto_reply" | "bounce" | "own", why) when no customer wrote it; None for a customer's email.
    automated: tuple[str, str] | None = None
    bounce_of: str | None = None  # for a bounce: the Message-ID of the email that bounced


def clean(value: str) -> str:
    """Text the databases can store: undecodable bytes (kept by the parser as surrogates) become
    U+FFFD, NULs are dropped."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace").replace("\x00", "")


def message_ids(value: str | None) -> list[str]:
    if not value:
        return []
    found = _MSG_ID.findall(clean(str(value)))
    if not found and str(value).strip() and " " not in str(value).strip():
        found = [str(value).strip().strip("<>")]
    return [item[:MAX_ID_CHARS] for item in found]


def our_delivery(message_id: str) -> int | None:
    """The delivery id inside a Message-ID this hub gave to a reply (cuida.<delivery>.<account>@...)."""
    match = _OURS.match(message_id)
    return int(match.group(1)) if match else None


class Headers:
    """The top-level headers as sent (unfolded, not parsed): reading them through the parsing
    header registry cost most of the time of a poll, and these need no more than a string."""

    def __init__(self, msg: Message) -> None:
        self.values: dict[str, str] = {}
        for name, value in msg.raw_items():
            key = name.lower()
            if key not in self.values:
                self.values[key] = clean(re.sub(r"\r?\n[ \t]", " ", str(value))).strip()

    def __getitem__(self, name: str) -> str:
        return self.values.get(name.lower(), "")

    def decoded(self, name: str) -> str:
        return decode_words(self[name])


def decode_words(value: str) -> str:
    """RFC 2047 encoded words (=?iso-8859-1?q?Jos=E9?=) as text; undecodable ones stay as sent."""
    if "=?" not in value:
        return value
    try:
        return clean(str(make_header(decode_header(value))))
    except (LookupError, UnicodeError, ValueError, HeaderParseError):
        return value


def _defects(msg: Message) -> list[str]:
    found = []
    for part in msg.walk():
        for defect in part.defects:
            if isinstance(defect, _BROKEN):
                found.append(type(defect).__name__)
    return found


def _automated(msg: Message, headers: Headers, from_address: str, subject: str) -> tuple[str, str] | None:
    content_type = msg.get_content_type()
    if content_type == "multipart/report":
        report = msg.get_param("report-type") or "report"
        return "bounce", f"a delivery report (multipart/report; report-type={report})"
    if _BOUNCE_FROM.match(from_address):
        return "bounce", f"sent by the mail system ({from_address})"
    if headers["Return-Path"] == "<>" and _BOUNCE_SUBJECT.match(subject):
        return "bounce", "a delivery failure notice (empty return path)"
    auto_submitted = headers["Auto-Submitted"].lower()
    if auto_submitted and auto_submitted != "no":
        return "auto_reply", f"Auto-Submitted: {auto_submitted[:80]}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Autogenerated"):
        if headers[name]:
            return "auto_reply", f"{name}: {headers[name][:80]}"
    precedence = headers["Precedence"].lower()
    if precedence in ("bulk", "auto_reply", "junk"):
        return "auto_reply", f"Precedence: {precedence}"
    if _AUTO_SUBJECT.match(subject):
        return "auto_reply", f"an automatic reply (subject {subject[:80]!r})"
    return None


def _bounced_id(msg: Message) -> str | None:
    for part in msg.walk():
        content_type = part.get_content_type()
        if content_type == "message/rfc822":
            inner = part.get_payload()
            inner = inner[0] if isinstance(inner, list) and inner else inner
            if isinstance(inner, Message):
                ids = message_ids(inner.get("Message-ID"))
                if ids:
                    return ids[0]
        elif content_type == "text/rfc822-headers":
            payload = part.get_payload(decode=True)
            text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else str(payload)
            match = re.search(r"^Message-ID:\s*(.+)$", text, re.M | re.I)
            if match:
                ids = message_ids(match.group(1))
                if ids:
                    return ids[0]
    return None


def _text_of(part: Message) -> str:
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else str(payload or "").encode("utf-8", "surrogateescape")
    declared = part.get_content_charset()
    charset = declared or "us-ascii"
    try:
        codecs.lookup(charset)
    except LookupError:
        raise Unreadable(f"unknown character set {charset!r} in a {part.get_content_type()} part") from None
    if not declared or charset in ("us-ascii", "ascii"):
        # Undeclared 8-bit text is nearly always UTF-8, else Latin-1: never lose a letter to "?".
        try:
            return clean(data.decode("utf-8"))
        except UnicodeDecodeError:
            return clean(data.decode("iso-8859-1"))
    return clean(data.decode(charset, errors="replace"))


def _bodies(msg: Message) -> tuple[str | None, str | None, list[Attachment]]:
    text: str | None = None
    html: str | None = None
    attachments: list[Attachment] = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        content_type = part.get_content_type()
        disposition = part.get_content_disposition()
        filename = part.get_filename()
        if content_type.startswith("message/") or content_type == "text/rfc822-headers":
            continue  # a report's parts (bounces only) or a forwarded email's headers
        is_body = disposition != "attachment" and not filename and content_type in ("text/plain", "text/html")
        if is_body and content_type == "text/plain" and text is None:
            text = _text_of(part)
            continue
        if is_body and content_type == "text/html" and html is None:
            html = _text_of(part)
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        name = decode_words(clean(str(filename))) if filename else f"part-{len(attachments) + 1}"
        attachments.append(Attachment(name[:255], content_type, payload, inline=disposition == "inline"))
    return text, html, attachments


def parse_email(raw: bytes) -> ParsedEmail:
    try:
        # compat32: headers stay strings (the parsing header registry was most of a poll's time);
        # encoded words and charsets are decoded here, where they are needed.
        msg = BytesParser(policy=policy.compat32).parsebytes(raw)
    except Exception as exc:  # the parser is lenient; anything it raises is a broken email
        raise Unreadable(f"the email cannot be parsed: {type(exc).__name__}: {exc}") from None
    broken = _defects(msg)
    if broken:
        raise Unreadable(f"malformed MIME structure: {', '.join(sorted(set(broken)))}", {"defects": broken})
    headers = Headers(msg)
    try:
        from_name, from_address = parseaddr(headers["From"])
        from_name = decode_words(from_name)
        subject = headers.decoded("Subject")
        to = [a for _, a in getaddresses([headers["To"]]) if a]
        cc = [a for _, a in getaddresses([headers["Cc"]]) if a]
        ids = message_ids(headers["Message-ID"])
        replied = message_ids(headers["In-Reply-To"])
        in_reply_to = replied[0] if replied else None
        references = message_ids(headers["References"])
        date: datetime | None = None
        if headers["Date"]:
            with contextlib.suppress(TypeError, ValueError, IndexError, OverflowError):
                date = parsedate_to_datetime(headers["Date"])
    except Exception as exc:
        raise Unreadable(f"the headers cannot be read: {type(exc).__name__}: {exc}") from None
    if date is not None and date.tzinfo is None:
        date = date.replace(tzinfo=UTC)  # RFC 5322 "-0000": the time is UTC, the zone unknown
    if not from_address or "@" not in from_address:
        raise Unreadable("the email has no sender address (From)", {"from": headers["From"][:300]})
    message_id = ids[0] if ids else None
    external_id = message_id or "sha256:" + hashlib.sha256(raw).hexdigest()
    automated = _automated(msg, headers, from_address, subject)
    text, html, attachments = _bodies(msg)
    quoted = 0
    if text is not None:
        text, quoted = strip_quoted(text)
    parsed = ParsedEmail(
        external_id=external_id,
        message_id=message_id,
        from_address=from_address.strip()[:320],
        from_name=clean(from_name).strip()[:300] or None,
        to=to,
        cc=cc,
        subject=subject[:998],
        date=date,
        in_reply_to=in_reply_to,
        references=references[-50:],
        text=text or "",
        quoted_chars=quoted,
        html=html,
        attachments=attachments,
        automated=automated,
    )
    if automated and automated[0] == "bounce":
        parsed.bounce_of = _bounced_id(msg)
    return parsed
