"""Local HTTP servers that speak the parts of the Telegram Bot API and the WhatsApp Cloud API
(Graph) the adapters use, as documented: JSON bodies, the providers' error shapes and codes.

Telegram (https://core.telegram.org/bots/api): POST /bot<token>/<method>; answers
{"ok": true, "result": ...} or {"ok": false, "error_code": N, "description": ..., "parameters":
{"retry_after": s}}. getUpdates returns updates with update_id >= offset, forgets the ones below
the offset it is given (that is how a bot confirms them), honours limit and timeout (long poll).

Graph (https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages): POST
/<version>/<phone_number_id>/messages with a bearer token; answers {"messaging_product",
"contacts", "messages": [{"id": "wamid..."}]} or {"error": {"message", "type", "code", ...}}.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_TELEGRAM_PATH = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>[A-Za-z]+)$")
_GRAPH_PATH = re.compile(r"^/(?P<version>v[0-9.]+)/(?P<number>[0-9]+)/messages$")


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet test output
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = None
        status, answer, headers = self.server.api.handle(self.path, dict(self.headers.items()), body)
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, api: Any) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.api = api


@contextmanager
def _serving(api: Any) -> Iterator[str]:
    server = _Server(api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        api.close()
        server.shutdown()
        server.server_close()


# --- Telegram ---------------------------------------------------------------------------------------


class BotApi:
    def __init__(self, token: str) -> None:
        self.token = token
        self.lock = threading.Condition()
        self.pending: list[dict[str, Any]] = []  # updates Telegram still holds (not confirmed)
        self.next_update_id = 100
        self.next_message_id = 5000
        self.get_updates_calls: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []  # sendMessage bodies that succeeded
        self.send_calls = 0
        self.failures: list[tuple[int, dict[str, Any]]] = []  # answers for the next sendMessage calls
        self.closed = False

    def close(self) -> None:
        with self.lock:
            self.closed = True
            self.lock.notify_all()

    def push(self, *updates: dict[str, Any]) -> list[int]:
        """Updates the bot will receive, numbered in order unless they carry update_id already."""
        ids = []
        with self.lock:
            for update in updates:
                if "update_id" not in update:
                    update = {"update_id": self.next_update_id, **update}
                    self.next_update_id += 1
                self.pending.append(update)
                ids.append(update["update_id"])
            self.lock.notify_all()
        return ids

    def fail_next_send(self, status: int, description: str, retry_after: int | None = None) -> None:
        answer: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if retry_after is not None:
            answer["parameters"] = {"retry_after": retry_after}
        self.failures.append((status, answer))

    def handle(self, path: str, headers: dict[str, str], body: Any) -> tuple[int, Any, dict[str, str]]:
        match = _TELEGRAM_PATH.match(path)
        if match is None:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}, {}
        if match["token"] != self.token:
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}, {}
        if not isinstance(body, dict):
            return 400, {"ok": False, "error_code": 400, "description": "Bad Request: invalid JSON"}, {}
        if match["method"] == "getUpdates":
            return 200, {"ok": True, "result": self._get_updates(body)}, {}
        if match["method"] == "sendMessage":
            return self._send_message(body)
        return 404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"}, {}

    def _get_updates(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        offset = body.get("offset")
        limit = int(body.get("limit") or 100)
        timeout = float(body.get("timeout") or 0)
        with self.lock:
            self.get_updates_calls.append(dict(body))
            if isinstance(offset, int):  # confirmed: forgotten for good
                self.pending = [u for u in self.pending if u["update_id"] >= offset]
            if not self.pending and timeout > 0:
                self.lock.wait_for(lambda: bool(self.pending) or self.closed, timeout=timeout)
            return [dict(u) for u in self.pending[:limit]]

    def _send_message(self, body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        with self.lock:
            self.send_calls += 1
            if self.failures:
                status, answer = self.failures.pop(0)
                return status, answer, {}
            if not isinstance(body.get("chat_id"), int | str) or not body.get("text"):
                return (
                    400,
                    {"ok": False, "error_code": 400, "description": "Bad Request: message text is empty"},
                    {},
                )
            self.next_message_id += 1
            self.sent.append(dict(body))
            result = {
                "message_id": self.next_message_id,
                "from": {"id": 999, "is_bot": True, "first_name": "Tienda"},
                "chat": {"id": body["chat_id"], "type": "private"},
                "date": 1772445600,
                "text": body["text"],
            }
            return 200, {"ok": True, "result": result}, {}


@contextmanager
def run_bot_api(token: str) -> Iterator[tuple[str, BotApi]]:
    api = BotApi(token)
    with _serving(api) as url:
        yield url, api


def text_update(
    text: str,
    *,
    user_id: int = 7001,
    chat_id: int | None = None,
    message_id: int,
    first_name: str = "Lucía",
    last_name: str | None = "Pérez",
    username: str | None = "luciap",
    reply_to: int | None = None,
    date: int = 1772445600,
) -> dict[str, Any]:
    sender: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "es"}
    if last_name:
        sender["last_name"] = last_name
    if username:
        sender["username"] = username
    chat_id = user_id if chat_id is None else chat_id
    message: dict[str, Any] = {
        "message_id": message_id,
        "from": sender,
        "chat": {
            "id": chat_id,
            "type": "private" if chat_id == user_id else "group",
            "first_name": first_name,
        },
        "date": date,
        "text": text,
    }
    if reply_to is not None:
        message["reply_to_message"] = {
            "message_id": reply_to,
            "chat": message["chat"],
            "date": date - 60,
            "text": "...",
        }
    return {"message": message}


# --- WhatsApp Cloud API (Graph) -------------------------------------------------------------------------


class GraphApi:
    def __init__(self, token: str, phone_number_id: str) -> None:
        self.token = token
        self.phone_number_id = phone_number_id
        self.lock = threading.Lock()
        self.sent: list[dict[str, Any]] = []  # accepted message bodies, with their wamid
        self.send_calls = 0
        self.failures: list[tuple[int, dict[str, Any]]] = []
        self.next_id = 1

    def close(self) -> None:
        pass

    def fail_next_send(self, status: int, code: int, message: str) -> None:
        error = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbCdEf"}
        self.failures.append((status, {"error": error}))

    def handle(self, path: str, headers: dict[str, str], body: Any) -> tuple[int, Any, dict[str, str]]:
        match = _GRAPH_PATH.match(path)
        if match is None or match["number"] != self.phone_number_id:
            error = {"message": "Unsupported post request.", "type": "GraphMethodException", "code": 100}
            return 400, {"error": error}, {}
        auth = {k.lower(): v for k, v in headers.items()}.get("authorization")
        if auth != f"Bearer {self.token}":
            error = {"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190}
            return 401, {"error": error}, {}
        with self.lock:
            self.send_calls += 1
            if self.failures:
                status, answer = self.failures.pop(0)
                return status, answer, {}
            text = body.get("text") if isinstance(body, dict) else None
            if (
                not isinstance(body, dict)
                or body.get("messaging_product") != "whatsapp"
                or body.get("type") != "text"
                or not isinstance(text, dict)
                or not text.get("body")
                or not str(body.get("to") or "").isdigit()
            ):
                error = {"message": "(#100) Invalid parameter", "type": "OAuthException", "code": 100}
                return 400, {"error": error}, {}
            wamid = f"wamid.OUT{self.next_id:06d}"
            self.next_id += 1
            self.sent.append({**body, "wamid": wamid})
            answer = {
                "messaging_product": "whatsapp",
                "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                "messages": [{"id": wamid}],
            }
            return 200, answer, {}


@contextmanager
def run_graph_api(token: str, phone_number_id: str) -> Iterator[tuple[str, GraphApi]]:
    api = GraphApi(token, phone_number_id)
    with _serving(api) as url:
        yield url, api


def notification(
    phone_number_id: str,
    *,
    messages: list[dict[str, Any]] | None = None,
    statuses: list[dict[str, Any]] | None = None,
    contacts: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A webhook notification as the Cloud API sends it."""
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "34910000000", "phone_number_id": phone_number_id},
    }
    if contacts is not None:
        value["contacts"] = contacts
    if messages is not None:
        value["messages"] = messages
    if statuses is not None:
        value["statuses"] = statuses
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1029384756", "changes": [{"value": value, "field": "messages"}]}],
    }


def wa_text(
    wamid: str, text: str, *, sender: str = "34600111222", context: str | None = None
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "from": sender,
        "id": wamid,
        "timestamp": "1772445600",
        "type": "text",
        "text": {"body": text},
    }
    if context:
        message["context"] = {"from": "34910000000", "id": context}
    return message
