from __future__ import annotations


def _customer(api, **fields):
    response = api.post("/api/v1/customers", json=fields)
    assert response.status_code == 201, response.text
    return response.json()


def test_create_read_update_customer(api):
    created = _customer(
        api,
        name="Daniel Ortega",
        company="Compras Pro SL",
        lifetime_value="1250.50",
        tags=["pyme"],
        identities=[
            {"channel": "phone", "value": "+34 612 345 678"},
            {"channel": "twitter", "value": "@DanielComprasPro"},
            {"channel": "email", "value": "Daniel@ComprasPro.es"},
        ],
    )
    assert {(i["channel"], i["value"]) for i in created["identities"]} == {
        ("phone", "+34612345678"),
        ("twitter", "danielcompraspro"),
        ("email", "daniel@compraspro.es"),
    }
    updated = api.patch(f"/api/v1/customers/{created['id']}", json={"tier": "gold", "tags": ["pyme", "vip"]})
    assert updated.status_code == 200
    assert updated.json()["tier"] == "gold" and updated.json()["company"] == "Compras Pro SL"
    # An inbound message from any of his identities lands on his profile.
    accepted = api.message(channel="phone", external_id="c1", author="612 345 678", text="Llamada")
    assert accepted["customer_id"] == created["id"]


def test_identity_owned_by_someone_else_is_a_conflict(api):
    first = _customer(api, name="A", identities=[{"channel": "email", "value": "a@x.es"}])
    second = _customer(api, name="B")
    response = api.post(
        f"/api/v1/customers/{second['id']}/identities", json={"channel": "email", "value": "A@x.es"}
    )
    assert response.status_code == 409
    assert f"customer {first['id']}" in response.json()["error"]["message"]


def test_search_customers_accent_and_case_insensitive(api):
    _customer(api, name="Antonio Domínguez", identities=[{"channel": "email", "value": "antonio@correo.es"}])
    _customer(api, name="Lucía Serrano", company="Bloques Toys")
    assert [c["name"] for c in api.get("/api/v1/customers?q=dominguez").json()] == ["Antonio Domínguez"]
    assert [c["name"] for c in api.get("/api/v1/customers?q=ANTONIO%40correo").json()] == [
        "Antonio Domínguez"
    ]
    assert [c["name"] for c in api.get("/api/v1/customers?q=bloques").json()] == ["Lucía Serrano"]
    assert api.get("/api/v1/customers?q=nadie").json() == []


def test_merge_keeps_identities_and_history(api):
    phone = api.message(channel="phone", external_id="p1", author="+34 612 345 678", text="Llamada: traslado")
    tweet = api.message(
        channel="twitter",
        external_id="t1",
        author="@danielcp",
        text="¿Dos semanas sin internet?",
        public=True,
    )
    assert phone["customer_id"] != tweet["customer_id"]
    merged = api.post(
        f"/api/v1/customers/{phone['customer_id']}/merge", json={"source_id": tweet["customer_id"]}
    )
    assert merged.status_code == 200, merged.text
    body = merged.json()
    assert body["moved_identities"] == 1 and body["moved_conversations"] == 1 and body["moved_messages"] == 1
    assert {i["channel"] for i in body["customer"]["identities"]} == {"phone", "twitter"}
    timeline = api.get(f"/api/v1/customers/{phone['customer_id']}/timeline").json()
    assert {item["message_id"] for item in timeline["items"]} == {phone["message_id"], tweet["message_id"]}
    # The old id still resolves, to the merged profile; new messages from the handle land there too.
    assert api.get(f"/api/v1/customers/{tweet['customer_id']}").json()["id"] == phone["customer_id"]
    later = api.message(channel="twitter", external_id="t2", author="@DanielCP", text="Sigo esperando")
    assert later["customer_id"] == phone["customer_id"]
    again = api.post(
        f"/api/v1/customers/{phone['customer_id']}/merge", json={"source_id": tweet["customer_id"]}
    )
    assert again.status_code == 409
    itself = api.post(
        f"/api/v1/customers/{phone['customer_id']}/merge", json={"source_id": phone["customer_id"]}
    )
    assert itself.status_code == 422


def test_timeline_spans_channels_newest_first_with_pagination(api):
    customer = _customer(
        api,
        name="Ana",
        identities=[{"channel": "email", "value": "ana@x.es"}, {"channel": "instagram", "value": "@ana"}],
    )
    ids = []
    for i in range(5):
        channel, author = ("email", "ana@x.es") if i % 2 == 0 else ("instagram", "@ana")
        ids.append(
            api.message(
                channel=channel,
                external_id=f"m{i}",
                author=author,
                text=f"mensaje {i}",
                occurred_at=f"2026-03-0{i + 1}T10:00:00+01:00",
            )["message_id"]
        )
    page = api.get(f"/api/v1/customers/{customer['id']}/timeline?limit=2").json()
    seen = [item["message_id"] for item in page["items"]]
    while page["next_cursor"]:
        page = api.get(
            f"/api/v1/customers/{customer['id']}/timeline?limit=2&cursor={page['next_cursor']}"
        ).json()
        seen += [item["message_id"] for item in page["items"]]
    assert seen == list(reversed(ids))
    items = api.get(f"/api/v1/customers/{customer['id']}/timeline").json()["items"]
    assert {item["channel"] for item in items} == {"email", "instagram"}
