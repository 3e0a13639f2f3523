"""Triage over the API: analyse any text, review a reply draft, correct a message's labels."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, field_validator

from cuida.common.text import SafeStr
from cuida.runtime import Runtime
from cuida.triage import service
from cuida.triage.schemas import Analysis
from cuida.web.deps import Principal, get_runtime, require

router = APIRouter(prefix="/api/v1", tags=["triage"])
MAX_CHARS = 20_000


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("is empty: give the text to analyse")
    return value


class TriageIn(BaseModel):
    text: SafeStr = Field(max_length=MAX_CHARS, description=f"The message, at most {MAX_CHARS} characters.")

    _check = field_validator("text")(_not_blank)


class ReviewIn(BaseModel):
    draft: SafeStr = Field(max_length=MAX_CHARS, description="The reply as the agent wrote it.")
    context: dict[str, Any] | None = Field(
        default=None,
        description="Optional: language, customer_name, agent_role, max_compensation, may_promise_dates.",
    )

    _check = field_validator("draft")(_not_blank)


class CorrectionIn(BaseModel):
    field: str = Field(description=f"One of: {', '.join(service.CORRECTABLE)}.")
    value: bool | str = Field(description="The right label: true/false, or the label's name.")


class CorrectionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    message_id: int
    field: str
    value: Any
    previous: Any
    agent_id: int | None
    created_at: datetime


@router.post("/triage", response_model=Analysis)
async def triage_text(data: TriageIn, principal: Principal = Depends(require("triage:use"))) -> Analysis:
    """Analyse any text as an inbound message would be: language, sentiment, intents, ..."""
    return await run_in_threadpool(service.analyze, data.text)


@router.post("/triage/review-reply")
async def review_reply(data: ReviewIn, principal: Principal = Depends(require("triage:use"))) -> Any:
    """The tone guard: flags contempt, blame, sarcasm, insults and promises beyond authority."""
    from cuida.common.errors import Invalid
    from cuida.triage.tone import ReplyContext
    from cuida.triage.tone import review_reply as review

    try:
        context = ReplyContext.model_validate(data.context or {})
    except ValueError as exc:
        raise Invalid(f"context: {exc}", field="context") from None
    return await run_in_threadpool(review, data.draft, context)


@router.post("/messages/{message_id}/triage/corrections", response_model=CorrectionRead, status_code=201)
def correct_triage(
    message_id: int,
    data: CorrectionIn,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("triage:correct")),
) -> CorrectionRead:
    """Fix one label of a message. Kept as training data for `cuida train --include-corrections`."""
    with runtime.db.session() as session:
        row = service.record_correction(
            session=session, message_id=message_id, field=data.field, value=data.value, actor=principal.actor
        )
        return CorrectionRead.model_validate(row)


@router.get("/messages/{message_id}/triage/corrections", response_model=list[CorrectionRead])
def list_corrections(
    message_id: int,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("messages:read")),
) -> list[CorrectionRead]:
    with runtime.db.sessions() as session:
        return [
            CorrectionRead.model_validate(r)
            for r in service.corrections_for(session=session, message_id=message_id)
        ]
