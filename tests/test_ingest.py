from __future__ import annotations

from sqlalchemy import func, select

from cuida.conversations.models import Message


def test_message_is_stored_linked_threaded_and_language_tagged(api):
    accepted = api.message(
        channel="twitter",
        external_id="t-1",
        public=True,
        author={"value": "@DanielComprasPro", "name": "Daniel", "followers": 8400},
        text="@FibraNet nos mudamos y el traslado de la línea tarda 15 días. ¿En serio?",
    )
    message = api.get(f"/api/v1/messages/{accepted['message_id']}").json()
    assert message["stage"] == "done"
    assert message["language"] == "es"
    assert message["triage"]["language"] == "es"
    assert message["customer_id"] and message["conversation_id"]
    customer = api.get(f"/api/v1/customers/{message['customer_id']}").json()
    assert customer["name"] == "Daniel"
    assert [(i["channel"], i["value"], i["followers"]) for i in customer["identities"]] == [
        ("twitter", "danielcompraspro", 8400)
    ]


def test_same_channel_and_external_id_returns_the_same_message(api, runtime):
    first = api.post(
        "/api/v1/messages",
        json={"channel": "email", "external_id": "<abc@mail>", "author": "Cliente@Correo.es", "text": "hola"},
    )
    again = api.post(
        "/api/v1/messages",
        json={
            "channel": "email",
            "external_id": "<abc@mail>",
            "author": "cliente@correo.es",
            "text": "hola otra vez",
        },
    )
    assert first.status_code == 202 and again.status_code == 200
    assert again.json()["duplicate"] is True
    assert again.json()["message_id"] == first.json()["message_id"]
    same_id_other_channel = api.message(
        channel="webform", external_id="<abc@mail>", author="cliente@correo.es", text="hola"
    )
    assert same_id_other_channel["message_id"] != first.json()["message_id"]
    with runtime.db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 2


def test_batch_stores_each_once_and_reports_duplicates(api):
    messages = [
        {"channel": "email", "external_id": f"m{i % 3}", "author": f"c{i % 3}@x.es", "text": f"texto {i}"}
        for i in range(5)
    ]
    response = api.post("/api/v1/messages/batch", json={"messages": messages})
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["stored"] == 3 and body["duplicates"] == 2
    ids = [item["message_id"] for item in body["items"]]
    assert ids[0] == ids[3] and ids[1] == ids[4] and len(set(ids)) == 3


def test_batch_limit_is_enforced(api, runtime):
    runtime.settings.max_batch = 2
    messages = [
        {"channel": "email", "author": "a@b.es", "text": "x", "external_id": str(i)} for i in range(3)
    ]
    response = api.post("/api/v1/messages/batch", json={"messages": messages})
    assert response.status_code == 422
    assert "at most 2 messages" in response.json()["error"]["message"]


def test_identities_are_normalised_so_channels_meet(api):
    call = api.message(
        channel="phone", external_id="call-1", author="+34 612 345 678", text="Llamada: traslado"
    )
    sms = api.message(channel="sms", external_id="sms-1", author="612345678", text="¿Y mi traslado?")
    whatsapp = api.message(channel="whatsapp", external_id="wa-1", author="0034612345678", text="Hola")
    assert call["customer_id"] == sms["customer_id"] == whatsapp["customer_id"]
    customer = api.get(f"/api/v1/customers/{call['customer_id']}").json()
    assert [(i["channel"], i["value"]) for i in customer["identities"]] == [("phone", "+34612345678")]
    mail = api.message(channel="email", external_id="e1", author="Ana.Perez@Correo.ES", text="hola")
    form = api.message(channel="webform", external_id="f1", author="ana.perez@correo.es", text="hola")
    assert mail["customer_id"] == form["customer_id"]
    handle = api.message(channel="twitter", external_id="tw1", author="@AnaPerez", text="hola")
    handle2 = api.message(channel="twitter", external_id="tw2", author="anaperez", text="hola")
    assert handle["customer_id"] == handle2["customer_id"]


def test_threading_reply_chains_and_open_conversations(api):
    first = api.message(channel="email", external_id="e1", author="a@x.es", text="Mi pedido no llega")
    second = api.message(channel="email", external_id="e2", author="a@x.es", text="Sigo esperando")
    other_channel = api.message(channel="twitter", external_id="t1", author="@ax", text="Mi pedido no llega")
    assert first["conversation_id"] == second["conversation_id"]
    assert other_channel["conversation_id"] != first["conversation_id"]
    # Once resolved, a new message starts a new conversation unless it replies to the old one.
    assert (
        api.patch(
            f"/api/v1/conversations/{first['conversation_id']}", json={"status": "resolved"}
        ).status_code
        == 200
    )
    fresh = api.message(channel="email", external_id="e3", author="a@x.es", text="Otra cosa")
    assert fresh["conversation_id"] != first["conversation_id"]
    reply_to_old = api.message(
        channel="email", external_id="e4", author="a@x.es", text="Re: pedido", in_reply_to="e2"
    )
    assert reply_to_old["conversation_id"] == first["conversation_id"]
    reopened = api.get(f"/api/v1/conversations/{first['conversation_id']}").json()
    assert reopened["status"] == "open" and reopened["message_count"] == 3


def test_html_is_sanitised_and_text_derived(api):
    accepted = api.message(
        channel="email",
        external_id="h1",
        author="a@x.es",
        html='<p>Hola <b>equipo</b><script>alert(1)</script><img src=x onerror="alert(2)"></p>',
    )
    message = api.get(f"/api/v1/messages/{accepted['message_id']}").json()
    assert "<script" not in message["html"] and "onerror" not in message["html"]
    assert "<b>equipo</b>" in message["html"]
    assert message["text"].startswith("Hola equipo")


def test_raw_payload_and_metadata_are_kept(api):
    accepted = api.message(
        channel="webhook",
        external_id="w1",
        author="@shopbot",
        text="pedido 123",
        metadata={"order": "123", "source": "crm"},
    )
    message = api.get(f"/api/v1/messages/{accepted['message_id']}").json()
    assert message["meta"]["order"] == "123"
    assert (
        message["meta"]["source"]["type"] == "token"
    )  # who sent it is recorded, never overwritten by the body


def test_wait_returns_ids_once_processed(api):
    response = api.post(
        "/api/v1/messages?wait=2",
        json={"channel": "email", "external_id": "w", "author": "z@x.es", "text": "¿Dónde está mi factura?"},
    )
    body = response.json()
    assert body["stage"] == "done" and body["conversation_id"] and body["customer_id"]
    assert response.headers["location"] == f"/api/v1/messages/{body['message_id']}"
