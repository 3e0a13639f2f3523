"""The condition language of automation rules: small, declarative JSON, checked before it is stored.

A condition is a group or a test:

    {"all": [<condition>, ...]}     every one holds (an empty list holds)
    {"any": [<condition>, ...]}     at least one holds
    {"not": <condition>}
    {"field": "triage.intents", "op": "contains", "value": "legal_threat"}

`FIELDS` lists every field with its operators and, for some, options (`threshold` for scores,
`calendar` for business hours, `timezone` for weekday and hour). Text tests fold case and accents on
both sides ("reclamacion" finds "Reclamación"). `contains` / `not_contains` take one value or a list
(any of them / none of them). A test on something the event does not have (no message, no triage
yet) does not hold, whatever its operator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from cuida.channels.registry import CHANNELS
from cuida.common.errors import Invalid
from cuida.conversations.models import PRIORITIES, STATUSES, Conversation, Message
from cuida.customers.models import Customer
from cuida.search.text import fold
from cuida.triage.schemas import EMOTIONS, INTENTS, LANGUAGES, REQUEST_KINDS, SENTIMENTS, URGENCIES

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_TIMEZONE = "Europe/Madrid"
# Business hours when a test names no calendar: Monday to Friday, 09:00-18:00 in Madrid.
DEFAULT_HOURS = {day: [["09:00", "18:00"]] for day in WEEKDAYS[:5]}
MAX_DEPTH = 6
MAX_TESTS = 50

EQUALITY = ("eq", "ne", "in", "not_in")
ORDERING = ("gt", "gte", "lt", "lte")
MISSING = object()


@dataclass(frozen=True)
class FieldSpec:
    kind: str  # string | ordered | bool | number | set | text
    ops: tuple[str, ...]
    help: str
    choices: tuple[str, ...] | None = None
    options: tuple[str, ...] = ()
    nullable: bool = False


def _f(kind: str, help: str, **kw: Any) -> FieldSpec:
    ops = {
        "string": EQUALITY,
        "ordered": EQUALITY + ORDERING,
        "bool": ("eq", "ne"),
        "number": ("eq", "ne", *ORDERING),
        "set": ("contains", "not_contains"),
        "text": ("contains", "not_contains", "contains_word"),
    }[kind]
    return FieldSpec(kind, ops, help, **kw)


FIELDS: dict[str, FieldSpec] = {
    "message.channel": _f("string", "channel of the message", choices=tuple(CHANNELS)),
    "message.text": _f("text", "text of the message (case and accents ignored)"),
    "message.public": _f("bool", "posted in public"),
    "message.language": _f("string", "detected language", choices=LANGUAGES),
    "message.author_followers": _f("number", "followers of the author (public networks)"),
    "triage.sentiment": _f("string", "sentiment label", choices=SENTIMENTS),
    "triage.complaint": _f("bool", "the message is a complaint"),
    "triage.intents": _f(
        "set", "intents at or above `threshold` (0.5)", choices=INTENTS, options=("threshold",)
    ),
    "triage.toxic": _f("bool", "insult or threat toward staff (score >= 0.5)"),
    "triage.urgency": _f("ordered", "urgency label (low < normal < high)", choices=URGENCIES),
    "triage.request_kind": _f("string", "kind of request", choices=REQUEST_KINDS, nullable=True),
    "triage.emotion": _f(
        "set", "emotions at or above `threshold` (0.5)", choices=EMOTIONS, options=("threshold",)
    ),
    "customer.tags": _f("set", "the customer's tags"),
    "customer.tier": _f("string", "the customer's value tier", nullable=True),
    "customer.lifetime_value": _f("number", "the customer's lifetime value"),
    "conversation.priority": _f("ordered", "priority (low < normal < high < urgent)", choices=PRIORITIES),
    "conversation.status": _f("string", "status", choices=STATUSES),
    "conversation.is_public": _f("bool", "has public messages"),
    "conversation.channel": _f("string", "channel the conversation started on", choices=tuple(CHANNELS)),
    "conversation.team": _f("string", "slug of the conversation's team (null: none)", nullable=True),
    "conversation.tags": _f("set", "the conversation's tags"),
    "conversation.assigned": _f("bool", "has an assignee"),
    "time.business_hours": _f("bool", "now is within business hours", options=("calendar",)),
    "time.weekday": _f("string", "local weekday (mon..sun)", choices=WEEKDAYS, options=("timezone",)),
    "time.hour": _f("number", "local hour, 0-23", options=("timezone",)),
}


# -- validation ------------------------------------------------------------------------------


def validate(node: Any, where: str = "conditions") -> dict[str, Any]:
    """Check a condition tree; raise Invalid naming the exact place and what is wrong."""
    count = [0]
    if node == {}:
        return node  # no conditions: the rule applies to every event it listens to
    _check(node, where, 0, count)
    return node


def _check(node: Any, where: str, depth: int, count: list[int]) -> None:
    if not isinstance(node, dict):
        raise Invalid(
            f"{where}: a condition is an object ({{'all': [...]}} or {{'field', 'op', 'value'}})", field=where
        )
    if depth > MAX_DEPTH:
        raise Invalid(f"{where}: conditions nest at most {MAX_DEPTH} deep", field=where)
    groups = [k for k in ("all", "any", "not") if k in node]
    if groups:
        if len(node) != 1:
            raise Invalid(
                f"{where}: a group has exactly one key (all, any or not), not {sorted(node)}", field=where
            )
        key = groups[0]
        if key == "not":
            _check(node["not"], f"{where}.not", depth + 1, count)
            return
        items = node[key]
        if not isinstance(items, list):
            raise Invalid(f"{where}.{key}: must be a list of conditions", field=f"{where}.{key}")
        for i, item in enumerate(items):
            _check(item, f"{where}.{key}[{i}]", depth + 1, count)
        return
    count[0] += 1
    if count[0] > MAX_TESTS:
        raise Invalid(f"{where}: a rule has at most {MAX_TESTS} tests", field=where)
    _check_test(node, where)


def _check_test(node: dict[str, Any], where: str) -> None:
    name = node.get("field")
    if not isinstance(name, str) or name not in FIELDS:
        raise Invalid(
            f"{where}.field: unknown field {name!r}; known: {', '.join(FIELDS)}"
            if "field" in node
            else f"{where}: give 'field', 'op' and 'value' (or a group: all, any, not)",
            field=f"{where}.field",
        )
    spec = FIELDS[name]
    allowed = {"field", "op", "value", *spec.options}
    extra = sorted(set(node) - allowed)
    if extra:
        raise Invalid(
            f"{where}: unknown key(s) {', '.join(extra)} for {name}; allowed: {', '.join(sorted(allowed))}",
            field=f"{where}.{extra[0]}",
        )
    op = node.get("op")
    if op not in spec.ops:
        raise Invalid(
            f"{where}.op: operator {op!r} does not apply to {name}; use one of {', '.join(spec.ops)}",
            field=f"{where}.op",
        )
    if "value" not in node:
        raise Invalid(f"{where}.value: missing", field=f"{where}.value")
    _check_value(spec, name, op, node["value"], f"{where}.value")
    _check_options(node, where)


def _check_value(spec: FieldSpec, name: str, op: str, value: Any, where: str) -> None:
    def bad(why: str) -> Invalid:
        return Invalid(f"{where}: {why} (field {name}, operator {op})", field=where)

    if spec.kind == "bool":
        if not isinstance(value, bool):
            raise bad("must be true or false")
        return
    if spec.kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad("must be a number")
        if name == "time.hour" and not 0 <= value <= 23:
            raise bad("an hour is 0-23")
        return
    listed = op in ("in", "not_in") or (spec.kind in ("set", "text") and isinstance(value, list))
    if listed:
        if not isinstance(value, list) or not value:
            raise bad("must be a non-empty list")
        values = value
    else:
        values = [value]
    for item in values:
        if item is None and spec.nullable and op in EQUALITY:
            continue
        if not isinstance(item, str) or not item.strip():
            raise bad(
                "must be a non-empty string" + (" or a list of them" if spec.kind in ("set", "text") else "")
            )
        if spec.choices is not None and item not in spec.choices:
            raise bad(f"unknown value {item!r}; known: {', '.join(spec.choices)}")
    if op in ORDERING and spec.kind == "ordered" and not isinstance(value, str):
        raise bad("must be one value")


def _check_options(node: dict[str, Any], where: str) -> None:
    if "threshold" in node:
        t = node["threshold"]
        if isinstance(t, bool) or not isinstance(t, int | float) or not 0 < t <= 1:
            raise Invalid(f"{where}.threshold: a probability in (0, 1]", field=f"{where}.threshold")
    if "timezone" in node:
        try:
            ZoneInfo(str(node["timezone"]))
        except (ZoneInfoNotFoundError, ValueError):
            raise Invalid(
                f"{where}.timezone: unknown time zone {node['timezone']!r}", field=f"{where}.timezone"
            ) from None
    if "calendar" in node and (not isinstance(node["calendar"], str) or not node["calendar"].strip()):
        raise Invalid(f"{where}.calendar: the name of a business calendar", field=f"{where}.calendar")


def fields_used(node: Any) -> set[str]:
    if not isinstance(node, dict):
        return set()
    if "not" in node:
        return fields_used(node["not"])
    for key in ("all", "any"):
        if key in node:
            return set().union(*(fields_used(n) for n in node[key])) if node[key] else set()
    return {node["field"]} if "field" in node else set()


# -- evaluation ------------------------------------------------------------------------------


@dataclass
class Context:
    """What a rule looks at for one event; loaded lazily and once."""

    session: Session
    at: datetime
    conversation_id: int | None
    message: Message | None
    _conversation: Any = MISSING
    _customer: Any = MISSING
    _folded: str | None = None
    _cache: dict[str, Any] = field(default_factory=dict)

    @property
    def triage(self) -> dict[str, Any] | None:
        triage = self.message.triage if self.message is not None else None
        return triage if isinstance(triage, dict) else None

    @property
    def conversation(self) -> Conversation | None:
        # Loaded only when a test or an action needs it: most rules look at the message alone.
        if self._conversation is MISSING:
            self._conversation = (
                self.session.get(Conversation, self.conversation_id)
                if self.conversation_id is not None
                else None
            )
        return self._conversation

    @property
    def customer(self) -> Customer | None:
        if self._customer is MISSING:
            customer_id = (
                self.message.customer_id
                if self.message is not None and self.message.customer_id is not None
                else (self.conversation.customer_id if self.conversation is not None else None)
            )
            self._customer = self.session.get(Customer, customer_id) if customer_id is not None else None
        return self._customer

    def folded_text(self) -> str:
        if self._folded is None:
            self._folded = fold(self.message.text or "") if self.message is not None else ""
        return self._folded


def _scores_over(scores: Any, threshold: float) -> list[str]:
    if not isinstance(scores, dict):
        return []
    return [str(k) for k, v in scores.items() if isinstance(v, int | float) and v >= threshold]


def _local(ctx: Context, node: dict[str, Any]) -> datetime:
    return ctx.at.astimezone(ZoneInfo(str(node.get("timezone", DEFAULT_TIMEZONE))))


def _in_business_hours(ctx: Context, node: dict[str, Any]) -> Any:
    from cuida.sla.calendar import BusinessCalendar
    from cuida.sla.models import SlaCalendar

    name = node.get("calendar")
    key = f"calendar:{name}"
    if key not in ctx._cache:
        if name is None:
            ctx._cache[key] = BusinessCalendar.from_spec(timezone=DEFAULT_TIMEZONE, hours=DEFAULT_HOURS)
        else:
            row = ctx.session.scalar(select(SlaCalendar).where(SlaCalendar.name == name))
            ctx._cache[key] = (
                None
                if row is None
                else BusinessCalendar.from_spec(timezone=row.timezone, hours=row.hours, holidays=row.holidays)
            )
    calendar = ctx._cache[key]
    if calendar is None:
        return MISSING
    begin, _ = next(calendar.intervals_from(ctx.at))
    return begin <= ctx.at


def actual(ctx: Context, node: dict[str, Any]) -> Any:
    """The value of the test's field for this event, or MISSING."""
    name = node["field"]
    domain, _, attr = name.partition(".")
    if domain == "message" or domain == "triage":
        message = ctx.message
        if message is None:
            return MISSING
        if domain == "message":
            if attr == "text":
                return ctx.folded_text()
            return getattr(message, attr)
        triage = ctx.triage
        if triage is None:
            return MISSING
        if attr == "sentiment":
            return (triage.get("sentiment") or {}).get("label", MISSING)
        if attr == "complaint":
            return bool((triage.get("complaint") or {}).get("label", False))
        if attr in ("intents", "emotion"):
            return _scores_over(triage.get(attr), float(node.get("threshold", 0.5)))
        if attr == "toxic":
            tox = triage.get("toxicity") or {}
            return max(float(tox.get("insult", 0.0)), float(tox.get("threat", 0.0))) >= 0.5
        if attr == "urgency":
            return (triage.get("urgency") or {}).get("label", MISSING)
        if attr == "request_kind":
            return triage.get("request_kind")
    if domain == "customer":
        customer = ctx.customer
        if customer is None:
            return MISSING
        if attr == "tags":
            return list(customer.tags or [])
        if attr == "lifetime_value":
            return None if customer.lifetime_value is None else float(customer.lifetime_value)
        return customer.tier
    if domain == "conversation":
        conversation = ctx.conversation
        if conversation is None:
            return MISSING
        if attr == "priority":
            return PRIORITIES[conversation.priority]
        if attr == "team":
            from cuida.auth.models import Team

            team = ctx.session.get(Team, conversation.team_id) if conversation.team_id is not None else None
            return team.slug if team is not None else None
        if attr == "tags":
            return list(conversation.tags or [])
        if attr == "assigned":
            return conversation.assignee_id is not None
        return getattr(conversation, attr)
    if name == "time.business_hours":
        return _in_business_hours(ctx, node)
    if name == "time.weekday":
        return WEEKDAYS[_local(ctx, node).weekday()]
    if name == "time.hour":
        return _local(ctx, node).hour
    return MISSING


@lru_cache(maxsize=2048)
def _matcher(needles: tuple[str, ...], whole_words: bool) -> re.Pattern[str]:
    """One compiled pattern for any of the folded needles (as whole words, or anywhere)."""
    alternatives = "|".join(re.escape(fold(n)) for n in needles)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)" if whole_words else f"(?:{alternatives})")


def _rank(spec: FieldSpec, value: Any) -> int:
    assert spec.choices is not None
    return spec.choices.index(value)


def run_test(ctx: Context, node: dict[str, Any]) -> tuple[bool, Any]:
    """(holds, the actual value) for one test."""
    spec = FIELDS[node["field"]]
    op, expected = node["op"], node["value"]
    value = actual(ctx, node)
    if value is MISSING:
        return False, None
    if spec.kind in ("set", "text"):
        wanted = expected if isinstance(expected, list) else [expected]
        if spec.kind == "text":
            text = str(value)
            found = _matcher(tuple(wanted), op == "contains_word").search(text) is not None
            shown: Any = (
                [w for w in wanted if _matcher((w,), op == "contains_word").search(text)] if found else []
            )
        else:
            have = {fold(str(v)) for v in value}
            found = any(fold(w) in have for w in wanted)
            shown = sorted(value)
        return (found if op != "not_contains" else not found), shown
    if isinstance(value, Decimal):
        value = float(value)
    if op == "eq":
        return value == expected, value
    if op == "ne":
        return value != expected, value
    if op == "in":
        return value in expected, value
    if op == "not_in":
        return value not in expected, value
    if value is None:
        return False, None
    if spec.kind == "ordered":
        left, right = _rank(spec, value), _rank(spec, expected)
    else:
        left, right = value, expected
    holds = {"gt": left > right, "gte": left >= right, "lt": left < right, "lte": left <= right}[op]
    return holds, value


def evaluate(
    ctx: Context, node: dict[str, Any], trace: list[dict[str, Any]] | None = None, where: str = "conditions"
) -> bool:
    """Whether the tree holds. With `trace`, every test is evaluated (no short cut) and recorded
    as {where, field, op, value, actual, holds} — the dry run and the audit show them."""
    if not node:
        return True
    if "all" in node or "any" in node:
        key = "all" if "all" in node else "any"
        results = []
        for i, child in enumerate(node[key]):
            holds = evaluate(ctx, child, trace, f"{where}.{key}[{i}]")
            results.append(holds)
            if trace is None and holds == (key == "any"):
                return holds
        return all(results) if key == "all" else any(results)
    if "not" in node:
        return not evaluate(ctx, node["not"], trace, f"{where}.not")
    holds, value = run_test(ctx, node)
    if trace is not None:
        trace.append(
            {
                "where": where,
                "field": node["field"],
                "op": node["op"],
                "value": node["value"],
                "actual": value,
                "holds": holds,
            }
        )
    return holds
