"""Sending replies by SMTP, threaded so the customer's client shows them in the same thread.

The Message-ID is made from the delivery id (cuida.<delivery>.<account>@<domain>): a send repeated
after a crash carries the same id, so the receiving side can drop the copy, and the customer's
answer (In-Reply-To / References naming it) threads back into the conversation. In-Reply-To and
References come from the email the reply answers (the conversation's last inbound email)."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from cuida.channels.base import DeliveryResult, OutboundMessage
from cuida.channels.mail.config import EmailConfig
from cuida.channels.models import ChannelAccount
from cuida.clock.service import wall_now
from cuida.conversations.models import Message

if TYPE_CHECKING:
    from cuida.runtime import Runtime

DEFAULT_SUBJECT = "Su consulta / Your enquiry"


def outbound_message_id(delivery_id: int, account_id: int, domain: str) -> str:
    return f"cuida.{delivery_id}.{account_id}@{domain}"


def _bracket(message_id: str) -> str:
    return f"<{message_id}>"


class EmailAdapter:
    """The "email" channel's sender. With no enabled email account that can send, a reply is
    recorded like RecordOnlyAdapter does, so a hub without mail configured keeps working."""

    name = "email"

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def _context(self, message: OutboundMessage) -> tuple[ChannelAccount | None, dict[str, Any]]:
        with self.runtime.db.sessions() as session:
            parent_meta: dict[str, Any] = {}
            if message.in_reply_to:
                meta = session.scalar(
                    select(Message.meta).where(
                        Message.channel == "email", Message.external_id == message.in_reply_to
                    )
                )
                found = (meta or {}).get("email")
                parent_meta = dict(found) if isinstance(found, dict) else {}
            accounts = list(
                session.scalars(
                    select(ChannelAccount)
                    .where(ChannelAccount.kind == "email", ChannelAccount.enabled.is_(True))
                    .order_by(ChannelAccount.id)
                )
            )
            senders = [a for a in accounts if (a.config or {}).get("smtp_host")]
            # The account the customer wrote to answers; else the first one that can send.
            preferred = [a for a in senders if a.id == parent_meta.get("account_id")]
            candidates = preferred or senders
            account = candidates[0] if candidates else None
            if account is not None:
                session.expunge(account)
            return account, parent_meta

    def send(self, message: OutboundMessage) -> DeliveryResult:
        account, parent = self._context(message)
        if account is None:
            return DeliveryResult(ok=True, provider_id=f"recorded:{message.delivery_id}")
        if not message.recipient or "@" not in message.recipient:
            return DeliveryResult(ok=False, error=f"not an email address: {message.recipient!r}", retry=False)
        config = EmailConfig.model_validate(account.config)
        message_id = outbound_message_id(message.delivery_id, account.id, config.id_domain)
        email = EmailMessage()
        email["From"] = formataddr((config.display_name or "", config.address))
        email["To"] = message.recipient
        subject = str(parent.get("subject") or "").strip()
        if subject and not subject.lower().startswith(("re:", "re :")):
            subject = f"Re: {subject}"
        email["Subject"] = subject or DEFAULT_SUBJECT
        email["Date"] = format_datetime(wall_now())
        email["Message-ID"] = _bracket(message_id)
        parent_id = parent.get("message_id")
        if parent_id:
            references = [r for r in parent.get("references") or [] if isinstance(r, str)]
            email["In-Reply-To"] = _bracket(parent_id)
            email["References"] = " ".join(_bracket(r) for r in [*references[-20:], parent_id])
        email.set_content(message.text)
        try:
            self._deliver(config, dict(account.secrets or {}), email)
        except smtplib.SMTPResponseException as exc:
            # 5xx is the server's final word (bad address, refused); 4xx and the rest may pass later.
            permanent = 500 <= exc.smtp_code < 600
            return DeliveryResult(
                ok=False, error=f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"[:500], retry=not permanent
            )
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            permanent = all(500 <= code < 600 for code in codes)
            return DeliveryResult(
                ok=False, error=f"recipient refused: {exc.recipients!r}"[:500], retry=not permanent
            )
        except (OSError, smtplib.SMTPException) as exc:
            return DeliveryResult(ok=False, error=f"{type(exc).__name__}: {exc}"[:500], retry=True)
        return DeliveryResult(ok=True, provider_id=message_id)

    @staticmethod
    def _deliver(config: EmailConfig, secrets: dict[str, Any], email: EmailMessage) -> None:
        assert config.smtp_host is not None
        smtp: smtplib.SMTP
        if config.smtp_security == "ssl":
            smtp = smtplib.SMTP_SSL(
                config.smtp_host,
                config.smtp_port,
                timeout=config.timeout_seconds,
                context=ssl.create_default_context(),
            )
        else:
            smtp = smtplib.SMTP(config.smtp_host, config.smtp_port, timeout=config.timeout_seconds)
        with smtp:
            if config.smtp_security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            password = secrets.get("smtp_password")
            if config.smtp_user and password:
                smtp.login(config.smtp_user, str(password))
            smtp.send_message(email)
