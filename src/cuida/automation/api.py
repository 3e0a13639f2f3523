"""JSON routes of automation: rules (CRUD, dry run, their runs) and canned replies (CRUD, render)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Response

from cuida.automation import service
from cuida.automation.schemas import (
    CannedCreate,
    CannedRead,
    CannedUpdate,
    Rendered,
    RenderRequest,
    RuleCreate,
    RuleRead,
    RuleTest,
    RuleUpdate,
    RunRead,
    TestResult,
)
from cuida.runtime import Runtime
from cuida.web.deps import Principal, get_runtime, require

router = APIRouter(prefix="/api/v1", tags=["automation"])
MANAGE = "automation:manage"


@router.get("/automation/rules", response_model=list[RuleRead])
def list_rules(
    runtime: Runtime = Depends(get_runtime), principal: Principal = Depends(require(MANAGE))
) -> list[RuleRead]:
    """Every rule in the order they run (position, then id)."""
    with runtime.db.sessions() as session:
        return [RuleRead.model_validate(r) for r in service.list_rules(session=session)]


@router.post("/automation/rules", response_model=RuleRead, status_code=201)
def create_rule(
    data: RuleCreate, runtime: Runtime = Depends(get_runtime), principal: Principal = Depends(require(MANAGE))
) -> RuleRead:
    """A rule: triggers, conditions (see `cuida.automation.conditions`), actions in order."""
    with runtime.db.session() as session:
        return RuleRead.model_validate(service.create_rule(session=session, data=data, actor=principal.actor))


@router.post("/automation/rules/test", response_model=TestResult)
def test_rule(
    data: RuleTest, runtime: Runtime = Depends(get_runtime), principal: Principal = Depends(require(MANAGE))
) -> TestResult:
    """Dry run against a stored message: which tests hold and what would be done; nothing is done."""
    with runtime.db.sessions() as session:
        try:
            return service.dry_run(
                session=session, message_id=data.message_id, rule_id=data.rule_id, draft=data.rule
            )
        finally:
            session.rollback()


@router.get("/automation/rules/{rule_id}", response_model=RuleRead)
def get_rule(
    rule_id: int, runtime: Runtime = Depends(get_runtime), principal: Principal = Depends(require(MANAGE))
) -> RuleRead:
    with runtime.db.sessions() as session:
        return RuleRead.model_validate(service.get_rule(session=session, rule_id=rule_id))


@router.patch("/automation/rules/{rule_id}", response_model=RuleRead)
def update_rule(
    rule_id: int,
    data: RuleUpdate,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require(MANAGE)),
) -> RuleRead:
    with runtime.db.session() as session:
        return RuleRead.model_validate(
            service.update_rule(session=session, rule_id=rule_id, data=data, actor=principal.actor)
        )


@router.delete("/automation/rules/{rule_id}", status_code=204)
def delete_rule(
    rule_id: int, runtime: Runtime = Depends(get_runtime), principal: Principal = Depends(require(MANAGE))
) -> Response:
    with runtime.db.session() as session:
        service.delete_rule(session=session, rule_id=rule_id, actor=principal.actor)
    return Response(status_code=204)


@router.get("/automation/rules/{rule_id}/runs", response_model=list[RunRead])
def rule_runs(
    rule_id: int,
    limit: int = Query(100, ge=1, le=500),
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require(MANAGE)),
) -> list[RunRead]:
    """The rule's recent runs: what matched and what each action did (newest first)."""
    with runtime.db.sessions() as session:
        return [
            RunRead.model_validate(r) for r in service.runs_of(session=session, rule_id=rule_id, limit=limit)
        ]


# -- canned replies ---------------------------------------------------------------------------------


@router.get("/canned-replies", response_model=list[CannedRead])
def list_canned(
    language: str | None = None,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("conversations:read")),
) -> list[CannedRead]:
    with runtime.db.sessions() as session:
        return [CannedRead.model_validate(c) for c in service.list_canned(session=session, language=language)]


@router.post("/canned-replies", response_model=CannedRead, status_code=201)
def create_canned(
    data: CannedCreate,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require(MANAGE)),
) -> CannedRead:
    """Variables: {{customer.name}}, {{customer.first_name}}, {{agent.first_name}},
    {{entities.order_number}}...; {{name | fallback}} when the value may be missing."""
    with runtime.db.session() as session:
        return CannedRead.model_validate(
            service.create_canned(session=session, data=data, actor=principal.actor)
        )


@router.get("/canned-replies/{canned_id}", response_model=CannedRead)
def get_canned(
    canned_id: int,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("conversations:read")),
) -> CannedRead:
    with runtime.db.sessions() as session:
        return CannedRead.model_validate(service.get_canned(session=session, canned_id=canned_id))


@router.patch("/canned-replies/{canned_id}", response_model=CannedRead)
def update_canned(
    canned_id: int,
    data: CannedUpdate,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require(MANAGE)),
) -> CannedRead:
    with runtime.db.session() as session:
        return CannedRead.model_validate(
            service.update_canned(session=session, canned_id=canned_id, data=data, actor=principal.actor)
        )


@router.delete("/canned-replies/{canned_id}", status_code=204)
def delete_canned(
    canned_id: int, runtime: Runtime = Depends(get_runtime), principal: Principal = Depends(require(MANAGE))
) -> Response:
    with runtime.db.session() as session:
        service.delete_canned(session=session, canned_id=canned_id, actor=principal.actor)
    return Response(status_code=204)


@router.post("/canned-replies/{canned_id}/render", response_model=Rendered)
def render_canned(
    canned_id: int,
    data: RenderRequest,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("conversations:read")),
) -> Rendered:
    """The reply filled for a conversation, to review before sending; nothing is sent."""
    with runtime.db.sessions() as session:
        return service.render_canned(
            session=session,
            canned_id=canned_id,
            conversation_id=data.conversation_id,
            message_id=data.message_id,
        )
