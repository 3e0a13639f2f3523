"""Crisis alerts beyond the workspace: an email to the people the alert names and a signed webhook.

`enqueue_alert()` runs inside the transaction that raised (or escalated) the alert -- for a reach
alert, the transaction of the snapshot that crossed the line -- and only writes: an outbox row with the
email exactly as it will go out, a timer (the safety net) and the webhook deliveries
(`contactability.webhooks`, the same signed mechanism and subscriptions, events
`listening.alert_raised` / `listening.alert_escalated`). So the delivery is enqueued at the very
instant of the snapshot, and nothing slow happens while the transaction holds locks.

The email is sent by the `deliver_alert_email` job, enqueued once the transaction has committed (and
again by the timer if that job is lost): it claims the row in a short transaction (counts the attempt,
moves the timer to the next retry), speaks SMTP with no transaction open, then records the answer. The
row is unique per (alert, level, step), and only a pending row whose retry time has come can be
claimed, so raising the same level again, a second job or a timer firing late never sends it twice;
the Message-ID is fixed per row, so the one resend a crash between the send and the record can cause
is recognisable by the receiver.

Who gets the email: the agents the alert names (the team's leads and whoever is on duty: the case's
assignee when present, else the team's agents who are not away; the managers when there is no team;
the managers at escalation) and the addresses of CUIDA_LISTENING_ALERT_ON_DUTY (an on-call mailbox).
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import TYPE_CHECKING, Any

from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.orm import Session

from cuida.auth.models import Agent
from cuida.channels.mail.config import EmailConfig
from cuida.channels.models import ChannelAccount
from cuida.clock.service import now, wall_now
from cuida.contactability import webhooks
from cuida.events.service import publish
from cuida.listening.delivery_models import AlertDelivery
from cuida.listening.models import ALERT_LEVELS, ListeningAlert
from cuida.timers.models import Timer
from cuida.timers.service import cancel, on, schedule

if TYPE_CHECKING:
    from cuida.runtime import Runtime

log = logging.getLogger(__name__)

TIMER_KIND = "listening.alert_email"
MAX_ATTEMPTS = 10  # with the backoff below, about four hours of retries
WEBHOOK_EVENTS = {"raised": "listening.alert_raised", "escalated": "listening.alert_escalated"}
_AFTER_COMMIT = "cuida.listening.alert_emails_after_commit"


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min ... capped at an hour (domain clock, like every timer)."""
    return timedelta(seconds=min(3600, 30 * 2 ** max(0, attempts - 1)))


def _timer_key(delivery_id: int) -> str:
    return f"listening:alert-email:{delivery_id}"


def _settings() -> Any:
    from cuida.runtime import current_settings  # the runtime imports every domain: import late

    return current_settings()


def on_duty_addresses(raw: str) -> list[str]:
    return [a.strip() for a in raw.split(",") if "@" in a.strip()]


def sender_account(session: Session) -> ChannelAccount | None:
    """The email account that sends alerts: the one CUIDA_LISTENING_ALERT_EMAIL_ACCOUNT names, else
    the first enabled email account with an SMTP server."""
    chosen = _settings().listening_alert_email_account
    query = select(ChannelAccount).where(ChannelAccount.kind == "email", ChannelAccount.enabled.is_(True))
    if chosen is not None:
        query = query.where(ChannelAccount.id == chosen)
    for account in session.scalars(query.order_by(ChannelAccount.id)):
        if (account.config or {}).get("smtp_host"):
            return account
    return None


def enqueue_alert(
    *, session: Session, alert: ListeningAlert, step: str, agent_ids: list[int], at: datetime
) -> AlertDelivery:
    """The email and webhooks of this alert at its current level and `step`, written in the caller's
    transaction; the existing row when they were written before (nothing is sent twice)."""
    existing = session.scalar(
        select(AlertDelivery).where(
            AlertDelivery.alert_id == alert.id, AlertDelivery.level == alert.level, AlertDelivery.step == step
        )
    )
    if existing is not None:
        return existing
    addresses: list[str] = []
    if agent_ids:
        addresses += list(
            session.scalars(
                select(Agent.email).where(Agent.id.in_(agent_ids), Agent.active.is_(True)).order_by(Agent.id)
            )
        )
    addresses += on_duty_addresses(_settings().listening_alert_on_duty)
    recipients = list(dict.fromkeys(a.strip().lower() for a in addresses if a and "@" in a))
    account = sender_account(session)
    subject, body = render(alert, step)
    status, error = "pending", None
    if not recipients:
        status, error = "skipped", "nobody to write to"
    elif account is None:
        status, error = "skipped", "no enabled email account with an SMTP server"
    payload = webhook_payload(alert, step)
    sent = webhooks.enqueue(session=session, event=WEBHOOK_EVENTS[step], payload=payload)
    row = AlertDelivery(
        alert_id=alert.id,
        level=alert.level,
        step=step,
        status=status,
        account_id=account.id if account is not None else None,
        agent_ids=sorted(set(agent_ids)),
        recipients=recipients,
        subject=subject,
        body=body,
        webhooks=len(sent),
        attempts=0,
        next_attempt_at=at,
        last_error=error,
        created_at=at,
    )
    session.add(row)
    session.flush()
    if status == "pending":
        _arm(session, row.id, at)
    publish(
        session=session,
        type="crisis.delivery_queued",
        customer_id=alert.customer_id,
        conversation_id=alert.conversation_id,
        payload={
            "alert_id": alert.id,
            "delivery_id": row.id,
            "level": ALERT_LEVELS[alert.level],
            "step": step,
            "email": status,
            "recipients": len(recipients),
            "webhooks": len(sent),
            **({"reason": error} if error else {}),
        },
    )
    return row


def webhook_payload(alert: ListeningAlert, step: str) -> dict[str, Any]:
    details = dict(alert.details or {})
    return {
        "alert_id": alert.id,
        "key": alert.key,
        "kind": alert.kind,
        "level": ALERT_LEVELS[alert.level],
        "step": step,
        "status": alert.status,
        "reasons": list(alert.reasons or []),
        "raised_at": alert.raised_at.isoformat(),
        "updated_at": alert.updated_at.isoformat(),
        "mention": details.get("mention"),
        "forecast": details.get("forecast"),
        "risk": details.get("risk"),
        "customer": details.get("customer"),
        "case": details.get("case"),
        "thread_id": details.get("thread_id"),
        "related": details.get("related") or [],
        **({"spike": details["spike"]} if "spike" in details else {}),
    }


def _number(value: object) -> str:
    return f"{value:,.0f}" if isinstance(value, int | float) else "?"


def render(alert: ListeningAlert, step: str) -> tuple[str, str]:
    """Subject and plain-text body, Spanish first, then English. Customer-written text goes in as
    plain text (no HTML part), quoted, and cut short."""
    details = alert.details or {}
    level = ALERT_LEVELS[alert.level]
    level_es = {"watch": "vigilancia", "crisis": "crisis"}.get(level, level)
    mention = details.get("mention") or {}
    forecast = details.get("forecast") or {}
    customer = details.get("customer") or {}
    case = details.get("case") or {}
    spike = details.get("spike") or {}
    headline = (alert.reasons[0] if alert.reasons else alert.key).replace("\n", " ")
    what = "Escalada / Escalated" if step == "escalated" else "Alerta / Alert"
    subject = f"[Cuida] {what} ({level_es} / {level}): {headline}"[:300]
    lines = [
        f"Alerta de crisis ({level_es}) / Crisis alert ({level}) #{alert.id}",
        "",
    ]
    if step == "escalated":
        lines += ["Nadie la ha atendido a tiempo. / Nobody acknowledged it in time.", ""]
    lines += ["Motivos / Reasons:", *[f"  - {r}" for r in alert.reasons or []], ""]
    if mention:
        text = " ".join(str(mention.get("text") or "").split())[:300]
        lines += [
            f"Publicación / Post: {mention.get('author') or '?'} en/on {mention.get('channel')}",
            f"  {mention.get('url') or ''}".rstrip(),
            f'  "{text}"',
        ]
    if forecast:
        lines.append(
            f"Previsión / Forecast ({forecast.get('metric')}): {_number(forecast.get('final'))} "
            f"(80%: {_number(forecast.get('low'))}-{_number(forecast.get('high'))}), "
            f"{_number(forecast.get('observed'))} hasta ahora / so far"
        )
    if spike:
        lines.append(
            f"Pico / Spike ({spike.get('series')}, {spike.get('kind')}): {spike.get('observed')} "
            f"vs {spike.get('expected')} esperados / expected, desde / since {spike.get('start')}"
        )
    if customer:
        lines.append(f"Cliente / Customer: {customer.get('name')} (#{customer.get('id')})")
    if case:
        unanswered = " sin respuesta / unanswered" if case.get("unanswered") else ""
        lines.append(
            f"Caso / Case: #{case.get('id')} {case.get('subject') or ''} [{case.get('status')}]{unanswered}"
        )
    base = (_settings().base_url or "").rstrip("/")
    if base:
        lines += ["", f"{base}/listening"]
    return subject, "\n".join(lines) + "\n"


def _arm(session: Session, delivery_id: int, due_at: datetime) -> None:
    """The timer is the safety net; the job enqueued right after commit is the fast path."""
    schedule(
        session=session,
        kind=TIMER_KIND,
        key=_timer_key(delivery_id),
        due_at=due_at,
        payload={"delivery_id": delivery_id},
        rearm=True,
    )
    session.info.setdefault(_AFTER_COMMIT, []).append(delivery_id)


@on(TIMER_KIND)
def _on_timer(*, session: Session, timer: Timer, at: datetime) -> None:
    delivery = session.get(AlertDelivery, int(str((timer.payload or {}).get("delivery_id"))))
    if delivery is None or delivery.status != "pending":
        return
    # Not sent in this transaction: keep the timer armed for the attempt after it, and enqueue the
    # job once this one has committed.
    schedule(
        session=session,
        kind=TIMER_KIND,
        key=timer.key,
        due_at=at + backoff(delivery.attempts + 1),
        payload=timer.payload,
        rearm=True,
    )
    session.info.setdefault(_AFTER_COMMIT, []).append(delivery.id)


@dataclass(frozen=True)
class _Send:
    delivery_id: int
    alert_id: int
    level: int
    step: str
    config: EmailConfig
    secrets: dict[str, Any]
    recipients: list[str]
    subject: str
    body: str


def message_id(send: _Send) -> str:
    return f"cuida.alert.{send.alert_id}.{send.level}.{send.step}@{send.config.id_domain}"


def _claim(session: Session, delivery_id: int) -> _Send | None:
    at = now(session=session)
    delivery = session.get(AlertDelivery, delivery_id, with_for_update=True)
    if delivery is None or delivery.status != "pending" or delivery.next_attempt_at > at:
        return None
    account = session.get(ChannelAccount, delivery.account_id) if delivery.account_id is not None else None
    if account is None or not account.enabled or not (account.config or {}).get("smtp_host"):
        account = sender_account(session)  # the account was removed or disabled meanwhile
    if account is None:
        _finish(session, delivery, "failed", "no enabled email account with an SMTP server")
        return None
    delivery.account_id = account.id
    delivery.attempts += 1
    delivery.next_attempt_at = at + backoff(delivery.attempts)
    # Doubles as the lease: nobody claims it again before then, and a crash retries it then.
    schedule(
        session=session,
        kind=TIMER_KIND,
        key=_timer_key(delivery.id),
        due_at=delivery.next_attempt_at,
        payload={"delivery_id": delivery.id},
        rearm=True,
    )
    return _Send(
        delivery_id=delivery.id,
        alert_id=delivery.alert_id,
        level=delivery.level,
        step=delivery.step,
        config=EmailConfig.model_validate(account.config),
        secrets=dict(account.secrets or {}),
        recipients=list(delivery.recipients),
        subject=delivery.subject,
        body=delivery.body,
    )


def _finish(session: Session, delivery: AlertDelivery, status: str, error: str | None) -> None:
    delivery.status = status
    delivery.last_error = error
    at = now(session=session)
    if status == "sent":
        delivery.sent_at = at
    cancel(session=session, key=_timer_key(delivery.id))
    alert = session.get(ListeningAlert, delivery.alert_id)
    publish(
        session=session,
        type="crisis.delivered" if status == "sent" else "crisis.delivery_failed",
        customer_id=alert.customer_id if alert is not None else None,
        conversation_id=alert.conversation_id if alert is not None else None,
        payload={
            "alert_id": delivery.alert_id,
            "delivery_id": delivery.id,
            "level": ALERT_LEVELS.get(delivery.level, str(delivery.level)),
            "step": delivery.step,
            "recipients": list(delivery.recipients),
            "attempts": delivery.attempts,
            **({"error": error} if error else {}),
        },
    )


def _record(session: Session, delivery_id: int, error: str | None, permanent: bool) -> None:
    delivery = session.get(AlertDelivery, delivery_id, with_for_update=True)
    if delivery is None or delivery.status != "pending":
        return
    if error is None:
        _finish(session, delivery, "sent", None)
    elif permanent or delivery.attempts >= MAX_ATTEMPTS:
        _finish(session, delivery, "failed", error[:2000])
    else:
        delivery.last_error = error[:2000]  # the timer moved by _claim tries again


def _email(send: _Send) -> EmailMessage:
    email = EmailMessage()
    email["From"] = formataddr((send.config.display_name or "Cuida", send.config.address))
    email["To"] = ", ".join(send.recipients)
    email["Subject"] = send.subject
    email["Date"] = format_datetime(wall_now())
    email["Message-ID"] = f"<{message_id(send)}>"
    email["X-Cuida-Alert"] = f"{send.alert_id}; level={ALERT_LEVELS.get(send.level, send.level)}; {send.step}"
    email.set_content(send.body)
    return email


def _smtp(send: _Send) -> tuple[str | None, bool]:
    """(error, permanent) -- (None, False) when the server took the email."""
    from cuida.channels.mail.outbound import EmailAdapter

    try:
        EmailAdapter._deliver(send.config, send.secrets, _email(send))
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        return f"recipients refused: {exc.recipients!r}"[:500], all(500 <= c < 600 for c in codes)
    except smtplib.SMTPResponseException as exc:
        return f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"[:500], 500 <= exc.smtp_code < 600
    except (OSError, smtplib.SMTPException) as exc:
        return f"{type(exc).__name__}: {exc}"[:500], False
    return None, False


def deliver(runtime: Runtime, delivery_id: int) -> bool:
    """Claim, send, record (the `deliver_alert_email` job): True when the SMTP server took it."""
    with runtime.db.session() as session:
        send = _claim(session, delivery_id)
    if send is None:
        return False
    error, permanent = _smtp(send)
    with runtime.db.session() as session:
        _record(session, delivery_id, error, permanent)
    if error:
        log.warning("crisis alert email %s: %s", delivery_id, error)
    return error is None


def due_deliveries(*, session: Session, limit: int = 200) -> list[int]:
    at = now(session=session)
    return list(
        session.scalars(
            select(AlertDelivery.id)
            .where(AlertDelivery.status == "pending", AlertDelivery.next_attempt_at <= at)
            .order_by(AlertDelivery.id)
            .limit(limit)
        )
    )


@sa_event.listens_for(Session, "after_commit")
def _enqueue_after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: the deciding transaction is still open
    ids = session.info.pop(_AFTER_COMMIT, None)
    if not ids:
        return
    from cuida.runtime import current

    try:
        runtime = current()
    except RuntimeError:
        return  # no runtime in this process: the timer enqueues it
    from cuida.jobs.tasks import deliver_alert_email

    for delivery_id in dict.fromkeys(ids):
        try:
            deliver_alert_email(delivery_id)
        except Exception:
            log.exception("crisis alert email %s could not be enqueued; its timer will", delivery_id)
    runtime.wake.set()


@sa_event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    if not session.in_nested_transaction():
        session.info.pop(_AFTER_COMMIT, None)
