"""Automation rules: evaluated on every new customer message (after triage) and on conversation
changes, in order, each match recorded; and canned replies with variables.

How it runs. A subscriber on the trigger events loads the enabled rules once per transaction
(cached in `session.info`; no rules, no further work) and evaluates those that listen to the event,
by (position, id). A rule that matches runs its actions in order, each in a savepoint (a failing
action is recorded and never fails the ingest or the change that triggered it), writes an
`automation_runs` row and publishes `automation.rule_applied`. `stop_processing` ends the
evaluation for that event. Later rules see what earlier ones changed.

Loops. Actions act as Actor("automation", rule id, rule name). (1) A run is keyed (rule,
"message:<id>") or (rule, "event:<id>") and unique in `automation_runs`, so a rule fires at most
once per message and per change. (2) A rule never reacts to an event its own actions caused.
(3) Events caused by automation are evaluated one level deep only: rule A's action may trigger rule
B, but what B's actions cause triggers nothing (`session.info` counts the nesting, since
subscribers run synchronously inside the publisher's transaction).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.orm import Session

from cuida.auth.models import Agent, Team
from cuida.automation import conditions as cond
from cuida.automation.models import AutomationRule, AutomationRun, CannedReply
from cuida.automation.schemas import (
    TRIGGERS,
    CannedCreate,
    CannedUpdate,
    Rendered,
    RuleCreate,
    RuleUpdate,
    TestResult,
)
from cuida.clock.service import now
from cuida.common.errors import Conflict, Invalid, NotFound
from cuida.conversations.models import PRIORITIES, Conversation, Message
from cuida.customers.models import Customer
from cuida.events.models import Event
from cuida.events.service import SYSTEM, Actor, publish, subscribe
from cuida.routing.models import MODES
from cuida.triage.schemas import ENTITY_TYPES

log = logging.getLogger(__name__)

_RULES = "cuida.automation.rules"
_DEPTH = "cuida.automation.depth"
_ACTING = "cuida.automation.acting"
_DELIVERIES = "cuida.automation.deliveries"
_DONE = "cuida.automation.done"
MAX_CHAIN = 2  # a rule's action may trigger other rules once; theirs trigger nothing


# -- actions: what each takes --------------------------------------------------------------------

TARGETS = ("conversation", "customer", "both")
NOTIFY_GROUPS = ("assignee", "team_leads", "managers")
ACTIONS: dict[str, dict[str, bool]] = {  # action -> {parameter: required}
    "set_priority": {"priority": True},
    "assign_team": {"team": True},
    "assign_agent": {"agent_id": True},
    "route": {"team": True, "mode": False},
    "add_tag": {"tag": True, "target": False},
    "apply_sla_policy": {"policy": True},
    "notify": {"to": True, "text": True},
    "send_canned_reply": {"canned": True, "language": False},
    "call_webhook": {"subscription_id": True},
}
_TAG = re.compile(r"^[\w][\w .:/-]{0,63}$", re.UNICODE)


def check_actions(session: Session, actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each action is known, has its parameters and names things that exist; else a 422 naming it."""
    from cuida.contactability.models import WebhookSubscription
    from cuida.sla.models import SlaPolicy

    for i, action in enumerate(actions):
        where = f"actions[{i}]"
        kind = action.get("type") if isinstance(action, dict) else None
        if kind not in ACTIONS:
            raise Invalid(
                f"{where}.type: unknown action {kind!r}; known: {', '.join(ACTIONS)}", field=f"{where}.type"
            )
        params = ACTIONS[kind]
        extra = sorted(set(action) - {"type", *params})
        if extra:
            raise Invalid(
                f"{where}: unknown parameter(s) {', '.join(extra)} for {kind}; "
                f"it takes {', '.join(params) or 'none'}",
                field=f"{where}.{extra[0]}",
            )
        for name, required in params.items():
            if required and action.get(name) in (None, "", []):
                raise Invalid(f"{where}.{name}: {kind} needs {name}", field=f"{where}.{name}")

        def bad(name: str, why: str, where: str = where) -> Invalid:
            return Invalid(f"{where}.{name}: {why}", field=f"{where}.{name}")

        if kind == "set_priority" and action["priority"] not in PRIORITIES:
            raise bad("priority", f"one of {', '.join(PRIORITIES)}")
        if kind in ("assign_team", "route") and _team_by_slug(session, action["team"]) is None:
            raise bad("team", f"no team with slug {action['team']!r}")
        if kind == "route" and action.get("mode") is not None and action["mode"] not in MODES:
            raise bad("mode", f"one of {', '.join(MODES)}")
        if kind == "assign_agent":
            agent = session.get(Agent, action["agent_id"]) if isinstance(action["agent_id"], int) else None
            if agent is None or not agent.active:
                raise bad("agent_id", f"agent {action['agent_id']!r} does not exist or is inactive")
        if kind == "add_tag":
            if not isinstance(action["tag"], str) or not _TAG.match(action["tag"]):
                raise bad("tag", "a tag is 1-64 letters, digits, spaces or . : / - _")
            if action.get("target", "conversation") not in TARGETS:
                raise bad("target", f"one of {', '.join(TARGETS)}")
        if (
            kind == "apply_sla_policy"
            and session.scalar(select(SlaPolicy.id).where(SlaPolicy.name == action["policy"])) is None
        ):
            raise bad("policy", f"no SLA policy named {action['policy']!r}")
        if kind == "notify":
            to = action["to"] if isinstance(action["to"], list) else [action["to"]]
            for who in to:
                if isinstance(who, int) and not isinstance(who, bool):
                    if session.get(Agent, who) is None:
                        raise bad("to", f"agent {who} does not exist")
                elif who not in NOTIFY_GROUPS:
                    raise bad("to", f"{who!r}: an agent id or one of {', '.join(NOTIFY_GROUPS)}")
            if not isinstance(action["text"], str) or len(action["text"]) > 2000:
                raise bad("text", "a text of at most 2000 characters")
            check_template(action["text"], f"{where}.text")
        if kind == "send_canned_reply":
            query = select(CannedReply.id).where(CannedReply.name == action["canned"])
            if action.get("language"):
                query = query.where(CannedReply.language == action["language"])
            if session.scalar(query.limit(1)) is None:
                raise bad(
                    "canned",
                    f"no canned reply named {action['canned']!r}"
                    + (f" in {action['language']!r}" if action.get("language") else ""),
                )
        if kind == "call_webhook":
            sub = action["subscription_id"]
            if not isinstance(sub, int) or session.get(WebhookSubscription, sub) is None:
                raise bad(
                    "subscription_id", f"no webhook subscription {sub!r} (create it under /api/v1/webhooks)"
                )
    return actions


def _check_rule(
    session: Session, triggers: list[str], conditions: dict[str, Any], actions: list[dict[str, Any]]
) -> None:
    for i, trigger in enumerate(triggers):
        if trigger not in TRIGGERS:
            raise Invalid(
                f"triggers[{i}]: unknown trigger {trigger!r}; known: {', '.join(TRIGGERS)}",
                field=f"triggers[{i}]",
            )
    cond.validate(conditions)
    check_actions(session, actions)


def _team_by_slug(session: Session, slug: Any) -> Team | None:
    return session.scalar(select(Team).where(Team.slug == str(slug)))


# -- rules CRUD ------------------------------------------------------------------------------------


def list_rules(*, session: Session) -> list[AutomationRule]:
    return list(session.scalars(select(AutomationRule).order_by(AutomationRule.position, AutomationRule.id)))


def get_rule(*, session: Session, rule_id: int) -> AutomationRule:
    row = session.get(AutomationRule, rule_id)
    if row is None:
        raise NotFound(f"automation rule {rule_id} does not exist")
    return row


def _unique_name(session: Session, name: str, own: int | None) -> None:
    found = session.scalar(select(AutomationRule.id).where(AutomationRule.name == name))
    if found is not None and found != own:
        raise Conflict(f"a rule named {name!r} exists already", field="name")


def create_rule(*, session: Session, data: RuleCreate, actor: Actor = SYSTEM) -> AutomationRule:
    _unique_name(session, data.name, None)
    triggers = list(dict.fromkeys(data.triggers))
    _check_rule(session, triggers, data.conditions, data.actions)
    at = now(session=session)
    row = AutomationRule(
        name=data.name,
        description=data.description,
        enabled=data.enabled,
        position=data.position,
        triggers=triggers,
        conditions=data.conditions,
        actions=data.actions,
        stop_processing=data.stop_processing,
        created_by=actor.name,
        created_at=at,
        updated_at=at,
    )
    session.add(row)
    session.flush()
    session.info.pop(_RULES, None)
    publish(
        session=session,
        type="automation.rule_created",
        actor=actor,
        payload={"rule_id": row.id, "name": row.name},
    )
    return row


def update_rule(*, session: Session, rule_id: int, data: RuleUpdate, actor: Actor = SYSTEM) -> AutomationRule:
    row = get_rule(session=session, rule_id=rule_id)
    if data.name is not None:
        _unique_name(session, data.name, row.id)
    triggers = list(dict.fromkeys(data.triggers)) if data.triggers is not None else row.triggers
    conditions = data.conditions if data.conditions is not None else row.conditions
    actions = data.actions if data.actions is not None else row.actions
    _check_rule(session, triggers, conditions, actions)
    changed = sorted(k for k in data.model_fields_set if getattr(data, k) is not None or k == "description")
    for name in changed:
        setattr(row, name, getattr(data, name))
    row.triggers = triggers
    row.updated_at = now(session=session)
    session.info.pop(_RULES, None)
    publish(
        session=session,
        type="automation.rule_updated",
        actor=actor,
        payload={"rule_id": row.id, "changed": changed},
    )
    return row


def delete_rule(*, session: Session, rule_id: int, actor: Actor = SYSTEM) -> None:
    row = get_rule(session=session, rule_id=rule_id)
    session.delete(row)  # its runs stay, with the rule's name (rule_id becomes null)
    session.info.pop(_RULES, None)
    publish(
        session=session,
        type="automation.rule_deleted",
        actor=actor,
        payload={"rule_id": rule_id, "name": row.name},
    )


def runs_of(*, session: Session, rule_id: int, limit: int = 100) -> list[AutomationRun]:
    get_rule(session=session, rule_id=rule_id)
    return list(
        session.scalars(
            select(AutomationRun)
            .where(AutomationRun.rule_id == rule_id)
            .order_by(AutomationRun.id.desc())
            .limit(limit)
        )
    )


# -- canned replies --------------------------------------------------------------------------------

_VARIABLE = re.compile(r"\{\{\s*([a-z_]+\.[a-z_]+)\s*(?:\|\s*([^}]*?)\s*)?\}\}")
VARIABLES = (
    "customer.name",
    "customer.first_name",
    "customer.company",
    "customer.tier",
    "agent.name",
    "agent.first_name",
    "conversation.id",
    "conversation.subject",
    "message.channel",
    "message.author_name",
    *(f"entities.{t}" for t in ENTITY_TYPES),
)


def check_template(body: str, where: str = "body") -> None:
    unknown = sorted({m.group(1) for m in _VARIABLE.finditer(body)} - set(VARIABLES))
    if unknown:
        raise Invalid(
            f"{where}: unknown variable(s) {', '.join(unknown)}; known: {', '.join(VARIABLES)}", field=where
        )
    leftover = _VARIABLE.sub("", body)
    if "{{" in leftover or "}}" in leftover:
        raise Invalid(
            f"{where}: a variable is written {{{{customer.name}}}} or {{{{customer.name | fallback}}}}",
            field=where,
        )


def _first_name(name: str | None) -> str | None:
    return name.split()[0] if name and name.split() else None


def _values(session: Session, conversation: Conversation, message: Message | None) -> dict[str, str | None]:
    customer = session.get(Customer, conversation.customer_id)
    agent = session.get(Agent, conversation.assignee_id) if conversation.assignee_id is not None else None
    values: dict[str, str | None] = {
        "customer.name": customer.name if customer else None,
        "customer.first_name": _first_name(customer.name if customer else None),
        "customer.company": customer.company if customer else None,
        "customer.tier": customer.tier if customer else None,
        "agent.name": agent.name if agent else None,
        "agent.first_name": _first_name(agent.name if agent else None),
        "conversation.id": str(conversation.id),
        "conversation.subject": conversation.subject,
        "message.channel": message.channel if message else conversation.channel,
        "message.author_name": message.author_name if message else None,
    }
    triage: dict[str, Any] = (
        message.triage if message is not None and isinstance(message.triage, dict) else {}
    )
    entities = triage.get("entities")
    for entity in entities if isinstance(entities, list) else []:
        if not isinstance(entity, dict):
            continue
        key = f"entities.{entity.get('type')}"
        if key in VARIABLES and values.get(key) is None:
            value = entity.get("value")
            values[key] = str(value if isinstance(value, str) and value else entity.get("text") or "") or None
    return values


def fill(body: str, values: dict[str, str | None]) -> tuple[str, list[str]]:
    """The text with each variable replaced (customer text goes in as plain text, one line, at most
    200 characters); the variables that had neither a value nor a fallback."""
    missing: list[str] = []

    def one(match: re.Match[str]) -> str:
        name, fallback = match.group(1), match.group(2)
        value = values.get(name)
        if value:
            return " ".join(str(value).split())[:200]
        if fallback is None:
            missing.append(name)
            return ""
        return fallback

    return _VARIABLE.sub(one, body), missing


def _latest_inbound(session: Session, conversation_id: int) -> Message | None:
    return session.scalar(
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.direction == "in")
        .order_by(Message.occurred_at.desc(), Message.id.desc())
        .limit(1)
    )


def render_canned(
    *, session: Session, canned_id: int, conversation_id: int, message_id: int | None = None
) -> Rendered:
    """A canned reply filled from the conversation's customer, assignee and a message (the given
    one, else the latest from the customer) and its triage entities. Nothing is sent."""
    canned = get_canned(session=session, canned_id=canned_id)
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound(f"conversation {conversation_id} does not exist")
    if message_id is not None:
        message = session.get(Message, message_id)
        if message is None or message.conversation_id != conversation.id:
            raise Invalid(
                f"message {message_id} is not in conversation {conversation_id}", field="message_id"
            )
    else:
        message = _latest_inbound(session, conversation.id)
    text, missing = fill(canned.body, _values(session, conversation, message))
    return Rendered(canned_id=canned.id, language=canned.language, text=text, missing=missing)


def list_canned(*, session: Session, language: str | None = None) -> list[CannedReply]:
    query = select(CannedReply).order_by(CannedReply.name, CannedReply.language)
    if language:
        query = query.where(CannedReply.language == language)
    return list(session.scalars(query))


def get_canned(*, session: Session, canned_id: int) -> CannedReply:
    row = session.get(CannedReply, canned_id)
    if row is None:
        raise NotFound(f"canned reply {canned_id} does not exist")
    return row


def _check_canned(session: Session, name: str, language: str, body: str, own: int | None) -> None:
    found = session.scalar(
        select(CannedReply.id).where(CannedReply.name == name, CannedReply.language == language)
    )
    if found is not None and found != own:
        raise Conflict(f"a canned reply named {name!r} in {language!r} exists already", field="name")
    check_template(body)
    _guard_tone(body.replace("{{", "").replace("}}", ""))


def create_canned(*, session: Session, data: CannedCreate, actor: Actor = SYSTEM) -> CannedReply:
    _check_canned(session, data.name, data.language, data.body, None)
    at = now(session=session)
    row = CannedReply(name=data.name, language=data.language, body=data.body, created_at=at, updated_at=at)
    session.add(row)
    session.flush()
    publish(
        session=session,
        type="canned_reply.created",
        actor=actor,
        payload={"canned_id": row.id, "name": row.name},
    )
    return row


def update_canned(
    *, session: Session, canned_id: int, data: CannedUpdate, actor: Actor = SYSTEM
) -> CannedReply:
    row = get_canned(session=session, canned_id=canned_id)
    name, language, body = data.name or row.name, data.language or row.language, data.body or row.body
    _check_canned(session, name, language, body, row.id)
    row.name, row.language, row.body = name, language, body
    row.updated_at = now(session=session)
    publish(session=session, type="canned_reply.updated", actor=actor, payload={"canned_id": row.id})
    return row


def delete_canned(*, session: Session, canned_id: int, actor: Actor = SYSTEM) -> None:
    row = get_canned(session=session, canned_id=canned_id)
    session.delete(row)
    publish(session=session, type="canned_reply.deleted", actor=actor, payload={"canned_id": canned_id})


def _guard_tone(text: str) -> None:
    """The tone guard that stops agents' replies stops canned ones too (422 `tone_guard`)."""
    from cuida.common.errors import ToneBlocked
    from cuida.triage.tone import ReplyContext, review_reply

    review = review_reply(text, ReplyContext())
    if review.ok:
        return
    blocking = [f for f in review.flags if f.severity == "block"]
    raise ToneBlocked(
        "the tone guard stopped this reply: " + "; ".join(f"{f.kind} in «{f.text}»" for f in blocking),
        field="body",
        details={"flags": [f.model_dump() for f in review.flags]},
    )


# -- evaluation ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleSnapshot:
    """A rule as evaluation uses it: plain data, cached for the transaction."""

    id: int
    name: str
    triggers: frozenset[str]
    conditions: dict[str, Any]
    actions: list[dict[str, Any]]
    stop_processing: bool
    needs_message: bool

    @property
    def actor(self) -> Actor:
        return Actor("automation", self.id, self.name)


def _snapshot(row: AutomationRule) -> RuleSnapshot:
    used = cond.fields_used(row.conditions or {})
    return RuleSnapshot(
        id=row.id,
        name=row.name,
        triggers=frozenset(row.triggers or []),
        conditions=row.conditions or {},
        actions=list(row.actions or []),
        stop_processing=row.stop_processing,
        # On conversation events the latest customer message is loaded only for rules that use it.
        needs_message=any(f.startswith(("message.", "triage.")) for f in used)
        or any(a.get("type") in ("notify", "send_canned_reply", "call_webhook") for a in row.actions or []),
    )


def enabled_rules(session: Session) -> list[RuleSnapshot]:
    """The enabled rules in order, read once per transaction."""
    cached = session.info.get(_RULES)
    if cached is None:
        rows = session.scalars(
            select(AutomationRule)
            .where(AutomationRule.enabled.is_(True))
            .order_by(AutomationRule.position, AutomationRule.id)
        )
        cached = session.info[_RULES] = [_snapshot(r) for r in rows]
    return list(cached)


@contextmanager
def _acting(session: Session, rule: RuleSnapshot) -> Iterator[None]:
    depth = session.info.get(_DEPTH, 0)
    acting: set[int] = session.info.setdefault(_ACTING, set())
    session.info[_DEPTH] = depth + 1
    acting.add(rule.id)
    try:
        yield
    finally:
        session.info[_DEPTH] = depth
        acting.discard(rule.id)


@subscribe(*TRIGGERS)
def _on_trigger(*, session: Session, event: Event) -> None:
    if session.info.get(_DEPTH, 0) >= MAX_CHAIN:
        return  # caused by a rule that was itself triggered by a rule: stop here
    rules = enabled_rules(session)
    if not rules:
        return
    relevant = [r for r in rules if event.type in r.triggers]
    if not relevant:
        return
    if event.type == "message.triaged":
        message = session.get(Message, event.message_id) if event.message_id is not None else None
        if message is None or message.direction != "in" or message.conversation_id is None:
            return
        conversation_id = message.conversation_id
    else:
        if event.conversation_id is None:
            return
        conversation_id = event.conversation_id
        message = None
        if any(r.needs_message for r in relevant):
            message = _latest_inbound(session, conversation_id)
    run_rules(session=session, event=event, rules=relevant, conversation_id=conversation_id, message=message)


def run_rules(
    *,
    session: Session,
    event: Event,
    rules: list[RuleSnapshot],
    conversation_id: int,
    message: Message | None,
) -> None:
    caused_by = event.actor_id if event.actor_type == "automation" else None
    acting: set[int] = session.info.get(_ACTING, set())
    # Runs added in this transaction (not flushed yet: the ingest transaction flushes at commit).
    done_here: set[tuple[int, str]] = session.info.setdefault(_DONE, set())
    ctx = cond.Context(
        session=session, at=now(session=session), conversation_id=conversation_id, message=message
    )
    for rule in rules:
        if rule.id == caused_by or rule.id in acting:
            continue  # a rule never reacts to what it did itself
        if not cond.evaluate(ctx, rule.conditions):
            continue
        conversation = ctx.conversation
        if conversation is None:
            return
        if event.type == "message.triaged":
            key = f"message:{event.message_id}"
        else:
            if event.id is None:
                session.flush()  # the event's id keys the run
            key = f"event:{event.id}"
        if (rule.id, key) in done_here or session.scalar(
            select(AutomationRun.id).where(AutomationRun.rule_id == rule.id, AutomationRun.dedupe_key == key)
        ):
            continue
        done_here.add((rule.id, key))
        trace: list[dict[str, Any]] = []
        cond.evaluate(ctx, rule.conditions, trace)
        matched = _jsonable([t for t in trace if t["holds"]])
        with _acting(session, rule):
            results = [_run_action(session, rule, action, conversation, message) for action in rule.actions]
        session.add(
            AutomationRun(
                rule_id=rule.id,
                rule_name=rule.name,
                trigger=event.type,
                dedupe_key=key,
                event_id=event.id,
                message_id=message.id if message is not None else None,
                conversation_id=conversation.id,
                matched=matched,
                actions=results,
                at=ctx.at,
            )
        )
        publish(
            session=session,
            type="automation.rule_applied",
            actor=rule.actor,
            customer_id=conversation.customer_id,
            conversation_id=conversation.id,
            message_id=message.id if message is not None else None,
            payload={
                "rule_id": rule.id,
                "rule": rule.name,
                "trigger": event.type,
                "trigger_event_id": event.id,
                "matched": matched,
                "actions": results,
            },
        )
        if rule.stop_processing:
            break


def _jsonable(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for item in items:
        value = item.get("actual")
        out.append(
            {
                **item,
                "actual": value if isinstance(value, str | int | float | bool | list | None) else str(value),
            }
        )
    return out


def _run_action(
    session: Session,
    rule: RuleSnapshot,
    action: dict[str, Any],
    conversation: Conversation,
    message: Message | None,
) -> dict[str, Any]:
    """Do one action in a savepoint; the result says what was done, skipped, or went wrong."""
    kind = str(action.get("type"))
    try:
        with session.begin_nested():
            result = _ACTIONS[kind](session, rule, action, conversation, message)
    except Exception as exc:
        log.warning("automation rule %s: action %s failed: %s", rule.id, kind, exc)
        return {"type": kind, "result": "error", "detail": str(getattr(exc, "message", exc))[:500]}
    return {"type": kind, **result}


def _do_set_priority(
    session: Session,
    rule: RuleSnapshot,
    action: dict[str, Any],
    conversation: Conversation,
    message: Message | None,
) -> dict[str, Any]:
    from cuida.conversations.schemas import ConversationUpdate
    from cuida.conversations.service import update_conversation

    if PRIORITIES[conversation.priority] == action["priority"]:
        return {"result": "unchanged", "priority": action["priority"]}
    update_conversation(
        session=session,
        conversation_id=conversation.id,
        data=ConversationUpdate(priority=action["priority"]),
        actor=rule.actor,
    )
    return {"result": "done", "priority": action["priority"]}


def _team_or_fail(session: Session, slug: str) -> Team:
    team = _team_by_slug(session, slug)
    if team is None:
        raise Invalid(f"no team with slug {slug!r}")
    return team


def _do_assign_team(
    session: Session,
    rule: RuleSnapshot,
    action: dict[str, Any],
    conversation: Conversation,
    message: Message | None,
) -> dict[str, Any]:
    from cuida.conversations.schemas import AssignRequest
    from cuida.conversations.service import assign

    team = _team_or_fail(session, action["team"])
    if conversation.team_id == team.id:
        return {"result": "unchanged", "team_id": team.id}
    # Moving to another team puts it in that team's queue (its members pick it up or a route does).
    assign(
        session=session,
        conversation_id=conversation.id,
        data=AssignRequest(agent_id=None, team_id=team.id),
        actor=rule.actor,
    )
    return {"result": "done", "team_id": team.id}


def _do_assign_agent(
    session: Session,
    rule: RuleSnapshot,
    action: dict[str, Any],
    conversation: Conversation,
    message: Message | None,
) -> dict[str, Any]:
    from cuida.conversations.schemas import AssignRequest
    from cuida.conversations.service import assign

    if conversation.assignee_id == action["agent_id"]:
        return {"result": "unchanged", "agent_id": action["agent_id"]}
    assign(
        session=session,
        conversation_id=conversation.id,
        data=AssignRequest(agent_id=action["agent_id"]),
        actor=rule.actor,
    )
    return {"result": "done", "agent_id": action["agent_id"]}


def _do_route(
    session: Session,
    rule: RuleSnapshot,
    action: dict[str, Any],
    conversation: Conversation,
    message: Message | None,
) -> dict[str, Any]:
    from cuida.routing.service import route

    team = _team_or_fail(session, action["team"])
    routed = route(
        session=session,
        conversation_id=conversation.id,
        team_id=team.id,
        mode=action.get("mode"),
        actor=rule.actor,
    )
    return {
        "result": "done" if routed.agent_id is not None else "queued",
        "team_id": team.id,
        "agent_id": routed.agent_id,
        "mode": routed.mode,
        "reason": routed.reason,
    }


def _do_add_tag(
    session: Session,
    rule: RuleSnapshot,
    action: dict[str, Any],
    conversation: Conversation,
    message: Message | None,
) -> dict[str, Any]:
    tag, target = action["tag"], action.get("target", "conversation")
    added = []
    if target in ("conversation", "both") and tag not in (conversation.tags or []):
        conversation.tags = [*(conversation.tags or []), tag]
        added.append("conversation")
    if target in ("customer", "both"):
        customer = session.get(Customer, conversation.customer_id)
        if customer is not None and tag not in (customer.tags or []):
            customer.tags = [*(customer.tags or []), tag]
            added.append("customer")
    if added:
        publish(
            session=session,
            type="automation.tagged",
            actor=rule.actor,
            customer_id=conversation.customer_id,
            conversation_id=conversation.id,
            payload={"tag": tag, "on": added},
        )
    return {"result": "done" if added else "unchanged", "tag": tag, "on": added}


def _do_apply_sla_policy(
    session: Session,
    rule: RuleSnapshot,
    action: dict[str, Any],
    conversation: Conversation,
    message: Message | None,
) -> dict[str, Any]:
    from cuida.sla.service import force_policy

    restarted = force_policy(session=session, conversation_id=conversation.id, policy_name=action["policy"])
    return {"result": "done", "policy": action["policy"], "clocks": restarted}


def _do_notify(
    session: Session,
    rule: RuleSnapshot,
    action: dict[str, Any],
    conversation: Conversation,
    message: Message | None,
) -> dict[str, Any]:
    from cuida.notifications.service import leads_of, managers, notify

    to = action["to"] if isinstance(action["to"], list) else [action["to"]]
    agents: set[int] = set()
    for who in to:
        if who == "assignee":
            if conversation.assignee_id is not None:
                agents.add(conversation.assignee_id)
        elif who == "team_leads":
            agents.update(
                leads_of(session=session, team_id=conversation.team_id)
                if conversation.team_id
                else managers(session=session)
            )
        elif who == "managers":
            agents.update(managers(session=session))
        else:
            agents.add(int(who))
    if not agents:
        return {"result": "skipped", "detail": "nobody to notify"}
    text, _ = fill(action["text"], _values(session, conversation, message))
    notify(
        session=session,
        agent_ids=agents,
        kind="automation",
        text=text,
        conversation_id=conversation.id,
        customer_id=conversation.customer_id,
        payload={"rule_id": rule.id, "rule": rule.name},
        actor=rule.actor,
    )
    return {"result": "done", "agent_ids": sorted(agents)}


def _do_send_canned_reply(
    session: Session,
    rule: RuleSnapshot,
    action: dict[str, Any],
    conversation: Conversation,
    message: Message | None,
) -> dict[str, Any]:
    from cuida.conversations.schemas import ReplyCreate
    from cuida.conversations.service import add_reply
    from cuida.triage.tone import ReplyContext, review_reply

    language = action.get("language") or (message.language if message is not None else None) or "es"
    candidates = session.scalars(select(CannedReply).where(CannedReply.name == action["canned"])).all()
    canned = next((c for c in candidates if c.language == language), None) or next(
        (c for c in sorted(candidates, key=lambda c: (c.language != "es", c.id))), None
    )
    if canned is None:
        return {"result": "error", "detail": f"no canned reply named {action['canned']!r}"}
    text, missing = fill(canned.body, _values(session, conversation, message))
    if missing:
        return {"result": "skipped", "canned_id": canned.id, "detail": f"no value for {', '.join(missing)}"}
    review = review_reply(text, ReplyContext(language=canned.language))
    if not review.ok:
        flags = [f.kind for f in review.flags if f.severity == "block"]
        return {"result": "blocked", "canned_id": canned.id, "detail": f"tone guard: {', '.join(flags)}"}
    reply, delivery = add_reply(
        session=session,
        conversation_id=conversation.id,
        data=ReplyCreate(text=text),
        actor=rule.actor,
        agent_id=None,
    )
    session.info.setdefault(_DELIVERIES, []).append(delivery.id)
    return {"result": "done", "canned_id": canned.id, "message_id": reply.id, "delivery_id": delivery.id}


def _do_call_webhook(
    session: Session,
    rule: RuleSnapshot,
    action: dict[str, Any],
    conversation: Conversation,
    message: Message | None,
) -> dict[str, Any]:
    # Reuses the contactability outbox: the row, its retry timer, the signature and the send after commit.
    from cuida.contactability import webhooks
    from cuida.contactability.models import WebhookDelivery, WebhookSubscription

    subscription = session.get(WebhookSubscription, action["subscription_id"])
    if subscription is None:
        return {"result": "error", "detail": f"webhook subscription {action['subscription_id']} is gone"}
    at = now(session=session)
    delivery = WebhookDelivery(
        subscription_id=subscription.id,
        event=WEBHOOK_EVENT,
        payload={
            "event": WEBHOOK_EVENT,
            "rule": {"id": rule.id, "name": rule.name},
            "conversation": {
                "id": conversation.id,
                "customer_id": conversation.customer_id,
                "channel": conversation.channel,
                "status": conversation.status,
                "priority": PRIORITIES[conversation.priority],
                "team_id": conversation.team_id,
                "assignee_id": conversation.assignee_id,
                "tags": list(conversation.tags or []),
            },
            "message": None
            if message is None
            else {
                "id": message.id,
                "channel": message.channel,
                "text": message.text,
                "language": message.language,
            },
            "at": at.isoformat(),
        },
        status="pending",
        attempts=0,
        next_attempt_at=at,
        created_at=at,
    )
    session.add(delivery)
    session.flush()
    webhooks._arm(session, delivery)
    return {"result": "done", "subscription_id": subscription.id, "delivery_id": delivery.id}


WEBHOOK_EVENT = "automation.webhook"
_ACTIONS = {
    "set_priority": _do_set_priority,
    "assign_team": _do_assign_team,
    "assign_agent": _do_assign_agent,
    "route": _do_route,
    "add_tag": _do_add_tag,
    "apply_sla_policy": _do_apply_sla_policy,
    "notify": _do_notify,
    "send_canned_reply": _do_send_canned_reply,
    "call_webhook": _do_call_webhook,
}


@sa_event.listens_for(Session, "after_commit")
def _deliver_after_commit(session: Session) -> None:
    """Canned replies sent by rules go to the delivery queue once committed (the reconciler
    would find them anyway: this only saves its interval)."""
    if session.in_nested_transaction():
        return
    session.info.pop(_RULES, None)  # the next transaction reads the rules afresh
    session.info.pop(_DONE, None)
    ids = session.info.pop(_DELIVERIES, None)
    if not ids:
        return
    from cuida.runtime import current

    try:
        runtime = current()
    except RuntimeError:
        return
    for delivery_id in ids:
        try:
            runtime.enqueue_delivery(delivery_id)
        except Exception:
            log.exception("delivery %s could not be enqueued; the reconciler will", delivery_id)


@sa_event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    if not session.in_nested_transaction():
        for key in (_DELIVERIES, _RULES, _DONE):
            session.info.pop(key, None)


# -- dry run ---------------------------------------------------------------------------------------


def dry_run(
    *, session: Session, message_id: int, rule_id: int | None = None, draft: RuleCreate | None = None
) -> TestResult:
    """Evaluate a stored rule or a draft against a stored message: which tests hold, and what would
    be done. Nothing is changed or recorded."""
    if (rule_id is None) == (draft is None):
        raise Invalid("give either rule_id (a stored rule) or rule (a draft)", field="rule_id")
    if draft is not None:
        _check_rule(session, list(draft.triggers), draft.conditions, draft.actions)
        conditions, actions = draft.conditions, draft.actions
    else:
        assert rule_id is not None
        row = get_rule(session=session, rule_id=rule_id)
        conditions, actions = row.conditions or {}, list(row.actions or [])
    message = session.get(Message, message_id)
    if message is None:
        raise NotFound(f"message {message_id} does not exist")
    ctx = cond.Context(
        session=session, at=now(session=session), conversation_id=message.conversation_id, message=message
    )
    trace: list[dict[str, Any]] = []
    matched = cond.evaluate(ctx, conditions, trace)
    return TestResult(matched=matched, conditions=_jsonable(trace), actions=actions if matched else [])
