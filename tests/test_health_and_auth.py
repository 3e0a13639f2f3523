from __future__ import annotations

from cuida.auth.service import create_token
from tests.conftest import ADMIN_PASSWORD


def test_health_is_open_and_reports_database_and_queue(client):
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["queue"]["ok"] is True


def test_everything_else_needs_auth(client):
    for method, url in [
        ("get", "/api/v1/conversations"),
        ("post", "/api/v1/messages"),
        ("get", "/api/v1/customers/1"),
        ("get", "/api/v1/events"),
        ("get", "/api/v1/search?q=x"),
    ]:
        response = getattr(client, method)(url)
        assert response.status_code == 401, (url, response.text)
        assert response.json()["error"]["code"] == "unauthorized"


def test_unknown_and_revoked_tokens_are_refused(api, client, runtime):
    assert client.get("/api/v1/conversations", headers={"Authorization": "Bearer nope"}).status_code == 401
    with runtime.db.session() as session:
        secret, row = create_token(session=session, name="x", scopes=["conversations:read"])
    assert (
        client.get("/api/v1/conversations", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    )
    assert api.client.delete(f"/api/v1/tokens/{row.id}", headers=api.headers).status_code == 200
    assert (
        client.get("/api/v1/conversations", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    )


def test_scopes_are_checked_per_route(client, runtime):
    with runtime.db.session() as session:
        secret, _ = create_token(session=session, name="marketing", scopes=["customers:read"])
    headers = {"Authorization": f"Bearer {secret}"}
    response = client.post(
        "/api/v1/messages", headers=headers, json={"channel": "email", "author": "a@b.es", "text": "hola"}
    )
    assert response.status_code == 403
    assert "messages:write" in response.json()["error"]["message"]
    assert client.put("/api/v1/admin/clock", headers=headers, json={"advance_seconds": 1}).status_code == 403


def test_agent_login_session_and_csrf(client, admin_token):
    bad = client.post("/api/v1/auth/login", json={"email": "admin@example.com", "password": "wrong"})
    assert bad.status_code == 401
    login = client.post("/api/v1/auth/login", json={"email": "ADMIN@example.com", "password": ADMIN_PASSWORD})
    assert login.status_code == 200
    cookie = login.cookies.get("cuida_session") or client.cookies.get("cuida_session")
    assert cookie
    set_cookie = login.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=lax" in set_cookie
    csrf = login.json()["csrf_token"]
    assert client.get("/api/v1/auth/me").json()["role"] == "admin"
    body = {"channel": "email", "author": "cliente@correo.es", "text": "hola"}
    # A cookie session must prove the request came from our page.
    assert client.post("/api/v1/messages", json=body).status_code == 403
    assert client.post("/api/v1/messages", json=body, headers={"X-CSRF-Token": "forged"}).status_code == 403
    assert client.post("/api/v1/messages", json=body, headers={"X-CSRF-Token": csrf}).status_code == 202
    assert client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    client.cookies.clear()
    assert client.get("/api/v1/auth/me", cookies={"cuida_session": cookie}).status_code == 401


def test_agent_role_cannot_do_admin_things(client, api):
    created = api.post(
        "/api/v1/agents",
        json={"email": "ana@example.com", "name": "Ana", "password": "a long password", "role": "agent"},
    )
    assert created.status_code == 201, created.text
    login = client.post(
        "/api/v1/auth/login", json={"email": "ana@example.com", "password": "a long password"}
    )
    csrf = login.json()["csrf_token"]
    response = client.post(
        "/api/v1/tokens", json={"name": "x", "scopes": ["admin"]}, headers={"X-CSRF-Token": csrf}
    )
    assert response.status_code == 403
    assert (
        client.post(
            "/api/v1/customers/1/merge", json={"source_id": 2}, headers={"X-CSRF-Token": csrf}
        ).status_code
        == 403
    )


def test_login_form_needs_its_csrf_token(client, admin_token):
    page = client.get("/login")
    assert page.status_code == 200
    token = client.cookies.get("cuida_login_csrf")
    assert token and f'value="{token}"' in page.text
    forged = client.post(
        "/login",
        data={"email": "admin@example.com", "password": ADMIN_PASSWORD, "csrf_token": "forged"},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    ok = client.post(
        "/login",
        data={"email": "admin@example.com", "password": ADMIN_PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    home = client.get("/")
    assert home.status_code == 200 and "Bandeja" in home.text


def test_openapi_describes_the_api(client):
    spec = client.get("/openapi.json").json()
    for path in [
        "/api/v1/messages",
        "/api/v1/messages/batch",
        "/api/v1/customers/{customer_id}/timeline",
        "/api/v1/conversations/{conversation_id}/replies",
        "/api/v1/events/stream",
        "/api/v1/search",
    ]:
        assert path in spec["paths"], path
