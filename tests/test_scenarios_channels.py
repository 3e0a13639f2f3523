"""The first three stories through the real adapters (issue #5): every inbound step arrives the way
it would in production — an email through a real IMAP server (dovecot, polled by the email channel
account), a social post or blog entry through the social-mentions import, a call, shop or form note
through a signed inbound webhook — and each story ends with one customer per person: the identities
the company knew linked, the others (a blog on his domain, a site named after him) suggested, and
once the suggestions are accepted every message of the story on one timeline. Replies to email go
out through SMTP (aiosmtpd) like any reply."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cuida.conversations.models import Message
from cuida.demo.replay import Replayer, StepResult
from cuida.demo.stories import load_story
from cuida.quarantine.service import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from tests.mail_servers import PASSWORD as MAIL_PASSWORD
from tests.mail_servers import Dovecot, SmtpInbox, run_dovecot, run_smtp
from tests.test_scenarios_care import (
    SCENARIOS,
    START,
    Company,
    cheap_passwords,  # noqa: F401  (a fixture, used below)
)

pytestmark = pytest.mark.skipif(not SCENARIOS.is_dir(), reason=f"no shared scenarios at {SCENARIOS}")
# Public posts come through the social-mentions import (an export of a network or a listening tool).
IMPORTED = {"twitter", "youtube", "instagram", "facebook", "tiktok", "linkedin", "feed", "review"}


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    try:
        with run_dovecot() as server:
            yield server
    except RuntimeError as exc:
        pytest.fail(str(exc))  # a missing dovecot fails the run: it is never a skip


@pytest.fixture
def smtp() -> Iterator[tuple[int, SmtpInbox]]:
    with run_smtp() as server:
        yield server


class AdapterReplayer(Replayer):
    """The replayer, with each inbound step sent through the channel's adapter instead of
    POST /api/v1/messages."""

    def __init__(self, client: Any, *, runtime: Any, dovecot: Dovecot, smtp_port: int, **kw: Any) -> None:
        super().__init__(client, **kw)
        self.runtime = runtime
        self.dovecot = dovecot
        self.mailbox = dovecot.new_user()
        self.hooks: dict[str, dict[str, Any]] = {}
        self.routes: list[str] = []
        account = self._call(
            "POST",
            "/api/v1/channels/accounts",
            json={
                "kind": "email",
                "name": "Atención al cliente",
                "config": {
                    "address": "ayuda@empresa.example",
                    "display_name": "Atención al cliente",
                    "imap_host": "127.0.0.1",
                    "imap_port": dovecot.port,
                    "imap_security": "none",
                    "imap_user": self.mailbox,
                    "smtp_host": "127.0.0.1",
                    "smtp_port": smtp_port,
                    "smtp_security": "none",
                },
                "secrets": {"imap_password": MAIL_PASSWORD},
            },
        )
        self.account_id = int(account.json()["id"])

    def _post_message(
        self, body: dict[str, Any], result: StepResult, client: Any | None = None
    ) -> dict[str, Any]:
        if body.get("direction") != "in":
            return super()._post_message(body, result, client)
        channel = body["channel"]
        if channel == "email":
            message_id = self._by_email(body)
        elif channel in IMPORTED:
            message_id = self._by_import(body)
        else:
            message_id = self._by_webhook(body)
        message = self._call("GET", f"/api/v1/messages/{message_id}").json()
        assert message["stage"] == "done", message
        accepted = {
            "message_id": message["id"],
            "conversation_id": message["conversation_id"],
            "customer_id": message["customer_id"],
            "stage": message["stage"],
            "duplicate": False,
        }
        for key in ("message_id", "conversation_id", "customer_id"):
            result.ids[key] = accepted[key]
        return accepted

    def _by_email(self, body: dict[str, Any]) -> int:
        email = EmailMessage()
        email["From"] = body["author"]["value"]
        email["To"] = "ayuda@empresa.example"
        email["Subject"] = f"{body['metadata']['story']} ({body['metadata']['step']})"
        email["Date"] = format_datetime(datetime.fromisoformat(body["occurred_at"]))
        email["Message-ID"] = f"<{body['external_id']}@cliente.example>"
        email.set_content(body["text"])
        self.dovecot.append(self.mailbox, email.as_bytes())
        polled = self._call("POST", f"/api/v1/channels/accounts/{self.account_id}/poll").json()
        assert polled["stored"] == 1, polled
        self.routes.append("email")
        with self.runtime.db.sessions() as session:
            found = session.scalar(
                select(Message.id).where(
                    Message.channel == "email", Message.external_id.contains(body["external_id"])
                )
            )
        assert found is not None, "the polled email is stored under its Message-ID"
        return int(found)

    def _by_import(self, body: dict[str, Any]) -> int:
        row = {
            "channel": body["channel"],
            "author": body["author"]["value"],
            "followers": body["author"].get("followers"),
            "text": body["text"],
            "link": f"https://{body['channel']}.example/{body['external_id']}",
            "time": body["occurred_at"],
        }
        answer = self._call("POST", "/api/v1/listening/imports", json=[row]).json()
        assert answer["stored"] == 1 and not answer["errors"], answer
        self.routes.append("import")
        return int(answer["message_ids"][0])

    def _by_webhook(self, body: dict[str, Any]) -> int:
        channel = body["channel"]
        if channel not in self.hooks:
            self.hooks[channel] = self._call(
                "POST", "/api/v1/inbound-webhooks", json={"name": f"Notas {channel}", "channel": channel}
            ).json()
        hook = self.hooks[channel]
        payload = json.dumps({"messages": [{k: v for k, v in body.items() if k != "channel"}]}).encode()
        clock = datetime.fromisoformat(self._call("GET", "/api/v1/admin/clock").json()["now"])
        stamp = int(clock.timestamp())
        response = self._call(
            "POST",
            f"/api/v1/webhooks/{hook['slug']}",
            content=payload,
            headers={
                "content-type": "application/json",
                TIMESTAMP_HEADER: str(stamp),
                SIGNATURE_HEADER: sign(hook["secret"], stamp, payload),
            },
        )
        answer = response.json()
        assert answer["stored"] == 1, answer
        self.routes.append("webhook")
        return int(answer["items"][0]["message_id"])


@pytest.mark.usefixtures("cheap_passwords")
@pytest.mark.parametrize(
    "name", ["01-traslado-de-linea.yaml", "02-vaqueros.yaml", "03-guitarra.yaml"], ids=lambda n: n[:2]
)
def test_story_through_the_adapters_ends_with_one_customer_and_one_timeline(
    name: str, api: Any, runtime: Any, client: TestClient, dovecot: Dovecot, smtp: Any
) -> None:
    story = load_story(SCENARIOS / name)
    company = Company(api, runtime, client, sorted(story.teams))
    admin = TestClient(client.app, headers=api.headers)
    replayer = AdapterReplayer(
        admin, runtime=runtime, dovecot=dovecot, smtp_port=smtp[0], agents=company.clients
    )
    report = replayer.replay_story(story, start=START)
    person = report.customer_id
    assert person is not None
    inbound = [s for s in story.steps if s.direction == "in"]
    assert len(replayer.routes) == len(inbound), "every inbound step went through an adapter"
    if any(s.channel == "email" for s in inbound):
        assert "email" in replayer.routes

    # The identities the company knew all lead to the one profile.
    assert story.customer is not None
    for identity in story.customer.identities:
        owner = replayer._owner_of(identity)
        assert owner is not None and owner["id"] == person, identity

    # Every other author of the story is that profile, or suggested to be; accept the suggestions.
    authors = {int(step.ids["customer_id"]) for step in report.steps if step.ids.get("customer_id")}
    suggestions = api.get("/api/v1/customers/suggestions", params={"customer_id": person}).json()
    suggested = {s["customer_b"] if s["customer_a"] == person else s["customer_a"]: s for s in suggestions}
    assert authors - {person} <= set(suggested), (
        f"authors neither linked nor suggested: {sorted(authors - {person} - set(suggested))}"
    )
    for other in sorted(authors - {person}):
        response = api.post(
            f"/api/v1/customers/suggestions/{suggested[other]['id']}/accept", json={"keep_id": person}
        )
        assert response.status_code == 200, response.text

    # One timeline: every message of the story, in and out, is now the person's.
    ids = [int(step.ids["message_id"]) for step in report.steps if step.ids.get("message_id")]
    assert len(ids) >= len(inbound)
    for message_id in ids:
        assert api.get(f"/api/v1/messages/{message_id}").json()["customer_id"] == person
    timeline = api.get(f"/api/v1/customers/{person}/timeline", params={"limit": 200}).json()
    on_timeline = {item["message_id"] for item in timeline["items"]}
    assert set(ids) <= on_timeline
