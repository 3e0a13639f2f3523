"""Reading RSS 2.0, RSS 1.0 (RDF) and Atom documents into entries, and finding the brand's terms.

The XML comes from sites we do not control: it is parsed with defusedxml, refusing any DTD, entity
declaration or external reference (billion laughs, external entities), and an entry's HTML is reduced
to text with the same sanitiser as ingest. An entry that cannot be kept (no link, a date that cannot
be read, nothing to say) carries the reason instead of failing the feed.
"""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from cuida.ingest.html import html_to_text
from cuida.search.text import fold

ATOM = "http://www.w3.org/2005/Atom"
MAX_TEXT = 5000
MAX_LINK = 2000


class FeedError(Exception):
    """The document is not a feed we can read (not XML, a refused construct, not RSS nor Atom)."""


@dataclass
class FeedEntry:
    index: int
    raw: bytes  # the entry's own XML, for the quarantine
    title: str
    summary: str
    link: str | None
    author: str | None  # an address when the feed gives one, else a name
    author_name: str | None
    published: datetime | None
    problem: str | None = None  # why it cannot become a mention

    @property
    def text(self) -> str:
        if self.title and self.summary and not self.summary.startswith(self.title):
            return f"{self.title}\n\n{self.summary}"[:MAX_TEXT]
        return (self.summary or self.title)[:MAX_TEXT]

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()[:32]


@dataclass
class ParsedFeed:
    kind: str  # "rss", "rdf" or "atom"
    title: str
    link: str | None
    entries: list[FeedEntry]


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _children(element: ET.Element, name: str) -> list[ET.Element]:
    return [child for child in element if _local(child.tag) == name]


def _first(element: ET.Element, *names: str) -> ET.Element | None:
    for name in names:
        found = _children(element, name)
        if found:
            return found[0]
    return None


def _inner_text(element: ET.Element | None) -> str:
    """Text of an element whose content may be escaped HTML, CDATA or inline XHTML (Atom)."""
    if element is None:
        return ""
    if len(element) and element.get("type") == "xhtml":
        markup = "".join(ET.tostring(child, encoding="unicode") for child in element)
        markup = re.sub(r"<(/?)[a-zA-Z0-9]+:", r"<\1", re.sub(r'\sxmlns(:\w+)?="[^"]*"', "", markup))
        return _clean(markup)
    return _clean("".join(element.itertext()))


def _clean(markup: str) -> str:
    text = html_to_text(markup) if "<" in markup or "&" in markup else markup
    return re.sub(r"[ \t\r\f\v]+", " ", re.sub(r"\n\s*\n+", "\n\n", text)).strip()


def _date(value: str | None) -> tuple[datetime | None, str | None]:
    if value is None or not value.strip():
        return None, None
    raw = value.strip()
    parsed: datetime | None = None
    try:
        parsed = parsedate_to_datetime(raw)  # RSS: RFC 822 ("Tue, 02 Mar 2027 10:00:00 +0100")
    except (TypeError, ValueError, IndexError):
        try:
            parsed = datetime.fromisoformat(raw.replace("z", "Z"))  # Atom, dc:date: RFC 3339
        except ValueError:
            return None, f"the date {raw[:60]!r} cannot be read"
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # a feed that omits the zone means UTC, as RFC 822's "GMT"
    return parsed.astimezone(UTC), None


def _web_link(value: str | None, base: str | None) -> str | None:
    if not value or not value.strip():
        return None
    link = urljoin(base or "", value.strip()) if base else value.strip()
    return link[:MAX_LINK]


_RSS_AUTHOR = re.compile(r"^\s*(\S+@\S+?)\s*(?:\((.*)\))?\s*$")


def _rss_author(value: str) -> tuple[str, str]:
    """RSS's <author> is "address (Name)"; many feeds put only a name there."""
    found = _RSS_AUTHOR.match(value)
    if found:
        return found.group(1), (found.group(2) or "").strip()
    return "", value.strip()


def _entry(index: int, element: ET.Element, *, atom: bool, base: str | None) -> FeedEntry:
    title = _inner_text(_first(element, "title"))
    if atom:
        summary = _inner_text(_first(element, "content", "summary"))
        links = _children(element, "link")
        href = next((a.get("href") for a in links if a.get("rel", "alternate") == "alternate"), None)
        link = _web_link(href, base)
        author_element = _first(element, "author")
        email = _inner_text(_first(author_element, "email")) if author_element is not None else ""
        name = _inner_text(_first(author_element, "name")) if author_element is not None else ""
        published, date_problem = _date(_inner_text(_first(element, "published", "updated")) or None)
    else:
        summary = _inner_text(_first(element, "encoded", "description"))
        link = _web_link(_inner_text(_first(element, "link")) or None, base)
        guid = _first(element, "guid")
        if link is None and guid is not None and guid.get("isPermaLink", "true") != "false":
            link = _web_link(_inner_text(guid), base)
        email, name = _rss_author(_inner_text(_first(element, "author")))
        name = name or _inner_text(_first(element, "creator"))
        published, date_problem = _date(_inner_text(_first(element, "pubDate", "date")) or None)
    entry = FeedEntry(
        index=index,
        raw=ET.tostring(element, encoding="utf-8"),
        title=title[:500],
        summary=summary[:MAX_TEXT],
        link=link,
        author=(email or name)[:300] or None,
        author_name=name[:300] or None,
        published=published,
    )
    if link is None:
        entry.problem = "the entry has no link"
    elif urlsplit(link).scheme not in ("http", "https") or not urlsplit(link).netloc:
        entry.problem = f"the entry's link {link[:100]!r} is not a web address"
    elif date_problem:
        entry.problem = date_problem
    elif not (title or summary):
        entry.problem = "the entry has neither a title nor a summary"
    return entry


def parse_feed(data: bytes) -> ParsedFeed:
    """Entries of an RSS or Atom document, in document order."""
    if not data.strip():
        raise FeedError("the feed answered an empty document")
    try:
        root = SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise FeedError(f"the feed uses a refused XML construct ({type(exc).__name__})") from None
    except ET.ParseError as exc:
        raise FeedError(f"the feed is not well-formed XML: {exc}") from None
    kind = _local(root.tag)
    if kind == "feed" and root.tag.startswith("{" + ATOM):
        link_el = next((a for a in _children(root, "link") if a.get("rel", "alternate") == "alternate"), None)
        site = link_el.get("href") if link_el is not None else None
        items = _children(root, "entry")
        return ParsedFeed(
            "atom",
            _inner_text(_first(root, "title")),
            site,
            [_entry(i, item, atom=True, base=site) for i, item in enumerate(items)],
        )
    if kind in ("rss", "RDF"):
        channel = _first(root, "channel")
        if channel is None:
            raise FeedError("the RSS document has no channel")
        site = _inner_text(_first(channel, "link")) or None
        # RSS 2.0 keeps items inside the channel; RSS 1.0 (RDF) beside it.
        items = _children(channel, "item") + _children(root, "item")
        return ParsedFeed(
            "rss" if kind == "rss" else "rdf",
            _inner_text(_first(channel, "title")),
            site,
            [_entry(i, item, atom=False, base=site) for i, item in enumerate(items)],
        )
    raise FeedError(f"the document is neither RSS nor Atom (its root element is <{kind}>)")


# -- links -----------------------------------------------------------------------------------------


def link_key(link: str) -> str:
    """One form per web page, so the same post reached through two feeds (or with a feed's tracking
    parameters) is one mention: lower-case scheme and host, no fragment, no utm_* parameters, no
    trailing slash. Long addresses are hashed to fit the 300 characters of an external id."""
    parts = urlsplit(link.strip())
    query = urlencode(
        [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not k.startswith("utm_")]
    )
    path = parts.path.rstrip("/") or ""
    key = urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, query, ""))
    return key if len(key) <= 300 else "sha256:" + hashlib.sha256(key.encode()).hexdigest()


# -- brand terms -----------------------------------------------------------------------------------


def _phrase_pattern(phrase: str) -> re.Pattern[str]:
    words = fold(phrase).split()
    body = r"\s+".join(re.escape(word) for word in words)
    return re.compile(rf"(?<!\w){body}(?!\w)")


@dataclass
class _Term:
    term: str
    pattern: re.Pattern[str]
    exclusions: list[re.Pattern[str]]


class TermMatcher:
    """Which of the brand's terms a text names: a term counts on whole words, in any case and with or
    without accents, unless one of its exclusions appears in the text too (the way a listening query
    reads `cuidabank NOT "cuidabank arena"`)."""

    def __init__(self, terms: Iterable[tuple[str, Sequence[str]]]) -> None:
        self.terms = [
            _Term(term, _phrase_pattern(term), [_phrase_pattern(e) for e in exclusions if e.strip()])
            for term, exclusions in terms
            if term.strip()
        ]

    def matches(self, text: str) -> list[str]:
        folded = fold(text)
        return [
            t.term
            for t in self.terms
            if t.pattern.search(folded) and not any(e.search(folded) for e in t.exclusions)
        ]
