"""Incidents: mentions about the same thing (a link, a hashtag, one post and its replies or reshares,
nearly the same words) are grouped when they are recorded; an incident shows its timeline, the
customers and conversations involved and its forecast, and gets one coordinated public answer with a
private follow-up per customer."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from cuida.auth import service as auth_service
from cuida.conversations.models import Conversation, Message
from cuida.events.models import Event
from cuida.listening.incident_models import Incident, IncidentMention
from cuida.listening.incidents import jaccard, normalise_link, text_terms
from cuida.settings import Settings
from tests.conftest import fresh_settings
from tests.screens_support import browser_for, make_agent

START = datetime.fromisoformat("2027-03-01T10:00:00+00:00")


@pytest.fixture
def settings(migrated_template: dict[str, Any], tmp_path: Path) -> Settings:
    # The brand's own hashtag is in most mentions: it must not group them.
    return fresh_settings(migrated_template, tmp_path / "data", listening_brand_hashtags="TiendaX, #rebajas")


def at(api: Any, when: datetime) -> None:
    response = api.put("/api/v1/admin/clock", json={"now": when.isoformat()})
    assert response.status_code == 200, response.text


def post(
    api: Any, external_id: str, text: str, author: str, followers: int | None = 500, **extra: Any
) -> dict:
    who: dict[str, Any] = {"value": author}
    if followers is not None:
        who["followers"] = followers
    return api.message(
        channel="twitter", external_id=external_id, author=who, text=text, public=True, **extra
    )


def mention_id(api: Any, message_id: int) -> int:
    found = [
        m for m in api.get("/api/v1/mentions", params={"limit": 200}).json() if m["message_id"] == message_id
    ]
    assert len(found) == 1
    return int(found[0]["id"])


def incidents(api: Any, **params: Any) -> list[dict[str, Any]]:
    response = api.get("/api/v1/listening/incidents", params=params)
    assert response.status_code == 200, response.text
    return list(response.json())


def members(api: Any, incident_id: int) -> set[int]:
    detail = api.get(f"/api/v1/listening/incidents/{incident_id}")
    assert detail.status_code == 200, detail.text
    return {m["message_id"] for m in detail.json()["mentions"]}


def events(runtime: Any, type_: str) -> list[Event]:
    with runtime.db.sessions() as session:
        return list(session.scalars(select(Event).where(Event.type == type_).order_by(Event.id)))


@pytest.fixture
def shop(api: Any, runtime: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A care team (an agent and its lead), an agent of another team, and a customer with a complaint
    made by email, still open, owned by the team."""
    monkeypatch.setattr(auth_service, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    at(api, START)
    ids: dict[str, Any] = {
        "ana": make_agent(runtime, "ana@tienda.es", "agent", ("tienda",)),
        "luis": make_agent(runtime, "luis@tienda.es", "lead", ("tienda",)),
        "sol": make_agent(runtime, "sol@tienda.es", "agent", ("social",)),
    }
    customer = api.post(
        "/api/v1/customers",
        json={
            "name": "Antonio Domínguez",
            "identities": [
                {"channel": "email", "value": "antonio@correo.es"},
                {"channel": "twitter", "value": "@adominguez"},
            ],
        },
    )
    assert customer.status_code == 201, customer.text
    ids["customer"] = customer.json()["id"]
    complaint = api.message(
        channel="email",
        external_id="complaint-1",
        author={"value": "antonio@correo.es"},
        text="Los vaqueros se rompieron y en la tienda me negaron el cambio.",
    )
    ids["case"] = complaint["conversation_id"]
    team_id = next(t["id"] for t in api.get("/api/v1/teams").json() if t["slug"] == "tienda")
    assert api.patch(f"/api/v1/conversations/{ids['case']}", json={"team_id": team_id}).status_code == 200
    return ids


def test_link_forms_and_terms_are_normalised() -> None:
    assert normalise_link("https://www.Blog.es/vaqueros/?utm_source=tw#top") == "blog.es/vaqueros"
    assert normalise_link("http://blog.es/vaqueros?id=3&utm_medium=x).") == "blog.es/vaqueros?id=3"
    assert normalise_link("https://localhost/x") is None
    copy = text_terms(
        "Los vaqueros de @TiendaX se rompen al primer lavado. Vergüenza de calidad https://x.es/a"
    )
    same = text_terms("Los vaqueros de @TiendaX se rompieron al primer lavado, qué vergüenza de calidad")
    assert "tiendax" not in copy and "los" not in copy and "x" not in " ".join(copy)
    assert jaccard(copy, same) >= 0.5
    assert jaccard(copy, text_terms("El envío de mi pedido de zapatillas lleva una semana de retraso")) < 0.2


def test_mentions_sharing_a_link_are_one_incident(api: Any, shop: dict[str, Any], runtime: Any) -> None:
    first = post(
        api,
        "t-1",
        "Leed lo que me pasó con @TiendaX https://antoniodominguez.blog/vaqueros?utm_source=tw",
        "@adominguez",
        2100,
    )
    assert incidents(api) == []  # one post alone is not an incident
    other = post(api, "t-2", "Increíble esto http://www.antoniodominguez.blog/vaqueros/ #TiendaX", "@maria")
    unrelated = post(
        api, "t-3", "Qué bonita la tienda nueva de @TiendaX https://tiendax.es/novedades", "@pepe"
    )
    [incident] = incidents(api)
    assert incident["mention_count"] == 2 and incident["grouped_by"] == ["link"]
    assert incident["title"] == "antoniodominguez.blog/vaqueros" and incident["status"] == "open"
    assert members(api, incident["id"]) == {first["message_id"], other["message_id"]}
    assert unrelated["message_id"] not in members(api, incident["id"])
    [opened] = events(runtime, "incident.opened")
    assert opened.payload["incident_id"] == incident["id"]
    assert opened.payload["joined_by"] == "link antoniodominguez.blog/vaqueros"


def test_mentions_sharing_a_hashtag_are_one_incident_but_not_the_brands_own(
    api: Any, shop: dict[str, Any]
) -> None:
    a = post(api, "t-1", "Mis vaqueros nuevos rotos en una semana #VaquerosRotos #TiendaX", "@adominguez")
    b = post(api, "t-2", "A mí también me pasó #vaquerosrotos", "@maria")
    c = post(api, "t-3", "Os cuento el caso de mi primo #VAQUEROSROTOS #rebajas", "@pepe")
    post(api, "t-4", "Me encanta la nueva colección #TiendaX #rebajas", "@lucia")
    post(api, "t-5", "Hoy hay cola en la caja #tiendax", "@juan")
    [incident] = incidents(api)
    assert incident["title"] == "#vaquerosrotos" and incident["grouped_by"] == ["hashtag"]
    assert members(api, incident["id"]) == {a["message_id"], b["message_id"], c["message_id"]}


def test_replies_and_reshares_of_one_post_are_one_incident(api: Any, shop: dict[str, Any]) -> None:
    root = post(api, "t-1", "Mi experiencia con @TiendaX, en el blog.", "@adominguez", 2100)
    reply = post(api, "t-2", "¿En serio? Qué fuerte", "@maria", in_reply_to="t-1")
    reshare = post(api, "t-3", "Mirad esto", "@pepe", metadata={"reshare_of": "t-1"})
    quote = post(
        api,
        "t-4",
        "Esto no puede ser",
        "@lucia",
        metadata={"quoted_url": "https://twitter.com/adominguez/status/1"},
    )
    post(api, "t-5", "Hola @TiendaX, ¿abrís el domingo?", "@juan")
    [incident] = incidents(api)
    assert incident["grouped_by"] == ["reply"]
    assert members(api, incident["id"]) == {root["message_id"], reply["message_id"], reshare["message_id"]}
    assert quote["message_id"] not in members(api, incident["id"])  # the root's own URL was never given
    # A quote of a post whose URL the source gave joins it by that link.
    linked = post(
        api, "t-6", "Mirad lo de los zapatos", "@ines", metadata={"url": "https://twitter.com/ines/status/6"}
    )
    quoting = post(
        api, "t-7", "Pues yo igual", "@rosa", metadata={"quoted_url": "https://twitter.com/ines/status/6"}
    )
    by_link = [i for i in incidents(api) if i["id"] != incident["id"]]
    assert [members(api, i["id"]) for i in by_link] == [{linked["message_id"], quoting["message_id"]}]


def test_similar_texts_are_one_incident_and_unrelated_ones_stay_apart(api: Any, shop: dict[str, Any]) -> None:
    text = "Los vaqueros de @TiendaX se rompen al primer lavado. Vergüenza de calidad, no compréis ahí."
    a = post(api, "t-1", text, "@adominguez")
    b = post(
        api,
        "t-2",
        "Los vaqueros de @TiendaX se rompieron al primer lavado. Qué vergüenza de calidad.",
        "@maria",
    )
    post(
        api, "t-3", "El envío de mi pedido de @TiendaX lleva una semana de retraso, nadie contesta.", "@pepe"
    )
    post(api, "t-4", "La atención en la tienda de @TiendaX en Sevilla ha sido estupenda, gracias.", "@lucia")
    post(api, "t-5", "Vaqueros", "@juan")  # one word says too little
    [incident] = incidents(api)
    assert members(api, incident["id"]) == {a["message_id"], b["message_id"]}
    assert incident["grouped_by"] == ["similar text"]
    detail = api.get(f"/api/v1/listening/incidents/{incident['id']}").json()
    joined = [item["joined_by"] for item in detail["timeline"] if item["kind"] == "mention"]
    assert all(j.startswith("similar text (0.") for j in joined)
    assert incident["title"].startswith("Los vaqueros de @TiendaX se rompen")


def test_posts_of_a_customer_with_an_open_case_are_one_incident(api: Any, shop: dict[str, Any]) -> None:
    a = post(api, "t-1", "Sigo esperando respuesta de @TiendaX", "@adominguez", 2100)
    b = post(
        api, "t-2", "Mi experiencia con @TiendaX, en el blog. Se agradece cualquier RT.", "@adominguez", 2100
    )
    post(api, "t-3", "Sigo esperando mi pedido de @TiendaX", "@maria")  # no case of Antonio's
    [incident] = incidents(api)
    assert incident["grouped_by"] == ["case"]
    assert members(api, incident["id"]) == {a["message_id"], b["message_id"]}
    # Once the case is resolved, his next post is not part of it.
    assert api.patch(f"/api/v1/conversations/{shop['case']}", json={"status": "resolved"}).status_code == 200
    later = post(api, "t-4", "Por fin me han contestado, gracias @TiendaX", "@adominguez", 2100)
    assert later["message_id"] not in members(api, incident["id"])


def test_a_mention_tying_two_incidents_merges_them(api: Any, shop: dict[str, Any], runtime: Any) -> None:
    post(api, "t-1", "Leed https://blog.es/vaqueros", "@adominguez")
    post(api, "t-2", "Muy fuerte https://blog.es/vaqueros", "@maria")
    at(api, START + timedelta(minutes=5))
    post(api, "t-3", "Yo igual #vaquerosrotos", "@pepe")
    post(api, "t-4", "Y yo #vaquerosrotos", "@lucia")
    assert len(incidents(api)) == 2
    older = min(incidents(api), key=lambda i: i["id"])
    post(api, "t-5", "Es lo mismo: https://blog.es/vaqueros #vaquerosrotos", "@juan")
    [incident] = incidents(api)
    assert incident["id"] == older["id"] and incident["mention_count"] == 5
    assert incident["grouped_by"] == ["hashtag", "link"]
    assert [e.payload["incident_id"] for e in events(runtime, "incident.merged")] == [older["id"]]


def test_timeline_people_and_forecast_of_an_incident(api: Any, shop: dict[str, Any]) -> None:
    first = post(api, "t-1", "Mi experiencia con @TiendaX #vaquerosrotos", "@adominguez", 2100)
    at(api, START + timedelta(minutes=10))
    second = post(api, "t-2", "Lo mismo me pasó a mí #vaquerosrotos", "@maria", 300)
    first_id, second_id = mention_id(api, first["message_id"]), mention_id(api, second["message_id"])
    for minutes, target, reshares in ((20, first_id, 30), (30, second_id, 2), (40, first_id, 60)):
        at(api, START + timedelta(minutes=minutes))
        response = api.post(
            f"/api/v1/mentions/{target}/snapshots",
            json={"observed_at": (START + timedelta(minutes=minutes)).isoformat(), "reshares": reshares},
        )
        assert response.status_code == 200, response.text
    [incident] = incidents(api)
    detail = api.get(f"/api/v1/listening/incidents/{incident['id']}").json()
    kinds = [(item["kind"], item["mention_id"]) for item in detail["timeline"]]
    assert kinds == [
        ("mention", first_id),
        ("mention", second_id),
        ("snapshot", first_id),
        ("snapshot", second_id),
        ("snapshot", first_id),
    ]
    times = [item["at"] for item in detail["timeline"]]
    assert times == sorted(times)
    assert detail["timeline"][4]["counts"] == {"reshares": 60}
    # The leading mention is the one with the largest forecast; the incident carries its forecast.
    lead = api.get(f"/api/v1/mentions/{first_id}").json()
    assert detail["lead_mention_id"] == first_id
    assert detail["forecast"]["final"] == lead["forecast"]["final"]
    assert (detail["forecast"]["low"], detail["forecast"]["high"]) == (
        lead["forecast"]["low"],
        lead["forecast"]["high"],
    )
    assert detail["reach"] == 62 and detail["peak_reach"] == 62 and detail["metric"] == "reshares"
    # Who is involved: the known customer (with the case he complained in) and the other author.
    customers = {c["id"]: c["name"] for c in detail["customers"]}
    assert customers[shop["customer"]] == "Antonio Domínguez" and len(customers) == 2
    conversations = {c["id"] for c in detail["conversations"]}
    assert {shop["case"], first["conversation_id"], second["conversation_id"]} <= conversations


def test_a_lone_post_that_could_reach_the_alert_line_is_an_incident(api: Any, shop: dict[str, Any]) -> None:
    tweet = post(api, "t-1", "Mi experiencia con @TiendaX, en el blog.", "@adominguez", 2100)
    at(api, START + timedelta(hours=2))
    snapshot = api.post(
        f"/api/v1/mentions/{mention_id(api, tweet['message_id'])}/snapshots",
        json={"observed_at": (START + timedelta(hours=2)).isoformat(), "reshares": 150},
    )
    assert snapshot.status_code == 200, snapshot.text
    [incident] = incidents(api)
    assert incident["grouped_by"] == ["reach forecast"] and incident["mention_count"] == 1
    assert incident["forecast"]["final"] == snapshot.json()["mention"]["forecast"]["final"]


def test_coordinated_answer_with_one_private_follow_up_per_customer(
    api: Any, shop: dict[str, Any], runtime: Any
) -> None:
    # María wrote to the shop by email once (a case since resolved); Pepe is known only by his post.
    earlier = api.message(
        channel="email", external_id="maria-1", author={"value": "maria@correo.es"}, text="¿Hacéis envíos?"
    )
    resolved = api.patch(f"/api/v1/conversations/{earlier['conversation_id']}", json={"status": "resolved"})
    assert resolved.status_code == 200, resolved.text
    merged = api.post(
        f"/api/v1/customers/{earlier['customer_id']}/identities",
        json={"channel": "twitter", "value": "@maria"},
    )
    assert merged.status_code in (200, 201), merged.text
    first = post(api, "t-1", "Mis vaqueros rotos #vaquerosrotos", "@adominguez", 2100)
    post(api, "t-2", "Los míos también #vaquerosrotos", "@maria")
    post(api, "t-3", "Y los de mi hermana #vaquerosrotos", "@maria")  # the same customer twice
    pepe = post(api, "t-4", "Los de mi novia igual #vaquerosrotos", "@pepe")
    [incident] = incidents(api)
    answer = api.post(
        f"/api/v1/listening/incidents/{incident['id']}/answer",
        json={
            "text": "Lo sentimos: estamos revisando el lote de vaqueros. Os escribimos por privado.",
            "follow_up": "Ofrecer cambio o devolución.",
        },
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["incident"]["public_answer"].startswith("Lo sentimos")
    follow_ups = {f["customer_id"]: f for f in body["follow_ups"]}
    assert len(follow_ups) == 2  # one per customer, not per post
    antonio = follow_ups[shop["customer"]]
    assert antonio["conversation_id"] == shop["case"] and antonio["opened"] is False
    maria = follow_ups[earlier["customer_id"]]
    assert maria["opened"] is True and maria["conversation_id"] != earlier["conversation_id"]
    assert body["skipped_customers"] == [pepe["customer_id"]]  # answered in public only
    with runtime.db.sessions() as session:
        reply = session.get(Message, body["reply_message_id"])
        assert reply is not None and reply.direction == "out" and reply.public
        assert reply.conversation_id == first["conversation_id"]  # in the leading post's public thread
        opened = session.get(Conversation, maria["conversation_id"])
        assert opened is not None and not opened.is_public and opened.status == "open"
        for follow_up in follow_ups.values():
            notes = session.scalars(
                select(Message).where(
                    Message.conversation_id == follow_up["conversation_id"], Message.direction == "note"
                )
            ).all()
            assert [n.id for n in notes] == [follow_up["note_id"]]
            assert f"incidente #{incident['id']}" in notes[0].text and "Ofrecer cambio" in notes[0].text
    [answered] = events(runtime, "incident.answered")
    assert answered.payload["incident_id"] == incident["id"] and len(answered.payload["follow_ups"]) == 2
    assert answered.payload["skipped"] == [pepe["customer_id"]]
    again = api.post(f"/api/v1/listening/incidents/{incident['id']}/answer", json={"text": "Otra vez"})
    assert again.status_code == 409 and "already answered" in again.text
    assert api.post("/api/v1/listening/incidents/999999/answer", json={"text": "x"}).status_code == 404
    assert (
        api.post(f"/api/v1/listening/incidents/{incident['id']}/answer", json={"text": ""}).status_code == 422
    )


def test_closing_freezes_the_final_reach_and_new_posts_start_a_new_story(
    api: Any, shop: dict[str, Any]
) -> None:
    a = post(api, "t-1", "Mis vaqueros rotos #vaquerosrotos", "@adominguez", 2100)
    post(api, "t-2", "Los míos también #vaquerosrotos", "@maria")
    at(api, START + timedelta(minutes=30))
    api.post(
        f"/api/v1/mentions/{mention_id(api, a['message_id'])}/snapshots",
        json={"observed_at": (START + timedelta(minutes=30)).isoformat(), "reshares": 12},
    )
    [incident] = incidents(api)
    closed = api.post(f"/api/v1/listening/incidents/{incident['id']}/close")
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed" and closed.json()["final_reach"] == 12
    assert (
        api.post(f"/api/v1/listening/incidents/{incident['id']}/close").json()["closed_at"]
        == closed.json()["closed_at"]
    )
    later = post(api, "t-3", "Otra vez #vaquerosrotos", "@pepe")
    post(api, "t-4", "Sigue pasando #vaquerosrotos", "@lucia")
    assert incidents(api, status="closed", sort="reach")[0]["id"] == incident["id"]
    [new] = incidents(api, status="open")
    assert new["id"] != incident["id"] and later["message_id"] in members(api, new["id"])
    assert a["message_id"] in members(api, incident["id"]) and len(members(api, incident["id"])) == 2
    answer = api.post(f"/api/v1/listening/incidents/{incident['id']}/answer", json={"text": "Tarde"})
    assert answer.status_code == 409


def test_incidents_need_their_scopes_and_hide_other_teams_cases(
    api: Any, shop: dict[str, Any], client: Any, runtime: Any
) -> None:
    from cuida.auth.service import create_token

    post(api, "t-1", "Mis vaqueros rotos #vaquerosrotos", "@adominguez", 2100)
    post(api, "t-2", "Los míos también #vaquerosrotos", "@maria")
    [incident] = incidents(api)
    url = f"/api/v1/listening/incidents/{incident['id']}"
    with runtime.db.session() as session:
        none, _ = create_token(session=session, name="none", scopes=["conversations:read"])
        reader, _ = create_token(session=session, name="reader", scopes=["listening:read"])
    for secret, status in ((none, 403), (reader, 200)):
        assert client.get(url, headers={"Authorization": f"Bearer {secret}"}).status_code == status
    assert client.post(f"{url}/close", headers={"Authorization": f"Bearer {reader}"}).status_code == 403
    answer = client.post(f"{url}/answer", json={"text": "x"}, headers={"Authorization": f"Bearer {reader}"})
    assert answer.status_code == 403
    # An agent reads incidents but neither closes nor answers them; a lead does.
    ana = browser_for(client.app, "ana@tienda.es")
    assert ana.client.get(url).status_code == 200
    refused = ana.client.post(f"{url}/close", headers={"X-CSRF-Token": ana.csrf})
    assert refused.status_code == 403
    # An agent of another team does not see the team's private case among the conversations.
    sol = browser_for(client.app, "sol@tienda.es")
    seen = {c["id"] for c in sol.client.get(url).json()["conversations"]}
    assert shop["case"] not in seen and seen  # the public threads are there
    assert shop["case"] in {c["id"] for c in ana.client.get(url).json()["conversations"]}
    luis = browser_for(client.app, "luis@tienda.es")
    assert luis.client.post(f"{url}/close", headers={"X-CSRF-Token": luis.csrf}).status_code == 200


def test_grouping_rows_and_a_bad_grouping_never_fail_the_ingest(
    api: Any, shop: dict[str, Any], runtime: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cuida.listening import incidents as incidents_service

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("grouping exploded")

    monkeypatch.setattr(incidents_service, "group_mention", broken)
    message = post(api, "t-1", "Hola @TiendaX #vaquerosrotos", "@adominguez")
    assert mention_id(api, message["message_id"])  # the mention is there all the same
    [error] = events(runtime, "listening.error")
    assert "grouping exploded" in error.payload["error"]
    with runtime.db.sessions() as session:
        assert session.scalars(select(Incident)).all() == []
        assert session.scalars(select(IncidentMention)).all() == []


# -- the listening page --------------------------------------------------------------------------


def _crisis(api: Any) -> dict[str, Any]:
    """An incident (two posts sharing a hashtag, one by the shop's customer) whose leading post
    crosses the alert line: one alert on the customer's case."""
    first = post(
        api, "t-1", "Mis vaqueros rotos <script>alert(1)</script> #vaquerosrotos", "@adominguez", 2100
    )
    post(api, "t-2", "Los míos también #vaquerosrotos", "@maria", metadata={"url": "javascript:alert(2)"})
    at(api, START + timedelta(hours=2))
    response = api.post(
        f"/api/v1/mentions/{mention_id(api, first['message_id'])}/snapshots",
        json={"observed_at": (START + timedelta(hours=2)).isoformat(), "reshares": 150},
    )
    assert response.status_code == 200, response.text
    assert response.json()["alert_id"] is not None
    return {"tweet": first, "alert_id": response.json()["alert_id"], "incident": incidents(api)[0]}


def test_listening_page_shows_charts_top_mentions_incidents_alerts_and_memory(
    api: Any, shop: dict[str, Any], client: Any
) -> None:
    crisis = _crisis(api)
    assert api.post(f"/api/v1/listening/incidents/{crisis['incident']['id']}/close").status_code == 200
    post(api, "t-3", "Otra vez #zapatosrotos", "@pepe")
    post(api, "t-4", "Sigue pasando #zapatosrotos", "@lucia")
    luis = browser_for(client.app, "luis@tienda.es")
    page = luis.get("/listening")
    assert page.status_code == 200, page.text
    html = page.text
    # Charts: inline SVG with a title and a description, and the same data as a table.
    assert html.count('<svg class="chart"') == 2 and 'role="img"' in html
    assert '<title id="chart-volume-title">' in html and '<desc id="chart-volume-desc">' in html
    assert "4 menciones, " in html  # the description carries the figures
    assert 'id="chart-table"' in html
    # Customer-written text is escaped; a javascript: URL never becomes a link.
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "javascript:alert(2)" not in html
    assert f'data-alert="{crisis["alert_id"]}"' in html and "Me encargo" in html
    assert (
        'data-section="top"' in html
        and f'data-mention="{mention_id(api, crisis["tweet"]["message_id"])}"' in html
    )
    memory = html[html.index('id="listening-memory"') :]
    assert f'data-incident="{crisis["incident"]["id"]}"' in memory and "alcance final 150" in memory
    open_ = html[html.index('id="listening-incidents"') : html.index('id="listening-top"')]
    assert "#zapatosrotos" in open_ and f'data-incident="{crisis["incident"]["id"]}"' not in open_
    # English too, and each section alone as a fragment.
    make_agent(client.app.state.runtime, "eve@tienda.es", "lead", ("tienda",), language="en")
    english = browser_for(client.app, "eve@tienda.es").get("/listening").text
    assert "What the internet remembers" in english and "Lo que internet recuerda" not in english
    fragment = luis.get("/listening/fragments/alerts")
    assert fragment.status_code == 200 and fragment.text.lstrip().startswith("<section")
    assert luis.get("/listening/fragments/nope").status_code == 404
    # The incident's own page: timeline, customers, the answer and close forms for a lead.
    detail = luis.get(f"/listening/incidents/{crisis['incident']['id']}").text
    assert 'id="incident-timeline"' in detail and "Antonio Domínguez" in detail
    assert "&lt;script&gt;" in detail and "<script>alert(1)" not in detail


def test_acknowledging_from_the_page_checks_csrf_permission_and_visibility(
    api: Any, shop: dict[str, Any], client: Any, runtime: Any
) -> None:
    from cuida.listening.models import ListeningAlert

    crisis = _crisis(api)
    url = f"/listening/alerts/{crisis['alert_id']}/acknowledge"
    # Another team's agent does not see the alert of this team's private case, nor may act on it.
    sol = browser_for(client.app, "sol@tienda.es")
    assert f'data-alert="{crisis["alert_id"]}"' not in sol.get("/listening").text
    assert sol.post(url).status_code == 404
    ana = browser_for(client.app, "ana@tienda.es")
    assert f'data-alert="{crisis["alert_id"]}"' in ana.get("/listening").text
    assert ana.post(url, csrf=False).status_code == 403  # no CSRF token
    with runtime.db.sessions() as session:
        alert = session.get(ListeningAlert, crisis["alert_id"])
        assert alert is not None and alert.status == "open"
    done = ana.post(url, headers={"HX-Request": "true"})
    assert done.status_code == 200 and 'data-status="acknowledged"' in done.text
    with runtime.db.sessions() as session:
        alert = session.get(ListeningAlert, crisis["alert_id"])
        assert (
            alert is not None
            and alert.status == "acknowledged"
            and alert.acknowledged_by_agent_id == ana.agent_id
        )
    # An agent neither closes nor answers incidents from the page; a lead does.
    incident_url = f"/listening/incidents/{crisis['incident']['id']}"
    assert 'id="close-form"' not in ana.get(incident_url).text
    assert ana.post(f"{incident_url}/close").status_code == 403
    luis = browser_for(client.app, "luis@tienda.es")
    assert 'id="close-form"' in luis.get(incident_url).text
    answered = luis.post(f"{incident_url}/answer", {"text": "Lo sentimos, os escribimos por privado."})
    assert answered.status_code == 303, answered.text
    assert api.get(f"/api/v1/listening/incidents/{crisis['incident']['id']}").json()["public_answer"]
    assert luis.post(f"{incident_url}/answer", {"text": "Otra"}).status_code == 409
    assert luis.post(f"{incident_url}/close").status_code == 303
