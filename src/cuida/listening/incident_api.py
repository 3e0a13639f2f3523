"""JSON routes of incidents: list, one with its timeline, close, and the coordinated answer."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query

from cuida.conversations import access
from cuida.listening import incidents as service
from cuida.listening.api import mention_read
from cuida.listening.incident_models import Incident, incident_columns
from cuida.listening.incident_schemas import (
    AnswerIn,
    AnswerResult,
    FollowUpRead,
    IncidentDetail,
    IncidentForecast,
    IncidentRead,
    InvolvedConversation,
    InvolvedCustomer,
    TimelineItem,
)
from cuida.listening.schemas import SnapshotRead
from cuida.runtime import Runtime
from cuida.web.deps import Principal, get_runtime, require

router = APIRouter(prefix="/api/v1/listening/incidents", tags=["listening"])


def incident_read(incident: Incident) -> IncidentRead:
    columns = incident_columns(incident)
    forecast = (
        IncidentForecast(
            metric=incident.metric,
            final=incident.forecast_final,
            low=incident.forecast_low,
            high=incident.forecast_high,
            model=incident.forecast_model,
            mention_id=incident.lead_mention_id,
        )
        if incident.forecast_final is not None
        else None
    )
    return IncidentRead.model_validate(
        {**columns, "grouped_by": list(incident.grouped_by or []), "forecast": forecast}
    )


def _timeline_item(entry: service.TimelineEntry, joined_by: dict[int, str | None]) -> TimelineItem:
    mention = entry.mention
    return TimelineItem(
        at=entry.at,
        kind=entry.kind,  # type: ignore[arg-type]
        mention_id=mention.id if mention is not None else None,
        joined_by=joined_by.get(mention.id) if mention is not None and entry.kind == "mention" else None,
        author=mention.author if mention is not None and entry.kind == "mention" else None,
        text=mention.text if mention is not None and entry.kind == "mention" else entry.text,
        counts=dict(entry.snapshot.counts) if entry.snapshot is not None else None,
        by=entry.by,
    )


@router.get("", response_model=list[IncidentRead])
def list_incidents(
    status: Literal["open", "closed"] | None = None,
    sort: Literal["recent", "reach"] = "recent",
    limit: int = Query(default=50, ge=1, le=200),
    offset: int = Query(default=0, ge=0),
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("listening:read")),
) -> list[IncidentRead]:
    """Incidents, the most recently active first (`sort=reach`: the largest reach first)."""
    with runtime.db.sessions() as session:
        rows = service.list_incidents(session=session, status=status, sort=sort, limit=limit, offset=offset)
        return [incident_read(i) for i in rows]


@router.get("/{incident_id}", response_model=IncidentDetail)
def get_incident(
    incident_id: int,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("listening:read")),
) -> IncidentDetail:
    """An incident with its timeline (posts, engagement readings, answer, closing, in time order), its
    mentions, and the customers and conversations involved."""
    with runtime.db.sessions() as session:
        view = service.incident_view(
            session=session, incident_id=incident_id, conversation_clause=access.clause_for(principal)
        )
        snapshots = [e.snapshot for e in view.timeline if e.snapshot is not None]
        return IncidentDetail(
            **incident_read(view.incident).model_dump(),
            timeline=[_timeline_item(e, view.joined_by) for e in view.timeline],
            mentions=[mention_read(m) for m in view.mentions],
            snapshots=[SnapshotRead.model_validate(s) for s in snapshots],
            customers=[InvolvedCustomer(id=c.id, name=c.name) for c in view.customers],
            conversations=[InvolvedConversation.model_validate(c) for c in view.conversations],
        )


@router.post("/{incident_id}/close", response_model=IncidentRead)
def close_incident(
    incident_id: int,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("listening:manage")),
) -> IncidentRead:
    """The story is over: its reach is kept as the final reach, and it takes no new mentions."""
    with runtime.db.session() as session:
        return incident_read(
            service.close_incident(session=session, incident_id=incident_id, actor=principal.actor)
        )


@router.post("/{incident_id}/answer", response_model=AnswerResult)
def answer_incident(
    incident_id: int,
    data: AnswerIn,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("listening:manage")),
) -> AnswerResult:
    """One coordinated public answer (posted in the leading mention's thread and kept on the incident),
    and a private follow-up note for each customer involved, on their open private conversation or a
    new one."""
    with runtime.db.session() as session:
        outcome = service.answer_incident(
            session=session,
            incident_id=incident_id,
            text=data.text,
            follow_up=data.follow_up,
            actor=principal.actor,
            agent_id=principal.agent_id,
        )
        return AnswerResult(
            incident=incident_read(outcome.incident),
            reply_message_id=outcome.reply.id if outcome.reply is not None else None,
            follow_ups=[
                FollowUpRead(
                    customer_id=f.customer_id,
                    conversation_id=f.conversation_id,
                    note_id=f.note_id,
                    opened=f.opened,
                )
                for f in outcome.follow_ups
            ],
            skipped_customers=outcome.skipped,
        )
