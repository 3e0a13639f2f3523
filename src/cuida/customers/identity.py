"""Normalising identity values so the same person is recognised on every channel."""

from __future__ import annotations

import re

import phonenumbers

PHONE_CHANNELS = {"phone", "sms", "whatsapp"}
EMAIL_CHANNELS = {"email", "webform", "webchat"}
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_PHONEISH = re.compile(r"^\+?[\d\s().-]{7,20}$")


class IdentityError(ValueError):
    pass


def normalize_phone(value: str, region: str = "ES") -> str:
    """E.164; numbers without a prefix are read in `region` (Spain by default)."""
    try:
        number = phonenumbers.parse(value.strip(), region)
    except phonenumbers.NumberParseException as exc:
        raise IdentityError(f"{value!r} is not a phone number ({exc})") from None
    if not phonenumbers.is_possible_number(number):
        raise IdentityError(f"{value!r} is not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(value: str) -> str:
    value = value.strip().strip("<>").lower()
    if not _EMAIL.match(value):
        raise IdentityError(f"{value!r} is not an email address")
    return value


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
    if channel in EMAIL_CHANNELS:
        raise IdentityError(f"{raw!r} is not an email address")
    if raw.startswith("+") and _PHONEISH.match(raw):
        return "phone", normalize_phone(raw, region)
    return channel, normalize_handle(raw)
