"""Curated rules for the rare, high-stakes triage labels that a model trained on a small corpus misses:
churn, legal and public-escalation threats, escalation requests, request kinds, questions, toxicity
(insult / threat / profanity, kept apart) and urgency with its reasons.

How it works
- Matching runs on a *folded* copy of the text: lower case, accents stripped, every run of a repeated
  letter squeezed to one ("noooo", "cancelled", "reembolso" -> "no", "canceled", "rembolso"),
  whitespace runs squeezed, URLs blanked, "_" read as a space (@OCU_Consumo). Patterns are written in
  plain Spanish/English and squeezed the same way when compiled, so doubled letters never matter.
  An offset map sends every folded position back to the original text, so `Hit.text` is always
  `text[start:end]`.
- Long cue words (7+ letters) with a one-letter typo ("reembolzo", "abogadoo", "portabilidat") are
  corrected in the folded copy by a symmetric-delete lookup before matching.
- Each label family (intents, requests, toxicity, urgency) is ONE compiled regex: a zero-width
  lookahead tried at each word start, one named group per rule, so hits of different rules may
  overlap. Which group matched gives the label and weight.
- Negation: a negator ("no", "nunca", "not", "don't", "sin", ...) within the same clause, separated
  from the hit only by "bridge" words ("no ME QUIERO dar de baja", "I'm not cancelling", "no PIENSO
  denunciar"), sets `negated=True`. "ya no" is not a negation ("ya no quiero seguir con vosotros").
- Hard negatives are handled by requiring context rather than bare cue words: "abogado"/"lawyer"
  alone is weak (0.35); a threat needs a future/present first-person form ("lo voy a publicar",
  "lo subo a TikTok", not "lo publiqué"); "director" needs "hablar con / pásame con".

Decisions
- Cancelling one transaction (order, booking, flight, appointment, card) is `request:cancellation`
  only. Cancelling the relationship (account, contract, subscription, plan, line, membership, policy)
  is `churn_threat` AND `request:cancellation` (same span).
- `question`: any "?"/"¿" sentence (weight 0.9; 0.6 when it ends in "?!"/"!?", usually rhetorical in
  a complaint), else an interrogative opener at a sentence start (0.5) or "me podéis decir" /
  "can you tell me" (0.6). Rhetorical questions are still question hits; the caller weighs them.
- "Esta app es una mierda" is profanity; "sois una mierda" is insult (profanity inside an insult or
  threat span is dropped). "Empresa de mierda" is profanity (a company is not a person).
- A hit is a *positive* when `not negated and weight >= 0.5`; weaker hits are kept as evidence.
- `language`: "en" runs English + shared rules; "es"/"ca"/"pt" run Spanish + shared; anything else
  (or None) runs everything. Pass it only when the detector is confident.
"""

from __future__ import annotations

import importlib
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

__all__ = ["Hit", "find_hits", "fold", "is_positive", "urgency_reasons"]

POSITIVE_WEIGHT = 0.5


@dataclass(frozen=True)
class Hit:
    label: str
    text: str
    start: int
    end: int
    weight: float
    negated: bool = False


def is_positive(hit: Hit) -> bool:
    return not hit.negated and hit.weight >= POSITIVE_WEIGHT


# ---------------------------------------------------------------------------------------------------
# Folding with an offset map


def _fold_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for cp in list(range(0x41, 0x5B)) + list(range(0xC0, 0x250)):
        ch = chr(cp)
        base = "".join(c for c in unicodedata.normalize("NFD", ch) if not unicodedata.combining(c)).lower()
        if len(base) == 1 and base != ch:
            table[cp] = base
    for ch in "’‘´`ʼ′":
        table[ord(ch)] = "'"
    for ch in "“”«»":
        table[ord(ch)] = '"'
    table[ord("_")] = " "
    table[0xA0] = " "
    return table


_TABLE = _fold_table()
_RUN = re.compile(r"([a-z])\1+")
_WS_RUN = re.compile(r"\s{2,}")
_MARKS = re.compile(r"[\u0300-\u036f]+")
_URL = re.compile(r"https?://\S+|www\.\S+")
_LONG_WORD = re.compile(r"[a-z]{7,}")
_KEEP_RUNS = frozenset(("bbb", "www"))  # real tokens, not emphasis


def fold(text: str) -> tuple[str, list[int]]:
    """The folded text and, for each folded position, its offset in `text` (plus one sentinel)."""
    if text.isascii():
        s = text.lower()
        if "_" in s or "`" in s:
            s = s.replace("_", " ").replace("`", "'")
    else:
        s = text.translate(_TABLE)
        low = s.lower()
        # str.lower() may grow a few characters ("İ"); keep one output char per input char.
        s = low if len(low) == len(s) else "".join((c.lower() or c)[0] for c in s)
    if "http" in s or "www." in s:
        s = _URL.sub(lambda m: " " * len(m.group()), s)
    # Spans to delete: repeated letters (keep the first), extra whitespace, combining marks.
    cuts = [(m.start() + 1, m.end()) for m in _RUN.finditer(s) if m.group() not in _KEEP_RUNS]
    if "  " in s or "\n" in s or "\t" in s or "\r" in s:
        cuts += [(m.start() + 1, m.end()) for m in _WS_RUN.finditer(s)]
    if not s.isascii():
        cuts += [m.span() for m in _MARKS.finditer(s)]
    if not cuts:
        return _fix_typos(s, list(range(len(s) + 1)))
    cuts.sort()
    pieces: list[str] = []
    offsets: list[int] = []
    pos = 0
    for start, end in cuts:
        pieces.append(s[pos:start])
        offsets.extend(range(pos, start))
        pos = end
    pieces.append(s[pos:])
    offsets.extend(range(pos, len(s) + 1))
    return _fix_typos("".join(pieces), offsets)


def _words(text: str) -> list[str]:
    return text.split()


def _squeeze_letters(word: str) -> str:
    return re.sub(r"([a-z])\1+", r"\1", word)


# Long cue words whose one-letter typos are worth correcting (folded, squeezed at build time).
_VOCAB_WORDS = _words(
    """
reembolso reembolsar reembolsen devolucion devolver devuelvan devolucion abogado abogada abogados
denunciar denuncio denuncia denunciare denunciaremos denunciaros demandar demandare juzgado juzgados
tribunales reclamaciones reclamacion portabilidad competencia supervisor supervisora responsable
encargado encargada director directora gerente publicar publicarlo difundir difundid viralizar
television periodicos inutiles ladrones estafadores sinverguenzas incompetentes gilipollas imbeciles
sustitucion reposicion reparacion arreglar arreglen cancelar cancelacion cancelo suscripcion contrato
compania operadora cobrado bloqueada bloqueado discapacidad embarazada cancelling cancellation
subscription attorney lawsuit chargeback solicitor manager escalate replacement reimbursement
appointment technician engineer switching competitor complaint standards elderly disabled pregnant
wheelchair dialysis incompetent scammers thieves information informacion urgente seguridad
"""
)
_VOCAB = frozenset(_squeeze_letters(w) for w in _VOCAB_WORDS)
_DELETES: dict[str, str] = {}
for _w in sorted(_VOCAB):
    for _i in range(len(_w)):
        _DELETES.setdefault(_w[:_i] + _w[_i + 1 :], _w)


_CORRECTIONS: dict[str, str | None] = {}


def _correction(word: str) -> str | None:
    if word in _VOCAB:
        return None
    if word in _CORRECTIONS:
        return _CORRECTIONS[word]
    if len(_CORRECTIONS) > 50_000:  # bounded memo
        _CORRECTIONS.clear()
    fixed = _correction_uncached(word)
    _CORRECTIONS[word] = fixed
    return fixed


def _correction_uncached(word: str) -> str | None:
    cand = _DELETES.get(word)  # the word lacks a letter
    if cand is None:
        dels = [word[:i] + word[i + 1 :] for i in range(len(word))]
        cand = next((w for w in dels if w in _VOCAB), None)  # the word has an extra letter
        if cand is None:
            cand = next((_DELETES[w] for w in dels if w in _DELETES), None)  # one letter swapped
    if cand is None or cand[0] != word[0]:
        return None
    if word[:-1] == cand[:-1] or word == cand[:-1] or cand == word[:-1]:
        return None  # only the ending differs: an inflection ("demanda"/"demandar"), not a typo
    return cand


def _fix_typos(folded: str, omap: list[int]) -> tuple[str, list[int]]:
    fixes = []
    for m in _LONG_WORD.finditer(folded):
        fixed = _correction(m.group())
        if fixed is not None:
            fixes.append((m.start(), m.end(), fixed))
    if not fixes:
        return folded, omap
    pieces: list[str] = []
    new_map: list[int] = []
    pos = 0
    for start, end, fixed in fixes:
        pieces.append(folded[pos:start])
        new_map.extend(omap[pos:start])
        pieces.append(fixed)
        new_map.extend(omap[start + min(i, end - start - 1)] for i in range(len(fixed)))
        pos = end
    pieces.append(folded[pos:])
    new_map.extend(omap[pos:])
    return "".join(pieces), new_map


# ---------------------------------------------------------------------------------------------------
# Rule tables: (label, weight, pattern over folded text). A label "a+b" emits both labels.
# Patterns must not contain capturing groups; a literal space matches one whitespace character.

Rule = tuple[str, float, str]

NUM_ES = (
    r"(?:\d+|un|una|dos|tres|cuatro|cinco|seis|siete|ocho|nueve|diez|once|doce|quince|veinte|treinta"
    r"|varios|varias|muchos|muchas|unos|unas|algunos|algunas)"
)
NUM_EN = (
    r"(?:\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty"
    r"|a few|few|several|many|multiple)"
)
SERV_ES = (
    r"(?:internet|luz|agua|agua caliente|gas|fibra|linea|senal|cobertura|servicio|telefono|tlf|movil|celular"
    r"|wifi|wi-fi|conexion|television|tele|tv|calefaccion|ascensor|red|datos|adsl|electricidad|corriente"
    r"|energia|telefonia|cable|nada)"
)
SERV_EN = (
    r"(?:internet|broadband|wifi|wi-fi|power|electricity|electric|water|hot water|heating|heat|gas|service"
    r"|signal|phone|landline|tv|cable|connection|coverage|data|fibre|fiber)"
)
DAYS_ES = r"(?:lunes|martes|miercoles|jueves|viernes|sabado|domingo)"
DAYS_EN = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tue|wed|thu|fri|sat|sun)"
WHEN_ES = (
    rf"(?:manana|pasado manana|esta noche|esta tarde|hoy|el {DAYS_ES}|este {DAYS_ES}|{DAYS_ES}"
    r"|este fin de semana|este finde|en \d+ horas|dentro de \d+ (?:horas|dias))"
)
WHEN_EN = (
    rf"(?:tomorrow|tonight|today|this (?:evening|afternoon|weekend)|on {DAYS_EN}|this {DAYS_EN}|{DAYS_EN}"
    r"|in \d+ hours|in (?:a|two|three) days)"
)
EVENTS_ES = (
    r"(?:vuelo|boda|viaje|examen|entrevista|operacion|cirugia|mudanza|cumpleanos|comunion|bautizo|evento"
    r"|concierto|funeral|entierro|parto|mudanza)"
)
EVENTS_EN = (
    r"(?:flight|wedding|trip|exam|interview|operation|surgery|move|birthday|event|funeral|holiday|vacation"
    r"|party|concert)"
)
COMP_ES = (
    r"(?:movistar|vodafone|orange|yoigo|digi|masmovil|pepephone|simyo|lowi|jazztel|o2|telcel|claro|entel"
    r"|tigo|personal|wom|bitel|iberdrola|endesa|naturgy|repsol|holaluz|santander|bbva|caixabank"
    r"|ing|openbank|sabadell|revolut|amazon|aliexpress|temu|shein|zara|mercadona|ryanair|iberia|vueling)"
)
COMP_EN = (
    r"(?:verizon|at&t|t-mobile|sprint|comcast|xfinity|spectrum|bt|sky|virgin|vodafone|ee|three|o2|giffgaff"
    r"|octopus|british gas|edf|amazon|walmart|target|netflix|hulu|disney\+?|chase|monzo|revolut|starling)"
)
BOSS_ES = (
    r"(?:director|directora|responsable|gerente|supervisor|supervisora|encargado|encargada|jefe|jefa"
    r"|superior|superiores|coordinador|coordinadora|manager|alguien de arriba|alguien (?:con|que tenga) "
    r"(?:autoridad|poder|capacidad|mando)|alguien que sepa|alguien competente|alguien responsable"
    r"|el departamento de reclamaciones)"
)
ART_ES = (
    r"(?:el |la |un |una |algun |alguna |vuestro |vuestra |tu |su |sus |al |a la |a un |a una |a algun "
    r"|vuestros |los |otro |otra )?"
)
BOSS_EN = (
    r"(?:manager|supervisor|someone senior|somebody senior|someone more senior|someone in charge"
    r"|person in charge|someone with (?:some |the )?authority|someone who (?:knows|can actually|can help"
    r"|has authority|understands)|team lead(?:er)?|boss|superior|higher up|higher-up|director"
    r"|complaints department|complaints team)"
)
ART_EN = r"(?:a |an |the |your |ur |my |someone'?s |somebody'?s |ya )?"
DEST_ES = (
    r"(?:en |a |por )(?:las |los |mis |todas las )?(?:redes(?: sociales)?|twitter|x|tiktok|tik tok|instagram"
    r"|insta|ig|facebook|fb|youtube|internet|todas partes|todos lados|todos los sitios|foros|reddit"
    r"|google|trustpilot|tripadvisor|grupos|canal|seguidores)"
)
REFUND_OBJ = (
    r"(?:dinero|importe|pago|cargo|cobro|euros|pasta|plata|lana|pesos|soles|reales|\d+|lo (?:pagado|cobrado)"
    r"|lo que (?:pague|pagamos|me cobrasteis|me cobraron))"
)
NEG_LEGAL_OBJ = r"(?! (?:el|un|una|la) (?:robo|hurto|extravio|perdida|atraco))"

# Intents: churn, legal, public escalation, escalation request.
INTENTS_ES: list[Rule] = [
    # churn
    ("churn_threat", 0.9, r"medoydebaja"),
    (
        "churn_threat",
        0.9,
        r"(?:me|nos) (?:doy|damos|dare|daremos|(?:voy|vamos|quiero|queremos|pienso|pensamos|tengo que"
        r"|tenemos que|acabo|podeis|podrian|pueden|puedo|podria|gustaria|quisiera) (?:a |de )?dar"
        r"|he dado|hemos dado) de baja",
    ),
    ("churn_threat", 0.9, r"(?:darme|darnos|dame|dadme|denme|deme|darle|darles) de baja"),
    (
        "churn_threat+request:cancellation",
        0.85,
        r"dar de baja (?:el|la|mi|mis|los|las|nuestra|nuestro|este|esta) (?:linea|lineas|contrato|servicio"
        r"|servicios|cuenta|suscripcion|seguro|poliza|fibra|movil|numero|plan|membresia|cuota)",
    ),
    (
        "churn_threat",
        0.9,
        r"(?:solicitar|pedir|tramitar|quiero|solicito|pido|tramitad|tramitame|gestionar|gestionad|cursar"
        r"|cursad|hacer|hacedme|hagan|tramiten) (?:la|mi) baja",
    ),
    (
        "churn_threat",
        0.85,
        r"la baja (?:del|de la|de mi|de mis|de los) (?:contrato|linea|servicio|cuenta|suscripcion|seguro"
        r"|poliza|fibra|membresia|plan)",
    ),
    (
        "churn_threat",
        0.9,
        rf"(?:me|nos) (?:paso|pasamos|pasare|pasaremos|voy a pasar|vamos a pasar|cambio|cambiamos|cambiare"
        r"|voy a cambiar|vamos a cambiar|largo|marcho|voy|vamos|ire|iremos|mudo|mudare|llevo mi numero)"
        r" (?:a|con) (?:la competencia|otra (?:compania|empresa|operadora|marca|aseguradora|entidad|tienda"
        r"|aerolinea|cadena|plataforma|app|comercializadora)|otro (?:banco|operador|proveedor|gimnasio"
        rf"|seguro|sitio|lado|super|supermercado)|{COMP_ES})",
    ),
    (
        "churn_threat",
        0.9,
        r"(?:me |nos )?(?:cambio|cambiamos|cambiare|voy a cambiar|vamos a cambiar|quiero cambiar"
        r"|pienso cambiar|cambiarme|cambiarnos) de (?:compania|operador|operadora|banco|proveedor"
        r"|aseguradora|seguro|gimnasio|empresa|entidad|comercializadora|suministradora|tienda|marca|aerolinea)",
    ),
    (
        "churn_threat",
        0.85,
        rf"(?:cambiarme|pasarme|irme|cambiarnos|pasarnos|irnos) (?:a|con) (?:la competencia|{COMP_ES}"
        r"|otra (?:compania|empresa|operadora|marca|aseguradora|entidad)|otro (?:banco|operador|proveedor))",
    ),
    ("churn_threat", 0.65, r"(?:a|con) la competencia"),
    (
        "churn_threat",
        0.75,
        r"(?:os|les) (?:dejo|dejamos|dejare|voy a dejar|vamos a dejar|abandono)"
        r"(?= ?(?:[.!,]|$|para siempre|de una vez|ya|por (?:la competencia|otr[oa])))",
    ),
    (
        "churn_threat",
        0.85,
        r"(?:perdeis|perdisteis|habeis perdido|han perdido|acabais de perder|acaban de perder|perderan"
        r"|perdereis|van a perder|vais a perder) (?:a )?(?:un|una|otro|otra)? ?(?:cliente|clienta|usuario)",
    ),
    (
        "churn_threat",
        0.8,
        r"(?:no|nunca)(?: mas)? (?:vuelvo|volvere|volveremos|volvemos|pienso volver|voy a volver"
        r"|vamos a volver) a (?:comprar|pedir|volar|contratar|reservar|confiar|usar|pisar|comer|alojarme)",
    ),
    ("churn_threat", 0.8, r"nunca mas (?:os |les )?(?:compro|pido|vuelo|contrato|reservo|uso|piso)"),
    (
        "churn_threat",
        0.7,
        r"(?:ultima|ultimo) (?:vez|pedido|compra|reserva|vuelo) (?:que |q |con )(?:os |les )?(?:compro|pido"
        r"|vuelo|reservo|contrato|vosotros|ustedes)",
    ),
    (
        "churn_threat",
        0.85,
        r"(?:ya )?no (?:quiero|queremos|pienso|voy a) (?:seguir|continuar) (?:con vosotros|con ustedes"
        r"|con esta (?:compania|empresa)|siendo (?:cliente|clienta|socio|socia)|con el contrato"
        r"|con el servicio|con la linea|pagando)",
    ),
    (
        "churn_threat+request:cancellation",
        0.9,
        r"(?:cancelo|cancelamos|cancelare|cancelaremos|cancelar|cancelad|cancelen|cancela|cancelarme|anular"
        r"|anulo|anulad|anulen|rescindir|rescindo|rescindimos|romper|rompo|cerrar|cierro|cerrad|cierren)"
        r" (?:ya |de una vez |hoy )?(?:el|la|mi|mis|los|las|nuestra|nuestro|este|esta) (?:cuenta|cuentas"
        r"|suscripcion|suscripciones|contrato|contratos|plan|linea|lineas|membresia|poliza|seguro|servicio"
        r"|servicios|afiliacion|matricula)",
    ),
    (
        "churn_threat",
        0.75,
        r"portabilidad(?! (?:a|con|hacia|desde) (?:vosotros|ustedes|vuestra|vuestro|su compania|esta))",
    ),
    (
        "churn_threat",
        0.85,
        r"(?:me porto|portarme|portar (?:mi|el) numero|me llevo (?:mi|el) numero|llevarme (?:mi|el) numero)",
    ),
    (
        "churn_threat",
        0.75,
        r"(?:me borro (?:de|del)|borrarme|me desapunto|desapuntarme|me desuscribo|desuscribirme)",
    ),
    ("churn_threat", 0.6, r"hasta nunca|adios para siempre"),
    (
        "churn_threat",
        0.8,
        r"(?:firmo|firmare|contrato|contratare|me voy) con otr[oa](?: compania| operadora| empresa)?",
    ),
    # legal
    (
        "legal_threat",
        0.95,
        r"(?:os|les|lo|la|los|las|te) (?:denuncio|denunciamos|denunciare|denunciaremos|voy a denunciar"
        r"|vamos a denunciar|pienso denunciar|demando|demandamos|demandare|demandaremos|voy a demandar"
        r"|vamos a demandar|llevo a juicio|llevare a juicio|voy a llevar a juicio|llevo a los tribunales"
        r"|voy a llevar a los tribunales|llevare a los tribunales|meto una denuncia|pongo una denuncia"
        r"|pondre una denuncia|voy a poner una denuncia|meto un pleito)",
    ),
    (
        "legal_threat",
        0.9,
        r"(?:denunciaros|denunciarles|denunciarlos|demandaros|demandarles|demandarlos|demandarla|demandarlo)",
    ),
    (
        "legal_threat",
        0.9,
        r"(?:voy|vamos|pienso|pensamos|tengo que|me toca|quiero|estoy por|no me queda otra que) (?:a )?"
        r"(?:denunciar|demandar|reclamar judicialmente|ir a juicio|ir a los tribunales|ir al juzgado"
        rf"|acudir a los tribunales|acudir al juzgado|poner una denuncia|poner una demanda|interponer){NEG_LEGAL_OBJ}",
    ),
    ("legal_threat", 0.85, rf"(?:denunciare|denunciaremos|demandare|demandaremos){NEG_LEGAL_OBJ}"),
    (
        "legal_threat",
        0.85,
        r"(?:poner|pondre|pongo|interponer|interpondre|presentar|presentare|meter|metere) (?:una |la )?"
        r"(?:denuncia|demanda|querella|reclamacion (?:formal|oficial|judicial)|queja formal)"
        r"(?! (?:por|del?) (?:robo|hurto|extravio|perdida|atraco))",
    ),
    (
        "legal_threat",
        0.9,
        r"(?:denuncia|demanda|querella) (?:contra|a) (?:vosotros|ustedes|la empresa|la compania|esta empresa"
        r"|vuestra|su empresa)",
    ),
    ("legal_threat", 0.9, r"demanda (?:colectiva|judicial)"),
    ("legal_threat", 0.95, r"(?:nos vemos|nos veremos) en (?:los )?(?:tribunales|juzgados|juicio)"),
    (
        "legal_threat",
        0.9,
        r"(?:acciones|medidas|accion) (?:legales|legal|judiciales|judicial)|via (?:legal|judicial)"
        r"|emprender acciones",
    ),
    (
        "legal_threat",
        0.85,
        r"(?:mi|un|una|nuestro|el) (?:abogad[oa]|letrad[oa]|procurador)(?: (?:se pondra|se pone|os|les"
        r"|va a|lo|ya|esta al tanto|tiene|llevara)| lo sabe)",
    ),
    (
        "legal_threat",
        0.9,
        r"(?:hablar|hablare|consultar|consultare|contratar|contratare|llamar|llamare|avisar|avisare|buscar"
        r"|buscare|poner|pondre|dejar|dejare|pasar|pasare)(?:lo)? (?:con |a |en manos de )?(?:mi|un|una|a mi"
        r"|a un|mis) (?:abogad[oa]s?|letrad[oa]s?)",
    ),
    ("legal_threat", 0.9, r"en manos de (?:mi|mis|un|una|nuestro|nuestros) (?:abogad[oa]s?|letrad[oa]s?)"),
    ("legal_threat", 0.35, r"abogad[oa]s?|letrad[oa]s?"),
    ("legal_threat", 0.75, r"(?:al|el|los|del|en el) juzgado|(?:a|los) tribunales|a juicio"),
    (
        "legal_threat",
        0.85,
        r"ocu|facua|profeco|sernac|indecopi|condusef|proconsumidor|aspec|adicae|asufin|kontsumobide|omic"
        r"|arbitraje de consumo|junta arbitral|cnmc|setsi|aesa|superintendencia",
    ),
    (
        "legal_threat",
        0.85,
        r"(?:oficina|direccion|instituto|agencia|servicio|junta|departamento) (?:municipal |general "
        r"|provincial )?de (?:informacion al )?consumo",
    ),
    (
        "legal_threat",
        0.85,
        r"(?:ir|ire|voy|vamos|acudir|acudire|denunciar|denunciare|reclamar|reclamare|queja|quejarme|reclamacion"
        r"|denuncia|llevarlo|llamar|llamare|escribir|escribire) (?:a |en |ante )consumo",
    ),
    (
        "legal_threat",
        0.8,
        r"(?:defensa|proteccion|defensoria|derechos) del? (?:los )?consumidor(?:es)?"
        r"|(?:asociacion|organizacion|asociaciones) de consumidores",
    ),
    ("legal_threat", 0.75, r"banco de espana"),
    (
        "legal_threat",
        0.9,
        r"(?:hoja|hojas|libro) de (?:reclamaciones|reclamacion|quejas)",
    ),
    ("legal_threat", 0.6, r"(?:reclamacion|queja) (?:formal|oficial)"),
    (
        "legal_threat",
        0.7,
        r"(?:llamo|llamare|llamar|voy a llamar|vamos a llamar|avisare|aviso|avisar) a (?:la )?(?:policia"
        r"|guardia civil|mossos|ertzaintza|carabineros|patrulla)",
    ),
    # public escalation
    (
        "public_escalation_threat",
        0.9,
        r"(?:lo |la |los |las |esto |todo )?(?:voy a|vamos a|pienso) (?:publicar|subir|colgar|compartir"
        rf"|difundir|contar|poner)(?:lo|la|los|las)? {DEST_ES}",
    ),
    (
        "public_escalation_threat",
        0.9,
        r"(?:lo |la |los |las |esto )?(?:publico|publicare|publicaremos|subo|subire|subiremos|cuelgo"
        rf"|colgare|comparto|compartire|difundo|difundire|cuento|contare|pongo|pondre)(?:lo|la)? {DEST_ES}",
    ),
    (
        "public_escalation_threat",
        0.85,
        r"(?:voy|vamos|pienso) a (?:publicarlo|publicarla|publicar esto|publicar todo|difundirlo|difundir"
        r"|viralizarlo|viralizar|hacer(?:lo)? viral|escrachar|exponer(?:os|les|los)?|denunciarlo publicamente"
        r"|hacer un hilo|ponerlo en redes|ponerlos en redes|poneros en redes)",
    ),
    ("public_escalation_threat", 0.85, r"(?:lo |esto )?(?:publicare|difundire|viralizare)"),
    (
        "public_escalation_threat",
        0.85,
        r"difundid|difundan|difunde|compartid|comparte(?:n)? (?:esto|para)|rt (?:para|porfa|por favor)"
        r"|retuit(?:ead|een)",
    ),
    ("public_escalation_threat", 0.85, r"viraliz\w*|hacer(?:lo|se)? viral|que se haga viral|se haga viral"),
    (
        "public_escalation_threat",
        0.9,
        r"(?:se va a enterar|se enterara|se van a enterar|que se entere|que se enteren|se entere|lo va a saber"
        r"|lo sabra|que lo sepa|lo sepa) (?:todo el mundo|toda espana|todo mexico|todos|todo dios"
        r"|media espana|el mundo entero|todo internet)",
    ),
    ("public_escalation_threat", 0.9, r"todo el mundo se (?:va a enterar|enterara|va a saber)"),
    (
        "public_escalation_threat",
        0.9,
        r"(?:ir|ire|voy|vamos|llevar(?:lo)?|llevare(?:lo)?|lo llevo|acudir|acudire|contactar|contactare"
        r"|llamar|llamare|escribir|escribire|avisar|avisare|contar(?:lo)?|contare(?:lo)?|mandar(?:lo)?"
        r"|mandare(?:lo)?|enviar(?:lo)?|enviare(?:lo)?) (?:a |con )(?:la prensa|los medios(?: de comunicacion)?"
        r"|los periodicos|un periodico|la tele|la television|los periodistas|un periodista|las noticias"
        r"|telecinco|antena ?3|la sexta|el pais|televisa|tv azteca|caracol|rcn|los telediarios)",
    ),
    ("public_escalation_threat", 0.75, r"a (?:la prensa|los medios)"),
    (
        "public_escalation_threat",
        0.85,
        r"(?:resenas?|opiniones|valoraciones|criticas?) (?:negativas?|malas?) (?:en|por) (?:todas partes"
        r"|todos lados|google|todos los sitios|trustpilot|tripadvisor|todas las plataformas)",
    ),
    (
        "public_escalation_threat",
        0.7,
        r"(?:voy a|vamos a|pienso|pondre|dejare|escribire) (?:poner|dejar|escribir)? ?(?:os |les )?(?:una "
        r"|unas )?(?:mala |malas |pesima |pesimas )?(?:resena|resenas|valoracion|critica)"
        r"(?! (?:buen|genial|positiv|de 5|de cinco|excelente))",
    ),
    (
        "public_escalation_threat",
        0.8,
        r"(?:una|1) estrella en (?:todas partes|todos lados|google|todos los sitios)",
    ),
    ("public_escalation_threat", 0.85, r"boicot\w*|boicotear"),
    ("public_escalation_threat", 0.85, r"escrach\w*|quemar(?:os|les)? en redes"),
    # escalation request
    (
        "escalation_request",
        0.9,
        r"(?:quiero|queremos|exijo|exigimos|necesito|necesitamos|quisiera|me gustaria|deseo|solicito|pido"
        r"|puedo|podria|dejadme|dejenme) (?:hablar|contactar|comunicarme|que me atienda|que me pasen"
        rf"|que me llame|que me contacte|que me pongan) (?:con )?{ART_ES}{BOSS_ES}",
    ),
    (
        "escalation_request",
        0.9,
        r"(?:pasame|paseme|pasenme|pasadme|pasarme|comunicame|comuniqueme|comuniquenme|ponme|pongame"
        rf"|ponganme|ponedme|derivame|derivenme|derivadme) (?:ya )?con {ART_ES}{BOSS_ES}",
    ),
    (
        "escalation_request",
        0.8,
        rf"(?<!fui a )(?<!fuimos a )(?<!intente )(?:hablar|hablare) con {ART_ES}(?:director|directora"
        r"|responsable|gerente|supervisor|supervisora|encargado|encargada|jefe|jefa|superior|superiores"
        r"|manager|coordinador|coordinadora)",
    ),
    (
        "escalation_request",
        0.85,
        r"(?:que|q) (?:me |nos )?(?:atienda|llame|contacte|conteste|responda|ponga en contacto) "
        r"(?:el |la |un |una |algun |alguna |vuestro |vuestra |su )?(?:director|directora|responsable|gerente"
        r"|supervisor|supervisora|encargado|encargada|jefe|jefa|superior|manager)",
    ),
    (
        "escalation_request",
        0.85,
        r"(?:exijo|exigimos|quiero|queremos) (?:un |una |el |la |al |a un )?(?:responsable|supervisor|supervisora"
        r"|gerente|encargado|encargada|director|directora|jefe|superior)",
    ),
    (
        "escalation_request",
        0.85,
        r"(?:escaladlo|escalenlo|escalarlo|escalad|escalen)|(?:escalar|elevar) (?:mi|la|esta|el|este) "
        r"(?:queja|incidencia|reclamacion|caso|problema|ticket)",
    ),
    (
        "escalation_request",
        0.85,
        r"(?:un|una|el|la|algun|alguna) (?:supervisor|supervisora|responsable|gerente|encargad[oa]|director"
        r"|directora|jefe|jefa|superior) (?:me|nos) (?:llame|contacte|atienda|llamen|conteste)",
    ),
    ("escalation_request", 0.8, r"(?:hablar|hablare) con la direccion"),
    ("escalation_request", 0.55, r"(?:hablar|habla) con (?:un|una) (?:humano|persona(?: real| de verdad)?)"),
]

INTENTS_EN: list[Rule] = [
    # churn
    (
        "churn_threat+request:cancellation",
        0.9,
        r"(?<!you )(?<!they )(?:cancel+(?:ing)?|close|closing|terminate|terminating|end|ending|delete"
        r"|deleting|shut(?:ting)? down) (?:all )?(?:my |our |the |this )?(?:account|acct|subscription|sub|contract"
        r"|membership|plan|policy|broadband|line|package|direct debit|prime|gym membership)s?",
    ),
    (
        "churn_threat",
        0.55,
        r"cancel+ing(?! (?:an?|the|my|our|this|that) (?:order|booking|reservation|flight"
        r"|appointment|delivery|payment|ticket|trip|card))\b",
    ),
    (
        "churn_threat",
        0.75,
        r"switch(?:ing|ed)? (?:over )?to(?= )(?! (?:you|u|ya)\b)(?! (?:the|your|a new|an?) (?:new |other "
        r"|cheaper |better |annual |monthly |premium |basic |unlimited )?(?:plan|tariff|package|bundle"
        r"|version|app|model|mode|account|card|option|phone|device))",
    ),
    (
        "churn_threat",
        0.85,
        r"switch(?:ing)? (?:providers?|suppliers?|banks?|networks?|carriers?|companies|insurers?)",
    ),
    (
        "churn_threat",
        0.85,
        r"(?:mov(?:e|ing)|go(?:ing)?|tak(?:e|ing) my (?:business|money|custom)) (?:to|over to) (?:a )?"
        r"(?:competitor|another (?:provider|company|bank|network|carrier|supplier|airline|store|shop|brand"
        rf"|insurer|gym)|{COMP_EN})",
    ),
    ("churn_threat", 0.9, r"tak(?:e|ing) my (?:business|money|custom) (?:elsewhere|somewhere else)"),
    ("churn_threat", 0.9, r"port(?:ing)? (?:out )?my (?:number|phone number|line)|port(?:ing)? out\b"),
    (
        "churn_threat",
        0.85,
        r"(?:i'?m|i am|we'?re|we are) (?:so |completely |totally |officially |just )?done with (?:you|u|your|this"
        r"|ur)",
    ),
    ("churn_threat", 0.8, r"done with (?:you guys|your company|this company)"),
    (
        "churn_threat",
        0.9,
        r"(?:you'?ve|you have|you just|u just|u have) lost (?:a|another|one|me as a) (?:loyal |long-?time "
        r"|long-?standing )?customer",
    ),
    (
        "churn_threat",
        0.8,
        r"never (?:be )?(?:buying|ordering|shopping|flying|booking|using|renewing|coming back|returning"
        r"|buy|order|shop|fly|book|use)(?: \w+)?(?: (?:from|with) (?:you|u|your company))? again",
    ),
    ("churn_threat", 0.8, r"(?:won'?t|will not|not going to|am not|i'?m not) (?:be )?renew(?:ing)?"),
    ("churn_threat", 0.7, r"last time i (?:buy|order|fly|shop|use|book)"),
    ("churn_threat", 0.6, r"(?:i'?m|we'?re|i am) (?:leaving|quitting)(?: (?:you|for good|your))?"),
    ("churn_threat", 0.6, r"never again|goodbye forever|i'?m done(?= ?(?:[.!]|$))"),
    ("churn_threat", 0.4, r"unsubscrib\w*"),
    # legal
    (
        "legal_threat",
        0.95,
        r"(?:i'?ll|i will|i'?m going to|i'?m gonna|im gonna|gonna|going to|we'?ll|we will|will|we'?re going to"
        r"|planning to|intend to) sue",
    ),
    (
        "legal_threat",
        0.9,
        r"sue (?:you|u|ur|your|the|them|this|that|every|for)|suing (?:you|u|your|the|them)",
    ),
    ("legal_threat", 0.95, r"see you in court"),
    (
        "legal_threat",
        0.95,
        r"take (?:you|u|this|it|them|your company|you guys) to (?:court|small claims|a tribunal|tribunal)",
    ),
    ("legal_threat", 0.85, r"legal (?:action|proceedings|route|steps|advice|team)"),
    ("legal_threat", 0.9, r"lawsuit|class action|small claims"),
    (
        "legal_threat",
        0.8,
        r"trading standards|better business bureau|b{3}|ombudsman|ofcom|ofgem|fca|cfpb|ftc|fcc"
        r"|attorney general|consumer (?:protection|rights|affairs|council)|citizens advice|watchdog",
    ),
    (
        "legal_threat",
        0.8,
        r"chargeback|charge back|dispute (?:the|this) (?:charge|payment|transaction)"
        r"|(?:call|contact|tell) my bank to (?:reverse|dispute)",
    ),
    (
        "legal_threat",
        0.85,
        r"(?:my|our) (?:lawyer|attorney|solicitor|lawyers|attorneys|solicitors)(?: (?:will|is|has|'ll|are"
        r"|already)| (?:be in touch|contact you))",
    ),
    (
        "legal_threat",
        0.9,
        r"(?:contact|call|speak to|speak with|talk to|get|hire|consult|instruct|involve|getting|hiring)"
        r" (?:my |a |an |our )?(?:lawyer|attorney|solicitor|legal team)",
    ),
    ("legal_threat", 0.9, r"lawyer(?:ing)? up"),
    ("legal_threat", 0.35, r"lawyers?|attorneys?|solicitors?"),
    (
        "legal_threat",
        0.85,
        r"report(?:ing)? (?:you|u|this|your company|it|you guys) to (?:the )?(?:\w+ )?(?:police|authorities"
        r"|regulator|ftc|b{3}|fca|ofcom|trading standards|consumer)",
    ),
    (
        "legal_threat",
        0.9,
        r"(?:file|filing|lodge|lodging|make|raise) (?:a )?(?:formal )?(?:complaint|report|claim) (?:with|to)"
        r" (?:the )?(?:b{3}|ftc|fcc|cfpb|ofcom|ofgem|ombudsman|regulator|trading standards|police"
        r"|attorney general|consumer)",
    ),
    ("legal_threat", 0.7, r"(?:call|calling|contact) the (?:police|cops)"),
    ("legal_threat", 0.6, r"formal complaint"),
    # public escalation
    (
        "public_escalation_threat",
        0.9,
        r"(?:go|going|gonna go|will go|i'?ll go|taking this|take this|take it|taking it) to the (?:press|media"
        r"|news|papers|newspapers|bbc|tabloids)",
    ),
    (
        "public_escalation_threat",
        0.85,
        r"(?:contact|contacting|call|calling|tell|telling|email|emailing|tip off|alert) (?:the )?(?:press"
        r"|media|local news|newspapers|journalists?|a journalist|reporters?|bbc|cnn)",
    ),
    ("public_escalation_threat", 0.75, r"going to the press"),
    (
        "public_escalation_threat",
        0.9,
        r"post(?:ing)? (?:this|it|about (?:this|it|you)|the (?:video|photos?|pics?|screenshots?)) (?:everywhere"
        r"|all over|on (?:every|all|social|twitter|x|tiktok|instagram|facebook|reddit|youtube|fb|ig|my))",
    ),
    (
        "public_escalation_threat",
        0.85,
        r"(?:i'?ll|i will|going to|gonna|will) (?:post|share|put|blast|plaster|splash) (?:this|it|you|them"
        r"|the \w+) (?:everywhere|all over|on (?:social|twitter|x|tiktok|instagram|facebook|reddit|youtube))",
    ),
    ("public_escalation_threat", 0.9, r"(?:go|goes|going|make (?:this|it)|making this|gonna go) viral"),
    (
        "public_escalation_threat",
        0.9,
        r"(?:everyone|everybody|the (?:whole )?world|all my (?:followers|friends)|the internet) (?:will"
        r"|is going to|'s going to|gonna) (?:know|hear|find out|see)",
    ),
    (
        "public_escalation_threat",
        0.75,
        r"tell (?:everyone|everybody|all my (?:friends|followers)|the world)(?! how (?:great|good|amazing"
        r"|lovely|brilliant))",
    ),
    (
        "public_escalation_threat",
        0.85,
        r"(?:write|writing|leave|leaving|post|posting|put) (?:a |an )?(?:bad |terrible |awful |scathing "
        r"|negative |1-star |one-star |1 star |one star )?reviews? (?:everywhere|on every|all over)",
    ),
    ("public_escalation_threat", 0.85, r"(?:1|one)[- ]star (?:reviews? )?everywhere"),
    ("public_escalation_threat", 0.85, r"boycott\w*"),
    (
        "public_escalation_threat",
        0.8,
        r"(?:share|sharing|spread|retweet|rt) (?:this|it) (?:everywhere|with everyone|far and wide|widely)"
        r"|please (?:share|rt|retweet)|(?:rt|retweet|share) (?:please|plz|pls)",
    ),
    ("public_escalation_threat", 0.85, r"name and shame|expose (?:you|your|this)|exposing you"),
    # escalation request
    ("escalation_request", 0.9, rf"(?:speak|talk|chat) (?:to|with) {ART_EN}{BOSS_EN}"),
    (
        "escalation_request",
        0.9,
        r"(?:get|put|transfer|pass|connect|escalate) (?:me )?(?:through )?(?:to |with )?(?:a |an |the |your "
        r"|ur )?(?:manager|supervisor|someone senior|someone in charge|team lead(?:er)?|boss|superior)",
    ),
    (
        "escalation_request",
        0.9,
        r"(?:i want|i need|i demand|i'?d like|give me|let me (?:speak|talk) to|can i (?:have|get|speak to"
        r"|talk to)|may i speak to|could i speak to) (?:a |an |the |your |ur )?(?:manager|supervisor"
        r"|someone senior|someone in charge|team lead(?:er)?|boss|superior|higher up)",
    ),
    ("escalation_request", 0.85, r"escalat(?:e|ing) (?:this|it|my|the|our|that)|escalation|escalate\b"),
    ("escalation_request", 0.8, r"(?:manager|supervisor)[,!]? (?:please|pls|plz|now|asap)"),
    ("escalation_request", 0.85, r"(?:be|get (?:this|it)|have (?:this|it)|want (?:this|it)) escalated"),
    (
        "escalation_request",
        0.55,
        r"(?:speak|talk|chat) (?:to|with) (?:a |an )?(?:human|real person"
        r"|actual person|real human|person)",
    ),
]

REQUESTS_ES: list[Rule] = [
    ("request:refund", 0.9, r"reembols\w*"),
    (
        "request:refund",
        0.85,
        r"(?:devolucion|abono|reintegro|restitucion) (?:del|de la|de lo|de los|de mi|de mis|de) (?:dinero"
        r"|importe|pago|cargo|cobro|cantidad|cobrado|pagado|euros|coste|precio)",
    ),
    (
        "request:refund",
        0.9,
        r"(?:devolved|devuelvan|devuelvanme|devolvedme|devuelvame|devuelveme|devolverme|devolvernos|devolvais"
        r"|devolvieran|devolvierais|devuelvas|devuelva|devolver|abonen|abonadme|abonenme|reintegren) "
        rf"(?:(?:me|nos|el|mi|mis|los|la|lo|todo el|todo) )*{REFUND_OBJ}",
    ),
    (
        "request:refund",
        0.85,
        r"(?:que me|me) (?:devuelvan|devolvais|devuelva|devuelvas|devolvieran) (?:el|mi|lo|la|los)",
    ),
    (
        "request:refund",
        0.85,
        r"(?:quiero|queremos|exijo|exigimos|necesito|quisiera) (?:mi|el|nuestro) dinero",
    ),
    (
        "request:refund",
        0.6,
        r"(?:quiero|queria|quisiera|necesito|como puedo|puedo|me gustaria) devolver (?:el|la|los|las|este|esta"
        r"|mi|mis|un|una) \w+",
    ),
    ("request:refund", 0.4, r"devoluci(?:on|ones)"),
    (
        "request:replacement",
        0.85,
        r"(?:cambio|cambiar(?:lo|la|los|las|melo|mela|me)?|cambien(?:lo|la|melo|mela)?|cambiad(?:lo|la|melo"
        r"|mela)?|cambiais|cambieis|cambies|cambie)(?: \w+){0,3} (?:por|x) (?:otr[oa]s?|uno nuevo|una nueva|unos nuevos"
        r"|unas nuevas|un[oa]? que funcione|la talla|el modelo|el correcto|la correcta|uno bien)",
    ),
    (
        "request:replacement",
        0.8,
        r"reposicion|reponer(?:lo|la|me)?|repongan|reponed|sustitu\w*|reemplaz\w*|recambio",
    ),
    (
        "request:replacement",
        0.85,
        r"(?:mandeis|envieis|manden|envien|mandais|enviais|mandad|enviad|mandadme|enviadme|mandenme|envienme"
        r"|mandarme|enviarme|mandar|enviar|mandarnos|enviarnos|mande|envie) (?:otr[oa]|uno nuevo|una nueva"
        r"|uno que funcione|una que funcione"
        r"|el correcto|la correcta|el bueno|la buena)",
    ),
    ("request:repair", 0.85, r"reparaci\w*|repar(?:ar|en|eis|ad|e)(?:lo|la|los|las|melo|mela|me)?\b"),
    ("request:repair", 0.75, r"arregl(?:ar|en|eis|ais|ad(?![oa]))\w*"),
    ("request:repair", 0.5, r"(?:servicio|asistencia|soporte) tecnico"),
    ("request:repair", 0.4, r"garantia"),
    (
        "request:cancellation",
        0.9,
        r"(?:cancel|anul)(?:ar|o|en|eis|ad|adme|enme|ame|arlo|arla|arme|enlo|adlo|a)? (?:(?:el|la|mi|mis|los"
        r"|las|este|esta|ese|esa|nuestro|nuestra|un|una) )?(?:pedido|pedidos|compra|compras|reserva|reservas"
        r"|vuelo|vuelos|billete|billetes|boleto|boletos|orden|ordenes|cita|envio|envios|transferencia|pago"
        r"|cargo|domiciliacion|cobro|viaje|entrada|entradas|tarjeta|encargo)",
    ),
    (
        "request:cancellation",
        0.85,
        r"cancelacion (?:del|de la|de mi|de mis|de los) (?:pedido|reserva|vuelo|compra|cita|billete|viaje)",
    ),
    ("request:cancellation", 0.6, r"cancelacion"),
    (
        "request:appointment",
        0.9,
        r"(?:pedir|solicitar|reservar|agendar|concertar|coger|sacar|programar|darme|darnos|dame|necesito"
        r"|quiero|quisiera|me dan|me deis|me den|tener) (?:una |la |un |el |otra |otro |nueva |nuevo )?"
        r"(?:cita|turno|hora|visita(?: tecnica| del tecnico)?)",
    ),
    (
        "request:appointment",
        0.9,
        r"(?:que venga|que me manden|que envien|que mandeis|que envieis|mandar|enviar|mandad|enviad|manden"
        r"|envien|mandenme|mandadme|mandarme|enviarme) (?:a |al )?(?:un |el |algun |otro )?(?:tecnico|instalador"
        r"|operario|electricista|fontanero|revisor)",
    ),
    (
        "request:appointment",
        0.85,
        r"(?:visita|cita) (?:del|de un|de|con el|con un) (?:tecnico|instalador|operario)",
    ),
    ("request:appointment", 0.8, r"agendar|agendame|agendenme|cita previa"),
    ("request:appointment", 0.5, r"cita"),
    (
        "request:information",
        0.8,
        r"(?:quisiera|queria|quiero|necesito|me gustaria|deseo|necesitaria|podriais darme|me podeis dar"
        r"|me podrian dar|me pueden dar|me dais|me dan) (?:mas )?(?:saber|informacion|info|detalles|conocer"
        r"|consultar|preguntar)",
    ),
    (
        "request:information",
        0.8,
        r"(?:me podeis|me podrias|me podrian|me pueden|me puedes|podeis|pueden|podrian|podrias) (?:decir"
        r"|informar|indicar|explicar|aclarar|confirmar|orientar)",
    ),
    ("request:information", 0.7, r"(?:mas )?informacion (?:sobre|acerca|de|del|para)|info (?:sobre|de|del)"),
]

REQUESTS_EN: list[Rule] = [
    ("request:refund", 0.9, r"refund(?:s|ed|ing)?(?! polic)"),
    ("request:refund", 0.4, r"refund polic\w*"),
    ("request:refund", 0.9, r"money back|reimburs\w*"),
    (
        "request:refund",
        0.85,
        r"(?:give|send|pay) (?:me |us )?(?:back )?(?:my|our|the) (?:money|cash|\$?\d+)|credit (?:back"
        r"|my account|me back)",
    ),
    (
        "request:replacement",
        0.85,
        r"replacement|replace (?:it|this|them|the|my|mine)|send (?:me |us )?(?:a )?(?:new|another|replacement"
        r"|working|correct|the right) (?:one|unit|item|pair|device|phone|router|box)"
        r"|exchange (?:it|this|them|for)|swap (?:it|this|them)(?: for| out)?",
    ),
    (
        "request:repair",
        0.8,
        r"repair\w*|fix (?:it|this|my|the|our|them|that)|get (?:it|this|them|my \w+) fixed|warranty claim",
    ),
    (
        "request:cancellation",
        0.9,
        r"(?<!you )(?<!they )(?<!u )cancel+(?:ing)? (?:(?:my|the|this|our|an?|that) )?(?:order|orders|booking"
        r"|bookings|reservation|reservations|flight|flights|ticket|tickets|trip|delivery|payment|appointment"
        r"|transfer|purchase|card|direct debit)",
    ),
    ("request:cancellation", 0.6, r"cancel+ation"),
    (
        "request:appointment",
        0.9,
        r"(?:book|schedule|arrange|make|get|need|want|request|reschedule|set up) (?:me )?(?:a |an |another "
        r"|the |my )?(?:appointment|engineer(?:'?s)? visit|technician(?:'?s)? visit|home visit|service visit"
        r"|callout|call-out|fitting|installation|slot)",
    ),
    (
        "request:appointment",
        0.85,
        r"send (?:an? |the |someone |somebody )?(?:engineer|technician|tech|electrician|plumber|someone)"
        r" (?:out|round|over|to)",
    ),
    ("request:appointment", 0.6, r"appointment"),
    (
        "request:information",
        0.8,
        r"(?:i'?d like|i would like|i want|i need|looking for|can i get|could i get|please send|can you send"
        r"|could you send) (?:some |more |further )?(?:info|information|details|to know|to find out"
        r"|clarification)",
    ),
    (
        "request:information",
        0.8,
        r"(?:can|could|would) you (?:tell|let me know|explain|confirm|advise|clarify|inform)",
    ),
    ("request:information", 0.7, r"(?:more )?(?:info|information) (?:on|about|regarding)"),
]

TOX_ES: list[Rule] = [
    # threat first: a threat span hides profanity inside it
    (
        "threat",
        0.9,
        r"(?:os|te|le|les|lo|la|los) (?:voy|vamos) a (?:partir|romper|reventar|quemar|matar|destrozar|rajar"
        r"|pegar|buscar|joder la vida|hacer dano|arrancar|apunalar|disparar|dar una paliza|dar de hostias"
        r"|meter una hostia|esperar a la salida)(?! en (?:redes|twitter|internet|las redes))",
    ),
    (
        "threat",
        0.9,
        r"(?:os|te|les?) (?:rompo|parto|reviento|quemo|mato|destrozo|rajo|pego|arranco|meto una hostia"
        r"|meto un par de hostias|doy una paliza)(?! en (?:redes|twitter|internet|las redes))",
    ),
    (
        "threat",
        0.9,
        r"(?:voy a|vamos a|os|les|le|te)? ?(?:quemar|romper|reventar|destrozar|incendiar|prender fuego a"
        r"|quemarle|quemaros|romperos|reventaros) (?:la|el|vuestra|vuestro|su|tu|sus|vuestras|vuestros|los"
        r"|las) (?:tienda|tiendas|local|oficina|oficinas|escaparate|escaparates|coche|casa|cara|sucursal"
        r"|establecimiento|instalaciones|cristales|ventanas|puerta|furgoneta|boca|cabeza|morros)",
    ),
    ("threat", 0.85, r"prender(?:le|les|os)? fuego|pegar(?:le|les|os)? fuego"),
    (
        "threat",
        0.9,
        r"(?:partir|romper|reventar)(?:te|os|le|les) (?:la cara|la boca|la cabeza|los dientes|las piernas)",
    ),
    ("threat", 0.8, r"a (?:hostias|ostias|golpes|palos|tiros|punetazos|patadas)"),
    ("threat", 0.9, r"se donde (?:vivis|vives|viven|vive|trabajas|trabajais|trabajan)"),
    ("threat", 0.85, r"(?:os|te|les) (?:espero|esperamos) (?:a la salida|en la puerta|fuera)"),
    ("threat", 0.7, r"(?:vas|vais|van) a acabar mal|os va a pasar algo|te va a pasar algo"),
    # insult
    (
        "insult",
        0.95,
        r"me cago en (?:vuestr[ao]s?|tus?|sus?|la) (?:madre|muertos|puta madre|familia|estampa|padre)"
        r"|la madre que (?:os|te|les) pario|(?:la )?concha de (?:tu|su) madre|hij[oa]s? de (?:puta|perra)"
        r"|hdp|malparid[oa]s?|mal nacid[oa]s?|malnacid[oa]s?",
    ),
    (
        "insult",
        0.9,
        r"(?:sois|son|eres|es usted|sos|vaya panda de|panda de|banda de|pandilla de|atajo de|manada de|hatajo"
        r" de|menudos|menudas) (?:unos |unas |una |un )?(?:mierdas?|inutiles|inutil|ladrones|estafadores"
        r"|sinverguenzas|incompetentes|payasos|basura|gentuza|chorizos|ratas|cerdos|idiotas|imbeciles"
        r"|subnormales|retrasados|cabrones|pendejos|mamones|pringados|mamarrachos|tarados|ineptos|patanes"
        r"|rateros|culeros|pelotudos|boludos|cojudos|huevones|weones|giles|mentirosos|timadores"
        r"|desgraciados|miserables|lo peor|escoria|ignorantes|analfabetos|zoquetes|gilipollas|capullos"
        r"|canallas|bandidos|delincuentes|mafiosos|sanguijuelas|vagos)",
    ),
    (
        "insult",
        0.85,
        r"gilipollas|pendej[oa]s?|cabron(?:es|a|as)?|imbeciles|subnormales|capull[oa]s|mamones|culeros"
        r"|pelotudos|conchudos|careverga|gonorreas|ojetes|mamarrachos|malparidos|desgraciados|sinverguenzas"
        r"|estafadores|timadores|ineptos|payasos",
    ),
    (
        "insult",
        0.75,
        r"(?<!unos )ladrones(?! (?:me|nos|le|les|entraron|robaron|se llevaron))|rateros|chorizos|inutiles"
        r"|(?<!me siento )(?<!soy )(?<!sentir )(?:idiotas?|imbecil|estupidos)|incompetentes|mentirosos"
        r"|huevones|weones|boludos|cojudos|chantas",
    ),
    (
        "insult",
        0.85,
        r"(?:es|son|era|eran) (?:un|una|unos|unas) (?:estafador|estafadora|chanta|chantas|maleducad[oa]s?"
        r"|ladron|ladrona|inutil|incompetente|sinverguenza|impresentable|payaso|idiota|imbecil|groser[oa]s?"
        r"|animal|animales|mentiros[oa]|caradura|jeta|ratero|ratera)",
    ),
    (
        "insult",
        0.8,
        r"(?:gente|personal|empleados|atencion|panda|agentes|trabajadores) de mierda|(?:que )?os den",
    ),
    # profanity
    (
        "profanity",
        0.9,
        r"me cago en|cago en|joder|jodid[oa]s?|jodan|puta madre|chingad[oa]s?|chingar\w*|chingue\w*",
    ),
    (
        "profanity",
        0.85,
        r"hostias?|ostias?|mierdas?|carajo|cojones|verga|no mames|conchetumare|ctm|la concha de la lora",
    ),
    ("profanity", 0.8, r"put[oa]s?|cono|jode|cagada|me cago|pinche|manda huevos|leches"),
    ("profanity", 0.6, r"maldita sea|maldit[oa]s?|mecachis|diantres|caray|porras|mierdero"),
]

TOX_EN: list[Rule] = [
    (
        "threat",
        0.9,
        r"(?:i'?ll|i will|i'?m going to|i'?m gonna|im gonna|gonna|going to|we'?ll|we will) (?:come down there"
        r" and )?(?:smash|kill|burn|hurt|break|beat|punch|stab|shoot|destroy|wreck|trash|torch|find|bomb)"
        r" (?:you|your|ur|the|this|every|down|them|u|up)",
    ),
    (
        "threat",
        0.9,
        r"burn (?:the|your|this|ur) (?:store|shop|office|place|building|branch|house)(?: down)?"
        r"|smash (?:the|your|ur) (?:windows?|store|shop|face|head|office|car)",
    ),
    ("threat", 0.9, r"i know where you (?:live|work)|watch your back|kick (?:your|ur) (?:ass|arse|butt)"),
    (
        "threat",
        0.85,
        r"beat (?:you|u|the \w+ out of you) (?:up|senseless)|(?:put|send) you in (?:the )?hospital",
    ),
    ("threat", 0.6, r"you'?(?:ll| will) (?:regret|pay for) (?:this|it)"),
    (
        "insult",
        0.9,
        r"(?:you(?:'re| are)?|ur|u r|you guys are|you lot are|your (?:staff|agents|people) are|bunch of|pack of"
        r"|load of) (?:a |an |such |so |all |total |complete |absolute |fucking |bloody )?(?:useless|incompetent"
        r"|a joke|pathetic|clowns|idiots|morons|thieves|scammers|crooks|liars|imbeciles|losers|dumb|stupid"
        r"|muppets|jokers|frauds|criminals|animals|cowboys|rubbish|garbage|trash|a disgrace|scum|bastards)",
    ),
    (
        "insult",
        0.85,
        r"(?:fuck|f\*+k|screw|fk|frick) (?:you|u|ya|off)|piss off|stfu|shut up|you suck|u suck|go to hell",
    ),
    (
        "insult",
        0.85,
        r"idiots|morons|imbeciles|scammers|crooks|assholes|arseholes|bastards|dickheads|wankers|pricks|jerks"
        r"|numpties|muppets|clowns|scumbags",
    ),
    (
        "insult",
        0.7,
        r"(?<!like an )(?<!i'm an )(?<!im an )(?<!i am an )(?:idiot|moron)\b|thieves|liars|losers",
    ),
    ("insult", 0.6, r"incompetent|useless (?:people|staff|agents|bunch|lot|company|idiots|customer service)"),
    ("profanity", 0.95, r"f(?:u|\*+|@)c?k(?:ing|in|ed|er|ers|s)?|fkn|fking|fcking|motherf\w*|effing"),
    ("profanity", 0.9, r"wtf|ffs|omfg|shit\w*|sh\*t|bullshit|goddamn\w*|shite|bollocks|jfc|fml"),
    ("profanity", 0.7, r"damn\w*|crap\w*|bloody|what the hell|the hell|hell of|bs|pissed|bugger|arse"),
]

URGENCY_ES: list[Rule] = [
    (
        "urgency:days_without_service",
        0.9,
        rf"(?:(?:llevo|llevamos|lleva|llevan|van|hace|desde hace|ya son|ya van|mas de|casi) (?:mas de |casi )?)?"
        rf"(?:{NUM_ES} )?(?:dias|semanas|meses|semana|mes) (?:enter[oa]s? )?sin (?:(?:el|la|los|las|mi|nuestro"
        rf"|nuestra|tener) )?(?:{SERV_ES}|poder \w+)",
    ),
    (
        "urgency:days_without_service",
        0.8,
        rf"(?:toda la semana|todo el (?:dia|finde|fin de semana|mes)) sin (?:(?:el|la|mi) )?{SERV_ES}",
    ),
    ("urgency:days_without_service", 0.6, rf"{NUM_ES} horas sin (?:(?:el|la|mi) )?{SERV_ES}"),
    (
        "urgency:days_without_service",
        0.85,
        rf"(?:sin|no (?:tengo|tenemos|hay|funciona|me funciona)) (?:el |la |mi )?{SERV_ES} desde (?:hace "
        rf"(?:{NUM_ES} )?(?:dias|semanas|meses)|el {DAYS_ES}|el pasado {DAYS_ES}|el \d+|ayer|anteayer"
        r"|antes de ayer|la semana pasada|el mes pasado)",
    ),
    (
        "urgency:days_without_service",
        0.85,
        rf"(?:la |el |mi )?{SERV_ES} (?:lleva|llevan) (?:{NUM_ES} )?(?:dias|semanas|meses)(?: (?:caid[oa]s?"
        r"|sin funcionar|cortad[oa]s?|fuera de servicio|sin ir))?",
    ),
    (
        "urgency:double_charge",
        0.9,
        r"(?:cobrado|cobrais|cobrasteis|cobraron|cobran|cargado|cargaron|cargasteis|pasado|pasaron|cobro|cargo)"
        r" (?:el recibo |la factura |el pago |la cuota )?(?:dos|2|tres|3|varias) veces|doble cobro|cobro doble"
        r"|(?:cobro|cargo|pago|recibo)s? duplicad[oa]s?|me (?:cobraron|cobrasteis|habeis cobrado|han cobrado)"
        r" doble|cobrado (?:de mas|doble)",
    ),
    (
        "urgency:money_blocked",
        0.85,
        r"(?:cuenta|tarjeta|dinero|saldo|transferencia|nomina|fondos|pago) (?:esta |sigue |ha sido )?(?:bloquead"
        r"[oa]s?|retenid[oa]s?|congelad[oa]s?|embargad[oa]s?)|(?:me )?(?:habeis|han) bloqueado (?:la|mi) "
        r"(?:cuenta|tarjeta)|no puedo (?:sacar|acceder a|retirar|usar|mover) (?:mi |el )?(?:dinero|saldo"
        r"|cuenta|nomina)|sin (?:acceso a )?(?:mi )?dinero",
    ),
    (
        "urgency:deadline",
        0.85,
        rf"(?:mi |el |la |nuestro |nuestra )?{EVENTS_ES} (?:es |sale |seria |sera |empieza )?{WHEN_ES}",
    ),
    (
        "urgency:deadline",
        0.85,
        rf"{WHEN_ES} (?:es |tengo |tenemos )?(?:mi |la |el |nuestra |nuestro )?(?:{EVENTS_ES}|me caso"
        r"|nos casamos|viajo|vuelo|me opero|salgo de viaje|me mudo)",
    ),
    (
        "urgency:deadline",
        0.85,
        rf"(?:me caso|nos casamos|viajo|vuelo|salgo|me opero|me mudo|me voy de viaje) {WHEN_ES}",
    ),
    (
        "urgency:deadline",
        0.8,
        rf"(?:lo |la |los |las )?(?:necesito|necesitamos|hace falta) (?:\w+ )?(?:para|antes de|antes del) "
        rf"(?:{WHEN_ES}|manana)",
    ),
    ("urgency:deadline", 0.7, rf"antes del? (?:{DAYS_ES}|manana|fin de semana|finde|dia \d+|\d+ de \w+)"),
    ("urgency:explicit", 0.5, r"urgente|urgencia|cuanto antes|lo antes posible|asap|hoy mismo|ya mismo"),
    (
        "urgency:vulnerable_customer",
        0.9,
        r"(?:mi |mis )?(?:madre|padre|abuela|abuelo|abuelos|padres|mama|papa|suegra|suegro|tia|tio|vecina"
        r"|vecino) (?:de |tiene |con )?\d{2,3} anos",
    ),
    (
        "urgency:vulnerable_customer",
        0.85,
        r"(?:persona|personas|senora|senor|gente|madre|padre|abuela|abuelo) (?:mayor|mayores|anciana|anciano"
        r"|dependiente|enferma|enfermo)|ancian[oa]s?|pensionista",
    ),
    (
        "urgency:vulnerable_customer",
        0.85,
        r"(?:tengo|tenemos|con) (?:un |una |mi |dos |a mi )?(?:bebe|bebes|bebito|bebita|recien nacid[oa]"
        r"|nino pequeno|hijo pequeno|hija pequena|ninos pequenos|hijos pequenos)|(?:el|mi|un|del|al|nuestro)"
        r" (?:bebe|bebito|bebita)|recien nacid[oa]",
    ),
    (
        "urgency:vulnerable_customer",
        0.85,
        r"(?:estoy|esta|estamos|ando) (?:muy )?(?:enferm[oa]s?|embarazada|ingresad[oa]|hospitalizad[oa]"
        r"|convaleciente|de baja medica|en silla de ruedas|en tratamiento|recien operad[oa])",
    ),
    (
        "urgency:vulnerable_customer",
        0.8,
        r"embarazada|discapacidad|discapacitad[oa]s?|minusvalid[oa]|movilidad reducida|dialisis|oxigeno"
        r"|quimio\w*|marcapasos|insulina|silla de ruedas|alzheimer|oncologic[oa]|respirador"
        r"|enfermedad cronica|enferm[oa] cronic[oa]|dependiente",
    ),
    (
        "urgency:repeated_contact",
        0.9,
        rf"(?:segunda|tercera|cuarta|quinta|sexta|septima|enesima|milesima|\d+a?|{NUM_ES}) (?:vez|veces)"
        r" (?:que|q) (?:\w+ ){0,2}?(?:llamo|llamado|llamamos|escribo|escrito|escribimos|reclamo|reclamado"
        r"|contacto|contactado|pregunto|preguntado|pido|pedido|mando|envio|me quejo|pongo)",
    ),
    (
        "urgency:repeated_contact",
        0.9,
        r"(?:he|os he|les he|hemos|os hemos|ya he|ya os he|ya les he) (?:llamado|escrito|reclamado|contactado"
        rf"|enviado|mandado|preguntado|pedido)(?: \w+){{0,3}}? (?:{NUM_ES}|mil|un monton de|cien|infinitas"
        r"|demasiadas) veces",
    ),
    (
        "urgency:repeated_contact",
        0.85,
        rf"(?:llevo|llevamos) (?:mas de )?(?:{NUM_ES} )?(?:dias|semanas|meses|horas) (?:llamando|escribiendo"
        r"|reclamando|esperando|intentando|detras|pidiendo|peleando)",
    ),
    (
        "urgency:repeated_contact",
        0.8,
        r"nadie (?:me |nos )?(?:contesta|responde|hace caso|llama|dice nada|da solucion|soluciona|atiende"
        r"|coge el telefono)|no (?:me |nos )?(?:contestais|respondeis|contestan|responden|haceis caso|hacen caso"
        r"|cogeis el telefono|devolveis la llamada)",
    ),
    (
        "urgency:repeated_contact",
        0.7,
        r"sin (?:ninguna |obtener |tener )?respuesta|ni una respuesta|sigo esperando",
    ),
    (
        "urgency:safety",
        0.95,
        r"(?:huele|olor|oler|apesta|huelo) a (?:gas|quemado|humo)|(?:fuga|escape) de gas",
    ),
    (
        "urgency:safety",
        0.9,
        r"cables? (?:pelad[oa]s?|suelt[oa]s?|al aire|expuest[oa]s?|colgando)|monoxido"
        r"|peligro de (?:incendio|electrocucion|explosion)",
    ),
    (
        "urgency:safety",
        0.85,
        r"chispas|chispazo|cortocircuito|corto circuito|descarga electrica|calambrazo|me dio corriente"
        r"|da corriente|electrocut\w*",
    ),
    (
        "urgency:safety",
        0.9,
        r"(?:salio|sale|salen|salia|saliendo|echa|echaba|echando|hay|empezo a echar|empezo a salir|prendio"
        r"|cogio|agarro) (?:fuego|humo|llamas|chispas)|incendio|en llamas|se (?:incendio|prendio fuego)"
        r"|exploto|explosion",
    ),
    ("urgency:safety", 0.6, r"fuego|humo|ardiendo|inundad[oa]|inundacion|se sobrecalienta|es un peligro"),
]

URGENCY_EN: list[Rule] = [
    (
        "urgency:days_without_service",
        0.9,
        rf"(?:{NUM_EN} |over (?:a |{NUM_EN} )?|almost (?:a |{NUM_EN} )?)?(?:days?|weeks?|months?) (?:now )?"
        rf"(?:without|with no|w/o|w/out|no) (?:any )?{SERV_EN}",
    ),
    (
        "urgency:days_without_service",
        0.9,
        rf"(?:without|no) (?:any )?{SERV_EN} (?:for|since) (?:(?:{NUM_EN}|over \w+|almost \w+) (?:days|weeks"
        rf"|months)|(?:last )?{DAYS_EN}|yesterday|last week|the weekend)",
    ),
    (
        "urgency:days_without_service",
        0.9,
        rf"{SERV_EN} (?:has been|'s been|have been|is|was) (?:down|out|off|cut off|not working|dead)"
        rf" (?:for|since) (?:(?:{NUM_EN}|over \w+|almost \w+) (?:days|weeks|months)|(?:last )?{DAYS_EN}"
        r"|yesterday|last week|the weekend)",
    ),
    ("urgency:days_without_service", 0.6, rf"{NUM_EN} hours (?:without|with no|no) (?:any )?{SERV_EN}"),
    (
        "urgency:double_charge",
        0.9,
        r"(?:charged|billed|debited|taken) (?:me |us )?(?:twice|two times|2 times|three times|3 times|double)"
        r"|double[- ]charged|double[- ]billed|duplicate (?:charge|payment|transaction)s?|charged (?:me )?again",
    ),
    (
        "urgency:money_blocked",
        0.85,
        r"(?:account|card|funds|money|payment|transfer|salary|wages) (?:is |are |has been |was |have been )?"
        r"(?:frozen|locked|blocked|on hold|held|stuck|suspended)|(?:frozen|locked|blocked) (?:my )?"
        r"(?:account|card)|can'?t (?:access|withdraw|get to|use) (?:my )?(?:money|funds|account|savings|cash)",
    ),
    ("urgency:deadline", 0.85, rf"(?:my |the |our )?{EVENTS_EN} (?:is |leaves |departs |is on )?{WHEN_EN}"),
    (
        "urgency:deadline",
        0.85,
        rf"(?:i|we)(?:'m|'re| am| are)? (?:fly|flying|travel+ing|leave|leaving|getting married|moving) {WHEN_EN}",
    ),
    (
        "urgency:deadline",
        0.8,
        r"(?:need (?:it|this|them)|needs to be (?:fixed|sorted|done|here|delivered)|must arrive|has to arrive"
        rf"|have to have it) (?:by|before) (?:{WHEN_EN}|{DAYS_EN})",
    ),
    ("urgency:deadline", 0.7, rf"before (?:{DAYS_EN}|tomorrow|the weekend|next week)"),
    ("urgency:explicit", 0.5, r"urgent\w*|asap|as soon as possible|right away|immediately"),
    (
        "urgency:vulnerable_customer",
        0.9,
        r"\d{2,3}[- ]?(?:year[- ]old|yo|y/o) (?:mother|mum|mom|father|dad|grandmother|grandfather|gran|nan"
        r"|grandma|grandpa|parent|parents|neighbou?r|aunt|uncle|lady|man|woman)",
    ),
    (
        "urgency:vulnerable_customer",
        0.8,
        r"elderly|frail|vulnerable|disabled|disability|housebound|bedridden|pensioner|pregnant|newborn"
        r"|new born|terminally ill|chronically ill|(?:a|my|our|the) (?:baby|babies|toddler|infant)",
    ),
    (
        "urgency:vulnerable_customer",
        0.85,
        r"(?:i'?m|i am|he'?s|she'?s|my (?:wife|husband|son|daughter|mother|father|mum|mom|dad) is) (?:very )?"
        r"(?:sick|ill|unwell|in hospital|disabled|pregnant|on oxygen|on dialysis|having chemo|recovering from)",
    ),
    (
        "urgency:vulnerable_customer",
        0.8,
        r"oxygen|dialysis|chemo\w*|wheelchair|medical equipment|life support|insulin|ventilator|nebuli[sz]er"
        r"|dementia|alzheimer'?s",
    ),
    (
        # The same fault again: a breach of expectation however calmly it is said.
        "urgency:repeated_fault",
        0.8,
        r"(?:second|third|fourth|fifth|sixth|\d+(?:st|nd|rd|th)|umpteenth) time (?:today|this week|this month"
        r"|this year|in a row|it'?s? (?:broken|failed|crashed|happened|broke|stopped))",
    ),
    (
        "urgency:repeated_fault",
        0.8,
        rf"(?:segunda|tercera|cuarta|quinta|sexta|septima|enesima|\d+a?|{NUM_ES}) (?:vez|visita|averia)"
        r" (?:hoy|esta semana|este mes|este ano|en un mes|seguida|(?:que|q) (?:\w+ ){0,2}?(?:falla|se rompe"
        r"|se estropea|se cae|se corta|se va|deja de funcionar|vuelve a fallar|pasa|ocurre|sucede|viene|vengo"
        r"|voy|esta en el taller))",
    ),
    (
        "urgency:repeated_contact",
        0.9,
        r"(?:second|third|fourth|fifth|sixth|\d+(?:st|nd|rd|th)|umpteenth|nth|hundredth) time (?:i|i've|ive"
        r"|i'm|im|i have|we|we've|that i|that we|calling|contacting|writing|emailing|asking|chasing|reaching"
        r"|i'?ve)",
    ),
    (
        "urgency:repeated_contact",
        0.9,
        r"(?:called|rang|phoned|emailed|contacted|messaged|written to|written|chased|asked) (?:you |u "
        rf"|your team |them |customer service )?(?:{NUM_EN}|countless|so many|numerous|dozens of|a dozen"
        r"|a million) times",
    ),
    (
        "urgency:repeated_contact",
        0.8,
        r"(?:been )?(?:calling|emailing|chasing|writing|messaging|trying to reach you) (?:you |u )?for "
        rf"(?:{NUM_EN} )?(?:days|weeks|months|ages)",
    ),
    (
        "urgency:repeated_contact",
        0.8,
        r"(?:no one|noone|nobody|no-one) (?:has |ever )?(?:replied|replies|answers|answered|responds|responded"
        r"|got back|gets back|gotten back|called back|calls back|picks up|helps|helped)",
    ),
    (
        "urgency:repeated_contact",
        0.7,
        r"(?:still )?no (?:reply|response|answer|callback|call back)|never (?:got|received|heard) (?:a |any )?"
        r"(?:reply|response|answer|back)|still waiting (?:for|on) (?:a )?(?:reply|response|answer|call)",
    ),
    (
        "urgency:safety",
        0.95,
        r"smell(?:s|ing)? (?:of |like )?(?:gas|burning|smoke)|gas (?:leak|smell)|leaking gas|burning smell"
        r"|carbon monoxide",
    ),
    (
        "urgency:safety",
        0.9,
        r"(?:exposed|bare|loose|live|dangling|sparking) (?:wires?|cables?)|wires? (?:hanging|exposed|sparking)"
        r"|caught fire|catching fire|burst into flames|fire hazard|(?:there'?s|there is|there was) a fire"
        r"|smoke (?:coming|pouring|billowing) (?:out|from)|(?:is|was|started) smoking|full of smoke",
    ),
    (
        "urgency:safety",
        0.85,
        r"sparks|sparking|short circuit|electric shock|electrocut\w*|exploded|explosion",
    ),
    ("urgency:safety", 0.6, r"smoke|overheat\w*|flooded|flooding"),
]

# Rules matched in any language (abbreviations travel).
SHARED: list[Rule] = [
    ("profanity", 0.9, r"wtf|ffs|omfg"),
]


# ---------------------------------------------------------------------------------------------------
# Compilation


def _squeeze_pattern(pattern: str) -> str:
    """Squeeze repeated literal letters as the text is squeezed; a literal space matches whitespace."""
    out: list[str] = []
    prev = ""
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(pattern[i : i + 2])
            prev = ""
            i += 2
            continue
        if ch == " ":
            out.append(r"\s")
            prev = ""
        elif ch.isalpha() and ch == prev:
            pass
        else:
            out.append(ch)
            prev = ch if ch.isalpha() else ""
        i += 1
    return "".join(out)


_sre_parser: Any = importlib.import_module("re._parser")
_sre: Any = importlib.import_module("re._constants")
_PREFIX_LEN = 3
_CLOSED = "\0"
_CATEGORY_CHARS = {"CATEGORY_DIGIT": "0123456789", "CATEGORY_SPACE": " \t\n\r\f\v"}


def _charset(items: list[tuple[Any, Any]]) -> str | None:
    chars = []
    for op, av in items:
        if op is _sre.LITERAL:
            chars.append(chr(av))
        elif op is _sre.RANGE and av[1] - av[0] < 40:
            chars.extend(chr(c) for c in range(av[0], av[1] + 1))
        elif op is _sre.CATEGORY and str(av) in _CATEGORY_CHARS:
            chars.extend(_CATEGORY_CHARS[str(av)])
        else:
            return None
    return "".join(chars)


def _expand(items: Any, prefixes: set[str]) -> set[str]:
    """The possible first `_PREFIX_LEN` characters of a parsed regex, given the prefixes so far;
    a prefix ending in `_CLOSED` stops there (anything may follow)."""
    for op, av in items:
        open_ = {p for p in prefixes if len(p) < _PREFIX_LEN and not p.endswith(_CLOSED)}
        if not open_:
            break
        done = prefixes - open_
        if op is _sre.LITERAL:
            new = {p + chr(av) for p in open_}
        elif op is _sre.IN:
            chars = _charset(av)
            new = {p + _CLOSED for p in open_} if chars is None else {p + c for p in open_ for c in chars}
        elif op in (_sre.AT, _sre.ASSERT, _sre.ASSERT_NOT):
            new = open_
        elif op is _sre.SUBPATTERN:
            new = _expand(av[-1], open_)
        elif op is _sre.BRANCH:
            new = set().union(*(_expand(branch, open_) for branch in av[1]))
        elif op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT):
            low, high, sub = av
            once = _expand(sub, open_)
            if high > 1:  # a second pass could add more; stop the prefix here (safe, just wider)
                once = {p if len(p) >= _PREFIX_LEN else p + _CLOSED for p in once}
            new = once | open_ if low == 0 else once
        else:
            new = {p + _CLOSED for p in open_}
        prefixes = done | new
    return prefixes


def _rule_prefixes(body: str) -> set[str]:
    found = _expand(_sre_parser.parse(body).data, {""})
    return {p.rstrip(_CLOSED) for p in found}


@dataclass(frozen=True)
class _Table:
    """Rules dispatched on the first three folded characters at a word start."""

    bodies: tuple[str, ...]
    rules: tuple[tuple[tuple[str, ...], float], ...]
    buckets: dict[str, tuple[int, ...]]  # prefix (1-3 chars) -> rules that may start there
    any_: tuple[int, ...]

    dispatch: dict[str, re.Pattern[str] | None]  # memo: 3-char prefix -> regex (None: no rule)

    def regex_for(self, prefix: str) -> re.Pattern[str] | None:
        b = self.buckets
        ids = b.get(prefix) or b.get(prefix[:2]) or b.get(prefix[:1]) or self.any_
        regex = _compile_ids(self, ids) if ids else None
        if len(self.dispatch) < 100_000:
            self.dispatch[prefix] = regex
        return regex


_REGEX_CACHE: dict[tuple[int, tuple[int, ...]], re.Pattern[str]] = {}


def _compile_ids(table: _Table, ids: tuple[int, ...]) -> re.Pattern[str]:
    key = (id(table), ids)
    regex = _REGEX_CACHE.get(key)
    if regex is None:
        # An empty marker group at the END names the rule; rules keep their table order (priority).
        regex = re.compile("|".join(f"(?:{table.bodies[i]})(?!\\w)(?P<r{i}>)" for i in ids))
        _REGEX_CACHE[key] = regex
    return regex


def _build_table(rules: list[Rule]) -> _Table:
    bodies = []
    by_prefix: dict[str, list[int]] = {}
    for i, (label, _weight, pattern) in enumerate(rules):
        body = _squeeze_pattern(pattern)
        if re.compile(body).groups:
            raise ValueError(f"capturing group in rule {label}: {pattern}")
        bodies.append(body)
        for prefix in _rule_prefixes(body):
            by_prefix.setdefault(prefix, []).append(i)
    any_ = by_prefix.pop("", [])
    buckets = {}
    for prefix in by_prefix:
        ids = set(any_)
        for n in range(1, len(prefix) + 1):
            ids.update(by_prefix.get(prefix[:n], ()))
        buckets[prefix] = tuple(sorted(ids))
    return _Table(
        bodies=tuple(bodies),
        rules=tuple((tuple(label.split("+")), weight) for label, weight, _ in rules),
        buckets=buckets,
        any_=tuple(any_),
        dispatch={},
    )


# Priority within one word start: threats and insults before profanity, intents, requests, urgency.
_RULESETS: list[tuple[list[Rule], list[Rule]]] = [
    (TOX_ES, TOX_EN),
    (INTENTS_ES, INTENTS_EN),
    (REQUESTS_ES, REQUESTS_EN),
    (URGENCY_ES, URGENCY_EN),
]


@lru_cache(maxsize=4)
def _table(key: str) -> _Table:
    """The rule table for a language key ("es", "en" or "all")."""
    rules: list[Rule] = []
    for es, en in _RULESETS:
        if key != "en":
            rules += es
        if key != "es":
            rules += en
    return _build_table(rules + SHARED)


_WORD_START = re.compile(r"\b\w")


# ---------------------------------------------------------------------------------------------------
# Questions

_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")
_OPENER = re.compile(
    _squeeze_pattern(
        r"[\s¡\"'(-]*(?:(?:y |pero |oye |hola,? )?(?:como (?!siempre|no\b|de costumbre|ya|os dije"
        r"|dije|te dije|les dije)|cuando (?:llega|llegara|vais|van|me|lo|la|abre|abris|podre|puedo|sale|se)"
        r"|donde (?:esta|puedo|se|lo|la|estan)|cual |cuales |por que |porque (?!si\b)|xq |pq |cuanto|cuanta"
        r"|cuantos|cuantas|quien |hay alguna? |puedo |podeis |pueden |podrian |podriais |me podeis |me podrian"
        r"|sabeis |saben |se puede )|(?:how (?:do|does|did|can|could|long|much|many|is|are|come)|when (?:do|does"
        r"|did|will|is|are|can|should)|where (?:do|does|is|are|can)|what (?:do|does|is|are|time|happens|about)"
        r"|why (?:do|does|did|is|are|has|have|was|would|can'?t|won'?t|isn'?t)|which |who (?:do|is|can)"
        r"|can you |could you |can i |could i |do you |does it |is there |are you |will you |would you ))"
    )
)
_POLITE_Q = re.compile(
    _squeeze_pattern(
        r"\b(?:me podeis|me podriais|me podrian|me pueden|me puedes|me podrias) (?:decir|ayudar|confirmar"
        r"|indicar|explicar|informar|aclarar)|\b(?:can|could|would) you (?:tell|please|help|confirm|let me know"
        r"|explain|check)"
    )
)

# ---------------------------------------------------------------------------------------------------
# Negation

_NEGATABLE_PREFIXES = (
    "churn_threat",
    "legal_threat",
    "public_escalation_threat",
    "escalation_request",
    "request:",
    "threat",
)
_NEGATORS = frozenset(
    _words(
        "no nunca jamas tampoco ni sin not never dont don't won't wont cannot can't cant isn't aren't wasn't "
        "didn't didnt doesn't doesnt shouldn't wouldn't without nor no-one"
    )
)
_BRIDGE = frozenset(
    _words(
        """me te se nos os lo la le les quiero queremos quiere voy vamos va a al pienso pensamos piensa tengo
    tenemos intencion ninguna de planeo pretendo estoy estamos para nada por ahora el que hace falta
    necesito puedo podemos quisiera deseo hacer ir todavia aun i i'm im am we we're are is want wanna to
    going gonna plan planning intend will would be have any intention of yet really actually even
    thinking about trying try need it do you u i'll ill we'll"""
    )
)
_CONDITIONAL = frozenset(_words("ya si if unless until cuando"))
_CLAUSE_CUT = re.compile(r"[.,;:!?¿¡\n()]|\b(?:pero|but|sino|and|y|e|o|or|so|asi que)\b")
_WORD = re.compile(r"[a-z']+|[^\sa-z']")
_DONE = re.compile(
    _squeeze_pattern(
        r"\b(?:ya (?:me )?(?:(?:han|habeis|hab[eé]is) )?(?:llego|recibi|hicieron|hecho|devolvieron|devuelto|hicisteis)"
        r"|gracias por (?:el|la|los|las|tramitar)|thanks? (?:you )?for (?:the|my)|(?:got|received) (?:my|the))\b"
    )
)


_MAYBE_NEGATED = re.compile(
    r"\b(?:no|nunca|jamas|tampoco|ni|sin|not|never|without|nor|cannot|no-one)\b|n'?t\b"
)


def _is_negated(folded: str, start: int) -> bool:
    window = folded[max(0, start - 60) : start]
    if not _MAYBE_NEGATED.search(window):
        return False
    ends = [m.end() for m in _CLAUSE_CUT.finditer(window)]
    if ends:
        window = window[ends[-1] :]
    tokens = _WORD.findall(window)
    for i in range(len(tokens) - 1, max(-1, len(tokens) - 7), -1):
        tok = tokens[i]
        if tok in _NEGATORS or tok.endswith("n't"):
            # "ya no quiero seguir" is no negation; nor is a condition ("si no lo arregláis", "if you don't")
            return tok == "ni" or not _CONDITIONAL.intersection(tokens[max(0, i - 3) : i])
        if tok not in _BRIDGE:
            return False
    return False


# ---------------------------------------------------------------------------------------------------
# Public API


def _language_key(language: str | None) -> str:
    if language == "en":
        return "en"
    if language in ("es", "ca", "pt"):
        return "es"
    return "all"


def find_hits(text: str, language: str | None = None) -> list[Hit]:
    """Every rule hit in `text`, sorted by position; spans index the original text."""
    if not text:
        return []
    folded, omap = fold(text)
    key = _language_key(language)
    raw: list[tuple[str, int, int, float]] = []
    table = _table(key)
    dispatch = table.dispatch
    for w in _WORD_START.finditer(folded):
        p = w.start()
        prefix = folded[p : p + 3]
        regex = dispatch[prefix] if prefix in dispatch else table.regex_for(prefix)
        if regex is None:
            continue
        m = regex.match(folded, p)
        if m is None or m.lastgroup is None:
            continue
        labels, weight = table.rules[int(m.lastgroup[1:])]
        for label in labels:
            raw.append((label, p, m.end(), weight))
    raw.extend(_question_hits(folded))
    raw = _prune(raw)

    hits: list[Hit] = []
    for label, s, e, weight in raw:
        negated = label.startswith(_NEGATABLE_PREFIXES) and _is_negated(folded, s)
        if label.startswith("request:") and _DONE.search(folded, max(0, s - 40), s):
            weight = round(weight * 0.4, 3)  # "gracias por el reembolso": already done, not asked
        start, end = omap[s], omap[e]
        hits.append(Hit(label, text[start:end], start, end, weight, negated))
    hits.sort(key=lambda h: (h.start, h.label))
    return hits


def _question_hits(folded: str) -> list[tuple[str, int, int, float]]:
    out: list[tuple[str, int, int, float]] = []
    asks = "?" in folded or "¿" in folded
    for m in _SENTENCE.finditer(folded):
        s, e = m.span()
        sentence = m.group()
        if asks:
            if "?" not in sentence and "¿" not in sentence:
                continue
            while s < e and folded[s] in " \t\r¡\"'(":
                s += 1
            e = s + len(sentence.rstrip(".! ")) - (s - m.start())
            rhetorical = "!" in sentence[e - m.start() :] or folded[s - 1 : s] == "¡" or "¡" in sentence[:3]
            out.append(("question", s, e, 0.6 if rhetorical else 0.9))
        else:
            q = _OPENER.match(folded, s)
            if q is not None:
                while s < e and not folded[s].isalnum():
                    s += 1
                out.append(("question", s, min(e, s + 160), 0.5))
    if not asks:
        out.extend(("question", m.start(), m.end(), 0.6) for m in _POLITE_Q.finditer(folded))
    return out


def _prune(raw: list[tuple[str, int, int, float]]) -> list[tuple[str, int, int, float]]:
    """Merge overlapping hits of one label (max weight) and drop profanity inside an insult or threat."""
    raw.sort(key=lambda r: (r[1], -r[2]))
    merged: list[list[Any]] = []
    last: dict[str, list[Any]] = {}
    for label, s, e, w in raw:
        prev = last.get(label)
        if prev is not None and s < prev[2]:
            prev[2] = max(prev[2], e)
            prev[3] = max(prev[3], w)
            continue
        item = [label, s, e, w]
        merged.append(item)
        last[label] = item
    shields = [(s, e) for label, s, e, _ in merged if label in ("insult", "threat")]
    return [
        (label, s, e, w)
        for label, s, e, w in merged
        if label != "profanity" or not any(ks <= s and e <= ke for ks, ke in shields)
    ]


_REASON_ORDER = (
    "safety",
    "vulnerable_customer",
    "days_without_service",
    "money_blocked",
    "double_charge",
    "repeated_fault",
    "deadline",
    "repeated_contact",
    "explicit",
)


def urgency_reasons(text: str, hits: list[Hit]) -> list[str]:
    """Short reasons such as "days_without_service: 'llevo 5 días sin fibra'", strongest kind first,
    one per kind; only positive urgency hits count."""
    best: dict[str, Hit] = {}
    for hit in hits:
        if not hit.label.startswith("urgency:") or not is_positive(hit):
            continue
        code = hit.label.split(":", 1)[1]
        if code not in best or hit.weight > best[code].weight:
            best[code] = hit
    reasons = []
    for code in sorted(best, key=lambda c: _REASON_ORDER.index(c) if c in _REASON_ORDER else 99):
        hit = best[code]
        snippet = text[hit.start : hit.end] if 0 <= hit.start <= hit.end <= len(text) else hit.text
        if len(snippet) > 60:
            snippet = snippet[:57] + "..."
        reasons.append(f"{code}: '{snippet}'")
    return reasons
