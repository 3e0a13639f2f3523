"""The email channel against real local servers: dovecot (IMAP, messages put in with APPEND)
and aiosmtpd (SMTP). dovecot missing fails these tests; scripts/test installs it."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import pytest
from sqlalchemy import func, select, update

from cuida.auth.service import create_token
from cuida.channels import service as channels
from cuida.channels.mail import inbound
from cuida.channels.models import ChannelAccount, ChannelCursor
from cuida.conversations.models import Delivery, Message
from cuida.customers.models import Customer
from cuida.events.models import Event
from cuida.jobs.reconciler import reconcile
from cuida.quarantine.models import QuarantinedPayload
from tests.mail_servers import PASSWORD, Dovecot, SmtpInbox, parse, run_dovecot, run_smtp


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    try:
        with run_dovecot() as server:
            yield server
    except RuntimeError as exc:
        pytest.fail(str(exc))  # a missing dovecot fails the run: it is never a skip


@pytest.fixture
def smtp() -> Iterator[tuple[int, SmtpInbox]]:
    with run_smtp() as server:
        yield server


@pytest.fixture
def mailbox(dovecot: Dovecot) -> str:
    return dovecot.new_user()


def _account(api: Any, dovecot: Dovecot, user: str, smtp_port: int | None = None, **config: Any) -> int:
    body = {
        "kind": "email",
        "name": f"Atención al cliente {user}",
        "config": {
            "address": "ayuda@tienda.example",
            "display_name": "Tienda",
            "imap_host": "127.0.0.1",
            "imap_port": dovecot.port,
            "imap_security": "none",
            "imap_user": user,
            **(
                {"smtp_host": "127.0.0.1", "smtp_port": smtp_port, "smtp_security": "none"}
                if smtp_port
                else {}
            ),
            **config,
        },
        "secrets": {"imap_password": PASSWORD},
    }
    response = api.post("/api/v1/channels/accounts", json=body)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _email(
    text: str = "Hola, el pedido 4411 no ha llegado.",
    *,
    sender: str = "Lucía Pérez <lucia@cliente.example>",
    subject: str = "Pedido sin entregar",
    message_id: str | None = None,
    in_reply_to: str | None = None,
    references: str | None = None,
    charset: str = "utf-8",
    headers: dict[str, str] | None = None,
) -> tuple[bytes, str]:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "ayuda@tienda.example"
    msg["Subject"] = subject
    msg["Date"] = "Mon, 02 Mar 2026 10:00:00 +0100"
    message_id = message_id or make_msgid(domain="cliente.example")
    msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = references
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(text, charset=charset)
    return msg.as_bytes(), message_id.strip("<>")


def _poll(runtime: Any, account_id: int) -> Any:
    answer = channels.poll_now(runtime, account_id)
    assert answer.polled and answer.error is None, answer
    return answer


def _messages(runtime: Any) -> list[Message]:
    with runtime.db.sessions() as session:
        return list(session.scalars(select(Message).order_by(Message.id)))


def _count(runtime: Any, model: Any) -> int:
    with runtime.db.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _quarantined(runtime: Any) -> list[QuarantinedPayload]:
    with runtime.db.sessions() as session:
        return list(session.scalars(select(QuarantinedPayload).order_by(QuarantinedPayload.id)))


# --- accounts -------------------------------------------------------------------------------------


def test_accounts_api_keeps_secrets_in_and_checks_scope(api, client, runtime, dovecot, mailbox):
    account_id = _account(api, dovecot, mailbox)
    read = api.get(f"/api/v1/channels/accounts/{account_id}").json()
    assert read["secrets_set"] == ["imap_password"]
    assert PASSWORD not in str(read) and PASSWORD not in api.get("/api/v1/channels/accounts").text
    assert read["config"]["mailboxes"] == ["INBOX"] and read["health"]["last_success_at"] is None

    changed = api.patch(
        f"/api/v1/channels/accounts/{account_id}",
        json={"config": {"poll_seconds": 30}, "secrets": {"smtp_password": "otra"}, "enabled": False},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["config"]["poll_seconds"] == 30 and changed.json()["enabled"] is False
    assert changed.json()["secrets_set"] == ["imap_password", "smtp_password"]

    bad = api.post(
        "/api/v1/channels/accounts",
        json={"kind": "email", "name": "x", "config": {"address": "no-es-correo"}},
    )
    assert bad.status_code == 422 and "config.address" in bad.text
    unknown = api.post("/api/v1/channels/accounts", json={"kind": "carrier-pigeon", "name": "y"})
    assert unknown.status_code == 422 and "email" in unknown.text
    secret = api.post(
        "/api/v1/channels/accounts",
        json={
            "kind": "email",
            "name": "z",
            "config": {"address": "a@b.example"},
            "secrets": {"api_key": "1"},
        },
    )
    assert secret.status_code == 422 and "imap_password" in secret.text

    with runtime.db.session() as session:
        reader, _ = create_token(
            session=session, name="reader", scopes=["messages:read", "conversations:write"]
        )
    denied = client.get("/api/v1/channels/accounts", headers={"Authorization": f"Bearer {reader}"})
    assert denied.status_code == 403
    api.patch(f"/api/v1/channels/accounts/{account_id}", json={"enabled": True})
    polled = api.post(f"/api/v1/channels/accounts/{account_id}/poll")
    assert polled.status_code == 200 and polled.json()["polled"] is True and polled.json()["fetched"] == 0
    assert api.get(f"/api/v1/channels/accounts/{account_id}/health").json()["backlog"] == 0


# --- inbound ----------------------------------------------------------------------------------------


def test_email_becomes_a_message_and_the_customers_reply_threads_without_the_quote(
    api, runtime, dovecot, mailbox
):
    account_id = _account(api, dovecot, mailbox)
    first, first_id = _email()
    dovecot.append(mailbox, first)
    answer = _poll(runtime, account_id)
    assert (answer.fetched, answer.stored, answer.backlog) == (1, 1, 0)

    reply_text = (
        "Sigue sin llegar, necesito una solución.\n\n"
        "El lun, 2 mar 2026 a las 10:00, Tienda <ayuda@tienda.example>\nescribió:\n"
        "> Lo revisamos hoy mismo.\n> Un saludo\n"
    )
    reply, _ = _email(reply_text, subject="Re: Pedido sin entregar", in_reply_to=f"<{first_id}>")
    english, _ = _email(
        "Still nothing.\n\nOn Mon, 2 Mar 2026 at 10:00, Shop <ayuda@tienda.example> wrote:\n> We are on it.\n",
        in_reply_to=f"<{first_id}>",
    )
    outlook, _ = _email(
        "Os llamo mañana.\n\n-----Mensaje original-----\nDe: Tienda\nEnviado: lunes\nAsunto: Pedido\n\nHola",
        in_reply_to=f"<{first_id}>",
    )
    dovecot.append_many(mailbox, [reply, english, outlook])
    assert _poll(runtime, account_id).stored == 3

    messages = _messages(runtime)
    assert len(messages) == 4 and all(m.stage == "done" for m in messages)
    assert len({m.conversation_id for m in messages}) == 1
    assert messages[0].author_value == "lucia@cliente.example" and messages[0].author_name == "Lucía Pérez"
    assert (
        messages[0].external_id == first_id and messages[0].meta["email"]["subject"] == "Pedido sin entregar"
    )
    assert [m.text for m in messages[1:]] == [
        "Sigue sin llegar, necesito una solución.",
        "Still nothing.",
        "Os llamo mañana.",
    ]
    assert messages[1].in_reply_to == first_id and messages[1].meta["email"]["quoted_chars"] > 0
    assert _count(runtime, Customer) == 1
    health = api.get(f"/api/v1/channels/accounts/{account_id}/health").json()
    assert health["last_success_at"] is not None and health["last_error"] is None


def test_html_only_email_is_sanitised(api, runtime, dovecot, mailbox):
    account_id = _account(api, dovecot, mailbox)
    msg = EmailMessage()
    msg["From"] = "pablo@cliente.example"
    msg["To"] = "ayuda@tienda.example"
    msg["Subject"] = "Factura"
    msg["Message-ID"] = make_msgid()
    msg.set_content(
        '<p>La factura está <b>mal</b></p><script>alert(1)</script><img src=x onerror="x()">', "html"
    )
    dovecot.append(mailbox, msg.as_bytes())
    _poll(runtime, account_id)
    (message,) = _messages(runtime)
    assert "<script" not in (message.html or "") and "onerror" not in (message.html or "")
    assert "<b>mal</b>" in (message.html or "") and message.text == "La factura está mal"


def test_the_same_email_twice_and_a_restarted_poller_store_one_message(api, runtime, dovecot, mailbox):
    account_id = _account(api, dovecot, mailbox)
    raw, message_id = _email()
    dovecot.append_many(mailbox, [raw, raw])  # the server delivered it twice: two UIDs, one Message-ID
    answer = _poll(runtime, account_id)
    assert (answer.fetched, answer.stored, answer.duplicates) == (2, 1, 1)
    assert _poll(runtime, account_id).fetched == 0  # the cursor moved past both

    with runtime.db.session() as session:  # a poller that lost its cursor reads the mailbox again
        session.execute(update(ChannelCursor).values(value={}))
    again = _poll(runtime, account_id)
    assert (again.fetched, again.stored, again.duplicates) == (2, 0, 2)
    assert [m.external_id for m in _messages(runtime)] == [message_id]
    with runtime.db.session() as session:  # a new UIDVALIDITY: the mailbox is read again, safely
        session.execute(update(ChannelCursor).values(value={"uidvalidity": 1, "last_uid": 99}))
    assert _poll(runtime, account_id).duplicates == 2
    assert len(_messages(runtime)) == 1


MALFORMED = (
    b"From: ana@cliente.example\r\nTo: ayuda@tienda.example\r\nSubject: roto\r\n"
    b"Message-ID: <roto-1@cliente.example>\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="XYZ"\r\n\r\n'
    b"no boundary anywhere in this body\r\n"
)


def test_malformed_mime_is_quarantined_with_reason_and_raw_bytes(api, runtime, dovecot, mailbox):
    account_id = _account(api, dovecot, mailbox)
    no_sender = b"Subject: sin remitente\r\nMessage-ID: <anon@x.example>\r\n\r\nhola\r\n"
    dovecot.append_many(mailbox, [MALFORMED, no_sender])
    answer = _poll(runtime, account_id)
    assert (answer.stored, answer.quarantined) == (0, 2)
    broken, anonymous = _quarantined(runtime)
    assert broken.source == "email" and "malformed MIME" in broken.reason
    assert "StartBoundaryNotFoundDefect" in broken.reason and broken.details["kind"] == "unreadable"
    assert b"no boundary anywhere in this body" in bytes(broken.raw)
    assert broken.details["uid"] == 1 and broken.details["mailbox"] == "INBOX"
    assert "no sender" in anonymous.reason
    assert _messages(runtime) == [] and _count(runtime, Customer) == 0
    with runtime.db.session() as session:  # polled again from scratch: kept once, not twice
        session.execute(update(ChannelCursor).values(value={}))
    _poll(runtime, account_id)
    assert len(_quarantined(runtime)) == 2


def test_iso_8859_1_email_keeps_its_accents(api, runtime, dovecot, mailbox):
    account_id = _account(api, dovecot, mailbox)
    raw = (
        "From: =?iso-8859-1?q?Jos=E9_Mu=F1oz?= <jose@cliente.example>\r\n"
        "To: ayuda@tienda.example\r\nSubject: =?iso-8859-1?q?Reclamaci=F3n?=\r\n"
        "Message-ID: <latin1@cliente.example>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        "La cámara llegó rota. ¿Qué hago? Año 2026, señora Núñez.\r\n"
    ).encode("iso-8859-1")
    dovecot.append(mailbox, raw)
    _poll(runtime, account_id)
    (message,) = _messages(runtime)
    assert message.text == "La cámara llegó rota. ¿Qué hago? Año 2026, señora Núñez."
    assert message.author_name == "José Muñoz" and message.meta["email"]["subject"] == "Reclamación"


def test_a_20_mb_attachment_is_stored_and_listed(api, runtime, dovecot, mailbox):
    account_id = _account(api, dovecot, mailbox)
    payload = (hashlib.sha256(b"seed").digest() * (20 * 1024 * 1024 // 32 + 1))[: 20 * 1024 * 1024]
    msg = EmailMessage()
    msg["From"] = "marta@cliente.example"
    msg["To"] = "ayuda@tienda.example"
    msg["Subject"] = "Vídeo del fallo"
    msg["Message-ID"] = make_msgid()
    msg.set_content("Os mando el vídeo del fallo.")
    msg.add_attachment(payload, maintype="video", subtype="mp4", filename="fallo.mp4")
    dovecot.append(mailbox, msg.as_bytes())
    _poll(runtime, account_id)
    (message,) = _messages(runtime)
    (listed,) = message.meta["attachments"]
    assert listed["filename"] == "fallo.mp4" and listed["content_type"] == "video/mp4"
    assert listed["size"] == len(payload) and listed["sha256"] == hashlib.sha256(payload).hexdigest()
    stored = runtime.settings.data_dir / listed["path"]
    assert stored.stat().st_size == len(payload)
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == listed["sha256"]
    assert message.text == "Os mando el vídeo del fallo."


def test_bounces_and_auto_replies_are_kept_but_are_not_customers(api, runtime, dovecot, mailbox):
    account_id = _account(api, dovecot, mailbox)
    bounce = (
        b"From: Mail Delivery System <MAILER-DAEMON@mx.cliente.example>\r\nTo: ayuda@tienda.example\r\n"
        b"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <bounce-1@mx.cliente.example>\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        b"--B\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n"
        b"--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
        b"Final-Recipient: rfc822; nadie@cliente.example\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
        b"--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        b"Message-ID: <cuida.7.1@tienda.example>\r\nSubject: Re: Pedido\r\n\r\n--B--\r\n"
    )
    out_of_office, _ = _email(
        "Estoy fuera hasta el lunes.",
        subject="Respuesta automática: Pedido sin entregar",
        headers={"Auto-Submitted": "auto-replied"},
    )
    bulk, _ = _email(
        "Oferta", subject="Newsletter", sender="news@tienda-x.example", headers={"Precedence": "bulk"}
    )
    x_auto, _ = _email("Gracias por escribir", subject="Recibido", headers={"X-Autoreply": "yes"})
    by_subject, _ = _email("Estaré de vacaciones", subject="Respuesta automática: hola")
    dovecot.append_many(mailbox, [bounce, out_of_office, bulk, x_auto, by_subject])
    answer = _poll(runtime, account_id)
    assert (answer.stored, answer.quarantined) == (0, 5)
    rows = _quarantined(runtime)
    assert [r.details["kind"] for r in rows] == [
        "bounce",
        "auto_reply",
        "auto_reply",
        "auto_reply",
        "auto_reply",
    ]
    assert rows[0].reason.startswith("bounce, not a customer") and rows[0].details["delivery_id"] == 7
    assert rows[0].details["bounce_of"] == "cuida.7.1@tienda.example"
    assert "Auto-Submitted" in rows[1].reason and "Precedence: bulk" in rows[2].reason
    assert "X-Autoreply" in rows[3].reason and "automatic reply" in rows[4].reason
    assert _messages(runtime) == [] and _count(runtime, Customer) == 0

    # A copy of an email this mailbox sent itself is not a customer either.
    own, _ = _email("Copia de lo enviado", sender="Tienda <ayuda@tienda.example>")
    dovecot.append(mailbox, own)
    _poll(runtime, account_id)
    assert _quarantined(runtime)[-1].details["kind"] == "own" and _count(runtime, Customer) == 0

    # An agent who decides the auto-reply says something after all makes it a message.
    done = api.post(f"/api/v1/quarantine/{rows[3].id}/reprocess")
    assert done.status_code == 200, done.text
    (message,) = _messages(runtime)
    assert message.text == "Gracias por escribir" and message.channel == "email"


def test_a_poller_killed_in_the_middle_loses_and_doubles_nothing(api, runtime, dovecot, mailbox, monkeypatch):
    account_id = _account(api, dovecot, mailbox, batch=2)
    raws = [_email(f"Mensaje número {i}", sender=f"c{i}@cliente.example") for i in range(5)]
    dovecot.append_many(mailbox, [raw for raw, _ in raws])

    real_set_cursor = channels.set_cursor
    calls = {"n": 0}

    class Killed(BaseException):
        """Not an Exception: nothing in the poller catches it, as with a killed process."""

    def dies_in_the_second_batch(**kw: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise Killed  # the second batch's messages were inserted, then the process died
        real_set_cursor(**kw)

    monkeypatch.setattr(channels, "set_cursor", dies_in_the_second_batch)
    # A real kill runs no cleanup: the lease stays taken.
    monkeypatch.setattr(inbound.channels, "release_poll", lambda **kw: None)
    with pytest.raises(Killed):
        channels.poll_now(runtime, account_id)
    monkeypatch.undo()
    assert len(_messages(runtime)) == 2  # the first batch only: the second rolled back whole

    blocked = channels.poll_now(runtime, account_id)
    assert blocked.polled is False  # the dead poller's lease still holds the account
    with runtime.db.session() as session:  # ... until it runs out
        session.execute(update(ChannelAccount).values(poll_lease_until=None))
    answer = _poll(runtime, account_id)
    assert (answer.fetched, answer.stored, answer.duplicates) == (3, 3, 0)
    texts = sorted(m.text for m in _messages(runtime))
    assert texts == [f"Mensaje número {i}" for i in range(5)]
    assert all(m.stage == "done" for m in _messages(runtime))


KILLED_CHILD = """
import os, signal, sys
from cuida.channels import service as channels
from cuida.runtime import Runtime
from cuida.settings import load_settings

runtime = Runtime(load_settings(), immediate=False).install()
real_set_cursor, calls = channels.set_cursor, [0]


def set_cursor(**kw):
    calls[0] += 1
    if calls[0] == 4:  # the 4th batch is inserted but not committed: the process dies here
        os.kill(os.getpid(), signal.SIGKILL)
    real_set_cursor(**kw)


channels.set_cursor = set_cursor
channels.poll_now(runtime, int(sys.argv[1]))
"""


def test_a_poller_process_killed_mid_transaction_loses_and_doubles_nothing(api, runtime, dovecot, mailbox):
    account_id = _account(api, dovecot, mailbox, batch=2)
    raws = [_email(f"Consulta {i}", sender=f"k{i}@cliente.example") for i in range(11)]
    dovecot.append_many(mailbox, [raw for raw, _ in raws])
    settings = runtime.settings
    env = {
        **os.environ,
        "CUIDA_DATA_DIR": str(settings.data_dir),
        "CUIDA_DATABASE_URL": settings.database_url or "",
        "CUIDA_MANUAL_CLOCK": "true",
        "CUIDA_MANUAL_CLOCK_FORCE": "true",
    }
    child = subprocess.run(
        [sys.executable, "-c", KILLED_CHILD, str(account_id)], env=env, capture_output=True, timeout=120
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()[-2000:]
    assert len(_messages(runtime)) == 6  # three batches committed; the fourth died with the process

    with runtime.db.session() as session:  # the dead poller's lease runs out
        session.execute(update(ChannelAccount).values(poll_lease_until=None))
    answer = _poll(runtime, account_id)
    assert (answer.fetched, answer.stored, answer.duplicates) == (5, 5, 0)
    messages = _messages(runtime)
    assert sorted(m.external_id for m in messages) == sorted(message_id for _, message_id in raws)
    runtime.enqueue_messages([m.id for m in messages if m.stage != "done"])  # the reconciler's part
    assert all(m.stage == "done" for m in _messages(runtime))


def test_the_reconciler_polls_due_accounts_once(api, runtime, dovecot, mailbox):
    account_id = _account(api, dovecot, mailbox)
    raw, _ = _email()
    dovecot.append(mailbox, raw)
    assert reconcile(runtime)["polls"] == 1
    assert len(_messages(runtime)) == 1
    assert reconcile(runtime)["polls"] == 0  # not due again before poll_seconds
    with runtime.db.session() as session:
        assert channels.get_cursor(session=session, account_id=account_id, key="imap:INBOX")["last_uid"] == 1


def test_a_failing_server_shows_in_health(api, runtime, dovecot, mailbox):
    account_id = _account(api, dovecot, mailbox)
    api.patch(f"/api/v1/channels/accounts/{account_id}", json={"secrets": {"imap_password": "mala"}})
    answer = channels.poll_now(runtime, account_id)
    assert answer.polled and answer.error is not None
    health = api.get(f"/api/v1/channels/accounts/{account_id}/health").json()
    assert health["last_error"] and health["last_error_at"] is not None


# --- outbound -------------------------------------------------------------------------------------------


def test_reply_by_smtp_is_threaded_retried_after_a_failure_and_sent_once(
    api, runtime, dovecot, mailbox, smtp
):
    smtp_port, smtp_inbox = smtp
    account_id = _account(api, dovecot, mailbox, smtp_port=smtp_port)
    first, first_id = _email(references="<older@cliente.example>")
    dovecot.append(mailbox, first)
    _poll(runtime, account_id)
    (inbound_message,) = _messages(runtime)

    smtp_inbox.fail_next = 1  # the server is busy at the first try
    response = api.post(
        f"/api/v1/conversations/{inbound_message.conversation_id}/replies",
        json={"text": "Hola Lucía, lo estamos revisando y te escribimos hoy."},
    )
    assert response.status_code == 202, response.text
    with runtime.db.sessions() as session:
        delivery = session.scalars(select(Delivery)).one()
    assert delivery.status == "pending" and delivery.attempts == 1 and "451" in (delivery.last_error or "")
    assert smtp_inbox.received == [] and smtp_inbox.refused == 1

    with runtime.db.session() as session:  # the backoff has passed
        session.execute(update(Delivery).values(next_attempt_at=Delivery.created_at))
    reconcile(runtime)
    reconcile(runtime)
    with runtime.db.sessions() as session:
        delivery = session.scalars(select(Delivery)).one()
    assert delivery.status == "sent" and delivery.attempts == 2
    assert len(smtp_inbox.received) == 1
    sent = parse(smtp_inbox.received[0])
    our_id = f"cuida.{delivery.id}.{account_id}@tienda.example"
    assert sent["Message-ID"] == f"<{our_id}>" and delivery.provider_id == our_id
    assert sent["In-Reply-To"] == f"<{first_id}>"
    assert sent["References"] == f"<older@cliente.example> <{first_id}>"
    assert sent["To"] == "lucia@cliente.example" and sent["Subject"] == "Re: Pedido sin entregar"
    assert "lo estamos revisando" in sent.get_content()

    # The customer answers our reply: it lands in the same conversation.
    answer_raw, _ = _email("Vale, gracias.", subject="Re: Pedido sin entregar", in_reply_to=f"<{our_id}>")
    dovecot.append(mailbox, answer_raw)
    _poll(runtime, account_id)
    inbound_messages = [m for m in _messages(runtime) if m.direction == "in"]
    assert len(inbound_messages) == 2
    assert inbound_messages[1].conversation_id == inbound_message.conversation_id
    with runtime.db.sessions() as session:
        reply_external_id = session.scalar(
            select(Message.external_id).where(Message.id == delivery.message_id)
        )
    assert inbound_messages[1].in_reply_to == reply_external_id

    # Later the reply bounces: the bounce is kept aside and told on the reply's conversation.
    bounce = (
        b"From: MAILER-DAEMON@mx.cliente.example\r\nTo: ayuda@tienda.example\r\nSubject: Undelivered\r\n"
        b'Message-ID: <b2@mx.cliente.example>\r\nContent-Type: multipart/report; boundary="B"\r\n\r\n'
        b"--B\r\nContent-Type: text/plain\r\n\r\nMailbox full.\r\n--B\r\n"
        b"Content-Type: text/rfc822-headers\r\n\r\nMessage-ID: <" + our_id.encode() + b">\r\n\r\n--B--\r\n"
    )
    dovecot.append(mailbox, bounce)
    _poll(runtime, account_id)
    with runtime.db.sessions() as session:
        bounced = session.scalars(select(Event).where(Event.type == "reply.bounced")).one()
    assert bounced.conversation_id == inbound_message.conversation_id
    assert bounced.payload["delivery_id"] == delivery.id


def test_a_refused_recipient_fails_without_retrying(api, runtime, dovecot, mailbox, smtp):
    smtp_port, smtp_inbox = smtp
    account_id = _account(api, dovecot, mailbox, smtp_port=smtp_port)
    raw, _ = _email()
    dovecot.append(mailbox, raw)
    _poll(runtime, account_id)
    (message,) = _messages(runtime)
    smtp_inbox.unknown_users.add("lucia@cliente.example")  # the mailbox no longer exists: 550
    api.post(f"/api/v1/conversations/{message.conversation_id}/replies", json={"text": "Respuesta"})
    with runtime.db.sessions() as session:
        delivery = session.scalars(select(Delivery)).one()
    assert delivery.status == "failed" and delivery.attempts == 1 and "550" in (delivery.last_error or "")
    assert smtp_inbox.received == []


@pytest.mark.parametrize(
    ("body", "new"),
    [
        ("Gracias.\n\nEl 2/3/2026, a las 10:00, Tienda <a@b.es> escribió:\n> hola", "Gracias."),
        ("Vale.\n\nEl lun, 2 mar 2026 a las 10:00, Tienda (<a@b.es>)\nescribió:\n\n> hola", "Vale."),
        ("Thanks!\n\nOn Mon, Mar 2, 2026 at 10:00 AM Shop <a@b.es> wrote:\n> hi", "Thanks!"),
        ("Ok\n\n-----Original Message-----\nFrom: Shop\nSent: Monday", "Ok"),
        (
            "Recibido\n\nDe: Tienda <a@b.es>\nEnviado: lunes, 2 de marzo\nPara: yo\nAsunto: x\n\ntexto",
            "Recibido",
        ),
        ("Sí\n________________________________\nDe: Tienda\nEnviado: lunes", "Sí"),
        (
            "> ¿Me confirma la dirección?\nCalle Mayor 3\n> ¿Y el teléfono?\n600 000 000",
            "Calle Mayor 3\n600 000 000",
        ),
        ("Un saludo\n-- \nLucía Pérez\nDirectora", "Un saludo"),
        ("> todo citado\n> nada nuevo", "> todo citado\n> nada nuevo"),  # all quote: kept whole
        ("El pedido llegó roto y escribió mal la dirección: Calle Sol 1", None),  # no marker: unchanged
    ],
)
def test_quoted_parts_are_cut_in_spanish_and_english(body, new):
    from cuida.channels.mail.quotes import strip_quoted

    text, cut = strip_quoted(body)
    assert text == (body if new is None else new)
    assert (cut > 0) == (new is not None and new != body)
