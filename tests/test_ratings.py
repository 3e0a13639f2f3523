"""Ratings: the CSAT survey after a resolution (delay, channel, language, once per resolution), the
three ways to answer it, a negative answer reopening the case to the lead, the CSAT report, and
the answers feeding the goodwill report and contactability."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cuida.contactability.service import COOLING_PERIOD, compute
from cuida.jobs.reconciler import reconcile
from cuida.runtime import Runtime

DAY1 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DELAY = timedelta(minutes=60)  # CUIDA_CSAT_DELAY_MINUTES default
PASSWORD = "a long password"


def set_clock(api: Any, at: datetime) -> None:
    response = api.put("/api/v1/admin/clock", json={"now": at.isoformat()})
    assert response.status_code == 200, response.text


def events(api: Any, type_: str) -> list[dict[str, Any]]:
    return list(api.get(f"/api/v1/events?type={type_}").json()["items"])


def surveys(api: Any, conversation_id: int) -> list[dict[str, Any]]:
    """The outbound survey messages of a conversation, with their outbox rows."""
    replies = api.get(f"/api/v1/conversations/{conversation_id}/replies").json()
    return [r for r in replies if "csat_request_id" in r["message"]["meta"]]


def token_of(survey: dict[str, Any]) -> str:
    found = re.search(r"/rate/([A-Za-z0-9_-]+)", survey["message"]["text"])
    assert found, survey["message"]["text"]
    return found[1]


def resolve(api: Any, conversation_id: int) -> None:
    response = api.patch(f"/api/v1/conversations/{conversation_id}", json={"status": "resolved"})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "resolved"


def status_of(api: Any, conversation_id: int) -> dict[str, Any]:
    return dict(api.get(f"/api/v1/conversations/{conversation_id}").json())


@pytest.fixture
def care(api: Any) -> dict[str, Any]:
    """A support team (an agent and her lead) and a Spanish email complaint assigned to the agent."""
    assert api.post("/api/v1/teams", json={"slug": "soporte", "name": "Soporte"}).status_code == 201
    ids = {}
    for name, role in (("ana", "agent"), ("luis", "lead")):
        created = api.post(
            "/api/v1/agents",
            json={
                "email": f"{name}@cuida.test",
                "name": name.title(),
                "password": PASSWORD,
                "role": role,
                "team_slugs": ["soporte"],
            },
        )
        assert created.status_code == 201, created.text
        ids[name] = created.json()["id"]
    team_id = api.get("/api/v1/teams").json()[0]["id"]
    set_clock(api, DAY1)
    message = api.message(
        external_id="mail-1",
        author="lucia@example.com",
        text="Hola, el router que me enviasteis no enciende y llevo dos días sin internet. ¿Me ayudáis?",
    )
    conversation_id = message["conversation_id"]
    assigned = api.post(
        f"/api/v1/conversations/{conversation_id}/assign", json={"agent_id": ids["ana"], "team_id": team_id}
    )
    assert assigned.status_code == 200, assigned.text
    return {
        **ids,
        "team_id": team_id,
        "conversation_id": conversation_id,
        "customer_id": message["customer_id"],
    }


def send_survey(api: Any, runtime: Runtime, conversation_id: int, resolved_at: datetime) -> dict[str, Any]:
    """Resolve at `resolved_at`, let the delay pass, fire the timer; the survey sent."""
    set_clock(api, resolved_at)
    resolve(api, conversation_id)
    set_clock(api, resolved_at + DELAY + timedelta(minutes=1))
    reconcile(runtime)
    sent = surveys(api, conversation_id)
    assert len(sent) == 1
    return sent[0]


def test_survey_goes_after_the_delay_on_the_customers_channel_and_language(
    api: Any, runtime: Runtime, care: dict[str, Any]
) -> None:
    conversation_id = care["conversation_id"]
    english = api.message(
        channel="whatsapp",
        external_id="wa-1",
        author="+34 611 222 333",
        text="Hello, my parcel never arrived and the tracking has not changed for a week. Can you help?",
    )
    resolved_at = DAY1 + timedelta(hours=2)
    set_clock(api, resolved_at)
    resolve(api, conversation_id)
    resolve(api, english["conversation_id"])
    assert [e["conversation_id"] for e in events(api, "csat.scheduled")] == [
        conversation_id,
        english["conversation_id"],
    ]

    # Not before the delay.
    set_clock(api, resolved_at + DELAY - timedelta(minutes=1))
    reconcile(runtime)
    assert surveys(api, conversation_id) == [] and surveys(api, english["conversation_id"]) == []

    set_clock(api, resolved_at + DELAY + timedelta(minutes=1))
    reconcile(runtime)
    [spanish_survey] = surveys(api, conversation_id)
    assert (
        spanish_survey["message"]["channel"] == "email" and spanish_survey["delivery"]["channel"] == "email"
    )
    assert spanish_survey["message"]["direction"] == "out" and not spanish_survey["message"]["public"]
    assert spanish_survey["message"]["meta"]["recipient"] == "lucia@example.com"
    assert "de 1 (muy mal) a 5 (muy bien)" in spanish_survey["message"]["text"]
    assert spanish_survey["delivery"]["status"] in ("pending", "sent")
    [english_survey] = surveys(api, english["conversation_id"])
    assert english_survey["message"]["channel"] == "whatsapp"
    assert english_survey["message"]["meta"]["recipient"].replace(" ", "") == "+34611222333"
    assert "from 1 (very poor) to 5 (very good)" in english_survey["message"]["text"]
    assert token_of(spanish_survey) != token_of(english_survey)
    # The survey is the system's message; it proposes no promise and leaves the case resolved.
    assert spanish_survey["message"]["author_name"] == "cuida"
    assert events(api, "commitment.proposed") == []
    assert status_of(api, conversation_id)["status"] == "resolved"
    sent = events(api, "csat.sent")
    assert {(e["conversation_id"], e["payload"]["language"]) for e in sent} == {
        (conversation_id, "es"),
        (english["conversation_id"], "en"),
    }
    listed = api.get(f"/api/v1/conversations/{conversation_id}/ratings").json()
    assert [(r["status"], r["channel"], r["rating"]) for r in listed] == [("sent", "email", None)]


def test_answer_on_the_page_is_escaped_and_can_change(
    api: Any, runtime: Runtime, care: dict[str, Any], client: TestClient
) -> None:
    conversation_id = care["conversation_id"]
    token = token_of(send_survey(api, runtime, conversation_id, DAY1 + timedelta(hours=2)))
    public = TestClient(client.app)  # the customer: no token, no cookie

    page = public.get(f"/rate/{token}")
    assert page.status_code == 200, page.text
    assert "de 1 (muy mal) a 5 (muy bien)" in page.text and 'name="score" value="5"' in page.text
    assert page.headers["referrer-policy"] == "no-referrer" and page.headers["cache-control"] == "no-store"

    comment = '<script>alert("x")</script> Muy amables'
    answered = public.post(f"/rate/{token}", data={"score": "4", "comment": comment})
    assert answered.status_code == 200, answered.text
    assert "¡Gracias!" in answered.text and "4/5" in answered.text
    assert "<script>alert" not in answered.text and "&lt;script&gt;alert" in answered.text
    assert "<script>alert" not in public.get(f"/rate/{token}").text

    # Changing it within the window updates the one answer.
    changed = public.post(f"/rate/{token}", data={"score": "5", "comment": "Muy amables"})
    assert changed.status_code == 200 and "5/5" in changed.text
    [survey] = api.get(f"/api/v1/conversations/{conversation_id}/ratings").json()
    assert survey["status"] == "answered"
    rating = survey["rating"]
    assert (rating["score"], rating["comment"], rating["via"], rating["changes"]) == (
        5,
        "Muy amables",
        "web",
        1,
    )
    received = events(api, "rating.received")
    assert [(e["payload"]["score"], e["payload"]["previous_score"]) for e in received] == [(4, None), (5, 4)]
    assert received[0]["customer_id"] == care["customer_id"]

    bad_score = public.post(f"/rate/{token}", data={"score": "6", "comment": "x"})
    assert bad_score.status_code == 422 and "del 1 al 5" in bad_score.text


def test_answer_through_the_api_and_what_it_refuses(
    api: Any, runtime: Runtime, care: dict[str, Any], client: TestClient
) -> None:
    conversation_id = care["conversation_id"]
    token = token_of(send_survey(api, runtime, conversation_id, DAY1 + timedelta(hours=2)))
    public = TestClient(client.app)

    for score in (0, 6):
        refused = public.post(f"/api/v1/ratings/{token}", json={"score": score})
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["code"] == "invalid"
    wrong = public.post(f"/api/v1/ratings/{token}x", json={"score": 5})
    assert wrong.status_code == 404
    assert "no rating survey has this link" in wrong.json()["error"]["message"]
    wrong_page = public.get("/rate/not-a-real-token")
    assert wrong_page.status_code == 404 and "no es válido" in wrong_page.text

    answered = public.post(f"/api/v1/ratings/{token}", json={"score": 5, "comment": "Rápidos y claros"})
    assert answered.status_code == 200, answered.text
    assert answered.json()["score"] == 5 and answered.json()["changeable_until"] is not None
    listed = api.get(f"/api/v1/ratings?conversation_id={conversation_id}").json()
    assert [(r["score"], r["comment"], r["via"]) for r in listed] == [(5, "Rápidos y claros", "api")]
    assert status_of(api, conversation_id)["status"] == "resolved"

    # After the answer window, the link is closed.
    set_clock(api, DAY1 + timedelta(days=9))
    late = public.post(f"/api/v1/ratings/{token}", json={"score": 4})
    assert late.status_code == 410 and "expired" in late.json()["error"]["message"]
    assert public.get(f"/rate/{token}").status_code == 410

    # The lists and the report need ratings:read; the answer itself needs only the token.
    created = api.post("/api/v1/tokens", json={"name": "crm", "scopes": ["messages:read"]})
    assert created.status_code == 201, created.text
    other = {"Authorization": f"Bearer {created.json()['token']}"}
    assert public.get("/api/v1/reports/csat", headers=other).status_code == 403
    assert public.get("/api/v1/ratings", headers=other).status_code == 403
    assert public.get("/api/v1/reports/csat").status_code == 401


def test_a_reply_starting_with_a_digit_is_the_rating(
    api: Any, runtime: Runtime, care: dict[str, Any]
) -> None:
    conversation_id = care["conversation_id"]
    survey = send_survey(api, runtime, conversation_id, DAY1 + timedelta(hours=2))
    set_clock(api, DAY1 + timedelta(hours=5))
    reply = api.message(
        external_id="mail-2",
        author="lucia@example.com",
        in_reply_to=survey["message"]["external_id"],
        text="5 muy bien",
    )
    assert reply["conversation_id"] == conversation_id
    [rating] = api.get(f"/api/v1/ratings?conversation_id={conversation_id}").json()
    assert (rating["score"], rating["comment"], rating["via"]) == (5, "muy bien", "email")
    assert rating["message_id"] == reply["message_id"]
    # An answer to the survey is not a new request: the case stays resolved, with no new survey.
    assert status_of(api, conversation_id)["status"] == "resolved"
    set_clock(api, DAY1 + timedelta(hours=8))
    reconcile(runtime)
    assert len(surveys(api, conversation_id)) == 1

    # Later messages are not ratings, even when they start with a number.
    set_clock(api, DAY1 + timedelta(hours=9))
    api.message(external_id="mail-3", author="lucia@example.com", text="2 días después vuelve a fallar")
    assert len(api.get(f"/api/v1/ratings?conversation_id={conversation_id}").json()) == 1
    assert events(api, "rating.received")[-1]["payload"]["score"] == 5


def test_a_negative_rating_reopens_the_case_to_the_lead(
    api: Any, runtime: Runtime, care: dict[str, Any], client: TestClient
) -> None:
    conversation_id = care["conversation_id"]
    token = token_of(send_survey(api, runtime, conversation_id, DAY1 + timedelta(hours=2)))
    answered = TestClient(client.app).post(
        f"/api/v1/ratings/{token}", json={"score": 1, "comment": "Sigo sin internet"}
    )
    assert answered.status_code == 200, answered.text

    conversation = status_of(api, conversation_id)
    assert conversation["status"] == "open" and conversation["assignee_id"] == care["luis"]
    reopened = [e for e in events(api, "conversation.updated") if e["conversation_id"] == conversation_id]
    assert reopened[-1]["payload"]["status"] == ["resolved", "open"]
    [negative] = events(api, "rating.negative")
    assert negative["payload"]["notified"] == [care["luis"]] and negative["payload"]["score"] == 1

    lead = TestClient(client.app)
    login = lead.post("/api/v1/auth/login", json={"email": "luis@cuida.test", "password": PASSWORD})
    assert login.status_code == 200, login.text
    notes = [n for n in lead.get("/api/v1/notifications").json() if n["kind"] == "rating.negative"]
    assert len(notes) == 1 and notes[0]["conversation_id"] == conversation_id
    assert "1/5" in notes[0]["text"] and "Sigo sin internet" in notes[0]["text"]


def test_no_survey_when_reopened_before_the_delay(api: Any, runtime: Runtime, care: dict[str, Any]) -> None:
    conversation_id = care["conversation_id"]
    other = api.message(
        external_id="mail-other", author="pablo@example.com", text="No puedo entrar en mi cuenta desde ayer"
    )
    set_clock(api, DAY1 + timedelta(hours=2))
    resolve(api, conversation_id)
    resolve(api, other["conversation_id"])
    set_clock(api, DAY1 + timedelta(hours=2, minutes=10))
    # One is reopened by an agent, the other by the customer writing again.
    assert api.patch(f"/api/v1/conversations/{conversation_id}", json={"status": "open"}).status_code == 200
    again = api.message(
        external_id="mail-other-2", author="pablo@example.com", in_reply_to="mail-other", text="Sigue igual"
    )
    assert again["conversation_id"] == other["conversation_id"]
    set_clock(api, DAY1 + timedelta(hours=5))
    reconcile(runtime)
    assert surveys(api, conversation_id) == [] and surveys(api, other["conversation_id"]) == []
    cancelled = events(api, "csat.cancelled")
    assert {e["conversation_id"] for e in cancelled} == {conversation_id, other["conversation_id"]}


def test_resolved_twice_gets_one_survey_and_some_get_none(
    api: Any, runtime: Runtime, care: dict[str, Any]
) -> None:
    conversation_id = care["conversation_id"]
    send_survey(api, runtime, conversation_id, DAY1 + timedelta(hours=2))
    set_clock(api, DAY1 + timedelta(hours=4))
    assert api.patch(f"/api/v1/conversations/{conversation_id}", json={"status": "open"}).status_code == 200
    resolve(api, conversation_id)
    set_clock(api, DAY1 + timedelta(hours=8))
    reconcile(runtime)
    assert len(surveys(api, conversation_id)) == 1
    assert [r["status"] for r in api.get(f"/api/v1/conversations/{conversation_id}/ratings").json()] == [
        "sent"
    ]

    # A phone call cannot carry a survey.
    call = api.message(
        channel="phone",
        direction="in",
        external_id="call-1",
        author="+34 600 000 001",
        text="Llamada: avería",
    )
    resolve(api, call["conversation_id"])
    skipped = [e for e in events(api, "csat.skipped") if e["conversation_id"] == call["conversation_id"]]
    assert len(skipped) == 1 and "phone" in skipped[0]["payload"]["reason"]
    assert "already surveyed" in events(api, "csat.skipped")[0]["payload"]["reason"]


def test_csat_report(api: Any, runtime: Runtime, care: dict[str, Any], client: TestClient) -> None:
    public = TestClient(client.app)
    scores = [5, 4, 1, None]  # None: never answered
    in_team = [True, True, True, False]
    conversation_ids = []
    for i, team in enumerate(in_team):
        set_clock(api, DAY1 + timedelta(minutes=i + 1))
        message = api.message(
            external_id=f"r-{i}",
            author=f"cliente{i}@example.com",
            text="La factura está mal, me cobran de más",
        )
        conversation_ids.append(message["conversation_id"])
        if team:
            api.patch(
                f"/api/v1/conversations/{message['conversation_id']}", json={"team_id": care["team_id"]}
            )
    for i, (conversation_id, score) in enumerate(zip(conversation_ids, scores, strict=True)):
        survey = send_survey(api, runtime, conversation_id, DAY1 + timedelta(hours=1 + i * 2))
        if score is not None:
            answered = public.post(f"/api/v1/ratings/{token_of(survey)}", json={"score": score})
            assert answered.status_code == 200, answered.text

    period = "from=2026-03-01T00:00:00Z&to=2026-03-03T00:00:00Z"
    report = api.get(f"/api/v1/reports/csat?{period}")
    assert report.status_code == 200, report.text
    body = report.json()
    answered_scores = [s for s in scores if s is not None]
    assert body["sent"] == len(scores) and body["count"] == len(answered_scores)
    assert body["average"] == round(sum(answered_scores) / len(answered_scores), 2)
    assert body["satisfied_share"] == round(
        sum(1 for s in answered_scores if s >= 4) / len(answered_scores), 3
    )
    assert body["distribution"] == {str(n): answered_scores.count(n) for n in range(1, 6)}
    assert body["response_rate"] == round(len(answered_scores) / len(scores), 3)
    assert "satisfied_share" in body["definitions"]

    team = api.get(f"/api/v1/reports/csat?{period}&team_id={care['team_id']}").json()
    # The care fixture's conversation is the team's too, but was never resolved.
    assert team["sent"] == sum(in_team)
    assert team["count"] == sum(1 for t, s in zip(in_team, scores, strict=True) if t and s is not None)
    later = api.get("/api/v1/reports/csat?from=2026-03-05T00:00:00Z&to=2026-03-06T00:00:00Z").json()
    assert later["sent"] == 0 and later["average"] is None and later["response_rate"] is None
    assert (
        api.get("/api/v1/reports/csat?from=2026-03-06T00:00:00Z&to=2026-03-05T00:00:00Z").status_code == 422
    )


def test_goodwill_report_takes_the_rating_as_the_outcome(
    api: Any, runtime: Runtime, care: dict[str, Any], client: TestClient
) -> None:
    conversation_id, customer_id = care["conversation_id"], care["customer_id"]
    set_clock(api, DAY1 + timedelta(hours=1))
    granted = api.post(
        f"/api/v1/customers/{customer_id}/goodwill",
        json={
            "kind": "discount",
            "cost": "10",
            "description": "Un mes gratis",
            "conversation_id": conversation_id,
        },
    )
    assert granted.status_code == 201 and granted.json()["status"] == "granted", granted.text
    set_clock(api, DAY1 + timedelta(hours=2))
    api.message(
        external_id="mail-angry",
        author="lucia@example.com",
        text="Sigue sin funcionar, es una vergüenza, estoy harta y muy enfadada",
    )
    period = "from=2026-03-01T00:00:00Z&to=2026-03-03T00:00:00Z"
    before = api.get(f"/api/v1/goodwill/report?{period}").json()["items"][0]
    assert before["ratings_after"] == 0 and before["last_rating_after"] is None
    assert before["outcome"] == "negative"  # only the angry message speaks

    token = token_of(send_survey(api, runtime, conversation_id, DAY1 + timedelta(hours=3)))
    assert TestClient(client.app).post(f"/api/v1/ratings/{token}", json={"score": 5}).status_code == 200
    after = api.get(f"/api/v1/goodwill/report?{period}").json()["items"][0]
    assert after["ratings_after"] == 1 and after["last_rating_after"] == 5
    assert after["sentiment_after"] == before["sentiment_after"]
    assert after["outcome"] == "positive"


def test_contactability_release_counts_the_last_rating(
    api: Any, runtime: Runtime, care: dict[str, Any], client: TestClient
) -> None:
    set_clock(api, DAY1 + timedelta(hours=1))
    complaint = api.message(
        external_id="mail-angry",
        author="daniel@example.com",
        text="Los vaqueros que compré llegaron rotos y nadie me contesta, quiero una solución ya",
    )
    conversation_id, customer_id = complaint["conversation_id"], complaint["customer_id"]
    resolved_at = DAY1 + timedelta(days=1)
    token = token_of(send_survey(api, runtime, conversation_id, resolved_at))
    after_cooling = resolved_at + COOLING_PERIOD + timedelta(hours=2)

    def answer_after_cooling() -> Any:
        with runtime.db.sessions() as session:
            return compute(session=session, customer_id=customer_id, purpose="marketing", at=after_cooling)

    # Without a rating, their negative last message would hold them past the cooling period.
    held = answer_after_cooling()
    assert [r.code for r in held.reasons] == ["recently_resolved_complaint"]
    assert "last message" in held.reasons[0].detail

    # A 3/5 given after that message is their last word: the cooling period alone applies.
    assert TestClient(client.app).post(f"/api/v1/ratings/{token}", json={"score": 3}).status_code == 200
    assert answer_after_cooling().contactable is True
    set_clock(api, after_cooling)
    reconcile(runtime)
    asked = api.get("/api/v1/contactability?identity=email:daniel@example.com&purpose=marketing").json()
    assert asked["contactable"] is True
