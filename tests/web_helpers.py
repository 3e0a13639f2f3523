"""Shared helpers for page tests: agents in teams, and a browser-like login through the form."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from cuida.auth.schemas import AgentCreate
from cuida.auth.service import create_agent, get_or_create_team
from cuida.runtime import Runtime

PASSWORD = "correct horse battery"


def make_agent(runtime: Runtime, email: str, *, role: str = "agent", teams: tuple[str, ...] = ()) -> int:
    with runtime.db.session() as session:
        for slug in teams:
            get_or_create_team(session=session, slug=slug, name=slug)
        agent = create_agent(
            session=session,
            data=AgentCreate(
                email=email, name=email.split("@")[0], password=PASSWORD, role=role, team_slugs=list(teams)
            ),
        )
        return agent.id


def team_id(runtime: Runtime, slug: str) -> int:
    with runtime.db.session() as session:
        return get_or_create_team(session=session, slug=slug, name=slug).id


def login(client: TestClient, email: str, password: str = PASSWORD) -> str:
    """Log in through the HTML form; returns the session's CSRF token (read from a page)."""
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, page.text
    response = client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    inbox = client.get("/inbox")
    assert inbox.status_code == 200, inbox.text
    found = re.search(r'data-csrf="([^"]+)"', inbox.text)
    assert found
    return found.group(1)


def row_ids(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'data-kb-item data-id="(\d+)"', html)]


def post_message(api: Any, **fields: Any) -> dict[str, Any]:
    return dict(api.message(**fields))
