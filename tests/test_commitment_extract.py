"""Promises found in outgoing replies: positives and hard negatives, Spanish and English."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from cuida.commitments.extract import propose_commitments

MADRID = ZoneInfo("Europe/Madrid")
# Tuesday 10 March 2026, 10:00 in Madrid.
SENT = datetime(2026, 3, 10, 10, 0, tzinfo=MADRID).astimezone(UTC)


def local(day: int, hour: int = 23, minute: int = 59, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=MADRID).astimezone(UTC)


def one(text: str, language: str | None = None):
    found = propose_commitments(text, language, SENT)
    assert len(found) == 1, (text, found)
    return found[0]


def test_the_twitter_promise_of_traslado_de_linea():
    text = "Hola Daniel, te escribimos por mensaje directo y te damos una solución hoy mismo."
    p = one(text, "es")
    assert p.kind == "contact" and p.channel == "dm"
    assert p.text == "send a solution by direct message"
    assert p.due_at == local(10)
    assert p.source_text == text and (p.start, p.end) == (0, len(text))
    assert p.due_phrase == "hoy mismo"


@pytest.mark.parametrize(
    ("text", "kind", "channel", "due"),
    [
        ("Le llamamos mañana.", "callback", "phone", local(11)),
        ("Recibirá el reembolso en 5 días.", "refund", None, local(15)),
        ("Le enviamos la pieza esta semana.", "replacement", None, local(13)),
        ("Un técnico irá el jueves.", "visit", None, local(12)),
        ("Te estaremos contactando por inbox el día de hoy.", "contact", "dm", local(10)),
        ("Le marcamos mañana a las 10.", "callback", "phone", local(11, 10, 0)),
        ("Un compañero se pondrá en contacto con usted en 48 horas.", "contact", None, local(12, 10, 0)),
        ("Te hacemos llegar el nuevo router el lunes.", "replacement", None, local(16)),
        ("Le devolvemos la llamada en una hora.", "callback", "phone", local(10, 11, 0)),
        ("Procederemos a reembolsar el importe en un plazo de 10 días.", "refund", None, local(20)),
        ("Vamos a sustituir el terminal pasado mañana.", "replacement", None, local(12)),
        ("Te llamo yo mañana sin falta.", "callback", "phone", local(11)),
        ("Le llamaremos desde el departamento técnico mañana.", "callback", "phone", local(11)),
        ("Mañana te mandamos un wasap con el seguimiento.", "contact", "whatsapp", local(11)),
        ("Sí, le llamamos el lunes.", "callback", "phone", local(16)),
        ("Te lo arreglamos hoy.", "repair", None, local(10)),
        ("Un técnico pasará por su domicilio el miércoles a las 16:00.", "visit", None, local(11, 16, 0)),
        ("Nos ponemos en contacto contigo por privado en unos minutos.", "contact", "dm", local(10, 11, 0)),
        ("Le estaremos dando seguimiento por correo esta semana.", "contact", "email", local(13)),
        ("Te respondemos por MD.", "contact", "dm", local(12)),
        ("El reembolso se realizará en un plazo de 3 a 5 días hábiles.", "refund", None, local(17)),
        ("Se le abonará el importe en su próxima factura.", "refund", None, local(24)),
        ("Su pedido llegará el jueves.", "other", None, local(12)),
        ("Le llamamos mañana, ¿le parece bien?", "callback", "phone", local(11)),
        (
            "Estamos revisando su caso y le escribimos por correo antes del viernes.",
            "contact",
            "email",
            local(13),
        ),
        (
            "Le escribimos para informarle de que recibirá el reembolso en 5 días hábiles.",
            "refund",
            None,
            local(17),
        ),
        # English
        ("We'll send a replacement.", "replacement", None, local(24)),
        ("We will call you back within 24 hours.", "callback", "phone", local(11, 10, 0)),
        ("You'll get your refund in 3-5 working days.", "refund", None, local(17)),
        ("I'll DM you today.", "contact", "dm", local(10)),
        ("I\u2019ll DM you today.", "contact", "dm", local(10)),
        ("Our technician will visit on Thursday.", "visit", None, local(12)),
        ("We're sending you a new router, it should arrive by Friday.", "replacement", None, local(13)),
        ("We'll get back to you by email tomorrow.", "contact", "email", local(11)),
        ("You will receive an email from us shortly.", "contact", "email", local(12)),
        ("Expect a call from us tomorrow at 10am.", "callback", "phone", local(11, 10, 0)),
        ("Our team will be in touch within 2 business days.", "contact", None, local(12)),
        ("We'll look into it and get back to you by Friday.", "contact", None, local(13)),
        ("We're sorry for the trouble, we'll refund the duplicate charge today.", "refund", None, local(10)),
        ("A technician will come to your home on 15 March.", "visit", None, local(15)),
    ],
)
def test_promises(text, kind, channel, due):
    p = one(text)
    assert (p.kind, p.channel, p.due_at) == (kind, channel, due)


@pytest.mark.parametrize(
    "text",
    [
        "No podemos prometerle nada.",
        "¿Le llamamos mañana?",
        "¿Quiere que le llamemos mañana?",
        "Si nos envía la factura, le llamaremos.",
        "Le llamaremos si nos envía la factura.",
        "Le llamamos ayer pero no contestó.",
        "Le llamó un compañero.",
        "Ya le enviamos la pieza la semana pasada.",
        "Le hemos enviado un correo con los detalles.",
        "Le enviamos adjunta la factura.",
        "Envíenos la factura y le llamamos.",
        "Gracias por escribirnos.",
        "Les escribimos desde el equipo de atención al cliente.",
        "Le informamos que su pedido ha sido enviado.",
        "Tendrá que enviarnos una copia del DNI.",
        "En cuanto tengamos novedades le escribimos.",
        "Le recordamos que puede llamarnos al 900 100 200.",
        "No le llamaremos más, disculpe las molestias.",
        "Lamentablemente no es posible reembolsar el importe.",
        "Quizá le llamemos mañana.",
        "Podemos llamarle mañana si lo prefiere.",
        "Le pasamos con un compañero.",
        "Quedamos atentos a sus comentarios.",
        "Te escribimos por aquí para contarte cómo va.",
        # English
        "We called you yesterday.",
        "Would you like us to call you tomorrow?",
        "If you send us the receipt, we'll refund you.",
        "We can't promise anything.",
        "We will not be able to send a replacement.",
        "He will call you tomorrow.",
        "We are writing to let you know your order has shipped.",
        "Please send us your order number and we'll check it.",
        "Maybe we could call you tomorrow.",
        "I'm checking with the warehouse now.",
        "We have already sent you a replacement.",
        "Feel free to call us at any time.",
    ],
)
def test_not_promises(text):
    assert propose_commitments(text, None, SENT) == []


@pytest.mark.parametrize(
    "text",
    [
        "Escríbenos por DM y lo revisamos.",
        "Sentimos que no fuera como esperabas. ¿Nos escribes por privado y nos cuentas qué pasó?",
        "¿Nos mandas un MD con tu número de pedido?",
        "DM us and we'll sort it out.",
        "Please send us a direct message with your order number.",
    ],
)
def test_an_invitation_to_talk_privately_is_an_offer(text):
    [offer] = propose_commitments(text, None, SENT)
    assert (offer.kind, offer.channel, offer.text) == (
        "offer",
        "dm",
        "follow up if the customer writes privately",
    )
    assert offer.due_at == local(17)  # open for a week


@pytest.mark.parametrize(
    "text", ["No hace falta que nos escribas por privado.", "Te escribimos por privado mañana."]
)
def test_what_is_not_an_invitation(text):
    assert all(p.kind != "offer" for p in propose_commitments(text, None, SENT))


def test_several_promises_and_spans():
    text = "Gracias por su paciencia. Le llamamos mañana y le enviamos el reembolso en 5 días. Un saludo."
    found = propose_commitments(text, "es", SENT)
    assert [(p.kind, p.due_at) for p in found] == [("callback", local(11)), ("refund", local(15))]
    assert all(text[p.start : p.end] == p.source_text for p in found)
    assert found[0].source_text == "Le llamamos mañana y le enviamos el reembolso en 5 días."


def test_default_due_and_time_zone():
    # No time said: end of the day after tomorrow, local time...
    assert one("We'll call you back.").due_at == local(12)
    # ...but a parcel or a refund has two weeks to arrive.
    assert one("We'll send a replacement.").due_at == local(24)
    assert one("Te mandamos un Kai nuevo y un pequeño regalo.").kind == "replacement"
    # 23:30 in Madrid on the 10th is already the 10th at 22:30 UTC: "hoy" is the Madrid day.
    late = datetime(2026, 3, 10, 23, 30, tzinfo=MADRID)
    assert propose_commitments("Te escribimos hoy por DM.", "es", late)[0].due_at == local(10)
    # Another zone gives another end of day.
    mexico = propose_commitments("Le marcamos mañana.", "es", SENT, tz="America/Mexico_City")[0]
    assert mexico.due_at == datetime(2026, 3, 11, 23, 59, tzinfo=ZoneInfo("America/Mexico_City"))


def test_weekday_this_week_and_business_days_from_a_friday():
    friday = datetime(2026, 3, 13, 12, 0, tzinfo=MADRID)
    assert propose_commitments("Le llamamos el viernes.", "es", friday)[0].due_at == local(20)
    assert propose_commitments("Le llamamos el lunes.", "es", friday)[0].due_at == local(16)
    assert propose_commitments("Le enviamos la pieza esta semana.", "es", friday)[0].due_at == local(13)
    refund = propose_commitments("You'll get your refund within 2 working days.", "en", friday)[0]
    assert refund.due_at == local(17)


def test_needs_an_aware_time():
    with pytest.raises(ValueError):
        propose_commitments("Le llamamos mañana.", "es", datetime(2026, 3, 10, 10, 0))
