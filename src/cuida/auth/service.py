"""Agents, teams, passwords, sessions and tokens. The only code that changes them."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from cuida.auth.models import Agent, AgentSession, ApiToken, Team
from cuida.auth.permissions import ROLES, parse_scopes
from cuida.auth.schemas import AgentCreate, TeamCreate
from cuida.clock.service import now, wall_now
from cuida.common.errors import Conflict, Invalid, NotFound, Unauthorized
from cuida.events.service import SYSTEM, Actor, publish

SESSION_DAYS = 7
AGENT_LANGUAGES = ("es", "en")  # the languages the pages are written in
TOKEN_PREFIX = "cuida_"
_hasher = PasswordHasher()
# Verified against when the email is unknown, so timing does not reveal which emails exist.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def create_team(*, session: Session, data: TeamCreate, actor: Actor = SYSTEM) -> Team:
    if session.scalar(select(Team).where(Team.slug == data.slug)):
        raise Conflict(f"team {data.slug!r} already exists", field="slug")
    team = Team(slug=data.slug, name=data.name, kind=data.kind, created_at=now(session=session))
    session.add(team)
    session.flush()
    publish(
        session=session, type="team.created", actor=actor, payload={"team_id": team.id, "slug": team.slug}
    )
    return team


def get_or_create_team(*, session: Session, slug: str, name: str | None = None, kind: str = "care") -> Team:
    team = session.scalar(select(Team).where(Team.slug == slug))
    if team is None:
        team = create_team(session=session, data=TeamCreate(slug=slug, name=name or slug, kind=kind))  # type: ignore[arg-type]
    return team


def create_agent(*, session: Session, data: AgentCreate, actor: Actor = SYSTEM) -> Agent:
    email = data.email.strip().lower()
    if data.role not in ROLES:
        raise Invalid(f"role must be one of {', '.join(ROLES)}", field="role")
    if session.scalar(select(Agent).where(Agent.email == email)):
        raise Conflict(f"an agent with email {email} already exists", field="email")
    teams = []
    for slug in data.team_slugs:
        team = session.scalar(select(Team).where(Team.slug == slug))
        if team is None:
            raise Invalid(f"team {slug!r} does not exist", field="team_slugs")
        teams.append(team)
    agent = Agent(
        email=email,
        name=data.name,
        password_hash=hash_password(data.password),
        role=data.role,
        language=data.language,
        active=True,
        created_at=now(session=session),
        teams=teams,
    )
    session.add(agent)
    session.flush()
    publish(
        session=session,
        type="agent.created",
        actor=actor,
        payload={"agent_id": agent.id, "email": email, "role": agent.role},
    )
    return agent


def count_agents(*, session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Agent)) or 0)


def authenticate(*, session: Session, email: str, password: str) -> Agent:
    agent = session.scalar(select(Agent).where(Agent.email == email.strip().lower()))
    try:
        _hasher.verify(agent.password_hash if agent and agent.password_hash else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        raise Unauthorized("wrong email or password") from None
    if agent is None or not agent.active:
        raise Unauthorized("wrong email or password")
    if _hasher.check_needs_rehash(agent.password_hash or ""):
        agent.password_hash = hash_password(password)
    return agent


def open_session(*, session: Session, agent: Agent) -> tuple[str, AgentSession]:
    token = secrets.token_urlsafe(32)
    wall = wall_now()
    row = AgentSession(
        token_hash=_digest(token),
        csrf_token=secrets.token_urlsafe(24),
        agent_id=agent.id,
        created_at=wall,
        expires_at=wall + timedelta(days=SESSION_DAYS),
    )
    session.add(row)
    session.flush()
    publish(session=session, type="agent.logged_in", actor=Actor("agent", agent.id, agent.name))
    return token, row


def session_for(*, session: Session, token: str) -> tuple[Agent, AgentSession] | None:
    row = session.scalar(select(AgentSession).where(AgentSession.token_hash == _digest(token)))
    if row is None or row.expires_at < wall_now():
        return None
    agent = session.get(Agent, row.agent_id)
    if agent is None or not agent.active:
        return None
    return agent, row


def close_session(*, session: Session, token: str) -> None:
    row = session.scalar(select(AgentSession).where(AgentSession.token_hash == _digest(token)))
    if row is not None:
        session.delete(row)


def create_token(
    *,
    session: Session,
    name: str,
    scopes: list[str],
    created_by: int | None = None,
    note: str | None = None,
    actor: Actor = SYSTEM,
) -> tuple[str, ApiToken]:
    try:
        scopes = parse_scopes(scopes)
    except ValueError as exc:
        raise Invalid(str(exc), field="scopes") from None
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        name=name,
        prefix=secret[: len(TOKEN_PREFIX) + 6],
        token_hash=_digest(secret),
        scopes=scopes,
        created_by_id=created_by,
        created_at=now(session=session),
        note=note,
    )
    session.add(row)
    session.flush()
    publish(
        session=session,
        type="token.created",
        actor=actor,
        payload={"token_id": row.id, "name": name, "scopes": scopes},
    )
    return secret, row


def token_for(*, session: Session, secret: str) -> ApiToken | None:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(secret)))
    if row is None or row.revoked_at is not None:
        return None
    return row


def revoke_token(*, session: Session, token_id: int, actor: Actor) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"token {token_id} does not exist")
    if row.revoked_at is None:
        row.revoked_at = now(session=session)
        publish(session=session, type="token.revoked", actor=actor, payload={"token_id": row.id})
    return row


def list_agents(*, session: Session) -> list[Agent]:
    return list(session.scalars(select(Agent).order_by(Agent.id)))


def list_teams(*, session: Session) -> list[Team]:
    return list(session.scalars(select(Team).order_by(Team.id)))


def list_tokens(*, session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.id)))


def ensure_admin(*, session: Session, email: str, password: str | None) -> tuple[Agent, str] | None:
    """On first start: create the admin if there is no agent at all. Returns (agent, password)."""
    if count_agents(session=session):
        return None
    password = password or secrets.token_urlsafe(12)
    agent = create_agent(
        session=session, data=AgentCreate(email=email, name="Admin", password=password, role="admin")
    )
    return agent, password


# --- administration of agents (the admin pages) and an agent's own language ----------------------


def get_agent(*, session: Session, agent_id: int) -> Agent:
    agent = session.get(Agent, agent_id)
    if agent is None:
        raise NotFound(f"agent {agent_id} does not exist")
    return agent


def update_agent(
    *,
    session: Session,
    agent_id: int,
    actor: Actor,
    role: str | None = None,
    team_ids: list[int] | None = None,
    active: bool | None = None,
) -> Agent:
    """Change an agent's role, teams or active flag. A deactivated agent's sessions end at once."""
    agent = get_agent(session=session, agent_id=agent_id)
    changes: dict[str, object] = {}
    if role is not None and role != agent.role:
        if role not in ROLES:
            raise Invalid(f"role must be one of {', '.join(ROLES)}", field="role")
        changes["role"] = [agent.role, role]
        agent.role = role
    if team_ids is not None:
        teams = [session.get(Team, team_id) for team_id in sorted(set(team_ids))]
        missing = [tid for tid, team in zip(sorted(set(team_ids)), teams, strict=True) if team is None]
        if missing:
            raise Invalid(f"team(s) {', '.join(map(str, missing))} do not exist", field="team_ids")
        before = sorted(t.id for t in agent.teams)
        after = sorted(t.id for t in teams if t is not None)
        if before != after:
            changes["team_ids"] = [before, after]
            agent.teams = [t for t in teams if t is not None]
    if active is not None and active != agent.active:
        if not active and actor.type == "agent" and actor.id == agent.id:
            raise Invalid("you cannot deactivate yourself", field="active")
        changes["active"] = [agent.active, active]
        agent.active = active
        if not active:
            session.execute(delete(AgentSession).where(AgentSession.agent_id == agent.id))
    if changes:
        session.flush()
        publish(
            session=session,
            type="agent.updated",
            actor=actor,
            payload={"agent_id": agent.id, "changes": changes},
        )
    return agent


def set_language(*, session: Session, agent_id: int, language: str, actor: Actor) -> Agent:
    """The language every page speaks to this agent."""
    if language not in AGENT_LANGUAGES:
        raise Invalid(f"language must be one of {', '.join(AGENT_LANGUAGES)}", field="language")
    agent = get_agent(session=session, agent_id=agent_id)
    if agent.language != language:
        agent.language = language
        publish(
            session=session,
            type="agent.updated",
            actor=actor,
            payload={"agent_id": agent.id, "changes": {"language": language}},
        )
    return agent
