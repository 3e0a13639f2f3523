"""The scenarios' care expectations, checked: each story is replayed through the public API with the
manual clock, its replies, promises and gestures made by agents of the story's teams, and the
`expect` lines on SLA, escalation, commitments, contactability and goodwill are checked at the step
that states them, and the listening lines (mentions, forecasts, crisis alerts) at the engagement
reading that states them. (Triage lines are checked in test_triage*.py.)"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import select

from cuida.auth import service as auth_service
from cuida.auth.schemas import AgentCreate
from cuida.auth.service import create_agent, get_or_create_team
from cuida.demo.replay import Replayer, StepResult
from cuida.demo.stories import Step, format_offset, load_story
from cuida.events.models import Event
from cuida.notifications.models import Notification

SCENARIOS = Path(__file__).resolve().parents[2] / "shared" / "scenarios"
pytestmark = pytest.mark.skipif(not SCENARIOS.is_dir(), reason=f"no shared scenarios at {SCENARIOS}")
PASSWORD = "agents of the story"
START = "2027-03-01T10:00:00+01:00"  # a Monday morning in Madrid, after the wall clock
OFFICE = {
    "timezone": "Europe/Madrid",
    "hours": {day: [["09:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")},
}


class Company:
    """The company a story happens at: a team per department, each with an agent and a lead, one
    manager over all, and a logged-in client per team for the replayer to act through."""

    def __init__(self, api: Any, runtime: Any, client: TestClient, teams: list[str]) -> None:
        self.api = api
        self.runtime = runtime
        self.agent_ids: dict[str, int] = {}
        self.clients: dict[str, TestClient] = {}
        with runtime.db.session() as session:
            self.team_ids = {
                slug: get_or_create_team(session=session, slug=slug, name=slug).id for slug in teams
            }
            for slug in teams:
                for role, email in (("agent", f"{slug}@co.test"), ("lead", f"lead.{slug}@co.test")):
                    agent = create_agent(
                        session=session,
                        data=AgentCreate(
                            email=email, name=email, password=PASSWORD, role=role, team_slugs=[slug]
                        ),
                    )
                    self.agent_ids[email] = agent.id
            manager = create_agent(
                session=session,
                data=AgentCreate(email="manager@co.test", name="Manager", password=PASSWORD, role="manager"),
            )
            self.agent_ids["manager@co.test"] = manager.id
        for slug in teams:
            self.clients[slug] = self.log_in(client, f"{slug}@co.test")

    def log_in(self, client: TestClient, email: str) -> TestClient:
        agent_client = TestClient(client.app)
        response = agent_client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        assert response.status_code == 200, response.text
        agent_client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
        return agent_client

    def agent(self, team: str) -> int:
        return self.agent_ids[f"{team}@co.test"]

    def lead(self, team: str) -> int:
        return self.agent_ids[f"lead.{team}@co.test"]

    @property
    def manager(self) -> int:
        return self.agent_ids["manager@co.test"]

    def notifications(self, agent_id: int, kind_prefix: str) -> list[Notification]:
        with self.runtime.db.sessions() as session:
            return list(
                session.scalars(
                    select(Notification)
                    .where(Notification.agent_id == agent_id, Notification.kind.startswith(kind_prefix))
                    .order_by(Notification.id)
                )
            )

    def events(self, type_: str, conversation_id: int) -> list[Event]:
        with self.runtime.db.sessions() as session:
            return list(
                session.scalars(
                    select(Event)
                    .where(Event.type == type_, Event.conversation_id == conversation_id)
                    .order_by(Event.id)
                )
            )

    def sla(self, conversation_id: int) -> dict[str, dict[str, Any]]:
        response = self.api.get(f"/api/v1/conversations/{conversation_id}/sla")
        assert response.status_code == 200, response.text
        return {clock["kind"]: clock for clock in response.json()["clocks"]}

    def conversation(self, conversation_id: int) -> dict[str, Any]:
        response = self.api.get(f"/api/v1/conversations/{conversation_id}")
        assert response.status_code == 200, response.text
        return dict(response.json())


@pytest.fixture
def cheap_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth_service, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def replay(api: Any, runtime: Any, client: TestClient, cheap_passwords: None) -> Iterator[Callable[..., Any]]:
    """replay(file, {step index: check(step, result, company)}, extra_teams) → (report, company)."""
    opened: list[Company] = []

    def run(
        name: str,
        checks: dict[int, Callable[[Step, StepResult, Company], None]],
        extra_teams: tuple[str, ...] = (),
        setup: Callable[[Company], None] | None = None,
        readings: dict[tuple[int, str], Callable[[Step, StepResult, Company], None]] | None = None,
        only_steps: tuple[int, ...] | None = None,
    ) -> tuple[Any, Company]:
        """`readings`: checks at an engagement reading, keyed by (step index, its offset as written:
        "30d2h"). `only_steps`: replay just those steps (and their readings)."""
        story = load_story(SCENARIOS / name)
        if only_steps is not None:
            story = replace(story, steps=tuple(s for s in story.steps if s.index in only_steps))
        reading_checks = readings or {}
        company = Company(api, runtime, client, sorted({*story.teams, *extra_teams}))
        opened.append(company)
        if setup is not None:
            setup(company)
        admin = TestClient(client.app, headers=api.headers)
        checked: list[int] = []

        def on_step(step: Step, result: StepResult) -> None:
            if step.index in checks:
                checks[step.index](step, result, company)
                checked.append(step.index)

        read: list[tuple[int, str]] = []

        def on_reading(step: Step, result: StepResult) -> None:
            key = (step.index, format_offset(result.offset))
            if key in reading_checks:
                reading_checks[key](step, result, company)
                read.append(key)

        report = Replayer(admin, agents=company.clients).replay_story(
            story, start=START, on_step=on_step, on_reading=on_reading
        )
        assert sorted(checked) == sorted(checks), "a check names a step the story does not have"
        assert sorted(read) == sorted(reading_checks), "a check names a reading the story does not have"
        return report, company

    yield run
    for company in opened:
        for agent_client in company.clients.values():
            agent_client.close()


def ts(value: str) -> datetime:
    return datetime.fromisoformat(value)


# -- 01 traslado de línea -------------------------------------------------------------------------


def test_traslado_de_linea_the_promise_is_tracked_alerted_and_marketing_is_told_not_to_call(replay):
    facts: dict[str, Any] = {}

    def promise_recorded(step: Step, result: StepResult, company: Company) -> None:
        # "te escribimos por mensaje directo y te damos una solución hoy mismo"
        [promise] = result.answers["commitments"]
        assert promise["status"] == "open"
        assert promise["owner_agent_id"] == company.agent("social-care")
        assert promise["owner_team_id"] == company.team_ids["social-care"]
        assert promise["kind"] == "contact" and promise["channel"] == "dm"  # by direct message
        due = ts(promise["due_at"])
        assert result.at < due <= result.at + timedelta(hours=24)  # due today
        facts["promise"] = promise

    def overdue_and_alerted_before_the_call(step: Step, result: StepResult, company: Company) -> None:
        promise = company.api.get(f"/api/v1/commitments/{facts['promise']['id']}").json()
        assert promise["overdue"] and promise["status"] == "open"
        for who in (company.agent("social-care"), company.lead("social-care")):
            alerts = company.notifications(who, "commitment")
            assert alerts, f"agent {who} was not alerted about the promise"
            assert min(alert.created_at for alert in alerts) < result.at  # before Daniel calls again
        # The call-centre agent sees the tweet, the public reply and the call on one timeline.
        items = company.api.get(
            f"/api/v1/customers/{result.ids['customer_id']}/timeline", params={"limit": 50}
        ).json()["items"]
        seen = {(item["channel"], item["direction"], item["public"]) for item in items}
        assert {("twitter", "in", True), ("twitter", "out", True), ("phone", "in", False)} <= seen

    def marketing_is_told_no_on_every_identity(step: Step, result: StepResult, company: Company) -> None:
        answers = result.answers["contactability"]
        assert len(answers) == 3  # phone, handle and email
        verdicts = {(a["contactable"], frozenset(r["code"] for r in a["reasons"])) for a in answers.values()}
        assert len(verdicts) == 1, "every identity must give the same answer"
        [(contactable, codes)] = verdicts
        assert not contactable
        assert {"open_complaint", "churn_threat", "overdue_commitment"} <= codes
        # Until when: no date can be given while the case is open, so the answer says what must happen.
        for answer in answers.values():
            assert answer["until"] is None
            assert "open complaint is resolved" in answer["until_condition"]
            assert "overdue promise is kept" in answer["until_condition"]

    replay(
        "01-traslado-de-linea.yaml",
        {
            3: promise_recorded,
            4: overdue_and_alerted_before_the_call,
            5: marketing_is_told_no_on_every_identity,
        },
    )


# -- 02 vaqueros ----------------------------------------------------------------------------------


def test_vaqueros_the_unanswered_complaint_escalates_on_day_1_and_3_and_the_sales_call_is_flagged(replay):
    facts: dict[str, Any] = {}

    def store_takes_the_note(company: Company) -> None:
        """The store's customer-care team answers what the shops write down within 8 office hours;
        the ladder is the default one: the agent warned, the lead at breach, managers at twice it."""
        facts["store"] = company.team_ids["store-care"]
        calendar = company.api.post("/api/v1/sla/calendars", json={"name": "Tiendas", **OFFICE})
        assert calendar.status_code == 201, calendar.text
        policy = company.api.post(
            "/api/v1/sla/policies",
            json={
                "name": "Notas de tienda",
                "position": 10,
                "conditions": {"channels": ["store"]},
                "first_response_minutes": 8 * 60,
                "resolution_minutes": 5 * 9 * 60,
                "calendar_id": calendar.json()["id"],
            },
        )
        assert policy.status_code == 201, policy.text

    def complaint_has_clocks(step: Step, result: StepResult, company: Company) -> None:
        conversation_id = result.ids["conversation_id"]
        facts["conversation_id"] = conversation_id
        # The store's customer-care team owns what the shop writes down.
        company.api.patch(f"/api/v1/conversations/{conversation_id}", json={"team_id": facts["store"]})
        clocks = company.sla(conversation_id)
        assert {"first_response", "resolution"} <= set(clocks)
        assert clocks["first_response"]["state"] == "running"

    def escalated_to_the_lead_on_day_1(step: Step, result: StepResult, company: Company) -> None:
        conversation_id = facts["conversation_id"]
        clock = company.sla(conversation_id)["first_response"]
        assert clock["breached"]
        # The formal complaint sheet reads as a legal step, so the deadline was tightened, and says so
        # (the manager may then hear of it the same day; the lead always hears first).
        assert clock["factor"] == 0.5 and any("legal threat" in reason for reason in clock["reasons"])
        escalations = company.events("sla.escalated", conversation_id)
        assert escalations[0].payload["level"] == 2 and escalations[0].occurred_at <= result.at
        alerts = company.notifications(company.lead("store-care"), "sla.escalated")
        assert alerts and alerts[0].created_at == escalations[0].occurred_at

    def escalated_again_on_day_3(step: Step, result: StepResult, company: Company) -> None:
        conversation_id = facts["conversation_id"]
        escalations = [
            e
            for e in company.events("sla.escalated", conversation_id)
            if e.payload["kind"] == "first_response"
        ]
        assert [e.payload["level"] for e in escalations] == [2, 3]  # lead, then manager: not weeks later
        assert escalations[-1].occurred_at <= result.at
        # By day 3 the case is past its resolution target too, and the lead heard of that as well.
        resolution = company.sla(conversation_id)["resolution"]
        assert resolution["breached"] and resolution["level"] >= 2
        assert company.notifications(company.manager, "sla.escalated")
        # On the lead's list of cases at risk: breached and open.
        page = company.api.get(
            "/api/v1/conversations", params={"team_id": facts["store"], "status": "open", "limit": 50}
        ).json()
        assert conversation_id in {c["id"] for c in page["items"]}

    def sales_call_is_flagged(step: Step, result: StepResult, company: Company) -> None:
        assert result.answers["outreach_flagged"], result.done
        assert company.notifications(company.lead("sales"), "contactability")

    def webform_joins_the_case(step: Step, result: StepResult, company: Company) -> None:
        assert result.ids["customer_id"] == facts["customer_id"]
        assert result.ids["conversation_id"] == facts["conversation_id"]

    def remember_customer(step: Step, result: StepResult, company: Company) -> None:
        facts["customer_id"] = result.ids["customer_id"]

    replay(
        "02-vaqueros.yaml",
        {
            1: remember_customer,
            2: complaint_has_clocks,
            3: escalated_to_the_lead_on_day_1,
            4: escalated_again_on_day_3,
            5: sales_call_is_flagged,
            6: webform_joins_the_case,
        },
        extra_teams=("store-care",),
        setup=store_takes_the_note,
    )


# -- 03 guitarra ----------------------------------------------------------------------------------


def test_guitarra_the_long_claim_shows_its_breach_age_and_contacts_and_can_be_settled(replay):
    facts: dict[str, Any] = {}

    def claim_opened(step: Step, result: StepResult, company: Company) -> None:
        facts["conversation_id"] = result.ids["conversation_id"]
        facts["customer_id"] = result.ids["customer_id"]
        facts["opened_at"] = result.at

    def answered(step: Step, result: StepResult, company: Company) -> None:
        assert company.sla(facts["conversation_id"])["first_response"]["state"] == "met"

    def a_month_later(step: Step, result: StepResult, company: Company) -> None:
        conversation_id = facts["conversation_id"]
        assert result.ids["conversation_id"] == conversation_id  # the same case, a month on
        resolution = company.sla(conversation_id)["resolution"]
        assert resolution["breached"] and resolution["level"] >= 2
        assert any(
            e.payload["kind"] == "resolution" for e in company.events("sla.escalated", conversation_id)
        )
        case = company.conversation(conversation_id)
        assert case["message_count"] == 3  # two letters from David, one answer
        assert ts(case["created_at"]) == facts["opened_at"]  # its age is there to see

    def nine_months_later(step: Step, result: StepResult, company: Company) -> None:
        conversation_id = facts["conversation_id"]
        case = company.conversation(conversation_id)
        assert case["priority"] in ("high", "urgent")
        assert company.notifications(company.lead("claims"), "conversation.threat")  # the lead knows
        # A lead settles it in the hub: within their authority, granted at once, cost on record.
        lead = company.log_in(company.clients["claims"], "lead.claims@co.test")
        gesture = lead.post(
            f"/api/v1/customers/{facts['customer_id']}/goodwill",
            json={
                "kind": "refund",
                "cost": 280,
                "description": "Repair of the guitar's neck",
                "conversation_id": conversation_id,
            },
        )
        lead.close()
        assert gesture.status_code == 201, gesture.text
        assert gesture.json()["status"] == "granted" and float(gesture.json()["cost"]) == 280

    replay(
        "03-guitarra.yaml",
        {1: claim_opened, 2: answered, 3: a_month_later, 4: nine_months_later},
    )


# -- 04 minifigura --------------------------------------------------------------------------------


def test_minifigura_the_gift_is_within_the_agents_authority_and_the_parcel_is_a_promise(replay):
    facts: dict[str, Any] = {}

    def gift_and_parcel(step: Step, result: StepResult, company: Company) -> None:
        gesture = result.answers["goodwill"]
        assert gesture["status"] == "granted"  # 12 EUR is within an agent's own limit
        assert float(gesture["cost"]) == 12 and gesture["kind"] == "replacement"
        assert gesture["requested_by_agent_id"] == company.agent("consumer-care")
        promises = result.answers["commitments"]
        assert any(
            p["kind"] == "replacement" and ts(p["due_at"]).date() <= (result.at + timedelta(days=14)).date()
            for p in promises
        ), promises
        facts["gesture_id"] = gesture["id"]

    def report_shows_the_cost(step: Step, result: StepResult, company: Company) -> None:
        report = company.api.get("/api/v1/goodwill/report").json()
        assert float(report["totals"]["cost"]) == 12
        [item] = [i for i in report["items"] if i["gesture"]["id"] == facts["gesture_id"]]
        assert float(item["gesture"]["cost"]) == 12 and item["wrote_again"] is False

    replay("04-minifigura.yaml", {2: gift_and_parcel, 3: report_shows_the_cost})


# -- 05 pregunta fuera de tema --------------------------------------------------------------------


def test_off_topic_question_has_a_clock_and_breaches_like_any_other(replay):
    facts: dict[str, Any] = {}

    def off_topic_has_a_clock(step: Step, result: StepResult, company: Company) -> None:
        facts["question"] = result.ids["conversation_id"]
        clock = company.sla(facts["question"])["first_response"]
        assert clock["state"] == "running"

    def legal_threat_goes_first(step: Step, result: StepResult, company: Company) -> None:
        question = company.conversation(facts["question"])
        threat = company.conversation(result.ids["conversation_id"])
        assert PRIORITY[threat["priority"]] > PRIORITY[question["priority"]]
        question_due = company.sla(facts["question"])["first_response"]["due_at"]
        threat_due = company.sla(threat["id"])["first_response"]["due_at"]
        assert ts(threat_due) < ts(question_due)

    def unanswered_question_breaches(step: Step, result: StepResult, company: Company) -> None:
        assert company.sla(facts["question"])["first_response"]["breached"]

    replay(
        "05-pregunta-fuera-de-tema.yaml",
        {1: off_topic_has_a_clock, 3: legal_threat_goes_first, 2: unanswered_question_breaches},
    )


PRIORITY = {"low": 0, "normal": 1, "high": 2, "urgent": 3}


# -- 06 crítico persistente -----------------------------------------------------------------------


def test_critic_the_offer_to_talk_privately_is_a_promise_and_the_rude_draft_is_stopped(replay):
    facts: dict[str, Any] = {}

    def offer_recorded(step: Step, result: StepResult, company: Company) -> None:
        [offer] = result.answers.get("commitments", [])
        assert offer["kind"] == "offer" and offer["channel"] == "dm" and offer["status"] == "open"
        assert offer["owner_agent_id"] == company.agent("community")
        facts["offer"] = offer

    def he_refuses_in_public(step: Step, result: StepResult, company: Company) -> None:
        # Another public post is not taking up the offer: it stays an offer, and alerts nobody.
        offer = company.api.get(f"/api/v1/commitments/{facts['offer']['id']}").json()
        assert offer["kind"] == "offer" and offer["status"] == "open"
        assert not company.notifications(company.agent("community"), "commitment")

    def rude_draft_stopped(step: Step, result: StepResult, company: Company) -> None:
        assert result.done.startswith("stopped by the tone guard"), result.done
        assert "message_id" not in result.ids  # nothing was sent

    replay(
        "06-critico-persistente.yaml",
        {3: offer_recorded, 4: he_refuses_in_public, 6: rude_draft_stopped},
    )


# -- 07 cliente de valor --------------------------------------------------------------------------


def test_valuable_customer_with_a_repeated_fault_is_routed_to_key_accounts_and_contempt_is_stopped(replay):
    facts: dict[str, Any] = {}

    def key_accounts_rule(company: Company) -> None:
        """The company's rule: a valuable customer who is unhappy again goes to key accounts, high."""
        rule = company.api.post(
            "/api/v1/automation/rules",
            json={
                "name": "Clientes de alto valor descontentos",
                "conditions": {
                    "all": [
                        {"field": "customer.lifetime_value", "op": "gte", "value": 100000},
                        {"field": "triage.sentiment", "op": "eq", "value": "negative"},
                    ]
                },
                "actions": [
                    {"type": "set_priority", "priority": "high"},
                    {"type": "route", "team": "key-accounts"},
                ],
            },
        )
        assert rule.status_code == 201, rule.text
        facts["rule_id"] = rule.json()["id"]

    def routed_to_a_senior_owner(step: Step, result: StepResult, company: Company) -> None:
        case = company.conversation(result.ids["conversation_id"])
        assert case["priority"] in ("high", "urgent")
        assert case["team_id"] == company.team_ids["key-accounts"]
        members = {company.agent("key-accounts"), company.lead("key-accounts")}
        assert case["assignee_id"] in members
        runs = company.api.get(f"/api/v1/automation/rules/{facts['rule_id']}/runs").json()
        assert runs, "the rule's run is on record"

    def contempt_stopped(step: Step, result: StepResult, company: Company) -> None:
        assert result.done.startswith("stopped by the tone guard"), result.done
        assert "message_id" not in result.ids

    replay(
        "07-cliente-de-valor.yaml",
        {2: routed_to_a_senior_owner, 3: contempt_stopped},
        extra_teams=("key-accounts",),
        setup=key_accounts_rule,
    )


# -- listening: 02 vaqueros, 03 guitarra, 06 crítico persistente ----------------------------------


def mention_of(company: Company, message_id: int) -> dict[str, Any]:
    found = [
        m
        for m in company.api.get("/api/v1/mentions", params={"limit": 200}).json()
        if m["message_id"] == message_id
    ]
    assert len(found) == 1, f"message {message_id} is not one mention"
    return dict(found[0])


def alert_on(company: Company, case_id: int) -> dict[str, Any]:
    found = [a for a in company.api.get("/api/v1/alerts").json() if a["conversation_id"] == case_id]
    assert len(found) == 1, f"expected one crisis alert on case {case_id}, found {found}"
    return dict(found[0])


def test_vaqueros_the_spreading_tweet_alerts_the_lead_linking_blog_tweet_customer_and_case(replay):
    facts: dict[str, Any] = {}

    def remember_customer(step: Step, result: StepResult, company: Company) -> None:
        facts["customer_id"] = result.ids["customer_id"]

    def store_care_owns_the_case(step: Step, result: StepResult, company: Company) -> None:
        facts["case"] = result.ids["conversation_id"]
        company.api.patch(
            f"/api/v1/conversations/{facts['case']}", json={"team_id": company.team_ids["store-care"]}
        )

    def the_blog_post_is_a_negative_mention(step: Step, result: StepResult, company: Company) -> None:
        facts["blog"] = result.ids["message_id"]
        mention = mention_of(company, facts["blog"])
        assert mention["triage"]["sentiment"] == "negative"
        assert mention["triage"]["public_escalation_threat"] >= 0.5  # "Difundid"

    def the_tweet_is_his_and_about_his_case(step: Step, result: StepResult, company: Company) -> None:
        facts["tweet"] = result.ids["message_id"]
        mention = mention_of(company, facts["tweet"])
        assert mention["customer_id"] == facts["customer_id"] and mention["case_id"] == facts["case"]

    def alerted_by_30d2h(step: Step, result: StepResult, company: Company) -> None:
        forecast = result.answers["snapshot"]["mention"]["forecast"]
        assert forecast["metric"] == "reshares" and forecast["observed"] == 58
        assert forecast["low"] <= forecast["final"] <= forecast["high"] and forecast["final"] >= 58
        alert = alert_on(company, facts["case"])
        assert ts(alert["raised_at"]) <= result.at and alert["status"] == "open"
        details = alert["details"]
        assert details["mention"]["message_id"] == facts["tweet"]
        assert {k: details["forecast"][k] for k in ("final", "low", "high")} == {
            k: forecast[k] for k in ("final", "low", "high")
        }
        assert (
            details["customer"]["id"] == facts["customer_id"]
            and details["customer"]["name"] == "Antonio Domínguez"
        )
        assert details["case"]["id"] == facts["case"] and details["case"]["status"] == "open"
        assert details["case"]["unanswered"] is True
        assert facts["blog"] in {r["message_id"] for r in details["related"]}  # his blog post
        told = company.notifications(company.lead("store-care"), "crisis.alert")
        assert told and told[0].payload["alert_id"] == alert["id"] and told[0].created_at <= result.at
        # The case is at risk, and says why.
        risk = company.api.get(f"/api/v1/conversations/{facts['case']}/risk").json()
        assert risk["risk_score"] > 0 and risk["reasons"]

    replay(
        "02-vaqueros.yaml",
        {
            1: remember_customer,
            2: store_care_owns_the_case,
            7: the_blog_post_is_a_negative_mention,
            8: the_tweet_is_his_and_about_his_case,
        },
        extra_teams=("store-care",),
        readings={(8, "30d2h"): alerted_by_30d2h},
    )


def test_vaqueros_the_final_323_reshares_fall_inside_the_interval_forecast_at_30d2h(replay):
    """Only the tweet and its readings are replayed: the forecast depends on nothing else. (Should a
    forecaster miss it, mark this test, and only this one, `xfail(strict=False)` as the known miss.)"""
    seen: dict[str, Any] = {}

    def interval_at_30d2h(step: Step, result: StepResult, company: Company) -> None:
        seen.update(result.answers["snapshot"]["mention"]["forecast"])

    replay("02-vaqueros.yaml", {}, readings={(8, "30d2h"): interval_at_30d2h}, only_steps=(8,))
    assert seen["low"] <= 323 <= seen["high"], f"80% interval at 30d2h: {seen['low']:.0f}-{seen['high']:.0f}"


def test_guitarra_the_video_raises_an_alert_within_its_first_hours(replay):
    facts: dict[str, Any] = {"finals": []}

    def claim_opened(step: Step, result: StepResult, company: Company) -> None:
        facts["case"] = result.ids["conversation_id"]
        facts["customer_id"] = result.ids["customer_id"]

    def video_is_davids_and_about_his_old_claim(step: Step, result: StepResult, company: Company) -> None:
        facts["posted_at"] = result.at
        facts["video"] = result.ids["message_id"]
        mention = mention_of(company, facts["video"])
        assert mention["customer_id"] == facts["customer_id"] and mention["case_id"] == facts["case"]

    def forecast_made(step: Step, result: StepResult, company: Company) -> None:
        forecast = result.answers["snapshot"]["mention"]["forecast"]
        assert forecast["metric"] == "views"
        facts["finals"].append(forecast["final"])

    def alerted_within_hours(step: Step, result: StepResult, company: Company) -> None:
        forecast_made(step, result, company)
        alert = alert_on(company, facts["case"])
        assert (
            facts["posted_at"]
            < ts(alert["raised_at"])
            <= result.at
            <= facts["posted_at"] + timedelta(hours=3)
        )
        assert alert["details"]["mention"]["message_id"] == facts["video"]
        assert alert["details"]["customer"]["id"] == facts["customer_id"]
        assert company.notifications(company.lead("claims"), "crisis.alert")

    replay(
        "03-guitarra.yaml",
        {1: claim_opened, 5: video_is_davids_and_about_his_old_claim},
        readings={
            (5, "275d1h"): forecast_made,
            (5, "275d3h"): alerted_within_hours,
            (5, "275d6h"): forecast_made,
            (5, "276d"): forecast_made,
            (5, "279d"): forecast_made,
        },
    )
    assert facts["finals"][-1] > facts["finals"][0]  # the forecast grows toward the final size


def test_critic_the_persistent_critic_raises_no_crisis_alert(replay):
    def calm(step: Step, result: StepResult, company: Company) -> None:
        mentions = company.api.get("/api/v1/mentions", params={"limit": 200}).json()
        assert len(mentions) == 4  # the praise and his three posts: all public, all mentions
        assert all(m["risk_score"] < 0.6 for m in mentions), [
            (m["text"], m["risk_reasons"]) for m in mentions
        ]
        assert company.conversation(result.ids["conversation_id"])["risk_score"] < 0.6
        assert company.api.get("/api/v1/alerts").json() == []
        for who in company.agent_ids.values():
            assert not company.notifications(who, "crisis")

    replay("06-critico-persistente.yaml", {5: calm})
