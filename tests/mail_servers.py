"""Real local mail servers for the email channel's tests and bench: Debian's dovecot (IMAP) run
from a private configuration in a temporary folder, and aiosmtpd (SMTP). Nothing is mocked."""

from __future__ import annotations

import contextlib
import imaplib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message as MimeMessage
from pathlib import Path
from typing import Any

DOVECOT = "/usr/sbin/dovecot"
PASSWORD = "secreto-de-prueba"
USERS = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, deadline_s: float = 15.0) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing answers on 127.0.0.1:{port}")


@dataclass
class Dovecot:
    port: int
    folder: Path
    process: subprocess.Popen[bytes]
    users: list[str] = field(default_factory=list)
    _next: int = 0

    def new_user(self) -> str:
        """A user of its own (an empty mailbox) for each test."""
        user = self.users[self._next]
        self._next += 1
        return user

    def connect(self, user: str) -> imaplib.IMAP4:
        conn = imaplib.IMAP4("127.0.0.1", self.port, timeout=30)
        conn.login(user, PASSWORD)
        return conn

    def append(self, user: str, raw: bytes, mailbox: str = "INBOX") -> None:
        """Deliver an email into the mailbox, as IMAP APPEND does for any client."""
        conn = self.connect(user)
        try:
            status, data = conn.append(mailbox, None, None, raw)
            assert status == "OK", data
        finally:
            conn.logout()

    def append_many(self, user: str, raws: list[bytes], mailbox: str = "INBOX") -> None:
        conn = self.connect(user)
        try:
            for raw in raws:
                status, data = conn.append(mailbox, None, None, raw)
                assert status == "OK", data
        finally:
            conn.logout()

    def log(self) -> str:
        path = self.folder / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""


def dovecot_problem() -> str | None:
    if not os.path.exists(DOVECOT):
        return f"dovecot is required for the email tests ({DOVECOT} is missing; scripts/test installs dovecot-imapd)"
    if os.geteuid() != 0:
        return (
            "dovecot is started by the tests as root (to run its mail processes as nobody); run them as root"
        )
    return None


@contextlib.contextmanager
def run_dovecot(users: int = USERS) -> Iterator[Dovecot]:
    problem = dovecot_problem()
    if problem:
        raise RuntimeError(problem)
    folder = Path(tempfile.mkdtemp(prefix="cuida-dovecot-"))
    folder.chmod(0o755)  # dovecot's unprivileged processes walk into it
    mail = folder / "mail"
    mail.mkdir()
    shutil.chown(mail, "nobody", "nogroup")
    names = [f"cliente{i}" for i in range(users)]
    (folder / "passwd").write_text("".join(f"{name}:{{PLAIN}}{PASSWORD}\n" for name in names))
    port = free_port()
    (folder / "dovecot.conf").write_text(
        f"""
base_dir = {folder}/run
state_dir = {folder}/state
log_path = {folder}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{mail}/%u
first_valid_uid = 1
default_login_user = dovenull
default_internal_user = dovecot
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {folder}/passwd
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={mail}/%u
}}
"""
    )
    process = subprocess.Popen(
        [DOVECOT, "-F", "-c", str(folder / "dovecot.conf")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = Dovecot(port=port, folder=folder, process=process, users=names)
    try:
        try:
            wait_for_port(port)
        except RuntimeError:
            output = (
                process.stdout.read().decode(errors="replace")
                if process.poll() is not None and process.stdout
                else ""
            )
            raise RuntimeError(f"dovecot did not start: {output} {server.log()}") from None
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


class SmtpInbox:
    """aiosmtpd's handler: keeps what it receives; answers the next `fail_next` DATA with 451 and
    refuses the addresses in `unknown_users` with 550."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.fail_next = 0
        self.refused = 0
        self.unknown_users: set[str] = set()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.unknown_users:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.fail_next > 0:
            self.fail_next -= 1
            self.refused += 1
            return "451 4.3.0 Try again later"
        self.received.append(bytes(envelope.original_content or envelope.content))
        return "250 OK"


@contextlib.contextmanager
def run_smtp() -> Iterator[tuple[int, SmtpInbox]]:
    from aiosmtpd.controller import Controller

    inbox = SmtpInbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


def parse(raw: bytes) -> MimeMessage:
    from email import policy
    from email.parser import BytesParser

    return BytesParser(policy=policy.default).parsebytes(raw)
