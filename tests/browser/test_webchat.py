"""The web chat widget in a real browser: a company's page (a static site on its own port) carries
the script tag; a visitor opens the chat with the keyboard and writes; an agent signed into the
workspace sees it and answers; the visitor reads the answer without reloading."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import ADMIN_EMAIL, TIMEOUT_MS, sign_in
from tests.conftest import ADMIN_PASSWORD


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  (the base class's name)
        pass


@pytest.fixture
def shop_site(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A tiny static site on another free port: (its origin, the folder it serves)."""
    folder = tmp_path / "site"
    folder.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", folder
    server.shutdown()
    server.server_close()


def test_visitor_chats_with_an_agent_in_the_workspace(
    live_server: Any, shop_site: tuple[str, Path], page: Any, browser: Any, screenshots: Path
) -> None:
    origin, folder = shop_site
    created = live_server.api.post(
        "/api/v1/webchat/widgets",
        json={"name": "Tienda", "allowed_origins": [origin], "theme": {"primary": "#7c2d12"}},
    )
    assert created.status_code == 201, created.text
    snippet = created.json()["snippet"]
    (folder / "index.html").write_text(
        '<!doctype html><html lang="es"><head><meta charset="utf-8"><title>Tienda</title></head>'
        f"<body><h1>Tienda de prueba</h1>{snippet}</body></html>",
        encoding="utf-8",
    )

    # The visitor: the launcher is a button with a label; Enter opens the panel and focuses the box.
    page.goto(f"{origin}/index.html")
    launcher = page.locator("[data-cuida-launcher]")
    launcher.wait_for()
    assert launcher.get_attribute("aria-label") == "Abrir el chat"
    launcher.focus()
    page.keyboard.press("Enter")
    assert launcher.get_attribute("aria-expanded") == "true"
    page.locator("#cuida-panel[role=dialog]").wait_for()
    page.wait_for_function(
        "document.querySelector('#cuida-widget').shadowRoot.activeElement?.id === 'cuida-text'"
    )
    page.locator("text=Estamos conectados").wait_for()
    page.keyboard.type('Hola, mi pedido no llega <img src=x onerror="window.pwned=1">')
    page.keyboard.press("Enter")
    page.locator(".line.visitor:has-text('mi pedido no llega')").wait_for()
    assert page.evaluate("window.pwned === undefined")
    token = page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('cuida-widget:')).length")
    assert token == 1
    page.evaluate("window.notReloaded = true")

    # The agent, in their own browser context, sees it in the inbox and answers from the conversation.
    agent_context = browser.new_context(viewport={"width": 1280, "height": 720}, locale="es-ES")
    agent_context.set_default_timeout(TIMEOUT_MS)
    agent = agent_context.new_page()
    try:
        sign_in(agent, live_server.url, ADMIN_EMAIL, ADMIN_PASSWORD)
        agent.locator("a[data-kb-open]:has-text('mi pedido no llega')").click()
        agent.wait_for_url(f"{live_server.url}/conversations/**")
        agent.locator("article.msg.in:has-text('mi pedido no llega')").wait_for()
        assert agent.evaluate("window.pwned === undefined")
        agent.fill("#reply-text", "Hola, lo revisamos ahora mismo.")
        agent.keyboard.press("Control+Enter")
        agent.locator("article.msg.out:has-text('lo revisamos ahora mismo')").wait_for()
    finally:
        agent_context.close()

    # The visitor reads the answer in place, without a reload.
    page.locator(".line.agent:has-text('lo revisamos ahora mismo')").wait_for()
    assert page.evaluate("window.notReloaded === true")
    page.screenshot(path=str(screenshots / "webchat.png"))
    page.keyboard.press("Escape")
    assert launcher.get_attribute("aria-expanded") == "false"
    # Another page of the site: the token in localStorage resumes the same chat, history included.
    page.reload()
    page.locator("[data-cuida-launcher]").click()
    page.locator(".line.agent:has-text('lo revisamos ahora mismo')").wait_for()
    assert page.locator(".line.visitor").count() == 1


def test_offline_widget_speaks_the_pages_language_and_takes_an_email(
    live_server: Any, shop_site: tuple[str, Path], page: Any
) -> None:
    origin, folder = shop_site
    widget = live_server.api.post(
        "/api/v1/webchat/widgets", json={"name": "Shop", "allowed_origins": [origin]}
    )
    assert widget.status_code == 201, widget.text
    assert live_server.api.patch("/api/v1/agents/1/presence", json={"away": True}).status_code == 200
    (folder / "en.html").write_text(
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"></head><body>{widget.json()["snippet"]}'
        "</body></html>",
        encoding="utf-8",
    )
    page.goto(f"{origin}/en.html")
    page.locator("[data-cuida-launcher][aria-label='Open the chat']").click()
    page.locator("text=Nobody is online right now").wait_for()
    page.fill("#cuida-text", "Can you call me back?")
    page.keyboard.press("Enter")
    page.locator("[role=alert]:has-text('We need your email')").wait_for()
    page.fill("#cuida-email", "sam@example.org")
    page.locator("form.identify button[type=submit]").click()
    page.locator("form.identify").wait_for(state="hidden")
    page.fill("#cuida-text", "Can you call me back?")
    page.keyboard.press("Enter")
    page.locator(".line.notice:has-text('We will answer you by email')").wait_for()
    conversations = live_server.api.get("/api/v1/conversations?channel=email").json()["items"]
    assert [c["channel"] for c in conversations] == ["email"]
