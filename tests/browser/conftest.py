"""Browser tests: Playwright (sync API) driving Debian's chromium against a real uvicorn server.

Fixtures:
- `live_server`: create_app on a fresh, migrated database (same template as tests/conftest.py, so
  both CUIDA_TEST_DB runs cover it), manual clock on, served by uvicorn on a free port in a thread.
  `live_server.url`, `.runtime`, `.api` (an httpx client with an admin token), `.stop()` and
  `.start()` (same port: for restart tests).
- `demo_server`: the same with the demo stories loaded (`cuida serve --demo`); agents from
  cuida.demo.loader (DEMO_PASSWORD, LEAD_EMAIL, `<team>@demo.cuida.local`).
- `browser` (one chromium per test process), `page` (a fresh 1280x720 context per test), and
  `login(page, email, password)`.
A missing /usr/bin/chromium fails these tests (scripts/test installs it): they are never skipped.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from cuida.app import create_app
from cuida.auth.permissions import SCOPES
from cuida.auth.schemas import AgentCreate
from cuida.auth.service import create_agent, create_token
from cuida.runtime import Runtime
from tests.conftest import ADMIN_PASSWORD, fresh_settings

CHROMIUM = os.environ.get("CUIDA_CHROMIUM", "/usr/bin/chromium")
ADMIN_EMAIL = "admin@example.com"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
TIMEOUT_MS = 20_000  # generous: small shared machines run several suites at once


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """uvicorn serving Cuida in a background thread; stop() and start() keep the port."""

    current: LiveServer | None = None  # the server the running test started (for `login`)

    def __init__(self, runtime: Runtime, admin_token: str) -> None:
        self.runtime = runtime
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.api = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {admin_token}"}, timeout=30
        )
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        LiveServer.current = self
        app = create_app(self.runtime.settings, runtime=self.runtime, start_workers=False)
        # Open event streams would hold a graceful shutdown: give them a second, then cut them.
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", timeout_graceful_shutdown=1
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the live server did not start on port {self.port}")
            time.sleep(0.02)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=15)
            if self._thread.is_alive():
                self._server.force_exit = True
                self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def message(self, **fields: Any) -> dict[str, Any]:
        """Post an inbound message through the API, processed before the answer comes."""
        body = {"channel": "email", "direction": "in", **fields}
        response = self.api.post("/api/v1/messages?wait=5", json=body)
        assert response.status_code in (200, 202), response.text
        return dict(response.json())

    def close(self) -> None:
        self.stop()
        self.api.close()


def _serve(migrated_template: dict[str, Any], data_dir: Path, demo: bool) -> Iterator[LiveServer]:
    settings = fresh_settings(migrated_template, data_dir)
    runtime = Runtime(settings, immediate=True).install()
    with runtime.db.session() as session:
        create_agent(
            session=session,
            data=AgentCreate(email=ADMIN_EMAIL, name="Admin", password=ADMIN_PASSWORD, role="admin"),
        )
        secret, _ = create_token(session=session, name="browser-tests", scopes=list(SCOPES))
    if demo:
        from cuida.demo.loader import load_demo

        result = load_demo(runtime, folder=SCENARIOS)
        assert not result["failed"], result["failed"]
    server = LiveServer(runtime, secret)
    server.start()
    try:
        yield server
    finally:
        server.close()
        runtime.close()


@pytest.fixture
def live_server(migrated_template: dict[str, Any], tmp_path: Path) -> Iterator[LiveServer]:
    yield from _serve(migrated_template, tmp_path / "live", demo=False)


# The demo these tests walk through is the shared scenarios (the "traslado de línea" story and the
# rest), beside the project as for the scenario tests; without them there is nothing to walk.
SCENARIOS = Path(__file__).resolve().parents[3] / "shared" / "scenarios"


@pytest.fixture
def demo_server(migrated_template: dict[str, Any], tmp_path: Path) -> Iterator[LiveServer]:
    if not SCENARIOS.is_dir():
        pytest.skip(f"no shared scenarios at {SCENARIOS}: the demo walk-throughs need them")
    yield from _serve(migrated_template, tmp_path / "demo", demo=True)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (scripts/test does it)", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 720}, locale="es-ES")
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    yield tab
    context.close()


def sign_in(page: Any, base_url: str, email: str, password: str) -> None:
    """Sign in through the login form and land on the inbox."""
    page.goto(f"{base_url}/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/inbox**")


@pytest.fixture
def login() -> Any:
    """`login(page, email, password)` on the test's running server (live_server or demo_server)."""

    def _login(page: Any, email: str, password: str) -> None:
        assert LiveServer.current is not None, "start live_server or demo_server first"
        sign_in(page, LiveServer.current.url, email, password)

    return _login


@pytest.fixture
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
