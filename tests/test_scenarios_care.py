"""The scenarios' care expectations, checked: each story is replayed through the public API with the
manual clock, its replies, promises and gestures made by agents of the story's teams, and the
`expect` lines on SLA, escalation, commitments, contactability and goodwill are checked at the step
that states them. (Triage lines are checked in test_triage*.py; listening lines belong to #7.)"""

from __future__ import annotations

from collections.abc import Callable, Iterator
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
from cuida.demo.stories import Step, load_story
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
    ) -> tuple[Any, Company]:
        story = load_story(SCENARIOS / name)
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

        report = Replayer(admin, agents=company.clients).replay_story(story, start=START, on_step=on_step)
        assert sorted(checked) == sorted(checks), "a check names a step the story does not have"
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
        assert all("until" in answer for answer in answers.values())

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
