"""Brand listening feeds: the brand's terms, and RSS/Atom feeds polled for entries that name them.

A poll runs as a job (`poll_feed`), enqueued by the reconciler for each enabled feed whose
`next_poll_at` (domain clock) has come. The job leases the feed (wall clock, so a killed poller's
lease runs out), fetches it with a conditional GET (If-None-Match / If-Modified-Since: 304 means
nothing new) outside any transaction, then in one transaction stores the kept entries through
ingest (channel "feed", external id = the entry's normalised link, so a second poll or a second feed
with the same link adds nothing), quarantines malformed entries once each, and moves the feed's
validators, health and next poll. A poller killed before that commit leaves the old validators, so
the next poll fetches the same entries again and ingest's key makes them no-ops: nothing is lost or
doubled across restarts. A feed that cannot be fetched or read keeps the error (`last_error`,
`health` "failing") and is tried again later, backing off; it never stops the other feeds.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, object_session

from cuida import __version__
from cuida.clock.service import now, wall_now
from cuida.common.errors import Conflict, NotFound
from cuida.customers.identity import IdentityError, identity_key
from cuida.events.service import SYSTEM, Actor, publish
from cuida.ingest.schemas import AuthorIn, MessageIn
from cuida.ingest.service import accept
from cuida.listening.feed_models import BrandTerm, ListeningFeed
from cuida.listening.feed_parse import FeedEntry, FeedError, TermMatcher, link_key, parse_feed
from cuida.listening.feed_schemas import FeedCreate, FeedUpdate, PollResult, TermCreate, TermUpdate
from cuida.quarantine import service as quarantine
from cuida.quarantine.models import QuarantinedPayload
from cuida.search.text import fold

if TYPE_CHECKING:
    from cuida.runtime import Runtime

log = logging.getLogger(__name__)
CHANNEL = "feed"
QUARANTINE_SOURCE = "feed"
LEASE_SECONDS = 120
FETCH_TIMEOUT = 20.0
MAX_FEED_BYTES = 10 * 1024 * 1024
MAX_BACKOFF = 8  # a failing feed waits at most this many intervals
POLL_JOB_LOST = timedelta(minutes=10)  # a due feed whose job never ran is due again after this
USER_AGENT = f"Cuida/{__version__} (brand listening)"


def _settings_minutes() -> int:
    from cuida.runtime import current_settings  # the runtime imports every domain: import late

    return current_settings().listening_feed_minutes


# -- terms ----------------------------------------------------------------------------------------


def _term_key(term: str) -> str:
    return " ".join(fold(term).split())[:200]


def create_term(*, session: Session, data: TermCreate, actor: Actor = SYSTEM) -> BrandTerm:
    key = _term_key(data.term)
    if session.scalar(select(BrandTerm.id).where(BrandTerm.term_key == key)) is not None:
        raise Conflict(f"the term {data.term!r} is already configured", field="term")
    at = now(session=session)
    term = BrandTerm(
        term=data.term,
        term_key=key,
        exclusions=list(data.exclusions),
        enabled=data.enabled,
        created_at=at,
        updated_at=at,
    )
    session.add(term)
    session.flush()
    publish(session=session, type="listening.term_created", actor=actor, payload=_term_payload(term))
    return term


def _term_payload(term: BrandTerm) -> dict[str, Any]:
    return {"term_id": term.id, "term": term.term, "exclusions": term.exclusions, "enabled": term.enabled}


def list_terms(*, session: Session) -> list[BrandTerm]:
    return list(session.scalars(select(BrandTerm).order_by(BrandTerm.id)))


def get_term(*, session: Session, term_id: int) -> BrandTerm:
    term = session.get(BrandTerm, term_id)
    if term is None:
        raise NotFound(f"brand term {term_id} does not exist")
    return term


def update_term(*, session: Session, term_id: int, data: TermUpdate, actor: Actor = SYSTEM) -> BrandTerm:
    term = get_term(session=session, term_id=term_id)
    if data.term is not None and _term_key(data.term) != term.term_key:
        key = _term_key(data.term)
        if session.scalar(select(BrandTerm.id).where(BrandTerm.term_key == key)) is not None:
            raise Conflict(f"the term {data.term!r} is already configured", field="term")
        term.term_key = key
    if data.term is not None:
        term.term = data.term
    if data.exclusions is not None:
        term.exclusions = list(data.exclusions)
    if data.enabled is not None:
        term.enabled = data.enabled
    term.updated_at = now(session=session)
    publish(session=session, type="listening.term_updated", actor=actor, payload=_term_payload(term))
    return term


def delete_term(*, session: Session, term_id: int, actor: Actor = SYSTEM) -> None:
    term = get_term(session=session, term_id=term_id)
    payload = _term_payload(term)
    session.delete(term)
    publish(session=session, type="listening.term_deleted", actor=actor, payload=payload)


def matcher(*, session: Session) -> TermMatcher:
    rows = session.execute(select(BrandTerm.term, BrandTerm.exclusions).where(BrandTerm.enabled.is_(True)))
    return TermMatcher((term, list(exclusions or [])) for term, exclusions in rows)


# -- feeds ----------------------------------------------------------------------------------------


def _host(url: str) -> str:
    return (urlsplit(url).hostname or url)[:200]


def create_feed(*, session: Session, data: FeedCreate, actor: Actor = SYSTEM) -> ListeningFeed:
    if session.scalar(select(ListeningFeed.id).where(ListeningFeed.url == data.url)) is not None:
        raise Conflict(f"the feed {data.url} is already configured", field="url")
    at = now(session=session)
    feed = ListeningFeed(
        name=data.name or _host(data.url),
        url=data.url,
        enabled=data.enabled,
        interval_minutes=data.interval_minutes or _settings_minutes(),
        health="new",
        failures=0,
        entries_seen=0,
        mentions_kept=0,
        next_poll_at=at,  # due at once
        created_at=at,
        updated_at=at,
    )
    session.add(feed)
    session.flush()
    publish(session=session, type="listening.feed_created", actor=actor, payload=_feed_payload(feed))
    return feed


def _feed_payload(feed: ListeningFeed) -> dict[str, Any]:
    return {"feed_id": feed.id, "name": feed.name, "url": feed.url, "enabled": feed.enabled}


def list_feeds(*, session: Session) -> list[ListeningFeed]:
    return list(session.scalars(select(ListeningFeed).order_by(ListeningFeed.id)))


def get_feed(*, session: Session, feed_id: int) -> ListeningFeed:
    feed = session.get(ListeningFeed, feed_id)
    if feed is None:
        raise NotFound(f"feed {feed_id} does not exist")
    return feed


def update_feed(*, session: Session, feed_id: int, data: FeedUpdate, actor: Actor = SYSTEM) -> ListeningFeed:
    feed = get_feed(session=session, feed_id=feed_id)
    at = now(session=session)
    if data.url is not None and data.url != feed.url:
        if session.scalar(select(ListeningFeed.id).where(ListeningFeed.url == data.url)) is not None:
            raise Conflict(f"the feed {data.url} is already configured", field="url")
        # Another address: its validators mean nothing there; poll it at once.
        feed.url, feed.etag, feed.last_modified, feed.next_poll_at = data.url, None, None, at
    if data.name is not None:
        feed.name = data.name
    if data.interval_minutes is not None:
        feed.interval_minutes = data.interval_minutes
    if data.enabled is not None:
        if data.enabled and not feed.enabled:
            feed.next_poll_at = at
        feed.enabled = data.enabled
    feed.updated_at = at
    publish(session=session, type="listening.feed_updated", actor=actor, payload=_feed_payload(feed))
    return feed


def delete_feed(*, session: Session, feed_id: int, actor: Actor = SYSTEM) -> None:
    """Stop polling it. The mentions it brought stay: they are messages like any other."""
    feed = get_feed(session=session, feed_id=feed_id)
    payload = _feed_payload(feed)
    session.delete(feed)
    publish(session=session, type="listening.feed_deleted", actor=actor, payload=payload)


# -- polling --------------------------------------------------------------------------------------


def due_feeds(*, session: Session, limit: int = 100) -> list[int]:
    """Enabled feeds whose poll is due and that no worker holds; they are marked as enqueued (call it
    in a write transaction, then enqueue their jobs)."""
    at = now(session=session)
    wall = wall_now()
    query = (
        select(ListeningFeed.id)
        .where(
            ListeningFeed.enabled.is_(True),
            or_(ListeningFeed.next_poll_at.is_(None), ListeningFeed.next_poll_at <= at),
            or_(ListeningFeed.poll_lease_until.is_(None), ListeningFeed.poll_lease_until < wall),
        )
        .order_by(ListeningFeed.next_poll_at, ListeningFeed.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list(session.scalars(query))
    if ids:
        # Not due again while its job waits in the queue; if the job is lost, due again then.
        session.execute(
            update(ListeningFeed).where(ListeningFeed.id.in_(ids)).values(next_poll_at=at + POLL_JOB_LOST)
        )
    return ids


def enqueue_feed_polls(runtime: Runtime) -> int:
    """The reconciler's part: a `poll_feed` job per due feed."""
    from cuida.jobs.tasks import poll_feed

    with runtime.db.session() as session:
        feed_ids = due_feeds(session=session)
    for feed_id in feed_ids:
        poll_feed(feed_id)
    if feed_ids:
        runtime.wake.set()
    return len(feed_ids)


def _claim(session: Session, feed_id: int) -> ListeningFeed | None:
    wall = wall_now()
    claimed = session.execute(
        update(ListeningFeed)
        .where(
            ListeningFeed.id == feed_id,
            ListeningFeed.enabled.is_(True),
            or_(ListeningFeed.poll_lease_until.is_(None), ListeningFeed.poll_lease_until < wall),
        )
        .values(poll_lease_until=wall + timedelta(seconds=LEASE_SECONDS))
        .returning(ListeningFeed.id)
        .execution_options(synchronize_session=False)
    ).first()
    if claimed is None:
        return None
    feed = session.get(ListeningFeed, feed_id)
    if feed is not None:
        session.refresh(feed)
    return feed


@dataclass
class Fetched:
    status: int
    body: bytes
    etag: str | None
    last_modified: str | None


class FetchError(Exception):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def private_feeds_allowed() -> bool:
    from cuida.runtime import current_settings  # the runtime imports every domain: import late

    return current_settings().listening_feeds_private


def _public_only(request: httpx.Request) -> None:
    """Refuse a host that resolves inside the network (loopback, private, link-local...) unless the
    install allows it: a feed address is typed by a person and must not make the hub read from
    behind its own firewall. Checked on every request, redirects included."""
    if private_feeds_allowed():
        return
    host = request.url.host
    try:
        infos = socket.getaddrinfo(host, request.url.port or 443, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise FetchError(f"the feed's host {host} cannot be resolved: {exc}") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise FetchError(
                f"the feed's host {host} is inside the network ({address}); feeds are read from public "
                "sites only (CUIDA_LISTENING_FEEDS_PRIVATE=true allows an intranet feed)"
            )


def fetch(url: str, *, etag: str | None, last_modified: str | None) -> Fetched:
    """A conditional GET: 304 when the feed has not changed since the validators were given."""
    headers = {
        "User-Agent": USER_AGENT,
        "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5",
    }
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        with (
            httpx.Client(
                timeout=FETCH_TIMEOUT,
                follow_redirects=True,
                max_redirects=5,
                event_hooks={"request": [_public_only]},
            ) as client,
            client.stream("GET", url, headers=headers) as response,
        ):
            if response.status_code == 304:
                return Fetched(304, b"", etag, last_modified)
            if response.status_code >= 400:
                raise FetchError(f"the feed answered HTTP {response.status_code}", response.status_code)
            body = bytearray()
            for chunk in response.iter_bytes():
                body.extend(chunk)
                if len(body) > MAX_FEED_BYTES:
                    raise FetchError(f"the feed is larger than {MAX_FEED_BYTES // (1024 * 1024)} MB")
            return Fetched(
                response.status_code,
                bytes(body),
                response.headers.get("etag"),
                response.headers.get("last-modified"),
            )
    except httpx.HTTPError as exc:
        raise FetchError(f"the feed could not be fetched: {type(exc).__name__}: {exc}"[:500]) from None


def poll_now(runtime: Runtime, feed_id: int) -> PollResult:
    """Poll one feed in this thread (the job handler and the API's poll-now). Never raises for what
    the feed did: a failure is recorded on the feed and returned."""
    with runtime.db.session() as session:
        feed = _claim(session, feed_id)
        if feed is None:
            get_feed(session=session, feed_id=feed_id)  # 404 for a feed that is not there
            return PollResult(feed_id=feed_id, polled=False)
        url, etag, last_modified = feed.url, feed.etag, feed.last_modified
    try:
        fetched = fetch(url, etag=etag, last_modified=last_modified)
    except FetchError as exc:
        return _failed(runtime, feed_id, str(exc), exc.status)
    try:
        with runtime.db.session() as session:
            result = _store(session, feed_id, fetched)
    except _Unreadable as exc:
        return _failed(runtime, feed_id, str(exc), fetched.status)
    except Exception as exc:  # a bug or a database fault must not stop the poller: keep it on the feed
        log.exception("poll of feed %s failed", feed_id)
        return _failed(
            runtime, feed_id, f"the poll failed: {type(exc).__name__}: {exc}"[:500], fetched.status
        )
    fresh = result.message_ids
    if fresh:
        runtime.enqueue_messages(fresh)
    return result


def _next_poll(feed: ListeningFeed, at: datetime) -> datetime:
    factor = min(2 ** max(feed.failures - 1, 0), MAX_BACKOFF) if feed.failures else 1
    return at + timedelta(minutes=feed.interval_minutes * factor)


def _failed(runtime: Runtime, feed_id: int, error: str, status: int | None) -> PollResult:
    with runtime.db.session() as session:
        feed = session.get(ListeningFeed, feed_id)
        if feed is None:
            return PollResult(feed_id=feed_id, polled=True, status=status, error=error)
        at = now(session=session)
        was = feed.health
        feed.health = "failing"
        feed.failures += 1
        feed.last_error, feed.last_error_at, feed.last_status = error[:2000], at, status
        feed.last_polled_at = at
        feed.next_poll_at = _next_poll(feed, at)
        feed.poll_lease_until = None
        if was != "failing":  # only a change between working and failing is news
            publish(
                session=session,
                type="listening.feed_failing",
                payload={**_feed_payload(feed), "error": feed.last_error},
            )
    return PollResult(feed_id=feed_id, polled=True, status=status, error=error)


def _store(session: Session, feed_id: int, fetched: Fetched) -> PollResult:
    feed = session.get(ListeningFeed, feed_id)
    if feed is None:  # deleted while it was being fetched
        return PollResult(feed_id=feed_id, polled=True, status=fetched.status)
    at = now(session=session)
    result = PollResult(feed_id=feed.id, polled=True, status=fetched.status)
    if fetched.status != 304:
        try:
            parsed = parse_feed(fetched.body)
        except FeedError as exc:
            raise _Unreadable(str(exc)) from None
        terms = matcher(session=session)
        site = parsed.link or feed.url
        items: list[MessageIn] = []
        for entry in parsed.entries:
            result.entries += 1
            named = terms.matches(entry.text) if entry.text else []
            item = None
            if entry.problem is None and named:
                try:
                    item = entry_message(entry, feed=feed, site=site, at=at)
                except ValueError as exc:
                    entry.problem = str(exc)
            if item is not None:
                result.matched += 1
                items.append(item)
            elif entry.problem is not None and (named or not entry.text):
                # Malformed, and maybe about the brand (it names a term, or has no text to tell by).
                row_id = _quarantine_entry(session, feed, entry, named)
                if row_id is not None:
                    result.quarantined.append(row_id)
        if items:
            accepted = accept(session=session, items=items, actor=_actor(feed))
            result.stored = sum(not a.duplicate for a in accepted)
            result.duplicates = sum(a.duplicate for a in accepted)
            result.message_ids = [a.message_id for a in accepted if not a.duplicate and a.stage != "done"]
        feed.etag = (fetched.etag or "")[:500] or None
        feed.last_modified = (fetched.last_modified or "")[:200] or None
        feed.entries_seen += result.entries
        feed.mentions_kept += result.stored
    was = feed.health
    feed.health = "ok"
    feed.failures = 0
    feed.last_status = fetched.status
    feed.last_polled_at = feed.last_success_at = at
    feed.last_error = None
    feed.next_poll_at = _next_poll(feed, at)
    feed.poll_lease_until = None
    if was == "failing":
        publish(session=session, type="listening.feed_recovered", payload=_feed_payload(feed))
    if result.stored or result.quarantined:
        publish(
            session=session,
            type="listening.feed_polled",
            payload={
                "feed_id": feed.id,
                "entries": result.entries,
                "stored": result.stored,
                "duplicates": result.duplicates,
                "quarantined": result.quarantined,
            },
        )
    return result


class _Unreadable(Exception):
    pass


def _actor(feed: ListeningFeed) -> Actor:
    return Actor("feed", feed.id, feed.name)


def entry_message(entry: FeedEntry, *, feed: ListeningFeed, site: str, at: datetime) -> MessageIn:
    """The public message an entry becomes. The author's identity is their address when the feed
    gives one (so a known customer is linked), else the site and the writer's name."""
    assert entry.link is not None
    host = _host(site) or _host(entry.link)
    if entry.author and "@" in entry.author:
        author_value = entry.author
    elif entry.author_name or entry.author:
        name_slug = "-".join(fold(entry.author_name or entry.author or "").split())[:100]
        author_value = f"{host}/{name_slug}"
    else:
        author_value = host
    try:
        identity_key(CHANNEL, author_value)
    except IdentityError:
        author_value = host
    published = entry.published or at
    if published > at + timedelta(days=1):
        raise ValueError(f"the entry is dated in the future ({published.isoformat()})")
    return MessageIn(
        channel=CHANNEL,
        external_id=link_key(entry.link),
        author=AuthorIn(value=author_value[:320], name=(entry.author_name or entry.author or None)),
        text=entry.text,
        public=True,
        occurred_at=min(published, at),
        metadata={
            "url": entry.link,
            "title": entry.title,
            "feed": {"id": feed.id, "name": feed.name, "url": feed.url},
        },
    )


def _quarantine_entry(
    session: Session, feed: ListeningFeed, entry: FeedEntry, named: list[str]
) -> int | None:
    """Once per distinct entry: the same broken entry seen again at the next poll is not a new row."""
    ref = f"{feed.id}:{entry.fingerprint}"
    exists = session.scalar(
        select(QuarantinedPayload.id).where(
            QuarantinedPayload.source == QUARANTINE_SOURCE, QuarantinedPayload.source_ref == ref
        )
    )
    if exists is not None:
        return None
    row = quarantine.put(
        session=session,
        source=QUARANTINE_SOURCE,
        source_ref=ref,
        channel=CHANNEL,
        raw=entry.raw,
        reason=entry.problem or "the entry cannot be read",
        details={
            "feed_id": feed.id,
            "feed_url": feed.url,
            "entry": entry.index,
            "title": entry.title[:300],
            "link": entry.link,
            "terms": named,
        },
        content_type="application/xml",
        actor=_actor(feed),
    )
    return row.id


def _clock_of(row: QuarantinedPayload) -> datetime:
    """The domain clock, read through the reprocessing transaction the entry is loaded in."""
    session = object_session(row)
    return now(session=session) if session is not None else datetime.now(UTC)


# Reprocessing a quarantined entry: as corrected by an agent (title, summary, link, author,
# published), since the stored XML would fail the same way again.
@quarantine.register_parser(QUARANTINE_SOURCE)
def _reparse_entry(
    row: QuarantinedPayload, corrected: dict[str, Any] | None, max_items: int
) -> list[MessageIn]:
    if corrected is None:
        raise quarantine.PayloadError(f"{row.reason}: send the entry corrected (title, summary, link)")
    published = corrected.get("published")
    try:
        entry = FeedEntry(
            index=0,
            raw=json.dumps(corrected).encode(),
            title=str(corrected.get("title") or ""),
            summary=str(corrected.get("summary") or ""),
            link=str(corrected["link"]) if corrected.get("link") else None,
            author=str(corrected["author"]) if corrected.get("author") else None,
            author_name=None,
            published=datetime.fromisoformat(published).astimezone(UTC) if published else None,
        )
        if entry.link is None or urlsplit(entry.link).scheme not in ("http", "https"):
            raise ValueError("give the entry's link (http or https)")
        details = row.details or {}
        feed = ListeningFeed(
            id=details.get("feed_id"),
            name=str(details.get("feed_url") or "feed"),
            url=str(details.get("feed_url") or ""),
        )
        return [entry_message(entry, feed=feed, site=feed.url or entry.link, at=_clock_of(row))]
    except (ValueError, TypeError) as exc:
        raise quarantine.PayloadError(str(exc)) from None
