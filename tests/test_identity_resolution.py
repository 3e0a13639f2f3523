"""Identity resolution: normalisation, automatic links on normalised equality, merge suggestions
with evidence (found as messages arrive), accepting, rejecting and undoing merges, the pages."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cuida.auth.service import create_token
from cuida.customers.identity import identity_key, written_contacts
from cuida.customers.models import Customer, CustomerMerge, Identity, MergeSuggestion
from cuida.runtime import Runtime
from tests.conftest import Api
from tests.screens_support import browser_for, make_agent

# --- normalisation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "written", "expected"),
    [
        # Spain: national, +34, 0034, spaces/dots/dashes/brackets, tel: URI, WhatsApp's bare digits.
        ("phone", "612 34 56 78", ("phone", "+34612345678")),
        ("phone", "+34 612-345-678", ("phone", "+34612345678")),
        ("sms", "0034 612 345 678", ("phone", "+34612345678")),
        ("phone", "(+34) 912.345.678", ("phone", "+34912345678")),
        ("phone", "tel:+34612345678", ("phone", "+34612345678")),
        ("whatsapp", "34612345678", ("phone", "+34612345678")),
        # Mexico: with and without the old mobile "1" (WhatsApp still writes it), 00 prefix.
        ("phone", "+52 55 1234 5678", ("phone", "+525512345678")),
        ("whatsapp", "5215512345678", ("phone", "+525512345678")),
        ("phone", "+52 1 55 1234 5678", ("phone", "+525512345678")),
        ("phone", "0052 55 1234 5678", ("phone", "+525512345678")),
        # Argentina: mobile with the 9, by + and by 00, and WhatsApp digits.
        ("phone", "+54 9 11 1234-5678", ("phone", "+5491112345678")),
        ("sms", "0054 9 11 1234 5678", ("phone", "+5491112345678")),
        ("whatsapp", "5491112345678", ("phone", "+5491112345678")),
        # Colombia.
        ("phone", "+57 300 123 4567", ("phone", "+573001234567")),
        ("phone", "0057 300 1234567", ("phone", "+573001234567")),
        # A + number on a non-phone channel is a phone identity too.
        ("telegram", "+34 612 345 678", ("phone", "+34612345678")),
        # Gmail: dots and +tags ignored, googlemail is gmail.
        ("email", "Lucia.Perez+Tienda@Gmail.com", ("email", "luciaperez@gmail.com")),
        ("email", "<l.u.c.i.a.perez@googlemail.com>", ("email", "luciaperez@gmail.com")),
        # Subaddressing providers: +tag dropped, dots kept.
        ("email", "ana.gomez+pedidos@hotmail.es", ("email", "ana.gomez@hotmail.es")),
        ("email", "ana+x@outlook.com", ("email", "ana@outlook.com")),
        ("webform", "Ana+Compras@iCloud.com", ("email", "ana@icloud.com")),
        ("email", "ana+x@proton.me", ("email", "ana@proton.me")),
        # Any other domain: only lower-cased (a dot or a + may mean another mailbox there).
        ("email", "Ana.Gomez+Ventas@Empresa.es", ("email", "ana.gomez+ventas@empresa.es")),
        # Handles: case-insensitive, without @.
        ("twitter", "@Lucia_P", ("twitter", "lucia_p")),
        ("instagram", "LUCIA.P", ("instagram", "lucia.p")),
    ],
)
def test_normalisation_table(channel: str, written: str, expected: tuple[str, str]) -> None:
    assert identity_key(channel, written) == expected


def test_contacts_written_in_a_message() -> None:
    found = written_contacts(
        "Hola, soy @Lucia_P en Instagram; escribidme a Lucia.Perez+x@gmail.com. Pedido 123456789.\n"
        "Un saludo,\nLucía Pérez\nTel. 612 34 56 78"
    )
    assert found.emails == ["luciaperez@gmail.com"]
    assert found.phones == ["+34612345678"] and found.signature_phones == ["+34612345678"]
    assert found.handles == ["lucia_p"]  # the address's "@gmail" is not a handle
    body_only = written_contacts("Llamadme al +54 9 11 1234-5678 cuando podáis. Gracias")
    assert body_only.phones == ["+5491112345678"] and body_only.signature_phones == []


def test_exact_matches_link_on_normalised_equality(api: Api, runtime: Runtime) -> None:
    first = api.message(author="Lucia.Perez+tienda@gmail.com", text="Hola", external_id="e1")
    second = api.message(author="luciaperez@googlemail.com", text="Sigo", external_id="e2")
    assert first["customer_id"] == second["customer_id"]
    call = api.message(channel="phone", author="612 34 56 78", text="Llamada", external_id="p1")
    whatsapp = api.message(channel="whatsapp", author="34612345678", text="Hola", external_id="w1")
    mexico = api.message(channel="whatsapp", author="5215512345678", text="Hola", external_id="w2")
    mexico_call = api.message(channel="phone", author="+52 55 1234 5678", text="Llamada", external_id="p2")
    assert call["customer_id"] == whatsapp["customer_id"] != first["customer_id"]
    assert mexico["customer_id"] == mexico_call["customer_id"] != call["customer_id"]
    with runtime.db.sessions() as session:
        email = session.scalar(select(Identity).where(Identity.channel == "email"))
        assert email is not None and email.value == "luciaperez@gmail.com"
        assert email.display == "Lucia.Perez+tienda@gmail.com"  # what she wrote stays visible
        assert session.scalar(select(func.count()).select_from(MergeSuggestion)) == 0


# --- suggestions -----------------------------------------------------------------------------------


def _suggestions(api: Api, **params: Any) -> list[dict[str, Any]]:
    response = api.get("/api/v1/customers/suggestions", params=params)
    assert response.status_code == 200, response.text
    return list(response.json())


def test_phone_in_an_email_signature_suggests_a_merge(api: Api) -> None:
    whatsapp = api.message(
        channel="whatsapp", author="+34 612 345 678", text="¿Dónde está mi pedido?", external_id="w1"
    )
    email = api.message(
        author={"value": "lucia@correo.es", "name": "Lucía Pérez"},
        text="Os escribo por el pedido 4411.\n\nUn saludo,\nLucía Pérez\nTel. 612 34 56 78",
        external_id="e1",
    )
    assert whatsapp["customer_id"] != email["customer_id"]
    [suggestion] = _suggestions(api)
    assert {suggestion["customer_a"], suggestion["customer_b"]} == {
        whatsapp["customer_id"],
        email["customer_id"],
    }
    [evidence] = suggestion["evidence"]
    assert evidence["kind"] == "phone_in_signature"
    assert (
        evidence["data"]["value"] == "+34612345678" and evidence["data"]["message_id"] == email["message_id"]
    )
    assert "+34612345678" in evidence["text"] and "signature" in evidence["text"]
    assert suggestion["score"] == pytest.approx(0.85) and suggestion["status"] == "pending"
    # By customer, from either side.
    assert [s["id"] for s in _suggestions(api, customer_id=whatsapp["customer_id"])] == [suggestion["id"]]
    assert [s["id"] for s in _suggestions(api, customer_id=email["customer_id"])] == [suggestion["id"]]


def test_email_mentioned_in_a_dm_suggests_and_more_evidence_raises_the_score(api: Api) -> None:
    email = api.message(author="lucia.perez@gmail.com", text="Mi pedido no llega", external_id="e1")
    dm = api.message(
        channel="instagram",
        author="@lucia_p",
        text="Os escribí desde LuciaPerez@gmail.com hace una semana",
        external_id="i1",
    )
    [suggestion] = _suggestions(api)
    assert [e["kind"] for e in suggestion["evidence"]] == ["email_in_dm"]
    assert suggestion["evidence"][0]["data"]["value"] == "luciaperez@gmail.com"
    assert suggestion["score"] == pytest.approx(0.85)
    # The same evidence again adds nothing; a new kind of evidence strengthens the same pair.
    api.message(
        channel="instagram", author="@lucia_p", text="luciaperez@gmail.com otra vez", external_id="i2"
    )
    assert _suggestions(api)[0]["score"] == pytest.approx(0.85)
    api.message(author="lucia.perez@gmail.com", text="Soy @lucia_p en Instagram", external_id="e2")
    [again] = _suggestions(api)
    assert again["id"] == suggestion["id"]
    assert [e["kind"] for e in again["evidence"]] == ["email_in_dm", "handle_in_email_named_network"]
    assert again["score"] == pytest.approx(1 - 0.15 * 0.2)
    # A public post naming an address is weaker than a private message.
    api.message(
        channel="twitter",
        author="@otra",
        text="escribid a lucia.perez@gmail.com",
        public=True,
        external_id="t1",
    )
    public = [s for s in _suggestions(api) if s["id"] != suggestion["id"]]
    assert [e["kind"] for s in public for e in s["evidence"]] == ["email_in_message"]
    assert {again["customer_a"], again["customer_b"]} == {dm["customer_id"], email["customer_id"]}


def test_handle_written_in_an_email_suggests(api: Api) -> None:
    tweet = api.message(
        channel="twitter", author="@DanielCP", text="Dos semanas sin internet", public=True, external_id="t1"
    )
    email = api.message(
        author="daniel@compraspro.es",
        text="Os he escrito también como @danielcp, sin respuesta",
        external_id="e1",
    )
    [suggestion] = _suggestions(api)
    [evidence] = suggestion["evidence"]
    assert evidence["kind"] == "handle_in_email" and evidence["data"] == {
        "value": "danielcp",
        "channel": "twitter",
        "message_id": email["message_id"],
    }
    assert {suggestion["customer_a"], suggestion["customer_b"]} == {
        tweet["customer_id"],
        email["customer_id"],
    }
    # A handle in a tweet is a mention of someone else, not evidence.
    api.message(
        channel="twitter", author="@otra", text="@danielcp te entiendo", public=True, external_id="t2"
    )
    assert len(_suggestions(api)) == 1


def test_a_site_on_a_customers_email_domain_or_named_after_them_suggests(api: Api) -> None:
    email = api.message(author="daniel@compraspro.es", text="Sigo sin línea", external_id="e1")
    named = api.post(
        "/api/v1/customers",
        json={
            "name": "Antonio Domínguez",
            "identities": [{"channel": "email", "value": "antonio@correo.es"}],
        },
    ).json()
    blog = api.message(
        channel="feed", author="blog.compraspro.es", text="Mi proveedor me tiene sin línea", public=True,
        external_id="f1",
    )  # fmt: skip
    personal = api.message(
        channel="feed", author="antoniodominguez.blog", text="Lo que me pasó en la tienda", public=True,
        external_id="f2",
    )  # fmt: skip
    by_pair = {frozenset((s["customer_a"], s["customer_b"])): s for s in _suggestions(api)}
    domain = by_pair[frozenset((email["customer_id"], blog["customer_id"]))]
    assert [e["kind"] for e in domain["evidence"]] == ["site_domain_of_email"]
    assert domain["evidence"][0]["data"]["value"] == "compraspro.es"
    name = by_pair[frozenset((named["id"], personal["customer_id"]))]
    assert [e["kind"] for e in name["evidence"]] == ["site_named_after_customer"]
    assert len(by_pair) == 2
    # Shared hosts and short or generic labels are no clue.
    api.message(
        channel="feed", author="miblog.wordpress.com", text="Otra queja", public=True, external_id="f3"
    )
    api.message(channel="feed", author="www.correo.es", text="Noticia", public=True, external_id="f4")
    assert len(_suggestions(api)) == 2


def test_same_phone_on_another_channel_and_same_name_and_company(api: Api) -> None:
    call = api.message(channel="phone", author="+34 612 345 678", text="Llamada", external_id="p1")
    imported = api.message(channel="import", author="612345678", text="Encuesta: muy mal", external_id="x1")
    [by_phone] = _suggestions(api)
    assert [e["kind"] for e in by_phone["evidence"]] == ["same_phone_other_channel"]
    assert {by_phone["customer_a"], by_phone["customer_b"]} == {call["customer_id"], imported["customer_id"]}
    # The other way round: the import first, then the call.
    shop = api.message(
        channel="store", author="699111222", text="Visita: devuelve el router", external_id="s1"
    )
    later_call = api.message(channel="phone", author="+34 699 111 222", text="Llamada", external_id="p2")
    [reverse] = _suggestions(api, customer_id=shop["customer_id"])
    assert {reverse["customer_a"], reverse["customer_b"]} == {shop["customer_id"], later_call["customer_id"]}
    assert reverse["evidence"][0]["data"]["channel"] == "store"
    # A numeric user name on a network is not a phone number.
    api.message(channel="twitter", author="@612345678", text="hola", public=True, external_id="t1")
    assert len(_suggestions(api)) == 2
    one = api.post("/api/v1/customers", json={"name": "Daniel Ortega", "company": "Compras Pro SL"}).json()
    other = api.post("/api/v1/customers", json={"name": "daniel  ORTEGA", "company": "compras pro, S.L."})
    assert other.status_code == 201
    lone = api.post("/api/v1/customers", json={"name": "Daniel Ortega", "company": "Otra Empresa"}).json()
    by_name = _suggestions(api, customer_id=one["id"])
    assert [(s["customer_a"], s["customer_b"]) for s in by_name] == [(one["id"], other.json()["id"])]
    assert by_name[0]["evidence"][0]["kind"] == "same_name_company"
    assert _suggestions(api, customer_id=lone["id"]) == []


@pytest.fixture
def suggested(api: Api) -> dict[str, Any]:
    """Two profiles of one person, with messages interleaved in time, and a pending suggestion."""
    whatsapp = api.message(
        channel="whatsapp",
        author="+34 612 345 678",
        text="¿Dónde está mi pedido?",
        external_id="w1",
        occurred_at="2026-03-01T10:00:00+01:00",
    )
    api.patch(f"/api/v1/customers/{whatsapp['customer_id']}", json={"tags": ["vip"]})
    email = api.message(
        author={"value": "lucia@correo.es", "name": "Lucía Pérez"},
        text="Sigue sin llegar.\n--\nLucía Pérez · 612 34 56 78",
        external_id="e1",
        occurred_at="2026-03-02T10:00:00+01:00",
    )
    later = api.message(
        channel="whatsapp",
        author="+34612345678",
        text="Hola??",
        external_id="w2",
        occurred_at="2026-03-03T10:00:00+01:00",
    )
    [suggestion] = _suggestions(api)
    return {
        "suggestion": suggestion,
        "phone_customer": whatsapp["customer_id"],
        "email_customer": email["customer_id"],
        "phone_messages": [whatsapp["message_id"], later["message_id"]],
        "email_messages": [email["message_id"]],
    }


def _timeline(api: Api, customer_id: int) -> list[int]:
    response = api.get(f"/api/v1/customers/{customer_id}/timeline")
    assert response.status_code == 200, response.text
    return [item["message_id"] for item in response.json()["items"]]


def _identities(api: Api, customer_id: int) -> set[tuple[str, str]]:
    body = api.get(f"/api/v1/customers/{customer_id}").json()
    return {(i["channel"], i["value"]) for i in body["identities"]}


def test_accept_merges_into_one_timeline_and_undo_restores_both(api: Api, suggested: dict[str, Any]) -> None:
    phone, email = suggested["phone_customer"], suggested["email_customer"]
    before = {phone: _identities(api, phone), email: _identities(api, email)}
    accepted = api.post(f"/api/v1/customers/suggestions/{suggested['suggestion']['id']}/accept")
    assert accepted.status_code == 200, accepted.text
    body = accepted.json()
    kept = min(phone, email)
    assert body["merge"]["customer"]["id"] == kept and body["suggestion"]["status"] == "accepted"
    assert body["suggestion"]["merge_id"] == body["merge"]["merge_id"] and body["suggestion"]["decided_at"]
    gone = email if kept == phone else phone
    assert {(i["channel"], i["value"]) for i in body["merge"]["customer"]["identities"]} == before[
        phone
    ] | before[email]
    # One timeline, newest first, the two profiles' messages interleaved by time.
    w1, w2 = suggested["phone_messages"]
    [e1] = suggested["email_messages"]
    assert _timeline(api, kept) == [w2, e1, w1]
    assert api.get(f"/api/v1/customers/{gone}").json()["id"] == kept
    assert _suggestions(api) == []

    # The merged profile keeps receiving: a new email lands on the kept profile (and goes back on undo
    # with its conversation).
    new_email = api.message(
        author="lucia@correo.es", text="Gracias", external_id="e2", occurred_at="2026-03-04T10:00:00+01:00"
    )
    assert new_email["customer_id"] == kept
    undone = api.post(f"/api/v1/customers/merges/{body['merge']['merge_id']}/undo")
    assert undone.status_code == 200, undone.text
    assert undone.json()["undone_at"] is not None
    assert api.get(f"/api/v1/customers/{gone}").json()["id"] == gone
    assert _identities(api, phone) == before[phone] and _identities(api, email) == before[email]
    assert _timeline(api, phone) == [w2, w1]
    assert _timeline(api, email) == [new_email["message_id"], e1]
    assert api.get(f"/api/v1/customers/{email}").json()["tags"] == []
    assert api.get(f"/api/v1/customers/{phone}").json()["tags"] == ["vip"]
    # An undone merge says "not the same person": the pair is not suggested again.
    assert _suggestions(api, status="rejected")[0]["id"] == suggested["suggestion"]["id"]
    api.message(author="lucia@correo.es", text="Tel. 612 345 678", external_id="e3")
    assert _suggestions(api) == []
    again = api.post(f"/api/v1/customers/merges/{body['merge']['merge_id']}/undo")
    assert again.status_code == 409
    assert api.post("/api/v1/customers/merges/999999/undo").status_code == 404


def test_undo_gives_back_the_promises_of_the_returned_conversations_and_both_answers(
    api: Api, suggested: dict[str, Any]
) -> None:
    phone, email = suggested["phone_customer"], suggested["email_customer"]
    [e1] = suggested["email_messages"]
    email_conversation = api.get(f"/api/v1/messages/{e1}").json()["conversation_id"]
    promise = api.post(
        f"/api/v1/customers/{email}/commitments",
        json={"text": "Llamarla mañana", "due_at": "2030-01-01T10:00:00+00:00", "kind": "callback",
              "conversation_id": email_conversation},
    )  # fmt: skip
    assert promise.status_code == 201, promise.text
    accepted = api.post(
        f"/api/v1/customers/suggestions/{suggested['suggestion']['id']}/accept", json={"keep_id": phone}
    ).json()
    promises = api.get(f"/api/v1/customers/{phone}/commitments").json()
    assert [p["id"] for p in promises] == [promise.json()["id"]], "the promise followed the merge"
    assert api.post(f"/api/v1/customers/merges/{accepted['merge']['merge_id']}/undo").status_code == 200
    assert [p["id"] for p in api.get(f"/api/v1/customers/{email}/commitments").json()] == [
        promise.json()["id"]
    ]
    assert api.get(f"/api/v1/customers/{phone}/commitments").json() == []
    # Each profile answers for itself again.
    for customer_id in (phone, email):
        answer = api.get(
            "/api/v1/contactability", params={"customer_id": customer_id, "purpose": "marketing"}
        )
        assert answer.status_code == 200, answer.text


def test_undo_waits_for_a_later_merge_of_the_kept_profile(api: Api, suggested: dict[str, Any]) -> None:
    accepted = api.post(f"/api/v1/customers/suggestions/{suggested['suggestion']['id']}/accept").json()
    kept = accepted["merge"]["customer"]["id"]
    third = api.message(channel="telegram", author="lucia_tg", text="Hola", external_id="tg1")
    later = api.post(f"/api/v1/customers/{third['customer_id']}/merge", json={"source_id": kept})
    assert later.status_code == 200, later.text
    blocked = api.post(f"/api/v1/customers/merges/{accepted['merge']['merge_id']}/undo")
    assert blocked.status_code == 409 and "undo that merge first" in blocked.json()["error"]["message"]
    assert api.post(f"/api/v1/customers/merges/{later.json()['merge_id']}/undo").status_code == 200
    assert api.post(f"/api/v1/customers/merges/{accepted['merge']['merge_id']}/undo").status_code == 200
    merges = api.get("/api/v1/customers/merges", params={"customer_id": kept}).json()
    assert len(merges) == 2 and all(m["undone_at"] for m in merges)


def test_reject_keeps_both_and_is_not_suggested_again(
    api: Api, suggested: dict[str, Any], runtime: Runtime
) -> None:
    suggestion_id = suggested["suggestion"]["id"]
    rejected = api.post(f"/api/v1/customers/suggestions/{suggestion_id}/reject")
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert rejected.json()["decided_by_name"] == "tests"
    assert api.post(f"/api/v1/customers/suggestions/{suggestion_id}/accept").status_code == 409
    # The same evidence again does not bring the pair back.
    api.message(author="lucia@correo.es", text="Saludos\nTel. +34 612 345 678", external_id="e9")
    assert _suggestions(api) == []
    with runtime.db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(MergeSuggestion)) == 1
        assert session.scalar(select(func.count()).select_from(CustomerMerge)) == 0
        both = session.scalars(
            select(Customer).where(
                Customer.id.in_([suggested["phone_customer"], suggested["email_customer"]])
            )
        ).all()
        assert [c.merged_into_id for c in both] == [None, None]
    assert api.get("/api/v1/customers/suggestions", params={"status": "nope"}).status_code == 422


def test_accept_can_keep_either_profile(api: Api, suggested: dict[str, Any]) -> None:
    newer = max(suggested["phone_customer"], suggested["email_customer"])
    url = f"/api/v1/customers/suggestions/{suggested['suggestion']['id']}/accept"
    assert api.post(url, json={"keep_id": 999999}).status_code == 404
    accepted = api.post(url, json={"keep_id": newer})
    assert accepted.status_code == 200 and accepted.json()["merge"]["customer"]["id"] == newer


def test_deciding_needs_the_merge_scope(api: Api, runtime: Runtime, suggested: dict[str, Any]) -> None:
    with runtime.db.session() as session:
        reader, _ = create_token(session=session, name="reader", scopes=["customers:read"])
    headers = {"Authorization": f"Bearer {reader}"}
    suggestion_id = suggested["suggestion"]["id"]
    listed = api.client.get("/api/v1/customers/suggestions", headers=headers)
    assert listed.status_code == 200 and [s["id"] for s in listed.json()] == [suggestion_id]
    for url in (
        f"/api/v1/customers/suggestions/{suggestion_id}/accept",
        f"/api/v1/customers/suggestions/{suggestion_id}/reject",
    ):
        assert api.client.post(url, headers=headers).status_code == 403
    merge_id = api.post(f"/api/v1/customers/suggestions/{suggestion_id}/accept").json()["merge"]["merge_id"]
    assert api.client.post(f"/api/v1/customers/merges/{merge_id}/undo", headers=headers).status_code == 403
    merges = api.client.get(
        "/api/v1/customers/merges", params={"customer_id": suggested["phone_customer"]}, headers=headers
    )
    assert merges.status_code == 200 and [m["undone_at"] for m in merges.json()] == [None]


# --- pages -----------------------------------------------------------------------------------------


def test_pages_show_suggestions_with_evidence_and_decide_on_the_server(
    api: Api, runtime: Runtime, client: TestClient
) -> None:
    make_agent(runtime, "lia@example.com", "lead", ("care",))
    make_agent(runtime, "ana@example.com", "agent", ("care",))
    whatsapp = api.message(channel="whatsapp", author="+34 612 345 678", text="Hola", external_id="w1")
    email = api.message(
        author={"value": "x@correo.es", "name": "<script>alert(1)</script>"},
        text="Saludos\n612 34 56 78",
        external_id="e1",
    )
    [suggestion] = _suggestions(api)
    agent = browser_for(client.app, "ana@example.com")
    page = agent.get("/customers").text
    assert f'data-suggestion="{suggestion["id"]}"' in page
    assert "El teléfono +34612345678 aparece en la firma de un mensaje (email)" in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'data-action="accept"' not in page  # an agent sees, a lead decides
    refused = agent.post(f"/customers/suggestions/{suggestion['id']}/accept")
    assert refused.status_code == 403
    assert agent.post(f"/customers/suggestions/{suggestion['id']}/reject").status_code == 403
    assert _suggestions(api)[0]["status"] == "pending"

    lead = browser_for(client.app, "lia@example.com")
    profile = lead.get(f"/customers/{email['customer_id']}").text
    assert 'id="profile-suggestions"' in profile and 'data-action="accept"' in profile
    forged = lead.post(f"/customers/suggestions/{suggestion['id']}/accept", {"csrf_token": "forged"})
    assert forged.status_code == 403
    done = lead.post(f"/customers/suggestions/{suggestion['id']}/accept")
    kept = min(whatsapp["customer_id"], email["customer_id"])
    gone = max(whatsapp["customer_id"], email["customer_id"])
    assert done.status_code == 303 and done.headers["location"] == f"/customers/{kept}?merged={gone}"
    merged_page = lead.get(f"/customers/{kept}").text
    assert 'id="profile-merges"' in merged_page and 'data-action="undo"' in merged_page
    assert 'data-action="undo"' not in agent.get(f"/customers/{kept}").text
    with runtime.db.sessions() as session:
        merge_id = session.scalar(select(CustomerMerge.id))
    assert agent.post(f"/customers/merges/{merge_id}/undo").status_code == 403
    undone = lead.post(f"/customers/merges/{merge_id}/undo")
    assert undone.status_code == 303 and undone.headers["location"] == f"/customers/{kept}?undone={gone}"
    assert "Fusión deshecha" in lead.get(undone.headers["location"]).text
    assert api.get(f"/api/v1/customers/{gone}").json()["id"] == gone


def test_page_reject_returns_to_the_page_and_english_strings(
    api: Api, runtime: Runtime, client: TestClient
) -> None:
    make_agent(runtime, "lee@example.com", "lead", ("care",), language="en")
    api.message(channel="instagram", author="@lucia_p", text="mi correo: lucia@correo.es", external_id="i0")
    api.message(author="lucia@correo.es", text="Hola", external_id="e0")
    api.message(channel="instagram", author="@lucia_p", text="mi correo: lucia@correo.es", external_id="i1")
    [suggestion] = _suggestions(api)
    lead = browser_for(client.app, "lee@example.com")
    page = lead.get("/customers").text
    assert "The email address lucia@correo.es is written in a private message (instagram)" in page
    rejected = lead.post(
        f"/customers/suggestions/{suggestion['id']}/reject",
        {"back": f"/customers/{suggestion['customer_a']}"},
    )
    assert (
        rejected.status_code == 303
        and rejected.headers["location"] == f"/customers/{suggestion['customer_a']}"
    )
    elsewhere = lead.post(
        f"/customers/suggestions/{suggestion['id']}/reject", {"back": "https://evil.example/"}
    )
    assert elsewhere.headers["location"] == "/customers"
    assert 'data-count="0"' in lead.get("/customers").text


# --- migration -------------------------------------------------------------------------------------


def _migration() -> Any:
    import importlib.util

    from cuida.db.migrate import MIGRATIONS

    spec = importlib.util.spec_from_file_location(
        "migration_0017", MIGRATIONS / "versions" / "0017_identity_suggestions.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "address",
    [
        "Lucia.Perez+x@googlemail.com",
        "a.b+c@hotmail.es",
        "x.y+z@empresa.es",
        "q+1@proton.me",
        "plain@gmail.com",
    ],
)
def test_migration_rules_match_the_live_rules(address: str) -> None:
    """The migration keeps a frozen copy of the email rules; today they must agree."""
    assert _migration()._email_key(address.lower()) == identity_key("email", address)[1]


def test_migration_rekeys_existing_emails_and_suggests_collisions(runtime: Runtime) -> None:
    """Rows written under the old rules (only lower-cased) are re-keyed; two rows that now mean one
    mailbox become a suggestion, never a silent merge."""
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import text

    with runtime.db.session() as session:
        people = []
        for name, address in (
            ("Lucía  Pérez", "lucia.perez@gmail.com"),
            ("Lucia P", "luciaperez@gmail.com"),
            ("Ana", "ana+tienda@hotmail.es"),
        ):
            customer = Customer(
                name=name, tags=[], attributes={}, created_at=_at(session), updated_at=_at(session)
            )
            session.add(customer)
            session.flush()
            session.add(
                Identity(
                    customer_id=customer.id,
                    channel="email",
                    value=address,
                    display=address,
                    created_at=_at(session),
                )
            )
            people.append(customer.id)
        session.flush()
        session.execute(text("UPDATE customers SET name_key = NULL"))
    with runtime.db.engine.begin() as connection, Operations.context(MigrationContext.configure(connection)):
        _migration()._backfill()
    with runtime.db.sessions() as session:
        values = dict(session.execute(select(Identity.customer_id, Identity.value)).tuples().all())
        # The older spelling stays on its profile until an agent decides; the new messages' key
        # ("luciaperez@gmail.com") already reaches the other one.
        assert values == {
            people[0]: "lucia.perez@gmail.com",
            people[1]: "luciaperez@gmail.com",
            people[2]: "ana@hotmail.es",
        }
        assert session.scalar(select(Customer.name_key).where(Customer.id == people[0])) == "lucia perez"
        [suggestion] = session.scalars(select(MergeSuggestion)).all()
        assert (suggestion.customer_a, suggestion.customer_b) == (people[0], people[1])
        assert suggestion.status == "pending" and suggestion.evidence[0]["kind"] == "same_email_address"


def _at(session: Any) -> Any:
    from cuida.clock.service import now

    return now(session=session)
