"""Login, logout, who am I; agents, teams and tokens for admins."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from cuida.auth import service
from cuida.auth.schemas import (
    AgentCreate,
    AgentRead,
    LoginRequest,
    LoginResult,
    Me,
    TeamCreate,
    TeamRead,
    TokenCreate,
    TokenCreated,
    TokenRead,
)
from cuida.runtime import Runtime
from cuida.web.deps import SESSION_COOKIE, Principal, authenticated, get_runtime, require

router = APIRouter(prefix="/api/v1", tags=["auth"])


def set_session_cookie(response: Response, runtime: Runtime, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=service.SESSION_DAYS * 86400,
        httponly=True,
        samesite="lax",
        secure=runtime.settings.secure_cookies,
        path="/",
    )


@router.post("/auth/login", response_model=LoginResult)
def login(data: LoginRequest, response: Response, runtime: Runtime = Depends(get_runtime)) -> LoginResult:
    with runtime.db.session() as session:
        agent = service.authenticate(session=session, email=data.email, password=data.password)
        token, row = service.open_session(session=session, agent=agent)
        result = LoginResult(agent=AgentRead.model_validate(agent), csrf_token=row.csrf_token)
    set_session_cookie(response, runtime, token)
    return result


@router.post("/auth/logout", status_code=204)
def logout(
    request: Request,
    response: Response,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(authenticated),
) -> Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        with runtime.db.session() as session:
            service.close_session(session=session, token=cookie)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/auth/me", response_model=Me)
def me(principal: Principal = Depends(authenticated)) -> Me:
    return Me(
        kind=principal.kind,
        id=principal.id,
        name=principal.name,
        role=principal.role,
        scopes=sorted(principal.scopes),
        csrf_token=principal.csrf_token,
    )


@router.get("/agents", response_model=list[AgentRead], tags=["admin"])
def list_agents(
    runtime: Runtime = Depends(get_runtime), principal: Principal = Depends(require("conversations:read"))
) -> list[AgentRead]:
    with runtime.db.sessions() as session:
        return [AgentRead.model_validate(a) for a in service.list_agents(session=session)]


@router.post("/agents", response_model=AgentRead, status_code=201, tags=["admin"])
def create_agent(
    data: AgentCreate,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("admin")),
) -> AgentRead:
    with runtime.db.session() as session:
        return AgentRead.model_validate(
            service.create_agent(session=session, data=data, actor=principal.actor)
        )


@router.get("/teams", response_model=list[TeamRead], tags=["admin"])
def list_teams(
    runtime: Runtime = Depends(get_runtime), principal: Principal = Depends(require("conversations:read"))
) -> list[TeamRead]:
    with runtime.db.sessions() as session:
        return [TeamRead.model_validate(t) for t in service.list_teams(session=session)]


@router.post("/teams", response_model=TeamRead, status_code=201, tags=["admin"])
def create_team(
    data: TeamCreate,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("admin")),
) -> TeamRead:
    with runtime.db.session() as session:
        return TeamRead.model_validate(service.create_team(session=session, data=data, actor=principal.actor))


@router.get("/tokens", response_model=list[TokenRead], tags=["admin"])
def list_tokens(
    runtime: Runtime = Depends(get_runtime), principal: Principal = Depends(require("admin"))
) -> list[TokenRead]:
    with runtime.db.sessions() as session:
        return [TokenRead.model_validate(t) for t in service.list_tokens(session=session)]


@router.post("/tokens", response_model=TokenCreated, status_code=201, tags=["admin"])
def create_token(
    data: TokenCreate,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("admin")),
) -> TokenCreated:
    with runtime.db.session() as session:
        secret, row = service.create_token(
            session=session,
            name=data.name,
            scopes=data.scopes,
            created_by=principal.agent_id,
            note=data.note,
            actor=principal.actor,
        )
        return TokenCreated(**TokenRead.model_validate(row).model_dump(), token=secret)


@router.delete("/tokens/{token_id}", response_model=TokenRead, tags=["admin"])
def revoke_token(
    token_id: int, runtime: Runtime = Depends(get_runtime), principal: Principal = Depends(require("admin"))
) -> TokenRead:
    with runtime.db.session() as session:
        return TokenRead.model_validate(
            service.revoke_token(session=session, token_id=token_id, actor=principal.actor)
        )
