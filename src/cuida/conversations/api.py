"""Conversation routes: thin wrappers over conversations.service."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from cuida.conversations import access, service
from cuida.conversations.schemas import (
    AssignRequest,
    ConversationPage,
    ConversationRead,
    ConversationUpdate,
    DeliveryRead,
    MessageRead,
    NoteCreate,
    Priority,
    ReplyCreate,
    ReplyRead,
    Status,
)
from cuida.runtime import Runtime
from cuida.web.deps import Principal, get_runtime, require

router = APIRouter(prefix="/api/v1/conversations", tags=["conversations"])


@router.get("", response_model=ConversationPage)
def list_conversations(
    status: list[Status] | None = Query(None, description="Repeat for several."),
    assignee_id: int | None = None,
    unassigned: bool = False,
    team_id: int | None = None,
    channel: str | None = None,
    customer_id: int | None = None,
    priority: Priority | None = None,
    min_risk: float | None = Query(None, ge=0, le=1),
    sort: str = Query(
        "priority", description="priority (default), -updated, updated, -created, created, -risk"
    ),
    cursor: str | None = None,
    limit: int = Query(50, ge=1, le=200),
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("conversations:read")),
) -> ConversationPage:
    with runtime.db.sessions() as session:
        rows, next_cursor = service.list_conversations(
            session=session,
            status=list(status) if status else None,
            assignee_id=assignee_id,
            unassigned=unassigned,
            team_id=team_id,
            channel=channel,
            customer_id=customer_id,
            priority=priority,
            min_risk=min_risk,
            sort=sort,
            cursor=cursor,
            limit=limit,
            visible=access.visible_clause(
                role=principal.role, agent_id=principal.id, team_ids=principal.team_ids
            )
            if principal.kind == "agent"
            else None,
        )
        return ConversationPage(
            items=[ConversationRead.model_validate(c) for c in rows], next_cursor=next_cursor
        )


@router.get("/{conversation_id}", response_model=ConversationRead)
def get_conversation(
    conversation_id: int,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("conversations:read")),
) -> ConversationRead:
    with runtime.db.sessions() as session:
        return ConversationRead.model_validate(access.get_for(session, principal, conversation_id))


@router.patch("/{conversation_id}", response_model=ConversationRead)
def update_conversation(
    conversation_id: int,
    data: ConversationUpdate,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("conversations:write")),
) -> ConversationRead:
    """Change status, priority, team or subject."""
    with runtime.db.session() as session:
        access.get_for(session, principal, conversation_id)
        conversation = service.update_conversation(
            session=session, conversation_id=conversation_id, data=data, actor=principal.actor
        )
        return ConversationRead.model_validate(conversation)


@router.post("/{conversation_id}/assign", response_model=ConversationRead)
def assign(
    conversation_id: int,
    data: AssignRequest,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("conversations:write")),
) -> ConversationRead:
    with runtime.db.session() as session:
        access.get_for(session, principal, conversation_id)
        conversation = service.assign(
            session=session, conversation_id=conversation_id, data=data, actor=principal.actor
        )
        return ConversationRead.model_validate(conversation)


@router.get("/{conversation_id}/messages", response_model=list[MessageRead])
def messages(
    conversation_id: int,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("conversations:read")),
) -> list[MessageRead]:
    with runtime.db.sessions() as session:
        access.get_for(session, principal, conversation_id)
        return [
            MessageRead.model_validate(m)
            for m in service.messages_of(session=session, conversation_id=conversation_id)
        ]


@router.post("/{conversation_id}/replies", response_model=ReplyRead, status_code=202)
def reply(
    conversation_id: int,
    data: ReplyCreate,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("conversations:write")),
) -> ReplyRead:
    """Store a reply in the outbox; the channel adapter delivers it, retrying with backoff.

    The tone guard reads the draft first: contempt, insults, blame or sarcasm toward the customer
    stop it (422 `tone_guard`, with the offending spans and a respectful wording), whoever sends it."""
    _guard_tone(data.text, principal)
    with runtime.db.session() as session:
        access.get_for(session, principal, conversation_id)
        message, delivery = service.add_reply(
            session=session,
            conversation_id=conversation_id,
            data=data,
            actor=principal.actor,
            agent_id=principal.agent_id,
        )
        result = ReplyRead(
            message=MessageRead.model_validate(message), delivery=DeliveryRead.model_validate(delivery)
        )
    runtime.enqueue_delivery(result.delivery.id)
    return result


def _guard_tone(text: str, principal: Principal) -> None:
    from cuida.common.errors import ToneBlocked
    from cuida.triage.tone import ReplyContext, review_reply

    review = review_reply(text, ReplyContext(agent_role=principal.role))
    if review.ok:
        return
    blocking = [f for f in review.flags if f.severity == "block"]
    raise ToneBlocked(
        "the tone guard stopped this reply: " + "; ".join(f"{f.kind} in «{f.text}»" for f in blocking),
        field="text",
        details={"flags": [f.model_dump() for f in review.flags]},
    )


@router.get("/{conversation_id}/replies", response_model=list[ReplyRead])
def replies(
    conversation_id: int,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("conversations:read")),
) -> list[ReplyRead]:
    """Every reply of the conversation with its delivery status."""
    with runtime.db.sessions() as session:
        access.get_for(session, principal, conversation_id)
        return [
            ReplyRead(message=MessageRead.model_validate(m), delivery=DeliveryRead.model_validate(d))
            for m, d in service.deliveries_of(session=session, conversation_id=conversation_id)
        ]


@router.post("/{conversation_id}/notes", response_model=MessageRead, status_code=201)
def note(
    conversation_id: int,
    data: NoteCreate,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("conversations:write")),
) -> MessageRead:
    """An internal note: seen by every department, never sent to the customer."""
    with runtime.db.session() as session:
        access.get_for(session, principal, conversation_id)
        return MessageRead.model_validate(
            service.add_note(
                session=session,
                conversation_id=conversation_id,
                data=data,
                actor=principal.actor,
                agent_id=principal.agent_id,
            )
        )
