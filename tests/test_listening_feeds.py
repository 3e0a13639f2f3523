"""Brand listening feeds and the social-mentions import: RSS and Atom served by a real local HTTP
server (with ETag and Last-Modified), brand terms with exclusions, de-duplication by link, broken
feeds and entries, polls from the reconciler across a restart; CSV and JSON imports and the CLI."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from cuida.auth.service import create_token
from cuida.events.models import Event
from cuida.jobs.reconciler import reconcile
from cuida.listening import feeds as feeds_service
from cuida.listening.feed_models import ListeningFeed
from cuida.listening.models import Mention
from cuida.quarantine.models import QuarantinedPayload
from cuida.runtime import Runtime

START = datetime.fromisoformat("2027-03-01T10:00:00+00:00")
LAST_MODIFIED = "Mon, 01 Mar 2027 09:00:00 GMT"


# -- a feed server --------------------------------------------------------------------------------


class FeedServer:
    """Serves documents by path with a strong ETag and a Last-Modified date, answering 304 to a
    conditional GET whose validators still hold; records every request's headers."""

    def __init__(self) -> None:
        self.documents: dict[str, tuple[bytes, str, str]] = {}
        self.failures: dict[str, int] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802  (http.server's name)
                server.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                if self.path in server.failures:
                    self.send_response(server.failures[self.path])
                    self.end_headers()
                    return
                if self.path not in server.documents:
                    self.send_response(404)
                    self.end_headers()
                    return
                body, content_type, modified = server.documents[self.path]
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                if_none_match = self.headers.get("If-None-Match")
                if (if_none_match == etag) or (
                    if_none_match is None and self.headers.get("If-Modified-Since") == modified
                ):
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("ETag", etag)
                self.send_header("Last-Modified", modified)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def serve(
        self,
        path: str,
        body: str | bytes,
        content_type: str = "application/rss+xml",
        modified: str = LAST_MODIFIED,
    ) -> str:
        self.documents[path] = (body.encode() if isinstance(body, str) else body, content_type, modified)
        return self.url(path)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def hits(self, path: str) -> list[dict[str, str]]:
        return [headers for p, headers in self.requests if p == path]


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FeedServer]:
    # The feeds here are on 127.0.0.1: an intranet feed, which an install must allow.
    monkeypatch.setattr(feeds_service, "private_feeds_allowed", lambda: True)
    feed_server = FeedServer()
    feed_server.thread.start()
    yield feed_server
    feed_server.httpd.shutdown()
    feed_server.httpd.server_close()


def rss(*items: dict[str, str], title: str = "Noticias") -> str:
    parts = []
    for item in items:
        fields = "".join(f"<{k}>{v}</{k}>" for k, v in item.items())
        parts.append(f"<item>{fields}</item>")
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        f"<title>{title}</title><link>https://noticias.example.es/</link>{''.join(parts)}</channel></rss>"
    )


def atom(*entries: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        '<title>Blog de finanzas</title><link href="https://blog.example.org/"/>'
        f"<id>urn:blog</id><updated>2027-03-01T08:00:00Z</updated>{''.join(entries)}</feed>"
    )


def at(api: Any, when: datetime) -> None:
    response = api.put("/api/v1/admin/clock", json={"now": when.isoformat()})
    assert response.status_code == 200, response.text


def term(api: Any, text: str, *exclusions: str) -> dict[str, Any]:
    response = api.post("/api/v1/listening/terms", json={"term": text, "exclusions": list(exclusions)})
    assert response.status_code == 201, response.text
    return dict(response.json())


def add_feed(api: Any, url: str, **extra: Any) -> dict[str, Any]:
    response = api.post("/api/v1/listening/feeds", json={"url": url, **extra})
    assert response.status_code == 201, response.text
    return dict(response.json())


def poll(api: Any, feed_id: int) -> dict[str, Any]:
    response = api.post(f"/api/v1/listening/feeds/{feed_id}/poll")
    assert response.status_code == 200, response.text
    return dict(response.json())


def mentions(api: Any, channel: str = "feed") -> list[dict[str, Any]]:
    found = api.get("/api/v1/mentions", params={"limit": 200, "sort": "created"}).json()
    return [m for m in found if m["channel"] == channel]


@pytest.fixture
def brand(api: Any) -> None:
    at(api, START)
    term(api, "Cuidabank", "cuidabank arena")
    term(api, "Caja Única")


NEWS = [
    {  # names the brand in capitals, with HTML in the description
        "title": "CUIDABANK cae durante horas",
        "link": "https://noticias.example.es/cuidabank-caida",
        "description": "&lt;p&gt;Los clientes de &lt;b&gt;Cuidabank&lt;/b&gt; no pueden pagar."
        "&lt;script&gt;alert(1)&lt;/script&gt;&lt;/p&gt;",
        "pubDate": "Mon, 01 Mar 2027 08:30:00 +0100",
        "author": "marta@noticias.example.es (Marta Ruiz)",
    },
    {  # only the excluded phrase: about the arena, not the bank
        "title": "Concierto en el Cuidabank Arena",
        "link": "https://noticias.example.es/concierto",
        "description": "Entradas agotadas.",
        "pubDate": "Mon, 01 Mar 2027 07:00:00 +0000",
    },
    {  # a longer word that contains the term is not the term
        "title": "Cuidabanking: la nueva moda",
        "link": "https://noticias.example.es/moda",
        "description": "Nada que ver.",
        "pubDate": "Mon, 01 Mar 2027 07:10:00 +0000",
    },
    {  # the second term written without accents or capitals
        "title": "La caja unica sube comisiones",
        "link": "https://noticias.example.es/comisiones",
        "description": "Otra subida.",
        "dc:creator": "Luis Gómez",
        "pubDate": "Mon, 01 Mar 2027 06:00:00 GMT",
    },
]


def test_rss_and_atom_keep_entries_naming_a_term_and_answer_304_when_unchanged(api, brand, server):
    rss_feed = add_feed(api, server.serve("/news.xml", rss(*NEWS)), name="Noticias", interval_minutes=15)
    atom_url = server.serve(
        "/blog.atom",
        atom(
            '<entry><title type="html">Mi experiencia con cuidabank</title>'
            '<link rel="alternate" href="/2027/03/cuidabank"/><id>urn:1</id>'
            "<published>2027-02-28T20:00:00+01:00</published>"
            '<author><name>Ana Pérez</name></author><content type="xhtml">'
            '<div xmlns="http://www.w3.org/1999/xhtml"><p>Me cobraron <em>dos veces</em>.</p></div>'
            "</content></entry>",
            "<entry><title>Recetas de otoño</title>"
            '<link href="https://blog.example.org/recetas"/><id>urn:2</id>'
            "<updated>2027-02-27T10:00:00Z</updated><summary>Nada del banco.</summary></entry>",
        ),
        content_type="application/atom+xml",
    )
    atom_feed = add_feed(api, atom_url)
    assert rss_feed["health"] == "new" and atom_feed["name"] == "127.0.0.1"

    first = poll(api, rss_feed["id"])["result"]
    assert (first["status"], first["entries"], first["matched"], first["stored"]) == (200, 4, 2, 2)
    blog = poll(api, atom_feed["id"])
    assert (blog["result"]["entries"], blog["result"]["stored"]) == (2, 1)
    assert blog["feed"]["health"] == "ok" and blog["feed"]["etag"]

    found = {m["url"]: m for m in mentions(api)}
    assert set(found) == {
        "https://noticias.example.es/cuidabank-caida",
        "https://noticias.example.es/comisiones",
        "https://blog.example.org/2027/03/cuidabank",  # a relative link, resolved against the site
    }
    outage = found["https://noticias.example.es/cuidabank-caida"]
    assert outage["text"].startswith("CUIDABANK cae durante horas")
    assert "no pueden pagar" in outage["text"] and "<" not in outage["text"] and "alert" not in outage["text"]
    assert outage["author"] == "marta@noticias.example.es"  # an address: a customer with it is linked
    assert datetime.fromisoformat(outage["posted_at"]) == datetime.fromisoformat("2027-03-01T07:30:00+00:00")
    assert found["https://noticias.example.es/comisiones"]["author"] == "noticias.example.es/luis-gomez"
    post = found["https://blog.example.org/2027/03/cuidabank"]
    assert "Me cobraron dos veces" in post["text"]
    assert datetime.fromisoformat(post["posted_at"]) == datetime.fromisoformat("2027-02-28T19:00:00+00:00")

    # The second poll sends the validators back; the server answers 304 and nothing is added.
    again = poll(api, rss_feed["id"])
    assert again["result"]["status"] == 304 and again["result"]["stored"] == 0
    conditional = server.hits("/news.xml")[-1]
    served_etag = '"' + hashlib.sha256(server.documents["/news.xml"][0]).hexdigest()[:16] + '"'
    assert conditional["if-none-match"] == served_etag and conditional["if-modified-since"] == LAST_MODIFIED
    assert "if-none-match" not in server.hits("/news.xml")[0]
    assert again["feed"]["last_status"] == 304 and again["feed"]["mentions_kept"] == 2
    assert len(mentions(api)) == 3


def test_one_link_is_one_mention_across_polls_and_feeds(api, brand, server):
    story = {
        "title": "Cuidabank sube el precio de la cuenta",
        "link": "https://diario.example.com/economia/cuidabank-precio",
        "pubDate": "Mon, 01 Mar 2027 08:00:00 GMT",
    }
    first = add_feed(api, server.serve("/a.xml", rss(story)))
    # The same story through an aggregator, with its tracking parameters and a trailing slash.
    copy = {**story, "link": "https://DIARIO.example.com/economia/cuidabank-precio/?utm_source=agg#top"}
    second = add_feed(api, server.serve("/b.xml", rss(copy)))
    assert poll(api, first["id"])["result"]["stored"] == 1
    result = poll(api, second["id"])["result"]
    assert (result["matched"], result["stored"], result["duplicates"]) == (1, 0, 1)
    # The first feed changes (a new entry), so it answers 200 again with the old entry in it.
    newer = {
        **story,
        "title": "Cuidabank rectifica",
        "link": "https://diario.example.com/cuidabank-rectifica",
    }
    server.serve("/a.xml", rss(newer, story), modified="Mon, 01 Mar 2027 09:30:00 GMT")
    result = poll(api, first["id"])["result"]
    assert (result["status"], result["stored"], result["duplicates"]) == (200, 1, 1)
    assert sorted(m["url"] for m in mentions(api)) == [
        "https://diario.example.com/cuidabank-rectifica",
        "https://diario.example.com/economia/cuidabank-precio",
    ]


def test_a_feed_that_cannot_be_read_keeps_its_error_and_loses_nothing(api, brand, server, runtime):
    good = rss(NEWS[0])
    feed = add_feed(api, server.serve("/news.xml", good))
    assert poll(api, feed["id"])["result"]["stored"] == 1
    assert event_types(runtime) == []

    # Broken XML (cut in the middle), then a billion-laughs document, then a server error.
    server.serve("/news.xml", good[: len(good) // 2], modified="Mon, 01 Mar 2027 09:40:00 GMT")
    broken = poll(api, feed["id"])
    assert "not well-formed XML" in broken["result"]["error"]
    assert broken["feed"]["health"] == "failing" and broken["feed"]["failures"] == 1
    shown = api.get(f"/api/v1/listening/feeds/{feed['id']}").json()
    assert "not well-formed XML" in shown["last_error"] and shown["last_status"] == 200
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
        "<rss><channel><title>&lol2;</title></channel></rss>"
    )
    server.serve("/news.xml", bomb, modified="Mon, 01 Mar 2027 09:41:00 GMT")
    refused = poll(api, feed["id"])
    assert "refused XML construct" in refused["result"]["error"] and refused["feed"]["failures"] == 2
    server.failures["/news.xml"] = 503
    down = poll(api, feed["id"])
    assert down["result"]["error"] == "the feed answered HTTP 503" and down["feed"]["failures"] == 3
    # Backing off: the next poll waits longer than the interval after repeated failures.
    next_poll = datetime.fromisoformat(down["feed"]["next_poll_at"])
    assert next_poll - START > timedelta(minutes=down["feed"]["interval_minutes"])
    # The validators of the last good answer were kept out of the failed ones: the repaired feed is
    # fetched in full and its new entry kept, the old one not doubled.
    del server.failures["/news.xml"]
    server.serve("/news.xml", rss(NEWS[3], NEWS[0]), modified="Mon, 01 Mar 2027 09:50:00 GMT")
    repaired = poll(api, feed["id"])
    assert (repaired["result"]["stored"], repaired["result"]["duplicates"]) == (1, 1)
    assert repaired["feed"]["health"] == "ok" and repaired["feed"]["last_error"] is None
    assert len(mentions(api)) == 2
    # Only the changes between working and failing are events, not each failed poll.
    assert event_types(runtime) == ["listening.feed_failing", "listening.feed_recovered"]


def event_types(runtime: Runtime) -> list[str]:
    with runtime.db.sessions() as session:
        query = select(Event.type).where(
            Event.type.in_(["listening.feed_failing", "listening.feed_recovered"])
        )
        return list(session.scalars(query.order_by(Event.id)))


def test_a_malformed_entry_is_quarantined_once_with_its_reason(api, brand, server, runtime):
    entries = [
        {
            "title": "Cuidabank sin enlace",
            "description": "Una entrada sin link.",
            "pubDate": "Mon, 01 Mar 2027",
        },
        {
            "title": "Cuidabank con fecha rota",
            "link": "https://noticias.example.es/fecha",
            "pubDate": "ayer por la tarde",
        },
        {"title": "Otra cosa sin enlace", "description": "Sin marca."},  # broken but not about the brand
        NEWS[0],
    ]
    feed = add_feed(api, server.serve("/news.xml", rss(*entries)))
    result = poll(api, feed["id"])["result"]
    assert result["stored"] == 1 and len(result["quarantined"]) == 2
    page = api.get("/api/v1/quarantine", params={"source": "feed"}).json()
    reasons = sorted(item["reason"] for item in page["items"])
    assert reasons == ["the date 'ayer por la tarde' cannot be read", "the entry has no link"]
    detail = api.get(f"/api/v1/quarantine/{result['quarantined'][0]}").json()
    assert "<item>" in detail["raw_text"] and detail["details"]["feed_id"] == feed["id"]
    # Seen again at the next full poll, the same broken entries are not quarantined twice.
    server.serve("/news.xml", rss(*entries) + "\n", modified="Mon, 01 Mar 2027 09:45:00 GMT")
    again = poll(api, feed["id"])["result"]
    assert again["status"] == 200 and again["quarantined"] == [] and again["duplicates"] == 1
    with runtime.db.sessions() as session:
        rows = session.scalars(select(QuarantinedPayload).where(QuarantinedPayload.source == "feed")).all()
        assert len(rows) == 2
    # An agent corrects the entry without a link and reprocesses it into a mention.
    no_link = next(r for r in page["items"] if r["reason"] == "the entry has no link")
    fixed = api.post(
        f"/api/v1/quarantine/{no_link['id']}/reprocess",
        json={"payload": {"title": "Cuidabank sin enlace", "link": "https://noticias.example.es/sin-enlace"}},
    )
    assert fixed.status_code == 200, fixed.text
    assert "https://noticias.example.es/sin-enlace" in [m["url"] for m in mentions(api)]


def test_polls_run_from_the_reconciler_on_their_interval_and_survive_a_restart(
    api, brand, server, runtime, settings, monkeypatch
):
    feed = add_feed(api, server.serve("/news.xml", rss(NEWS[0])), interval_minutes=15)
    assert reconcile(runtime)["feeds"] == 1
    assert len(server.hits("/news.xml")) == 1 and len(mentions(api)) == 1
    assert reconcile(runtime)["feeds"] == 0  # not due again before its interval
    at(api, START + timedelta(minutes=16))
    assert reconcile(runtime)["feeds"] == 1
    assert server.hits("/news.xml")[-1].get("if-none-match")  # conditional: 304, nothing new
    assert len(mentions(api)) == 1

    # The feed changes; a poller fetches it and dies before storing anything (killed process).
    server.serve("/news.xml", rss(NEWS[3], NEWS[0]), modified="Mon, 01 Mar 2027 10:20:00 GMT")
    at(api, START + timedelta(minutes=32))

    def killed(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as dying:
        dying.setattr(feeds_service, "_store", killed)
        reconcile(runtime)  # the job dies with the process (Huey logs that it did not finish)
    with runtime.db.sessions() as session:
        stuck = session.get(ListeningFeed, feed["id"])
        assert stuck is not None and stuck.poll_lease_until is not None  # its lease is still held

    # A new process on the same database, once the dead poller's lease has run out.
    later = feeds_service.wall_now() + timedelta(seconds=feeds_service.LEASE_SECONDS + 1)
    monkeypatch.setattr(feeds_service, "wall_now", lambda: later)
    restarted = Runtime(settings, immediate=True).install()
    try:
        at(api, START + timedelta(minutes=45))
        assert reconcile(restarted)["feeds"] == 1
        assert reconcile(restarted)["feeds"] == 0
    finally:
        restarted.close()
        runtime.install()
    with runtime.db.sessions() as session:
        urls = session.scalars(select(Mention.url).order_by(Mention.id)).all()
    assert urls == ["https://noticias.example.es/cuidabank-caida", "https://noticias.example.es/comisiones"]
    assert api.get(f"/api/v1/listening/feeds/{feed['id']}").json()["mentions_kept"] == 2


def test_terms_and_feeds_api_checks_input_and_scopes(api, runtime, client, server):
    created = term(api, "  Cuidabank  ", "Cuidabank Arena", "cuidabank arena")
    assert created["term"] == "Cuidabank" and created["exclusions"] == ["Cuidabank Arena", "cuidabank arena"]
    for same in ("cuidabank", "CUIDABÁNK"):  # one term whatever the case and accents
        assert api.post("/api/v1/listening/terms", json={"term": same}).status_code == 409
    assert api.post("/api/v1/listening/terms", json={"term": "!!"}).status_code == 422
    updated = api.patch(f"/api/v1/listening/terms/{created['id']}", json={"exclusions": [], "enabled": False})
    assert updated.status_code == 200 and updated.json()["enabled"] is False
    url = server.serve("/x.xml", rss())
    assert api.post("/api/v1/listening/feeds", json={"url": "ftp://example.com/feed"}).status_code == 422
    feed = add_feed(api, url, name="X", interval_minutes=5)
    assert api.post("/api/v1/listening/feeds", json={"url": url}).status_code == 409
    changed = api.patch(
        f"/api/v1/listening/feeds/{feed['id']}", json={"enabled": False, "interval_minutes": 60}
    )
    assert changed.status_code == 200 and changed.json()["interval_minutes"] == 60
    assert poll(api, feed["id"])["result"]["polled"] is False  # a disabled feed is not polled
    assert [f["id"] for f in api.get("/api/v1/listening/feeds").json()] == [feed["id"]]

    with runtime.db.session() as session:
        reader, _ = create_token(session=session, name="reader", scopes=["listening:read"])
    headers = {"Authorization": f"Bearer {reader}"}
    assert client.get("/api/v1/listening/feeds", headers=headers).status_code == 200
    assert (
        client.post("/api/v1/listening/feeds", json={"url": url + "?2"}, headers=headers).status_code == 403
    )
    assert client.post(f"/api/v1/listening/feeds/{feed['id']}/poll", headers=headers).status_code == 403
    assert client.post("/api/v1/listening/terms", json={"term": "otra"}, headers=headers).status_code == 403
    assert client.get("/api/v1/listening/terms").status_code == 401
    assert (
        client.post(
            "/api/v1/listening/imports",
            content=b"[]",
            headers={**headers, "Content-Type": "application/json"},
        ).status_code
        == 403
    )

    assert api.client.delete(f"/api/v1/listening/feeds/{feed['id']}", headers=api.headers).status_code == 204
    assert (
        api.client.delete(f"/api/v1/listening/terms/{created['id']}", headers=api.headers).status_code == 204
    )
    assert (
        api.get("/api/v1/listening/feeds").json() == []
        and api.get(f"/api/v1/listening/feeds/{feed['id']}").status_code == 404
    )


# -- the import -----------------------------------------------------------------------------------

CSV_EXPORT = (
    "Author,Followers,Text,Link,Time,Retweets,Replies,Likes,Views,Network\n"
    '@lucia_m,12.5k,"Cuidabank me ha bloqueado la tarjeta, ¿alguien más?",'
    'https://x.com/lucia_m/status/1,2027-03-01T09:00:00Z,40,12,"1,200",15000,X\n'
    "@pepe,abc,Sin enlace,,2027-03-01T09:10:00Z,1,0,2,10,X\n"
    '@carmen,300,"Gracias @Cuidabank por la ayuda",https://www.instagram.com/p/xyz/,'
    "2027-03-01T09:20:00+01:00,0,3,25,,Instagram\n"
)


def _import(api: Any, body: str | bytes, content_type: str) -> Any:
    data = body.encode() if isinstance(body, str) else body
    return api.post("/api/v1/listening/imports", content=data, headers={"Content-Type": content_type})


def test_csv_import_stores_rows_reports_and_quarantines_bad_ones_and_records_engagement(api, runtime):
    at(api, START)
    response = _import(api, CSV_EXPORT, "text/csv; charset=utf-8")
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["rows"], report["stored"], report["duplicates"], report["failed"]) == (3, 2, 0, 1)
    [bad] = report["errors"]
    assert (bad["row"], bad["line"]) == (2, 3)
    assert {e["field"] for e in bad["errors"]} == {"followers", "link"}
    entry = api.get(f"/api/v1/quarantine/{bad['quarantine_id']}").json()
    assert entry["source"] == "mentions_import" and "row 2 (line 3)" in entry["reason"]
    assert json.loads(entry["raw_text"])["Author"] == "@pepe"

    tweet = next(m for m in mentions(api, "twitter"))
    assert tweet["author"] == "@lucia_m" and tweet["author_followers"] == 12500
    assert tweet["url"] == "https://x.com/lucia_m/status/1"
    assert datetime.fromisoformat(tweet["posted_at"]) == START - timedelta(hours=1)
    detail = api.get(f"/api/v1/mentions/{tweet['id']}").json()
    assert [s["counts"] for s in detail["snapshots"]] == [
        {"reshares": 40, "replies": 12, "likes": 1200, "views": 15000}
    ]
    assert detail["forecast"]["metric"] == "reshares"
    post = next(m for m in mentions(api, "instagram"))
    assert post["counts"] == {"reshares": 0, "replies": 3, "likes": 25}  # an empty cell is no count

    # The same export again adds nothing; a later one with new counts is a new reading.
    again = _import(api, CSV_EXPORT, "text/csv").json()
    assert (again["stored"], again["duplicates"], again["snapshots"]) == (0, 2, 0)
    at(api, START + timedelta(hours=1))
    later = CSV_EXPORT.replace(",40,12,", ",90,20,")
    newer = _import(api, later, "text/csv").json()
    assert (newer["stored"], newer["snapshots"]) == (0, 1)
    detail = api.get(f"/api/v1/mentions/{tweet['id']}").json()
    assert [s["counts"]["reshares"] for s in detail["snapshots"]] == [40, 90]
    assert len(mentions(api, "twitter")) == 1


def test_json_import_with_a_bad_row_and_an_import_with_nothing_valid(api, runtime):
    at(api, START)
    rows = [
        {
            "author": "@dani",
            "followers": 800,
            "text": "La app de Cuidabank otra vez caída",
            "link": "https://www.tiktok.com/@dani/video/9",
            "time": "2027-03-01T09:30:00+00:00",
            "network": "tiktok",
            "views": 5000,
            "counts": {"saves": 7},
        },
        {
            "author": "@eva",
            "text": "Cuidabank",
            "link": "https://x.com/eva/1",
            "time": "2099-01-01T00:00:00Z",
        },
        "not an object",
    ]
    response = _import(api, json.dumps(rows), "application/json")
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["stored"] == 1 and [e["row"] for e in report["errors"]] == [2, 3]
    assert "in the future" in report["errors"][0]["errors"][0]["message"]
    video = mentions(api, "tiktok")[0]
    assert video["counts"] == {"views": 5000, "saves": 7} and video["author_followers"] == 800

    nothing = _import(api, json.dumps(rows[1:]), "application/json")
    assert nothing.status_code == 422
    error = nothing.json()["error"]
    assert error["code"] == "no_valid_rows" and error["report"]["failed"] == 2
    assert _import(api, "{not json", "application/json").status_code == 422
    assert _import(api, "a,b\n1,2\n", "text/csv").status_code == 422  # no column we know
    assert _import(api, "[]", "text/plain").status_code == 422
    quarantined = api.get("/api/v1/quarantine", params={"source": "mentions_import"}).json()["items"]
    assert len(quarantined) == 4  # each bad row, each time it was sent
    # An agent corrects the future-dated row and reprocesses it into a mention.
    future = report["errors"][0]["quarantine_id"]
    corrected = {**rows[1], "time": "2027-03-01T09:45:00Z"}  # type: ignore[dict-item]
    fixed = api.post(f"/api/v1/quarantine/{future}/reprocess", json={"payload": corrected})
    assert fixed.status_code == 200, fixed.text
    assert [m["url"] for m in mentions(api, "import")] == ["https://x.com/eva/1"]


def test_cli_imports_a_file_with_a_progress_bar(api, runtime, tmp_path, monkeypatch):
    from cuida.cli import app

    at(api, START)
    export = tmp_path / "export.csv"
    export.write_text(CSV_EXPORT, encoding="utf-8")
    monkeypatch.setenv("CUIDA_DATA_DIR", str(runtime.settings.data_dir))
    if runtime.settings.database_url:
        monkeypatch.setenv("CUIDA_DATABASE_URL", runtime.settings.database_url)
        monkeypatch.setenv("CUIDA_MANUAL_CLOCK_FORCE", "true")
    monkeypatch.setenv("CUIDA_MANUAL_CLOCK", "true")
    try:
        result = CliRunner().invoke(app, ["import-mentions", str(export), "--chunk", "2"])
        again = CliRunner().invoke(app, ["import-mentions", str(export), "--format", "csv"])
        broken = tmp_path / "broken.json"
        broken.write_text('[{"author": "@x"}]', encoding="utf-8")
        failed = CliRunner().invoke(app, ["import-mentions", str(broken)])
    finally:
        runtime.install()
    assert result.exit_code == 0, result.output
    assert "3 rows: 2 new mentions, 0 already imported" in result.output
    assert "row 2 (line 3)" in result.output
    assert again.exit_code == 0 and "0 new mentions, 2 already imported" in again.output
    assert failed.exit_code == 1 and "1 rows not readable" in failed.output
    # Processed before the command ended: mentions with their first engagement reading.
    tweet = mentions(api, "twitter")[0]
    assert tweet["snapshot_count"] == 1 and tweet["counts"]["reshares"] == 40
    assert len(mentions(api, "instagram")) == 1


def test_a_feed_inside_the_network_is_refused_unless_the_install_allows_it(api, brand, runtime):
    feed_server = FeedServer()
    feed_server.thread.start()
    try:
        url = feed_server.serve(
            "/intranet.xml", rss({"title": "Cuidabank cierra", "link": "https://intranet.example/1"})
        )
        created = api.post("/api/v1/listening/feeds", json={"url": url})
        assert created.status_code == 201, created.text
        feed_id = created.json()["id"]
        refused = feeds_service.poll_now(runtime, feed_id)
        assert refused.error and "inside the network (127.0.0.1)" in refused.error, refused
        assert api.get(f"/api/v1/listening/feeds/{feed_id}").json()["health"] == "failing"
        assert feed_server.hits("/intranet.xml") == [], "nothing was requested"
    finally:
        feed_server.httpd.shutdown()
        feed_server.httpd.server_close()
