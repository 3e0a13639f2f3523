"""The web chat widget's API: widgets (admin), visitor sessions, messages through ingest, replies
delivered to that visitor's stream only, CORS by allowed origin, rate limits and offline → email."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from cuida.app import create_app
from cuida.customers.identity import IdentityError, identity_key
from cuida.webchat import ratelimit

ORIGIN = "https://shop.example.com"
VISITOR = "X-Cuida-Visitor"


def make_widget(api: Any, **fields: Any) -> dict[str, Any]:
    body = {"name": "Tienda", "allowed_origins": [ORIGIN + "/"], **fields}
    response = api.post("/api/v1/webchat/widgets", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def call(
    client: Any,
    method: str,
    key: str,
    path: str,
    *,
    token: str | None = None,
    origin: str = ORIGIN,
    **kw: Any,
) -> Any:
    headers = {"Origin": origin, **kw.pop("headers", {})}
    if token:
        headers[VISITOR] = token
    return client.request(method, f"/api/v1/widget/{key}{path}", headers=headers, **kw)


def start(client: Any, key: str) -> str:
    response = call(client, "POST", key, "/sessions")
    assert response.status_code == 201, response.text
    return str(response.json()["token"])


def say(client: Any, key: str, token: str, text: str, **kw: Any) -> Any:
    return call(client, "POST", key, "/messages", token=token, json={"text": text, **kw})


def feed(client: Any, key: str, token: str, after: int | None = None) -> list[dict[str, Any]]:
    query = f"?after={after}" if after is not None else ""
    response = call(client, "GET", key, f"/feed{query}", token=token)
    assert response.status_code == 200, response.text
    return list(response.json())


def conversation_of(api: Any, message_id: int) -> dict[str, Any]:
    message = api.get(f"/api/v1/messages/{message_id}").json()
    assert message["stage"] == "done", message
    return dict(api.get(f"/api/v1/conversations/{message['conversation_id']}").json())


def test_visitor_identities_are_webchat_handles_and_emails_stay_emails():
    assert identity_key("webchat", "Visitor-ABC123") == ("webchat", "visitor-abc123")
    assert identity_key("webchat", "Ana@Example.com") == ("email", "ana@example.com")
    with pytest.raises(IdentityError):
        identity_key("webchat", "someone")


def test_widget_admin_api_is_scope_checked_and_validates(api, client):
    widget = make_widget(api, language="en", theme={"primary": "#112233"}, greeting={"es": "¡Hola!"})
    assert widget["allowed_origins"] == [ORIGIN]
    assert widget["public_key"].startswith("wk_") and widget["public_key"] in widget["snippet"]
    assert widget["snippet"].startswith('<script src="http://testserver/widget.js" data-cuida-widget=')
    assert widget["theme"] == {"primary": "#112233", "on_primary": "#ffffff", "position": "right"}
    bad = api.post("/api/v1/webchat/widgets", json={"name": "x", "allowed_origins": ["https://a.es/path"]})
    assert bad.status_code == 422 and "allowed_origins" in bad.text
    bad = api.post(
        "/api/v1/webchat/widgets",
        json={"name": "x", "allowed_origins": [ORIGIN], "theme": {"primary": "red;}body{display:none"}},
    )
    assert bad.status_code == 422
    assert (
        api.post(
            "/api/v1/webchat/widgets", json={"name": "x", "allowed_origins": [ORIGIN], "team_id": 99}
        ).status_code
        == 422
    )
    changed = api.patch(f"/api/v1/webchat/widgets/{widget['id']}", json={"language": "es", "enabled": False})
    assert changed.status_code == 200 and changed.json()["language"] == "es" and not changed.json()["enabled"]
    reader = api.post("/api/v1/tokens", json={"name": "reader", "scopes": ["messages:read"]}).json()["token"]
    headers = {"Authorization": f"Bearer {reader}"}
    assert client.get("/api/v1/webchat/widgets", headers=headers).status_code == 403
    assert (
        client.post(
            "/api/v1/webchat/widgets", json={"name": "x", "allowed_origins": [ORIGIN]}, headers=headers
        ).status_code
        == 403
    )
    assert client.get("/api/v1/webchat/widgets").status_code == 401
    script = client.get("/widget.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert "data-cuida-widget" in script.text


def test_cors_answers_only_the_widgets_allowed_origins(api, client):
    key = make_widget(api)["public_key"]
    preflight = call(client, "OPTIONS", key, "/messages", headers={"Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    assert VISITOR in preflight.headers["access-control-allow-headers"]
    evil = call(client, "OPTIONS", key, "/messages", origin="https://evil.example.net")
    assert evil.status_code == 403 and "access-control-allow-origin" not in evil.headers
    refused = call(client, "GET", key, "/config", origin="https://evil.example.net")
    assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers
    assert "https://evil.example.net may not use this widget" in refused.json()["error"]["message"]
    no_origin = client.get(f"/api/v1/widget/{key}/config")
    assert no_origin.status_code == 403 and "Origin" in no_origin.json()["error"]["message"]
    assert call(client, "GET", "wk_nope", "/config").status_code == 404
    config = call(client, "GET", key, "/config?lang=en-GB")
    assert config.status_code == 200 and config.headers["access-control-allow-origin"] == ORIGIN
    assert config.json()["language"] == "en" and config.json()["strings"]["send"] == "Send"
    assert config.json()["online"] is True  # the admin is active and not away
    assert call(client, "GET", key, "/config?lang=fr").json()["strings"]["send"] == "Enviar"
    # An error for an allowed page still carries CORS, so the widget can read it.
    no_token = say(client, key, "", "hola")
    assert no_token.status_code == 401 and no_token.headers["access-control-allow-origin"] == ORIGIN


def test_session_message_and_reply_reach_only_that_visitors_feed(api, client):
    key = make_widget(api)["public_key"]
    ana, bob = start(client, key), start(client, key)
    again = call(client, "POST", key, "/sessions", token=ana)
    assert again.status_code == 200 and again.json()["token"] is None
    sent = say(client, key, ana, "Hola, mi pedido 4411 no ha llegado", client_id="ana-msg-0001")
    assert sent.status_code == 202 and sent.json()["mode"] == "chat"
    repeat = say(client, key, ana, "Hola, mi pedido 4411 no ha llegado", client_id="ana-msg-0001")
    assert repeat.json() == {**sent.json(), "duplicate": True}
    assert say(client, key, bob, "Yo también tengo una duda").status_code == 202
    conversation = conversation_of(api, sent.json()["message_id"])
    assert conversation["channel"] == "webchat"
    customer = api.get(f"/api/v1/customers/{conversation['customer_id']}").json()
    handle = again.json()["visitor"]
    assert [(i["channel"], i["value"]) for i in customer["identities"]] == [("webchat", handle)]
    reply = api.post(
        f"/api/v1/conversations/{conversation['id']}/replies", json={"text": "Lo miramos ahora mismo"}
    )
    assert reply.status_code == 202, reply.text
    note = api.post(f"/api/v1/conversations/{conversation['id']}/notes", json={"text": "Cliente nervioso"})
    assert note.status_code == 201  # an internal note never reaches the visitor (checked below)
    [delivered] = api.get(f"/api/v1/conversations/{conversation['id']}/replies").json()
    assert delivered["delivery"]["status"] == "sent", delivered
    ana_lines = feed(client, key, ana)
    assert [(x["kind"], x["text"]) for x in ana_lines] == [
        ("visitor", "Hola, mi pedido 4411 no ha llegado"),
        ("agent", "Lo miramos ahora mismo"),
    ]
    assert [(x["kind"], x["text"]) for x in feed(client, key, bob)] == [
        ("visitor", "Yo también tengo una duda")
    ]
    assert feed(client, key, ana, after=ana_lines[0]["id"]) == ana_lines[1:]
    # A token only opens its own widget.
    other = make_widget(api, name="Otra")["public_key"]
    assert call(client, "GET", other, "/feed", token=ana).status_code == 401


def test_identify_links_the_visitor_to_the_customer_who_owns_the_email(api, client):
    known = api.message(author="ana.garcia@example.com", external_id="mail-1", text="Escribo por mi factura")
    key = make_widget(api)["public_key"]
    token = start(client, key)
    first = say(client, key, token, "Hola, soy Ana")
    visitor_customer = conversation_of(api, first.json()["message_id"])["customer_id"]
    assert visitor_customer != known["customer_id"]
    bad = call(client, "POST", key, "/identify", token=token, json={"email": "not-an-address"})
    assert bad.status_code == 422 and bad.json()["error"]["fields"][0]["field"] == "email"
    done = call(
        client,
        "POST",
        key,
        "/identify",
        token=token,
        json={"name": "Ana <b>G</b>", "email": "Ana.Garcia@Example.com"},
    )
    assert done.status_code == 200 and done.json()["email"] == "Ana.Garcia@Example.com"
    customer = api.get(f"/api/v1/customers/{known['customer_id']}").json()
    channels = sorted(i["channel"] for i in customer["identities"])
    assert channels == ["email", "webchat"]
    second = say(client, key, token, "Sigo aquí")
    assert conversation_of(api, second.json()["message_id"])["customer_id"] == known["customer_id"]
    # From another device, leaving the address before writing joins the same customer directly.
    other = start(client, key)
    assert (
        call(
            client, "POST", key, "/identify", token=other, json={"email": "ana.garcia@example.com"}
        ).status_code
        == 200
    )
    third = say(client, key, other, "Desde el móvil")
    assert conversation_of(api, third.json()["message_id"])["customer_id"] == known["customer_id"]
    merges = api.get(f"/api/v1/customers/merges?customer_id={known['customer_id']}").json()
    assert len(merges) == 1  # the first visitor's profile, folded in; the second needed none


def test_offline_message_becomes_an_email_conversation_answered_by_email(api, client):
    key = make_widget(api)["public_key"]
    assert api.patch("/api/v1/agents/1/presence", json={"away": True}).status_code == 200
    assert call(client, "GET", key, "/config").json()["online"] is False
    token = start(client, key)
    needs_email = say(client, key, token, "¿Hay alguien?")
    assert needs_email.status_code == 422 and needs_email.json()["error"]["code"] == "email_required"
    call(client, "POST", key, "/identify", token=token, json={"email": "luis@example.org", "name": "Luis"})
    sent = say(client, key, token, "Quiero cambiar la dirección de entrega")
    assert sent.status_code == 202 and sent.json()["mode"] == "email"
    message = api.get(f"/api/v1/messages/{sent.json()['message_id']}").json()
    assert message["channel"] == "email" and message["author_value"] == "luis@example.org"
    conversation = conversation_of(api, message["id"])
    assert conversation["channel"] == "email"
    api.post(f"/api/v1/conversations/{conversation['id']}/replies", json={"text": "Hecho, Luis."})
    [reply] = api.get(f"/api/v1/conversations/{conversation['id']}/replies").json()
    assert reply["delivery"]["channel"] == "email"
    assert reply["message"]["meta"]["recipient"] == "luis@example.org"
    assert [x["kind"] for x in feed(client, key, token)] == ["visitor", "notice"]
    # A widget set to hide while offline refuses the message instead.
    hidden = make_widget(api, name="Oculto", offline_behaviour="hide")["public_key"]
    assert say(client, hidden, start(client, hidden), "hola").status_code == 409


def test_a_widget_with_a_team_is_online_by_that_team_and_routes_chats_to_it(api, client):
    team = api.post("/api/v1/teams", json={"slug": "tienda", "name": "Tienda online"}).json()
    agent = api.post(
        "/api/v1/agents",
        json={
            "email": "eva@example.com",
            "name": "Eva",
            "password": "secreto-largo-1",
            "team_slugs": ["tienda"],
        },
    ).json()
    key = make_widget(api, team_id=team["id"])["public_key"]
    assert call(client, "GET", key, "/config").json()["online"] is True
    token = start(client, key)
    sent = say(client, key, token, "¿Tenéis la talla 42?")
    assert sent.json()["mode"] == "chat"
    assert conversation_of(api, sent.json()["message_id"])["team_id"] == team["id"]
    # The admin (no team) being available does not make this team's widget online.
    assert api.patch(f"/api/v1/agents/{agent['id']}/presence", json={"away": True}).status_code == 200
    assert call(client, "GET", key, "/config").json()["online"] is False
    assert say(client, key, token, "¿Hola?").json()["error"]["code"] == "email_required"


def test_rate_limits_per_visitor_and_per_ip(api, client):
    key = make_widget(api)["public_key"]
    token = start(client, key)
    for n in range(int(ratelimit.VISITOR_MESSAGES.capacity)):
        assert say(client, key, token, f"mensaje {n}").status_code == 202
    limited = say(client, key, token, "uno más")
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limited"
    assert (
        int(limited.headers["retry-after"]) >= 1 and limited.headers["access-control-allow-origin"] == ORIGIN
    )
    # Another visitor from the same address still writes: the per-IP bucket is wider.
    assert say(client, key, start(client, key), "hola").status_code == 202
    made = 2
    while made < ratelimit.IP_SESSIONS.capacity:
        start(client, key)
        made += 1
    refused = call(client, "POST", key, "/sessions")
    assert refused.status_code == 429 and "try again" in refused.json()["error"]["message"]


def test_message_limits_and_untrusted_text(api, client):
    key = make_widget(api)["public_key"]
    token = start(client, key)
    too_long = say(client, key, token, "a" * 2001)
    assert too_long.status_code == 422 and too_long.json()["error"]["fields"][0]["field"] == "text"
    assert say(client, key, token, "   ").status_code == 422
    assert say(client, key, token, "x", client_id="bad id!").status_code == 422
    assert say(client, key, "wv_forged", "hola").status_code == 401
    hostile = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
    sent = say(client, key, token, hostile)
    message = api.get(f"/api/v1/messages/{sent.json()['message_id']}").json()
    assert message["text"] == hostile and message["html"] is None
    assert feed(client, key, token)[-1]["text"] == hostile  # data for textContent, never markup


@pytest.fixture
def served(runtime, admin_token) -> Iterator[str]:
    """The app under a real uvicorn, for the event stream."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = create_app(runtime.settings, runtime=runtime, start_workers=False)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1)
    )
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


def _lines(lines: Iterator[str], count: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    for line in lines:
        if line.startswith("id: "):
            current["id"] = int(line[4:])
        elif line.startswith("data: "):
            current.update(json.loads(line[6:]))
        elif line == "" and "text" in current:
            found.append(current)
            current = {}
            if len(found) == count:
                break
    return found


def test_stream_carries_the_reply_live_and_resumes_after_last_event_id(served, admin_token):
    admin = httpx.Client(base_url=served, headers={"Authorization": f"Bearer {admin_token}"}, timeout=10)
    page = httpx.Client(base_url=served, headers={"Origin": ORIGIN}, timeout=10)
    key = make_widget(admin)["public_key"]
    token = page.post(f"/api/v1/widget/{key}/sessions").json()["token"]
    sent = page.post(
        f"/api/v1/widget/{key}/messages", json={"text": "¿Seguís ahí?"}, headers={VISITOR: token}
    )
    conversation_id = admin.get(f"/api/v1/messages/{sent.json()['message_id']}").json()["conversation_id"]
    stream_url = f"/api/v1/widget/{key}/stream?token={token}"
    with page.stream("GET", stream_url) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert stream.headers["access-control-allow-origin"] == ORIGIN
        lines = stream.iter_lines()
        [mine] = _lines(lines, 1)
        assert mine["kind"] == "visitor"
        admin.post(f"/api/v1/conversations/{conversation_id}/replies", json={"text": "Sí, dime"})
        [answer] = _lines(lines, 1)
    assert answer["kind"] == "agent" and answer["text"] == "Sí, dime" and answer["author"] == "tests"
    admin.post(f"/api/v1/conversations/{conversation_id}/replies", json={"text": "¿Sigues ahí?"})
    with page.stream("GET", stream_url, headers={"Last-Event-ID": str(answer["id"])}) as stream:
        [missed] = _lines(stream.iter_lines(), 1)
    assert missed["text"] == "¿Sigues ahí?" and missed["id"] > answer["id"]
    assert page.get(f"/api/v1/widget/{key}/stream?token=wv_other").status_code == 401
    # Another visitor's stream, opened after those replies, holds only their own line: a leaked
    # reply (older) would come first.
    other = page.post(f"/api/v1/widget/{key}/sessions").json()["token"]
    page.post(f"/api/v1/widget/{key}/messages", json={"text": "Soy otra persona"}, headers={VISITOR: other})
    with page.stream("GET", f"/api/v1/widget/{key}/stream?token={other}&after=0") as stream:
        [first] = _lines(stream.iter_lines(), 1)
    assert (first["kind"], first["text"]) == ("visitor", "Soy otra persona")
    admin.close()
    page.close()


def test_a_reply_delivered_twice_shows_once_and_a_missing_visitor_is_not_retried(api, client, runtime):
    from cuida.channels.base import OutboundMessage
    from cuida.conversations.models import Delivery, Message

    key = make_widget(api)["public_key"]
    token = start(client, key)
    sent = say(client, key, token, "¿Tenéis la talla 42?", client_id="msg-0001")
    conversation = conversation_of(api, sent.json()["message_id"])
    assert (
        api.post(
            f"/api/v1/conversations/{conversation['id']}/replies", json={"text": "Sí, en tienda"}
        ).status_code
        == 202
    )
    with runtime.db.sessions() as session:
        delivery = session.query(Delivery).one()
        reply_meta = session.get(Message, delivery.message_id).meta
        outbound = OutboundMessage(
            delivery_id=delivery.id,
            channel="webchat",
            recipient=reply_meta["recipient"],
            text="Sí, en tienda",
            public=False,
            in_reply_to=None,
        )
    adapter = runtime.adapters.for_channel("webchat")
    again = adapter.send(outbound)  # the outbox retrying after a crash between send and record
    assert again.ok
    assert [x["kind"] for x in feed(client, key, token)] == ["visitor", "agent"], "one line per reply"
    gone = adapter.send(
        OutboundMessage(
            delivery_id=delivery.id, channel="webchat", recipient="visitor-nobody", text="x", public=False,
            in_reply_to=None,
        )
    )  # fmt: skip
    assert not gone.ok and gone.retry is False
