"""Replaying a story through Cuida's public HTTP API, the way integrations and agents use it.

The replayer makes only public API calls, so a replay exercises exactly what a real deployment
does. It is safe to run twice: inbound messages carry deterministic external ids, customers and
teams that exist are reused, and a reply whose text is already on the timeline is not sent again.

Two ways to place a story in time:
- `use_clock=True` (`cuida replay`): the server's manual clock is moved to each step, so
  replies, timers and events happen at story time.
- `use_clock=False` (the demo): the clock is left alone; messages carry `occurred_at`, and the
  story is placed so that its last step lies an hour in the past.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import httpx
from rich.console import Console

from cuida.customers.identity import EMAIL_CHANNELS, PHONE_CHANNELS, IdentityError, identity_key
from cuida.demo.stories import (
    Observation,
    ReplayError,
    Step,
    Story,
    StoryCustomer,
    StoryIdentity,
    format_offset,
    load_story,
)

__all__ = ["Pending", "ReplayError", "Replayer", "Report", "StepResult"]

WAIT_SECONDS = 5  # how long the server may take to link, thread and triage each inbound message
DEMO_LAST_STEP_AGO = timedelta(hours=1)
TEAM_KINDS = ("social", "call_centre", "claims", "sales", "marketing")


class Pending(NamedTuple):
    """Something a step asks for that a later feature will handle; recorded, never sent."""

    feature: str
    detail: str


@dataclass
class StepResult:
    index: int
    offset: timedelta
    at: datetime
    kind: str
    channel: str | None
    done: str = ""
    ids: dict[str, int] = field(default_factory=dict)
    expectations: list[str] = field(default_factory=list)
    pending: list[Pending] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # What the server answered at this step, for whoever checks the story's expectations:
    # "contactability" (per identity), "commitments" (confirmed from a reply), "goodwill".
    answers: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        where = f"{self.channel} {self.kind}" if self.channel else self.kind
        return f"+{format_offset(self.offset):<8} {where:<18} {self.done}"


@dataclass
class Report:
    story: str
    source: str
    start: datetime
    customer_id: int | None = None
    steps: list[StepResult] = field(default_factory=list)

    @property
    def pending_features(self) -> dict[str, int]:
        """How many steps ask for each feature not built yet."""
        counts: dict[str, int] = {}
        for step in self.steps:
            for item in step.pending:
                counts[item.feature] = counts.get(item.feature, 0) + 1
        return counts

    @property
    def expectation_count(self) -> int:
        return sum(len(step.expectations) for step in self.steps)

    def summary(self) -> str:
        who = f", customer {self.customer_id}" if self.customer_id else ""
        lines = [f"Story {self.story} ({self.source}), started {self.start.isoformat()}{who}:"]
        for step in self.steps:
            lines.append(f"  {step.line()}")
            lines.extend(f"  {'':9} note: {note}" for note in step.notes)
            lines.extend(f"  {'':9} pending {item.feature}: {item.detail}" for item in step.pending)
            lines.extend(f"  {'':9} expect: {expectation}" for expectation in step.expectations)
        if self.expectation_count:
            lines.append(
                f"{self.expectation_count} expectations listed beside their steps, to read against "
                "what each step did (the test suite checks them; a replay only reports)."
            )
        if self.pending_features:
            counts = ", ".join(f"{feature} ({n})" for feature, n in sorted(self.pending_features.items()))
            lines.append(f"Pending features: {counts}.")
        return "\n".join(lines)


@dataclass
class _Progress:
    """What a replay has learned so far, to aim outbound steps at the right person."""

    story: Story
    customer_id: int | None = None
    inbound: list[tuple[Step, dict[str, Any]]] = field(default_factory=list)  # (step, the server's Accepted)

    def external_id(self, step: Step) -> str:
        return f"{self.story.name}-{step.index}"


class Replayer:
    """Replays stories against the Cuida that `client` points at (base_url and an admin token)."""

    def __init__(
        self,
        client: httpx.Client,
        console: Console | None = None,
        *,
        use_clock: bool = True,
        agents: Mapping[str, httpx.Client] | None = None,
    ) -> None:
        """`agents`: clients logged in as an agent of each team (by slug). A step written by
        `agent:<team>` acts through that agent, so replies, promises and goodwill carry a real
        owner and that agent's authority; without one, the admin `client` acts."""
        self.client = client
        self.console = console
        self.use_clock = use_clock
        self.agents = dict(agents or {})
        self._where = ""  # the story and step being replayed, for error messages

    # -- entry points -------------------------------------------------------------------------
    def replay_file(self, path: Path, start: str | None = None) -> Report:
        return self.replay_story(load_story(Path(path)), start=start)

    def replay_story(
        self,
        story: Story,
        start: str | datetime | None = None,
        on_step: Callable[[Step, StepResult], None] | None = None,
        on_reading: Callable[[Step, StepResult], None] | None = None,
    ) -> Report:
        """Replay every step in order; `on_step` is called after each one, with the clock still at
        that step's time (checks of a step's expectations go there). A step's `engagement:` readings
        are posted as snapshots of its message at their own times, merged with the steps by time
        (readings of a viral post can span days, past later steps); `on_reading` is called after
        each, with a result of kind "snapshot" (also in the report, in time order)."""
        self._where = story.source
        begin = self._start(story, start)
        report = Report(story=story.name, source=story.source, start=begin)
        if self.console:
            self.console.print(f"[bold]{story.name}[/] from {begin.isoformat()}", highlight=False)
        teams = self._ensure_teams(story.teams)
        progress = _Progress(story)
        if story.customer is not None:
            progress.customer_id = report.customer_id = self._ensure_customer(story.customer)
        for step, reading in _in_time_order(story):
            if reading is not None:
                self._where = f"{story.source}: step {step.index}, reading at {format_offset(reading.at)}"
                result = self._reading(step, reading, begin + reading.at, progress)
                report.steps.append(result)
                if on_reading is not None:
                    on_reading(step, result)
                continue
            self._where = f"{story.source}: step {step.index} (at {step.raw_at})"
            result = self._replay_step(step, begin + step.at, progress, teams)
            report.steps.append(result)
            if on_step is not None:
                on_step(step, result)
            if self.console:
                self.console.print(f"  {result.line()}", markup=False, highlight=False)
        return report

    # -- time ---------------------------------------------------------------------------------
    def _start(self, story: Story, start: str | datetime | None) -> datetime:
        chosen = _parse_start(start, story.source) if start is not None else None
        clock = self._call("GET", "/api/v1/admin/clock").json()
        server_now = datetime.fromisoformat(clock["now"])
        if not self.use_clock:
            last = max([story.last_offset, *(r.at for _, r in _in_time_order(story) if r is not None)])
            return chosen or server_now - last - DEMO_LAST_STEP_AGO
        if not clock["manual"]:
            raise ReplayError(
                f"{story.source}: the server's manual clock is off; start Cuida with "
                "CUIDA_MANUAL_CLOCK=1 to replay stories in story time"
            )
        if chosen is not None and chosen < server_now:
            raise ReplayError(
                f"{story.source}: the story would start at {chosen.isoformat()}, but the "
                f"server's clock is already at {server_now.isoformat()} and only moves "
                "forward; give a later start, or none to start now"
            )
        return chosen or server_now

    def _move_clock(self, to: datetime) -> None:
        self._call("PUT", "/api/v1/admin/clock", json={"now": to.isoformat()})

    # -- setup --------------------------------------------------------------------------------
    def _ensure_teams(self, slugs: list[str]) -> dict[str, int]:
        """Team ids by slug, creating the teams that do not exist yet."""
        for slug in slugs:
            kind = next((k for k in TEAM_KINDS if k.replace("_", "-") in slug), "care")
            team = {"slug": slug, "name": slug.replace("-", " ").capitalize(), "kind": kind}
            self._call("POST", "/api/v1/teams", json=team, tolerate=(409,))
        if not slugs:
            return {}
        return {team["slug"]: team["id"] for team in self._call("GET", "/api/v1/teams").json()}

    def _ensure_customer(self, spec: StoryCustomer) -> int:
        """Create the story's customer; if one of the identities is known, reuse its owner."""
        body: dict[str, Any] = {
            "name": spec.name,
            "company": spec.company,
            "identities": [{"channel": i.channel, "value": i.value} for i in spec.identities],
            "attributes": spec.value,
        }
        spend = spec.value.get("lifetime_spend_eur")
        if isinstance(spend, int | float):
            body["lifetime_value"] = spend
        response = self._call("POST", "/api/v1/customers", json=body, tolerate=(409,))
        if response.status_code != 409:
            return int(response.json()["id"])
        owner = next((c for c in map(self._owner_of, spec.identities) if c is not None), None)
        if owner is None:
            raise ReplayError(f"{self._where}: {_error_message(response)}")
        known = {(i["channel"], i["value"]) for i in owner["identities"]}
        for identity in spec.identities:
            if _key(identity.channel, identity.value) not in known:
                # 409 here: that identity belongs to someone else; merging is a person's decision.
                self._call(
                    "POST",
                    f"/api/v1/customers/{owner['id']}/identities",
                    json={"channel": identity.channel, "value": identity.value},
                    tolerate=(409,),
                )
        missing = {k: v for k, v in (("name", spec.name), ("company", spec.company)) if v and not owner[k]}
        if missing:
            self._call("PATCH", f"/api/v1/customers/{owner['id']}", json=missing)
        return int(owner["id"])

    def _owner_of(self, identity: StoryIdentity) -> dict[str, Any] | None:
        key = _key(identity.channel, identity.value)
        if key is None:
            return None
        found = self._call("GET", "/api/v1/customers", params={"q": key[1], "limit": 100}).json()
        return next((c for c in found if key in {(i["channel"], i["value"]) for i in c["identities"]}), None)

    # -- steps --------------------------------------------------------------------------------
    def _replay_step(
        self, step: Step, at: datetime, progress: _Progress, teams: dict[str, int]
    ) -> StepResult:
        result = StepResult(
            index=step.index,
            offset=step.at,
            at=at,
            kind=step.kind,
            channel=step.channel,
            expectations=list(step.expect),
            pending=_pending(step),
        )
        if self.use_clock:
            self._move_clock(at)
        if step.kind == "checkpoint":
            result.done = "clock moved; expectations only" if self.use_clock else "expectations only"
        elif step.kind == "query":
            self._query(step, progress, result)
        elif step.kind == "inbound":
            self._inbound(step, at, progress, result)
        else:
            self._outbound(step, at, progress, result, teams)
            if step.goodwill:
                self._goodwill(step, progress, result)
        return result

    def _reading(self, step: Step, reading: Observation, at: datetime, progress: _Progress) -> StepResult:
        """Post one engagement reading of a step's message as a snapshot of its mention."""
        result = StepResult(index=step.index, offset=reading.at, at=at, kind="snapshot", channel=step.channel)
        if self.use_clock:
            self._move_clock(at)
        named = ("reshares", "replies", "likes", "views")
        body: dict[str, Any] = {
            "channel": step.channel,
            "external_id": progress.external_id(step),
            "observed_at": at.isoformat(),
            **{k: v for k, v in reading.counts.items() if k in named},
            "counts": {k: v for k, v in reading.counts.items() if k not in named},
        }
        response = self._call("POST", "/api/v1/mentions/snapshots", json=body, tolerate=(404,))
        counts = ", ".join(f"{v} {k}" for k, v in reading.counts.items())
        if response.status_code == 404:
            result.done = f"{counts}: not recorded ({_error_message(response)})"
            return result
        answer = response.json()
        mention = answer["mention"]
        result.answers["snapshot"] = answer
        result.ids.update(mention_id=mention["id"], message_id=mention["message_id"])
        if answer.get("alert_id"):
            result.ids["alert_id"] = answer["alert_id"]
        forecast = mention.get("forecast")
        result.done = f"snapshot of mention {mention['id']}: {counts}"
        if forecast:
            result.done += (
                f"; forecast {forecast['final']:.0f} {forecast['metric']} "
                f"(80%: {forecast['low']:.0f}-{forecast['high']:.0f}), risk {mention['risk_score']:.2f}"
            )
        if answer.get("alert_id"):
            result.done += f"; crisis alert {answer['alert_id']}"
        return result

    def _inbound(self, step: Step, at: datetime, progress: _Progress, result: StepResult) -> None:
        author: dict[str, Any] = {"value": step.author}
        if step.author_followers is not None:
            author["followers"] = step.author_followers
        accepted = self._post_message(
            {
                "channel": step.channel,
                "external_id": progress.external_id(step),
                "direction": "in",
                "author": author,
                "text": step.text,
                "public": bool(step.public),
                "occurred_at": at.isoformat(),
                "metadata": {"story": progress.story.name, "step": step.index},
            },
            result,
        )
        progress.inbound.append((step, accepted))
        result.done = (
            f"message {accepted['message_id']} from {step.author} → customer "
            f"{accepted['customer_id']}, conversation {accepted['conversation_id']}"
        )

    def _outbound(
        self, step: Step, at: datetime, progress: _Progress, result: StepResult, teams: dict[str, int]
    ) -> None:
        """A reply on the customer's conversation; logged as an outbound message when there is none.
        A sales or marketing contact is always logged as such, never as a reply to a case."""
        assert step.channel is not None and step.text is not None
        customer_id, parent = _reply_target(step, progress)
        if customer_id is None:
            raise ReplayError(
                f"{self._where}: nobody to write to: give the story a customer, or put an "
                "inbound step before this one"
            )
        team_id = teams.get(step.team) if step.team else None
        public = step.public if step.public is not None else bool(parent and parent.public)
        purpose = _outreach_purpose(step)
        if purpose is not None:
            self._log_outbound(step, at, progress, None, None, public, result, customer_id, purpose)
            return
        recipient = parent.author if parent else None
        if not self.use_clock:
            # Logged with occurred_at, so the demo timeline shows it in its place.
            recipient = recipient or self._recipient_on(customer_id, step.channel)
            if recipient:
                self._log_outbound(step, at, progress, recipient, parent, public, result)
                self._hand_to_team(result, team_id)
                self._confirm_promises(step, customer_id, result)
                return
        conversation = self._latest_conversation(customer_id, step.channel)
        if conversation is not None:
            if not self.use_clock:
                result.notes.append(f"placed at the current time: no {step.channel} identity to log it to")
            # The answering team owns the case before it answers, so its promises are the team's.
            result.ids["conversation_id"] = conversation["id"]
            self._hand_to_team(result, team_id)
            self._reply(step, conversation, public, result)
            self._confirm_promises(step, customer_id, result)
            return
        recipient = recipient or self._recipient_on(customer_id, step.channel)
        if recipient is None:
            raise ReplayError(
                f"{self._where}: customer {customer_id} has no conversation yet and no "
                f"identity to write to on {step.channel}"
            )
        self._log_outbound(step, at, progress, recipient, parent, public, result)
        self._hand_to_team(result, team_id)
        self._confirm_promises(step, customer_id, result)

    def _reply(self, step: Step, conversation: dict[str, Any], public: bool, result: StepResult) -> None:
        already = self._sent_before(conversation["customer_id"], step)
        if already is not None:
            result.ids.update(message_id=already["message_id"], conversation_id=already["conversation_id"])
            result.done = f"reply already there (message {already['message_id']})"
            return
        response = self._call(
            "POST",
            f"/api/v1/conversations/{conversation['id']}/replies",
            json={"text": step.text, "channel": step.channel, "public": public},
            tolerate=(422,),
            client=self._acting(step),
        )
        if response.status_code == 422:
            error = response.json().get("error", {})
            if error.get("code") != "tone_guard":
                raise ReplayError(f"{self._where}: reply refused: {_error_message(response)}")
            # Some stories send a contemptuous draft on purpose: the hub must stop it.
            result.done = f"stopped by the tone guard: {error.get('message')}"
            return
        reply = response.json()
        result.ids.update(
            message_id=reply["message"]["id"],
            conversation_id=conversation["id"],
            delivery_id=reply["delivery"]["id"],
        )
        visibility = "public" if public else "private"
        result.done = (
            f"{visibility} reply {reply['message']['id']} in conversation {conversation['id']} "
            f"(delivery {reply['delivery']['id']}: {reply['delivery']['status']})"
        )

    def _log_outbound(
        self,
        step: Step,
        at: datetime,
        progress: _Progress,
        recipient: str | None,
        parent: Step | None,
        public: bool,
        result: StepResult,
        customer_id: int | None = None,
        purpose: str | None = None,
    ) -> None:
        metadata: dict[str, Any] = {"story": progress.story.name, "step": step.index}
        if purpose:
            metadata["purpose"] = purpose  # what contactability checks outreach against
        body: dict[str, Any] = {
            "channel": step.channel,
            "external_id": progress.external_id(step),
            "direction": "out",
            "text": step.text,
            "public": public,
            "occurred_at": at.isoformat(),
            "metadata": metadata,
        }
        if recipient:
            body["recipient"] = recipient
        elif customer_id is not None:
            body["customer_id"] = customer_id
        if step.author:
            body["author"] = {"value": step.author, "name": step.team or step.author}
        if parent is not None:
            body["in_reply_to"] = progress.external_id(parent)
        accepted = self._post_message(body, result, client=self._acting(step))
        what = f"{purpose} contact" if purpose else "outbound message"
        result.done = (
            f"{what} {accepted['message_id']} to {recipient or f'customer {customer_id}'} logged in "
            f"conversation {accepted['conversation_id']}"
        )
        if purpose:
            result.answers["outreach_flagged"] = self._outreach_flagged(accepted["message_id"])
            if result.answers["outreach_flagged"]:
                result.done += "; flagged: the customer was not contactable"

    def _post_message(
        self, body: dict[str, Any], result: StepResult, client: httpx.Client | None = None
    ) -> dict[str, Any]:
        accepted: dict[str, Any] = self._call(
            "POST", "/api/v1/messages", params={"wait": WAIT_SECONDS}, json=body, client=client
        ).json()
        for key in ("message_id", "conversation_id", "customer_id"):
            if accepted[key]:
                result.ids[key] = accepted[key]
        if accepted["duplicate"]:
            result.notes.append("already stored by an earlier replay")
        if accepted["stage"] != "done":
            result.notes.append(f"still {accepted['stage']} after {WAIT_SECONDS}s: are workers running?")
        return accepted

    def _hand_to_team(self, result: StepResult, team_id: int | None) -> None:
        """The team that answered owns the conversation, unless another team already does."""
        conversation_id = result.ids.get("conversation_id")
        if team_id is None or conversation_id is None:
            return
        conversation = self._call("GET", f"/api/v1/conversations/{conversation_id}").json()
        if conversation["team_id"] is None:
            self._call("PATCH", f"/api/v1/conversations/{conversation_id}", json={"team_id": team_id})
        result.ids["team_id"] = conversation["team_id"] or team_id

    def _confirm_promises(self, step: Step, customer_id: int, result: StepResult) -> None:
        """The agent confirms what the hub proposed from their reply, as they would on screen."""
        message_id = result.ids.get("message_id")
        if message_id is None:
            return
        client = self._acting(step)
        proposed = self._call(
            "GET", f"/api/v1/customers/{customer_id}/commitments", params={"status": ["proposed", "open"]}
        ).json()
        confirmed = []
        for commitment in proposed:
            if commitment["message_id"] != message_id:
                continue
            if commitment["status"] == "proposed":
                commitment = self._call(
                    "POST", f"/api/v1/commitments/{commitment['id']}/confirm", client=client
                ).json()
            confirmed.append(commitment)
        if confirmed:
            result.answers["commitments"] = confirmed
            result.done += "; promise kept track of: " + "; ".join(
                f"{c['text']} (due {c['due_at']})" for c in confirmed
            )

    def _query(self, step: Step, progress: _Progress, result: StepResult) -> None:
        """A department asks whether it may contact the customer, once per identity they have."""
        customer_id = progress.customer_id or next(
            (a["customer_id"] for _, a in reversed(progress.inbound) if a.get("customer_id")), None
        )
        if customer_id is None:
            raise ReplayError(f"{self._where}: a contactability query needs the story's customer")
        purpose = _outreach_purpose(step) or "service"
        identities = self._call("GET", f"/api/v1/customers/{customer_id}").json()["identities"]
        answers = {}
        for identity in identities:
            key = f"{identity['channel']}:{identity['value']}"
            answers[key] = self._call(
                "GET", "/api/v1/contactability", params={"identity": key, "purpose": purpose}
            ).json()
        result.answers["contactability"] = answers
        verdicts = {
            (a["contactable"], tuple(dict.fromkeys(r["code"] for r in a["reasons"])))
            for a in answers.values()
        }
        summary = ", ".join(
            ("contactable" if ok else "do not contact") + (f" ({', '.join(codes)})" if codes else "")
            for ok, codes in sorted(verdicts)
        )
        result.done = f"{purpose} contactability asked for {len(answers)} identities: {summary}"

    def _goodwill(self, step: Step, progress: _Progress, result: StepResult) -> None:
        """Record the gesture the step gives, as its agent (their authority applies)."""
        assert step.goodwill is not None
        customer_id, _ = _reply_target(step, progress)
        kind, cost = _gesture(step.goodwill)
        body: dict[str, Any] = {
            "kind": kind,
            "cost": cost,
            "description": str(
                step.goodwill.get("description") or str(step.goodwill.get("kind") or kind).replace("_", " ")
            ),
            "reason": f"story {progress.story.name}, step {step.index}",
        }
        if result.ids.get("conversation_id"):
            body["conversation_id"] = result.ids["conversation_id"]
        gesture = self._call(
            "POST", f"/api/v1/customers/{customer_id}/goodwill", json=body, client=self._acting(step)
        ).json()
        result.answers["goodwill"] = gesture
        result.done += (
            f"; goodwill {gesture['kind']} {gesture['cost']} {gesture['currency']}: {gesture['status']}"
        )

    def _outreach_flagged(self, message_id: int) -> bool:
        events = self._call(
            "GET", "/api/v1/events", params={"type": "contactability.violation", "limit": 1000}
        ).json()
        items = events["items"] if isinstance(events, dict) else events
        return any(e.get("message_id") == message_id for e in items)

    def _acting(self, step: Step) -> httpx.Client:
        return self.agents.get(step.team or "", self.client)

    # -- lookups ------------------------------------------------------------------------------
    def _latest_conversation(self, customer_id: int, channel: str) -> dict[str, Any] | None:
        """The customer's most recently updated conversation on the channel, else on any channel."""
        for params in ({"channel": channel}, {}):
            page = self._call(
                "GET",
                "/api/v1/conversations",
                params={"customer_id": customer_id, "sort": "-updated", "limit": 1, **params},
            ).json()
            if page["items"]:
                return dict(page["items"][0])
        return None

    def _recipient_on(self, customer_id: int, channel: str) -> str | None:
        """One of the customer's identities a message on `channel` can be addressed to."""
        if channel in PHONE_CHANNELS:
            usable = ["phone"]
        elif channel in EMAIL_CHANNELS:
            usable = ["email"]
        else:
            usable = [channel, "email", "phone"]
        identities = self._call("GET", f"/api/v1/customers/{customer_id}").json()["identities"]
        for wanted in usable:
            found = next((i["value"] for i in identities if i["channel"] == wanted), None)
            if found:
                return str(found)
        return None

    def _sent_before(self, customer_id: int, step: Step) -> dict[str, Any] | None:
        """The same outbound text on the same channel already on the timeline (a replay run twice)."""
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 200, **({"cursor": cursor} if cursor else {})}
            page = self._call("GET", f"/api/v1/customers/{customer_id}/timeline", params=params).json()
            for item in page["items"]:
                if (item["direction"], item["channel"], item["text"]) == ("out", step.channel, step.text):
                    return dict(item)
            cursor = page["next_cursor"]
            if not cursor:
                return None

    # -- HTTP ---------------------------------------------------------------------------------
    def _call(
        self,
        method: str,
        url: str,
        *,
        tolerate: tuple[int, ...] = (),
        client: httpx.Client | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        try:
            response = (client or self.client).request(method, url, **kwargs)
        except httpx.TimeoutException:
            raise ReplayError(f"{self._where}: {method} {url} timed out") from None
        if response.status_code >= 400 and response.status_code not in tolerate:
            raise ReplayError(
                f"{self._where}: {method} {url} answered {response.status_code}: {_error_message(response)}"
            )
        return response


def _parse_start(start: str | datetime, source: str) -> datetime:
    try:
        moment = start if isinstance(start, datetime) else datetime.fromisoformat(start)
    except ValueError:
        raise ReplayError(
            f"{source}: start {start!r} is not an ISO time such as 2026-03-02T09:00:00+01:00"
        ) from None
    if moment.tzinfo is None:
        raise ReplayError(f"{source}: give the start with its offset, e.g. 2026-03-02T09:00:00+01:00")
    return moment.astimezone(UTC)


def _error_message(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text[:300] or response.reason_phrase


def _key(channel: str, value: str) -> tuple[str, str] | None:
    """The identity as the server stores it (same normalisation), to recognise it in answers."""
    try:
        return identity_key(channel, value)
    except IdentityError:
        return None


def _reply_target(step: Step, progress: _Progress) -> tuple[int | None, Step | None]:
    """Whom an outbound step answers: whoever last wrote on its channel, else the story's customer,
    else whoever wrote last. Returns (customer id, the inbound step answered on the same channel)."""
    written = [(s, a) for s, a in reversed(progress.inbound) if a.get("customer_id")]
    same_channel = next(((s, a) for s, a in written if s.channel == step.channel), None)
    if same_channel is not None:
        return same_channel[1]["customer_id"], same_channel[0]
    if progress.customer_id is not None:
        return progress.customer_id, None
    return (written[0][1]["customer_id"], None) if written else (None, None)


def _in_time_order(story: Story) -> list[tuple[Step, Observation | None]]:
    """The steps (reading None) and every step's engagement readings, by time; a step comes before
    its own readings and before a reading at the same time (the post exists before it is read)."""
    items: list[tuple[timedelta, int, int, Step, Observation | None]] = [
        (step.at, 0, n, step, None) for n, step in enumerate(story.steps)
    ]
    items += [
        (reading.at, 1, n, step, reading)
        for n, step in enumerate(story.steps)
        for reading in step.engagement
        if step.kind == "inbound"
    ]
    return [(step, reading) for _, _, _, step, reading in sorted(items, key=lambda item: item[:3])]


def _pending(step: Step) -> list[Pending]:
    pending = []
    if step.extra:
        pending.append(Pending("unknown keys", ", ".join(sorted(step.extra))))
    return pending


OUTREACH_WORDS = {
    "sales": ("sales", "ventas", "comercial"),
    "marketing": ("marketing", "campaign", "campana"),
}
GESTURE_ALIASES = {
    "free_month": "discount",
    "voucher": "gift",
    "credit": "discount",
    "exchange": "replacement",
}
GESTURE_KINDS = ("refund", "replacement", "gift", "discount", "upgrade")


def _outreach_purpose(step: Step) -> str | None:
    """sales or marketing when a sales or marketing department makes the step, else None."""
    who = (step.author or "").lower()
    for purpose, words in OUTREACH_WORDS.items():
        if any(word in who for word in words):
            return purpose
    return None


def _gesture(spec: dict[str, Any]) -> tuple[str, float]:
    """The gesture kind the hub knows for a story's kind (`replacement_plus_gift` → replacement),
    and its cost in EUR."""
    named = str(spec.get("kind") or "other").lower()
    kind = GESTURE_ALIASES.get(named) or next((k for k in GESTURE_KINDS if k in named), "other")
    cost = spec.get("cost_eur", spec.get("cost", 0))
    try:
        return kind, float(cost)
    except (TypeError, ValueError):
        raise ReplayError(f"goodwill cost {cost!r} is not a number") from None
