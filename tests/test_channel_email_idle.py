"""IMAP IDLE against a real dovecot: a watcher fetches a new email within seconds, long before the
account's next poll, and adds nothing twice."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import func, select

from cuida.channels.mail.idle import MailWatchers
from cuida.conversations.models import Message
from tests.mail_servers import PASSWORD, Dovecot, run_dovecot


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    try:
        with run_dovecot() as server:
            yield server
    except RuntimeError as exc:
        pytest.fail(str(exc))  # a missing dovecot fails the run: it is never a skip


def _email(n: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Lucía Pérez <lucia@cliente.example>"
    msg["To"] = "ayuda@tienda.example"
    msg["Subject"] = f"Pedido {n}"
    msg["Message-ID"] = f"<idle-{n}@cliente.example>"
    msg.set_content(f"Hola, el pedido {n} no ha llegado.")
    return msg.as_bytes()


def _stored(runtime: Any) -> int:
    with runtime.db.sessions() as session:
        return int(
            session.scalar(select(func.count()).select_from(Message).where(Message.channel == "email"))
        )


def _wait_for(condition: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())


def test_idle_fetches_new_mail_within_seconds_and_nothing_twice(
    api: Any, runtime: Any, dovecot: Dovecot
) -> None:
    user = dovecot.new_user()
    dovecot.append(user, _email(1))  # waiting before anyone listens: the first poll takes it
    created = api.post(
        "/api/v1/channels/accounts",
        json={
            "kind": "email",
            "name": "Buzón con IDLE",
            "config": {
                "address": "ayuda@tienda.example",
                "imap_host": "127.0.0.1",
                "imap_port": dovecot.port,
                "imap_security": "none",
                "imap_user": user,
                "poll_seconds": 86400,  # the scheduled poll is a day away: only IDLE can be this quick
            },
            "secrets": {"imap_password": PASSWORD},
        },
    )
    assert created.status_code == 201, created.text
    stop = threading.Event()
    watchers = MailWatchers(runtime, stop, refresh_seconds=0.2)
    thread = threading.Thread(target=watchers.run, daemon=True)
    thread.start()
    try:
        assert _wait_for(lambda: _stored(runtime) == 1, 20), "the mail waiting at start is fetched"
        started = time.monotonic()
        dovecot.append(user, _email(2))
        assert _wait_for(lambda: _stored(runtime) == 2, 20), dovecot.log()[-3000:]
        assert time.monotonic() - started < 20
        dovecot.append(user, _email(3))
        assert _wait_for(lambda: _stored(runtime) == 3, 20)
        # Disabling the account stops its watcher.
        assert (
            api.patch(
                f"/api/v1/channels/accounts/{created.json()['id']}", json={"enabled": False}
            ).status_code
            == 200
        )
        assert _wait_for(lambda: not any(t.is_alive() for t, _ in watchers.watching.values()), 20)
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
    assert _stored(runtime) == 3, "each email once"
