"""IMAP IDLE (RFC 2177): a mailbox that says when mail arrives, so a new email is fetched within
seconds instead of at the next poll.

A watcher only triggers the account's poll: the poll stays the one place that fetches, stores and
moves the cursor (leased, idempotent by Message-ID), so IDLE can add no double and lose nothing. If
IDLE breaks or the server does not offer it, polling goes on at its interval. Python's imaplib has
no IDLE before 3.14, so the few protocol lines are written here.

Every `cuida serve` / `cuida worker` process watches every enabled account that has `idle` on
(one connection per account and process); the poll's lease makes concurrent wake-ups harmless.
"""

from __future__ import annotations

import contextlib
import imaplib
import io
import logging
import select
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from cuida.channels.mail.config import EmailConfig

if TYPE_CHECKING:
    from cuida.runtime import Runtime

log = logging.getLogger(__name__)
IDLE_CYCLE_SECONDS = 300.0  # re-issued well within the 29 minutes servers allow; each cycle ends with a poll
REFRESH_SECONDS = 30.0  # how often the set of watched accounts is read again
BUSY_RETRY_SECONDS = 1.0  # another worker is polling the account: try again shortly


class IdleUnsupported(Exception):
    pass


def idle_once(conn: imaplib.IMAP4, stopped: Callable[[], bool], max_seconds: float) -> bool:
    """IDLE on the selected mailbox until the server reports new mail (True), or `stopped()` or
    `max_seconds` pass (False). The connection is left out of IDLE either way."""
    if "IDLE" not in conn.capabilities:
        raise IdleUnsupported("the server does not offer IDLE")
    tag = conn._new_tag()
    conn.send(tag + b" IDLE\r\n")
    if not conn.readline().startswith(b"+"):
        raise imaplib.IMAP4.error("the server refused IDLE")
    arrived = False
    deadline = time.monotonic() + max_seconds
    try:
        while not arrived and not stopped() and time.monotonic() < deadline:
            # Wait on the socket, then read a whole line (a read timeout would break imaplib's file);
            # a line the server sent with "+ idling" may already sit in that file's buffer.
            if not _buffered(conn):
                wait = min(1.0, max(0.0, deadline - time.monotonic()))
                readable, _, _ = select.select([conn.sock], [], [], wait)
                if not readable:
                    continue
            line = conn.readline()
            if not line:
                raise ConnectionError("the IMAP server closed the connection")
            arrived = b"EXISTS" in line or b"RECENT" in line
    finally:
        conn.send(b"DONE\r\n")
        while True:  # untagged lines may come before the end of IDLE
            line = conn.readline()
            if not line or line.startswith(tag):
                break
    return arrived


def _buffered(conn: imaplib.IMAP4) -> bool:
    """Whether imaplib's reader holds unread bytes, without blocking: with the socket briefly
    non-blocking, an empty buffer's refill finds nothing and returns empty instead of waiting."""
    sock = conn.sock
    previous = sock.gettimeout()
    sock.setblocking(False)
    try:
        reader = cast(io.BufferedReader, conn.file)  # imaplib reads through makefile('rb')
        return bool(reader.peek(1))
    finally:
        sock.settimeout(previous)


class MailWatchers:
    """The IDLE watchers of one process: one thread per watched account, kept in step with the
    accounts table every REFRESH_SECONDS; stopped with the process's consumers."""

    def __init__(
        self, runtime: Runtime, stop: threading.Event, *, refresh_seconds: float = REFRESH_SECONDS
    ) -> None:
        self.runtime = runtime
        self.stop = stop
        self.refresh_seconds = refresh_seconds
        self.watching: dict[int, tuple[threading.Thread, threading.Event]] = {}

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self._refresh()
            except Exception as exc:
                log.warning("email IDLE: cannot read the accounts: %s", exc)
            self.stop.wait(self.refresh_seconds)
        for _thread, halt in self.watching.values():
            halt.set()

    def _refresh(self) -> None:
        from cuida.channels import service as channels

        with self.runtime.db.sessions() as session:
            wanted = {
                a.id
                for a in channels.list_accounts(session=session, kind="email")
                if a.enabled and (a.config or {}).get("imap_host") and (a.config or {}).get("idle", True)
            }
        for account_id in set(self.watching) - wanted:
            self.watching.pop(account_id)[1].set()
        # A watcher that ended (the server has no IDLE) is not started again until a restart.
        for account_id in wanted - set(self.watching):
            halt = threading.Event()
            thread = threading.Thread(
                target=self._watch, args=(account_id, halt), name=f"cuida-idle-{account_id}", daemon=True
            )
            self.watching[account_id] = (thread, halt)
            thread.start()

    def _halted(self, halt: threading.Event) -> bool:
        return halt.is_set() or self.stop.is_set()

    def _poll(self, account_id: int, halt: threading.Event) -> None:
        """Run the account's poll here, waiting while another worker holds it (its poll may have
        started before the new mail arrived)."""
        from cuida.channels.service import poll_now

        while not self._halted(halt):
            answer = poll_now(self.runtime, account_id)
            if getattr(answer, "polled", True):
                return
            halt.wait(BUSY_RETRY_SECONDS)

    def _watch(self, account_id: int, halt: threading.Event) -> None:
        from cuida.channels import service as channels
        from cuida.channels.mail.inbound import _connect, _quote

        failures = 0
        while not self._halted(halt):
            try:
                with self.runtime.db.sessions() as session:
                    account = channels.get_account(session=session, account_id=account_id)
                    config = EmailConfig.model_validate(account.config)
                    secrets = dict(account.secrets or {})
                conn = _connect(config, secrets)
                try:
                    if "IDLE" not in conn.capabilities:
                        log.info("email account %s: the server has no IDLE; polling only", account_id)
                        return
                    conn.select(_quote(config.mailboxes[0]), readonly=True)
                    self._poll(account_id, halt)  # what came while nobody was listening
                    failures = 0
                    while not self._halted(halt):
                        idle_once(conn, lambda: self._halted(halt), IDLE_CYCLE_SECONDS)
                        if not self._halted(halt):
                            self._poll(account_id, halt)
                finally:
                    with contextlib.suppress(Exception):
                        conn.logout()
            except IdleUnsupported:
                return
            except Exception as exc:
                failures += 1
                log.warning(
                    "email account %s: IDLE failed (%s); polling goes on", account_id, exc, exc_info=True
                )
                halt.wait(min(300.0, 2.0**failures))
