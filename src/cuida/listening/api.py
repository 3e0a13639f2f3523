"""JSON routes of listening: engagement snapshots in; mentions, risk and crisis alerts out."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query

from cuida.common.errors import CuidaError
from cuida.listening import service
from cuida.listening.models import ALERT_LEVELS, ListeningAlert, Mention
from cuida.listening.schemas import (
    AlertRead,
    BulkSnapshots,
    ConversationRisk,
    ForecastRead,
    MentionDetail,
    MentionRead,
    SnapshotByExternalId,
    SnapshotIn,
    SnapshotRead,
    SnapshotResult,
)
from cuida.runtime import Runtime
from cuida.web.deps import Principal, get_runtime, require

router = APIRouter(prefix="/api/v1", tags=["listening"])


def mention_read(mention: Mention) -> MentionRead:
    forecast = service.forecast_of(mention)
    return MentionRead(
        id=mention.id,
        message_id=mention.message_id,
        channel=mention.channel,
        customer_id=mention.customer_id,
        conversation_id=mention.conversation_id,
        case_id=mention.case_id,
        author=mention.author,
        author_followers=mention.author_followers,
        url=mention.url,
        text=mention.text,
        triage=dict(mention.triage or {}),
        posted_at=mention.posted_at,
        metric=mention.metric,
        counts=dict(mention.counts or {}),
        snapshot_count=mention.snapshot_count,
        last_snapshot_at=mention.last_snapshot_at,
        forecast=ForecastRead.model_validate(forecast) if forecast else None,
        risk_score=mention.risk_score,
        risk_reasons=list(mention.risk_reasons or []),
        created_at=mention.created_at,
    )


def alert_read(alert: ListeningAlert) -> AlertRead:
    return AlertRead.model_validate({**_columns(alert), "level_name": ALERT_LEVELS[alert.level]})


def _columns(alert: ListeningAlert) -> dict[str, object]:
    return {c.key: getattr(alert, c.key) for c in ListeningAlert.__table__.columns}


def _result(outcome: service.SnapshotOutcome) -> SnapshotResult:
    return SnapshotResult(
        snapshot=SnapshotRead.model_validate(outcome.snapshot),
        created=outcome.created,
        mention=mention_read(outcome.mention),
        alert_id=outcome.alert.id if outcome.alert is not None else None,
    )


@router.post("/mentions/{mention_id}/snapshots", response_model=SnapshotResult)
def add_snapshot(
    mention_id: int,
    data: SnapshotIn,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("listening:write")),
) -> SnapshotResult:
    """Record the engagement of a mention at one moment (cumulative counts, in time order). The
    forecast, the risk score and any crisis alert are updated in the same transaction."""
    with runtime.db.session() as session:
        outcome = service.add_snapshot(
            session=session, mention_id=mention_id, data=data, actor=principal.actor
        )
        return _result(outcome)


@router.post("/mentions/snapshots", response_model=SnapshotResult)
def add_snapshot_by_external_id(
    data: SnapshotByExternalId,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("listening:write")),
) -> SnapshotResult:
    """The same, naming the post as the source knows it: its channel and external id."""
    with runtime.db.session() as session:
        mention = service.mention_by_external_id(
            session=session, channel=data.channel, external_id=data.external_id
        )
        outcome = service.add_snapshot(
            session=session, mention_id=mention.id, data=data, actor=principal.actor
        )
        return _result(outcome)


@router.post("/mentions/snapshots/bulk", response_model=list[SnapshotResult])
def add_snapshots(
    data: BulkSnapshots,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("listening:write")),
) -> list[SnapshotResult]:
    """Many readings at once (a poller's round, an import), all or none: an error names its item."""
    with runtime.db.session() as session:
        results = []
        for index, item in enumerate(data.items):
            try:
                if item.mention_id is not None:
                    mention_id = item.mention_id
                else:
                    assert item.channel is not None and item.external_id is not None
                    mention_id = service.mention_by_external_id(
                        session=session, channel=item.channel, external_id=item.external_id
                    ).id
                outcome = service.add_snapshot(
                    session=session, mention_id=mention_id, data=item, actor=principal.actor
                )
            except CuidaError as exc:
                exc.field = f"items[{index}]" + (f".{exc.field}" if exc.field else "")
                exc.message = f"items[{index}]: {exc.message}"
                raise
            results.append(_result(outcome))
        return results


@router.get("/mentions", response_model=list[MentionRead])
def list_mentions(
    sort: Literal["forecast", "risk", "-created", "created"] = "-created",
    customer_id: int | None = None,
    conversation_id: int | None = None,
    limit: int = Query(default=50, ge=1, le=200),
    offset: int = Query(default=0, ge=0),
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("listening:read")),
) -> list[MentionRead]:
    """Mentions; `sort=forecast` puts the largest forecast reach first (those without one last)."""
    with runtime.db.sessions() as session:
        mentions = service.list_mentions(
            session=session,
            sort=sort,
            customer_id=customer_id,
            conversation_id=conversation_id,
            limit=limit,
            offset=offset,
        )
        return [mention_read(m) for m in mentions]


@router.get("/mentions/{mention_id}", response_model=MentionDetail)
def get_mention(
    mention_id: int,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("listening:read")),
) -> MentionDetail:
    with runtime.db.sessions() as session:
        mention = service.get_mention(session=session, mention_id=mention_id)
        snapshots = service.snapshots_of(session=session, mention_id=mention_id)
        return MentionDetail(
            **mention_read(mention).model_dump(),
            snapshots=[SnapshotRead.model_validate(s) for s in snapshots],
        )


@router.get("/conversations/{conversation_id}/risk", response_model=ConversationRisk)
def conversation_risk(
    conversation_id: int,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("listening:read")),
) -> ConversationRisk:
    """A conversation's reputation-risk score, why, and the mentions it comes from."""
    with runtime.db.sessions() as session:
        conversation, mentions = service.conversation_risk(session=session, conversation_id=conversation_id)
        return ConversationRisk(
            conversation_id=conversation.id,
            risk_score=conversation.risk_score,
            reasons=list(mentions[0].risk_reasons or []) if mentions else [],
            mentions=[mention_read(m) for m in mentions],
        )


@router.get("/alerts", response_model=list[AlertRead])
def list_alerts(
    status: Literal["open", "acknowledged"] | None = None,
    limit: int = Query(default=50, ge=1, le=200),
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("listening:read")),
) -> list[AlertRead]:
    """Crisis alerts, the highest level and the most recently changed first."""
    with runtime.db.sessions() as session:
        return [alert_read(a) for a in service.list_alerts(session=session, status=status, limit=limit)]


@router.get("/alerts/{alert_id}", response_model=AlertRead)
def get_alert(
    alert_id: int,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("listening:read")),
) -> AlertRead:
    with runtime.db.sessions() as session:
        return alert_read(service.get_alert(session=session, alert_id=alert_id))


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertRead)
def acknowledge(
    alert_id: int,
    runtime: Runtime = Depends(get_runtime),
    principal: Principal = Depends(require("listening:write")),
) -> AlertRead:
    """Someone is on it: the escalation to the managers is called off."""
    with runtime.db.session() as session:
        alert = service.acknowledge(
            session=session, alert_id=alert_id, actor=principal.actor, agent_id=principal.agent_id
        )
        return alert_read(alert)
