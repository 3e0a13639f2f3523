"""Request dependencies: the runtime, who is calling, and what they may do."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

from fastapi import Depends, Request

from cuida.auth import service as auth
from cuida.auth.permissions import ROLE_SCOPES, ROLES
from cuida.clock.service import wall_now
from cuida.common.errors import Forbidden, Unauthorized
from cuida.events.service import Actor
from cuida.runtime import Runtime

SESSION_COOKIE = "cuida_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


@dataclass
class Principal:
    kind: Literal["agent", "token"]
    id: int
    name: str
    role: str | None
    scopes: frozenset[str]
    csrf_token: str | None = None
    team_ids: list[int] = field(default_factory=list)

    @property
    def actor(self) -> Actor:
        return Actor(self.kind, self.id, self.name)

    @property
    def agent_id(self) -> int | None:
        return self.id if self.kind == "agent" else None

    def at_least(self, role: str) -> bool:
        return self.role is not None and ROLES.index(self.role) >= ROLES.index(role)


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def load_principal(request: Request, runtime: Runtime) -> Principal | None:
    """Who is calling, from a bearer token or a session cookie; None if nobody."""
    secret = _bearer(request)
    if secret:
        with runtime.db.session() as session:
            token = auth.token_for(session=session, secret=secret)
            if token is None:
                raise Unauthorized("the bearer token is unknown or revoked")
            wall = wall_now()
            # Record use, but write at most once a minute per token: reads must stay cheap.
            if token.last_used_at is None or wall - token.last_used_at > timedelta(minutes=1):
                token.last_used_at = wall
            return Principal("token", token.id, token.name, None, frozenset(token.scopes))
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        with runtime.db.sessions() as session:
            found = auth.session_for(session=session, token=cookie)
            if found is not None:
                agent, row = found
                return Principal(
                    "agent",
                    agent.id,
                    agent.name,
                    agent.role,
                    ROLE_SCOPES[agent.role],
                    row.csrf_token,
                    [t.id for t in agent.teams],
                )
    return None


def authenticated(request: Request, runtime: Runtime = Depends(get_runtime)) -> Principal:
    principal = getattr(request.state, "principal", None) or load_principal(request, runtime)
    if principal is None:
        raise Unauthorized("log in, or send an API token as 'Authorization: Bearer <token>'")
    if principal.kind == "agent" and request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not principal.csrf_token or not hmac.compare_digest(sent, principal.csrf_token):
            raise Forbidden("missing or wrong X-CSRF-Token header (cookie sessions must send it)")
    request.state.principal = principal
    return principal


def require(scope: str) -> Callable[..., Principal]:
    """A dependency that lets the call through only with `scope`."""

    def check(principal: Principal = Depends(authenticated)) -> Principal:
        if scope not in principal.scopes:
            raise Forbidden(
                f"this needs the '{scope}' permission, which {principal.kind} "
                f"'{principal.name}' does not have"
            )
        return principal

    check.__name__ = f"require_{scope.replace(':', '_')}"
    return check
