"""Rule-based entity extraction for triage: `extract_entities(text) -> list[Entity]`.

Spanish first (Spain and Latin America), English too; offline, pure `re` plus `phonenumbers`.
Every pattern is compiled once and the digit-only families are skipped when the text has no digit,
so a typical 200-character message costs a few tens of microseconds.

Decisions worth knowing (the tests pin them):

* References (order, booking, ticket, invoice, product) need a cue word ("pedido", "order #",
  "localizador", "incidencia", "factura", "modelo", ...) right before the code, or a cue within
  ~50 characters before a code-shaped token (upper-case letters and digits, or 5+ digits), or a
  telling prefix ("INC-", "FAC-", "PED-"). The span is the code alone; value is the code upper-cased
  without spaces. A code must hold a digit, except a booking locator of 5-8 capital letters.
* Amounts need a currency (symbol, ISO code or word), so years, "24h" and bare numbers never are.
  The decimal separator is read from the shape: the last of "." and "," when both appear; a single
  separator followed by exactly three digits is a thousands mark ("1.234", "1,234"), otherwise a
  decimal one ("49,99", "49.99"). "$" is USD; "pesos" alone have no currency (None) because the
  country is unknown, "pesos mexicanos"/"MX$" are MXN, and so on; "pavos" are EUR.
* Dates: numeric dates are day-first unless the first number cannot be a month (>12 days second
  means month-first). Value is ISO "YYYY-MM-DD" when the year is given (two-digit years are
  2000-2069/1970-1999), "--MM-DD" when it is not. Relative words carry an English keyword:
  "today", "tomorrow", "yesterday", "day_after_tomorrow", "day_before_yesterday", "this_week",
  "next_week", "last_week", weekday names ("monday", "next monday", "last monday"), and
  "N days ago"-style phrases. Times ("a las 10:30") are not dates.
* Phones: parsed with region ES; a "+"/"00" number with any country code. A local number that is not
  Spanish is tried against MX, AR, CO, CL, PE, US and GB only after a phone cue ("celular",
  "teléfono", "whatsapp", "phone" ...). Value is E.164.
* People: capitalised words after a cue ("me llamo", "soy", "my name is", "me atendió", "el
  técnico", ...) or after a title ("Sr.", "Dña.", "Mr."). The span includes the title; the value is
  the name alone.
* Overlaps: the more specific family wins (email > url > cued reference > cued flight > amount >
  date > phone > bare flight > uncued code > person), then the longer span.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from functools import lru_cache
from typing import Any, NamedTuple

import phonenumbers

from cuida.triage.schemas import Entity

__all__ = ["extract_entities"]


class _Cand(NamedTuple):
    prio: int
    start: int
    end: int
    type: str
    value: str | float | None
    currency: str | None = None


_DIGIT = re.compile(r"\d")
_LOCATOR_HINT = re.compile(r"[A-Z]{5}")
_UPPER = re.compile(r"[A-ZÁÉÍÓÚÑ]")

# --- references -------------------------------------------------------------------------------


def _trie(words: Iterable[str]) -> str:
    """A regex matching any of `words`, factored by common prefixes: Python's `re` tries the branches of
    a flat alternation one by one, so a factored one runs several times faster. A space in a word
    matches any run of whitespace."""
    root: dict[str, Any] = {}
    for word in words:
        node = root
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}
    return _trie_node(root)


def _trie_node(node: dict[str, Any]) -> str:
    ends = "" in node
    alts = [
        (r"\s+" if ch == " " else re.escape(ch)) + _trie_node(sub) for ch, sub in sorted(node.items()) if ch
    ]
    if not alts:
        return ""
    if ends:
        return "(?:" + "|".join(alts) + ")?"
    return alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"


_CUE_KIND = {
    cue: kind
    for kind, spec in (
        ("order_number", "pedido|pedidos|orden|orden de compra|order|purchase order|compra"),
        (
            "booking_reference",
            "localizador|reserva|reservas|reservation|booking|booking ref|booking ref.|booking reference"
            "|booking code|booking number|pnr|confirmation|confirmation code|confirmation number",
        ),
        (
            "ticket_number",
            "incidencia|incidencias|ticket|tickets|tique|tiques|caso|casos|case|reclamación|reclamacion"
            "|expediente|queja|solicitud|avería|averia|complaint|claim",
        ),
        ("invoice_number", "factura|facturas|invoice|invoices|albarán|albaran|recibo|receipt"),
        (
            "product_number",
            "set|modelo|model|ref.|ref|referencia|sku|artículo|articulo|art.|item|producto|product"
            "|product code|part number|código de producto|codigo de producto",
        ),
    )
    for cue in spec.split("|")
}
_CUES = _trie(_CUE_KIND)
# Words allowed between the cue and the code: "nº", "número", "es", ":", "#" ...
_FILLER = (
    r"(?:\s*(?:[:#=]|n[º°o]\.?(?!\w)|n[uú]m(?:ero)?\.?(?!\w)|number(?!\w)|num\.?(?!\w)|no\.|nr\.?(?!\w)"
    r"|ref(?:erencia|erence)?\.?(?!\w)|id(?!\w)|code(?!\w)|c[oó]digo(?!\w)|es(?!\w)|is(?!\w)|was(?!\w)"
    r"|era(?!\w)|con\s+n[uú]mero(?!\w)|with\s+number(?!\w))){0,4}"
)
_CODE = r"[a-z0-9]+(?:[-/.][a-z0-9]+)*"
# No leading look-behind (it would stop `re` from skipping ahead by first character); callers check
# that the cue starts a word.
_REF_CUED = re.compile(rf"({_CUES})(?!\w){_FILLER}\s*(?P<code>{_CODE})(?![\w-])")
_REF_NEAR = re.compile(rf"({_CUES})(?!\w)")
_NUMBERED = re.compile(r"(?:n[uú]mero|n[º°]|number|num\.|#)\s*$")
# One pass for code-shaped tokens: "INC-20931", "X7K9PL", "99812345", and flights written "UX 1094".
# Upper-case/digit tokens, with an optional " 1094" for flights; _bare_codes keeps the code-shaped ones.
_BARE_CODE = re.compile(r"[A-Z0-9]+(?:-[A-Z0-9]+)*(?P<spaced>\s\d{3,4})?(?![\w\-/]|[.,]\d)")
_PREFIX_TYPE = {
    "INC": "ticket_number",
    "TKT": "ticket_number",
    "TCK": "ticket_number",
    "CAS": "ticket_number",
    "REQ": "ticket_number",
    "FAC": "invoice_number",
    "FRA": "invoice_number",
    "INV": "invoice_number",
    "ALB": "invoice_number",
    "PED": "order_number",
    "ORD": "order_number",
    "SKU": "product_number",
}
_PLAIN_BOOKING = frozenset({"reserva", "reservas", "reservation", "booking"})
_PREFIX = re.compile(r"([A-Z]{2,4})(?=-?\d)")
_CURRENCY_AFTER = re.compile(
    r"\s*(?:€|\$|£|%|eur|euros?|usd|d[oó]lar|dollar|pesos|soles|libras|pounds|pavos)"
)

# --- amounts ----------------------------------------------------------------------------------

# Starts with \d so `re` can skip ahead to digits; "1.234,56", "1,234.56", "49,99", "120".
_NUM = r"\d(?:\d{0,2}(?:[.,\u00a0\u202f]\d{3})+(?:[.,]\d{1,2})?|\d*(?:[.,]\d{1,2})?)"
_MULT = r"mil(?:lones|l[oó]n)?|k"
_CUR_PRE = [
    "us$",
    "u$s",
    "u$d",
    "mx$",
    "ar$",
    "co$",
    "col$",
    "clp$",
    "r$",
    "s/",
    "s/.",
    "€",
    "$",
    "£",
    "usd",
    "eur",
    "gbp",
    "mxn",
    "ars",
    "cop",
    "clp",
    "pen",
    "brl",
    "uyu",
    "chf",
]
_CUR_POST = [
    "€",
    "$",
    "£",
    "eur",
    "euro",
    "euros",
    "pavos",
    "usd",
    "dolar",
    "dólar",
    "dolares",
    "dólares",
    "dollar",
    "dollars",
    "bucks",
    "gbp",
    "libra",
    "libras",
    "libras esterlinas",
    "pound",
    "pounds",
    "quid",
    "mxn",
    "ars",
    "cop",
    "clp",
    "pen",
    "brl",
    "uyu",
    "chf",
    "soles",
    "reais",
    "quetzales",
    "bolivianos",
    "colones",
    "guaranies",
    "guaraníes",
    "pesos",
    "pesos mexicanos",
    "pesos argentinos",
    "pesos chilenos",
    "pesos colombianos",
    "pesos uruguayos",
]
# Callers check the left edge; the (?<![a-z])|(?![a-z]) keeps "eur" from matching the start of "europa".
_AMOUNT_PRE = re.compile(
    rf"({_trie(_CUR_PRE)})(?:(?<![a-z])|(?![a-z]))\s?({_NUM})(?:\s?({_MULT})(?!\w))?(?![\d.,]\d)"
)
_AMOUNT_POST = re.compile(rf"({_NUM})(?:\s*({_MULT})(?:\s+de)?)?\s?({_trie(_CUR_POST)})(?!\w)")
_AMOUNT_WORD = re.compile(r"(?:un\s+)?(mil|mill[oó]n(?:\s+de)?)\s+(euros|d[oó]lares|pesos|libras)(?!\w)")
_CURRENCIES = {
    "€": "EUR",
    "eur": "EUR",
    "euro": "EUR",
    "euros": "EUR",
    "pavos": "EUR",
    "$": "USD",
    "us$": "USD",
    "u$s": "USD",
    "u$d": "USD",
    "usd": "USD",
    "dolar": "USD",
    "dólar": "USD",
    "dolares": "USD",
    "dólares": "USD",
    "dollar": "USD",
    "dollars": "USD",
    "bucks": "USD",
    "£": "GBP",
    "gbp": "GBP",
    "libra": "GBP",
    "libras": "GBP",
    "libras esterlinas": "GBP",
    "pound": "GBP",
    "pounds": "GBP",
    "quid": "GBP",
    "mx$": "MXN",
    "mxn": "MXN",
    "pesos mexicanos": "MXN",
    "ar$": "ARS",
    "ars": "ARS",
    "pesos argentinos": "ARS",
    "co$": "COP",
    "col$": "COP",
    "cop": "COP",
    "pesos colombianos": "COP",
    "clp$": "CLP",
    "clp": "CLP",
    "pesos chilenos": "CLP",
    "uyu": "UYU",
    "pesos uruguayos": "UYU",
    "s/": "PEN",
    "s/.": "PEN",
    "pen": "PEN",
    "soles": "PEN",
    "r$": "BRL",
    "brl": "BRL",
    "reais": "BRL",
    "chf": "CHF",
    "quetzales": "GTQ",
    "bolivianos": "BOB",
    "colones": "CRC",
    "guaranies": "PYG",
    "guaraníes": "PYG",
}

# --- dates ------------------------------------------------------------------------------------

_MONTHS = {
    "enero": 1,
    "febrero": 2,
    "marzo": 3,
    "abril": 4,
    "mayo": 5,
    "junio": 6,
    "julio": 7,
    "agosto": 8,
    "septiembre": 9,
    "setiembre": 9,
    "octubre": 10,
    "noviembre": 11,
    "diciembre": 12,
    "january": 1,
    "february": 2,
    "march": 3,
    "april": 4,
    "may": 5,
    "june": 6,
    "july": 7,
    "august": 8,
    "september": 9,
    "october": 10,
    "november": 11,
    "december": 12,
    "jan": 1,
    "ene": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "abr": 4,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "sept": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
    "dic": 12,
}
# Longest names first so "septiembre" is not read as "sep".
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_WEEKDAYS = {
    "lunes": "monday",
    "martes": "tuesday",
    "miercoles": "wednesday",
    "miércoles": "wednesday",
    "jueves": "thursday",
    "viernes": "friday",
    "sabado": "saturday",
    "sábado": "saturday",
    "domingo": "sunday",
    "monday": "monday",
    "tuesday": "tuesday",
    "wednesday": "wednesday",
    "thursday": "thursday",
    "friday": "friday",
    "saturday": "saturday",
    "sunday": "sunday",
}
_WD_ES = r"lunes|martes|mi[eé]rcoles|jueves|viernes|s[aá]bado|domingo"
_WD_EN = r"monday|tuesday|wednesday|thursday|friday|saturday|sunday"
# "12/03/2026", "12-03-26", "01.02.2026", "2026-03-12" and "15/03" in one pass; _numeric_dates sorts them.
_DATE_NUM = re.compile(r"(?<![\w/.\-])(\d{1,4})([/.\-])(\d{1,2})(?:\2(\d{1,4}))?(?![\w/\-]|[.,]\d)")
_DM_CONTEXT = re.compile(r"(?:^|\W)(?:el|del|on)\s$")
# Starts at the digit (fast to scan); a weekday just before ("el lunes 3 de marzo") is joined by _WD_BEFORE.
_DATE_TEXT_DAY_FIRST = re.compile(
    rf"(?<![\w.,/])(?P<day>\d{{1,2}})(?:º|°|st|nd|rd|th)?"
    rf"(?:\s+de|\s+of)?\s+(?P<mon>{_MONTH_RE})(?!\w)\.?(?:,?\s+(?:de\s+|del\s+)?(?P<year>\d{{4}})(?!\w))?",
)
_WD_BEFORE = re.compile(rf"(?:(?:el\s+)?(?:{_WD_ES}|{_WD_EN}),?\s+)$")
_DATE_TEXT_MONTH_FIRST = re.compile(
    rf"(?<!\w)(?:(?:{_WD_EN}),?\s+)?(?P<mon>{_MONTH_RE})\.?\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?(?![\w:.,]\d|\w)"
    rf"(?:,?\s+(?P<year>\d{{4}})(?!\w))?",
)
_REL_WORDS = {
    "hoy": "today",
    "today": "today",
    "mañana": "tomorrow",
    "manana": "tomorrow",
    "tomorrow": "tomorrow",
    "ayer": "yesterday",
    "yesterday": "yesterday",
    "pasado mañana": "day_after_tomorrow",
    "pasado manana": "day_after_tomorrow",
    "day after tomorrow": "day_after_tomorrow",
    "anteayer": "day_before_yesterday",
    "antier": "day_before_yesterday",
    "antes de ayer": "day_before_yesterday",
    "day before yesterday": "day_before_yesterday",
    "esta semana": "this_week",
    "this week": "this_week",
    "la semana que viene": "next_week",
    "la próxima semana": "next_week",
    "la proxima semana": "next_week",
    "next week": "next_week",
    "la semana pasada": "last_week",
    "last week": "last_week",
}
_DATE_REL = re.compile(rf"({_trie(_REL_WORDS)})(?!\w)")
# "esta mañana", "por la mañana": the morning, not tomorrow. "hoy en día": nowadays.
_MORNING_BEFORE = re.compile(r"(?<!\w)(?:esta|la|una|cada|media)\s+$")
_NOWADAYS_AFTER = re.compile(r"\s+en\s+d[ií]a")
_DATE_WD = re.compile(rf"({_trie(_WEEKDAYS)})(?!\w)")
# Words before a weekday: a modifier is part of the date ("el próximo lunes", "next Friday"); a
# preposition only licenses it ("on Friday"). Spanish needs one of them, as "lunes" alone is often a
# schedule ("de lunes a viernes"); English too, as "Black Friday" is not a date.
_WD_MODIFIER = {
    "el": "",
    "este": "",
    "el próximo": "next",
    "el proximo": "next",
    "este próximo": "next",
    "este proximo": "next",
    "próximo": "next",
    "proximo": "next",
    "el pasado": "last",
    "next": "next",
    "last": "last",
    "this": "",
    "this coming": "next",
    "coming": "next",
}
_WD_PREPOSITION = ("on", "by", "until", "till", "before", "after", "since", "from")
_WD_BEFORE_RE = re.compile(rf"(?<!\w)({_trie(_WD_MODIFIER)}|{_trie(_WD_PREPOSITION)})\s+$")
_WD_AFTER_RE = re.compile(r"\s+(que\s+viene|pasado)(?!\w)")
_DATE_AGO = re.compile(
    r"(?<!\w)(?:hace\s+(?P<n1>\d{1,3})\s+(?P<u1>d[ií]as?|semanas?|meses|mes)"
    r"|(?P<n2>\d{1,3})\s+(?P<u2>days?|weeks?|months?)\s+ago)(?!\w)",
)
_AGO_UNITS = {"d": "days", "s": "weeks", "w": "weeks", "m": "months"}

# --- phones, emails, urls, flights ------------------------------------------------------------

_PHONE = re.compile(r"(?<![\w+\-/.,])(?:\+|00)?\(?\d[\d\s().\-]{6,20}\d(?![\w\-/]|[.,]\d)")
_PHONE_CUE = re.compile(
    r"(?:tel[eé]fono|tel|tlf|m[oó]vil|celular|cel|whats?app|wsp|phone|mobile|cell|call\s+me|ll[aá]m(?:ame|enme)"
    r"|contacto|contact|n[uú]mero|number)\W*(?:\w+\W+){0,3}$",
)
_PHONE_FALLBACK_REGIONS = ("MX", "AR", "CO", "CL", "PE", "US", "GB")
_EMAIL = re.compile(r"(?<![\w.+\-])[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)*\.[A-Za-z]{2,}(?!\w)")
_URL = re.compile(
    r"(?<![\w@.\-])(?:(?:https?://|www\.)[^\s<>\"']+"
    r"|[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.(?:com|es|net|org|mx|ar|co|cl|pe|io|eu|uk|info|shop)(?:/[^\s<>\"']*)?"
    r"(?![\w@\-]))",
)
_URL_TRAIL = ".,;:!?)]}'\""
_AIRLINES = (
    "IB|UX|VY|FR|U2|I2|V7|EW|TP|AZ|BA|AF|KL|LH|LX|OS|SN|SK|AY|EI|TK|EK|QR|AA|DL|UA|B6|WN|AC|AM|AV|LA|"
    "AR|CM|JA|H2|G3|AD|W6|NT|YW|4O|Y4|VB|DM|QF|SQ|CX|NH|JL"
)
# Run on lower-cased text; a code written "xx 123" must be upper case in the original ("vuelo de 10").
_FLIGHT_CUED = re.compile(
    r"(?<!\w)(?:vuelos?|flights?|flt|vlo)\.?(?:\s*(?:n[º°o]\.?|n[uú]mero|number|#|:))*\s*"
    r"(?P<code>(?P<al>[a-z]{2}|[a-z]\d|\d[a-z])(?P<sep>[\s\-]?)\d{1,4})[a-z]?(?![\w\-])"
)
_FLIGHT_BARE = re.compile(rf"(?:{_AIRLINES})\s?\d{{2,4}}")

# --- people -----------------------------------------------------------------------------------

_TOK = r"[A-ZÁÉÍÓÚÑÜ][a-záéíóúñüàèìòùç']+(?:-[A-ZÁÉÍÓÚÑ][a-záéíóúñü]+)?"
_NAME = rf"{_TOK}(?:[ \t]+(?:(?:de|del|de[ \t]+la|de[ \t]+los|van|von|da|dos)[ \t]+)?{_TOK}){{0,3}}"
# Cue on lower-cased text; the name itself is matched on the original, where case tells.
_PERSON_CUE = re.compile(
    r"(?<!\w)(?:me\s+llam[oó]|mi\s+nombre\s+es|soy|my\s+name\s+is|i[’']?m|i\s+am|me\s+atendi[oó]"
    r"|le\s+atendi[oó]|me\s+ha\s+atendido|(?:el|la)\s+(?:t[eé]cnic[oa]|agente|operador[a]?|teleoperador[a]?"
    r"|repartidor[a]?|comercial|asesor[a]?|mensajer[oa]|encargad[oa]|gerente|dependient[ea])"
    r"|habl[eé]\s+con|spoke\s+(?:to|with)|talked\s+to|the\s+(?:agent|technician|engineer|driver|rep)(?:\s+(?:called|named))?"
    r"|llamad[oa]|named|(?:agent|guy|lady|man|woman|girl|someone)\s+called|se\s+llama|this\s+is)"
    r"(?:\s*,)?\s+(?=\S)"
)
_NAME_RE = re.compile(_NAME)
_TITLE = re.compile(
    r"(?<![\w.])(?P<title>Sra?\.|Srta\.|Dña\.|Dª|D\.|Don|Doña|Mrs?\.|Ms\.|Miss|Dra?\.|Lic\.|Ing\.|Mrs|Mr|Ms|Dr|Sra|Sr)"
    rf"[ \t]+(?P<name>{_NAME})"
)
# Capitalised words that follow a cue but are not names ("Soy Cliente", "I'm Sorry", "de Madrid").
_NOT_NAME_WORDS = (
    "cliente clienta usuario usuaria socio socia titular abonado abonada yo el la un una muy tan "
    "desde madrid barcelona valencia sevilla bilbao málaga malaga zaragoza méxico mexico lima "
    "bogotá bogota buenos quito caracas montevideo españa espana argentina colombia chile perú peru "
    "sorry not so very really just still here glad happy afraid writing calling trying going "
    "looking a an the customer user member from in on at also unable done fed tired sure frustrated "
    "disappointed upset angry interested hoping contacting reaching please thanks gracias hola "
    "buenas saludos lunes martes miércoles jueves viernes sábado domingo monday tuesday wednesday "
    "thursday friday saturday sunday ok okay no yes sí si"
)
_NOT_NAMES = frozenset(_NOT_NAME_WORDS.split())


# --- gates: whole words that must be present before a family's patterns run ---------------------

_PUNCT = ".,;:!?¿¡()[]{}\"'«»#*"


def _words(spec: str) -> frozenset[str]:
    return frozenset(spec.split())


_REF_GATE = _words(
    "pedido pedidos orden order purchase compra localizador reserva reservas reservation booking pnr "
    "confirmation incidencia incidencias ticket tickets tique tiques caso casos case reclamación reclamacion "
    "expediente queja solicitud avería averia complaint claim factura facturas invoice invoices albarán "
    "albaran recibo receipt set modelo model ref referencia sku artículo articulo art item producto product "
    "part"
)
_CURRENCY_GATE = _words(
    "eur euro euros usd dólar dólares dolar dolares dollar dollars bucks pavos soles reais quetzales "
    "bolivianos colones guaraníes guaranies libra libras pound pounds quid pesos mxn ars cop clp pen brl "
    "gbp uyu chf"
)
_MONTH_GATE = frozenset(_MONTHS)
_AGO_GATE = _words("hace ago")
_FLIGHT_GATE = _words("vuelo vuelos flight flights flt vlo")
_MIL_GATE = _words("mil millón millon millones")
_REL_GATE = _words("hoy mañana manana ayer anteayer antier today tomorrow yesterday semana week")
_PERSON_GATE = _words(
    "llamo llamó nombre soy name i'm i’m am atendió atendio atendido técnico técnica tecnico tecnica "
    "agente operador operadora teleoperador teleoperadora repartidor repartidora comercial asesor asesora "
    "mensajero mensajera encargado encargada gerente dependiente dependienta hablé hable spoke talked "
    "agent technician engineer driver rep llamado llamada named called llama this"
)
_TITLE_GATE = _words("sr sra srta dña dª d don doña mr mrs ms miss dr dra lic ing")
_TLD_HINT = re.compile(r"\.(?:com|es|net|org|mx|ar|co|cl|pe|io|eu|uk|info|shop)(?![a-z])")

# --- helpers ----------------------------------------------------------------------------------


def _parse_number(raw: str) -> float | None:
    s = raw.replace("\u00a0", "").replace("\u202f", "")
    dot, comma = s.rfind("."), s.rfind(",")
    if dot >= 0 and comma >= 0:
        dec = "." if dot > comma else ","
        s = s.replace("," if dec == "." else ".", "").replace(dec, ".")
    elif dot >= 0 or comma >= 0:
        sep = "." if dot >= 0 else ","
        parts = s.split(sep)
        # "1.234" and "1,234" are thousands; "49,99" and "1.5" decimals.
        s = s.replace(sep, "") if len(parts) > 2 or len(parts[-1]) == 3 else s.replace(sep, ".")
    try:
        return float(s)
    except ValueError:
        return None


def _multiplier(mult: str | None) -> float:
    if not mult:
        return 1.0
    m = mult.lower()
    if m == "k" or m == "mil":
        return 1_000.0
    return 1_000_000.0


def _currency(raw: str) -> str | None:
    key = " ".join(raw.lower().split())
    return _CURRENCIES.get(key)


def _iso_date(year: int | None, month: int, day: int) -> str | None:
    try:
        date(year if year is not None else 2000, month, day)  # 2000: a leap year, so 29/02 passes
    except ValueError:
        return None
    if year is None:
        return f"--{month:02d}-{day:02d}"
    return f"{year:04d}-{month:02d}-{day:02d}"


def _year(raw: str) -> int:
    y = int(raw)
    if len(raw) == 2:
        y += 2000 if y < 70 else 1900
    return y


@lru_cache(maxsize=4096)
def _e164(number: str, region: str | None) -> str | None:
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


# --- extractors -------------------------------------------------------------------------------


def _cued_references(text: str, low: str, out: list[_Cand]) -> None:
    for m in _REF_CUED.finditer(low):
        if not _starts_word(low, m.start()):
            continue
        cue = " ".join(m.group(1).split())
        kind = _CUE_KIND[cue]
        start, end = m.span("code")
        code = text[start:end]
        # Letters-only locators only after a cue that names a locator, not a plain "reserva".
        locator_cue = kind == "booking_reference" and cue not in _PLAIN_BOOKING
        if not _valid_code(code, kind if locator_cue or _DIGIT.search(code) else "order_number"):
            continue
        if _CURRENCY_AFTER.match(low, end) or _is_date(code):
            continue
        out.append(_Cand(90, start, end, kind, code.upper()))


def _is_date(code: str) -> bool:
    m = _DATE_NUM.fullmatch(code)
    return m is not None and (m.group(4) is not None or m.group(2) == "/")


def _bare_codes(text: str, low: str, out: list[_Cand], cue_words: bool) -> None:
    for m in _BARE_CODE.finditer(text):
        start, end = m.span()
        if start and (text[start - 1].isalnum() or text[start - 1] in "-/.#_"):
            continue
        code = m.group()
        if _FLIGHT_BARE.fullmatch(code):
            out.append(_Cand(60, start, end, "flight_number", _squash(code)))
            continue
        if m.group("spaced"):
            end = m.start("spaced")
            code = text[start:end]
        if code.isdigit():
            # Short numbers only when written as a number of something: "set ... número 9449".
            if len(code) < 5 and not (len(code) >= 3 and _NUMBERED.search(low, max(0, start - 12), start)):
                continue
        elif not _DIGIT.search(code):
            continue
        bare_kind = _bare_kind(low, start, code, cue_words)
        if bare_kind is None or not _valid_code(code, bare_kind):
            continue
        if _CURRENCY_AFTER.match(low, end):
            continue
        out.append(_Cand(50, start, end, bare_kind, code.upper()))


def _valid_code(code: str, kind: str) -> bool:
    alnum = sum(ch.isalnum() for ch in code)
    if _DIGIT.search(code):
        return alnum >= 3
    # A locator like "XKJPLA": letters only, written in capitals.
    return kind == "booking_reference" and 5 <= alnum <= 8 and code.isupper()


def _bare_kind(low: str, start: int, code: str, cue_words: bool) -> str | None:
    pm = _PREFIX.match(code)
    if pm and pm.group(1) in _PREFIX_TYPE:
        return _PREFIX_TYPE[pm.group(1)]
    if not cue_words:
        return None
    last = None
    for cue in _REF_NEAR.finditer(low, max(0, start - 50), start):
        if _starts_word(low, cue.start()):
            last = cue  # the nearest cue before the code decides its type
    if last is None:
        return None
    if code.isdigit() or sum(ch.isalnum() for ch in code) >= 5:
        return _CUE_KIND[" ".join(last.group(1).split())]
    return None


def _starts_word(low: str, pos: int) -> bool:
    return pos == 0 or not low[pos - 1].isalnum()


def _amounts(low: str, out: list[_Cand]) -> None:
    for m in _AMOUNT_PRE.finditer(low):
        if m.start() and (low[m.start() - 1].isalnum() or low[m.start() - 1] == "$"):
            continue
        _add_amount(m.start(), m.end(), m.group(2), m.group(3), m.group(1), out)
    for m in _AMOUNT_POST.finditer(low):
        if m.start() and (low[m.start() - 1].isalnum() or low[m.start() - 1] in ".,"):
            continue
        _add_amount(m.start(), m.end(), m.group(1), m.group(2), m.group(3), out)


def _add_amount(start: int, end: int, num: str, mult: str | None, cur: str, out: list[_Cand]) -> None:
    value = _parse_number(num)
    if value is not None:
        out.append(_Cand(80, start, end, "amount", value * _multiplier(mult), _currency(cur)))


def _amount_words(low: str, out: list[_Cand]) -> None:
    for m in _AMOUNT_WORD.finditer(low):
        if _starts_word(low, m.start()):
            value = 1_000.0 if m.group(1) == "mil" else 1_000_000.0
            out.append(_Cand(80, m.start(), m.end(), "amount", value, _currency(m.group(2))))


def _numeric_dates(low: str, out: list[_Cand]) -> None:
    for m in _DATE_NUM.finditer(low):
        a, sep, b, c = m.group(1), m.group(2), m.group(3), m.group(4)
        value = None
        if c is None:
            # Day/month without year: "15/03", or "el 3/4"; never "24/7".
            if sep != "/" or len(a) > 2 or (a, b) == ("24", "7"):
                continue
            if (len(a) < 2 or len(b) < 2) and not _DM_CONTEXT.search(low, max(0, m.start() - 5), m.start()):
                continue
            value = _iso_date(None, int(b), int(a))
            prio = 74
        elif len(a) == 4:
            if sep == "-" and len(c) <= 2:
                value = _iso_date(int(a), int(b), int(c))
            prio = 75
        elif len(a) <= 2 and len(c) in (2, 4) and not (sep == "." and len(c) != 4):
            # Day first unless the second number cannot be a month; "1.2.26" is a version, not a date.
            day, month = (int(b), int(a)) if int(b) > 12 >= int(a) else (int(a), int(b))
            value = _iso_date(_year(c), month, day)
            prio = 75
        if value:
            out.append(_Cand(prio, m.start(), m.end(), "date", value))


def _text_dates(text: str, low: str, out: list[_Cand]) -> None:
    for rx in (_DATE_TEXT_DAY_FIRST, _DATE_TEXT_MONTH_FIRST):
        for m in rx.finditer(low):
            mon = m.group("mon")
            if rx is _DATE_TEXT_MONTH_FIRST and mon in ("mar", "may") and text[m.start("mon")].islower():
                continue  # "may 5" / "mar 3" in lower case are rarely dates
            year = int(m.group("year")) if m.group("year") else None
            value = _iso_date(year, _MONTHS[mon], int(m.group("day")))
            if not value:
                continue
            start = m.start()
            if rx is _DATE_TEXT_DAY_FIRST:
                wd = _WD_BEFORE.search(low, max(0, start - 22), start)
                start = wd.start() if wd else start
            out.append(_Cand(76, start, m.end(), "date", value))


def _ago_dates(low: str, out: list[_Cand]) -> None:
    for m in _DATE_AGO.finditer(low):
        n = m.group("n1") or m.group("n2")
        unit = m.group("u1") or m.group("u2")
        out.append(_Cand(76, m.start(), m.end(), "date", f"{int(n)} {_AGO_UNITS[unit[0]]} ago"))


def _relative_dates(low: str, out: list[_Cand]) -> None:
    for m in _DATE_REL.finditer(low):
        start, end = m.span()
        if not _starts_word(low, start):
            continue
        value = _REL_WORDS[" ".join(m.group(1).split())]
        if (
            value == "tomorrow"
            and low[start] == "m"
            and _MORNING_BEFORE.search(low, max(0, start - 8), start)
        ):
            continue
        if value == "today" and _NOWADAYS_AFTER.match(low, end):
            continue
        out.append(_Cand(73, start, end, "date", value))


def _weekdays(low: str, out: list[_Cand]) -> None:
    for m in _DATE_WD.finditer(low):
        start, end = m.span()
        if not _starts_word(low, start):
            continue
        before = _WD_BEFORE_RE.search(low, max(0, start - 18), start)
        if before is None:
            continue
        word = " ".join(before.group(1).split())
        mod = _WD_MODIFIER.get(word)
        if mod is not None:
            start = before.start()  # the modifier belongs to the date
        after = _WD_AFTER_RE.match(low, end)
        if after:
            mod = "next" if after.group(1).startswith("que") else "last"
            end = after.end()
        wd = _WEEKDAYS[m.group(1)]
        out.append(_Cand(73, start, end, "date", f"{mod} {wd}" if mod else wd))


def _phones(text: str, low: str, out: list[_Cand]) -> None:
    for m in _PHONE.finditer(text):
        raw = m.group()
        digits = "".join(ch for ch in raw if ch.isdigit())
        if raw.startswith(("+", "00")):
            if raw.startswith("00"):
                digits = digits[2:]
            if not 8 <= len(digits) <= 15:
                continue
            value = _e164("+" + digits, None)
        else:
            if not 9 <= len(digits) <= 12:
                continue
            value = _e164(digits, "ES")
            if value is None and _PHONE_CUE.search(low, max(0, m.start() - 40), m.start()):
                for region in _PHONE_FALLBACK_REGIONS:
                    value = _e164(digits, region)
                    if value:
                        break
        if value:
            start = m.start() + (1 if raw.startswith("(") and ")" not in raw else 0)
            out.append(_Cand(70, start, m.end(), "phone", value))


def _emails(text: str, out: list[_Cand]) -> None:
    for m in _EMAIL.finditer(text):
        out.append(_Cand(100, m.start(), m.end(), "email", m.group().lower()))


def _urls(text: str, low: str, out: list[_Cand]) -> None:
    for m in _URL.finditer(low):
        start, end = m.span()
        url = text[start:end]
        while url and url[-1] in _URL_TRAIL:
            # Keep a closing bracket that matches one inside the URL (Wikipedia-style links).
            if url[-1] == ")" and url.count("(") >= url.count(")"):
                break
            url = url[:-1]
            end -= 1
        if "." in url:
            out.append(_Cand(95, start, end, "url", url))


def _cued_flights(text: str, low: str, out: list[_Cand]) -> None:
    for m in _FLIGHT_CUED.finditer(low):
        airline = text[m.start("al") : m.end("al")]
        if m.group("sep") and not airline.isupper():
            continue  # "vuelo de 10 horas"
        code = text[m.start("code") : m.end()]
        out.append(_Cand(88, m.start("code"), m.end(), "flight_number", _squash(code)))


def _squash(code: str) -> str:
    return code.replace(" ", "").replace("-", "").upper()


def _cued_people(text: str, low: str, out: list[_Cand]) -> None:
    for m in _PERSON_CUE.finditer(low):
        nm = _NAME_RE.match(text, m.end())
        if nm:
            _add_person(text, nm.start(), nm.start(), nm.group(), out)


def _titled_people(text: str, out: list[_Cand]) -> None:
    for m in _TITLE.finditer(text):
        _add_person(text, m.start(), m.start("name"), m.group("name"), out)


def _add_person(text: str, start: int, name_start: int, name: str, out: list[_Cand]) -> None:
    kept: list[str] = []
    for w in name.split():
        if w[0].isupper() and w.lower() in _NOT_NAMES:
            break
        kept.append(w)
    while kept and kept[-1] in _PARTICLES:
        kept.pop()
    if not kept:
        return
    end = name_start
    for w in kept:  # spacing between the words may vary
        end = text.index(w, end) + len(w)
    out.append(_Cand(40, start, end, "person", text[name_start:end]))


_PARTICLES = frozenset({"de", "del", "la", "los", "van", "von", "da", "dos"})


def _resolve(cands: list[_Cand]) -> list[_Cand]:
    chosen: list[_Cand] = []
    for c in sorted(cands, key=lambda c: (-c.prio, c.start - c.end, c.start)):
        if all(c.end <= o.start or c.start >= o.end for o in chosen):
            chosen.append(c)
    chosen.sort(key=lambda c: c.start)
    return chosen


def _lower(text: str) -> str:
    low = text.lower()
    if len(low) == len(text):
        return low
    # A few characters grow when lower-cased ("İ"); keep offsets aligned by leaving those alone.
    return "".join(ch if len(ch.lower()) != 1 else ch.lower() for ch in text)


def extract_entities(text: str) -> list[Entity]:
    """Entities in `text`, sorted by start, without overlaps; each `text` is `text[start:end]`."""
    if not text:
        return []
    low = _lower(text)
    # Whole words, stripped of punctuation: a cheap gate that skips families with no cue in the text.
    words = {w.strip(_PUNCT) for w in low.split()}
    cands: list[_Cand] = []
    has_digit = _DIGIT.search(text) is not None
    ref_cue = not words.isdisjoint(_REF_GATE)
    if "@" in text:
        _emails(text, cands)
    if "://" in low or "www." in low or _TLD_HINT.search(low):
        _urls(text, low, cands)
    if ref_cue and (has_digit or _LOCATOR_HINT.search(text)):
        _cued_references(text, low, cands)
    if has_digit:
        _bare_codes(text, low, cands, ref_cue)
        _numeric_dates(low, cands)
        _phones(text, low, cands)
        if "€" in text or "$" in text or "£" in text or "s/" in low or not words.isdisjoint(_CURRENCY_GATE):
            _amounts(low, cands)
        if not words.isdisjoint(_MONTH_GATE):
            _text_dates(text, low, cands)
        if not words.isdisjoint(_AGO_GATE):
            _ago_dates(low, cands)
        if not words.isdisjoint(_FLIGHT_GATE):
            _cued_flights(text, low, cands)
    if not words.isdisjoint(_MIL_GATE):
        _amount_words(low, cands)
    if not words.isdisjoint(_REL_GATE):
        _relative_dates(low, cands)
    if not words.isdisjoint(_WEEKDAYS):
        _weekdays(low, cands)
    if _UPPER.search(text):
        if not words.isdisjoint(_PERSON_GATE):
            _cued_people(text, low, cands)
        if not words.isdisjoint(_TITLE_GATE):
            _titled_people(text, cands)
    return [
        Entity(
            type=c.type,
            text=text[c.start : c.end],
            start=c.start,
            end=c.end,
            value=c.value,
            currency=c.currency,
        )
        for c in _resolve(cands)
    ]
