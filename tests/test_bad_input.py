"""Malformed requests get a 4xx that says what is wrong: never a 500, never a silent drop."""

from __future__ import annotations

import json

import pytest


def _error(response, status):
    assert response.status_code == status, response.text
    return response.json()["error"]


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"channel": "carrier-pigeon", "author": "a@b.es", "text": "x"}, "channel", "unknown channel"),
        ({"channel": "email", "text": "x"}, "body", "needs an author"),
        ({"channel": "email", "author": "a@b.es"}, "body", "needs text or html"),
        ({"channel": "email", "author": "not-an-email", "text": "x"}, "author.value", "not an email"),
        ({"channel": "phone", "author": "abc", "text": "x"}, "author.value", "not a phone"),
        (
            {"channel": "email", "author": "a@b.es", "text": "x", "occurred_at": "2026-01-01T10:00:00"},
            "occurred_at",
            "time zone",
        ),
        (
            {"channel": "email", "author": "a@b.es", "text": "x", "occurred_at": "yesterday"},
            "occurred_at",
            "",
        ),
        ({"channel": "email", "author": "a@b.es", "text": "x", "direction": "sideways"}, "direction", ""),
        (
            {"channel": "email", "author": {"value": "a@b.es", "followers": -1}, "text": "x"},
            "author.followers",
            "",
        ),
        ({"channel": "email", "author": "a@b.es", "text": 42}, "text", "string"),
        ({"channel": "email", "direction": "out", "text": "x"}, "body", "recipient"),
        ({"channel": "email", "customer_id": 1, "text": "x"}, "body", "call or visit"),
        ({"channel": "phone", "customer_id": 1, "author": "+34600000000", "text": "x"}, "body", "not both"),
    ],
)
def test_field_errors_name_the_field(api, body, field, words):
    error = _error(api.post("/api/v1/messages", json=body), 422)
    fields = [f["field"] for f in error.get("fields", [])]
    assert field in fields, error
    assert words.lower() in error["message"].lower()


def test_malformed_json_and_invalid_utf8(api):
    headers = {"content-type": "application/json"}
    assert (
        _error(api.post("/api/v1/messages", content=b"{nope", headers=headers), 400)["code"] == "invalid_json"
    )
    error = _error(
        api.post("/api/v1/messages", content=b'{"channel":"email","text":"\xff\xfe"}', headers=headers), 400
    )
    assert "UTF-8" in error["message"]


def test_unstorable_characters_are_refused_clearly(api):
    headers = {"content-type": "application/json"}
    for escaped, words in [("\\ud800", "unicode"), ("\\u0000", "nul")]:
        raw = '{"channel":"email","author":"a@b.es","text":"hola ' + escaped + '"}'
        error = _error(api.post("/api/v1/messages", content=raw.encode(), headers=headers), 422)
        assert words in error["message"].lower()
        assert error["fields"][0]["field"] == "text"


def test_oversized_bodies_get_413_with_the_limit(api, client, runtime):
    limit = runtime.settings.max_body_bytes
    big = json.dumps({"channel": "email", "author": "a@b.es", "text": "x" * (limit + 10)})
    error = _error(
        api.post("/api/v1/messages", content=big, headers={"content-type": "application/json"}), 413
    )
    assert str(limit) in error["message"]

    def chunks():  # no Content-Length: the limit still holds
        yield big[: limit // 2].encode()
        yield big[limit // 2 :].encode()

    response = api.post("/api/v1/messages", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_text_limit_is_a_clear_422(api):
    error = _error(
        api.post("/api/v1/messages", json={"channel": "email", "author": "a@b.es", "text": "x" * 1_000_001}),
        422,
    )
    assert error["fields"][0]["field"] == "text"


def test_hostile_and_unusual_text_is_stored_as_given(api):
    samples = {
        "script": "<script>alert('x')</script><img src=x onerror=alert(1)>",
        "emoji": "Así se hace 👏👏 🇪🇸 👨‍👩‍👧",
        "rtl": "مرحبا، طلبي لم يصل بعد",
        "long": "palabra " * 120_000,  # about 1 MB
        "sql": "'; DROP TABLE messages; --",
    }
    for name, text in samples.items():
        accepted = api.message(channel="email", external_id=name, author="a@b.es", text=text)
        stored = api.get(f"/api/v1/messages/{accepted['message_id']}").json()
        assert stored["text"] == text, name
        assert stored["html"] is None  # plain text is never turned into markup


def test_unknown_ids_and_bad_queries(api):
    assert _error(api.get("/api/v1/customers/999999"), 404)["code"] == "not_found"
    assert _error(api.get("/api/v1/conversations/999999"), 404)["code"] == "not_found"
    assert _error(api.get("/api/v1/customers/abc"), 422)["fields"][0]["field"] == "path.customer_id"
    assert _error(api.get("/api/v1/conversations?sort=sideways"), 422)["fields"][0]["field"] == "sort"
    assert _error(api.get("/api/v1/conversations?cursor=garbage"), 422)["fields"][0]["field"] == "cursor"
    assert _error(api.get("/api/v1/conversations?status=lost"), 422)
    assert _error(api.get("/api/v1/search?q=%20%21%21"), 422)["fields"][0]["field"] == "q"


def test_nul_characters_in_metadata_are_refused_clearly(api):
    body = {
        "channel": "email",
        "external_id": "nul-1",
        "author": "a@x.es",
        "text": "hola",
        "metadata": {"k": "a\u0000b"},
    }
    response = api.post("/api/v1/messages", json=body)
    assert response.status_code == 422
    assert "metadata" in response.text and "NUL" in response.text
