"""Listening: mentions, engagement snapshots, reach forecasts, reputation risk and crisis alerts.

- Every public inbound message is a *mention* (whatever adapter brought it), recorded by a
  `message.triaged` subscriber inside the ingest transaction: one insert, plus the risk its author's
  reach already carries. It points at the message, its customer, its public thread and the author's
  open private case (the complaint the post is most likely about).
- *Snapshots* of engagement (reshares, replies, likes, views...) arrive by API, in time order. Each
  one re-forecasts the main metric with `cuida.listening.forecast`, re-scores the reputation risk of
  the mention and of its conversations, and raises or updates a crisis alert, all in the snapshot's
  own transaction: the alert, its notifications and its `crisis.alert` event commit with the reading
  that crossed the line, so they are visible (SSE, webhooks) as soon as the POST answers.
- *Alerts* de-duplicate on the case (else the mention): one row, raised in place to a higher level,
  escalated to the managers by a DB timer when nobody acknowledges it in time.
- The brand's hourly mention volume is checked for spikes (`listening.spikes`) by a timer at the end
  of every hour in which mentions arrived.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from cuida.auth.models import Agent, Team
from cuida.clock.service import now
from cuida.common.errors import Conflict, Invalid, NotFound
from cuida.conversations.models import Conversation, Message
from cuida.customers.models import Customer, Identity
from cuida.events.models import Event
from cuida.events.service import SYSTEM, Actor, publish, subscribe
from cuida.listening import reach
from cuida.listening.models import ALERT_LEVELS, ListeningAlert, Mention, MentionSnapshot
from cuida.listening.schemas import SnapshotIn
from cuida.notifications.service import leads_of, managers, notify
from cuida.settings import Settings
from cuida.timers.models import Timer
from cuida.timers.service import cancel, on, schedule

log = logging.getLogger(__name__)

OPEN_STATES = ("open", "pending", "snoozed")
# A risk change smaller than this is stored but not announced (conversation.updated), unless it
# crosses one of the lines someone acts on (the alert line, the board's "at risk" line).
NOTABLE_RISK_CHANGE = 0.1
AT_RISK_LINES = (0.6, 0.7)
RELATED_WINDOW = timedelta(days=7)  # how far back the alert looks for the same author's other posts
MAX_TEXT = 5000
ESCALATION_KIND = "listening.alert_escalation"
VOLUME_KIND = "listening.volume"
SPIKE_HISTORY = timedelta(days=8)


def _settings() -> Settings:
    from cuida.runtime import current_settings  # the runtime imports every domain: import late

    return current_settings()


# -- recording mentions --------------------------------------------------------------------------


@subscribe("message.triaged")
def _message_triaged(*, session: Session, event: Event) -> None:
    if event.message_id is None:
        return
    message = session.get(Message, event.message_id)  # already in the session: the triage stage loaded it
    if message is None or message.direction != "in" or not message.public:
        return
    try:
        record_mention(session=session, message=message)
    except Exception as exc:  # listening must never fail the ingest of a message
        log.exception("recording the mention of message %s failed", message.id)
        publish(
            session=session,
            type="listening.error",
            message_id=message.id,
            payload={"event": event.type, "error": str(exc)[:500]},
        )


def record_mention(*, session: Session, message: Message) -> Mention:
    """The mention of a public inbound message. It runs in the ingest transaction, so the common case
    is one insert (flushed with the rest at commit), one indexed read (the author's open case) and
    arithmetic: no forecast is made until a snapshot arrives, and only a notable risk change or an
    alert (rare) costs more -- an alert in a savepoint, so a fault there never fails the ingest."""
    at = now(session=session)
    thread = session.get(Conversation, message.conversation_id) if message.conversation_id else None
    case = _open_case(session, message)
    mention = Mention(
        message_id=message.id,
        channel=message.channel,
        customer_id=message.customer_id,
        conversation_id=message.conversation_id,
        case_id=case.id if case is not None else message.conversation_id,
        author=message.author_value,
        author_followers=message.author_followers,
        url=_link_of(message),
        text=(message.text or "")[:MAX_TEXT],
        triage=_triage_summary(message.triage),
        posted_at=message.occurred_at,
        counts={},
        snapshot_count=0,
        risk_score=0.0,
        risk_reasons=[],
        created_at=at,
        updated_at=at,
    )
    _score_mention(session, mention, case)
    session.add(mention)
    settings = _settings()
    if mention.risk_score >= settings.listening_alert_risk:
        try:
            with session.begin_nested():
                session.flush()
                _assess(session, mention, at, new_mention=True)
        except Exception as exc:
            log.exception("crisis check of message %s failed", message.id)
            publish(
                session=session,
                type="listening.error",
                message_id=message.id,
                payload={"error": str(exc)[:500]},
            )
    else:
        for conversation in {c.id: c for c in (thread, case) if c is not None}.values():
            _update_conversation_risk(session, conversation, mention, new_mention=True)
    _schedule_volume_check(session, at)
    session.flush()  # the mention's id, for the event (incidents group mentions when they hear it)
    publish(
        session=session,
        type="mention.recorded",
        customer_id=mention.customer_id,
        conversation_id=mention.case_id,
        message_id=message.id,
        payload={"mention_id": mention.id, "channel": mention.channel, "author": mention.author},
    )
    return mention


def _open_case(session: Session, message: Message) -> Conversation | None:
    """The author's open private case (a complaint made in a shop, by mail...), most recent first:
    one indexed id lookup (customer, status), the row loaded only when there is one."""
    if message.customer_id is None:
        return None
    case_id = session.scalar(
        select(Conversation.id)
        .where(
            Conversation.customer_id == message.customer_id,
            Conversation.is_public.is_(False),
            Conversation.status.in_(OPEN_STATES),
        )
        .order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
        .limit(1)
    )
    return session.get(Conversation, case_id) if case_id is not None else None


def _link_of(message: Message) -> str | None:
    meta = message.meta or {}
    for key in ("url", "link", "permalink"):
        value = meta.get(key)
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            return value[:2000]
    entities = (message.triage or {}).get("entities")
    for entity in entities if isinstance(entities, list) else []:
        if isinstance(entity, dict) and entity.get("kind", entity.get("type")) == "url":
            value = entity.get("value") or entity.get("text")
            if isinstance(value, str):
                return value[:2000]
    return None


def _triage_summary(triage: dict[str, Any] | None) -> dict[str, Any]:
    triage = triage or {}
    sentiment = triage.get("sentiment") or {}
    intents = triage.get("intents") or {}
    return {
        "sentiment": sentiment.get("label"),
        "negative": float((sentiment.get("scores") or {}).get("negative", 0.0)),
        "complaint": bool((triage.get("complaint") or {}).get("label", False)),
        "public_escalation_threat": float(intents.get("public_escalation_threat", 0.0)),
        "legal_threat": float(intents.get("legal_threat", 0.0)),
    }


# -- snapshots and forecasts ---------------------------------------------------------------------


def mention_by_external_id(*, session: Session, channel: str, external_id: str) -> Mention:
    mention = session.scalar(
        select(Mention)
        .join(Message, Message.id == Mention.message_id)
        .where(Message.channel == channel, Message.external_id == external_id)
    )
    if mention is None:
        raise NotFound(
            f"no mention for {channel} message {external_id!r}: only public inbound messages are "
            "mentions, and only once they are processed"
        )
    return mention


def add_snapshot(
    *, session: Session, mention_id: int, data: SnapshotIn, actor: Actor = SYSTEM
) -> SnapshotOutcome:
    """Store a reading of a mention's engagement; re-forecast, re-score and alert if it crosses a line."""
    query = select(Mention).where(Mention.id == mention_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    mention = session.scalar(query)
    if mention is None:
        raise NotFound(f"mention {mention_id} not found", field="mention_id")
    at = now(session=session)
    observed = (data.observed_at or at).astimezone(UTC)
    counts = data.all_counts()
    if observed < mention.posted_at:
        raise Invalid(
            f"observed_at {observed.isoformat()} is before the post was published "
            f"({mention.posted_at.isoformat()})",
            field="observed_at",
        )
    if observed > at + timedelta(minutes=1):
        raise Invalid(
            f"observed_at {observed.isoformat()} is in the future (now {at.isoformat()})", field="observed_at"
        )
    last = mention.last_snapshot_at
    if last is not None and observed < last:
        raise Invalid(
            f"snapshots must come in time order: observed_at {observed.isoformat()} is before this "
            f"mention's last snapshot ({last.isoformat()})",
            field="observed_at",
        )
    if last is not None and observed == last:
        same = session.scalar(
            select(MentionSnapshot).where(
                MentionSnapshot.mention_id == mention.id, MentionSnapshot.observed_at == observed
            )
        )
        if same is not None and same.counts == counts:
            return SnapshotOutcome(mention, same, False, _alert_of(session, mention))  # a retry
        raise Conflict(
            f"mention {mention.id} already has a snapshot at {observed.isoformat()} with other counts",
            field="observed_at",
        )
    snapshot = MentionSnapshot(mention_id=mention.id, observed_at=observed, counts=counts, created_at=at)
    session.add(snapshot)
    mention.counts = {**(mention.counts or {}), **counts}
    mention.snapshot_count += 1
    mention.last_snapshot_at = observed
    mention.updated_at = at
    session.flush()
    _reforecast(session, mention, at)
    alert = _assess(session, mention, at) or _alert_of(session, mention)
    publish(
        session=session,
        type="mention.snapshot",
        actor=actor,
        customer_id=mention.customer_id,
        conversation_id=mention.case_id,
        message_id=mention.message_id,
        payload={
            "mention_id": mention.id,
            "observed_at": observed.isoformat(),
            "counts": counts,
            "forecast": forecast_of(mention),
            "risk_score": mention.risk_score,
        },
    )
    return SnapshotOutcome(mention, snapshot, True, alert)


@dataclass
class SnapshotOutcome:
    mention: Mention
    snapshot: MentionSnapshot
    created: bool
    alert: ListeningAlert | None


def main_metric(snapshots: Sequence[dict[str, int]]) -> str | None:
    """Reshares if the source gives them, else views, else the count that is largest at the end."""
    names = {name for counts in snapshots for name in counts}
    for preferred in ("reshares", "views"):
        if preferred in names:
            return preferred
    if not names:
        return None
    latest: dict[str, int] = {}
    for counts in snapshots:
        latest.update(counts)
    return max(sorted(latest), key=lambda name: latest[name])


def _reforecast(session: Session, mention: Mention, at: datetime) -> None:
    rows = list(
        session.scalars(
            select(MentionSnapshot)
            .where(MentionSnapshot.mention_id == mention.id)
            .order_by(MentionSnapshot.observed_at)
        )
    )
    metric = main_metric([row.counts for row in rows])
    if metric is None:
        return
    series = [
        (max(0.0, (row.observed_at - mention.posted_at).total_seconds()), int(row.counts[metric]))
        for row in rows
        if metric in row.counts
    ]
    try:
        result = reach.forecast(series, followers=mention.author_followers)
    except ValueError as exc:  # the forecaster refuses what it cannot read: keep the last forecast
        log.warning("no forecast for mention %s: %s", mention.id, exc)
        return
    mention.metric = metric
    mention.forecast_final = round(result.final, 1)
    mention.forecast_low = round(result.low, 1)
    mention.forecast_high = round(result.high, 1)
    mention.forecast_model = result.model[:200]
    mention.forecast_made_at = at
    mention.forecast_observed = result.observed


def forecast_of(mention: Mention) -> dict[str, Any] | None:
    if mention.forecast_final is None or mention.forecast_made_at is None:
        return None
    return {
        "metric": mention.metric,
        "final": mention.forecast_final,
        "low": mention.forecast_low,
        "high": mention.forecast_high,
        "model": mention.forecast_model,
        "made_at": mention.forecast_made_at.isoformat(),
        "observed": mention.forecast_observed,
    }


def alert_line(metric: str | None, settings: Settings | None = None) -> int:
    """The count of `metric` at which a mention becomes a crisis (settings, per kind of metric)."""
    s = settings or _settings()
    if metric == "reshares":
        return s.listening_alert_reshares
    if metric == "views":
        return s.listening_alert_views
    return s.listening_alert_other


# -- reputation risk -----------------------------------------------------------------------------


def _saturate(ratio: float) -> float:
    """0 at 0, 0.8 at 1 (the alert line), towards 1 beyond; smooth, so the score moves gradually."""
    ratio = max(0.0, ratio)
    return ratio / (ratio + 0.25)


def reputation_risk(
    *,
    forecast_final: float | None,
    alert_at: float,
    metric: str | None,
    followers: int | None,
    reach_followers: float,
    negative: float,
    public_escalation: float,
    legal: float,
    unanswered: bool,
) -> tuple[float, list[str]]:
    """Reputation risk of a public post, 0-1, with its reasons.

    risk = reach x (0.3 + 0.7 x harm), where

    * reach = max(s(forecast final / alert line), s(author followers / CUIDA_LISTENING_REACH_FOLLOWERS))
      with s(x) = x / (x + 0.25): 0.8 at the alert line, saturating beyond. Reach multiplies
      everything else because harm nobody sees is not a reputation risk: an insult from an account
      nobody follows scores ~0 (that is an agent's job, not a crisis), however angry it is. The
      forecast counts first (what the post will reach); followers stand in until a snapshot arrives.
    * harm = 1 - (1 - 0.7 n)(1 - 0.6 e)(1 - 0.4 u): a noisy-OR of the negative-sentiment probability
      n, the strongest of the public-escalation and legal threats e, and u = 1 while the customer's
      case is open and unanswered. Each signal alone raises harm a bounded amount and together they
      compound without passing 1; an unanswered case weighs less than anger or a threat because it is
      the one thing the team can still fix, not what the public reads.
    * the 0.3 floor: a viral post about the brand, even a neutral one, deserves a look.

    So a negative post forecast at the alert line about an unanswered case scores about 0.8 x 0.95,
    and the same post with a happy tone from a small account stays near 0.1."""
    reasons: list[str] = []
    by_forecast = 0.0
    if forecast_final is not None and alert_at > 0:
        by_forecast = _saturate(forecast_final / alert_at)
        reasons.append(
            f"forecast {forecast_final:,.0f} {metric or 'engagement'} (alert line {alert_at:,.0f})"
        )
    by_author = _saturate((followers or 0) / reach_followers) if reach_followers > 0 else 0.0
    if followers:
        reasons.append(f"author with {followers:,} followers")
    else:
        reasons.append("author reach unknown")
    reach_term = max(by_forecast, by_author)
    n = min(max(negative, 0.0), 1.0)
    e = min(max(public_escalation, legal, 0.0), 1.0)
    u = 1.0 if unanswered else 0.0
    harm = 1.0 - (1.0 - 0.7 * n) * (1.0 - 0.6 * e) * (1.0 - 0.4 * u)
    if n >= 0.5:
        reasons.append(f"negative ({n:.2f})")
    if public_escalation >= 0.5:
        reasons.append(f"public escalation threat ({public_escalation:.2f})")
    if legal >= 0.5:
        reasons.append(f"legal threat ({legal:.2f})")
    if unanswered:
        reasons.append("the case is open and unanswered")
    score = round(min(1.0, reach_term * (0.3 + 0.7 * harm)), 3)
    return score, reasons


def _unanswered(case: Conversation | None) -> bool:
    return case is not None and case.status in OPEN_STATES and case.first_response_at is None


def _score_mention(session: Session, mention: Mention, case: Conversation | None) -> None:
    triage = mention.triage or {}
    score, reasons = reputation_risk(
        forecast_final=mention.forecast_final,
        alert_at=alert_line(mention.metric),
        metric=mention.metric,
        followers=mention.author_followers,
        reach_followers=_settings().listening_reach_followers,
        negative=float(triage.get("negative", 0.0)),
        public_escalation=float(triage.get("public_escalation_threat", 0.0)),
        legal=float(triage.get("legal_threat", 0.0)),
        unanswered=_unanswered(case),
    )
    mention.risk_score = score
    mention.risk_reasons = reasons


def _update_conversation_risk(
    session: Session, conversation: Conversation, mention: Mention, *, new_mention: bool
) -> None:
    """A conversation's risk is that of its riskiest mention (its own public thread or the case)."""
    old = float(conversation.risk_score or 0.0)
    if new_mention:
        # A new mention can only raise the maximum: nothing to read (the common, cheap case).
        if mention.risk_score <= old:
            return
        new = round(mention.risk_score, 3)
    else:
        new = round(
            float(
                session.scalar(
                    select(func.max(Mention.risk_score)).where(
                        or_(Mention.conversation_id == conversation.id, Mention.case_id == conversation.id)
                    )
                )
                or 0.0
            ),
            3,
        )
    if new == old:
        return
    conversation.risk_score = new
    crossed = any(min(old, new) < line <= max(old, new) for line in AT_RISK_LINES)
    if abs(new - old) >= NOTABLE_RISK_CHANGE or crossed:
        session.flush()  # the ingest transaction runs without autoflush: the mention gets its id
        # The SLA re-reads the score on this event (its "reputation risk" factor tightens clocks),
        # and the board's "at risk" section refreshes on it.
        publish(
            session=session,
            type="conversation.updated",
            customer_id=conversation.customer_id,
            conversation_id=conversation.id,
            payload={
                "risk_score": [old, new],
                "risk_reasons": list(mention.risk_reasons or []),
                "mention_id": mention.id,
            },
        )


def _assess(
    session: Session, mention: Mention, at: datetime, *, new_mention: bool = False
) -> ListeningAlert | None:
    """Re-score the mention and its conversations, then raise or update its alert if it crossed a line."""
    case = session.get(Conversation, mention.case_id) if mention.case_id is not None else None
    _score_mention(session, mention, case)
    seen: set[int] = set()
    for conversation_id in sorted({c for c in (mention.conversation_id, mention.case_id) if c is not None}):
        conversation = case if case is not None and case.id == conversation_id else None
        conversation = conversation or session.get(Conversation, conversation_id)
        if conversation is not None and conversation.id not in seen:
            seen.add(conversation.id)
            _update_conversation_risk(session, conversation, mention, new_mention=new_mention)
    return _check_alert(session, mention, case, at)


# -- crisis alerts -------------------------------------------------------------------------------


def _alert_key(mention: Mention) -> str:
    return f"case:{mention.case_id}" if mention.case_id is not None else f"mention:{mention.id}"


def _alert_of(session: Session, mention: Mention) -> ListeningAlert | None:
    return session.scalar(select(ListeningAlert).where(ListeningAlert.key == _alert_key(mention)))


def _check_alert(
    session: Session, mention: Mention, case: Conversation | None, at: datetime
) -> ListeningAlert | None:
    settings = _settings()
    line = alert_line(mention.metric, settings)
    level = 0
    reasons: list[str] = []
    if mention.forecast_final is not None:
        observed = int((mention.counts or {}).get(mention.metric or "", 0))
        interval = f"80%: {mention.forecast_low:,.0f}-{mention.forecast_high:,.0f}"
        if mention.forecast_final >= line or observed >= line:
            level = 2
            reasons.append(
                f"forecast {mention.forecast_final:,.0f} {mention.metric} ({interval}), "
                f"{observed:,} so far: at or above the alert line of {line:,}"
            )
        elif (mention.forecast_high or 0.0) >= line:
            level = 1
            reasons.append(
                f"could reach {mention.forecast_high:,.0f} {mention.metric} (top of the 80% interval; "
                f"forecast {mention.forecast_final:,.0f}): the alert line is {line:,}"
            )
    if mention.risk_score >= settings.listening_alert_risk:
        level = max(level, 1)
        reasons.append(
            f"reputation risk {mention.risk_score:.2f} (alert line {settings.listening_alert_risk:.2f}): "
            + "; ".join(mention.risk_reasons or [])
        )
    if level == 0:
        return None
    return raise_alert(
        session=session,
        key=_alert_key(mention),
        kind="reach",
        level=level,
        reasons=reasons,
        at=at,
        mention=mention,
        case=case,
    )


def raise_alert(
    *,
    session: Session,
    key: str,
    kind: str,
    level: int,
    reasons: list[str],
    at: datetime,
    mention: Mention | None = None,
    case: Conversation | None = None,
    extra: dict[str, Any] | None = None,
) -> ListeningAlert:
    """Raise the alert `key`, or raise it in place to a higher level; the same level again only
    refreshes what it carries (the latest forecast), silently."""
    query = select(ListeningAlert).where(ListeningAlert.key == key)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    alert = session.scalar(query)
    details = _details(session, mention, case, level)
    if extra:
        details.update(extra)
    if alert is not None and level <= alert.level:
        alert.details = details
        alert.mention_id = mention.id if mention is not None else alert.mention_id
        alert.updated_at = at
        return alert
    raised = alert is None
    if alert is None:
        alert = ListeningAlert(
            key=key,
            kind=kind,
            level=level,
            status="open",
            notified=[],
            escalation_level=0,
            raised_at=at,
        )
        session.add(alert)
    previous_status = alert.status
    alert.level = level
    alert.status = "open"  # worse than when it was acknowledged: someone must look again
    alert.acknowledged_at = None
    alert.acknowledged_by_agent_id = None
    alert.acknowledged_by_name = None
    alert.mention_id = mention.id if mention is not None else None
    alert.conversation_id = case.id if case is not None else (mention.case_id if mention else None)
    alert.customer_id = mention.customer_id if mention is not None else None
    alert.reasons = reasons
    alert.details = details
    alert.updated_at = at
    session.flush()
    recipients = _recipients(session, case)
    alert.notified = sorted({*alert.notified, *recipients})
    text = _alert_text(alert, mention)
    notify(
        session=session,
        agent_ids=recipients,
        kind="crisis.alert",
        text=text,
        conversation_id=alert.conversation_id,
        customer_id=alert.customer_id,
        payload={"alert_id": alert.id, "level": ALERT_LEVELS[level], "mention_id": alert.mention_id},
    )
    publish(
        session=session,
        type="crisis.alert",
        customer_id=alert.customer_id,
        conversation_id=alert.conversation_id,
        message_id=mention.message_id if mention is not None else None,
        payload={
            "alert_id": alert.id,
            "change": "raised" if raised else ("reopened" if previous_status != "open" else "level_raised"),
            "level": ALERT_LEVELS[level],
            "reasons": reasons,
            "notified": recipients,
            **details,
        },
    )
    if alert.escalation_level == 0:
        schedule(
            session=session,
            kind=ESCALATION_KIND,
            key=f"listening:alert:{alert.id}:escalate",
            due_at=at + timedelta(minutes=_settings().listening_alert_escalate_minutes),
            conversation_id=alert.conversation_id,
            payload={"alert_id": alert.id},
            rearm=True,
        )
    return alert


def _alert_text(alert: ListeningAlert, mention: Mention | None) -> str:
    head = f"Crisis alert ({ALERT_LEVELS[alert.level]})"
    if mention is None:
        return f"{head}: {alert.reasons[0] if alert.reasons else alert.key}"
    who = mention.author or "someone"
    return f"{head}: {who} on {mention.channel}: {alert.reasons[0] if alert.reasons else ''}"[:1000]


def _recipients(session: Session, case: Conversation | None) -> list[int]:
    """The team leads of the case's team and whoever is on duty for it (its assignee if present,
    else the team's agents who are not away); the managers when the case has no team."""
    found = set(leads_of(session=session, team_id=case.team_id if case is not None else None))
    if case is not None and case.assignee_id is not None:
        assignee = session.get(Agent, case.assignee_id)
        if assignee is not None and assignee.active and not assignee.away:
            found.add(assignee.id)
    elif case is not None and case.team_id is not None:
        team = session.get(Team, case.team_id)
        if team is not None:
            found.update(a.id for a in team.members if a.active and not a.away)
    return sorted(found)


def _details(
    session: Session, mention: Mention | None, case: Conversation | None, level: int
) -> dict[str, Any]:
    details: dict[str, Any] = {"level_name": ALERT_LEVELS[level]}
    if mention is None:
        return details
    customer = session.get(Customer, mention.customer_id) if mention.customer_id is not None else None
    details["mention"] = _mention_brief(mention)
    details["forecast"] = forecast_of(mention)
    details["risk"] = {"score": mention.risk_score, "reasons": list(mention.risk_reasons or [])}
    details["customer"] = {"id": customer.id, "name": customer.name} if customer is not None else None
    details["case"] = (
        {
            "id": case.id,
            "status": case.status,
            "subject": case.subject,
            "team_id": case.team_id,
            "assignee_id": case.assignee_id,
            "channel": case.channel,
            "unanswered": _unanswered(case),
            "created_at": case.created_at.isoformat(),
        }
        if case is not None
        else None
    )
    details["thread_id"] = mention.conversation_id
    details["related"] = related_mentions(session=session, mention=mention, customer=customer)
    return details


def _mention_brief(mention: Mention) -> dict[str, Any]:
    return {
        "id": mention.id,
        "message_id": mention.message_id,
        "channel": mention.channel,
        "author": mention.author,
        "author_followers": mention.author_followers,
        "url": mention.url,
        "text": mention.text[:500],
        "posted_at": mention.posted_at.isoformat(),
        "metric": mention.metric,
        "counts": dict(mention.counts or {}),
        "risk_score": mention.risk_score,
    }


def _fold(value: str) -> str:
    """Lower case, accents and everything but letters and digits removed: 'Antonio Domínguez' and
    'antoniodominguez.blog' meet on 'antoniodominguez'."""
    decomposed = unicodedata.normalize("NFKD", value.lower())
    return re.sub(r"[^a-z0-9]", "", "".join(c for c in decomposed if not unicodedata.combining(c)))


def _author_marks(session: Session, customer: Customer | None) -> set[str]:
    """Strings by which a customer's other accounts can be recognised in an author handle: the name
    without spaces, the local part of their emails and their handles (long enough to be telling)."""
    if customer is None:
        return set()
    marks = {_fold(customer.name or "")}
    for channel, value in session.execute(
        select(Identity.channel, Identity.value).where(Identity.customer_id == customer.id)
    ):
        marks.add(_fold(value.split("@")[0] if channel == "email" else value))
    return {m for m in marks if len(m) >= 8}


def related_mentions(
    *, session: Session, mention: Mention, customer: Customer | None = None
) -> list[dict[str, Any]]:
    """The other mentions of the same customer or case, and recent posts whose author handle carries
    the customer's name or handle (their blog, another account: 'probably the same author' -- a hint
    shown as such, not a link to the customer, which only a merge makes)."""
    conditions = []
    if mention.customer_id is not None:
        conditions.append(Mention.customer_id == mention.customer_id)
    for conversation_id in {mention.case_id, mention.conversation_id} - {None}:
        conditions.extend([Mention.case_id == conversation_id, Mention.conversation_id == conversation_id])
    found: dict[int, dict[str, Any]] = {}
    if conditions:
        for other in session.scalars(
            select(Mention)
            .where(or_(*conditions), Mention.id != mention.id)
            .order_by(Mention.posted_at)
            .limit(50)
        ):
            same_customer = other.customer_id is not None and other.customer_id == mention.customer_id
            found[other.id] = _related(other, "same customer" if same_customer else "same case")
    marks = _author_marks(session, customer)
    if marks:
        since = mention.posted_at - RELATED_WINDOW
        for other in session.scalars(
            select(Mention)
            .where(Mention.posted_at >= since, Mention.id != mention.id)
            .order_by(Mention.posted_at.desc())
            .limit(500)
        ):
            if other.id in found or not other.author:
                continue
            handle = _fold(other.author)
            if any(mark in handle for mark in marks):
                found[other.id] = _related(
                    other, "probably the same author (the handle carries the customer's name)"
                )
    return sorted(found.values(), key=lambda item: (item["posted_at"], item["mention_id"]))


def _related(other: Mention, relation: str) -> dict[str, Any]:
    return {
        "mention_id": other.id,
        "message_id": other.message_id,
        "channel": other.channel,
        "author": other.author,
        "url": other.url,
        "text": other.text[:300],
        "posted_at": other.posted_at.isoformat(),
        "customer_id": other.customer_id,
        "conversation_id": other.conversation_id,
        "relation": relation,
    }


def acknowledge(*, session: Session, alert_id: int, actor: Actor, agent_id: int | None) -> ListeningAlert:
    alert = session.get(ListeningAlert, alert_id)
    if alert is None:
        raise NotFound(f"alert {alert_id} not found")
    if alert.status == "acknowledged":
        return alert
    at = now(session=session)
    alert.status = "acknowledged"
    alert.acknowledged_at = at
    alert.acknowledged_by_agent_id = agent_id
    alert.acknowledged_by_name = actor.name
    alert.updated_at = at
    cancel(session=session, key=f"listening:alert:{alert.id}:escalate")
    publish(
        session=session,
        type="crisis.acknowledged",
        actor=actor,
        customer_id=alert.customer_id,
        conversation_id=alert.conversation_id,
        payload={"alert_id": alert.id, "level": ALERT_LEVELS[alert.level], "by": actor.name},
    )
    return alert


@on(ESCALATION_KIND)
def _escalate(*, session: Session, timer: Timer, at: datetime) -> None:
    """Nobody acknowledged the alert in time: the managers are told, once."""
    alert = session.get(ListeningAlert, int(str((timer.payload or {}).get("alert_id", 0))))
    if alert is None or alert.status != "open" or alert.escalation_level > 0:
        return
    alert.escalation_level = 1
    alert.updated_at = at
    targets = [a for a in managers(session=session) if a not in alert.notified] or managers(session=session)
    alert.notified = sorted({*alert.notified, *targets})
    minutes = _settings().listening_alert_escalate_minutes
    notify(
        session=session,
        agent_ids=targets,
        kind="crisis.escalated",
        text=f"Not acknowledged after {minutes} min. " + (alert.reasons[0] if alert.reasons else alert.key),
        conversation_id=alert.conversation_id,
        customer_id=alert.customer_id,
        payload={"alert_id": alert.id, "level": ALERT_LEVELS[alert.level]},
    )
    publish(
        session=session,
        type="crisis.escalated",
        customer_id=alert.customer_id,
        conversation_id=alert.conversation_id,
        payload={"alert_id": alert.id, "level": ALERT_LEVELS[alert.level], "notified": targets},
    )


# -- volume spikes -------------------------------------------------------------------------------


def _hour(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _schedule_volume_check(session: Session, at: datetime) -> None:
    """One timer at the end of each hour in which mentions arrived (remembered per transaction, so
    a batch of mentions costs one lookup)."""
    if not _settings().listening_spike_alerts:
        return
    bucket_end = _hour(at) + timedelta(hours=1)
    key = f"listening:volume:{bucket_end.isoformat()}"
    scheduled = session.info.setdefault("listening_volume_checks", set())
    if key in scheduled:
        return
    scheduled.add(key)
    # One indexed lookup per transaction and hour. (No cache across transactions: the database
    # is the truth, and a process-wide memory of "armed" goes stale when timers are cleaned up.)
    if session.scalar(select(Timer.id).where(Timer.key == key)) is not None:
        return
    schedule(
        session=session,
        kind=VOLUME_KIND,
        key=key,
        due_at=bucket_end,
        payload={"bucket_end": bucket_end.isoformat()},
    )


def hourly_volume(
    *, session: Session, until: datetime, hours: int
) -> tuple[list[tuple[datetime, int]], list[int]]:
    """Mentions and negative mentions per hour (by arrival) for the `hours` hours before `until`."""
    start = until - timedelta(hours=hours)
    buckets = [start + timedelta(hours=i) for i in range(hours)]
    totals = dict.fromkeys(buckets, 0)
    negatives = dict.fromkeys(buckets, 0)
    for created_at, triage in session.execute(
        select(Mention.created_at, Mention.triage).where(
            Mention.created_at >= start, Mention.created_at < until
        )
    ):
        bucket = _hour(created_at)
        if bucket in totals:
            totals[bucket] += 1
            if (triage or {}).get("sentiment") == "negative":
                negatives[bucket] += 1
    return [(b, totals[b]) for b in buckets], [negatives[b] for b in buckets]


@on(VOLUME_KIND)
def _volume_check(*, session: Session, timer: Timer, at: datetime) -> None:
    """An hour closed: run the spike detector over the brand's last 8 days of hourly volume and alert
    when the hour just closed raised a spike (volume, or negative share)."""
    from cuida.listening import spikes

    bucket_end = datetime.fromisoformat(str((timer.payload or {})["bucket_end"]))
    hours = int(SPIKE_HISTORY / timedelta(hours=1))
    series, negative = hourly_volume(session=session, until=bucket_end, hours=hours)
    closed = bucket_end - timedelta(hours=1)
    for spike in spikes.detect(series, negative=negative, key="brand"):
        if spike.alerted_at != closed:
            continue
        raise_alert(
            session=session,
            key=f"spike:brand:{spike.kind}:{spike.start.isoformat()}",
            kind="spike",
            level=2,
            reasons=[spike.reason],
            at=at,
            extra={
                "spike": {
                    "series": "brand",
                    "kind": spike.kind,
                    "start": spike.start.isoformat(),
                    "peak_at": spike.peak_at.isoformat(),
                    "observed": spike.observed,
                    "expected": round(spike.expected, 2),
                    "score": round(spike.score, 2),
                    "total": spike.total,
                }
            },
        )


# -- reading -------------------------------------------------------------------------------------


def get_mention(*, session: Session, mention_id: int) -> Mention:
    mention = session.get(Mention, mention_id)
    if mention is None:
        raise NotFound(f"mention {mention_id} not found")
    return mention


def snapshots_of(*, session: Session, mention_id: int) -> list[MentionSnapshot]:
    return list(
        session.scalars(
            select(MentionSnapshot)
            .where(MentionSnapshot.mention_id == mention_id)
            .order_by(MentionSnapshot.observed_at)
        )
    )


MENTION_SORTS = {
    "forecast": (Mention.forecast_final.is_(None), Mention.forecast_final.desc(), Mention.id.desc()),
    "risk": (Mention.risk_score.desc(), Mention.id.desc()),
    "-created": (Mention.id.desc(),),
    "created": (Mention.id,),
}


def list_mentions(
    *,
    session: Session,
    sort: str = "-created",
    customer_id: int | None = None,
    conversation_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Mention]:
    if sort not in MENTION_SORTS:
        raise Invalid(f"sort must be one of {', '.join(MENTION_SORTS)}", field="sort")
    query = select(Mention)
    if customer_id is not None:
        query = query.where(Mention.customer_id == customer_id)
    if conversation_id is not None:
        query = query.where(
            or_(Mention.conversation_id == conversation_id, Mention.case_id == conversation_id)
        )
    return list(session.scalars(query.order_by(*MENTION_SORTS[sort]).limit(limit).offset(offset)))


def list_alerts(*, session: Session, status: str | None = None, limit: int = 50) -> list[ListeningAlert]:
    query = select(ListeningAlert)
    if status is not None:
        query = query.where(ListeningAlert.status == status)
    return list(
        session.scalars(
            query.order_by(
                ListeningAlert.level.desc(), ListeningAlert.updated_at.desc(), ListeningAlert.id.desc()
            ).limit(limit)
        )
    )


def get_alert(*, session: Session, alert_id: int) -> ListeningAlert:
    alert = session.get(ListeningAlert, alert_id)
    if alert is None:
        raise NotFound(f"alert {alert_id} not found")
    return alert


def conversation_risk(*, session: Session, conversation_id: int) -> tuple[Conversation, list[Mention]]:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound(f"conversation {conversation_id} not found")
    mentions = list_mentions(session=session, conversation_id=conversation_id, sort="risk", limit=50)
    return conversation, mentions
