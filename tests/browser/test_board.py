"""The lead's board and the customer pages in a real browser: the demo's at-risk items on the
board (and its screenshot for the README), a board section refreshed live, and merging two
customers through the UI with the preview of what moves."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from cuida.customers.models import Customer, Identity
from cuida.demo.loader import DEMO_PASSWORD, LEAD_EMAIL
from tests.browser.conftest import ADMIN_EMAIL
from tests.conftest import ADMIN_PASSWORD

LIVE = "#live-status.on"


def test_lead_board_shows_the_demo_at_risk_items(
    demo_server: Any, page: Any, login: Any, screenshots: Any
) -> None:
    login(page, LEAD_EMAIL, DEMO_PASSWORD)
    page.click("a[data-nav=board]")
    page.wait_for_url("**/board")
    # The slower sections load right after the page paints.
    page.wait_for_selector("#board-threats li[data-conversation]")
    page.wait_for_selector("#board-counts tr[data-team]")
    threats = page.locator("#board-threats li[data-conversation]")
    assert threats.count() >= 2
    text = page.locator("#board-threats").inner_text()
    assert "Legal" in text and "Baja" in text  # the demo has customers threatening to sue and to leave
    promises = page.locator("#board-commitments li[data-commitment]")
    assert promises.count() >= 1 and "tarde" in promises.first.inner_text()
    assert page.locator("#board-counts tr[data-team]").count() >= 3
    # The stories' spreading posts (the vaqueros tweet, the guitar song) raised crisis alerts.
    crisis = page.locator("#board-crisis").inner_text()
    assert "Crisis" in crisis and "Antonio Domínguez" in crisis and "previsión" in crisis
    page.screenshot(path=str(screenshots / "board.png"))
    # A row leads to its conversation.
    wanted = threats.first.get_attribute("data-conversation")
    threats.first.locator(f"a[href='/conversations/{wanted}']").click()
    page.wait_for_url(f"**/conversations/{wanted}")


def test_board_section_refreshes_live(live_server: Any, page: Any, login: Any) -> None:
    login(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    page.goto(f"{live_server.url}/board")
    page.wait_for_selector(LIVE)
    page.wait_for_selector("#board-threats:not([data-deferred])")  # the deferred section has loaded
    assert page.locator("#board-threats li[data-conversation]").count() == 0
    page.evaluate("window.notReloaded = true")
    live_server.message(
        external_id="threat-1",
        author="enfadada@x.es",
        text="Si mañana no tengo línea os denuncio y me doy de baja, ya tengo abogado.",
    )
    page.wait_for_selector("#board-threats li[data-conversation]")
    assert page.evaluate("window.notReloaded") is True


def test_merge_two_customers_through_the_ui(live_server: Any, page: Any, login: Any) -> None:
    target = live_server.message(
        external_id="m-email",
        author={"value": "marta.gil@x.es", "name": "Marta Gil"},
        text="Mi factura está mal",
    )
    source = live_server.message(
        channel="twitter",
        external_id="m-tw1",
        author={"value": "martagil_", "name": "Marta"},
        public=True,
        text="@marca la factura otra vez mal",
    )
    live_server.message(
        channel="twitter", external_id="m-tw2", author={"value": "martagil_"}, public=True, text="¿Hola?"
    )
    login(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    page.click("a[data-nav=customers]")
    page.fill("#customer-q", "Marta Gil")
    page.press("#customer-q", "Enter")
    page.click(f"tr[data-customer='{target['customer_id']}'] a")
    page.wait_for_url(f"**/customers/{target['customer_id']}")
    page.click("#merge-link")
    page.fill("#merge-q", "martagil_")
    page.press("#merge-q", "Enter")
    page.click(f"#merge-candidates li[data-customer='{source['customer_id']}'] a.choose")
    preview = page.locator("#merge-preview")
    assert preview.locator("tr[data-moves=identities] td.num").inner_text() == "1"
    assert preview.locator("tr[data-moves=conversations] td.num").inner_text() == "1"
    assert preview.locator("tr[data-moves=messages] td.num").inner_text() == "2"
    page.click("#confirm-merge")
    page.wait_for_url(f"**/customers/{target['customer_id']}?merged={source['customer_id']}")
    assert page.locator(".flash").is_visible()
    identities = page.locator("#profile-identities").inner_text()
    assert "marta.gil@x.es" in identities and "martagil_" in identities
    with live_server.runtime.db.sessions() as session:
        merged = session.get(Customer, source["customer_id"])
        assert merged is not None and merged.merged_into_id == target["customer_id"]
        count = session.scalar(select(func.count()).where(Identity.customer_id == target["customer_id"]))
        assert count == 2
