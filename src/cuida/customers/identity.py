"""Normalising identity values so the same person is recognised on every channel, and finding the
addresses, numbers and handles a customer writes inside a message.

The normalised value is the key (`identities.value`); what the customer actually wrote stays in
`identities.display`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import phonenumbers

PHONE_CHANNELS = {"phone", "sms", "whatsapp"}
EMAIL_CHANNELS = {"email", "webform", "webchat"}
WEBCHAT_VISITOR_PREFIX = "visitor-"  # the webchat identity of a visitor who left no email
# Channels whose identities are user names on a network (a handle written anywhere may be one).
HANDLE_CHANNELS = {"twitter", "instagram", "facebook", "youtube", "tiktok", "linkedin", "telegram"}
# Channels whose author may be named by a national phone number (an integration, an import, a note
# from the shop). Not the networks: a numeric user name or a Telegram user id is not a phone.
PHONE_AS_HANDLE_CHANNELS = {"webhook", "api", "import", "store", "workshop"}
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_PHONEISH = re.compile(r"^\+?[\d\s().-]{7,20}$")
_DIGITS_ONLY = re.compile(r"^\d{7,15}$")
_PHONE_NOISE = re.compile(r"[\s().\-/]")
_URI_PREFIX = re.compile(r"^(tel|whatsapp|sms):", re.IGNORECASE)

# Address rules of a few large providers, and only those we know (a wrong rule would join two
# people). Gmail ignores dots in the local part and googlemail.com is the same domain; these
# providers deliver "name+anything@" to "name@" (subaddressing), so the tag is dropped.
DOMAIN_ALIASES = {"googlemail.com": "gmail.com"}
DOTS_IGNORED = {"gmail.com"}
PLUS_SUBADDRESSING = {
    "gmail.com",
    "outlook.com",
    "outlook.es",
    "hotmail.com",
    "hotmail.es",
    "live.com",
    "icloud.com",
    "me.com",
    "proton.me",
    "protonmail.com",
    "pm.me",
    "fastmail.com",
}


class IdentityError(ValueError):
    pass


def normalize_phone(value: str, region: str = "ES") -> str:
    """E.164. A number without a prefix is read in `region` (Spain by default); "+" or "00" and a
    country code keep that country (Mexico, Argentina, Colombia...). Digits with a country code but
    no "+" (how WhatsApp names its users) are read as international when they are not a valid
    number of `region`."""
    compact = _PHONE_NOISE.sub("", _URI_PREFIX.sub("", value.strip()))
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    try:
        number = phonenumbers.parse(compact, region)
    except phonenumbers.NumberParseException as exc:
        raise IdentityError(f"{value!r} is not a phone number ({exc})") from None
    if not phonenumbers.is_valid_number(number) and compact.isdigit() and len(compact) >= 10:
        try:
            international = phonenumbers.parse("+" + compact, None)
        except phonenumbers.NumberParseException:
            international = None
        if international is not None and _valid(international):
            number = international
    number = _without_mexican_mobile_one(number)
    if not phonenumbers.is_possible_number(number):
        raise IdentityError(f"{value!r} is not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _valid(number: phonenumbers.PhoneNumber) -> bool:
    return phonenumbers.is_valid_number(_without_mexican_mobile_one(number))


def _without_mexican_mobile_one(number: phonenumbers.PhoneNumber) -> phonenumbers.PhoneNumber:
    """Mexican mobiles used to be dialled "+52 1 ..." and WhatsApp still names them so; since 2019
    the "1" is gone, so both forms are one number."""
    national = str(number.national_number)
    if number.country_code == 52 and len(national) == 11 and national.startswith("1"):
        return phonenumbers.PhoneNumber(country_code=52, national_number=int(national[1:]))
    return number


def normalize_email(value: str) -> str:
    value = value.strip().strip("<>").lower()
    if not _EMAIL.match(value):
        raise IdentityError(f"{value!r} is not an email address")
    local, _, domain = value.rpartition("@")
    domain = DOMAIN_ALIASES.get(domain, domain)
    if domain in PLUS_SUBADDRESSING and "+" in local:
        local = local.split("+", 1)[0] or local
    if domain in DOTS_IGNORED:
        local = local.replace(".", "") or local
    return f"{local}@{domain}"


def normalize_handle(value: str) -> str:
    value = value.strip().lstrip("@").lower()
    if not value or len(value) > 300 or any(c.isspace() for c in value):
        raise IdentityError(f"{value!r} is not a handle")
    return value


def identity_key(channel: str, value: str, region: str = "ES") -> tuple[str, str]:
    """(identity channel, normalised value) for an author seen on `channel`.

    A phone number is one identity whether it called, texted or wrote on WhatsApp, and an
    address typed in a web form is the same identity as the one that sends email.
    """
    raw = value.strip()
    if not raw:
        raise IdentityError("the author is empty")
    if channel in PHONE_CHANNELS:
        return "phone", normalize_phone(raw, region)
    if _EMAIL.match(raw.strip("<>")):
        return "email", normalize_email(raw)
    if channel == "webchat" and raw.lower().startswith(WEBCHAT_VISITOR_PREFIX):
        # An anonymous chat visitor (cuida.webchat) until they leave an email address.
        return "webchat", raw.lower()
    if channel in EMAIL_CHANNELS:
        raise IdentityError(f"{raw!r} is not an email address")
    if raw.startswith("+") and _PHONEISH.match(raw):
        return "phone", normalize_phone(raw, region)
    return channel, normalize_handle(raw)


def phone_of_handle(value: str, region: str = "ES") -> str | None:
    """The E.164 number a handle stands for when it is only digits (a webhook or an import naming
    its author by a national number), else None."""
    compact = _PHONE_NOISE.sub("", value)
    if not _DIGITS_ONLY.match(compact):
        return None
    try:
        number = normalize_phone(compact, region)
    except IdentityError:
        return None
    return number if phonenumbers.is_valid_number(phonenumbers.parse(number, None)) else None


# --- contacts written inside a message -----------------------------------------------------------

_TEXT_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}", re.UNICODE)
_TEXT_HANDLE = re.compile(r"(?<![\w.@])@([A-Za-z0-9_](?:[A-Za-z0-9_.]{0,28}[A-Za-z0-9_])?)")
_SIGNATURE_START = re.compile(
    r"^\s*(--\s*|__+|un saludo|saludos|atentamente|regards|best|thanks|gracias)\b",
    re.IGNORECASE | re.MULTILINE,
)
# Signatures sit at the end; a long message is read at both ends only, to stay cheap.
_TEXT_HEAD = 4000
_TEXT_TAIL = 4000


@dataclass
class WrittenContacts:
    """Normalised contacts found in a text; `signature_phones` are those after a sign-off."""

    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    signature_phones: list[str] = field(default_factory=list)
    handles: list[str] = field(default_factory=list)


def _bounded(text: str) -> str:
    if len(text) <= _TEXT_HEAD + _TEXT_TAIL:
        return text
    return text[:_TEXT_HEAD] + "\n" + text[-_TEXT_TAIL:]


def written_contacts(text: str, region: str = "ES") -> WrittenContacts:
    """Email addresses, phone numbers (valid ones only) and @handles written in `text`."""
    text = _bounded(text or "")
    found = WrittenContacts()
    for match in _TEXT_EMAIL.finditer(text):
        try:
            address = normalize_email(match.group(0).rstrip("."))
        except IdentityError:
            continue
        if address not in found.emails:
            found.emails.append(address)
    signature = _SIGNATURE_START.search(text)
    signature_at = signature.start() if signature else len(text)
    matcher = phonenumbers.PhoneNumberMatcher(
        text, region, leniency=phonenumbers.Leniency.POSSIBLE, max_tries=20
    )
    for found_number in matcher:
        if not _valid(found_number.number):
            continue
        number = phonenumbers.format_number(
            _without_mexican_mobile_one(found_number.number), phonenumbers.PhoneNumberFormat.E164
        )
        if number not in found.phones:
            found.phones.append(number)
        if found_number.start >= signature_at and number not in found.signature_phones:
            found.signature_phones.append(number)
    for match in _TEXT_HANDLE.finditer(text):
        handle = match.group(1).lower()
        if handle not in found.handles:
            found.handles.append(handle)
    return found
