"""The listening page in a real browser: the charts, an incident and a crisis alert are on it, and
acknowledging the alert from the page takes effect (htmx swaps the section in place)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from cuida.listening.models import ListeningAlert
from tests.browser.conftest import ADMIN_EMAIL
from tests.conftest import ADMIN_PASSWORD

START = datetime.fromisoformat("2027-03-01T10:00:00+00:00")


def _clock(server: Any, when: datetime) -> None:
    response = server.api.put("/api/v1/admin/clock", json={"now": when.isoformat()})
    assert response.status_code == 200, response.text


def _tweet(server: Any, external_id: str, text: str, author: str, followers: int) -> dict[str, Any]:
    return server.message(
        channel="twitter",
        external_id=external_id,
        author={"value": author, "followers": followers},
        text=text,
        public=True,
    )


def test_listening_page_shows_chart_incident_alert_and_acknowledges(
    live_server: Any, page: Any, login: Any, screenshots: Any
) -> None:
    _clock(live_server, START)
    first = _tweet(
        live_server, "t-1", "Mis vaqueros nuevos, rotos en una semana #vaquerosrotos", "@antonio", 2100
    )
    _tweet(live_server, "t-2", "A mí me pasó lo mismo #vaquerosrotos", "@maria", 300)
    mentions = live_server.api.get("/api/v1/mentions").json()
    lead = next(m["id"] for m in mentions if m["message_id"] == first["message_id"])
    _clock(live_server, START + timedelta(hours=2))
    reading = live_server.api.post(
        f"/api/v1/mentions/{lead}/snapshots",
        json={"observed_at": (START + timedelta(hours=2)).isoformat(), "reshares": 150},
    )
    assert reading.status_code == 200, reading.text
    alert_id = reading.json()["alert_id"]
    [incident] = live_server.api.get("/api/v1/listening/incidents").json()

    login(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    page.click("a[data-nav=listening]")
    page.wait_for_url("**/listening")
    chart = page.locator("svg#chart-volume")
    assert chart.is_visible() and chart.locator("rect.bar").count() >= 1
    assert (
        page.locator("svg#chart-volume title").text_content()
        == "Menciones por periodo (en rojo, las negativas)"
    )
    row = page.locator(f"#listening-incidents li[data-incident='{incident['id']}']")
    assert "#vaquerosrotos" in row.inner_text()
    alert = page.locator(f"#listening-alerts li[data-alert='{alert_id}']")
    assert alert.get_attribute("data-status") == "open" and "Crisis" in alert.inner_text()
    page.screenshot(path=str(screenshots / "listening.png"), full_page=True)
    page.evaluate("window.notReloaded = true")
    alert.locator("button.acknowledge").click()
    page.wait_for_selector(f"#listening-alerts li[data-alert='{alert_id}'][data-status='acknowledged']")
    assert page.evaluate("window.notReloaded") is True  # swapped in place by htmx, not a reload
    with live_server.runtime.db.sessions() as session:
        stored = session.get(ListeningAlert, alert_id)
        assert (
            stored is not None and stored.status == "acknowledged" and stored.acknowledged_by_name == "Admin"
        )
    # The incident leads to its own page with its timeline.
    row.locator("a").click()
    page.wait_for_url(f"**/listening/incidents/{incident['id']}")
    assert page.locator("#incident-timeline li[data-kind=mention]").count() == 2
    assert page.locator("#incident-timeline li[data-kind=snapshot]").count() == 1
    page.screenshot(path=str(screenshots / "listening-incident.png"))
