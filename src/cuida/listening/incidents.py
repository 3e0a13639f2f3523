"""Incidents: mentions about the same thing grouped into one story, with its timeline, the customers and
conversations involved, its forecast, and one coordinated answer.

Grouping runs when a mention is recorded (`mention.recorded`, in the ingest transaction, in a
savepoint so it can never fail the ingest). Two mentions posted within CUIDA_LISTENING_INCIDENT_DAYS
of each other are about the same thing when

* they share a **link** (a URL in the text or given by the source; scheme, `www.`, a trailing slash,
  the fragment and `utm_*` tracking parameters do not count), the link of a post being its own URL,
  so quoting or sharing a post's URL joins it;
* they share a **hashtag** (folded: `#VaquerosRotos` = `#vaquerosrotos`), except the brand's own
  (CUIDA_LISTENING_BRAND_HASHTAGS), which are in most mentions;
* they were posted by a customer while the same private **case** of theirs was open (the complaint
  both posts are most likely about: `Mention.case_id`);
* one **replies to or reshares** the other: `in_reply_to`, or `parent_id` / `reshare_of` /
  `quoted_id` / `parent_url` / `quoted_url` in the source's metadata;
* their **texts are similar**: the Jaccard index |A∩B| / |A∪B| of their sets of stemmed words
  (`cuida.search.text`, after removing links, @handles, numbers, stop words and words under three
  letters) is at least CUIDA_LISTENING_INCIDENT_SIMILARITY (0.5: half of the distinct words in
  common; a copied complaint with a word changed scores ~0.8, two unrelated complaints about the
  same shop ~0.1), both texts having at least four such words. Candidates are found by MinHash
  bands stored as keys (`similarity_keys`: 94% of pairs at 0.5 are found, 99% at 0.6), the index is
  computed exactly on them, and a text joins only its best match, so chains of loosely similar posts
  do not snowball.

Links, hashtags, post ids and the MinHash bands are stored as keys (`incident_keys`), so grouping is
one indexed lookup, whatever the number of mentions in the window. A mention that matches nothing
stands alone (its row has no incident): a single post is not an incident until a second one joins
it, or until its forecast could reach the alert line (the top of its 80% interval), when
`mention.snapshot` opens an incident of one. A mention matching two incidents
merges them into the older one. Closed incidents take no new mentions: what is said later is a new
story, and the closed one keeps its final reach ("what the internet remembers").
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from cuida.clock.service import now
from cuida.common.errors import Conflict, Invalid, NotFound
from cuida.conversations import service as conversations
from cuida.conversations.models import Conversation, Message
from cuida.conversations.schemas import NoteCreate, ReplyCreate
from cuida.customers.models import Customer
from cuida.events.models import Event
from cuida.events.service import SYSTEM, Actor, publish, subscribe
from cuida.listening.incident_models import Incident, IncidentKey, IncidentMention
from cuida.listening.models import Mention, MentionSnapshot
from cuida.search.text import fold, terms
from cuida.settings import Settings

log = logging.getLogger(__name__)

OPEN_STATES = ("open", "pending", "snoozed")
BANDS, ROWS = 10, 2  # MinHash bands for finding similar texts (see similarity_keys)
MAX_CANDIDATES = 500  # key matches read per mention, the most recent first
MIN_TERMS = 4  # fewer distinct words than this say too little to compare
MAX_KEYS = 40
TITLE_CHARS = 120

_URL = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
_HANDLE = re.compile(r"@\w+")
_HASHTAG = re.compile(r"(?<![\w&])#(\w{2,100})")
_WORD = re.compile(r"[^\W_]+")
_TRACKING = ("utm_", "fbclid", "gclid", "igshid", "si", "ref_src", "ref_url")
_PARENT_IDS = ("parent_id", "reshare_of", "quoted_id", "retweeted_id", "in_reply_to_id")
_LINK_META = ("url", "link", "permalink", "shared_url", "parent_url", "quoted_url", "in_reply_to_url")
# Folded Spanish and English words that say nothing about what a post is about.
_STOP_WORDS = """
a al algo algun alguna algunas alguno algunos ante antes aqui asi aun aunque bien cada como con
contra cual cuando de del desde donde dos el ella ellas ello ellos en entre era eran es esa esas
ese eso esos esta estaba estan estar estas este esto estos fue fueron ha habeis habia han has
hasta hay la las le les lo los mas me mi mis mucho muy nada ni no nos nosotros o os otra otro para
pero poco por porque que quien se sea ser si sin sino sobre solo son su sus tambien tan te tiene
tienen todo todos tu tus un una unas uno unos ya yo vosotros vuestro vuestra hoy ayer
about after all also am an and any are as at be been but by can could did do does for from had
has have he her him his how i if in into is it its just me my not now of on or our out she so
than that the their them then there they this to too up us was we were what when which who why
will with would you your
"""
STOP_WORDS = frozenset(_STOP_WORDS.split())


def _settings() -> Settings:
    from cuida.runtime import current_settings  # the runtime imports every domain: import late

    return current_settings()


# -- what a mention is about ---------------------------------------------------------------------


def normalise_link(url: str) -> str | None:
    """One form per link: host without `www.`, path without a trailing slash, no fragment, no
    tracking parameters; the scheme does not count."""
    url = url.strip().rstrip(".,;:!?)]}»\"'")
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return None
    if not host or "." not in host:
        return None
    host = host.removeprefix("www.")
    path = parts.path.rstrip("/")
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not k.startswith(_TRACKING)]
    link = host + path + (f"?{urlencode(query)}" if query else "")
    return link[:280]


def _is_http(value: object) -> bool:
    return isinstance(value, str) and value.lower().startswith(("http://", "https://"))


def _links(mention: Mention, message: Message | None) -> set[str]:
    found: set[str] = set(_URL.findall(mention.text or ""))
    if mention.url:
        found.add(mention.url)
    meta = (message.meta if message is not None else None) or {}
    for name in (*_LINK_META, "links"):
        value = meta.get(name)
        found.update(str(v) for v in (value if isinstance(value, list) else [value]) if _is_http(v))
    return {link for link in (normalise_link(u) for u in found) if link}


def brand_hashtags(settings: Settings | None = None) -> set[str]:
    raw = (settings or _settings()).listening_brand_hashtags
    return {fold(tag.strip().lstrip("#")) for tag in raw.split(",") if tag.strip().lstrip("#")}


def hashtags(text: str, ignore: set[str] | frozenset[str] = frozenset()) -> set[str]:
    found = {fold(tag) for tag in _HASHTAG.findall(text or "")}
    return {tag for tag in found if not tag.isdigit() and tag not in ignore}


def keys_of(mention: Mention, message: Message | None, ignore_tags: set[str]) -> dict[str, str]:
    """The mention's keys, each with the kind of link it stands for (link, hashtag, reply)."""
    keys: dict[str, str] = {}
    for link in sorted(_links(mention, message)):
        keys[f"link:{link}"] = "link"
    for tag in sorted(hashtags(mention.text, ignore_tags)):
        keys[f"tag:{tag}"[:300]] = "hashtag"
    if mention.case_id is not None and mention.case_id != mention.conversation_id:
        # The author's open private case: their posts while it is open are about it.
        keys[f"case:{mention.case_id}"] = "case"
    if message is not None:
        keys[f"post:{message.channel}:{message.external_id}"[:300]] = "reply"
        parents = [message.in_reply_to] + [(message.meta or {}).get(name) for name in _PARENT_IDS]
        for parent in parents:
            if isinstance(parent, str | int) and str(parent).strip():
                keys[f"post:{message.channel}:{str(parent).strip()}"[:300]] = "reply"
    return dict(list(keys.items())[:MAX_KEYS])


def text_terms(text: str) -> list[str]:
    """The distinct stemmed words of a post that say what it is about, sorted."""
    cleaned = _HANDLE.sub(" ", _URL.sub(" ", text or ""))
    words = [
        w for w in _WORD.findall(fold(cleaned)) if len(w) >= 3 and not w.isdigit() and w not in STOP_WORDS
    ]
    return sorted(set(terms(" ".join(words))))


def _min_hash(seed: int, term: str) -> int:
    return int.from_bytes(hashlib.blake2b(f"{seed}:{term}".encode(), digest_size=8).digest(), "big")


def similarity_keys(term_list: list[str]) -> list[str]:
    """MinHash bands of a term set (locality-sensitive hashing): two sets share a band with
    probability 1 - (1 - J^ROWS)^BANDS, J their Jaccard index (94% at 0.5, 99% at 0.6, 23% at 0.2),
    so similar texts find each other with an indexed lookup instead of a scan; the exact index is
    then computed on the few candidates."""
    if len(term_list) < MIN_TERMS:
        return []
    mins = [min(_min_hash(seed, term) for term in term_list) for seed in range(BANDS * ROWS)]
    keys = []
    for band in range(BANDS):
        rows = ",".join(str(m) for m in mins[band * ROWS : (band + 1) * ROWS])
        keys.append(f"sim:{band}:{hashlib.blake2b(rows.encode(), digest_size=8).hexdigest()}")
    return keys


def jaccard(a: set[str] | list[str], b: set[str] | list[str]) -> float:
    first, second = set(a), set(b)
    union = first | second
    return len(first & second) / len(union) if union else 0.0


# -- grouping ------------------------------------------------------------------------------------


@subscribe("mention.recorded")
def _mention_recorded(*, session: Session, event: Event) -> None:
    mention_id = (event.payload or {}).get("mention_id")
    if not isinstance(mention_id, int):
        return
    try:
        with session.begin_nested():
            mention = session.get(Mention, mention_id)
            if mention is not None:
                group_mention(session=session, mention=mention)
    except Exception as exc:  # grouping must never fail the ingest of a message
        log.exception("grouping mention %s into an incident failed", mention_id)
        publish(
            session=session,
            type="listening.error",
            message_id=event.message_id,
            payload={"event": event.type, "mention_id": mention_id, "error": str(exc)[:500]},
        )


def _ensure_row(
    session: Session, mention: Mention, settings: Settings
) -> tuple[IncidentMention, dict[str, str]]:
    """The mention's grouping row and keys (kind by key, "similar" for the MinHash bands), stored on
    first sight."""
    row = session.get(IncidentMention, mention.id)
    message = session.get(Message, mention.message_id)
    keys = keys_of(mention, message, brand_hashtags(settings))
    found_terms = row.terms if row is not None else text_terms(mention.text)
    keys.update(dict.fromkeys(similarity_keys(found_terms), "similar"))
    if row is not None:
        return row, keys
    row = IncidentMention(
        mention_id=mention.id,
        incident_id=None,
        joined_by=None,
        terms=found_terms,
        posted_at=mention.posted_at,
        created_at=now(session=session),
    )
    session.add(row)
    for key in keys:
        session.add(IncidentKey(mention_id=mention.id, key=key, posted_at=mention.posted_at))
    session.flush()
    return row, keys


def group_mention(*, session: Session, mention: Mention) -> Incident | None:
    """Put a new mention with what it is about: join (or open) the incident of the mentions it shares a
    link, a hashtag, a parent post or most of its words with. None when it matches nothing."""
    settings = _settings()
    row, keys = _ensure_row(session, mention, settings)
    if row.incident_id is not None:
        return session.get(Incident, row.incident_id)
    window = timedelta(days=settings.listening_incident_days)
    low, high = mention.posted_at - window, mention.posted_at + window
    matches: dict[int, str] = {}
    candidates: set[int] = set()
    if keys:
        for other_id, key in session.execute(
            select(IncidentKey.mention_id, IncidentKey.key)
            .where(
                IncidentKey.key.in_(list(keys)),
                IncidentKey.mention_id != mention.id,
                IncidentKey.posted_at >= low,
                IncidentKey.posted_at <= high,
            )
            .order_by(IncidentKey.posted_at.desc(), IncidentKey.id.desc())
            .limit(MAX_CANDIDATES)
        ):
            if keys[key] == "similar":
                candidates.add(int(other_id))
            else:
                matches.setdefault(int(other_id), _reason(key, keys[key]))
    if candidates - set(matches):
        # The bands only say "maybe": the Jaccard index of the stored term sets decides.
        best: tuple[float, int] | None = None
        for other_id, other_terms in session.execute(
            select(IncidentMention.mention_id, IncidentMention.terms)
            .outerjoin(Incident, Incident.id == IncidentMention.incident_id)
            .where(
                IncidentMention.mention_id.in_(sorted(candidates - set(matches))),
                or_(IncidentMention.incident_id.is_(None), Incident.status == "open"),
            )
        ):
            score = jaccard(row.terms, other_terms or [])
            if score >= settings.listening_incident_similarity and (best is None or score > best[0]):
                best = (score, int(other_id))
        if best is not None:
            matches[best[1]] = f"similar text ({best[0]:.2f})"
    if not matches:
        return None
    others = {
        r.mention_id: r
        for r in session.scalars(select(IncidentMention).where(IncidentMention.mention_id.in_(list(matches))))
    }
    incident_ids = {r.incident_id for r in others.values() if r.incident_id is not None}
    incidents = (
        {i.id: i for i in session.scalars(select(Incident).where(Incident.id.in_(incident_ids)))}
        if incident_ids
        else {}
    )
    open_incidents = sorted(
        (i for i in incidents.values() if i.status == "open"), key=lambda i: (i.first_seen, i.id)
    )
    closed = {i.id for i in incidents.values() if i.status != "open"}
    joining = {m: r for m, r in others.items() if r.incident_id not in closed}
    if not joining:
        return None
    at = now(session=session)
    reason = matches[min(joining, key=lambda m: (joining[m].posted_at, m))]
    opened = not open_incidents
    if open_incidents:
        incident = open_incidents[0]
        for younger in open_incidents[1:]:
            _merge(session, younger, incident, at)
    else:
        incident = Incident(
            title=_title(session, reason, mention, joining),
            status="open",
            first_seen=mention.posted_at,
            last_seen=mention.posted_at,
            mention_count=0,
            grouped_by=[],
            reach=0,
            peak_reach=0,
            created_at=at,
            updated_at=at,
        )
        session.add(incident)
        session.flush()
    for other_id, other in joining.items():
        if other.incident_id is None:
            other.incident_id = incident.id
            other.joined_by = matches[other_id]
    row.incident_id = incident.id
    row.joined_by = reason
    kind = reason.split(" ")[0] if not reason.startswith("similar") else "similar text"
    incident.grouped_by = sorted({*(incident.grouped_by or []), kind})
    session.flush()
    refresh(session=session, incident=incident, at=at)
    publish(
        session=session,
        type="incident.opened" if opened else "incident.grouped",
        customer_id=mention.customer_id,
        conversation_id=mention.case_id,
        message_id=mention.message_id,
        payload={
            "incident_id": incident.id,
            "mention_id": mention.id,
            "joined_by": reason,
            "mention_count": incident.mention_count,
            "merged": [i.id for i in open_incidents[1:]],
        },
    )
    return incident


def _reason(key: str, kind: str) -> str:
    if kind == "link":
        return f"link {key.removeprefix('link:')}"
    if kind == "hashtag":
        return f"hashtag #{key.removeprefix('tag:')}"
    if kind == "case":
        return f"case {key.removeprefix('case:')}"
    return "reply to the same post"


def _title(session: Session, reason: str, mention: Mention, joining: dict[int, IncidentMention]) -> str:
    """What the incident is about, in a line: the shared hashtag or link, else the first post's words."""
    if reason.startswith("hashtag "):
        return reason.removeprefix("hashtag ")[:TITLE_CHARS]
    if reason.startswith("link "):
        return reason.removeprefix("link ")[:TITLE_CHARS]
    first_id = min(joining, key=lambda m: (joining[m].posted_at, m))
    first = session.get(Mention, first_id) if joining[first_id].posted_at <= mention.posted_at else mention
    return _one_line(first or mention)


def _one_line(mention: Mention) -> str:
    text = " ".join((mention.text or "").split())
    return (text[: TITLE_CHARS - 1] + "…") if len(text) > TITLE_CHARS else (text or f"#{mention.id}")


def _merge(session: Session, source: Incident, target: Incident, at: datetime) -> None:
    """A mention tied two open incidents together: the younger one's mentions move to the older."""
    session.execute(
        update(IncidentMention).where(IncidentMention.incident_id == source.id).values(incident_id=target.id)
    )
    target.grouped_by = sorted({*(target.grouped_by or []), *(source.grouped_by or [])})
    if target.public_answer is None and source.public_answer is not None:
        target.public_answer = source.public_answer
        target.answer_message_id = source.answer_message_id
        target.answered_at = source.answered_at
        target.answered_by_name = source.answered_by_name
    target.peak_reach = max(target.peak_reach, source.peak_reach)
    publish(
        session=session,
        type="incident.merged",
        payload={"incident_id": target.id, "merged": source.id, "title": source.title},
    )
    session.execute(delete(Incident).where(Incident.id == source.id))
    session.expunge(source)


def refresh(*, session: Session, incident: Incident, at: datetime | None = None) -> Incident:
    """Recount an incident from its mentions: dates, the leading mention and its forecast, reach.
    Aggregates in the database (three indexed reads), so a viral incident's thousands of mentions are
    never loaded to count them."""
    members = select(IncidentMention.mention_id).where(IncidentMention.incident_id == incident.id)
    count, first_seen, last_seen = session.execute(
        select(func.count(), func.min(Mention.posted_at), func.max(Mention.posted_at)).where(
            Mention.id.in_(members)
        )
    ).one()
    if not count:
        return incident
    lead = session.scalar(
        select(Mention)
        .where(Mention.id.in_(members))
        .order_by(
            Mention.forecast_final.is_(None),
            Mention.forecast_final.desc(),
            func.coalesce(Mention.author_followers, 0).desc(),
            Mention.posted_at,
            Mention.id,
        )
        .limit(1)
    )
    assert lead is not None
    incident.mention_count = int(count)
    incident.first_seen, incident.last_seen = first_seen, last_seen
    incident.lead_mention_id = lead.id
    incident.metric = lead.metric
    incident.forecast_final = lead.forecast_final
    incident.forecast_low = lead.forecast_low
    incident.forecast_high = lead.forecast_high
    incident.forecast_model = lead.forecast_model
    if incident.status == "open":
        reach = 0
        if lead.metric:
            reach = int(
                session.scalar(
                    select(func.coalesce(func.sum(Mention.counts[lead.metric].as_integer()), 0)).where(
                        Mention.id.in_(members)
                    )
                )
                or 0
            )
        incident.reach = reach
        incident.peak_reach = max(incident.peak_reach or 0, reach)
    incident.updated_at = at or now(session=session)
    return incident


@subscribe("mention.snapshot")
def _mention_snapshot(*, session: Session, event: Event) -> None:
    mention_id = (event.payload or {}).get("mention_id")
    mention = session.get(Mention, mention_id) if isinstance(mention_id, int) else None
    if mention is None:
        return
    try:
        with session.begin_nested():
            follow_reading(session=session, mention=mention)
    except Exception as exc:  # the reading (and its crisis alert) must be stored whatever happens here
        log.exception("updating the incident of mention %s failed", mention.id)
        publish(
            session=session,
            type="listening.error",
            message_id=mention.message_id,
            payload={"event": event.type, "mention_id": mention.id, "error": str(exc)[:500]},
        )


def follow_reading(*, session: Session, mention: Mention) -> None:
    """A new reading: the incident's figures follow; a lone post that could reach the alert line
    becomes an incident of its own."""
    from cuida.listening.service import alert_line

    settings = _settings()
    if session.get(IncidentMention, mention.id) is None:
        group_mention(session=session, mention=mention)  # recorded before grouping could hear of it
    row, _ = _ensure_row(session, mention, settings)
    at = now(session=session)
    if row.incident_id is not None:
        incident = session.get(Incident, row.incident_id)
        if incident is not None and incident.status == "open":
            refresh(session=session, incident=incident, at=at)
        return
    if mention.forecast_high is None or mention.forecast_high < alert_line(mention.metric, settings):
        return
    incident = Incident(
        title=_one_line(mention),
        status="open",
        first_seen=mention.posted_at,
        last_seen=mention.posted_at,
        mention_count=0,
        grouped_by=["reach forecast"],
        reach=0,
        peak_reach=0,
        created_at=at,
        updated_at=at,
    )
    session.add(incident)
    session.flush()
    row.incident_id = incident.id
    row.joined_by = "reach forecast"
    session.flush()
    refresh(session=session, incident=incident, at=at)
    publish(
        session=session,
        type="incident.opened",
        customer_id=mention.customer_id,
        conversation_id=mention.case_id,
        message_id=mention.message_id,
        payload={
            "incident_id": incident.id,
            "mention_id": mention.id,
            "joined_by": "reach forecast",
            "mention_count": incident.mention_count,
            "merged": [],
        },
    )


# -- reading -------------------------------------------------------------------------------------


def get_incident(*, session: Session, incident_id: int) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(f"incident {incident_id} not found")
    return incident


def mentions_of(*, session: Session, incident_id: int) -> list[Mention]:
    """The incident's mentions in the order they were posted."""
    return list(
        session.scalars(
            select(Mention)
            .join(IncidentMention, IncidentMention.mention_id == Mention.id)
            .where(IncidentMention.incident_id == incident_id)
            .order_by(Mention.posted_at, Mention.id)
        )
    )


INCIDENT_SORTS: dict[str, tuple[Any, ...]] = {
    "recent": (Incident.last_seen.desc(), Incident.id.desc()),
    "reach": (Incident.peak_reach.desc(), Incident.id.desc()),
}


def list_incidents(
    *,
    session: Session,
    status: str | None = None,
    sort: str = "recent",
    limit: int = 50,
    offset: int = 0,
) -> list[Incident]:
    if sort not in INCIDENT_SORTS:
        raise Invalid(f"sort must be one of {', '.join(INCIDENT_SORTS)}", field="sort")
    query = select(Incident)
    if status is not None:
        query = query.where(Incident.status == status)
    if sort == "reach" and status == "closed":
        query = query.order_by(Incident.final_reach.desc(), Incident.id.desc())
    else:
        query = query.order_by(*INCIDENT_SORTS[sort])
    return list(session.scalars(query.limit(limit).offset(offset)))


@dataclass
class TimelineEntry:
    at: datetime
    kind: str  # "mention", "snapshot", "answer", "closed"
    mention: Mention | None = None
    snapshot: MentionSnapshot | None = None
    text: str | None = None
    by: str | None = None


@dataclass
class IncidentView:
    incident: Incident
    mentions: list[Mention]
    timeline: list[TimelineEntry]
    customers: list[Customer]
    conversations: list[Conversation]
    joined_by: dict[int, str | None]


def incident_view(*, session: Session, incident_id: int, conversation_clause: Any = None) -> IncidentView:
    """The incident with its timeline (posts, engagement readings, the answer, the closing, in time
    order), the customers and conversations involved (those `conversation_clause` lets the reader see)."""
    incident = get_incident(session=session, incident_id=incident_id)
    mentions = mentions_of(session=session, incident_id=incident.id)
    ids = [m.id for m in mentions]
    snapshots = (
        list(
            session.scalars(
                select(MentionSnapshot)
                .where(MentionSnapshot.mention_id.in_(ids))
                .order_by(MentionSnapshot.observed_at, MentionSnapshot.id)
            )
        )
        if ids
        else []
    )
    by_id = {m.id: m for m in mentions}
    timeline = [TimelineEntry(m.posted_at, "mention", mention=m) for m in mentions]
    timeline += [
        TimelineEntry(s.observed_at, "snapshot", mention=by_id[s.mention_id], snapshot=s) for s in snapshots
    ]
    if incident.answered_at is not None:
        timeline.append(
            TimelineEntry(
                incident.answered_at, "answer", text=incident.public_answer, by=incident.answered_by_name
            )
        )
    if incident.closed_at is not None:
        timeline.append(TimelineEntry(incident.closed_at, "closed", by=incident.closed_by_name))
    order = {"mention": 0, "snapshot": 1, "answer": 2, "closed": 3}
    timeline.sort(key=lambda e: (e.at, order[e.kind], e.mention.id if e.mention else 0))
    customer_ids = sorted({m.customer_id for m in mentions if m.customer_id is not None})
    customers = (
        list(session.scalars(select(Customer).where(Customer.id.in_(customer_ids)).order_by(Customer.id)))
        if customer_ids
        else []
    )
    conversation_ids = sorted({c for m in mentions for c in (m.conversation_id, m.case_id) if c is not None})
    query = select(Conversation).where(Conversation.id.in_(conversation_ids)).order_by(Conversation.id)
    if conversation_clause is not None:
        query = query.where(conversation_clause)
    conversation_rows = list(session.scalars(query)) if conversation_ids else []
    joined: dict[int, str | None] = {
        int(mention_id): joined_by
        for mention_id, joined_by in session.execute(
            select(IncidentMention.mention_id, IncidentMention.joined_by).where(
                IncidentMention.incident_id == incident.id
            )
        )
    }
    return IncidentView(incident, mentions, timeline, customers, conversation_rows, joined)


# -- acting --------------------------------------------------------------------------------------


def close_incident(*, session: Session, incident_id: int, actor: Actor = SYSTEM) -> Incident:
    """The story is over: its reach is frozen as the final reach (closing again changes nothing)."""
    incident = _locked(session, incident_id)
    if incident.status == "closed":
        return incident
    at = now(session=session)
    refresh(session=session, incident=incident, at=at)
    incident.status = "closed"
    incident.final_reach = incident.reach
    incident.closed_at = at
    incident.closed_by_name = actor.name
    publish(
        session=session,
        type="incident.closed",
        actor=actor,
        payload={
            "incident_id": incident.id,
            "final_reach": incident.final_reach,
            "metric": incident.metric,
            "mention_count": incident.mention_count,
        },
    )
    return incident


def _locked(session: Session, incident_id: int) -> Incident:
    query = select(Incident).where(Incident.id == incident_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    incident = session.scalar(query)
    if incident is None:
        raise NotFound(f"incident {incident_id} not found")
    return incident


@dataclass
class FollowUp:
    customer_id: int
    conversation_id: int
    note_id: int
    opened: bool  # a new private conversation was opened for it


@dataclass
class AnswerOutcome:
    incident: Incident
    reply: Message | None
    follow_ups: list[FollowUp]
    skipped: list[int]  # customers known only by their public posts: answered in public only


def answer_incident(
    *,
    session: Session,
    incident_id: int,
    text: str,
    follow_up: str | None = None,
    actor: Actor,
    agent_id: int | None,
) -> AnswerOutcome:
    """One coordinated public answer, and a private follow-up for each customer involved.

    The answer is recorded on the incident and posted as a public reply in the public thread of the
    leading mention (through the outbox, like any reply). Each customer involved whom the team knows
    in private gets a note on their open private conversation (the most recent), or a new private
    conversation holding it, so someone follows up with them in private; authors known only by their
    public posts are listed as skipped. Customers are not written to privately by this call."""
    incident = _locked(session, incident_id)
    if incident.status != "open":
        raise Conflict(f"incident {incident.id} is closed", field="incident_id")
    if incident.public_answer is not None:
        raise Conflict(
            f"incident {incident.id} was already answered by {incident.answered_by_name or 'someone'} "
            f"at {incident.answered_at.isoformat() if incident.answered_at else '?'}",
            field="text",
        )
    at = now(session=session)
    mentions = mentions_of(session=session, incident_id=incident.id)
    lead = next((m for m in mentions if m.id == incident.lead_mention_id), mentions[0] if mentions else None)
    reply: Message | None = None
    if lead is not None and lead.conversation_id is not None:
        reply, _ = conversations.add_reply(
            session=session,
            conversation_id=lead.conversation_id,
            data=ReplyCreate(text=text, public=True, channel=lead.channel),
            actor=actor,
            agent_id=agent_id,
        )
    incident.public_answer = text
    incident.answer_message_id = reply.id if reply is not None else None
    incident.answered_at = at
    incident.answered_by_name = actor.name
    incident.updated_at = at
    note_text = (
        f"Seguimiento privado del incidente #{incident.id} «{incident.title}». "
        f"Respuesta pública dada: «{text}»." + (f"\n{follow_up}" if follow_up else "")
    )
    follow_ups: list[FollowUp] = []
    channel_of = {m.customer_id: m.channel for m in reversed(mentions) if m.customer_id is not None}
    # Every author becomes a customer at ingest; only those the team already knows in private (a
    # private conversation, open or past) get a private follow-up. Strangers heard only in public are
    # answered in public: a viral post must not open a thousand conversations.
    known = (
        set(
            session.scalars(
                select(Conversation.customer_id)
                .where(Conversation.customer_id.in_(list(channel_of)), Conversation.is_public.is_(False))
                .distinct()
            )
        )
        if channel_of
        else set()
    )
    skipped = sorted(set(channel_of) - known)
    for customer_id in sorted(known):
        case = session.scalar(
            select(Conversation)
            .where(
                Conversation.customer_id == customer_id,
                Conversation.is_public.is_(False),
                Conversation.status.in_(OPEN_STATES),
            )
            .order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
            .limit(1)
        )
        opened = case is None
        if case is None:
            case = _open_private(session, customer_id, channel_of[customer_id], incident, at, actor)
        note = conversations.add_note(
            session=session,
            conversation_id=case.id,
            data=NoteCreate(text=note_text),
            actor=actor,
            agent_id=agent_id,
        )
        follow_ups.append(FollowUp(customer_id, case.id, note.id, opened))
    publish(
        session=session,
        type="incident.answered",
        actor=actor,
        conversation_id=lead.conversation_id if lead is not None else None,
        message_id=reply.id if reply is not None else None,
        payload={
            "incident_id": incident.id,
            "text": text[:1000],
            "follow_ups": [
                {"customer_id": f.customer_id, "conversation_id": f.conversation_id, "opened": f.opened}
                for f in follow_ups
            ],
            "skipped": skipped,
        },
    )
    return AnswerOutcome(incident, reply, follow_ups, skipped)


def _open_private(
    session: Session, customer_id: int, channel: str, incident: Incident, at: datetime, actor: Actor
) -> Conversation:
    """A private conversation for the follow-up of a customer who has none open (on the channel they
    posted on: a direct message where they wrote in public)."""
    conversation = Conversation(
        customer_id=customer_id,
        channel=channel,
        channels=[channel],
        status="open",
        priority=1,
        subject=f"Seguimiento del incidente #{incident.id}: {incident.title}"[:300],
        risk_score=0.0,
        is_public=False,
        tags=["incident"],
        message_count=0,
        created_at=at,
        updated_at=at,
        last_message_at=at,
    )
    session.add(conversation)
    session.flush()
    publish(
        session=session,
        type="conversation.created",
        actor=actor,
        customer_id=customer_id,
        conversation_id=conversation.id,
        payload={"channel": channel, "incident_id": incident.id},
    )
    return conversation
