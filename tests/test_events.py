from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from cuida.app import create_app


def test_events_page_after_n(api):
    api.message(author="a@x.es", external_id="1", text="hola")
    first_page = api.get("/api/v1/events?limit=2").json()
    assert len(first_page["items"]) == 2
    rest = api.get(f"/api/v1/events?after={first_page['last_id']}").json()["items"]
    ids = [e["id"] for e in first_page["items"] + rest]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    types = [e["type"] for e in first_page["items"] + rest]
    assert types.count("message.received") == 1 and types.count("message.triaged") == 1


def test_events_are_append_only(runtime):
    from sqlalchemy import text
    from sqlalchemy.exc import DatabaseError

    from cuida.events.service import publish

    with runtime.db.session() as session:
        publish(session=session, type="test.event")
    for statement in ("UPDATE events SET type = 'forged'", "DELETE FROM events"):
        with pytest.raises(DatabaseError, match="append-only"), runtime.db.session() as session:
            session.execute(text(statement))


@pytest.fixture
def live_server(runtime, admin_token) -> Iterator[str]:
    """The app under a real uvicorn on a free port, for streaming."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = create_app(runtime.settings, runtime=runtime, start_workers=False)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            threading.Event().wait(0.05)
    yield base
    server.should_exit = True
    thread.join(10)


def _read_events(response: httpx.Response, count: int) -> list[dict]:
    events, current = [], {}
    for line in response.iter_lines():
        if line.startswith("id: "):
            current["id"] = int(line[4:])
        elif line.startswith("event: "):
            current["event"] = line[7:]
        elif line.startswith("data: "):
            current["data"] = json.loads(line[6:])
        elif line == "" and "data" in current:
            events.append(current)
            current = {}
            if len(events) == count:
                break
    return events


def test_sse_streams_live_events_and_resumes_with_last_event_id(live_server, admin_token):
    headers = {"Authorization": f"Bearer {admin_token}"}
    post = {"channel": "email", "author": "a@x.es", "text": "hola"}
    with httpx.Client(base_url=live_server, headers=headers, timeout=10) as client:
        with client.stream("GET", "/api/v1/events/stream") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            assert client.post("/api/v1/messages", json={**post, "external_id": "1"}).status_code == 202
            live = _read_events(stream, 3)
        assert [e["event"] for e in live] == ["customer.created", "conversation.created", "message.received"]
        assert live[2]["data"]["conversation_id"] == live[1]["data"]["conversation_id"]
        last_seen = live[0]["id"]
        # A reconnecting browser sends Last-Event-ID and first gets everything it missed.
        client.post("/api/v1/messages", json={**post, "external_id": "2"})
        with client.stream(
            "GET", "/api/v1/events/stream", headers={"Last-Event-ID": str(last_seen)}
        ) as stream:
            replayed = _read_events(stream, 3)
        assert [e["id"] for e in replayed] == list(range(last_seen + 1, last_seen + 4))


def test_sse_needs_auth(live_server):
    assert httpx.get(f"{live_server}/api/v1/events/stream", timeout=5).status_code == 401


def test_subscribers_react_in_the_publishers_transaction(runtime, monkeypatch):
    from cuida.events import service as events
    from cuida.events.models import Event

    monkeypatch.setattr(events, "SUBSCRIBERS", {})

    @events.subscribe("test.happened")
    def react(*, session, event):
        events.publish(session=session, type="test.reacted", payload={"to": event.type})

    @events.subscribe("test.loop")
    def loop(*, session, event):
        events.publish(session=session, type="test.loop")

    with runtime.db.session() as session:
        events.publish(session=session, type="test.happened")
        events.publish(session=session, type="test.loop")
    try:
        with runtime.db.session() as session:
            events.publish(session=session, type="test.happened")
            raise RuntimeError("the change fails")
    except RuntimeError:
        pass
    with runtime.db.sessions() as session:
        types = [e.type for e in session.query(Event).order_by(Event.id)]
    assert types.count("test.reacted") == 1, "a rolled-back change takes its reactions with it"
    assert types.count("test.loop") == events.MAX_DEPTH + 1, "reactions to reactions stop"
