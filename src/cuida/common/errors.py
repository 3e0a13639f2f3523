"""Domain errors. Services raise these; the web layer turns them into clear 4xx answers."""

from __future__ import annotations

from typing import Any


class CuidaError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(
        self, message: str, *, field: str | None = None, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details


class NotFound(CuidaError):
    status_code = 404
    code = "not_found"


class Conflict(CuidaError):
    status_code = 409
    code = "conflict"


class Invalid(CuidaError):
    status_code = 422
    code = "invalid"


class Forbidden(CuidaError):
    status_code = 403
    code = "forbidden"


class Unauthorized(CuidaError):
    status_code = 401
    code = "unauthorized"


class ToneBlocked(CuidaError):
    """A reply the tone guard stopped: it says what and offers a respectful wording."""

    status_code = 422
    code = "tone_guard"
