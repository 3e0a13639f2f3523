"""Entity extraction: Spanish (Spain and Latin America) and English, positives and negatives."""

from __future__ import annotations

import pytest

from cuida.triage.entities import extract_entities
from cuida.triage.schemas import ENTITY_TYPES, Entity


def found(text: str) -> list[tuple[str, str, object]]:
    return [(e.type, e.text, e.value) for e in extract_entities(text)]


def one(text: str, etype: str) -> Entity:
    matches = [e for e in extract_entities(text) if e.type == etype]
    assert len(matches) == 1, (text, extract_entities(text))
    return matches[0]


def none_of(text: str, etype: str) -> None:
    assert [e for e in extract_entities(text) if e.type == etype] == [], extract_entities(text)


# --- references -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "etype", "span", "value"),
    [
        ("Hola, mi pedido 4471-ZX no ha llegado", "order_number", "4471-ZX", "4471-ZX"),
        ("Nº de pedido: 123456789, gracias", "order_number", "123456789", "123456789"),
        ("el número de pedido es 4471-zx", "order_number", "4471-zx", "4471-ZX"),
        ("My order #A1234567 still hasn't shipped", "order_number", "A1234567", "A1234567"),
        ("order number: 88123 was cancelled", "order_number", "88123", "88123"),
        ("Mi orden de compra OC-55120 (México)", "order_number", "OC-55120", "OC-55120"),
        ("Localizador X7K9PL, por favor", "booking_reference", "X7K9PL", "X7K9PL"),
        ("Mi PNR es XKJPLA", "booking_reference", "XKJPLA", "XKJPLA"),
        ("booking ref ABC123 for two", "booking_reference", "ABC123", "ABC123"),
        ("confirmation number Q1W2E3", "booking_reference", "Q1W2E3", "Q1W2E3"),
        ("La incidencia INC-20931 sigue abierta", "ticket_number", "INC-20931", "INC-20931"),
        ("Ticket #558812 sin respuesta", "ticket_number", "558812", "558812"),
        ("caso 12345 en Argentina", "ticket_number", "12345", "12345"),
        ("reclamación nº 2026/118", "ticket_number", "2026/118", "2026/118"),
        ("Factura FAC-2026-0012 duplicada", "invoice_number", "FAC-2026-0012", "FAC-2026-0012"),
        ("invoice INV-99812 is wrong", "invoice_number", "INV-99812", "INV-99812"),
        ("el albarán 77120-B no coincide", "invoice_number", "77120-B", "77120-B"),
        ("Compré el set 75192 de Lego", "product_number", "75192", "75192"),
        ("el modelo SM-A546B no carga", "product_number", "SM-A546B", "SM-A546B"),
        ("ref. 3045-22 agotada", "product_number", "3045-22", "3045-22"),
        ("SKU 99812 out of stock", "product_number", "99812", "99812"),
    ],
)
def test_cued_references(text: str, etype: str, span: str, value: str) -> None:
    e = one(text, etype)
    assert (e.text, e.value) == (span, value)
    assert text[e.start : e.end] == e.text


def test_bare_codes_with_prefix_or_nearby_cue() -> None:
    assert found("RE: INC-48120 sin resolver") == [("ticket_number", "INC-48120", "INC-48120")]
    assert found("Adjunto FAC-2026-0099.") == [("invoice_number", "FAC-2026-0099", "FAC-2026-0099")]
    text = "Mi pedido llegó roto. El número es 99812345"
    assert one(text, "order_number").value == "99812345"
    text = "la factura que me mandasteis, la ZX-99812-A, está mal"
    assert one(text, "invoice_number").value == "ZX-99812-A"


@pytest.mark.parametrize(
    "text",
    [
        "En caso de que el pedido no llegue",
        "el pedido de 150 euros no llegó",
        "la reserva para 2 personas",
        "pedido urgente por favor",
        "in order to fix it",
        "Mi reserva FALLA siempre",  # capitals, but a plain "reserva" is no locator cue
        "ticket #42",  # too short to be told from a count
        "Tengo el pedido del 12/03/2026",
    ],
)
def test_no_reference(text: str) -> None:
    for etype in ("order_number", "booking_reference", "ticket_number", "invoice_number"):
        none_of(text, etype)


def test_lowercase_locator_is_not_a_booking_reference() -> None:
    none_of("el localizador abcdef", "booking_reference")


# --- amounts ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "span", "value", "currency"),
    [
        ("Me cobraron 49,99 € de más", "49,99 €", 49.99, "EUR"),
        ("Me cobraron 49,99€ de más", "49,99€", 49.99, "EUR"),
        ("charged €49.99 twice", "€49.99", 49.99, "EUR"),
        ("un cargo de 49.99 EUR", "49.99 EUR", 49.99, "EUR"),
        ("total 1.234,56 euros", "1.234,56 euros", 1234.56, "EUR"),
        ("total 1,234.56 USD", "1,234.56 USD", 1234.56, "USD"),
        ("pagué 1.234 €", "1.234 €", 1234.0, "EUR"),
        ("it was $120 and change", "$120", 120.0, "USD"),
        ("it was $1,200", "$1,200", 1200.0, "USD"),
        ("USD 30 de comisión", "USD 30", 30.0, "USD"),
        ("me cobraron 120 dólares", "120 dólares", 120.0, "USD"),
        ("me cobraron 120 dolares", "120 dolares", 120.0, "USD"),
        ("pagué 300 pesos", "300 pesos", 300.0, None),
        ("pagué 300 pesos mexicanos", "300 pesos mexicanos", 300.0, "MXN"),
        ("son MX$ 450", "MX$ 450", 450.0, "MXN"),
        ("pagué S/ 150 en Lima", "S/ 150", 150.0, "PEN"),
        ("pagué 150 soles", "150 soles", 150.0, "PEN"),
        ("it cost £12", "£12", 12.0, "GBP"),
        ("20 quid for that?", "20 quid", 20.0, "GBP"),
        ("me costó 20 pavos", "20 pavos", 20.0, "EUR"),
        ("una multa de 2 mil euros", "2 mil euros", 2000.0, "EUR"),
        ("perdí mil euros", "mil euros", 1000.0, "EUR"),
        ("1,5 millones de euros", "1,5 millones de euros", 1_500_000.0, "EUR"),
    ],
)
def test_amounts(text: str, span: str, value: float, currency: str | None) -> None:
    e = one(text, "amount")
    assert e.text == span
    assert e.value == pytest.approx(value)
    assert e.currency == currency


@pytest.mark.parametrize(
    "text",
    [
        "Atención 24h, todo el año 2024",
        "compré 3 productos en 2025",
        "llamadme al 612 345 678",
        "pedido 4471-ZX",
        "el 50% de descuento",
        "Vivo en Europa desde 2019",
    ],
)
def test_no_amount(text: str) -> None:
    none_of(text, "amount")


# --- dates ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "span", "value"),
    [
        ("llegó el 12/03/2026 roto", "12/03/2026", "2026-03-12"),
        ("llegó el 12-03-26 roto", "12-03-26", "2026-03-12"),
        ("Versión 1.2 del 01.02.2026", "01.02.2026", "2026-02-01"),
        ("ordered 2026-03-12", "2026-03-12", "2026-03-12"),
        ("ordered 03/25/2026", "03/25/2026", "2026-03-25"),  # second number > 12: month first
        ("desde el 15/03 sin luz", "15/03", "--03-15"),
        ("llegó el 3/4", "3/4", "--04-03"),
        ("llegó el 3 de marzo", "3 de marzo", "--03-03"),
        ("el 5 de enero de 2026 hice el pedido", "5 de enero de 2026", "2026-01-05"),
        ("el 1º de mayo", "1º de mayo", "--05-01"),
        ("el 7 de setiembre de 2025", "7 de setiembre de 2025", "2025-09-07"),
        ("el lunes 3 de marzo", "el lunes 3 de marzo", "--03-03"),
        ("it arrived March 3rd", "March 3rd", "--03-03"),
        ("it arrived on March 3, 2026", "March 3, 2026", "2026-03-03"),
        ("it arrived 3 March 2026", "3 March 2026", "2026-03-03"),
        ("on the 21st of June", "21st of June", "--06-21"),
    ],
)
def test_absolute_dates(text: str, span: str, value: str) -> None:
    e = one(text, "date")
    assert (e.text, e.value) == (span, value)


@pytest.mark.parametrize(
    ("text", "span", "value"),
    [
        ("lo necesito para mañana", "mañana", "tomorrow"),
        ("lo necesito para manana", "manana", "tomorrow"),
        ("llamé ayer", "ayer", "yesterday"),
        ("hoy tampoco funciona", "hoy", "today"),
        ("pasado mañana me voy", "pasado mañana", "day_after_tomorrow"),
        ("anteayer llamé", "anteayer", "day_before_yesterday"),
        ("I need it tomorrow", "tomorrow", "tomorrow"),
        ("vino el lunes", "el lunes", "monday"),
        ("vendrá el próximo martes", "el próximo martes", "next tuesday"),
        ("vendrá el jueves que viene", "el jueves que viene", "next thursday"),
        ("vino el viernes pasado", "el viernes pasado", "last friday"),
        ("see you next Friday", "next Friday", "next friday"),
        ("it broke on Monday", "Monday", "monday"),
        ("la semana que viene", "la semana que viene", "next_week"),
        ("since last week", "last week", "last_week"),
        ("lo pedí hace 3 días", "hace 3 días", "3 days ago"),
        ("I ordered 2 weeks ago", "2 weeks ago", "2 weeks ago"),
    ],
)
def test_relative_dates(text: str, span: str, value: str) -> None:
    e = one(text, "date")
    assert (e.text, e.value) == (span, value)


@pytest.mark.parametrize(
    "text",
    [
        "esta mañana no había nadie",
        "por la mañana no hay servicio",
        "hoy en día nadie contesta",
        "a las 10:30 tengo cita",
        "abrimos de lunes a viernes",
        "los lunes está cerrado",
        "Black Friday deals",
        "atención 24/7",
        "versión 1.2.26",
        "el 31/02/2026",  # not a day
        "you may 5 times",
    ],
)
def test_no_date(text: str) -> None:
    none_of(text, "date")


def test_tomorrow_morning_is_tomorrow_once() -> None:
    assert found("Mañana por la mañana vuelvo") == [("date", "Mañana", "tomorrow")]


# --- phones, emails, urls, flights ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "span", "value"),
    [
        ("Llamadme al 612 345 678", "612 345 678", "+34612345678"),
        ("Llamadme al 612345678.", "612345678", "+34612345678"),
        ("fijo: 91 123 45 67", "91 123 45 67", "+34911234567"),
        ("tel. (91) 123 45 67", "(91) 123 45 67", "+34911234567"),
        ("mi móvil es +34 612 34 56 78", "+34 612 34 56 78", "+34612345678"),
        ("llama al 0034 612345678", "0034 612345678", "+34612345678"),
        ("mi cel +52 55 1234 5678", "+52 55 1234 5678", "+525512345678"),
        ("mi celular es 55 1234 5678", "55 1234 5678", "+525512345678"),
        ("whatsapp +54 9 11 2345-6789", "+54 9 11 2345-6789", "+5491123456789"),
        ("call me at +1 415 555 2671", "+1 415 555 2671", "+14155552671"),
    ],
)
def test_phones(text: str, span: str, value: str) -> None:
    e = one(text, "phone")
    assert (e.text, e.value) == (span, value)


@pytest.mark.parametrize(
    "text",
    [
        "pedido 612345678",  # an order number, not a phone
        "total 612.345.678 €",
        "IBAN ES91 2100 0418 4502 0005 1332",
        "el 12-03-2026",
        "55 1234 5678",  # a Mexican number with no cue: not Spanish, so not claimed
    ],
)
def test_no_phone(text: str) -> None:
    none_of(text, "phone")


def test_email_and_urls() -> None:
    text = "Escribid a Ana.Garcia@Gmail.com o mirad https://www.tienda.es/ayuda?x=1. o tienda.es"
    assert found(text) == [
        ("email", "Ana.Garcia@Gmail.com", "ana.garcia@gmail.com"),
        ("url", "https://www.tienda.es/ayuda?x=1", "https://www.tienda.es/ayuda?x=1"),
        ("url", "tienda.es", "tienda.es"),
    ]


def test_url_keeps_balanced_brackets_and_drops_trailing_ones() -> None:
    assert found("(ver https://en.wikipedia.org/wiki/Foo_(bar))") == [
        ("url", "https://en.wikipedia.org/wiki/Foo_(bar)", "https://en.wikipedia.org/wiki/Foo_(bar)")
    ]
    assert one("en www.cuida.io/help).", "url").text == "www.cuida.io/help"


def test_email_is_not_also_a_url() -> None:
    assert [e.type for e in extract_entities("soporte@cuida.es")] == ["email"]


@pytest.mark.parametrize(
    ("text", "span", "value"),
    [
        ("mi vuelo IB3456 se retrasó", "IB3456", "IB3456"),
        ("el vuelo UX 1094 de Air Europa", "UX 1094", "UX1094"),
        ("flight BA 2490 was cancelled", "BA 2490", "BA2490"),
        ("FR8123 a Roma", "FR8123", "FR8123"),
        ("vuelo ib3456", "ib3456", "IB3456"),
        ("flight no. U2 8041", "U2 8041", "U28041"),
    ],
)
def test_flights(text: str, span: str, value: str) -> None:
    e = one(text, "flight_number")
    assert (e.text, e.value) == (span, value)


@pytest.mark.parametrize("text", ["un vuelo de 10 horas", "flight to 123 destinations", "XX1234 no existe"])
def test_no_flight(text: str) -> None:
    none_of(text, "flight_number")


# --- people -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "span", "value"),
    [
        ("Hola, me llamo Ana García y escribo por", "Ana García", "Ana García"),
        ("Soy Daniel, cliente desde hace años", "Daniel", "Daniel"),
        ("mi nombre es María José Pérez de la Fuente.", "María José Pérez de la Fuente", None),
        ("My name is John Smith and", "John Smith", "John Smith"),
        ("I'm Sarah from Leeds", "Sarah", "Sarah"),
        ("Me atendió Laura y fue muy amable", "Laura", "Laura"),
        ("me atendio Laura", "Laura", "Laura"),
        ("el técnico Pedro no vino", "Pedro", "Pedro"),
        ("hablé con el Sr. Martínez ayer", "Sr. Martínez", "Martínez"),
        ("le escribe Dña. Carmen López", "Dña. Carmen López", "Carmen López"),
        ("Mr. Jones was rude", "Mr. Jones", "Jones"),
        ("the agent called Maria was nice", "Maria", "Maria"),
        ("Hola, soy Ana de Madrid", "Ana", "Ana"),
    ],
)
def test_people(text: str, span: str, value: str | None) -> None:
    e = one(text, "person")
    assert e.text == span
    assert e.value == (value if value is not None else span)


@pytest.mark.parametrize(
    "text",
    [
        "Soy cliente desde 2019",
        "soy de Madrid",
        "Soy Cliente Premium",
        "I'm Sorry but this is wrong",
        "I am Very upset",
        "I called Movistar",
        "ME LLAMO ANA",  # shouting: no case to tell names by
        "me atendió una chica",
    ],
)
def test_no_person(text: str) -> None:
    none_of(text, "person")


# --- the whole message ------------------------------------------------------------------------


def test_mixed_message_sorted_without_overlaps() -> None:
    text = (
        "Hola, soy Lucía Fernández. El pedido 4471-ZX del 12/03/2026 me lo cobrasteis dos veces (49,99 €). "
        "Llamadme al 612 345 678 o escribid a lucia.f@example.com. Vuelo IB3456 mañana."
    )
    assert found(text) == [
        ("person", "Lucía Fernández", "Lucía Fernández"),
        ("order_number", "4471-ZX", "4471-ZX"),
        ("date", "12/03/2026", "2026-03-12"),
        ("amount", "49,99 €", 49.99),
        ("phone", "612 345 678", "+34612345678"),
        ("email", "lucia.f@example.com", "lucia.f@example.com"),
        ("flight_number", "IB3456", "IB3456"),
        ("date", "mañana", "tomorrow"),
    ]


def test_invariants_on_varied_text() -> None:
    texts = [
        "Pedido 4471-ZX por 30 euros, pedido del 2024, tel 612345678, el 5 de enero",
        "ORDER #A1 / $ / €€ / 12/13/14/15 / +34 / @ / www. / Sr. / vuelo",
        "İstanbul: reserva X7K9PL del 12/03/2026 por 1.234,56 €",  # a letter that grows when lower-cased
        "",
        "    ",
        "😀 pedido 4471-ZX 😀 49,99 €",
    ]
    for text in texts:
        entities = extract_entities(text)
        assert all(e.type in ENTITY_TYPES for e in entities)
        assert all(text[e.start : e.end] == e.text for e in entities)
        starts = [e.start for e in entities]
        assert starts == sorted(starts)
        assert all(a.end <= b.start for a, b in zip(entities, entities[1:], strict=False))


def test_offsets_survive_characters_that_grow_when_lower_cased() -> None:
    text = "İİ reserva X7K9PL"
    e = one(text, "booking_reference")
    assert (e.text, e.start) == ("X7K9PL", 11)


def test_plain_text_has_no_entities() -> None:
    assert extract_entities("Muy contentos con el servicio, todo perfecto, volveremos a comprar.") == []
    assert extract_entities("Estoy harto, llevo una semana sin internet y nadie me da una solución.") == []
