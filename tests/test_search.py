from __future__ import annotations

import pytest

from cuida.search.text import index_text


def test_index_text_folds_accents_and_stems():
    assert index_text("Reclamación") == index_text("reclamaciones") == index_text("RECLAMACION")
    assert index_text("facturación") == index_text("facturacion")


@pytest.fixture
def corpus(api):
    texts = {
        "e1": "Quiero poner una reclamación por la facturación de marzo",
        "e2": "Tengo dos reclamaciones abiertas y nadie contesta",
        "e3": "Mi pedido llegó roto, el mástil de la guitarra partido",
        "e4": "Gracias por la atención, todo perfecto",
    }
    ids = {
        key: api.message(external_id=key, author=f"{key}@x.es", text=text)["message_id"]
        for key, text in texts.items()
    }
    return ids


def _found(api, q):
    response = api.get("/api/v1/search", params={"q": q})
    assert response.status_code == 200, response.text
    return {m["id"] for m in response.json()["messages"]}


def test_search_is_stemmed_and_accent_insensitive(api, corpus):
    assert _found(api, "reclamaciones") == {corpus["e1"], corpus["e2"]}
    assert _found(api, "reclamación") == {corpus["e1"], corpus["e2"]}
    assert _found(api, "facturacion") == {corpus["e1"]}
    assert _found(api, "FACTURACIÓN marzo") == {corpus["e1"]}
    assert _found(api, "mastil guitarra") == {corpus["e3"]}
    assert _found(api, "inexistente") == set()


def test_search_also_finds_customers(api, corpus):
    api.post("/api/v1/customers", json={"name": "Guitarras Carranza"})
    body = api.get("/api/v1/search", params={"q": "guitarra"}).json()
    assert [c["name"] for c in body["customers"]] == ["Guitarras Carranza"]
    assert {m["id"] for m in body["messages"]} == {corpus["e3"]}


def test_search_operators_in_the_query_are_just_words(api, corpus):
    for hostile in ['"reclam', "reclam* OR", "NEAR(a b)", "a:b", "' OR 1=1 --", "-(x)"]:
        assert api.get("/api/v1/search", params={"q": hostile}).status_code in (200, 422)
