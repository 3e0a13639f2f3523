"""The email channel: IMAP in (inbound.py), SMTP out (outbound.py), MIME reading (parse.py)."""

from __future__ import annotations

from typing import Any

from cuida.channels.kinds import Kind, register_kind
from cuida.channels.mail.config import SECRETS, EmailConfig


def _poll(runtime: Any, account_id: int) -> Any:
    from cuida.channels.mail.inbound import poll

    return poll(runtime, account_id)


def _adapter(runtime: Any) -> Any:
    from cuida.channels.mail.outbound import EmailAdapter

    return EmailAdapter(runtime)


register_kind(
    Kind(
        name="email",
        config=EmailConfig,
        secrets=SECRETS,
        poll=_poll,
        adapter=_adapter,
    )
)

# The quarantine's reprocessing finds the email parser once the channel is loaded.
from cuida.channels.mail import inbound as _inbound  # noqa: E402,F401
