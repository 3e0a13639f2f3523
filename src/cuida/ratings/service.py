"""The ratings domain's state changes: the CSAT survey after a resolution and the customer's answer.

When a conversation is resolved, a survey is scheduled (a DB timer, CUIDA_CSAT_DELAY_MINUTES later)
and cancelled if the case reopens first. It is sent through the outbox on the channel the customer
last wrote on, in their language, with a 1–5 question and a link to `/rate/{token}`; only the
token's SHA-256 is kept. The answer comes from that page, from the JSON API, or as a reply that
starts with a digit 1–5. A negative answer (1–2) reopens the case, assigns it to the team's lead
and notifies the leads. `last_rating` and `ratings_between` let other domains read the answers.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cuida.auth.models import Agent
from cuida.clock.service import now
from cuida.common.errors import CuidaError, Invalid, NotFound
from cuida.conversations import service as conversations
from cuida.conversations.models import Conversation, Message
from cuida.conversations.schemas import AssignRequest, ConversationUpdate, ReplyCreate
from cuida.customers.models import Identity
from cuida.events.models import Event
from cuida.events.service import SYSTEM, Actor, publish, subscribe
from cuida.notifications.service import leads_of, notify
from cuida.ratings.models import NEGATIVE_SCORES, SATISFIED_SCORES, Rating, RatingRequest
from cuida.ratings.schemas import COMMENT_MAX, CsatReport
from cuida.settings import Settings
from cuida.timers.models import Timer
from cuida.timers.service import cancel, on, schedule

log = logging.getLogger(__name__)

SEND_TIMER = "csat.send"
LANGUAGES = ("es", "en")
# Channels on which a private message can reach the customer. Calls, shop and workshop visits,
# review sites, feeds, forms and imports cannot carry the survey.
REPLYABLE_CHANNELS = ("email", "webchat", "sms", "whatsapp", "telegram", "twitter", "instagram", "facebook")

SURVEY_TEXT = {
    "es": (
        "Hola. Hemos dado por resuelta tu consulta. ¿Cómo valorarías nuestra atención, de 1 (muy mal) "
        "a 5 (muy bien)? Puedes responder a este mensaje con el número y, si quieres, un comentario "
        "(por ejemplo: «5 muy bien»), o valorarla aquí: {link}\nGracias por ayudarnos a mejorar."
    ),
    "en": (
        "Hello. Your request has been marked as resolved. How would you rate our help, from 1 (very "
        "poor) to 5 (very good)? Reply to this message with the number and, if you like, a comment (for "
        'example: "5 great"), or rate it here: {link}\nThank you for helping us improve.'
    ),
}

# A reply that is a rating: a digit 1–5 first ("5", "4/5", "3 de 5", "5 muy bien", "2. tarde"),
# not part of a longer number ("10", "4.5", "2,5").
RATING_REPLY = re.compile(
    r"^\s*([1-5])(?:\s*(?:/|de|of|out of)\s*5)?(?![0-9]|[.,][0-9])[\s\-–—.,:;!)]*(.*)$", re.S | re.I
)


class LinkExpired(CuidaError):
    status_code = 410
    code = "expired"


def _settings() -> Settings:
    from cuida.runtime import current_settings  # the runtime imports every domain: import late

    return current_settings()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_reply(text: str) -> tuple[int, str | None] | None:
    """(score, comment) when a customer's message reads as a rating, else None."""
    match = RATING_REPLY.match(text or "")
    if match is None:
        return None
    return int(match[1]), match[2].strip()[:COMMENT_MAX] or None


def _guarded(session: Session, what: str, fn: Any, **kwargs: Any) -> None:
    """Run a reaction in a savepoint: a fault in the survey must never block a status change or
    the message pipeline."""
    try:
        with session.begin_nested():
            fn(session=session, **kwargs)
    except Exception:
        log.exception("ratings: %s failed", what)


# --- scheduling and sending the survey ----------------------------------------------------------


def _last_inbound(session: Session, conversation_id: int) -> Message | None:
    return session.scalar(
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.direction == "in")
        .order_by(Message.occurred_at.desc(), Message.id.desc())
        .limit(1)
    )


def _language(session: Session, conversation_id: int) -> str:
    """The language of the customer's last inbound message that triage recognised (Spanish else)."""
    language = session.scalar(
        select(Message.language)
        .where(
            Message.conversation_id == conversation_id,
            Message.direction == "in",
            Message.language.is_not(None),
        )
        .order_by(Message.occurred_at.desc(), Message.id.desc())
        .limit(1)
    )
    return language if language in LANGUAGES else "es"


def _skip_reason(session: Session, conversation: Conversation, at: datetime) -> str | None:
    last = _last_inbound(session, conversation.id)
    if last is None:
        return "the customer never wrote in this conversation"
    if session.scalar(select(Rating.id).where(Rating.message_id == last.id)) is not None:
        return "the customer's last message was a rating"
    if last.channel not in REPLYABLE_CHANNELS:
        return f"the {last.channel} channel cannot carry a survey"
    address = last.author_value or session.scalar(
        select(Identity.value).where(
            Identity.customer_id == conversation.customer_id, Identity.channel == last.channel
        )
    )
    if not address:
        return f"no {last.channel} address is known for the customer"
    repeat_days = _settings().csat_repeat_days
    recent = session.scalar(
        select(RatingRequest.created_at)
        .where(
            RatingRequest.conversation_id == conversation.id,
            RatingRequest.status != "cancelled",
            RatingRequest.created_at > at - timedelta(days=repeat_days),
        )
        .order_by(RatingRequest.created_at.desc())
        .limit(1)
    )
    if recent is not None:
        return f"already surveyed on {recent:%Y-%m-%d} (once per {repeat_days} days)"
    return None


def request_after_resolution(*, session: Session, conversation_id: int) -> RatingRequest | None:
    """Schedule the survey for a conversation that was just resolved, unless it must not get one."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or conversation.status != "resolved":
        return None
    at = now(session=session)
    reason = _skip_reason(session, conversation, at)
    if reason is not None:
        publish(
            session=session,
            type="csat.skipped",
            customer_id=conversation.customer_id,
            conversation_id=conversation.id,
            payload={"reason": reason},
        )
        return None
    last = _last_inbound(session, conversation.id)
    assert last is not None  # _skip_reason checked it
    request = RatingRequest(
        conversation_id=conversation.id,
        team_id=conversation.team_id,
        channel=last.channel,
        language=_language(session, conversation.id),
        status="scheduled",
        resolved_at=conversation.resolved_at or at,
        due_at=at + timedelta(minutes=_settings().csat_delay_minutes),
        created_at=at,
    )
    session.add(request)
    session.flush()
    schedule(
        session=session,
        kind=SEND_TIMER,
        key=f"csat:{request.id}",
        due_at=request.due_at,
        # Not tied to the conversation's timers: those are its SLA clocks, which resolving stops.
        payload={"request_id": request.id},
    )
    publish(
        session=session,
        type="csat.scheduled",
        customer_id=conversation.customer_id,
        conversation_id=conversation.id,
        payload={"request_id": request.id, "channel": request.channel, "due_at": request.due_at.isoformat()},
    )
    return request


def _cancel_scheduled(*, session: Session, conversation_id: int, reason: str) -> int:
    at = now(session=session)
    requests = list(
        session.scalars(
            select(RatingRequest).where(
                RatingRequest.conversation_id == conversation_id, RatingRequest.status == "scheduled"
            )
        )
    )
    for request in requests:
        _cancel(session, request, reason, at)
    return len(requests)


def _cancel(session: Session, request: RatingRequest, reason: str, at: datetime) -> None:
    request.status = "cancelled"
    request.cancelled_at = at
    request.cancel_reason = reason
    cancel(session=session, key=f"csat:{request.id}")
    conversation = session.get(Conversation, request.conversation_id)
    publish(
        session=session,
        type="csat.cancelled",
        customer_id=conversation.customer_id if conversation else None,
        conversation_id=request.conversation_id,
        payload={"request_id": request.id, "reason": reason},
    )


def _base_url() -> str:
    settings = _settings()
    return (settings.base_url or f"http://{settings.host}:{settings.port}").rstrip("/")


@on(SEND_TIMER)
def _send_due(*, session: Session, timer: Timer, at: datetime) -> None:
    request = session.get(RatingRequest, int(str(timer.payload["request_id"])))
    if request is None or request.status != "scheduled":
        return
    conversation = session.get(Conversation, request.conversation_id)
    if conversation is None or conversation.status != "resolved":
        # Reopened without a status event (the customer wrote again): no survey for this one.
        _cancel(session, request, "reopened before the survey was sent", now(session=session))
        return
    send(session=session, request=request)


def send(*, session: Session, request: RatingRequest) -> str:
    """Put the survey in the outbox as the system; returns the link's token (kept only hashed)."""
    at = now(session=session)
    token = secrets.token_urlsafe(24)
    request.token_hash = hash_token(token)
    request.language = _language(session, request.conversation_id)
    text = SURVEY_TEXT[request.language].format(link=f"{_base_url()}/rate/{token}")
    message, delivery = conversations.add_reply(
        session=session,
        conversation_id=request.conversation_id,
        data=ReplyCreate(text=text, channel=request.channel, public=False),
        actor=SYSTEM,
        agent_id=None,
    )
    message.meta = {**(message.meta or {}), "csat_request_id": request.id}
    request.status = "sent"
    request.sent_at = at
    request.expires_at = at + timedelta(days=_settings().csat_answer_days)
    request.message_id = message.id
    publish(
        session=session,
        type="csat.sent",
        customer_id=message.customer_id,
        conversation_id=request.conversation_id,
        message_id=message.id,
        payload={
            "request_id": request.id,
            "channel": request.channel,
            "language": request.language,
            "delivery_id": delivery.id,
            "expires_at": request.expires_at.isoformat(),
        },
    )
    return token


# --- answers ------------------------------------------------------------------------------------


def request_for_token(*, session: Session, token: str, for_update: bool = False) -> RatingRequest:
    query = select(RatingRequest).where(RatingRequest.token_hash == hash_token(token))
    if for_update:
        query = query.with_for_update()
    request = session.scalar(query) if 0 < len(token) <= 200 else None
    if request is None:
        raise NotFound(
            "no rating survey has this link: check that the whole link was copied from the message",
            field="token",
        )
    return request


def rating_of(*, session: Session, request_id: int) -> Rating | None:
    return session.scalar(select(Rating).where(Rating.request_id == request_id))


def check_open(*, session: Session, request: RatingRequest) -> None:
    if request.expires_at is not None and now(session=session) >= request.expires_at:
        raise LinkExpired(
            f"this rating link expired on {request.expires_at:%Y-%m-%d %H:%M} UTC; answers are accepted "
            f"for {_settings().csat_answer_days} days after the survey is sent"
        )


def answer(
    *,
    session: Session,
    request: RatingRequest,
    score: int,
    comment: str | None,
    via: str,
    message_id: int | None = None,
) -> Rating:
    """Record the answer to a survey, or change it while the survey is open."""
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise Invalid("the score must be a whole number from 1 to 5", field="score")
    comment = (comment or "").strip() or None
    if comment is not None and len(comment) > COMMENT_MAX:
        raise Invalid(f"the comment is longer than {COMMENT_MAX} characters", field="comment")
    if request.status not in ("sent", "answered"):
        raise NotFound("this survey has not been sent", field="token")
    check_open(session=session, request=request)
    at = now(session=session)
    rating = rating_of(session=session, request_id=request.id)
    previous = rating.score if rating is not None else None
    if rating is None:
        rating = Rating(
            request_id=request.id,
            conversation_id=request.conversation_id,
            score=score,
            comment=comment,
            via=via,
            message_id=message_id,
            answered_at=at,
            first_answered_at=at,
            changes=0,
        )
        session.add(rating)
    else:
        rating.score, rating.comment, rating.via, rating.message_id = score, comment, via, message_id
        rating.answered_at = at
        rating.changes += 1
    request.status = "answered"
    session.flush()
    conversation = conversations.get_conversation(session=session, conversation_id=request.conversation_id)
    publish(
        session=session,
        type="rating.received",
        actor=answer_actor(via),
        customer_id=conversation.customer_id,
        conversation_id=conversation.id,
        message_id=message_id,
        payload={
            "rating_id": rating.id,
            "request_id": request.id,
            "score": score,
            "previous_score": previous,
            "has_comment": comment is not None,
            "via": via,
        },
    )
    if score in NEGATIVE_SCORES and previous not in NEGATIVE_SCORES:
        _reopen_to_lead(session, conversation, rating)
    return rating


def _reopen_to_lead(session: Session, conversation: Conversation, rating: Rating) -> None:
    """A 1 or 2: the case is open again, with the team's lead, who is told why."""
    if conversation.team_id is not None:
        leads = leads_of(session=session, team_id=conversation.team_id)
    else:
        leads = leads_of(session=session, agent_id=conversation.assignee_id)
    if conversation.status != "open":
        conversations.update_conversation(
            session=session,
            conversation_id=conversation.id,
            data=ConversationUpdate(status="open"),
            actor=SYSTEM,
        )
    lead_id = leads[0] if leads else None
    if lead_id is not None and conversation.assignee_id != lead_id:
        conversations.assign(
            session=session,
            conversation_id=conversation.id,
            data=AssignRequest(agent_id=lead_id),
            actor=SYSTEM,
        )
    lead = session.get(Agent, lead_id) if lead_id is not None else None
    said = f': "{rating.comment[:300]}"' if rating.comment else ""
    text = f"Negative rating {rating.score}/5 on conversation {conversation.id}{said}. It is open again" + (
        f" and assigned to {lead.name}." if lead is not None else "."
    )
    payload = {"rating_id": rating.id, "score": rating.score, "assigned_to": lead_id}
    notify(
        session=session,
        agent_ids=leads,
        kind="rating.negative",
        text=text,
        conversation_id=conversation.id,
        customer_id=conversation.customer_id,
        payload=payload,
    )
    publish(
        session=session,
        type="rating.negative",
        customer_id=conversation.customer_id,
        conversation_id=conversation.id,
        payload={**payload, "notified": leads},
    )


def _status_before(
    session: Session, conversation: Conversation, since: datetime
) -> tuple[str, datetime | None]:
    """The conversation's status (and when it became so) as set by its last status event since
    `since`; ("resolved", None) when there was none (the survey is only sent on resolved ones)."""
    events = session.scalars(
        select(Event)
        .where(
            Event.conversation_id == conversation.id,
            Event.type == "conversation.updated",
            Event.occurred_at >= since,
        )
        .order_by(Event.id.desc())
    )
    for event in events:
        status = (event.payload or {}).get("status")
        if isinstance(status, list) and len(status) == 2:
            return str(status[1]), event.occurred_at
    return "resolved", None


def answer_from_reply(*, session: Session, message: Message) -> Rating | None:
    """Read the customer's first message after a survey as its answer when it starts with 1–5."""
    parsed = parse_reply(message.text)
    if parsed is None or message.customer_id is None or message.conversation_id is None:
        return None
    at = now(session=session)
    request = session.scalar(
        select(RatingRequest)
        .join(Conversation, Conversation.id == RatingRequest.conversation_id)
        .where(
            Conversation.customer_id == message.customer_id,
            RatingRequest.channel == message.channel,
            RatingRequest.status.in_(("sent", "answered")),
            RatingRequest.sent_at <= message.received_at,
            RatingRequest.expires_at > at,
        )
        .order_by(RatingRequest.sent_at.desc(), RatingRequest.id.desc())
        .limit(1)
    )
    if request is None or request.sent_at is None:
        return None
    conversation = conversations.get_conversation(session=session, conversation_id=message.conversation_id)
    same = conversation.id == request.conversation_id
    # A conversation this very message opened (the channel gave no reply chain) holds only the rating.
    opened_by_it = not same and conversation.message_count == 1
    if not (same or opened_by_it):
        return None
    # Only the first thing the customer says after the survey is its answer: "2 días sin luz" a
    # week into a new exchange is not a rating.
    earlier = session.scalar(
        select(Message.id)
        .where(
            Message.customer_id == message.customer_id,
            Message.channel == message.channel,
            Message.direction == "in",
            Message.received_at >= request.sent_at,
            Message.id != message.id,
        )
        .limit(1)
    )
    if earlier is not None:
        return None
    if same and conversation.status == "open" and conversation.resolved_at is None:
        status, since = _status_before(session, conversation, request.sent_at)
        if status == "resolved":
            # Threading reopened it silently; an answer to the survey is not a new request, so it
            # goes back as it was (a negative score reopens it below, with the status events).
            conversation.status = "resolved"
            conversation.resolved_at = since or request.resolved_at
    score, comment = parsed
    rating = answer(
        session=session,
        request=request,
        score=score,
        comment=comment,
        via=message.channel,
        message_id=message.id,
    )
    if opened_by_it and conversation.status != "resolved":
        conversations.update_conversation(
            session=session,
            conversation_id=conversation.id,
            data=ConversationUpdate(status="resolved"),
            actor=SYSTEM,
        )
    return rating


# --- reacting to the other domains --------------------------------------------------------------


@subscribe("conversation.updated")
def _on_conversation_updated(*, session: Session, event: Event) -> None:
    status = (event.payload or {}).get("status")
    if event.conversation_id is None or not (isinstance(status, list) and len(status) == 2):
        return
    if status[1] == "resolved":
        _guarded(session, "survey", request_after_resolution, conversation_id=event.conversation_id)
    elif status[0] == "resolved":
        _guarded(
            session,
            "cancel",
            _cancel_scheduled,
            conversation_id=event.conversation_id,
            reason="reopened before the survey was sent",
        )


@subscribe("message.received")
def _on_message_received(*, session: Session, event: Event) -> None:
    if event.message_id is None or (event.payload or {}).get("direction") != "in":
        return
    _guarded(session, "reply", _react_to_inbound, message_id=event.message_id)


def _react_to_inbound(*, session: Session, message_id: int) -> None:
    message = session.get(Message, message_id)
    if message is None or message.direction != "in" or message.conversation_id is None:
        return
    if answer_from_reply(session=session, message=message) is not None:
        return
    # The customer wrote again (threading reopened the case): a survey not yet sent is moot.
    _cancel_scheduled(
        session=session, conversation_id=message.conversation_id, reason="the customer wrote again"
    )


# --- reading -------------------------------------------------------------------------------------


def requests_of(*, session: Session, conversation_id: int) -> list[tuple[RatingRequest, Rating | None]]:
    conversations.get_conversation(session=session, conversation_id=conversation_id)
    rows = session.execute(
        select(RatingRequest, Rating)
        .outerjoin(Rating, Rating.request_id == RatingRequest.id)
        .where(RatingRequest.conversation_id == conversation_id)
        .order_by(RatingRequest.created_at.desc(), RatingRequest.id.desc())
    ).all()
    return [(request, rating) for request, rating in rows]


def list_ratings(
    *, session: Session, conversation_id: int | None = None, customer_id: int | None = None, limit: int = 100
) -> list[Rating]:
    query = select(Rating).order_by(Rating.answered_at.desc(), Rating.id.desc()).limit(limit)
    if conversation_id is not None:
        query = query.where(Rating.conversation_id == conversation_id)
    if customer_id is not None:
        from cuida.customers.service import resolve

        customer = resolve(session=session, customer_id=customer_id)
        query = query.join(Conversation, Conversation.id == Rating.conversation_id).where(
            Conversation.customer_id == customer.id
        )
    return list(session.scalars(query))


def ratings_between(
    *, session: Session, customer_ids: Collection[int], after: datetime, until: datetime
) -> list[Rating]:
    """The customers' answers in (after, until], oldest first (conversations follow merges, so
    the survivor's id finds the merged profiles' ratings too)."""
    return list(
        session.scalars(
            select(Rating)
            .join(Conversation, Conversation.id == Rating.conversation_id)
            .where(
                Conversation.customer_id.in_(list(customer_ids)),
                Rating.answered_at > after,
                Rating.answered_at <= until,
            )
            .order_by(Rating.answered_at, Rating.id)
        )
    )


def last_rating(
    *, session: Session, customer_ids: Collection[int], at: datetime | None = None
) -> Rating | None:
    """The customers' latest answer up to `at` (now), or None."""
    at = at or now(session=session)
    return session.scalar(
        select(Rating)
        .join(Conversation, Conversation.id == Rating.conversation_id)
        .where(Conversation.customer_id.in_(list(customer_ids)), Rating.answered_at <= at)
        .order_by(Rating.answered_at.desc(), Rating.id.desc())
        .limit(1)
    )


REPORT_DEFINITIONS = {
    "sent": "Surveys sent in [from, to) (by the time they were sent), of the team's cases when team_id "
    "is given (the team the case had when it was resolved).",
    "count": "Of those surveys, the ones answered (whenever the answer came); a changed answer counts once, "
    "with its latest score.",
    "average": "Mean score of the answers, 1–5.",
    "satisfied_share": "Share of answers scoring 4 or 5.",
    "distribution": "Answers per score.",
    "response_rate": "count / sent.",
}


def csat_report(
    *, session: Session, start: datetime | None, end: datetime | None, team_id: int | None
) -> CsatReport:
    at = now(session=session)
    end = end or at
    start = start or end - timedelta(days=30)
    if start.tzinfo is None or end.tzinfo is None:
        raise Invalid("give 'from' and 'to' with a time zone offset, e.g. 2026-03-01T00:00:00Z")
    if start >= end:
        raise Invalid("'from' must be before 'to'", field="from")
    conditions = [RatingRequest.sent_at >= start, RatingRequest.sent_at < end]
    if team_id is not None:
        conditions.append(RatingRequest.team_id == team_id)
    sent = session.scalar(select(func.count(RatingRequest.id)).where(*conditions)) or 0
    distribution = {str(score): 0 for score in range(1, 6)}
    for score, count in session.execute(
        select(Rating.score, func.count(Rating.id))
        .join(RatingRequest, RatingRequest.id == Rating.request_id)
        .where(*conditions)
        .group_by(Rating.score)
    ):
        distribution[str(score)] = int(count)
    count = sum(distribution.values())
    total = sum(int(score) * n for score, n in distribution.items())
    satisfied = sum(distribution[str(score)] for score in SATISFIED_SCORES)
    return CsatReport.model_validate(
        {
            "from": start,
            "to": end,
            "team_id": team_id,
            "definitions": REPORT_DEFINITIONS,
            "sent": sent,
            "count": count,
            "average": round(total / count, 2) if count else None,
            "satisfied_share": round(satisfied / count, 3) if count else None,
            "distribution": distribution,
            "response_rate": round(count / sent, 3) if sent else None,
        }
    )


def answer_actor(via: str) -> Actor:
    """Answers come from the customer, who has no account: the events name them as such."""
    return Actor("customer", None, f"customer via {via}")
