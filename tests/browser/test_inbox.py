"""The inbox in a real browser: login, the demo inbox, keyboard, live updates (also across a server
restart), escaping, language, and the screenshot for the README."""

from __future__ import annotations

from typing import Any

from cuida.demo.loader import DEMO_PASSWORD, LEAD_EMAIL
from tests.browser.conftest import ADMIN_EMAIL
from tests.conftest import ADMIN_PASSWORD

LIVE = "#live-status.on"


def test_demo_inbox_keyboard_and_screenshot(demo_server, page, login, screenshots):
    login(page, LEAD_EMAIL, DEMO_PASSWORD)
    rows = page.locator("[data-kb-item]")
    assert rows.count() > 3
    assert page.locator(".badge").count() > 0  # the demo has threats to leave, to sue, to go public
    page.keyboard.press("j")
    page.keyboard.press("j")
    second = rows.nth(1)
    assert "kb-current" in (second.get_attribute("class") or "")
    wanted = second.get_attribute("data-id")
    page.screenshot(path=str(screenshots / "inbox.png"))
    page.keyboard.press("k")
    assert "kb-current" in (rows.nth(0).get_attribute("class") or "")
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/conversations/{wanted}")


def test_help_overlay_and_search_shortcut(live_server, page, login):
    live_server.message(external_id="h1", author="hola@x.es", text="Necesito la factura de marzo")
    live_server.message(external_id="h2", author="otro@x.es", text="Otra consulta distinta")
    login(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    page.keyboard.press("?")
    assert page.locator("#help").is_visible()
    page.keyboard.press("Escape")
    assert not page.locator("#help").is_visible()
    page.keyboard.press("/")
    page.keyboard.type("factura")
    page.keyboard.press("Enter")
    page.wait_for_url("**q=factura**")
    assert page.locator("[data-kb-item]").count() == 1
    # a: assign to me; e: resolve (it leaves the open list).
    page.keyboard.press("j")
    page.keyboard.press("a")
    page.wait_for_selector("[data-kb-item] td.assignee:has-text('Admin')")
    page.keyboard.press("e")
    page.wait_for_selector(".empty")


def test_posted_message_appears_without_reload(live_server, page, login):
    login(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    assert page.locator(".empty").is_visible()
    page.wait_for_selector(LIVE)
    page.evaluate("window.notReloaded = true")
    live_server.message(external_id="live1", author="nuevo@x.es", text="Hola, llega en directo")
    page.wait_for_selector("text=Hola, llega en directo")
    assert page.evaluate("window.notReloaded") is True


def test_live_updates_survive_a_server_restart(live_server, page, login):
    live_server.message(external_id="r0", author="antes@x.es", text="Antes del reinicio")
    login(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    page.wait_for_selector(LIVE)
    page.evaluate(
        "window.notReloaded = true; window.seen = [];"
        "document.body.addEventListener('cuida:event', (e) => window.seen.push(e.detail.id))"
    )
    before = live_server.api.get("/api/v1/events?limit=1000").json()["last_id"]
    live_server.stop()
    page.wait_for_selector("#live-status:not(.on)")
    # Posted while the server is down (straight into the database: no HTTP server to take it).
    _post_directly(live_server, external_id="r1", author="durante@x.es", text="Escrito durante la caída")
    live_server.start()
    page.wait_for_selector("text=Escrito durante la caída", timeout=20_000)
    assert page.evaluate("window.notReloaded") is True
    # The events of the downtime were replayed to the page (Last-Event-ID), not only the list refreshed.
    missed = [e["id"] for e in live_server.api.get(f"/api/v1/events?after={before}").json()["items"]]
    assert missed
    page.wait_for_function(f"{missed}.every((id) => window.seen.includes(id))")


def _post_directly(server: Any, **fields: Any) -> None:
    from fastapi.testclient import TestClient

    from cuida.app import create_app

    app = create_app(server.runtime.settings, runtime=server.runtime, start_workers=False)
    with TestClient(app) as client:
        headers = dict(server.api.headers)
        body = {"channel": "email", "direction": "in", **fields}
        response = client.post("/api/v1/messages?wait=5", json=body, headers=headers)
        assert response.status_code in (200, 202), response.text


def test_hostile_message_runs_nothing(live_server, page, login):
    hostile = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'
    live_server.message(
        external_id="x1", author="malo@x.es", name='<img src=x onerror="window.pwned=3">', text=hostile
    )
    login(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    page.wait_for_selector("[data-kb-item]")
    page.wait_for_selector(LIVE)
    # Arrives live too (through the htmx fragment), then the page is left a moment to misbehave.
    live_server.message(external_id="x2", author="malo2@x.es", text=hostile + " segunda")
    page.wait_for_selector("text=segunda")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("window.pwned === undefined")
    assert "<script>window.pwned" in page.locator("[data-kb-item] td.what").first.inner_text()


def test_language_switch(live_server, page, login):
    login(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    assert page.locator("html").get_attribute("lang") == "es"
    assert page.locator("a[data-view=unassigned]").inner_text() == "Sin asignar"
    page.select_option("#lang-switch", "en")
    page.wait_for_selector("html[lang=en]")
    assert page.locator("a[data-view=unassigned]").inner_text() == "Unassigned"
    page.select_option("#lang-switch", "es")
    page.wait_for_selector("html[lang=es]")
