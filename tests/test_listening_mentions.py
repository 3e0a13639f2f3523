"""Listening: public messages become mentions; engagement snapshots re-forecast their reach, score
the reputation risk of the mention and its conversations, and raise de-duplicated crisis alerts to
the right people, escalated when nobody acknowledges them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from cuida.auth import service as auth_service
from cuida.conversations.models import Message
from cuida.events.models import Event
from cuida.listening import forecast
from cuida.listening.models import ListeningAlert, Mention
from cuida.notifications.models import Notification

PASSWORD = "a long password"
START = datetime.fromisoformat("2027-03-01T10:00:00+00:00")
# Strong enough that triage reads it as negative with a legal threat, whatever the model's version.
ANGRY = "@TiendaX me habéis cobrado dos veces y nadie responde. Os voy a denunciar ante consumo. Vergüenza."


def payload(row: Event | Notification) -> dict[str, Any]:
    return cast(dict[str, Any], row.payload)


def at(api: Any, when: datetime) -> None:
    response = api.put("/api/v1/admin/clock", json={"now": when.isoformat()})
    assert response.status_code == 200, response.text


def events(runtime: Any, type_: str) -> list[Event]:
    with runtime.db.sessions() as session:
        return list(session.scalars(select(Event).where(Event.type == type_).order_by(Event.id)))


def notifications(runtime: Any, kind: str) -> list[Notification]:
    with runtime.db.sessions() as session:
        return list(
            session.scalars(select(Notification).where(Notification.kind == kind).order_by(Notification.id))
        )


def alerts(runtime: Any) -> list[ListeningAlert]:
    with runtime.db.sessions() as session:
        return list(session.scalars(select(ListeningAlert).order_by(ListeningAlert.id)))


@pytest.fixture
def shop(api: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A shop's care team (an agent and its lead), a manager, and a loyal customer with a complaint
    made in the shop, still unanswered, owned by the team."""
    monkeypatch.setattr(auth_service, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    at(api, START)
    assert api.post("/api/v1/teams", json={"slug": "tienda", "name": "Tienda"}).status_code == 201
    ids: dict[str, Any] = {}
    for name, role, teams in (
        ("ana", "agent", ["tienda"]),
        ("luis", "lead", ["tienda"]),
        ("marta", "manager", []),
    ):
        created = api.post(
            "/api/v1/agents",
            json={
                "email": f"{name}@tienda.es",
                "name": name,
                "password": PASSWORD,
                "role": role,
                "team_slugs": teams,
            },
        )
        assert created.status_code == 201, created.text
        ids[name] = created.json()["id"]
    customer = api.post(
        "/api/v1/customers",
        json={
            "name": "Antonio Domínguez",
            "identities": [
                {"channel": "email", "value": "antonio.dominguez@correo.es"},
                {"channel": "twitter", "value": "@adominguez"},
            ],
        },
    )
    assert customer.status_code == 201, customer.text
    ids["customer"] = customer.json()["id"]
    complaint = api.message(
        channel="email",
        external_id="complaint-1",
        author={"value": "antonio.dominguez@correo.es"},
        text="Los vaqueros se rompieron y en la tienda me negaron el cambio. Quiero una solución.",
    )
    ids["case"] = complaint["conversation_id"]
    team_id = next(t["id"] for t in api.get("/api/v1/teams").json() if t["slug"] == "tienda")
    assert api.patch(f"/api/v1/conversations/{ids['case']}", json={"team_id": team_id}).status_code == 200
    return ids


def post(
    api: Any, external_id: str, text: str, author: str, followers: int | None = None, **extra: Any
) -> dict:
    who: dict[str, Any] = {"value": author}
    if followers is not None:
        who["followers"] = followers
    return api.message(
        channel="twitter", external_id=external_id, author=who, text=text, public=True, **extra
    )


def mention_of(api: Any, message_id: int) -> dict[str, Any]:
    found = [
        m for m in api.get("/api/v1/mentions", params={"limit": 200}).json() if m["message_id"] == message_id
    ]
    assert len(found) == 1, f"message {message_id} should be exactly one mention"
    return dict(found[0])


def snapshot(api: Any, mention_id: int, when: datetime, **counts: int) -> Any:
    at(api, when)
    return api.post(
        f"/api/v1/mentions/{mention_id}/snapshots", json={"observed_at": when.isoformat(), **counts}
    )


def test_public_messages_are_mentions_linked_to_the_customer_and_the_open_case(api, shop):
    tweet = post(api, "t-1", "Mi experiencia con @TiendaX, en el blog.", "@adominguez", 2100)
    mention = mention_of(api, tweet["message_id"])
    assert mention["customer_id"] == shop["customer"]
    assert mention["conversation_id"] == tweet["conversation_id"]  # the public thread it was answered in
    assert mention["case_id"] == shop["case"]  # and the complaint it is about
    assert mention["author"] == "@adominguez" and mention["author_followers"] == 2100
    assert mention["forecast"] is None and mention["snapshot_count"] == 0  # no forecast before a snapshot
    assert mention["triage"]["sentiment"] in ("negative", "neutral", "positive")
    # Private messages are not mentions.
    private = api.message(channel="email", external_id="e-2", author={"value": "otra@correo.es"}, text="Hola")
    assert all(m["message_id"] != private["message_id"] for m in api.get("/api/v1/mentions").json())


def test_snapshots_forecast_the_main_metric_and_update_it_at_each_snapshot(api, shop):
    tweet = post(api, "t-1", "Mi experiencia con @TiendaX, en el blog.", "@adominguez", 2100)
    mention_id = mention_of(api, tweet["message_id"])["id"]
    posted = START  # the clock did not move since the fixture: the tweet is dated now
    seen: list[dict[str, Any]] = []
    for minutes, reshares, likes in ((10, 2, 5), (30, 4, 9)):
        response = snapshot(
            api, mention_id, posted + timedelta(minutes=minutes), reshares=reshares, likes=likes
        )
        assert response.status_code == 200, response.text
        assert response.json()["created"] is True
        seen.append(response.json()["mention"])
    expected = forecast([(600, 2), (1800, 4)], followers=2100)
    latest = seen[-1]["forecast"]
    assert latest["metric"] == "reshares"  # reshares win over likes
    assert latest["final"] == pytest.approx(expected.final, abs=0.1)
    assert (latest["low"], latest["high"]) == (
        pytest.approx(expected.low, abs=0.1),
        pytest.approx(expected.high, abs=0.1),
    )
    assert latest["observed"] == 4 and latest["model"] == expected.model
    assert datetime.fromisoformat(latest["made_at"]) == posted + timedelta(minutes=30)
    assert seen[0]["forecast"]["made_at"] != latest["made_at"]  # remade at each snapshot
    detail = api.get(f"/api/v1/mentions/{mention_id}").json()
    assert [s["counts"] for s in detail["snapshots"]] == [
        {"reshares": 2, "likes": 5},
        {"reshares": 4, "likes": 9},
    ]
    # Views stand in when the source gives no reshares (a video).
    video = post(api, "t-2", "Nuevo vídeo sobre @TiendaX", "@canal", 500)
    video_id = mention_of(api, video["message_id"])["id"]
    response = snapshot(api, video_id, posted + timedelta(minutes=40), views=800, likes=30)
    assert response.json()["mention"]["forecast"]["metric"] == "views"
    # Retrying the same reading is harmless.
    again = api.post(
        f"/api/v1/mentions/{video_id}/snapshots",
        json={"observed_at": (posted + timedelta(minutes=40)).isoformat(), "views": 800, "likes": 30},
    )
    assert again.status_code == 200 and again.json()["created"] is False
    assert api.get(f"/api/v1/mentions/{video_id}").json()["snapshot_count"] == 1


def test_risk_is_written_to_the_case_and_the_thread_with_its_reasons(api, shop, runtime):
    tweet = post(api, "t-1", ANGRY, "@adominguez", 250_000)  # an angry post from an account with reach
    mention = mention_of(api, tweet["message_id"])
    assert mention["risk_score"] >= 0.6
    reasons = " | ".join(mention["risk_reasons"])
    assert "250,000 followers" in reasons and "negative" in reasons and "unanswered" in reasons
    for conversation_id in (shop["case"], tweet["conversation_id"]):
        case = api.get(f"/api/v1/conversations/{conversation_id}").json()
        assert case["risk_score"] == pytest.approx(mention["risk_score"])
        risk = api.get(f"/api/v1/conversations/{conversation_id}/risk").json()
        assert risk["reasons"] == mention["risk_reasons"] and [m["id"] for m in risk["mentions"]] == [
            mention["id"]
        ]
    changes = [e for e in events(runtime, "conversation.updated") if "risk_score" in payload(e)]
    assert {e.conversation_id for e in changes} == {shop["case"], tweet["conversation_id"]}
    assert all(payload(e)["risk_score"][0] == 0 and payload(e)["risk_reasons"] for e in changes)
    # The risk-aware SLA hears it: the case's running clock is tightened for reputation risk.
    clocks = api.get(f"/api/v1/conversations/{shop['case']}/sla").json()["clocks"]
    first = next(c for c in clocks if c["kind"] == "first_response")
    assert any("reputation risk" in reason for reason in first["reasons"]), first
    # The board's "at risk" view reads the same column.
    at_risk = api.get("/api/v1/conversations", params={"min_risk": 0.6, "limit": 50}).json()["items"]
    assert shop["case"] in {c["id"] for c in at_risk}


def test_crossing_the_line_alerts_the_lead_and_whoever_is_on_duty_with_everything_needed(api, shop, runtime):
    blog = api.message(
        channel="feed",
        external_id="blog-1",
        author={"value": "antoniodominguez.blog"},
        text="La historia de unos vaqueros rotos y una reclamación ignorada. Difundid, por favor.",
        public=True,
    )
    other = post(api, "t-0", "Sigo esperando respuesta de @TiendaX", "@adominguez", 2100)
    stranger = post(api, "t-9", "Qué bonita la tienda nueva de @TiendaX", "@maria", 300)
    tweet = post(
        api, "t-1", "Mi experiencia con @TiendaX, en el blog. Se agradece cualquier RT.", "@adominguez", 2100
    )
    mention_id = mention_of(api, tweet["message_id"])["id"]
    response = snapshot(api, mention_id, START + timedelta(hours=2), reshares=150)  # past the line already
    assert response.status_code == 200, response.text
    [alert] = alerts(runtime)
    assert response.json()["alert_id"] == alert.id
    assert alert.level == 2 and alert.status == "open" and alert.key == f"case:{shop['case']}"
    assert alert.conversation_id == shop["case"] and alert.customer_id == shop["customer"]
    assert sorted(alert.notified) == sorted([shop["luis"], shop["ana"]])  # the team's lead and agent on duty
    details = alert.details
    assert details["mention"]["id"] == mention_id and details["mention"]["counts"] == {"reshares": 150}
    assert details["forecast"]["metric"] == "reshares" and details["forecast"]["final"] >= 150
    assert details["customer"] == {"id": shop["customer"], "name": "Antonio Domínguez"}
    assert details["case"]["id"] == shop["case"] and details["case"]["unanswered"] is True
    related = {r["message_id"]: r["relation"] for r in details["related"]}
    assert related[other["message_id"]] == "same customer"
    assert related[blog["message_id"]].startswith("probably the same author")  # his blog
    assert stranger["message_id"] not in related
    # In the same transaction as the snapshot: the notification and the event are already there.
    [note] = [n for n in notifications(runtime, "crisis.alert") if n.agent_id == shop["luis"]]
    assert payload(note)["alert_id"] == alert.id and note.conversation_id == shop["case"]
    [event] = events(runtime, "crisis.alert")
    assert payload(event)["alert_id"] == alert.id and payload(event)["case"]["id"] == shop["case"]
    assert payload(event)["forecast"] == details["forecast"]
    listed = api.get("/api/v1/alerts", params={"status": "open"}).json()
    assert [a["id"] for a in listed] == [alert.id] and listed[0]["level_name"] == "crisis"
    by_forecast = api.get("/api/v1/mentions", params={"sort": "forecast"}).json()
    assert by_forecast[0]["id"] == mention_id  # the only one with a forecast comes first


def test_alerts_deduplicate_and_a_higher_level_updates_the_same_alert(api, shop, runtime):
    # Risk alone (an angry post from a large account about an unanswered case) is a "watch" alert...
    tweet = post(api, "t-1", ANGRY, "@adominguez", 250_000)
    [alert] = alerts(runtime)
    assert alert.level == 1 and any("reputation risk" in r for r in alert.reasons)
    mention_id = mention_of(api, tweet["message_id"])["id"]
    # ... the reshares crossing the line make it a crisis: the same alert, raised, told again.
    assert snapshot(api, mention_id, START + timedelta(minutes=30), reshares=120).status_code == 200
    assert snapshot(api, mention_id, START + timedelta(minutes=40), reshares=130).status_code == 200
    # Another post of the same case joins the same alert instead of opening a second one.
    second = post(api, "t-2", "Y encima me bloquean. @TiendaX", "@adominguez", 250_000)
    second_id = mention_of(api, second["message_id"])["id"]
    assert snapshot(api, second_id, START + timedelta(minutes=50), reshares=200).status_code == 200
    [alert] = alerts(runtime)
    assert alert.level == 2 and alert.mention_id == second_id
    raised = events(runtime, "crisis.alert")
    assert [payload(e)["change"] for e in raised] == ["raised", "level_raised"]
    assert len([n for n in notifications(runtime, "crisis.alert") if n.agent_id == shop["luis"]]) == 2


def test_an_alert_nobody_acknowledges_is_escalated_to_the_managers(api, shop, runtime):
    tweet = post(api, "t-1", "Mi experiencia con @TiendaX, en el blog.", "@adominguez", 2100)
    mention_id = mention_of(api, tweet["message_id"])["id"]
    snapshot(api, mention_id, START + timedelta(minutes=20), reshares=150)
    [alert] = alerts(runtime)
    at(api, START + timedelta(minutes=20 + 14))
    assert not events(runtime, "crisis.escalated")
    at(api, START + timedelta(minutes=20 + 16))  # CUIDA_LISTENING_ALERT_ESCALATE_MINUTES (15) later
    [escalated] = events(runtime, "crisis.escalated")
    assert payload(escalated)["alert_id"] == alert.id and shop["marta"] in payload(escalated)["notified"]
    assert [n.agent_id for n in notifications(runtime, "crisis.escalated") if n.agent_id == shop["marta"]]
    assert alerts(runtime)[0].escalation_level == 1
    at(api, START + timedelta(hours=3))
    assert len(events(runtime, "crisis.escalated")) == 1  # once


def test_acknowledging_calls_off_the_escalation(api, shop, runtime):
    tweet = post(api, "t-1", "Mi experiencia con @TiendaX, en el blog.", "@adominguez", 2100)
    mention_id = mention_of(api, tweet["message_id"])["id"]
    snapshot(api, mention_id, START + timedelta(minutes=20), reshares=150)
    [alert] = alerts(runtime)
    acked = api.post(f"/api/v1/alerts/{alert.id}/acknowledge")
    assert acked.status_code == 200, acked.text
    assert acked.json()["status"] == "acknowledged" and acked.json()["acknowledged_at"]
    assert api.post(f"/api/v1/alerts/{alert.id}/acknowledge").status_code == 200  # idempotent
    assert len(events(runtime, "crisis.acknowledged")) == 1
    at(api, START + timedelta(hours=2))
    assert not events(runtime, "crisis.escalated")
    assert api.get("/api/v1/alerts", params={"status": "open"}).json() == []
    assert api.post("/api/v1/alerts/999999/acknowledge").status_code == 404


def test_a_grumble_with_no_reach_raises_nothing(api, shop, runtime):
    grumble = post(api, "t-1", "Otra vez aquí los de @TiendaX haciéndose publicidad. Patético.", "@critico")
    mention = mention_of(api, grumble["message_id"])
    assert mention["risk_score"] < 0.1 and "author reach unknown" in mention["risk_reasons"]
    for minutes, likes in ((60, 1), (180, 2), (24 * 60, 2)):
        assert (
            snapshot(api, mention["id"], START + timedelta(minutes=minutes), likes=likes).status_code == 200
        )
    mention = api.get(f"/api/v1/mentions/{mention['id']}").json()
    assert mention["forecast"]["final"] < 100 and mention["risk_score"] < 0.1
    assert alerts(runtime) == [] and not events(runtime, "crisis.alert")
    assert api.get(f"/api/v1/conversations/{grumble['conversation_id']}").json()["risk_score"] < 0.1


def test_bad_snapshots_are_refused_clearly(api, shop):
    tweet = post(api, "t-1", "Hola @TiendaX", "@adominguez", 2100)
    mention_id = mention_of(api, tweet["message_id"])["id"]
    later = START + timedelta(hours=1)
    assert snapshot(api, mention_id, later, reshares=10).status_code == 200

    def refused(url: str, body: dict[str, Any], status: int, words: str) -> None:
        response = api.post(url, json=body)
        assert response.status_code == status, response.text
        assert words in response.text, response.text

    url = f"/api/v1/mentions/{mention_id}/snapshots"
    refused(url, {"observed_at": later.isoformat(), "reshares": -1}, 422, "greater than or equal to 0")
    refused(url, {"observed_at": later.isoformat()}, 422, "give at least one count")
    refused(
        url, {"observed_at": (later - timedelta(minutes=5)).isoformat(), "reshares": 12}, 422, "time order"
    )
    refused(url, {"observed_at": later.isoformat(), "reshares": 11}, 409, "other counts")
    refused(
        url, {"observed_at": (START - timedelta(hours=1)).isoformat(), "reshares": 1}, 422, "before the post"
    )
    refused(
        url, {"observed_at": (later + timedelta(days=1)).isoformat(), "reshares": 12}, 422, "in the future"
    )
    refused(url, {"observed_at": "2027-03-01T12:00:00", "reshares": 12}, 422, "offset")
    refused("/api/v1/mentions/999999/snapshots", {"reshares": 1}, 404, "mention 999999 not found")
    by_id = {"channel": "twitter", "external_id": "nope", "reshares": 1}
    refused("/api/v1/mentions/snapshots", by_id, 404, "no mention for twitter message 'nope'")
    # Bulk: all or nothing, and the error names the item.
    items = [
        {"channel": "twitter", "external_id": "t-1", "observed_at": later.isoformat(), "reshares": 10},
        {"mention_id": mention_id, "observed_at": (later - timedelta(hours=2)).isoformat(), "reshares": 3},
    ]
    response = api.post("/api/v1/mentions/snapshots/bulk", json={"items": items})
    assert response.status_code == 422 and "items[1]" in response.text, response.text
    assert api.get(f"/api/v1/mentions/{mention_id}").json()["snapshot_count"] == 1


def test_snapshots_by_external_id_and_in_bulk(api, shop):
    post(api, "t-1", "Hola @TiendaX", "@adominguez", 2100)
    one = START + timedelta(minutes=10)
    at(api, one)
    by_external = api.post(
        "/api/v1/mentions/snapshots",
        json={"channel": "twitter", "external_id": "t-1", "observed_at": one.isoformat(), "reshares": 3},
    )
    assert by_external.status_code == 200, by_external.text
    mention_id = by_external.json()["mention"]["id"]
    at(api, START + timedelta(minutes=40))
    items = [
        {"mention_id": mention_id, "observed_at": (START + timedelta(minutes=m)).isoformat(), "reshares": r}
        for m, r in ((20, 5), (30, 9))
    ]
    bulk = api.post("/api/v1/mentions/snapshots/bulk", json={"items": items})
    assert bulk.status_code == 200, bulk.text
    assert [r["snapshot"]["counts"]["reshares"] for r in bulk.json()] == [5, 9]
    assert api.get(f"/api/v1/mentions/{mention_id}").json()["forecast"]["observed"] == 9


def test_listening_needs_its_scopes(api, shop, client):
    from cuida.auth.service import create_token

    runtime = client.app.state.runtime
    with runtime.db.session() as session:
        secret, _ = create_token(session=session, name="reader", scopes=["conversations:read"])
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/alerts", headers=headers).status_code == 403
    assert (
        client.post("/api/v1/mentions/1/snapshots", json={"reshares": 1}, headers=headers).status_code == 403
    )


def test_mentions_table_holds_one_row_per_public_message(api, shop, runtime):
    for i in range(3):
        post(api, f"t-{i}", f"Mensaje {i} para @TiendaX", "@adominguez", 2100)
    post(api, "t-0", "Mensaje 0 para @TiendaX", "@adominguez", 2100)  # the same message again
    with runtime.db.sessions() as session:
        assert len(session.scalars(select(Mention)).all()) == 3


def test_a_spike_in_the_brands_hourly_volume_alerts_the_managers(api, shop, runtime):
    """Eight days of ordinary volume (one to three mentions an hour), then forty in one hour: the
    timer at the end of that hour finds the spike and raises one alert."""
    start = START - timedelta(days=8)

    def add_mentions(session: Any, when: datetime, count: int, tag: str) -> None:
        for i in range(count):
            message = Message(
                channel="twitter",
                external_id=f"{tag}-{i}",
                direction="in",
                text="@TiendaX",
                public=True,
                occurred_at=when,
                received_at=when,
                stage="done",
                meta={},
            )
            session.add(message)
            session.flush()
            session.add(
                Mention(
                    message_id=message.id,
                    channel="twitter",
                    text=message.text,
                    triage={"sentiment": "neutral"},
                    posted_at=when,
                    counts={},
                    snapshot_count=0,
                    risk_score=0.0,
                    risk_reasons=[],
                    created_at=when,
                    updated_at=when,
                )
            )

    with runtime.db.session() as session:
        for hour in range(8 * 24):
            when = start + timedelta(hours=hour, minutes=30)
            add_mentions(session, when, 1 + hour % 3, f"h{hour}")
        add_mentions(session, START + timedelta(minutes=2), 40, "spike")
    at(api, START + timedelta(minutes=5))
    post(api, "t-live", "Todo el mundo hablando de @TiendaX", "@alguien")  # arms the end-of-hour check
    assert not [a for a in alerts(runtime) if a.kind == "spike"]
    at(api, START + timedelta(hours=1, minutes=1))
    [spike] = [a for a in alerts(runtime) if a.kind == "spike"]
    assert spike.level == 2 and spike.key.startswith("spike:brand:volume:")
    assert (
        spike.details["spike"]["observed"] == 41
    )  # the forty and the live post and spike.details["spike"]["expected"] < 10
    assert shop["marta"] in spike.notified  # no team owns the brand's volume: the managers hear of it
    [event] = [e for e in events(runtime, "crisis.alert") if payload(e)["alert_id"] == spike.id]
    assert payload(event)["spike"]["start"] == START.isoformat()
