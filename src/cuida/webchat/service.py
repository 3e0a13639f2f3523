"""Widgets, visitor sessions, visitor messages and what each visitor sees. The only code that
changes them.

A visitor is a browser holding an opaque token (only its SHA-256 is stored). Their messages go
through ingest like any channel's, authored by the visitor's handle ("visitor-<hex>", a webchat
identity); replies come back through the outbox to `WebchatAdapter`, which writes them into that
visitor's feed, the only thing their stream reads. With nobody of the widget's team available, a
message becomes an email (author: the address the visitor left), so the answer goes by email.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from collections.abc import Sequence
from typing import Literal

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from cuida.auth.models import Agent, Team, agent_teams
from cuida.channels.base import DeliveryResult, OutboundMessage
from cuida.clock.service import now
from cuida.common.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from cuida.conversations.models import Conversation, Delivery, Message
from cuida.conversations.schemas import AssignRequest
from cuida.conversations.service import assign
from cuida.customers.identity import WEBCHAT_VISITOR_PREFIX, IdentityError, identity_key
from cuida.customers.models import Identity
from cuida.customers.schemas import CustomerUpdate, IdentityIn
from cuida.customers.service import add_identity, link_author, merge_customers, resolve, update_customer
from cuida.events.models import Event
from cuida.events.service import SYSTEM, Actor, publish, subscribe
from cuida.ingest import service as ingest
from cuida.ingest.schemas import AuthorIn, MessageIn
from cuida.web.strings.webchat import EN, ES
from cuida.webchat import ratelimit
from cuida.webchat.models import WebchatFeedEntry, WebchatVisitor, WebchatWidget
from cuida.webchat.schemas import (
    MAX_MESSAGE_CHARS,
    FeedItem,
    Greeting,
    IdentifyIn,
    PublicConfig,
    Theme,
    VisitorMessageIn,
    VisitorMessageOut,
    WidgetCreate,
    WidgetRead,
    WidgetUpdate,
)

log = logging.getLogger(__name__)
FEED_REPLAY = 200  # a first connection replays at most this many recent lines


class EmailRequired(Invalid):
    code = "email_required"


class Offline(Conflict):
    code = "offline"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def visitor_actor(visitor: WebchatVisitor) -> Actor:
    return Actor("visitor", visitor.id, visitor.handle)


# --- widgets (admin) ---------------------------------------------------------------------------


def read(widget: WebchatWidget, base_url: str) -> WidgetRead:
    base = base_url.rstrip("/")
    snippet = f'<script src="{base}/widget.js" data-cuida-widget="{widget.public_key}" async></script>'
    return WidgetRead(
        id=widget.id,
        public_key=widget.public_key,
        name=widget.name,
        team_id=widget.team_id,
        allowed_origins=list(widget.allowed_origins or []),
        language=widget.language,
        theme=Theme.model_validate(widget.theme or {}),
        greeting=Greeting.model_validate(widget.greeting or {}),
        offline_behaviour=widget.offline_behaviour,
        enabled=widget.enabled,
        created_at=widget.created_at,
        updated_at=widget.updated_at,
        snippet=snippet,
    )


def _check_team(session: Session, team_id: int | None) -> None:
    if team_id is not None and session.get(Team, team_id) is None:
        raise Invalid(f"team {team_id} does not exist", field="team_id")


def create_widget(*, session: Session, data: WidgetCreate, actor: Actor) -> WebchatWidget:
    _check_team(session, data.team_id)
    at = now(session=session)
    widget = WebchatWidget(
        public_key="wk_" + secrets.token_urlsafe(18),
        name=data.name,
        team_id=data.team_id,
        allowed_origins=data.allowed_origins,
        language=data.language,
        theme=data.theme.model_dump(),
        greeting=data.greeting.model_dump(),
        offline_behaviour=data.offline_behaviour,
        enabled=data.enabled,
        created_at=at,
        updated_at=at,
    )
    session.add(widget)
    session.flush()
    publish(
        session=session,
        type="webchat.widget_created",
        actor=actor,
        payload={"widget_id": widget.id, "name": widget.name, "origins": widget.allowed_origins},
    )
    return widget


def get_widget(*, session: Session, widget_id: int) -> WebchatWidget:
    widget = session.get(WebchatWidget, widget_id)
    if widget is None:
        raise NotFound(f"widget {widget_id} does not exist")
    return widget


def list_widgets(*, session: Session) -> list[WebchatWidget]:
    return list(session.scalars(select(WebchatWidget).order_by(WebchatWidget.id)))


def update_widget(*, session: Session, widget_id: int, data: WidgetUpdate, actor: Actor) -> WebchatWidget:
    widget = get_widget(session=session, widget_id=widget_id)
    changes = data.model_dump(exclude_unset=True)
    if "team_id" in changes:
        _check_team(session, data.team_id)
    for field in changes:
        value = getattr(data, field)
        if field in ("theme", "greeting"):
            value = value.model_dump() if value is not None else {}
        elif (
            field in ("name", "allowed_origins", "language", "offline_behaviour", "enabled") and value is None
        ):
            raise Invalid(f"{field} cannot be empty", field=field)
        setattr(widget, field, value)
    widget.updated_at = now(session=session)
    publish(
        session=session,
        type="webchat.widget_updated",
        actor=actor,
        payload={"widget_id": widget.id, "fields": sorted(changes)},
    )
    return widget


# --- the public side -----------------------------------------------------------------------------


def widget_by_key(*, session: Session, key: str) -> WebchatWidget:
    widget = session.scalar(select(WebchatWidget).where(WebchatWidget.public_key == key))
    if widget is None:
        raise NotFound("no chat widget has this key; check data-cuida-widget in the script tag")
    if not widget.enabled:
        raise NotFound("this chat widget is switched off")
    return widget


def allowed_origin(widget: WebchatWidget, origin: str | None) -> str | None:
    """The origin to answer CORS with, or None when the page's site may not use this widget."""
    if origin and origin.rstrip("/").lower() in (widget.allowed_origins or []):
        return origin
    return None


def check_origin(widget: WebchatWidget, origin: str | None) -> None:
    if not origin:
        raise Forbidden("the Origin header is missing: this widget answers only pages of its allowed sites")
    if allowed_origin(widget, origin) is None:
        raise Forbidden(
            f"{origin} may not use this widget; an admin can add it to the widget's allowed origins"
        )


def is_online(*, session: Session, widget: WebchatWidget) -> bool:
    """Someone can answer now: an active agent who is not away (of the widget's team, if it has one)."""
    query = select(Agent.id).where(Agent.active.is_(True), Agent.away.is_(False))
    if widget.team_id is not None:
        query = query.join(agent_teams, agent_teams.c.agent_id == Agent.id).where(
            agent_teams.c.team_id == widget.team_id
        )
    return session.scalar(query.limit(1)) is not None


def pick_language(widget: WebchatWidget, wanted: str | None) -> str:
    code = (wanted or "").strip().lower()[:2]
    return code if code in ("es", "en") else widget.language


def public_config(*, session: Session, widget: WebchatWidget, lang: str | None) -> PublicConfig:
    language = pick_language(widget, lang)
    strings = ES if language == "es" else EN
    greeting = (widget.greeting or {}).get(language) or strings["webchat.greeting"]
    return PublicConfig(
        language=language,
        theme=Theme.model_validate(widget.theme or {}),
        greeting=greeting,
        online=is_online(session=session, widget=widget),
        offline_behaviour=widget.offline_behaviour,
        max_message_chars=MAX_MESSAGE_CHARS,
        strings={key.removeprefix("webchat."): value for key, value in strings.items()},
    )


def visitor_for(*, session: Session, widget: WebchatWidget, token: str | None) -> WebchatVisitor:
    if not token:
        raise Unauthorized("the visitor token is missing (X-Cuida-Visitor); start a session first")
    visitor = session.scalar(select(WebchatVisitor).where(WebchatVisitor.token_hash == _hash(token)))
    if visitor is None or visitor.widget_id != widget.id:
        raise Unauthorized("this visitor token is not valid for this widget; start a new session")
    return visitor


def start_session(
    *, session: Session, widget: WebchatWidget, token: str | None, ip: str | None
) -> tuple[WebchatVisitor, str | None]:
    """The visitor behind `token` (resumed), or a new one with a new token (returned once)."""
    if token:
        found = session.scalar(select(WebchatVisitor).where(WebchatVisitor.token_hash == _hash(token)))
        if found is not None and found.widget_id == widget.id:
            found.last_seen_at = now(session=session)
            return found, None
    ratelimit.take(session=session, key=f"ip:{ip}:session", bucket=ratelimit.IP_SESSIONS)
    secret = "wv_" + secrets.token_urlsafe(32)
    at = now(session=session)
    visitor = WebchatVisitor(
        widget_id=widget.id,
        token_hash=_hash(secret),
        handle=WEBCHAT_VISITOR_PREFIX + secrets.token_hex(8),
        ip=(ip or "")[:64] or None,
        created_at=at,
        last_seen_at=at,
    )
    session.add(visitor)
    session.flush()
    publish(
        session=session,
        type="webchat.session_started",
        actor=visitor_actor(visitor),
        payload={"widget_id": widget.id, "visitor": visitor.handle},
    )
    return visitor, secret


def identify(*, session: Session, visitor: WebchatVisitor, data: IdentifyIn) -> WebchatVisitor:
    """The visitor leaves a name and/or an email. The email becomes an identity of the visitor's
    customer; an address that already belongs to a customer links the visitor to that customer
    (exact matches link automatically; the merge is an event and can be undone)."""
    ratelimit.take(session=session, key=f"visitor:{visitor.id}:identify", bucket=ratelimit.VISITOR_IDENTIFY)
    email_key: str | None = None
    if data.email is not None:
        try:
            channel, email_key = identity_key("email", data.email)
        except IdentityError:
            channel = ""
        if channel != "email" or email_key is None:
            raise Invalid(f"{data.email!r} is not an email address", field="email")
    name = (data.name or "").strip() or None
    if name is None and email_key is None:
        raise Invalid("leave a name, an email or both", field="email")
    actor = visitor_actor(visitor)
    owner = None
    if email_key is not None:
        owner = session.scalar(
            select(Identity).where(Identity.channel == "email", Identity.value == email_key)
        )
    mine = session.scalar(
        select(Identity).where(Identity.channel == "webchat", Identity.value == visitor.handle)
    )
    if mine is None and owner is not None:
        # Not written yet: the visitor simply joins the customer who owns the address.
        customer = resolve(session=session, customer_id=owner.customer_id)
        add_identity(
            session=session,
            customer_id=customer.id,
            data=IdentityIn(channel="webchat", value=visitor.handle),
            actor=actor,
        )
    else:
        mine = mine or link_author(session=session, channel="webchat", value=visitor.handle, display=name)
        customer = resolve(session=session, customer_id=mine.customer_id)
        if owner is None and email_key is not None:
            add_identity(
                session=session,
                customer_id=customer.id,
                data=IdentityIn(channel="email", value=str(data.email)),
                actor=actor,
            )
        elif owner is not None:
            known = resolve(session=session, customer_id=owner.customer_id)
            if known.id != customer.id:
                merge_customers(session=session, target_id=known.id, source_id=customer.id, actor=actor)
                customer = known
    if data.email is not None:
        visitor.email = str(data.email).strip()
    if name is not None:
        visitor.name = name
        if not customer.name:
            update_customer(
                session=session, customer_id=customer.id, data=CustomerUpdate(name=name), actor=actor
            )
    publish(
        session=session,
        type="webchat.visitor_identified",
        actor=actor,
        customer_id=customer.id,
        payload={"visitor": visitor.handle, "name": name is not None, "email": email_key is not None},
    )
    return visitor


def _add_feed(
    session: Session,
    visitor: WebchatVisitor | int,
    kind: str,
    text: str,
    author: str | None,
    message_id: int | None,
) -> None:
    visitor_id = visitor if isinstance(visitor, int) else visitor.id
    row = {
        "visitor_id": visitor_id,
        "kind": kind,
        "text": text,
        "author_name": author,
        "message_id": message_id,
        "created_at": now(session=session),
    }
    if message_id is None:
        session.add(WebchatFeedEntry(**row))
        return
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(WebchatFeedEntry).values(**row).on_conflict_do_nothing(index_elements=["message_id"])
    )


def post_message(
    *,
    session: Session,
    widget: WebchatWidget,
    visitor: WebchatVisitor,
    data: VisitorMessageIn,
    ip: str | None,
) -> tuple[VisitorMessageOut, list[int]]:
    """Store what the visitor wrote through ingest. Returns the answer and the ids to enqueue."""
    ratelimit.take(session=session, key=f"visitor:{visitor.id}:message", bucket=ratelimit.VISITOR_MESSAGES)
    ratelimit.take(session=session, key=f"ip:{ip}:message", bucket=ratelimit.IP_MESSAGES)
    client_id = data.client_id or uuid.uuid4().hex
    meta = {"widget_id": widget.id, "visitor": visitor.handle}
    mode: Literal["chat", "email"] = "chat"
    if is_online(session=session, widget=widget):
        item = MessageIn(
            channel="webchat",
            external_id=f"webchat:{visitor.id}:{client_id}",
            author=AuthorIn(value=visitor.handle, name=visitor.name),
            text=data.text,
            metadata=meta,
        )
    else:
        if widget.offline_behaviour != "email":
            raise Offline("nobody is available to chat right now")
        if not visitor.email:
            raise EmailRequired(
                "nobody is available to chat right now: leave an email address and we will answer by email",
                field="email",
            )
        mode = "email"
        item = MessageIn(
            channel="email",
            external_id=f"webchat-offline:{visitor.id}:{client_id}",
            author=AuthorIn(value=visitor.email, name=visitor.name),
            text=data.text,
            metadata={**meta, "via": "webchat"},
        )
    [accepted] = ingest.accept(session=session, items=[item], actor=visitor_actor(visitor))
    if not accepted.duplicate:
        _add_feed(session, visitor, "visitor", data.text, visitor.name, accepted.message_id)
        if mode == "email":
            _add_feed(session, visitor, "notice", "offline_sent", None, None)
    visitor.last_seen_at = now(session=session)
    fresh = [] if accepted.duplicate or accepted.stage == "done" else [accepted.message_id]
    out = VisitorMessageOut(mode=mode, message_id=accepted.message_id, duplicate=accepted.duplicate)
    return out, fresh


def feed_after(*, session: Session, visitor_id: int, after: int | None, limit: int = 500) -> list[FeedItem]:
    """The visitor's lines after `after`; with no cursor, the latest FEED_REPLAY of them."""
    query = select(WebchatFeedEntry).where(WebchatFeedEntry.visitor_id == visitor_id)
    if after is None:
        rows: Sequence[WebchatFeedEntry] = list(
            session.scalars(query.order_by(WebchatFeedEntry.id.desc()).limit(FEED_REPLAY))
        )[::-1]
    else:
        rows = list(
            session.scalars(
                query.where(WebchatFeedEntry.id > after).order_by(WebchatFeedEntry.id).limit(limit)
            )
        )
    return [FeedItem(id=r.id, kind=r.kind, text=r.text, author=r.author_name, at=r.created_at) for r in rows]


# --- delivery: the webchat channel's adapter writes the reply into the visitor's feed -------------


def deliver(*, session: Session, outbound: OutboundMessage) -> DeliveryResult:
    handle = (outbound.recipient or "").strip().lower()
    visitor = (
        session.scalar(select(WebchatVisitor).where(WebchatVisitor.handle == handle)) if handle else None
    )
    if visitor is None:
        return DeliveryResult(ok=False, retry=False, error=f"no chat visitor {handle or '(none)'} to answer")
    row = session.execute(
        select(Message.id, Message.author_name)
        .join(Delivery, Delivery.message_id == Message.id)
        .where(Delivery.id == outbound.delivery_id)
    ).first()
    if row is None:
        return DeliveryResult(ok=False, retry=False, error=f"delivery {outbound.delivery_id} does not exist")
    message_id, author = row
    # Keyed by the message: the outbox retrying a delivery shows it once.
    _add_feed(session, visitor, "agent", outbound.text, author, message_id)
    return DeliveryResult(ok=True, provider_id=f"webchat:{visitor.handle}:{message_id}")


@subscribe("message.received")
def _route_to_widget_team(*, session: Session, event: Event) -> None:
    """A chat from a widget that names a team lands in that team's queue, unless it has a team."""
    if (event.payload or {}).get("channel") != "webchat" or event.message_id is None:
        return
    message = session.get(Message, event.message_id)
    widget_id = (message.meta or {}).get("widget_id") if message is not None else None
    conversation = session.get(Conversation, event.conversation_id) if event.conversation_id else None
    if not isinstance(widget_id, int) or conversation is None or conversation.team_id is not None:
        return
    widget = session.get(WebchatWidget, widget_id)
    if widget is None or widget.team_id is None:
        return
    try:
        with session.begin_nested():  # routing is a courtesy: it never fails the ingest
            assign(
                session=session,
                conversation_id=conversation.id,
                data=AssignRequest(agent_id=conversation.assignee_id, team_id=widget.team_id),
                actor=SYSTEM,
            )
    except Exception:
        log.exception("could not route webchat conversation %s to team %s", conversation.id, widget.team_id)
