"""Story files: a customer-care story as a timeline of steps on channels, with what the hub
must do at each point. The format is the one of the shared scenarios (`story`, `customer`,
`timeline` of steps at offsets such as `0m`, `2h15m`, `3d`).

Parsing is strict about what a replay needs (offsets, channels, authors, texts) and lenient
about the rest: keys it does not know are kept, so newer stories still replay.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from cuida.channels.registry import CHANNELS

DIRECTIONS = ("in", "out", "query")
STEP_KEYS = {
    "at",
    "channel",
    "direction",
    "public",
    "author",
    "author_followers",
    "text",
    "goodwill",
    "engagement",
    "expect",
}
_OFFSET = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_STORY_NAME = re.compile(r"^[\w.-]{1,100}$")
_EXPECT_KEY = re.compile(r"^(\s*)(?:-\s+)?expect:\s*(?:#.*)?$")
_LIST_ITEM = re.compile(r"^(\s*)-\s+(.*)$")
_PLAIN_TEXT_VALUE = re.compile(r"^(\s*(?:-\s+)?(?:text|about|company|name|author):\s+)([^'\"|>{\[\s].*)$")


class ReplayError(Exception):
    """A story cannot be read or replayed; the message says which file, which step and why."""


def parse_offset(text: str) -> timedelta:
    """`0m`, `2h15m`, `3d`, `275d1h` → timedelta (units in the order d, h, m, s)."""
    match = _OFFSET.match(text.strip()) if isinstance(text, str) else None
    if not match or not any(match.groups()):
        raise ValueError(f"{text!r} is not an offset; write it like 0m, 2h15m, 3d or 30d1h")
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def format_offset(offset: timedelta) -> str:
    """The inverse of parse_offset, for reports: 2h15m, 3d, 0m."""
    total = int(offset.total_seconds())
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [
        f"{value}{unit}"
        for value, unit in ((days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s"))
        if value
    ]
    return "".join(parts) or "0m"


@dataclass(frozen=True)
class StoryIdentity:
    channel: str
    value: str


@dataclass(frozen=True)
class StoryCustomer:
    name: str | None
    company: str | None
    identities: tuple[StoryIdentity, ...]
    value: dict[str, Any] = field(default_factory=dict)  # e.g. vehicles owned, lifetime spend


@dataclass(frozen=True)
class Observation:
    """Engagement seen on a public post at a later offset, e.g. {reshares: 58} at 30d2h."""

    at: timedelta
    counts: dict[str, int]


@dataclass(frozen=True)
class Step:
    index: int  # 1-based position in the file; also part of the message's external id
    at: timedelta
    raw_at: str
    channel: str | None = None
    direction: str | None = None
    public: bool | None = None  # None: not said (an outbound step then follows the thread)
    author: str | None = None
    author_followers: int | None = None
    text: str | None = None
    goodwill: dict[str, Any] | None = None
    engagement: tuple[Observation, ...] = ()
    expect: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        if self.channel is None:
            return "checkpoint"
        return {"in": "inbound", "out": "outbound", "query": "query"}[self.direction or "in"]

    @property
    def team(self) -> str | None:
        """The team slug of an `agent:<team>` author."""
        if not self.author or not self.author.startswith("agent:"):
            return None
        return team_slug(self.author.removeprefix("agent:"))


@dataclass(frozen=True)
class Story:
    name: str
    source: str
    steps: tuple[Step, ...]  # sorted by offset, stably: file order breaks ties
    about: str | None = None
    company: str | None = None
    customer: StoryCustomer | None = None

    @property
    def teams(self) -> list[str]:
        return sorted({step.team for step in self.steps if step.team})

    @property
    def last_offset(self) -> timedelta:
        return max(step.at for step in self.steps)


def team_slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.strip().lower()).strip("-")[:64] or "team"


def load_story(path: Path) -> Story:
    try:
        data = _read_yaml(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReplayError(f"{path}: cannot read the story: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ReplayError(f"{path}: the story is not UTF-8 text") from None
    except yaml.YAMLError as exc:
        raise ReplayError(f"{path}: not valid YAML: {exc}") from None
    return parse_story(data, source=str(path))


def _read_yaml(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as refused:
        try:
            return yaml.safe_load(_quote_sentences(text))
        except yaml.YAMLError:
            raise refused from None


def _quote_sentences(text: str) -> str:
    """Quote expectation items and one-line texts that YAML would read as syntax.

    Story writers type sentences, and sentences hold colons and quotes (`recorded: "send it", due
    today`) that YAML refuses. Used only for files YAML refuses as they are.
    """
    lines = text.splitlines()
    out: list[str] = []
    expect_indent: int | None = None
    position = 0
    while position < len(lines):
        line = lines[position]
        position += 1
        indent = len(line) - len(line.lstrip())
        item = _LIST_ITEM.match(line)
        if (
            expect_indent is not None
            and line.strip()
            and (indent < expect_indent or (indent == expect_indent and not item))
        ):
            expect_indent = None
        if expect_indent is not None and item:
            words = [item.group(2).strip()]
            while position < len(lines) and _continues(lines[position], indent):
                words.append(lines[position].strip())
                position += 1
            out.append(f"{item.group(1)}- {_quoted(' '.join(words))}")
            continue
        if _EXPECT_KEY.match(line):
            expect_indent = indent
        plain = _PLAIN_TEXT_VALUE.match(line)
        if plain and (": " in plain.group(2) or " #" in plain.group(2)):
            line = f"{plain.group(1)}{_quoted(plain.group(2).rstrip())}"
        out.append(line)
    return "\n".join(out) + "\n"


def _continues(line: str, item_indent: int) -> bool:
    """A wrapped line of a list item: deeper than the item's dash and not an item itself."""
    return bool(line.strip()) and not _LIST_ITEM.match(line) and len(line) - len(line.lstrip()) > item_indent


def _quoted(sentence: str) -> str:
    try:
        if isinstance(yaml.safe_load(sentence), str) and sentence[:1] in "'\"":
            return sentence  # already a quoted string
    except yaml.YAMLError:
        pass
    return "'" + sentence.replace("'", "''") + "'"


def story_files(folder: Path) -> list[Path]:
    """The story files of a folder, in name order."""
    return sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])


def parse_story(data: Any, *, source: str = "<story>") -> Story:
    if not isinstance(data, dict):
        raise ReplayError(f"{source}: a story is a mapping with story, customer and timeline")
    name = data.get("story")
    if not isinstance(name, str) or not _STORY_NAME.match(name):
        raise ReplayError(f"{source}: 'story' must be a short name of letters, digits, '-', '_' or '.'")
    customer = _customer(data.get("customer"), source) if data.get("customer") is not None else None
    timeline = data.get("timeline")
    if not isinstance(timeline, list) or not timeline:
        raise ReplayError(f"{source}: 'timeline' must be a non-empty list of steps")
    steps = [_step(item, position, source, customer) for position, item in enumerate(timeline, start=1)]
    return Story(
        name=name,
        source=source,
        steps=tuple(sorted(steps, key=lambda s: s.at)),
        about=_optional_text(data.get("about")),
        company=_optional_text(data.get("company")),
        customer=customer,
    )


def _optional_text(value: Any) -> str | None:
    return str(value).strip() if value is not None else None


def _channel(value: Any, where: str) -> str:
    if not isinstance(value, str) or value not in CHANNELS:
        known = ", ".join(sorted(CHANNELS))
        raise ReplayError(f"{where}: unknown channel {value!r}; known channels: {known}")
    return value


def _customer(data: Any, source: str) -> StoryCustomer:
    where = f"{source}: customer"
    if not isinstance(data, dict):
        raise ReplayError(f"{where}: must be a mapping with name, company and identities")
    identities = []
    for position, item in enumerate(data.get("identities") or [], start=1):
        if not isinstance(item, dict) or item.get("value") in (None, ""):
            raise ReplayError(f"{where}: identity {position} needs a channel and a value")
        identities.append(
            StoryIdentity(
                _channel(item.get("channel"), f"{where}: identity {position}"), str(item["value"]).strip()
            )
        )
    value = data.get("value") or {}
    if not isinstance(value, dict):
        raise ReplayError(f"{where}: 'value' must be a mapping, e.g. {{lifetime_spend_eur: 900000}}")
    return StoryCustomer(
        name=_optional_text(data.get("name")),
        company=_optional_text(data.get("company")),
        identities=tuple(identities),
        value=dict(value),
    )


def _step(item: Any, position: int, source: str, customer: StoryCustomer | None) -> Step:
    raw_at = item.get("at") if isinstance(item, dict) else None
    where = f"{source}: step {position}" + (f" (at {raw_at})" if raw_at is not None else "")
    if not isinstance(item, dict):
        raise ReplayError(f"{where}: a step must be a mapping with at least 'at'")
    if raw_at is None:
        raise ReplayError(f"{where}: 'at' is missing (an offset such as 0m, 2h or 3d)")
    try:
        at = parse_offset(raw_at)
        engagement = tuple(_observation(o) for o in item.get("engagement") or [])
    except (ValueError, TypeError) as exc:
        raise ReplayError(f"{where}: {exc}") from None
    channel = item.get("channel")
    if channel is None:
        talking = sorted(key for key in ("direction", "author", "text", "public") if key in item)
        if talking:
            raise ReplayError(
                f"{where}: {', '.join(talking)} need(s) a channel; a step without one "
                "is a checkpoint that only holds expectations"
            )
    else:
        channel = _channel(channel, where)
    direction = item.get("direction", "in" if channel else None)
    if channel and direction not in DIRECTIONS:
        raise ReplayError(f"{where}: direction must be one of {', '.join(DIRECTIONS)}, not {direction!r}")
    public = item.get("public")
    if public is not None and not isinstance(public, bool):
        raise ReplayError(f"{where}: 'public' must be true or false")
    followers = item.get("author_followers")
    if followers is not None and (type(followers) is not int or followers < 0):
        raise ReplayError(f"{where}: 'author_followers' must be a whole number, 0 or more")
    goodwill = item.get("goodwill")
    if goodwill is not None and not isinstance(goodwill, dict):
        raise ReplayError(f"{where}: 'goodwill' must be a mapping, e.g. {{kind: refund, cost_eur: 10}}")
    expect = item.get("expect") or []
    expect = [expect] if isinstance(expect, str) else expect
    if not isinstance(expect, list):
        raise ReplayError(f"{where}: 'expect' must be a list of sentences")
    text = _optional_text(item.get("text")) or None
    author = _optional_text(item.get("author")) or None
    if direction == "in" and author is None:
        author = _own_identity_on(customer, channel)
        if author is None:
            raise ReplayError(
                f"{where}: an inbound step needs an author (the story's customer has no {channel} identity)"
            )
    if direction in ("in", "out") and not text:
        raise ReplayError(f"{where}: a message step needs a text")
    return Step(
        index=position,
        at=at,
        raw_at=str(raw_at),
        channel=channel,
        direction=direction,
        public=public,
        author=author,
        author_followers=followers,
        text=text,
        goodwill=goodwill,
        engagement=engagement,
        expect=tuple(_sentence(e) for e in expect),
        extra={key: value for key, value in item.items() if key not in STEP_KEYS},
    )


def _sentence(expectation: Any) -> str:
    """An expectation as written: YAML reads `- intent: a question` as a mapping, not a sentence."""
    if isinstance(expectation, dict):
        return "; ".join(f"{key}: {value}" for key, value in expectation.items())
    return str(expectation).strip()


def _observation(item: Any) -> Observation:
    if not isinstance(item, dict) or "at" not in item:
        raise ValueError("each engagement entry needs 'at' and counts, e.g. {at: 1d, reshares: 40}")
    counts = {key: value for key, value in item.items() if key != "at"}
    if not counts or not all(isinstance(v, int) and not isinstance(v, bool) for v in counts.values()):
        raise ValueError(f"engagement at {item['at']}: counts must be whole numbers, e.g. reshares: 40")
    return Observation(at=parse_offset(item["at"]), counts=counts)


def _own_identity_on(customer: StoryCustomer | None, channel: str | None) -> str | None:
    """The story customer's identity on a channel, for inbound steps that name no author."""
    if customer is None:
        return None
    return next((i.value for i in customer.identities if i.channel == channel), None)
