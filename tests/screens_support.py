"""Helpers for the page tests of the board, customers, profile and admin screens: agents in teams,
and a browser-like client logged in as one of them (session cookie + its CSRF token)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from cuida.auth.schemas import AgentCreate
from cuida.auth.service import create_agent, get_or_create_team
from cuida.runtime import Runtime

PASSWORD = "a long test password"


@dataclass
class Browser:
    """A TestClient holding one agent's session cookie, and the CSRF token forms must carry."""

    client: TestClient
    csrf: str
    agent_id: int

    def get(self, url: str, **kw: Any) -> Any:
        return self.client.get(url, **kw)

    def post(self, url: str, data: dict[str, Any] | None = None, *, csrf: bool = True, **kw: Any) -> Any:
        form = dict(data or {})
        if csrf:
            form.setdefault("csrf_token", self.csrf)
        return self.client.post(url, data=form, follow_redirects=kw.pop("follow_redirects", False), **kw)


def make_agent(
    runtime: Runtime, email: str, role: str = "agent", teams: tuple[str, ...] = (), language: str = "es"
) -> int:
    with runtime.db.session() as session:
        for slug in teams:
            get_or_create_team(session=session, slug=slug, name=slug.replace("-", " ").title())
        agent = create_agent(
            session=session,
            data=AgentCreate(
                email=email,
                name=email.split("@")[0].title(),
                password=PASSWORD,
                role=role,  # type: ignore[arg-type]
                language=language,  # type: ignore[arg-type]
                team_slugs=list(teams),
            ),
        )
        return agent.id


def team_id(runtime: Runtime, slug: str) -> int:
    with runtime.db.session() as session:
        return get_or_create_team(session=session, slug=slug).id


def browser_for(app: Any, email: str) -> Browser:
    """`app`: the ASGI app (a fixture's `client.app`)."""
    client = TestClient(app)
    response = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    body = response.json()
    return Browser(client, body["csrf_token"], body["agent"]["id"])
