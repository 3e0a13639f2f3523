"""The listening page (/listening): what is said about the brand online.

Sections: mention volume and negative share over time (server-drawn SVG charts with a table beside
them), the mentions with the largest forecast reach (with their 80% interval), open incidents, crisis
alerts (with an acknowledge button for whoever may), and "what the internet remembers": closed
incidents with their final reach. Each section is also a fragment (/listening/fragments/{section})
re-fetched with htmx when a matching event arrives. An incident has its own page
(/listening/incidents/{id}) with its timeline, the people involved, and, for leads, the coordinated
answer and the close button.

Every check is made here, on the server: the page needs `listening:read`, acknowledging
`listening:write`, closing and answering `listening:manage`; an agent sees the alerts of cases they may
see and only the conversations they may see. Customer-written text is only ever autoescaped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import or_, select, true
from sqlalchemy.orm import Session

from cuida.clock.service import now
from cuida.common.errors import Conflict, CuidaError, Invalid, NotFound
from cuida.conversations.models import Conversation
from cuida.listening import incidents as incident_service
from cuida.listening import service as listening
from cuida.listening.incident_models import Incident
from cuida.listening.models import ALERT_LEVELS, ListeningAlert, Mention
from cuida.runtime import Runtime
from cuida.web.access import can_see, principal_of, visible_conversations
from cuida.web.deps import get_runtime
from cuida.web.render import PageAgent, page_agent, render
from cuida.web.screens import bad_csrf, csrf_ok, error_page, forbidden, has_scope

router = APIRouter(include_in_schema=False)

SECTION_LIMIT = 15
RANGES = {"48h": (48, timedelta(hours=1)), "30d": (30, timedelta(days=1))}
# Which event types make each section stale (prefix before the dot).
SECTION_EVENTS: dict[str, tuple[str, ...]] = {
    "charts": ("mention",),
    "top": ("mention",),
    "incidents": ("incident", "mention"),
    "alerts": ("crisis",),
    "memory": ("incident",),
}
SECTIONS = tuple(SECTION_EVENTS)
CHART_WIDTH, CHART_HEIGHT, CHART_PAD = 640, 150, 28
ANSWER_CHARS = 5000
METRICS = ("reshares", "replies", "likes", "views", "other")


def safe_link(url: str | None) -> str | None:
    """Only web links become links: a `javascript:` URL a post carried stays text."""
    return url if url and url.lower().startswith(("http://", "https://")) else None


# -- charts --------------------------------------------------------------------------------------


@dataclass
class Bucket:
    start: datetime
    total: int
    negative: int

    @property
    def share(self) -> float | None:
        return self.negative / self.total if self.total else None


def volume(session: Session, until: datetime, count: int, width: timedelta) -> list[Bucket]:
    """Mentions and negative mentions per bucket (by arrival), the last `count` buckets up to `until`."""
    if width >= timedelta(days=1):
        end = until.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + width
    else:
        end = until.astimezone(UTC).replace(minute=0, second=0, microsecond=0) + width
    start = end - width * count
    buckets = [Bucket(start + width * i, 0, 0) for i in range(count)]
    for created_at, sentiment in session.execute(
        select(Mention.created_at, Mention.triage["sentiment"].as_string()).where(
            Mention.created_at >= start, Mention.created_at < end
        )
    ):
        index = int((created_at - start) / width)
        if 0 <= index < count:
            buckets[index].total += 1
            if sentiment == "negative":
                buckets[index].negative += 1
    return buckets


@dataclass
class Chart:
    """An SVG chart drawn on the server: bars (volume) or a polyline (share), with axis labels."""

    kind: str  # "volume" or "negative"
    width: int
    height: int
    bars: list[dict[str, float]]
    points: str
    dots: list[dict[str, float]]
    y_max: float
    labels: list[dict[str, Any]]
    summary: dict[str, Any]


def _label(at: datetime, width: timedelta) -> str:
    return at.strftime("%d/%m") if width >= timedelta(days=1) else at.strftime("%d/%m %H:%M")


def charts(buckets: list[Bucket], width: timedelta) -> dict[str, Chart]:
    n = max(len(buckets), 1)
    inner_w, inner_h = CHART_WIDTH - 2 * CHART_PAD, CHART_HEIGHT - 2 * CHART_PAD
    step = inner_w / n
    top = max([b.total for b in buckets] + [1])
    bars = []
    for i, b in enumerate(buckets):
        h = inner_h * b.total / top
        neg = inner_h * b.negative / top
        bars.append(
            {
                "x": round(CHART_PAD + i * step + step * 0.1, 1),
                "w": round(max(step * 0.8, 1.0), 1),
                "y": round(CHART_PAD + inner_h - h, 1),
                "h": round(h, 1),
                "ny": round(CHART_PAD + inner_h - neg, 1),
                "nh": round(neg, 1),
            }
        )
    dots = [
        {
            "x": round(CHART_PAD + (i + 0.5) * step, 1),
            "y": round(CHART_PAD + inner_h - inner_h * (b.share or 0.0), 1),
        }
        for i, b in enumerate(buckets)
        if b.share is not None
    ]
    every = max(1, n // 6)
    labels = [
        {"x": round(CHART_PAD + (i + 0.5) * step, 1), "text": _label(b.start, width)}
        for i, b in enumerate(buckets)
        if i % every == 0
    ]
    total = sum(b.total for b in buckets)
    negative = sum(b.negative for b in buckets)
    peak = max(buckets, key=lambda b: b.total) if buckets else None
    summary = {
        "total": total,
        "negative": negative,
        "share": round(100 * negative / total) if total else 0,
        "peak": peak.total if peak else 0,
        "peak_at": _label(peak.start, width) if peak and peak.total else "",
        "from": _label(buckets[0].start, width) if buckets else "",
        "to": _label(buckets[-1].start, width) if buckets else "",
    }
    return {
        "volume": Chart("volume", CHART_WIDTH, CHART_HEIGHT, bars, "", [], top, labels, summary),
        "negative": Chart(
            "negative",
            CHART_WIDTH,
            CHART_HEIGHT,
            [],
            " ".join(f"{d['x']},{d['y']}" for d in dots),
            dots,
            100,
            labels,
            summary,
        ),
    }


# -- sections ------------------------------------------------------------------------------------


def _alerts(session: Session, agent: PageAgent, at: datetime) -> list[dict[str, Any]]:
    """Open alerts, and those acknowledged in the last day (so the one just acknowledged shows it);
    an agent sees the alerts of cases they may see and those with no case (a spike)."""
    visible = true() if agent.role in ("manager", "admin") else visible_conversations(agent)
    rows = session.scalars(
        select(ListeningAlert)
        .where(
            or_(
                ListeningAlert.status == "open",
                ListeningAlert.acknowledged_at >= at - timedelta(days=1),
            ),
            or_(
                ListeningAlert.conversation_id.is_(None),
                ListeningAlert.conversation_id.in_(select(Conversation.id).where(visible)),
            ),
        )
        .order_by(
            (ListeningAlert.status == "open").desc(),
            ListeningAlert.level.desc(),
            ListeningAlert.updated_at.desc(),
            ListeningAlert.id.desc(),
        )
        .limit(SECTION_LIMIT)
    )
    return [
        {
            "alert": alert,
            "level": ALERT_LEVELS.get(alert.level, str(alert.level)),
            "forecast": (alert.details or {}).get("forecast") or {},
            "customer": (alert.details or {}).get("customer") or {},
            "mention": (alert.details or {}).get("mention") or {},
        }
        for alert in rows
    ]


def _top(session: Session) -> list[Mention]:
    return [
        m
        for m in listening.list_mentions(session=session, sort="forecast", limit=SECTION_LIMIT)
        if m.forecast_final is not None
    ]


def load(session: Session, agent: PageAgent, names: tuple[str, ...], span: str) -> dict[str, Any]:
    at = now(session=session)
    data: dict[str, Any] = {"now": at, "span": span}
    if "charts" in names:
        count, width = RANGES[span]
        buckets = volume(session, at, count, width)
        data["buckets"] = buckets
        data["bucket_labels"] = [_label(b.start, width) for b in buckets]
        data["charts"] = charts(buckets, width)
    if "top" in names:
        data["top"] = _top(session)
    if "incidents" in names:
        data["incidents"] = incident_service.list_incidents(
            session=session, status="open", limit=SECTION_LIMIT
        )
    if "alerts" in names:
        data["alerts"] = _alerts(session, agent, at)
    if "memory" in names:
        data["memory"] = incident_service.list_incidents(
            session=session, status="closed", sort="reach", limit=SECTION_LIMIT
        )
    return data


def _context(agent: PageAgent) -> dict[str, Any]:
    return {
        "agent": agent,
        "nav": "listening",
        "section_events": SECTION_EVENTS,
        "sections": SECTIONS,
        "may_acknowledge": has_scope(agent, "listening:write"),
        "may_manage": has_scope(agent, "listening:manage"),
        "safe_link": safe_link,
        "known_metrics": {f"listening.metric.{name}" for name in METRICS},
    }


@router.get("/listening", response_class=HTMLResponse)
def listening_page(
    request: Request,
    span: str = "48h",
    agent: PageAgent = Depends(page_agent),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    if not has_scope(agent, "listening:read"):
        return forbidden(request, agent)
    span = span if span in RANGES else "48h"
    with runtime.db.sessions() as session:
        data = load(session, agent, SECTIONS, span)
        return render(request, "listening.html", **_context(agent), **data)


@router.get("/listening/fragments/{section}", response_class=HTMLResponse)
def listening_fragment(
    section: str,
    request: Request,
    span: str = "48h",
    agent: PageAgent = Depends(page_agent),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    if not has_scope(agent, "listening:read"):
        return forbidden(request, agent)
    if section not in SECTION_EVENTS:
        raise NotFound(f"the listening page has no section {section!r}; it has {', '.join(SECTIONS)}")
    span = span if span in RANGES else "48h"
    with runtime.db.sessions() as session:
        data = load(session, agent, (section,), span)
        return render(request, "listening_section.html", section=section, **_context(agent), **data)


@router.post("/listening/alerts/{alert_id}/acknowledge", response_class=HTMLResponse)
def acknowledge_alert(
    alert_id: int,
    request: Request,
    csrf_token: str = Form(""),
    agent: PageAgent = Depends(page_agent),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    if not csrf_ok(request, agent, csrf_token):
        return bad_csrf(request, agent)
    if not has_scope(agent, "listening:write"):
        return forbidden(request, agent)
    principal = principal_of(agent)
    with runtime.db.session() as session:
        alert = session.get(ListeningAlert, alert_id)
        case = session.get(Conversation, alert.conversation_id) if alert and alert.conversation_id else None
        if alert is None or (case is not None and not can_see(agent, case)):
            return error_page(request, agent, 404, "common.not_found")
        listening.acknowledge(session=session, alert_id=alert_id, actor=principal.actor, agent_id=agent.id)
    if request.headers.get("hx-request"):
        with runtime.db.sessions() as session:
            data = load(session, agent, ("alerts",), "48h")
            return render(request, "listening_section.html", section="alerts", **_context(agent), **data)
    return RedirectResponse("/listening", status_code=303)


# -- an incident ---------------------------------------------------------------------------------


@router.get("/listening/incidents/{incident_id}", response_class=HTMLResponse)
def incident_page(
    incident_id: int,
    request: Request,
    agent: PageAgent = Depends(page_agent),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    if not has_scope(agent, "listening:read"):
        return forbidden(request, agent)
    with runtime.db.sessions() as session:
        if session.get(Incident, incident_id) is None:
            return error_page(request, agent, 404, "common.not_found")
        clause = None if agent.role in ("manager", "admin") else visible_conversations(agent)
        view = incident_service.incident_view(
            session=session, incident_id=incident_id, conversation_clause=clause
        )
        return render(
            request,
            "listening_incident.html",
            **_context(agent),
            view=view,
            incident=view.incident,
            done=request.query_params.get("done"),
        )


def _incident_action(
    request: Request, agent: PageAgent, runtime: Runtime, incident_id: int, csrf_token: str, action: Any
) -> Response:
    if not csrf_ok(request, agent, csrf_token):
        return bad_csrf(request, agent)
    if not has_scope(agent, "listening:manage"):
        return forbidden(request, agent)
    try:
        with runtime.db.session() as session:
            action(session, principal_of(agent))
    except CuidaError as exc:
        status = 404 if isinstance(exc, NotFound) else 409 if isinstance(exc, Conflict) else 422
        return error_page(request, agent, status, exc.message)
    return RedirectResponse(f"/listening/incidents/{incident_id}?done=1", status_code=303)


@router.post("/listening/incidents/{incident_id}/close", response_class=HTMLResponse)
def close_incident(
    incident_id: int,
    request: Request,
    csrf_token: str = Form(""),
    agent: PageAgent = Depends(page_agent),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    def act(session: Session, principal: Any) -> None:
        incident_service.close_incident(session=session, incident_id=incident_id, actor=principal.actor)

    return _incident_action(request, agent, runtime, incident_id, csrf_token, act)


@router.post("/listening/incidents/{incident_id}/answer", response_class=HTMLResponse)
def answer_incident(
    incident_id: int,
    request: Request,
    text: str = Form(""),
    follow_up: str = Form(""),
    csrf_token: str = Form(""),
    agent: PageAgent = Depends(page_agent),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    def act(session: Session, principal: Any) -> None:
        if (
            not text.strip()
            or len(text) > ANSWER_CHARS
            or len(follow_up) > ANSWER_CHARS
            or "\x00" in text + follow_up
        ):
            raise Invalid("listening.answer.invalid", field="text")
        incident_service.answer_incident(
            session=session,
            incident_id=incident_id,
            text=text.strip(),
            follow_up=follow_up.strip() or None,
            actor=principal.actor,
            agent_id=agent.id,
        )

    return _incident_action(request, agent, runtime, incident_id, csrf_token, act)
