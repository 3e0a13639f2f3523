"""Merge suggestions in a real browser: a lead sees the evidence, accepts, and undoes the merge."""

from __future__ import annotations

from typing import Any

from cuida.customers.models import Customer
from tests.browser.conftest import ADMIN_EMAIL
from tests.conftest import ADMIN_PASSWORD


def test_accept_a_suggestion_and_undo_the_merge(live_server: Any, page: Any, login: Any) -> None:
    whatsapp = live_server.message(
        channel="whatsapp", external_id="w-1", author="+34 612 345 678", text="¿Y mi pedido?"
    )
    email = live_server.message(
        external_id="e-1",
        author={"value": "lucia@correo.es", "name": "Lucía Pérez"},
        text="Sigue sin llegar.\n\nUn saludo,\nLucía Pérez\nTel. 612 34 56 78",
    )
    kept, gone = sorted((whatsapp["customer_id"], email["customer_id"]))
    login(page, ADMIN_EMAIL, ADMIN_PASSWORD)
    page.goto(f"{live_server.url}/customers")
    suggestion = page.locator("#merge-suggestions li[data-suggestion]")
    assert suggestion.count() == 1
    assert "El teléfono +34612345678 aparece en la firma de un mensaje (email)" in suggestion.inner_text()
    suggestion.locator("button[data-action=accept]").click()
    page.wait_for_url(f"**/customers/{kept}?merged={gone}")
    identities = page.locator("#profile-identities").inner_text()
    assert "lucia@correo.es" in identities and "+34 612 345 678" in identities
    page.locator("#profile-merges button[data-action=undo]").click()
    page.wait_for_url(f"**/customers/{kept}?undone={gone}")
    assert "Fusión deshecha" in page.locator(".flash").inner_text()
    assert "lucia@correo.es" not in page.locator("#profile-identities").inner_text()
    with live_server.runtime.db.sessions() as session:
        restored = session.get(Customer, gone)
        assert restored is not None and restored.merged_into_id is None
    page.goto(f"{live_server.url}/customers")
    assert page.locator("#merge-suggestions li[data-suggestion]").count() == 0
