"""Finding promises in an outgoing reply (Spanish of Spain and Latin America, English).

`propose_commitments(text, language, sent_at)` returns what the reply promised: the kind (contact,
callback, refund, replacement, repair, visit, other), a short normalised description, the sentence
and its span, the due time and the promised channel. Pure and fast: regular expressions over an
accent-folded copy of the text (same length, so spans map back to the original).

What is NOT a promise, by decision:
- questions ("¿Le llamamos mañana?", "Shall we call you?") — an offer, not a promise;
- negations and hedges ("no podemos prometerle nada", "quizá le llamemos", "we might call");
- the past ("le llamamos ayer", "ya le enviamos la pieza", "we called you yesterday");
- conditionals ("si nos envía la factura, le llamaremos", "once you send us the receipt we'll refund
  you") and promises that follow a request to the customer ("envíenos la factura y le llamamos"): the
  promise waits on the customer, so no due date can be set when the reply is sent. The agent creates
  one by hand when the condition is met;
- the message itself ("le escribimos para informarle", "le enviamos adjunta la factura").

One conditional is kept, as kind "offer": an invitation to take the talk private ("¿Nos escribes por
privado?", "escríbenos por DM y lo vemos", "DM us and we'll sort it out"). Taking a public complaint
private is a promise to follow up if the customer writes; the offer stays open OFFER_DAYS, and the
commitments service turns it into a due promise when the customer takes it up (or lets it lapse
quietly when they do not).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

KINDS = ("contact", "callback", "refund", "replacement", "repair", "visit", "offer", "other")
DEFAULT_DAYS = 2  # no time said: end of the day after tomorrow
# ...except where something must travel or be arranged: a parcel, a refund through the bank, a
# repair or a visit take longer, and a promise due in two days would be "overdue" by design.
DEFAULT_DAYS_BY_KIND = {"replacement": 14, "refund": 14, "repair": 14, "visit": 7}
END_OF_DAY = time(23, 59)
OFFER_DAYS = 7  # how long an invitation to write privately stays open


@dataclass(frozen=True)
class Proposal:
    kind: str
    text: str  # short normalised description, e.g. "send a solution by direct message"
    source_text: str  # the sentence that made the promise
    start: int  # span of source_text in the reply
    end: int
    due_at: datetime  # UTC
    channel: str | None  # "dm" (the same social channel's direct messages), "email", "phone", ...
    due_phrase: str | None = None  # the words that set due_at; None when it is the default


# ---------------------------------------------------------------------------------------------
# Folding: lower case, accents off, one character for one, so offsets stay valid.


def _fold_char(ch: str) -> str:
    if ch in "’‘´`":
        return "'"
    base = unicodedata.normalize("NFD", ch)[0].lower()
    return base if len(base) == 1 else ch.lower()


def fold(text: str) -> str:
    return "".join(_fold_char(c) for c in text)


# ---------------------------------------------------------------------------------------------
# Spanish verb forms that promise: 1st person present (used as future in Spanish), future,
# periphrasis (vamos a / voy a + infinitive), gerund after "estaremos", and 3rd person future
# after an object pronoun or a staff subject ("un técnico le llamará").

_CLITIC = r"(?:le|te|les|os|lo|la|los|las|nos|se|selo|sela|selos|selas|telo|tela|melo)?"


def _es_forms(infinitive: str) -> dict[str, list[str]]:
    stem, ending = infinitive[:-2], infinitive[-2:]
    vowel = {"ar": "a", "er": "e", "ir": "i"}[ending]
    present_1pl = stem + {"ar": "amos", "er": "emos", "ir": "imos"}[ending]
    gerund = stem + ("ando" if ending == "ar" else "iendo")
    return {
        "present": [present_1pl, stem + "o"],
        "future": [infinitive + "emos", infinitive + "e"],
        "third": [infinitive + "a", infinitive + "an", infinitive + "as"],
        "infinitive": [infinitive + _CLITIC, gerund + _CLITIC],
        "_vowel": [vowel],
    }


_IRREGULAR: dict[str, dict[str, list[str]]] = {
    "hacer": {
        "present": ["hacemos", "hago"],
        "future": ["haremos", "hare"],
        "third": ["hara", "haran"],
        "infinitive": ["hacer" + _CLITIC, "haciendo" + _CLITIC],
    },
    "poner": {
        "present": ["ponemos", "pongo"],
        "future": ["pondremos", "pondre"],
        "third": ["pondra", "pondran"],
        "infinitive": ["poner" + _CLITIC, "poniendo" + _CLITIC],
    },
    "dar": {
        "present": ["damos", "doy"],
        "future": ["daremos", "dare"],
        "third": ["dara", "daran"],
        "infinitive": ["dar" + _CLITIC, "dando" + _CLITIC],
    },
    "devolver": {
        "present": ["devolvemos", "devuelvo"],
        "future": ["devolveremos", "devolvere"],
        "third": ["devolvera", "devolveran"],
        "infinitive": ["devolver" + _CLITIC, "devolviendo" + _CLITIC],
    },
    "resolver": {
        "present": ["resolvemos", "resuelvo"],
        "future": ["resolveremos", "resolvere"],
        "third": ["resolvera", "resolveran"],
        "infinitive": ["resolver" + _CLITIC, "resolviendo" + _CLITIC],
    },
    "sustituir": {
        "present": ["sustituimos", "sustituyo"],
        "future": ["sustituiremos", "sustituire"],
        "third": ["sustituira", "sustituiran"],
        "infinitive": ["sustituir" + _CLITIC, "sustituyendo" + _CLITIC],
    },
    "tener": {"present": [], "future": [], "third": ["tendra", "tendran", "tendras"], "infinitive": []},
    "venir": {"present": [], "future": [], "third": ["vendra", "vendran"], "infinitive": []},
    "ir": {"present": [], "future": ["iremos", "ire"], "third": ["ira", "iran"], "infinitive": []},
}

# infinitive -> kind (None: the object decides, e.g. "enviamos el reembolso" / "enviamos la pieza")
_ES_VERBS: dict[str, str | None] = {
    "llamar": "callback",
    "marcar": "callback",
    "telefonear": "callback",
    "escribir": "contact",
    "contactar": "contact",
    "responder": "contact",
    "contestar": "contact",
    "avisar": "contact",
    "informar": "contact",
    "comunicar": "contact",
    "confirmar": "contact",
    "hablar": "contact",
    "poner": "contact",  # only as "poner(nos) en contacto", checked below
    "enviar": None,
    "mandar": None,
    "hacer": None,  # "le hacemos llegar"
    "dar": None,
    "gestionar": None,
    "tramitar": None,
    "procesar": None,
    "reembolsar": "refund",
    "devolver": "refund",
    "abonar": "refund",
    "reintegrar": "refund",
    "depositar": "refund",
    "sustituir": "replacement",
    "reemplazar": "replacement",
    "cambiar": "replacement",
    "reponer": "replacement",
    "reparar": "repair",
    "arreglar": "repair",
    "solucionar": "other",
    "resolver": "other",
    "revisar": "other",
    "visitar": "visit",
    "acudir": "visit",
    "pasar": "visit",  # only with a technician or "por su casa", checked below
    "instalar": "visit",
    "ir": "visit",
    "venir": "visit",
    "recibir": None,  # customer side: "recibirá el reembolso"
    "llegar": None,  # "le llegará la pieza"
    "tener": None,  # "tendrá la respuesta"
}
_CUSTOMER_SIDE = {"recibir", "llegar", "tener"}
_NEEDS_STAFF_SUBJECT = {"ir", "venir", "pasar", "acudir"}  # a technician goes, or "pasamos por su casa"

_FORM_TO_VERB: dict[str, tuple[str, str]] = {}  # folded form -> (infinitive, tense)
for _verb in _ES_VERBS:
    _forms = _IRREGULAR.get(_verb) or _es_forms(_verb)
    for _tense in ("present", "future", "third"):
        for _form in _forms[_tense]:
            _FORM_TO_VERB.setdefault(_form, (_verb, _tense))
_INFINITIVES = {v: (_IRREGULAR.get(v) or _es_forms(v))["infinitive"] for v in _ES_VERBS}

_ES_FINITE = re.compile(r"\b(" + "|".join(sorted(_FORM_TO_VERB, key=len, reverse=True)) + r")\b")
_ES_PERIPHRASIS = re.compile(
    r"\b(?:vamos a|voy a|procederemos a|procedemos a|procedere a|intentaremos|trataremos de|"
    r"nos encargamos de|nos encargaremos de|me encargo de|me encargare de|nos comprometemos a|"
    r"me comprometo a|estaremos|estare|quedamos en)\s+(?:(?:personalmente|nosotros)\s+)?"
    r"(?:le |te |les |os |se lo |se la )?("
    + "|".join(sorted({f for fs in _INFINITIVES.values() for f in fs}, key=len, reverse=True))
    + r")\b"
)
_ES_STAFF = re.compile(
    r"\b(tecnico|tecnica|instalador|companer[oa]|equipo|departamento|mensajero|repartidor|agente|"
    r"gestor|gestora|especialista|responsable|area|servicio tecnico|supervisor|supervisora)\b"
)
_ES_TECH = re.compile(
    r"\b(tecnic[oa]s?|instalador(?:es)?|operari[oa]s?|servicio tecnico|mensajero|repartidor)\b"
)
_ES_OBJECT_PRONOUN = re.compile(r"\b(le|te|les|os|se le|se te|se les)\s+$")

# ---------------------------------------------------------------------------------------------
# English: subject + will/'ll/going to/present continuous + verb; "you'll get/receive"; passives.

_EN_VERB_KIND: list[tuple[str, str | None]] = [
    (
        r"call(?:ing)? (?:you )?back|call(?:ing)?|ring(?:ing)?|phon(?:e|ing)|give you a (?:call|ring)",
        "callback",
    ),
    (
        r"get(?:ting)? back to|reach(?:ing)? out|contact(?:ing)?|writ(?:e|ing)|e-?mail(?:ing)?|dm(?:ing)?|"
        r"direct message|messag(?:e|ing)|text(?:ing)?|repl(?:y|ying)|respond(?:ing)?|updat(?:e|ing)|"
        r"let you know|keep you (?:posted|updated|informed)|follow(?:ing)? up|get in touch|be in touch|"
        r"touch base|confirm(?:ing)?|inform(?:ing)?",
        "contact",
    ),
    (r"refund(?:ing)?|reimburs(?:e|ing)|credit(?:ing)?", "refund"),
    (r"replac(?:e|ing)|swap(?:ping)?|exchang(?:e|ing)", "replacement"),
    (r"repair(?:ing)?|fix(?:ing)?", "repair"),
    (r"visit(?:ing)?|come (?:round|over|by|to)|stop by|drop by|be there|be at your|pop round", "visit"),
    (
        r"send(?:ing)?|ship(?:ping)?|post(?:ing)?|mail(?:ing)?|deliver(?:ing)?|dispatch(?:ing)?|"
        r"issu(?:e|ing)|process(?:ing)?|arrang(?:e|ing)|organi[sz](?:e|ing)|provid(?:e|ing)|giv(?:e|ing)|"
        r"get(?:ting)?",
        "object",
    ),
    (
        r"resolv(?:e|ing)|solv(?:e|ing)|sort(?:ing)? (?:it|this|that) out|look(?:ing)? into|check(?:ing)?|"
        r"investigat(?:e|ing)|review(?:ing)?|escalat(?:e|ing)",
        "other",
    ),
]
_EN_SUBJECT = (
    r"(?:we|i|our (?:team|technician|engineer|courier|colleague|specialist|department|agents?)|"
    r"(?:a|the|one of our) (?:technician|engineer|courier|colleague|specialist|agent)s?|"
    r"someone|somebody|(?:a member|one) of (?:our|the) team)"
)
_EN_AUX = (
    r"(?:\s+will|'ll|\s+shall|\s+(?:are|is|am) going to|'re going to|'m going to|'s going to|\s+are|'re|"
    r"\s+am|'m|\s+is|'s)"
)
_EN_VERB_ALT = "|".join(f"(?:{p})" for p, _ in _EN_VERB_KIND)
_EN_PROMISE = re.compile(
    r"\b" + _EN_SUBJECT + _EN_AUX + r"\s+(?:personally\s+|definitely\s+|also\s+|then\s+|now\s+)?"
    r"(?:be\s+)?(?:able to\s+)?(" + _EN_VERB_ALT + r")\b"
)
_EN_CUSTOMER_SIDE = re.compile(
    r"\byou(?:'ll|\s+will|'re going to|\s+are going to)\s+(?:then\s+|also\s+)?"
    r"(get|receive|have|see|hear from us|be contacted|be called|be refunded|be reimbursed)\b"
)
_EN_PASSIVE = re.compile(
    r"\b(?:your|the|a|an)\s+(refund|replacement|repair|money|new [a-z]+|part|technician|engineer|"
    r"credit|reimbursement)\s+(?:will|is going to|should)\s+(?:be\s+)?"
    r"(?:sent|issued|processed|credited|shipped|dispatched|arrive|reach you|be with you|come|visit|"
    r"carried out|done|paid|returned|delivered|there)\b"
)
_ES_PASSIVE = re.compile(
    r"\b(?:el|la|su|tu|un|una)\s+(reembolso|devolucion|abono|reintegro|sustitucion|reemplazo|reparacion|visita|"
    r"pieza|recambio|repuesto|pedido|paquete|envio|respuesta|(?:nuevo|nueva) \w+)\s+(?:\w+\s+){0,2}?"
    r"(?:se\s+)?(?:le\s+|te\s+)?(?:realizara|hara|efectuara|procesara|tramitara|enviara|llegara|reflejara|"
    r"vera reflejad[oa]|estara (?:lista|listo|disponible|hech[oa])|sera (?:enviad[oa]|realizad[oa]|procesad[oa]|"
    r"efectuad[oa]|tramitad[oa]|entregad[oa]))\b"
)
_EN_EXPECT = re.compile(
    r"\b(?:please\s+)?expect\s+(?:a|an|our|your)\s+(call|email|message|dm|refund|replacement|visit)\b"
)

# ---------------------------------------------------------------------------------------------
# Objects, channels, blockers.

_OBJECT_KINDS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(
            r"\b(reembolso|reembols|devolucion del (?:importe|dinero|cargo|pago)|devolucion|abono|reintegro|"
            r"dinero|importe|cargo duplicado|refund|reimbursement|money back|your money|credit)\b"
        ),
        "refund",
    ),
    (
        re.compile(
            r"\b(sustitucion|reemplazo|recambio|repuesto|pieza|uno nuevo|una nueva|otro nuevo|otra nueva|"
            r"(?:un|una|otro|otra) \w+ (?:nuevo|nueva)|"
            r"(?:nuevo|otro) (?:router|terminal|equipo|aparato|producto|movil|telefono|dispositivo|modem|"
            r"decodificador|cargador)|replacement|new one|spare|part|new (?:unit|device|router|phone|"
            r"handset|product|modem))\b"
        ),
        "replacement",
    ),
    (re.compile(r"\b(reparacion|arreglo|repair|fix)\b"), "repair"),
    (re.compile(r"\b(tecnic[oa]|visita|instalador|technician|engineer|visit)\b"), "visit"),
    (re.compile(r"\b(llamada|call|ring)\b"), "callback"),
    (
        re.compile(
            r"\b(respuesta|mensaje|correo|e-?mail|dm|md|privado|inbox|informacion|novedades|actualizacion|"
            r"noticias|seguimiento|answer|reply|update|message|news|details|contestacion)\b"
        ),
        "contact",
    ),
]
_CHANNELS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(
            r"\b(dm|md|mensaje directo|mensaje privado|mensajes directos|mensajes privados|por privado|"
            r"al privado|en privado|privado|inbox|por interno|direct message|private message|dms)\b"
        ),
        "dm",
    ),
    (re.compile(r"\b(whatsapp|wasap|wsp)\b"), "whatsapp"),
    (re.compile(r"\b(sms)\b"), "sms"),
    (re.compile(r"\b(e-?mail|correo(?: electronico)?|mail)\b"), "email"),
    (re.compile(r"\b(llamada|telefono|telefonicamente|por telefono|celular|movil|phone|call)\b"), "phone"),
]
_NEGATION = re.compile(r"\b(no|nunca|jamas|tampoco|ni|not|never|cannot|can't|won't|unable|n't)\b|n't\b")
_HEDGE = re.compile(
    r"\b(puede que|quiza|quizas|tal vez|a lo mejor|es posible que|posiblemente|podriamos|podemos|podria|"
    r"maybe|perhaps|might|may(?!\s+\d)|possibly|could|would|we'd|i'd|hopefully|ojala|deberiamos|should we)\b"
)
_CONDITIONAL = re.compile(
    r"(?:^|[\s,;(])(?:si(?!\s*(?:,|que\b))|en caso de que|siempre que|siempre y cuando|una vez que|"
    r"una vez (?:nos|recibamos|tengamos|reciba)|cuando (?:nos|reciba|recibamos|tengamos|usted|nos llegue)|"
    r"en cuanto (?:nos|reciba|"
    r"recibamos|tengamos|usted|nos llegue)|tan pronto como|a menos que|salvo que|if|once you|once we|"
    r"when you|as soon as(?! possible)|provided that|in case|unless|should you)\b"
)
# A request to the customer in the same sentence: what follows waits on them.
_REQUEST = re.compile(
    r"\b(escribenos|escribanos|envianos|envienos|mandanos|mandenos|facilitanos|facilitenos|indicanos|"
    r"indiquenos|llamanos|llamenos|contactanos|contactenos|dejanos|dejenos|pasanos|compartenos|"
    r"por favor,? (?:envie|envia|mande|manda|facilite|facilita|indique|indica|escriba|escribe)|"
    r"(?:send|dm|message|email|give|call|tell|contact) us|please (?:send|reply|call|provide|confirm|share))\b"
)
# An invitation to continue in private: "¿nos escribes por privado?", "escríbenos por DM", "DM us".
_PRIVATELY = (
    r"(?:por |al |en |un |una |via )?(?:privado|md|dm|dms|mensaje directo|mensaje privado|inbox|interno|"
    r"direct message|private message|privately)"
)
_OFFER = re.compile(
    r"\b(?:(?:nos )?(?:escribes|escribis|escribenos|escribanos|mandas|mandanos|"
    r"mandenos|envias|envianos|envienos|contactas|contactanos|contactenos|hablamos|seguimos)|"
    r"(?:dm|message|write to|contact|email|ping) us|drop us|send us)\b[^.!?]{0,40}?\b" + _PRIVATELY + r"\b"
    r"|\b(?:dm|message) us\b"
)
# The reply itself, not a future act: "le escribimos para informarle", "le enviamos adjunta la factura".
_CURRENT_ACT = re.compile(
    r"^\s*(?:(?:le|te|les|os)\s+)?(?:para|desde|porque|ya que|que|de que|en relacion|con relacion|"
    r"en referencia|respecto|a proposito|con motivo|por aqui|por este (?:medio|canal)|"
    r"to (?:inform|let you know|confirm|apologi[sz]e|say|tell)|from|about|regarding|because|in relation)\b"
)
_ATTACHED = re.compile(
    r"\b(adjunt[oa]s?|a continuacion|aqui tiene|este enlace|el enlace|el link|attached|below|here is|"
    r"herewith|in this (?:email|message))\b"
)
_PAST = re.compile(
    r"\b(ayer|anteayer|antier|anoche|pasad[oa](?! manana)|hace (?:\d+|un|una|unos|unas|dos|tres) |"
    r"ya (?!mismo)|acabamos de|acabo de|(?:he|hemos|habiamos|habia) (?:\w+(?:ado|ido|to|cho))\b|yesterday|"
    r"last (?:week|night|month|monday|tuesday|wednesday|thursday|friday|saturday|sunday)|ago|already|"
    r"have (?:sent|called|emailed|written))"
)
_EN_ELIDED = re.compile(r"^\s*(?:and|then|y)?\s*(?:also\s+|then\s+)?(" + _EN_VERB_ALT + r")\b")
_CLAUSE_BREAK = re.compile(r"[,;:\u2014()]|\s(?:y|e|and|pero|but|aunque|although|luego|then|mientras)\s")
_SENTENCE = re.compile(r"[^.!?\n…]+(?:[.!?…]+|$)|[^\n]+", re.MULTILINE)

# ---------------------------------------------------------------------------------------------
# Time expressions.

_NUMBERS = {
    "un": 1,
    "una": 1,
    "uno": 1,
    "a": 1,
    "an": 1,
    "one": 1,
    "dos": 2,
    "two": 2,
    "tres": 3,
    "three": 3,
    "cuatro": 4,
    "four": 4,
    "cinco": 5,
    "five": 5,
    "seis": 6,
    "six": 6,
    "siete": 7,
    "seven": 7,
    "ocho": 8,
    "eight": 8,
    "nueve": 9,
    "nine": 9,
    "diez": 10,
    "ten": 10,
    "quince": 15,
    "fifteen": 15,
    "veinte": 20,
    "twenty": 20,
    "treinta": 30,
    "thirty": 30,
    "catorce": 14,
    "fourteen": 14,
}
_NUM = r"(\d{1,3}|" + "|".join(sorted(_NUMBERS, key=len, reverse=True)) + r")"
_WEEKDAYS = {
    "lunes": 0,
    "martes": 1,
    "miercoles": 2,
    "jueves": 3,
    "viernes": 4,
    "sabado": 5,
    "domingo": 6,
    "monday": 0,
    "tuesday": 1,
    "wednesday": 2,
    "thursday": 3,
    "friday": 4,
    "saturday": 5,
    "sunday": 6,
}
_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [
            ("enero", "january", "jan"),
            ("febrero", "february", "feb"),
            ("marzo", "march", "mar"),
            ("abril", "april", "apr"),
            ("mayo", "may"),
            ("junio", "june", "jun"),
            ("julio", "july", "jul"),
            ("agosto", "august", "aug"),
            ("septiembre", "setiembre", "september", "sep", "sept"),
            ("octubre", "october", "oct"),
            ("noviembre", "november", "nov"),
            ("diciembre", "december", "dec"),
        ]
    )
    for m in names
}
_MONTH_ALT = "|".join(sorted(_MONTHS, key=len, reverse=True))

_T_AMOUNT = re.compile(
    r"\b(?:en|dentro de|en un plazo(?: maximo)? de|en un maximo de|en (?:los|las) (?:proximos|proximas)|"
    r"en menos de|como maximo en|maximo|antes de|within|in|in the next|over the next|in under|"
    r"no later than|in less than)\s+(?:unos |unas |aproximadamente |about |around |approximately )?"
    + _NUM
    + r"(?:\s*(?:-|a|o|to|or|/)\s*"
    + _NUM
    + r")?\s*"
    r"(dias?|horas?|hrs?|h|semanas?|minutos?|mins?|meses?|days?|hours?|weeks?|minutes?|months?|"
    r"business days?|working days?)\b(?:\s+(habiles|laborables|naturales|laborales))?"
)
_T_TODAY = re.compile(
    r"\b(hoy(?: mismo)?|el dia de hoy|en el (?:transcurso|correr) del dia|a lo largo del dia|durante el dia|"
    r"esta tarde|esta noche|antes de que (?:acabe|termine) el dia|ahorita|today|tonight|this (?:afternoon|"
    r"evening)|later today|by the end of (?:the|to)day|end of (?:the )?day|eod)\b"
)
_T_DAY_AFTER = re.compile(r"\b(pasado manana|the day after tomorrow)\b")
_T_TOMORROW = re.compile(r"(?<!esta )(?<!la )(?<!cada )(?<!pasado )\b(manana|tomorrow)\b")
_T_SOON = re.compile(
    r"\b(enseguida|en seguida|ahora mismo|de inmediato|inmediatamente|ya mismo|en un momento|en unos minutos|"
    r"en breves minutos|right away|right now|immediately|in a moment|in a few minutes|straight away)\b"
)
_T_WEEKDAY = re.compile(r"\b(" + "|".join(_WEEKDAYS) + r")\b(?!\s+pasado)")
_T_THIS_WEEK = re.compile(
    r"\b(esta semana|a lo largo de la semana|durante la semana|this week|by the end of the week|"
    r"antes del fin de semana|before the weekend)\b"
)
_T_NEXT_WEEK = re.compile(r"\b(la semana que viene|la proxima semana|la semana proxima|next week)\b")
_T_THIS_MONTH = re.compile(r"\b(este mes|a lo largo del mes|this month|by the end of the month)\b")
_T_DATE = re.compile(
    r"\b(?:el (?:dia )?|on (?:the )?|by (?:the )?)?(\d{1,2})(?:st|nd|rd|th)?(?: de| of)?\s+("
    + _MONTH_ALT
    + r")\b|"
    r"\b(" + _MONTH_ALT + r")\s+(\d{1,2})(?:st|nd|rd|th)?\b|\bel dia (\d{1,2})\b"
)
_T_CLOCK = re.compile(
    r"\b(?:a las|antes de las|sobre las|hacia las|at|by|before|around)\s+(\d{1,2})(?:[:.h](\d{2}))?\s*"
    r"(am|pm|a\.m\.|p\.m\.|h|horas|hrs)?(?:\s+de la (manana|tarde|noche))?(?!\d)"
)


@dataclass
class _Due:
    at: datetime
    phrase: str | None
    start: int = 0


def _end_of(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, END_OF_DAY, tzinfo=tz).astimezone(UTC)


def _add_business_days(day: date, n: int) -> date:
    while n > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day


def _number(word: str | None) -> int | None:
    if word is None:
        return None
    return int(word) if word.isdigit() else _NUMBERS.get(word)


def _is_past_phrase(folded: str, start: int, end: int) -> bool:
    tail = folded[end : end + 10]
    return bool(re.match(r"\s+(pasad[oa]|anterior)\b", tail))


def _find_due(folded: str, sent_at: datetime, tz: ZoneInfo) -> _Due | None:
    """The first (leftmost) time expression of `folded`, as a due time; None if there is none."""
    local = sent_at.astimezone(tz)
    today = local.date()
    found: list[tuple[int, date | datetime, str, bool]] = []  # (start, day-or-moment, phrase, is_day)

    def add(m: re.Match[str], value: date | datetime, is_day: bool = True) -> None:
        if not _is_past_phrase(folded, m.start(), m.end()):
            found.append((m.start(), value, m.group(0).strip(), is_day))

    for m in _T_AMOUNT.finditer(folded):
        low, high = _number(m.group(1)), _number(m.group(2))
        n = high or low
        if n is None:
            continue
        unit, qualifier = m.group(3), m.group(4) or ""
        business = unit.startswith(("business", "working")) or qualifier in (
            "habiles",
            "laborables",
            "laborales",
        )
        if unit.startswith(("h", "hr")):
            add(m, sent_at + timedelta(hours=n), is_day=False)
        elif unit.startswith("min"):
            add(m, sent_at + timedelta(minutes=n), is_day=False)
        elif unit.startswith(("semana", "week")):
            add(m, today + timedelta(days=7 * n))
        elif unit.startswith(("mes", "month")):
            add(m, today + timedelta(days=30 * n))
        elif business:
            add(m, _add_business_days(today, n))
        else:
            add(m, today + timedelta(days=n))
    for m in _T_TODAY.finditer(folded):
        add(m, today)
    for m in _T_DAY_AFTER.finditer(folded):
        add(m, today + timedelta(days=2))
    for m in _T_TOMORROW.finditer(folded):
        if folded[max(0, m.start() - 7) : m.start()].endswith("pasado "):
            continue
        add(m, today + timedelta(days=1))
    for m in _T_SOON.finditer(folded):
        add(m, sent_at + timedelta(hours=1), is_day=False)
    for m in _T_WEEKDAY.finditer(folded):
        target = _WEEKDAYS[m.group(1)]
        if re.search(r"\b(last|pasado|el pasado)\s+$", folded[max(0, m.start() - 12) : m.start()]):
            continue
        add(m, today + timedelta(days=(target - today.weekday()) % 7 or 7))
    for m in _T_THIS_WEEK.finditer(folded):
        wd = today.weekday()
        add(m, today + timedelta(days=4 - wd if wd <= 4 else 6 - wd))
    for m in _T_NEXT_WEEK.finditer(folded):
        add(m, today + timedelta(days=(7 - today.weekday()) + 4))
    for m in _T_THIS_MONTH.finditer(folded):
        following = date(today.year + (today.month == 12), today.month % 12 + 1, 1)
        add(m, following - timedelta(days=1))
    for m in _T_DATE.finditer(folded):
        if m.group(5):
            day_n, month = int(m.group(5)), today.month
            if day_n < today.day:
                month = today.month % 12 + 1
        else:
            day_n = int(m.group(1) or m.group(4))
            month = _MONTHS[m.group(2) or m.group(3)]
        year = today.year
        try:
            candidate = date(year, month, day_n)
            if candidate < today:
                candidate = date(year + 1, month, day_n)
        except ValueError:
            continue
        add(m, candidate)
    found.sort(key=lambda item: item[0])
    day_value: date | None = None
    moment: datetime | None = None
    phrase: str | None = None
    start = 0
    if found:
        start, value, phrase, is_day = found[0]
        if is_day:
            assert isinstance(value, date)
            day_value = value if not isinstance(value, datetime) else value.date()
        else:
            assert isinstance(value, datetime)
            moment = value
    if moment is not None:
        return _Due(moment, phrase, start)
    clock = _T_CLOCK.search(folded)
    if clock is not None and (clock_time := _clock_time(clock)) is not None:
        day = day_value or today
        at = datetime.combine(day, clock_time, tzinfo=tz)
        if day_value is None and at <= local:
            at += timedelta(days=1)
        phrase = " ".join(p for p in (phrase, clock.group(0).strip()) if p)
        return _Due(at.astimezone(UTC), phrase, start if found else clock.start())
    if day_value is None:
        return None
    return _Due(_end_of(day_value, tz), phrase, start)


def _clock_time(m: re.Match[str]) -> time | None:
    hour, minute = int(m.group(1)), int(m.group(2) or 0)
    meridiem, part = (m.group(3) or "").replace(".", ""), m.group(4)
    if meridiem == "" and part is None and m.group(0).startswith(("at", "by", "before", "around")):
        return None  # "at 3" alone is too ambiguous in English (could be a count, an address)
    if meridiem == "pm" or part in ("tarde", "noche"):
        hour = hour + 12 if hour < 12 else hour
    if meridiem == "am" and hour == 12:
        hour = 0
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


# ---------------------------------------------------------------------------------------------
# Promises in a clause.


@dataclass
class _Hit:
    kind: str
    start: int  # within the sentence
    end: int
    clause: tuple[int, int]
    solution: bool = False
    channel: str | None = None
    verb: str = ""
    merged: list[tuple[int, int]] = field(default_factory=list)


def _object_kind(rest: str, verb: str) -> str | None:
    best: tuple[int, str] | None = None
    for pattern, kind in _OBJECT_KINDS:
        m = pattern.search(rest)
        if m and (best is None or m.start() < best[0]):
            best = (m.start(), kind)
    if best is None:
        return None
    if verb == "devolver" and best[1] == "callback":
        return "callback"  # "le devolvemos la llamada"
    return best[1]


# A candidate: (start, end, kind or None when the object decides, verb, ambiguous). Ambiguous forms
# (Spanish present, English progressive) may describe the reply itself rather than a future act.
_Candidate = tuple[int, int, str | None, str, bool]


def _spanish_candidates(clause: str, original: str) -> Iterator[_Candidate]:
    for m in _ES_PERIPHRASIS.finditer(clause):
        form = m.group(1)
        verb = next(
            (v for v, forms in _INFINITIVES.items() if any(re.fullmatch(f, form) for f in forms)), None
        )
        if verb is None or verb in _CUSTOMER_SIDE:
            continue
        if verb in _NEEDS_STAFF_SUBJECT and not _ES_TECH.search(clause):
            continue
        yield m.start(), m.end(), _ES_VERBS[verb], verb, False
    for m in _ES_FINITE.finditer(clause):
        verb, tense = _FORM_TO_VERB[m.group(1)]
        before = clause[: m.start()]
        after = clause[m.end() :]
        if verb == "poner" and not re.match(r"\s+en contacto", after):
            continue
        if verb == "hacer" and not re.match(r"\s+llegar", after):
            continue
        if verb in _NEEDS_STAFF_SUBJECT and not (
            _ES_TECH.search(clause)
            or re.match(r"\s+(?:por|a) (?:su|tu) (?:casa|domicilio|local|oficina)", after)
        ):
            continue
        if original[m.end() - 1] == "ó":
            continue  # "le llamó": a past, 3rd person
        if (
            tense == "present"
            and m.group(1).endswith("o")
            and not re.search(r"\b(le|te|les|os|se lo|se la)\s+$", before)
        ):
            continue  # 1st singular only as "te llamo": "llamo" alone is a noun or a past ("llamó")
        if (
            tense == "third"
            and verb not in _CUSTOMER_SIDE
            and not (_ES_OBJECT_PRONOUN.search(before) or _ES_STAFF.search(before))
        ):
            continue  # "un técnico le llamará", not "el cliente llamará"
        yield m.start(), m.end(), _ES_VERBS[verb], verb, tense == "present"


def _english_candidates(clause: str) -> Iterator[_Candidate]:
    for m in _EN_PROMISE.finditer(clause):
        word = m.group(1)
        progressive = bool(
            re.search(r"(?:\s+(?:are|am|is)|'re|'m|'s)\s", m.group(0))
        ) and "going to" not in m.group(0)
        for pattern, kind in _EN_VERB_KIND:
            if re.fullmatch(pattern, word):
                yield m.start(), m.end(), (None if kind == "object" else kind), word, progressive
                break
    for m in _EN_CUSTOMER_SIDE.finditer(clause):
        word = m.group(1)
        direct = {
            "be contacted": "contact",
            "hear from us": "contact",
            "be called": "callback",
            "be refunded": "refund",
            "be reimbursed": "refund",
        }.get(word)
        yield m.start(), m.end(), direct, "recibir", False
    for m in _EN_PASSIVE.finditer(clause):
        yield m.start(), m.end(), _object_kind(m.group(1), "") or "other", "passive", False
    for m in _ES_PASSIVE.finditer(clause):
        yield m.start(), m.end(), _object_kind(m.group(1), "") or "other", "passive", False
    for m in _EN_EXPECT.finditer(clause):
        yield m.start(), m.end(), _object_kind(m.group(1), "") or "contact", "expect", False


def _clauses(sentence: str) -> list[tuple[int, int]]:
    bounds, last = [], 0
    for m in _CLAUSE_BREAK.finditer(sentence):
        bounds.append((last, m.start()))
        last = m.end() if m.group(0).strip() in ",;:\u2014()" else m.start()
    bounds.append((last, len(sentence)))
    return [(a, b) for a, b in bounds if sentence[a:b].strip()]


def _channel(text: str) -> str | None:
    best: tuple[int, str] | None = None
    for pattern, channel in _CHANNELS:
        m = pattern.search(text)
        if m and (best is None or m.start() < best[0]):
            best = (m.start(), channel)
    return best[1] if best else None


def _has_time(text: str) -> bool:
    return any(
        p.search(text)
        for p in (
            _T_AMOUNT,
            _T_TODAY,
            _T_TOMORROW,
            _T_DAY_AFTER,
            _T_SOON,
            _T_WEEKDAY,
            _T_THIS_WEEK,
            _T_NEXT_WEEK,
        )
    )


def _hits(folded: str, original: str) -> list[_Hit]:
    hits: list[_Hit] = []
    previous_promised = False
    for a, b in _clauses(folded):
        clause = folded[a:b]
        promised, previous_promised = previous_promised, False
        if _HEDGE.search(clause) or _PAST.search(clause):
            continue
        candidates = sorted(
            [*_spanish_candidates(clause, original[a:b]), *_english_candidates(clause)], key=lambda c: c[0]
        )
        if not candidates and promised and (elided := _EN_ELIDED.match(clause)):
            # "we'll look into it and get back to you": the subject is not repeated after "and"
            word = elided.group(1)
            kind_of = next(k for p, k in _EN_VERB_KIND if re.fullmatch(p, word))
            candidates = [
                (elided.start(1), elided.end(), None if kind_of == "object" else kind_of, word, False)
            ]
        for start, end, kind, verb, ambiguous in candidates:
            rest = clause[end:]
            if _NEGATION.search(clause[:end]):
                break  # "no le llamaremos", "we will not call": nothing later in the clause counts
            if ambiguous and _CURRENT_ACT.search(rest):
                continue  # "le escribimos para informarle...": the reply itself
            if _ATTACHED.search(rest):
                continue
            if kind is None:
                kind = _object_kind(rest, verb)
                if kind is None and verb in ("recibir", "llegar", "tener", "get", "have", "provide", "give"):
                    continue  # "tendrá que enviarnos...", "you'll have to": not our promise
                if verb in ("dar", "give", "provide") and re.search(r"\b(solucion|solution)\b", rest):
                    kind = "other"
                kind = kind or "other"
            elif verb == "devolver":
                kind = "callback" if _object_kind(rest, verb) == "callback" else "refund"
            if ambiguous and kind == "other" and not _has_time(clause):
                continue  # "I'm checking with the warehouse": a status, not a promise
            solution = bool(re.search(r"\b(solucion|solution|respuesta definitiva)\b", clause))
            channel = _channel(clause) if kind in ("contact", "callback", "other") else None
            hits.append(_Hit(kind, a + start, a + end, (a, b), solution, channel, verb))
            previous_promised = True
            break
    return _merge(hits)


def _merge(hits: list[_Hit]) -> list[_Hit]:
    """One promise per sentence and kind; a vague "other" ("y le damos una solución") joins the
    concrete promise it goes with."""
    concrete = [h for h in hits if h.kind != "other"]
    result: list[_Hit] = []
    for hit in hits:
        if hit.kind == "other" and concrete:
            host = concrete[0]
            host.solution = host.solution or hit.solution
            host.channel = host.channel or hit.channel
            host.merged.append(hit.clause)
            continue
        same = next((r for r in result if r.kind == hit.kind), None)
        if same is not None:
            same.merged.append(hit.clause)
            same.channel = same.channel or hit.channel
            continue
        result.append(hit)
    return result


_CHANNEL_WORDS = {
    "dm": "by direct message",
    "email": "by email",
    "phone": "by phone",
    "whatsapp": "by WhatsApp",
    "sms": "by SMS",
}


def _describe(hit: _Hit, folded_sentence: str) -> str:
    by = _CHANNEL_WORDS.get(hit.channel or "")
    if hit.kind == "contact":
        what = "send a solution" if hit.solution else "contact the customer"
        return f"{what} {by}" if by else what
    if hit.kind == "callback":
        return "call the customer back"
    if hit.kind == "refund":
        return "refund the customer"
    if hit.kind == "replacement":
        part = re.search(r"\b(pieza|recambio|repuesto|part|spare)\b", folded_sentence)
        return "send the replacement part" if part else "send a replacement"
    if hit.kind == "repair":
        return "repair the fault"
    if hit.kind == "visit":
        return "technician visit"
    if hit.solution:
        return f"give a solution {by}" if by else "give a solution"
    if re.search(r"\b(pedido|paquete|order|parcel|package)\b", folded_sentence):
        return "deliver the order"
    if hit.verb in ("enviar", "mandar", "hacer", "send", "sending", "post", "mail", "ship", "passive"):
        return "send what was promised"
    if hit.verb in ("solucionar", "resolver") or hit.verb.startswith(("resolv", "solv", "sort")):
        return "solve the problem"
    if hit.verb == "revisar" or hit.verb.startswith(("look", "check", "investigat", "review")):
        return "review the case and come back"
    return "follow up on what was promised"


def propose_commitments(
    text: str, language: str | None, sent_at: datetime, tz: str = "Europe/Madrid"
) -> list[Proposal]:
    """The promises an outgoing reply makes. `language` is a hint only: both languages are read,
    since replies mix them and outbound messages are often not language-tagged."""
    if sent_at.tzinfo is None:
        raise ValueError("sent_at must carry its time zone")
    zone = ZoneInfo(tz)
    folded = fold(text)
    proposals: list[Proposal] = []
    for m in _SENTENCE.finditer(text):
        raw = m.group(0)
        lead = len(raw) - len(raw.lstrip())
        start, end = m.start() + lead, m.start() + len(raw.rstrip())
        if end <= start:
            continue
        sentence = text[start:end]
        offer = _OFFER.search(fold(sentence))
        if offer is not None and not _NEGATION.search(fold(sentence)[: offer.start()]):
            proposals.append(
                Proposal(
                    kind="offer",
                    text="follow up if the customer writes privately",
                    source_text=sentence,
                    start=start,
                    end=end,
                    due_at=_end_of(sent_at.astimezone(zone).date() + timedelta(days=OFFER_DAYS), zone),
                    channel="dm",
                    due_phrase=None,
                )
            )
            continue  # what else the sentence says waits on the customer writing
        opening = sentence.find("¿")
        if opening == 0 or (opening < 0 and sentence.endswith("?")):
            continue  # a question offers, it does not promise
        if opening > 0:
            end = start + len(sentence[:opening].rstrip(" ,;:"))  # "Le llamamos mañana, ¿le parece?"
            sentence = text[start:end]
        folded_sentence = folded[start:end]
        if _CONDITIONAL.search(folded_sentence) or _REQUEST.search(folded_sentence):
            continue
        for hit in _hits(folded_sentence, sentence):
            regions = [hit.clause, *hit.merged]
            due = None
            for a, b in regions:
                due = _find_due(folded_sentence[a:b], sent_at, zone)
                if due is not None:
                    break
            if due is None:
                due = _find_due(folded_sentence, sent_at, zone)
            if due is None:
                days = DEFAULT_DAYS_BY_KIND.get(hit.kind, DEFAULT_DAYS)
                due = _Due(_end_of(sent_at.astimezone(zone).date() + timedelta(days=days), zone), None)
            channel = hit.channel or ("phone" if hit.kind == "callback" else None)
            proposals.append(
                Proposal(
                    kind=hit.kind,
                    text=_describe(hit, folded_sentence),
                    source_text=sentence,
                    start=start,
                    end=end,
                    due_at=due.at,
                    channel=channel,
                    due_phrase=due.phrase,
                )
            )
    return proposals
