"""Tone guard: reviews an agent's reply draft before it is sent.

Curated Spanish/English patterns over an accent-folded copy of the draft (same length, so spans map
straight back), with quoted customer words masked out, clause-level negation and reported-speech
checks, and a small amount extractor for promises beyond the agent's authority. Offline, no model.

    review_reply("Pues si no te gusta no vengas, pesado.").ok  # False
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, Field

Kind = Literal["contempt", "insult", "blame", "dismissive", "sarcasm", "unauthorized_promise", "profanity"]
Severity = Literal["block", "warn"]


class ReplyContext(BaseModel):
    language: str | None = None
    customer_name: str | None = None
    agent_role: str | None = None
    max_compensation: float | None = None
    may_promise_dates: bool = True


class ToneFlag(BaseModel):
    kind: Kind
    text: str
    start: int
    end: int
    severity: Severity
    explanation: str
    suggestion: str


class ReplyReview(BaseModel):
    ok: bool
    language: str
    flags: list[ToneFlag] = Field(default_factory=list)
    score: float


# --------------------------------------------------------------------------------------------------
# Text preparation


def fold(text: str) -> str:
    """Lowercase, accents removed, one output char per input char (so offsets stay valid)."""
    out = []
    for ch in text:
        if ch in "ñÑ":
            out.append("ñ")
            continue
        low = ch.lower()
        base = unicodedata.normalize("NFD", low[0])[0] if low else ch
        out.append(base if len(low) == 1 else low[0])
    return "".join(out)


_QUOTES = re.compile(
    r"«[^»\n]{1,300}»|“[^”\n]{1,300}”|„[^“”\n]{1,300}[“”]|\"[^\"\n]{1,300}\"|‘[^’\n]{1,300}’"
    r"|(?<![\w'])'[^'\n]{1,300}?'(?![\w])"
)
# Quoted customer email under the reply: "> ..." lines and everything after a reply header.
_QUOTED_MAIL = re.compile(
    r"^[ \t]*>.*$|^-{2,}\s*(?:original message|mensaje original)\s*-{2,}[\s\S]*"
    r"|^(?:on|el) [^\n]{3,120}(?:wrote|escribio):[\s\S]*",
    re.MULTILINE,
)


def _mask(folded: str) -> str:
    """Replace quoted material with '_' (a word char, so no pattern matches across it)."""
    chars = list(folded)
    for rx in (_QUOTED_MAIL, _QUOTES):
        for m in rx.finditer(folded):
            a, b = m.span()
            if rx is _QUOTES:
                a, b = a + 1, b - 1  # keep the quote marks themselves
            for i in range(a, b):
                if chars[i] != "\n":
                    chars[i] = "_"
    return "".join(chars)


_SENT_END = re.compile(r"[.!?…]+[\"'»”)]*(?=\s|$)|\n+")
_CLAUSE_BREAK = re.compile(r"[,;:()]|\b(?:pero|sino|aunque|but|although|however|sin embargo)\b")


def _sentence_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    a = 0
    for m in _SENT_END.finditer(text, 0, start):
        a = m.end()
    m2 = _SENT_END.search(text, end)
    b = m2.end() if m2 else len(text)
    while a < b and text[a].isspace():
        a += 1
    return a, b


def _clause_before(masked: str, start: int, sent_start: int) -> str:
    before = masked[sent_start:start]
    parts = _CLAUSE_BREAK.split(before)
    return parts[-1] if parts else before


# --------------------------------------------------------------------------------------------------
# Language and register

_ES_WORDS = frozenset(
    re.findall(
        r"\S+",
        "el la los las que y es por con su sus para lo le les se del al usted ustedes pero muy ya esto eso "
        "esta este hemos podemos gracias hola si mas como una uno nos ha han sin",
    )
)
_EN_WORDS = frozenset(
    re.findall(
        r"\S+",
        "the to and of you is it that we your for in not this be with have will can our on are please i "
        "it's i'm we're don't can't thanks hi if what as",
    )
)
_WORD = re.compile(r"[a-zñ']+")
_TU = frozenset(
    re.findall(
        r"\S+", "tu tus te ti contigo eres tienes puedes sabes quieres vosotros vosotras os vuestro vos"
    )
)
_USTED = frozenset(["usted", "ustedes", "le", "les", "su", "sus"])


def _guess_language(folded: str, raw: str) -> str:
    words = _WORD.findall(folded)
    es = sum(w in _ES_WORDS for w in words) + 2 * sum(ch in "¿¡ñáéíóú" for ch in raw.lower())
    en = sum(w in _EN_WORDS for w in words)
    if es >= 2 and es >= 2 * en:
        return "es"
    if en >= 2 and en >= 2 * es:
        return "en"
    from cuida.triage.language import detect  # slower (~0.1 ms); only for ambiguous drafts

    lang, _ = detect(raw)
    if lang in ("es", "en"):
        return lang
    return "es" if es >= en else "en"


def _informal(folded: str) -> bool:
    words = _WORD.findall(folded)
    tu = sum(w in _TU for w in words)
    return tu > 0 and tu > sum(w in _USTED for w in words)


# --------------------------------------------------------------------------------------------------
# Rules


@dataclass(frozen=True)
class Advice:
    es: str  # formal (usted)
    es_tu: str  # informal (tú)
    en: str
    sug_es: str
    sug_es_tu: str
    sug_en: str


@dataclass(frozen=True)
class Rule:
    kind: Kind
    severity: Severity
    rx: re.Pattern[str]
    advice: Advice
    negation: re.Pattern[str] | None = None  # skip when the clause before the match matches this
    reported_ok: bool = False  # skip when reporting the customer's words ("usted dice que ...")
    unless_after: re.Pattern[str] | None = None  # skip when the rest of the sentence matches


def _rx(*alternatives: str) -> re.Pattern[str]:
    # One regex per rule; each alternative's span group gets its own name (s0, s1, ...).
    return re.compile(
        "|".join(f"(?:{a.replace('(?P<s>', f'(?P<s{i}>')})" for i, a in enumerate(alternatives))
    )


def _adv(es: str, en: str, sug_es: str, sug_en: str, es_tu: str = "", sug_es_tu: str = "") -> Advice:
    return Advice(es, es_tu or es, en, sug_es, sug_es_tu or sug_es, sug_en)


_NEG = re.compile(
    r"\b(?:no|ni|nunca|jamas|ningun|ninguna|nada|tampoco|en absoluto|not|never|no one|nobody|none"
    r"|isn't|aren't|wasn't|isnt|arent|n't)\b|n't\b"
)
_INSULT_NEG = re.compile(r"\b(?:ningun|ninguna|nadie|nunca|not|never|no one|nobody|isn't|aren't|wasn't)\b")
_REPORTED = re.compile(
    r"\b(?:dice|dices|dijo|dijiste|decia|escribe|escribio|escribiste|comenta|comento|afirma|llama|llamo"
    r"|nos llama|nos llamo|nos ha llamado|menciona|califica|say|says|said|wrote|write|writes|call|called"
    r"|calls|mention|mentioned|describe|described)\b"
)

# Insult words that are abuse on their own (Spain and Latin America, English).
_INSULT_STRONG = (
    r"idiotas?|imbecil(?:es)?|gilipollas|subnormal(?:es)?|estupid[oa]s?|pringad[oa]s?|listill[oa]s?"
    r"|cretin[oa]s?"
    r"|capull[oa]s?|cabron(?:es|a|as)?|boludo?s?|boluda?s?|pelotud[oa]s?|pendej[oa]s?|huevon(?:es|a)?"
    r"|weon(?:es|a)?|gueon(?:es)?|gonorrea|pajer[oa]s?|mamerto?s?|zoquetes?|cenutri[oa]s?|tarad[oa]s?"
    r"|retrasad[oa] mental|mongol[oa]?|anormal(?:es)?|quejica|llorica|lloron(?:a|es)?|tontaina|bobalicon"
    r"|morons?|idiots?|imbeciles?|cretins?|dumbass(?:es)?|dipshit|jackass|asshole|arsehole|dickhead"
    r"|crybaby|douche(?:bag)?|numpty|muppet|nitwit|halfwit|dimwit|bonehead|knobhead|twat|prat|tosser"
)
# Words that insult only when aimed at a person ("un paquete pesado" is fine).
_INSULT_PERSON = (
    r"pesad[oa]s?|pesadit[oa]s?|tont[oa]s?|inutil(?:es)?|ignorantes?|payas[oa]s?|plastas?|pelmas?"
    r"|pelmazos?|cansin[oa]s?|bob[oa]s?|babos[oa]s?|mens[oa]s?|torpes?|patetic[oa]s?|ridicul[oa]s?"
    r"|maleducad[oa]s?|paletos?|catet[oa]s?|necios?|lerd[oa]s?|genio|einstein"
    r"|pest|clown|joke|loser|fool|stupid|dumb|pathetic|ignorant|genius|jerk|nuisance|child|baby|whiner"
    r"|dummy|simpleton|ridiculous|childish|unreasonable|hysterical|infantil|histeric[oa]"
)
_PERSON_FRAME = (
    r"\b(?:eres|es usted|usted es|sois|son ustedes|tu eres|vos sos|sos|no seas|no sea|no sean|no seais"
    r"|menud[oa]|vaya|pedazo de|que|como|you are|you're|youre|ur|you|don't be|dont be|stop being"
    r"|what an?|such an?|you(?:'re| are) being|esta siendo|estas siendo|esta usted siendo|you little"
    r"|you absolute|you complete|you total)"
    r"(?:\s+(?:un|una|unos|unas|muy|tan|mas|a|an|such|so|such an?|complete|total|absolute|real|little"
    r"|bloody|being))*\s+"
)
_VOC_AFTER = r"(?=\s*(?:[.!?…,;]|$))"

_A_INSULT = _adv(
    "Es un insulto dirigido al cliente; nunca debe aparecer en una respuesta.",
    "This insults the customer; it must never appear in a reply.",
    "Entiendo su malestar y quiero ayudarle a resolverlo.",
    "I understand your frustration and I want to help you sort this out.",
    sug_es_tu="Entiendo tu malestar y quiero ayudarte a resolverlo.",
)
_A_INSULT_MILD = _adv(
    "Calificar al cliente o a su pregunta con adjetivos despectivos resulta ofensivo.",
    "Describing the customer or their question in belittling terms is offensive.",
    "Gracias por su pregunta; se lo explico con gusto.",
    "Thanks for the question; I'm happy to explain.",
    sug_es_tu="Gracias por tu pregunta; te lo explico con gusto.",
)
_A_PROFANITY = _adv(
    "Contiene lenguaje malsonante, inapropiado en una respuesta profesional.",
    "Contains profanity, which is inappropriate in a professional reply.",
    "Disculpe, vamos a revisarlo con calma.",
    "Sorry about that, let's look at this carefully.",
    sug_es_tu="Disculpa, vamos a revisarlo con calma.",
)
_A_PROFANITY_MILD = _adv(
    "Expresión malsonante leve; mejor evitarla con clientes.",
    "Mild swearing; better avoided with customers.",
    "Disculpe, me he equivocado; aquí tiene la información correcta.",
    "Sorry, my mistake; here is the correct information.",
    sug_es_tu="Disculpa, me he equivocado; aquí tienes la información correcta.",
)
_A_BLAME = _adv(
    "Culpa al cliente; aunque el error fuera suyo, atribuirle la culpa escala el conflicto.",
    "Blames the customer; even when they erred, assigning blame escalates the conflict.",
    "Veo lo que ha ocurrido; le explico qué opciones tenemos para solucionarlo.",
    "I can see what happened; here are the options we have to fix it.",
    sug_es_tu="Veo lo que ha ocurrido; te explico qué opciones tenemos para solucionarlo.",
)
_A_BLAME_MILD = _adv(
    "Reprocha al cliente lo que debería haber hecho; suena a sermón.",
    "Lectures the customer on what they should have done.",
    "Para otra ocasión, le recomiendo revisar este punto; ahora veamos cómo resolverlo.",
    "For next time, it may help to check this point; for now, let's see how to fix it.",
    sug_es_tu="Para otra ocasión, te recomiendo revisar este punto; ahora veamos cómo resolverlo.",
)
_A_NOT_READ = _adv(
    "Insinúa que el cliente no lee o no entiende; es condescendiente.",
    "Implies the customer can't or didn't read; it is condescending.",
    "Es posible que este punto no quedara claro; le indico dónde encontrarlo: ...",
    "This point may not have been clear; here's where to find it: ...",
    sug_es_tu="Es posible que este punto no quedara claro; te indico dónde encontrarlo: ...",
)
_A_REPEAT = _adv(
    "Recalcar cuántas veces se ha explicado algo es condescendiente.",
    "Stressing how many times something was explained is condescending.",
    "Le resumo de nuevo la información para que la tenga a mano: ...",
    "Here is a quick summary again so you have it to hand: ...",
    sug_es_tu="Te resumo de nuevo la información para que la tengas a mano: ...",
)
_A_REPEAT_MILD = _adv(
    "Puede sonar impaciente; mejor repetir la información sin aludir a la vez anterior.",
    "Can sound impatient; better to restate the information without pointing to the earlier time.",
    "Le confirmo la información: ...",
    "To confirm: ...",
    sug_es_tu="Te confirmo la información: ...",
)
_A_STANDING = _adv(
    "Desprecia al cliente o su criterio; cuestiona su legitimidad para opinar.",
    "Belittles the customer or their standing to raise the point.",
    "Gracias por su observación; la hemos trasladado al equipo técnico para que la valore.",
    "Thank you for the feedback; we've passed it to the technical team to assess.",
    sug_es_tu="Gracias por tu observación; la hemos trasladado al equipo técnico para que la valore.",
)
_A_CONTEMPT = _adv(
    "Tono despectivo hacia el cliente o su reclamación.",
    "Contemptuous toward the customer or their complaint.",
    "Entiendo su reclamación; déjeme revisarla y explicarle lo que podemos hacer.",
    "I understand your complaint; let me review it and explain what we can do.",
    sug_es_tu="Entiendo tu reclamación; déjame revisarla y explicarte lo que podemos hacer.",
)
_A_CONTEMPT_MILD = _adv(
    "Puede sonar condescendiente.",
    "May come across as condescending.",
    "Le explico cómo hacerlo paso a paso.",
    "Here's how to do it step by step.",
    sug_es_tu="Te explico cómo hacerlo paso a paso.",
)
_A_PATRONISING = _adv(
    "Apelativo cariñoso o paternalista; impropio con clientes.",
    "Pet name or patronising address; inappropriate with customers.",
    "Gracias por escribirnos.",
    "Thank you for getting in touch.",
)
_A_NOT_OUR_PROBLEM = _adv(
    "Se desentiende del problema del cliente.",
    "Washes our hands of the customer's problem.",
    "Entiendo la situación; aunque no podamos hacer X, sí podemos ayudarle con Y.",
    "I understand; while we can't do X, we can help you with Y.",
    sug_es_tu="Entiendo la situación; aunque no podamos hacer X, sí podemos ayudarte con Y.",
)
_A_GO_AWAY = _adv(
    "Invita al cliente a irse; es despectivo y provoca bajas.",
    "Tells the customer to go away; dismissive and drives churn.",
    "Siento que no esté satisfecho; ¿me deja proponerle alguna alternativa que se ajuste mejor?",
    "I'm sorry you're not happy; may I suggest an alternative that suits you better?",
    sug_es_tu="Siento que no estés satisfecho; ¿me dejas proponerte alguna alternativa que se ajuste mejor?",
)
_A_CALM = _adv(
    "Pedir al cliente que se calme invalida su enfado y suele empeorarlo.",
    "Telling a customer to calm down dismisses their feelings and usually makes it worse.",
    "Entiendo que esté molesto{voc}, y tiene motivos; vamos a resolverlo.",
    "I understand you're upset{voc}, and with good reason; let's get this fixed.",
    sug_es_tu="Entiendo que estés molesto{voc}, y tienes motivos; vamos a resolverlo.",
)
_A_MINIMISE = _adv(
    "Minimiza el problema del cliente.",
    "Minimises the customer's problem.",
    "Entiendo que para usted es importante; veamos qué podemos hacer.",
    "I understand this matters to you; let's see what we can do.",
    sug_es_tu="Entiendo que para ti es importante; veamos qué podemos hacer.",
)
_A_DISMISSIVE = _adv(
    "Respuesta displicente: cierra la conversación sin ofrecer nada.",
    "Dismissive: closes the conversation without offering anything.",
    "Entiendo su postura; le explico por qué no es posible y qué alternativas tenemos.",
    "I understand your position; let me explain why it isn't possible and what alternatives we have.",
    sug_es_tu="Entiendo tu postura; te explico por qué no es posible y qué alternativas tenemos.",
)
_A_DISMISSIVE_MILD = _adv(
    "Suena seco o resignado; explique el motivo y ofrezca una alternativa.",
    "Sounds curt or resigned; explain the reason and offer an alternative.",
    "Entiendo que no es la respuesta que esperaba; le explico el motivo y qué podemos ofrecerle.",
    "I know it's not the answer you hoped for; here's why and what we can offer.",
    sug_es_tu="Entiendo que no es la respuesta que esperabas; te explico el motivo y qué podemos ofrecerte.",
)
_A_SARCASM = _adv(
    "Sarcasmo: el cliente lo percibirá como burla.",
    "Sarcasm: the customer will read it as mockery.",
    "Gracias por avisarnos; vamos a revisarlo juntos.",
    "Thanks for letting us know; let's look at it together.",
    sug_es_tu="Gracias por avisarnos; vamos a revisarlo juntos.",
)

_MENTION = re.compile(r"\s*(?:no )?(?:es|is|isn't|is not) (?:una|a|not a) (?:palabra|expresion|word|term)\b")


def _rules() -> list[Rule]:
    R: list[Rule] = []

    def add(kind: Kind, sev: Severity, adv: Advice, *alts: str, **kw: object) -> None:
        R.append(Rule(kind, sev, _rx(*alts), adv, **kw))  # type: ignore[arg-type]

    # ---- insults
    add(
        "insult",
        "block",
        _A_INSULT,
        rf"\b(?P<s>{_INSULT_STRONG})\b(?!-proof)",
        r"\b(?P<s>hij[oa]s? de (?:puta|perra)|son of a bitch|piece of (?:shit|crap)|go to hell"
        r"|vete a la mierda"
        r"|vayase a la mierda|que te den|que le den|get lost|piss off|sod off|bugger off|shut up"
        r"|callese|callate|cierre la boca)\b",
        reported_ok=True,
        negation=_INSULT_NEG,
    )
    add(
        "insult",
        "block",
        _A_INSULT,
        rf"{_PERSON_FRAME}(?P<s>{_INSULT_PERSON})\b",
        r"\bso (?P<s>pesad[oa]|tont[oa]|inutil|ignorante|payas[oa]|plasta|pelmazo|cansin[oa]|torpe|babos[oa]"
        r"|lerd[oa])\b",
        reported_ok=True,
        negation=_INSULT_NEG,
    )
    add("insult", "block", _A_INSULT, rf"(?:[,;]|^)\s*(?P<s>{_INSULT_PERSON}){_VOC_AFTER}", reported_ok=True)
    add(
        "insult",
        "block",
        _A_INSULT,
        r"\b(?P<s>(?:vaya|menud[oa]|que) (?:plasta|pesad[oa]|pesadez|pelmazo|cansin[oa]) de (?:cliente"
        r"|señora|señor|tio|tia))\b",
        r"\b(?P<s>stop whining|deja de lloriquear|deje de lloriquear)\b",
    )
    add(
        "contempt",
        "block",
        _A_INSULT_MILD,
        r"\b(?P<s>(?:que|vaya|menuda) (?:pregunta|reclamacion|queja|duda|tonteria) (?:mas |tan )?"
        r"(?:tonta|absurda|estupida|ridicula|chorra))\b",
        r"\b(?P<s>what an? (?:stupid|dumb|silly|idiotic|ridiculous) (?:question|complaint|request|idea))\b",
        r"\b(?P<s>(?:su|tu|vuestra|your) (?:reclamacion|queja|peticion|pregunta|solicitud|argumento"
        r"|complaint|request"
        r"|question|claim|argument) (?:es|son|is|are) (?:\w+ )?(?:ridicul[oa]|absurd[oa]|una tonteria"
        r"|una chorrada"
        r"|una estupidez|patetic[oa]|ridiculous|absurd|nonsense|stupid|silly|pathetic|a joke))\b",
        r"\b(?P<s>(?:eso|esto|lo que dice|lo que usted dice|lo que dices|su reclamacion) (?:es|son) "
        r"(?:una? )?(?:tonteria|tonterias|chorrada|chorradas|estupidez|gilipollez|gilipolleces|paridas?))\b",
        r"\b(?P<s>a prueba de tontos|idiot-proof|fool-proof for idiots)\b",
        negation=_NEG,
    )
    add(
        "contempt",
        "warn",
        _A_PATRONISING,
        r"(?:[,;]|^)\s*(?P<s>carino|guap[oa]|bonit[oa]|reina|mi amor|corazon|mi rey|mija|mijo|honey|sweetie"
        r"|sweetheart|darling|hun|buddy|pal|chief)" + _VOC_AFTER,
    )
    # ---- profanity
    add(
        "profanity",
        "block",
        _A_PROFANITY,
        r"\b(?P<s>mierdas?|joder|jodid[oa]s?|jodan|co[ñn]o|hostias?|ostias?|puta|putas|puto|putos|putada"
        r"|cojones"
        r"|carajo|chingad[oa]s?|chingar|me cago|pinche(?! (?:aqui|aca|en|sobre|el|la|los|las|este|esta|ese"
        r"|esa|dos|y|para|con)\b)|cabronada|verga|mamada|gilipollez|gilipolleces|cagada"
        r"|fuck\w*|f\*+k\w*|shit\w*|sh\*t|bullshit|wtf|ffs|stfu|goddamn\w*|motherf\w+|screw (?:it|you|this)"
        r"|bollocks|arse|ass|pissed off|piss)\b",
    )
    add(
        "profanity",
        "warn",
        _A_PROFANITY_MILD,
        r"\b(?P<s>damn|dammit|crap|crappy|bloody|hell|maldit[oa]s?|hasta las narices|que narices)\b",
    )
    # ---- blame
    add(
        "blame",
        "block",
        _A_BLAME,
        r"\b(?P<s>(?:es|fue|ha sido|era) (?:culpa suya|culpa tuya|culpa de usted|su culpa|tu culpa"
        r"|culpa vuestra"
        r"|vuestra culpa))\b(?! no\b)",
        r"\b(?P<s>(?:la )?culpa (?:es|fue|ha sido) (?:toda |solo |unicamente |exclusivamente "
        r"|enteramente )?(?:suya|tuya"
        r"|de usted|vuestra))\b",
        r"\b(?P<s>culpa (?:suya|tuya) por)\b",
        r"\b(?P<s>por (?:su|tu) culpa)\b",
        r"\b(?P<s>(?:usted|tu) (?:tiene|tienes|tuvo|tuviste) (?:toda )?la culpa)\b",
        r"\b(?P<s>(?:eso|esto) (?:le|te|les) pasa por)\b",
        r"\b(?P<s>(?:usted )?se lo (?:ha|habra) buscado|te lo has buscado|usted se lo busco"
        r"|te lo buscaste)\b",
        r"\b(?P<s>(?:it's|it is|its|this is|that's|that is|it was) (?:all |entirely |completely |totally "
        r"|solely |100 ?% )?(?:your (?:own )?fault|on you))\b",
        r"\b(?P<s>that's on you|that is on you|thats on you)\b",
        r"\b(?P<s>you (?:only )?have (?:only )?yourself to blame)\b",
        r"\b(?P<s>(?:that's|that is|this is) what (?:you get|happens when you))\b",
        r"\b(?P<s>you brought (?:this|it) on yourself)\b",
        r"\b(?P<s>the (?:mistake|error|fault) (?:is|was) (?:all )?yours)\b",
        r"\b(?P<s>el (?:error|fallo) (?:es|fue) (?:suyo|tuyo|de usted))\b",
        negation=_NEG,
    )
    add(
        "blame",
        "warn",
        _A_BLAME_MILD,
        r"\b(?P<s>(?:deberia|tendria que|debio|debiste|deberias|tendrias que) (?:haber )?(?:leido|revisado"
        r"|comprobado"
        r"|mirado|sabido|tenido (?:mas )?cuidado|prestado atencion|guardado|leer|revisar|fijarse|fijarte))\b",
        r"\b(?P<s>you should(?: have|'ve)? (?:read|checked|known|looked|paid attention|followed|kept"
        r"|been more careful))\b",
        r"\b(?P<s>(?:tenga|ten|be) (?:mas cuidado|more careful) (?:la proxima vez|next time))\b",
        r"\b(?P<s>user error|error (?:de|del) usuario|pebkac)\b",
        r"\b(?P<s>(?:lo|la) (?:ha|habra|habras|has) (?:roto|estropeado) usted|usted (?:lo|la) (?:ha"
        r"|habra) roto"
        r"|you (?:must have )?broke it)\b",
        r"\b(?P<s>(?:it's|its|it is|that's|that is) not our fault|no es culpa nuestra|no es nuestra culpa)\b",
    )
    # ---- contempt: didn't read / can't read
    add(
        "contempt",
        "block",
        _A_NOT_READ,
        r"\b(?P<s>(?:obviamente|evidentemente|claramente|esta claro que|es evidente que|es obvio que"
        r"|se nota que"
        r"|se ve que|salta a la vista que) (?:usted |tu )?no (?:ha|has|habra|se ha|se molesto|leyo|leiste"
        r"|entendio"
        r"|entendiste|sabe|sabes)\b[\w ]{0,30})",
        r"\b(?P<s>you (?:clearly|obviously|evidently|apparently) (?:didn't|did not|haven't|have not|never"
        r"|can't"
        r"|cannot|don't)\b[\w ]{0,25})",
        r"\b(?P<s>(?:clearly|obviously|evidently) you (?:didn't|did not|haven't|have not|never|can't"
        r"|don't)\b[\w ]{0,25})",
        r"\b(?P<s>(?:no|not) sabe(?:s|n)? leer|(?:can't|cannot|can) you (?:not )?read|no sepa(?:s|n)? leer"
        r"|(?:can't|cannot|can not|don't know how to) read)\b",
        r"\b(?P<s>if you(?:'d| had) (?:bothered|taken the time) to|si (?:usted )?se hubiera (?:molestado"
        r"|tomado la "
        r"molestia) (?:en|de)|si te hubieras molestado en)\b",
        r"\b(?P<s>(?:lea|lee|leed|read) (?:bien )?(?:las condiciones|el manual|el contrato|la web|the terms"
        r"|the manual"
        r"|the instructions|the faq)[\w ]{0,20} (?:antes de (?:quejarse|quejarte|protestar|reclamar|escribir)"
        r"|before (?:complaining|whining|moaning|writing)))\b",
        r"\b(?P<s>rtfm)\b",
    )
    add(
        "contempt",
        "warn",
        _A_NOT_READ,
        r"(?<!\bsi )(?<!\bsi usted )\b(?P<s>(?:usted |tu )?no (?:ha|has) leido (?:bien )?(?:el|la|las|los"
        r"|nuestro|nuestra"
        r"|nuestras))\b",
        r"(?<!\bif )\b(?P<s>you (?:didn't|did not|haven't|have not) (?:read|bothered))\b",
        r"\b(?P<s>(?:si )?(?:usted |tu )?no (?:sabe|sabes|saben) (?:usarlo|usarla|utilizarlo|utilizarla|usar"
        r"|utilizar"
        r"|manejarlo|configurarlo))\b",
        r"\b(?P<s>if you don't know how to use (?:it|this))\b",
        r"\b(?P<s>(?:esta|lo pone|viene|aparece) (?:bien )?(?:clarito|clarisimo|bien claro)"
        r"|as clearly stated)\b",
    )
    # ---- contempt: repetition
    _count = (
        r"(?:tres|cuatro|cinco|varias|muchas|mil|cien|dos|un monton de|infinidad de|n) veces|una y otra vez"
        r"|hasta la saciedad|por activa y por pasiva|a dozen times|(?:countless|so many|many|several"
        r"|multiple) times"
    )
    add(
        "contempt",
        "block",
        _A_REPEAT,
        rf"\b(?P<s>como (?:ya )?(?:le|te|les|os) (?:dije|he dicho|hemos dicho|dijimos|explique|he explicado"
        rf"|hemos explicado|comente|he comentado|repeti|indique|he indicado)(?: ya)? (?:{_count}))\b",
        rf"\b(?P<s>(?:ya )?(?:se lo|te lo|le|te|lo) (?:he|hemos) (?:dicho|explicado|repetido|comentado"
        r"|hablado|tratado)"
        rf"(?: ya)? (?:{_count}))\b",
        rf"\b(?P<s>(?:we've|we have|i've|i have) (?:been over|gone over|discussed|covered|explained) (?:this"
        r"|it|that)"
        rf" (?:{_count}))\b",
        r"\b(?P<s>(?:de verdad |realmente |acaso )?(?:hace falta|tengo que|tenemos que"
        r"|hay que) (?:explicarselo|explicarle"
        r"|explicartelo|repetirselo|repetirle|repetirtelo|decirselo|decirtelo)(?: \w+)? (?:otra vez|de nuevo"
        r"|una vez mas))",
        r"\b(?P<s>(?:do|must|should) (?:we|i) (?:really |seriously )?(?:have to |need to )?(?:explain|repeat"
        r"|say|go over)"
        r" (?:this|it|that|myself) (?:again|one more time|once more))\b",
        r"\b(?P<s>por (?:tercera|cuarta|quinta|enesima|milesima|decima) vez)\b",
        r"\b(?P<s>(?:le|te) (?:lo )?repito (?:por|de) (?:tercera|cuarta|enesima|ultima"
        r"|nuevo,? por ultima) vez)\b",
        r"\b(?P<s>as i(?:'ve| have)? (?:already )?(?:told|said to|explained to) you (?:three|four|several"
        r"|many"
        r"|multiple|a dozen|a hundred|a million|numerous) times|as i(?:'ve| have)? (?:already )?(?:told"
        r"|explained"
        r" to) you (?:twice|repeatedly|again and again|over and over))\b",
        r"\b(?P<s>for the (?:third|fourth|fifth|hundredth|umpteenth|nth|last) time)\b",
        r"\b(?P<s>(?:i've|i have|we've|we have) (?:already )?(?:told|explained (?:this )?to) you (?:three"
        r"|several"
        r"|many|multiple|numerous|a hundred|a million) times)\b",
        r"\b(?P<s>(?:se lo|te lo) (?:explico|repito|digo) (?:mas )?(?:despacio|despacito|lentamente)"
        r"|let me explain"
        r" (?:this |it )?slowly|i'll (?:explain|say) (?:it|this) (?:again )?slowly|(?:explain"
        r"|say) it slowly so)\b",
        r"\b(?P<s>a ver si (?:asi )?(?:lo|me) (?:entiende|entiendes|entienden)|para que (?:lo"
        r"|me) (?:entienda|entiendas)"
        r" de una vez|so (?:that )?you (?:can|will|might) (?:finally )?understand)\b",
        r"\b(?P<s>que parte de .{1,60}? no (?:entiende|entiendes|entienden|ha entendido)"
        r"|what part of .{1,60}? "
        r"(?:don't|do not|didn't) you (?:understand|get))\b",
        r"\b(?P<s>(?:es que|acaso) no (?:lo )?(?:entiende|entiendes|sabe leer|ve|ves)|(?:don't"
        r"|do) you not understand)\b",
    )
    add(
        "contempt",
        "warn",
        _A_REPEAT_MILD,
        r"\b(?P<s>como ya (?:le|te|les|os) (?:dije|he dicho|hemos dicho|dijimos|explique|he explicado"
        r"|hemos explicado"
        r"|indique|he indicado))\b",
        r"\b(?P<s>(?:le|te|les) repito)\b(?! con gusto)",
        r"\b(?P<s>ya (?:se lo|te lo) (?:he|hemos) (?:dicho|explicado))\b",
        r"\b(?P<s>as i (?:already |have already |'ve already )?(?:said|told you|explained)(?: before"
        r"| earlier)?"
        r"|as (?:i|we) (?:have )?(?:already )?stated|i repeat)\b",
        r"\b(?P<s>de una vez por todas|once and for all)\b",
    )
    # ---- contempt: standing, competence, expertise
    add(
        "contempt",
        "block",
        _A_STANDING,
        r"\b(?P<s>(?:un|una|unos|unas|cualquier|el|la) [\w ]{2,40}? no (?:nos|me) (?:va|van|viene|vienen"
        r"|puede|pueden)"
        r" a (?:enseñar|decir|explicar|dar lecciones))",
        r"\b(?P<s>no (?:nos|me) (?:va|van|viene|vienen) a (?:enseñar|decir|explicar|dar lecciones)|no (?:va"
        r"|van) a "
        r"(?:enseñarnos|decirnos|explicarnos|darnos lecciones))",
        r"\b(?P<s>(?:isn't|is not|aren't|are not|won't|will not|is never|are never) (?:going to )?(?:teach"
        r"|tell"
        r"|lecture) (?:us|me))\b",
        r"\b(?P<s>(?:quien es usted|quien eres tu|quien eres|quienes son ustedes) para (?:decirnos|decirme"
        r"|enseñarnos"
        r"|explicarnos|darnos)|usted no es nadie para|who are you to (?:tell|lecture|teach))\b",
        r"\b(?P<s>no necesitamos que (?:nadie|un cliente|usted|tu) nos (?:diga|de lecciones|enseñe|explique)"
        r"|no aceptamos lecciones|we don't need (?:you|a customer|anyone) to tell us how"
        r"|we don't take lessons from)\b",
        r"\b(?P<s>(?:usted|tu) no (?:tiene|tienes) (?:ni )?(?:puta )?idea(?! de lo (?:mucho|agradecid"
        r"|content))"
        r"|no (?:tiene|tienes) ni (?:puta )?idea de (?:lo que|que|como)|no sabe(?:s)? (?:de )?lo que (?:dice"
        r"|dices"
        r"|habla|hablas))",
        r"\b(?P<s>you (?:clearly |obviously )?(?:have no idea|don't know) what you(?:'re"
        r"| are) talking about)\b",
        r"\b(?P<s>(?:usted|tu),? de (?:esto|coches|tecnologia|informatica),? no (?:entiende|entiendes|sabe"
        r"|sabes)"
        r"|(?:usted|tu) no (?:entiende|entiendes|sabe|sabes) (?:nada )?de (?:esto|coches|tecnologia"
        r"|informatica))",
        r"\b(?P<s>(?:gente|personas|clientes) como (?:usted|tu|ustedes|vosotros)|people like you"
        r"|customers like you)\b",
        r"\b(?P<s>hasta un (?:niño|crio|mono|chimpance) (?:sabria|podria|lo)|even a (?:child|kid|monkey"
        r"|five-year-old"
        r"|toddler|chimp) (?:could|can|would|knows))\b",
        r"\b(?P<s>no es fisica cuantica|no es ciencia espacial|(?:it's|it is|its|this is|this isn't"
        r"|it isn't) not "
        r"rocket science|(?:it's|it is|this is|its) not rocket science|isn't rocket science)\b",
        r"\b(?P<s>(?:no|deje de|deja de) (?:me |nos )?(?:haga|hagas|hacer) perder (?:el|mas) tiempo"
        r"|stop wasting (?:my"
        r"|our) time|don't waste (?:my|our) time|you(?:'re| are) wasting (?:my|our) time)\b",
        r"\b(?P<s>(?:que|y que) esperaba(?:s)? por ese precio|what (?:did|do) you expect for (?:that|this"
        r"|the) price)\b",
        r"\b(?P<s>(?:usted |tu )?(?:se lo|te lo) (?:esta|estas) inventando|(?:esta|estas) mintiendo"
        r"|miente usted"
        r"|you(?:'re| are) (?:making (?:this|it|that) up|lying))\b",
        r"\b(?P<s>no entiendo como (?:usted |tu )?no (?:lo |la )?(?:ha|has|vio|viste|pudo|encuentra)"
        r"|i don't understand"
        r" how you (?:didn't|couldn't|missed|failed))\b",
        r"\b(?P<s>como (?:cualquier|toda) persona normal|like any (?:normal|sane|reasonable) person"
        r"|anyone with half"
        r" a brain|cualquiera con dos dedos de frente)\b",
        r"\b(?P<s>(?:es|eres) (?:usted )?el unico (?:cliente )?que se queja|you(?:'re"
        r"| are) the only one (?:complaining"
        r"|who complains))\b",
        r"\b(?P<s>tenemos cosas mas importantes|we have better things to do|i have better things to do)\b",
        r"\b(?P<s>(?:antes de|before) (?:quejarse|quejarte|quejaros|protestar|whining|complaining"
        r"|moaning)),? "
        r"(?:lea|lee|read|check)\b",
    )
    add(
        "contempt",
        "warn",
        _A_CONTEMPT_MILD,
        r"\b(?P<s>no es tan dificil|it's not that (?:hard|difficult)|it isn't that (?:hard|difficult)"
        r"|it's not"
        r" complicated)\b",
        r"\b(?P<s>es de sentido comun|(?:it's|it is) common sense|cualquiera sabe que|everyone knows that)\b",
        r"\b(?P<s>sabemos (?:perfectamente |muy bien )?(?:lo que hacemos|hacer nuestro trabajo)"
        r"|we know what we(?:'re|"
        r" are) doing|we are the experts(?: here)?|we're the experts(?: here)?)\b",
        r"\b(?P<s>you people|ustedes los clientes)\b",
        r"\b(?P<s>don't take that tone|no me hable en ese tono|no me hables en ese tono)\b",
        r"\b(?P<s>a nadie mas le (?:pasa|ha pasado|ocurre)|nobody else has (?:this|had this|complained)"
        r"|no one else"
        r" has (?:this|complained))\b",
        r"\b(?P<s>lo barato sale caro|you get what you pay for)\b",
    )
    # ---- dismissive
    add(
        "dismissive",
        "block",
        _A_NOT_OUR_PROBLEM,
        r"(?<!\bno )(?<!\bnunca )\b(?P<s>es (?:su|tu|vuestro) problema|es problema (?:suyo|tuyo|vuestro))\b",
        r"\b(?P<s>no es (?:nuestro|mi) problema|no es problema (?:nuestro|mio)|ese no es nuestro problema"
        r"|eso no es cosa nuestra|no es asunto nuestro)\b",
        r"\b(?P<s>(?:that's|that is|thats|it's|it is|its|this is|this isn't|that isn't)? ?not (?:our"
        r"|my) (?:problem"
        r"|concern|issue)|(?:that's|that is|it's|it is) (?:your|ur) problem)\b",
        unless_after=re.compile(r"^[^.!?]*\b(?:pero|but)\b[^.!?]*\b(?:ayud|resolv|help|fix|sort)"),
    )
    add(
        "dismissive",
        "block",
        _A_GO_AWAY,
        r"\b(?P<s>si no (?:le|te|les|os) gusta,? (?:no (?:venga|vengas|vuelva|vuelvas|compre|compres)|vayase"
        r"|vete"
        r"|andate|busquese|buscate|cambiese|cambiate|cambie de \w+|dese de baja|se aguanta|te aguantas"
        r"|aguantese"
        r"|aguantate|ya sabe|ya sabes"
        r"|la puerta|ahi tiene)[\w ]{0,30})",
        r"\b(?P<s>if you don't like it,? (?:you can |then )?(?:go|leave|take your business|shop"
        r"|there's the door"
        r"|don't come|tough|switch|change|find|cancel|look elsewhere"
        r"|you know where)[\w ]{0,30})",
        r"\b(?P<s>(?:ahi|alli) tiene la puerta|la puerta esta abierta|there's the door|don't let the door)\b",
        r"\b(?P<s>nadie (?:le|te|les|os) obliga|nobody(?:'s| is) forcing you|no one(?:'s| is) forcing you)\b",
    )
    add(
        "dismissive",
        "block",
        _A_CALM,
        r"(?P<s>\b(?:calmese|calmate|calmense|calmaos|tranquilicese|tranquilizate|tranquilicense|relajese"
        r"|relajate"
        r"|serenese|serenate)\b)",
        r"\b(?P<s>(?:debe|debes|tiene que|tienes que|necesita|necesitas|deberia|deberias|intente"
        r"|intenta) (?:usted )?"
        r"(?:calmarse|calmarte|tranquilizarse|tranquilizarte|relajarse|relajarte))\b",
        r"\b(?P<s>(?:le|te|les|os) (?:pido|ruego|pedimos) que se (?:calme|tranquilice|relaje)(?:n)?)\b"
        r"(?! (?:la|el|los|las) )",
        r"\b(?P<s>no se ponga (?:asi|nervios[oa]|histeric[oa])|no te pongas (?:asi|nervios[oa]"
        r"|histeric[oa]))",
        r"(?:^|[.!?¡¿,;:]\s*|\b(?:please|just|you need to|you have to|you should|you must|need you to|sir"
        r"|madam"
        r"|ok|okay|look|now),?\s+)(?P<s>calm (?:yourself )?down)\b",
        r"(?:^|[.!?¡¿;:]\s*)(?P<s>(?:just )?(?:relax|chill(?: out)?|take a chill pill|settle down"
        r"|get a grip))\b",
        r"\b(?P<s>chill out|take a chill pill|stop overreacting|you(?:'re| are) overreacting|no exagere"
        r"|deje de "
        r"exagerar|esta exagerando|estas exagerando|no exageres)\b",
    )
    add(
        "dismissive",
        "block",
        _A_DISMISSIVE,
        r"\b(?P<s>buena suerte con eso|suerte con eso|good luck with that)\b",
        r"\b(?P<s>(?:nos|me) (?:da|importa) (?:exactamente |completamente )?igual lo que|(?:no )?(?:nos"
        r"|me) importa"
        r" (?:nada |un pimiento |un bledo |un comino |un pepino |un rabano |poco )?lo que (?:usted |tu )?"
        r"(?:diga|digas|piense|pienses|opine|haga)|nos importa un (?:pimiento|bledo|comino|pepino|rabano"
        r"|carajo)"
        r"|(?:nos|me) da (?:exactamente )?igual[.!]?$|(?:nos|me) da (?:exactamente )?igual(?=[.!])"
        r"|a nosotros nos"
        r" da igual)",
        r"\b(?P<s>(?:we|i) (?:really )?(?:don't|do not) care(?! (?:which|whether|if|how you|what channel))"
        r"|who cares"
        r"|(?:we|i) couldn't care less|nobody cares)\b",
        r"\b(?P<s>lo toma o lo deja|lo tomas o lo dejas|take it or leave it)\b",
        r"\b(?P<s>no tengo tiempo para (?:esto|estas|sus|tus)|no tenemos tiempo para (?:esto|estas|sus|tus)"
        r"|(?:i|we) don't have time for (?:this|your)|i don't have all day|no tengo todo el dia)\b",
        r"(?:^|[.!?,;:]\s*|\b(?:just|so|you'll have to|you will have to|you need to"
        r"|you have to)\s+)(?P<s>deal with it)\b",
        r"\b(?P<s>get over it|tough luck|aguantese|aguantate|te aguantas|se aguanta|apechugue"
        r"|allá usted|alla usted|alla tu|alla vosotros)\b",
        r"\b(?P<s>(?:deje|deja|dejen) de (?:escribirnos|molestar|molestarnos|insistir|llamarnos)"
        r"|stop (?:emailing"
        r"|writing to|calling|messaging|bothering) us)\b",
        r"\b(?P<s>haga lo que (?:quiera|le de la gana)|haz lo que (?:quieras|te de la gana)"
        r"|do whatever you want"
        r"|suit yourself)\b",
        r"\b(?P<s>(?:no es|it's not|it is not|its not) (?:para tanto|a big deal|that big a deal)"
        r"|no sea exagerad[oa]"
        r"|no seas exagerad[oa]|don't be so dramatic)\b",
        r"\b(?P<s>no (?:vamos|voy) a perder (?:mas|ni un minuto mas de) tiempo|(?:not going to|won't"
        r"|will not|aren't going"
        r" to) waste (?:any )?more time)\b",
        r"\b(?P<s>no hay nada mas que hablar|fin de la (?:discusion|conversacion)|end of (?:discussion|story)"
        r"|nothing more to discuss)\b",
    )
    add(
        "dismissive",
        "warn",
        _A_DISMISSIVE_MILD,
        r"\b(?P<s>es lo que hay|it is what it is|it's what it is|its what it is|son lentejas)\b",
        r"\b(?P<s>usted vera|tu veras|usted sabra|tu sabras|no insista|no insistas|lo que usted diga"
        r"|whatever you"
        r" say)\b",
        r"(?:^|[.!?,]\s*)(?P<s>whatever)(?=\s*(?:[.!,]|$))",
        r"\b(?P<s>no es (?:mi|nuestro) departamento|not my department"
        r"|not our department)\b(?![^.!?]*\b(?:pero|but)\b)",
        r"(?:^|[.!?]\s*)(?P<s>mala suerte|too bad|hard luck)(?=\s*[.!])",
        r"\b(?P<s>(?:mantenga|mantengan|keep|stay) (?:la )?calm[ae]?(?: por favor)?,? (?:que|and) (?:no"
        r"|don't))",
    )
    # ---- sarcasm
    add(
        "sarcasm",
        "block",
        _A_SARCASM,
        r"\b(?P<s>(?:vaya|oh|ah|anda|uy),? (?:que|menuda) sorpresa)\b",
        r"\b(?P<s>que sorpresa)\b(?=[^.!?]{0,10}[,.!]\s*(?:otr[oa]|de nuevo|otra vez))",
        r"\b(?P<s>(?:well|oh|wow),? what a surprise|surprise,? surprise|what a shock)\b",
        r"\b(?P<s>what a surprise)\b(?=[,.!]\s*(?:another|again))",
        r"\b(?P<s>otr[oa] (?:cliente|usuari[oa]|mas|genio|listo|list[oa]) que no (?:sabe|entiende|lee"
        r"|encuentra)"
        r"|another (?:customer|user|genius|one) who (?:can't|cannot|doesn't|didn't|won't))",
        r"\b(?P<s>gracias por nada|thanks for nothing|thank you for nothing)\b",
        r"\b(?P<s>si,? claro,? y yo (?:soy|tengo)|ya,? claro|yeah,? right|sure you did|sure,? and i'm"
        r"|as if)\b",
        r"\b(?P<s>menudo genio|que genio|vaya genio|nice one,? genius|thanks,? genius|what a genius"
        r"|well done,?"
        r" genius|bravo,? genio)\b",
        r"(?:^|[.!?]\s*)(?P<s>(?:dejeme|dejame|deja que|a ver si lo) adivin(?:e|o|ar)|let me guess)\b",
        r"\b(?P<s>(?:enhorabuena|felicidades|bravo|congratulations|congrats|well done|good job),? (?:usted "
        r"|you(?:'ve|"
        r" have)? )?(?:ha|has|have)? ?(?:conseguido|logrado|managed(?: to)?|succeeded in) (?:romper|estropear"
        r"|bloquear|borrar|perder|break|breaking|lock|locking|delete|deleting|lose|losing)\w*)",
        r"\b(?P<s>que original|how original|brilliant idea|genial idea,? de verdad)\b",
    )
    return R


@lru_cache(maxsize=1)
def _compiled_rules() -> list[Rule]:
    return _rules()


# --------------------------------------------------------------------------------------------------
# Promises and amounts

_NUM = r"\d{1,3}(?:[.,\s]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?"
_AMOUNT = re.compile(
    rf"(?:(?P<c1>€|\$|£|eur|usd|gbp)\s?(?P<n1>{_NUM}))|(?:(?P<n2>{_NUM})\s?(?P<c2>€|\$|£|euros?|eur|usd"
    r"|dolares"
    rf"|dollars?|libras|pounds?|gbp|quid)(?!\w))|(?P<w>\b(?:cien|doscientos|trescientos|cuatrocientos"
    r"|quinientos"
    rf"|seiscientos|setecientos|ochocientos|novecientos|mil|hundred|thousand|fifty|twenty) (?:euros?|dolares"
    rf"|dollars|pounds|libras)\b)"
)
_WORD_NUM = {
    "cien": 100,
    "doscientos": 200,
    "trescientos": 300,
    "cuatrocientos": 400,
    "quinientos": 500,
    "seiscientos": 600,
    "setecientos": 700,
    "ochocientos": 800,
    "novecientos": 900,
    "mil": 1000,
    "hundred": 100,
    "thousand": 1000,
    "fifty": 50,
    "twenty": 20,
}
_COMP = re.compile(
    r"\b(?:devolv\w*|devuelv\w*|reembols\w*|abon\w*|compens\w*|indemni\w*|descuento|(?:un |el )?vale (?:de"
    r"|por)|cupon|bono|credito"
    r"|regal\w*|ofrec\w*|transferi\w*|pagaremos|le pagamos|te pagamos|refund\w*|reimburs\w*|compensat\w*"
    r"|credit\w*|voucher|discount"
    r"|coupon|goodwill|pay you|transfer|offer\w*|give you)\b"
)
_COMP_NEG = re.compile(
    r"\b(?:no (?:podemos|es posible|puedo|se puede|le podemos|te podemos)|no le (?:podemos|puedo)|cannot"
    r"|can't"
    r"|can not|unable|not able|not possible|won't be able|afraid we|lamentablemente no)\b"
)
_PAID = re.compile(r"\b(?:cobr\w*|pag(?:o|aste|ado|ó)|factura de|charged|you paid|billed|cost you|costo)\b")
_FULL_REFUND = re.compile(
    r"\b(?P<s>(?:devolv|devuelv|reembols|abon)\w*(?: \w+){0,3} (?:el importe (?:integro|total|completo)"
    r"|la totalidad"
    r"|todo el (?:importe|dinero)|el 100 ?%)|reembolso (?:integro|total|completo)|(?:refund"
    r"|reimburse)\w*(?: \w+)"
    r"{0,3} (?:the full (?:amount|price|cost)|in full|100 ?%|everything)|full refund)\b"
)
_GUARANTEE = re.compile(
    r"\b(?P<s>(?:le|te|les|os|se lo|se la|se los) (?:garantizo|garantizamos|prometo|prometemos|aseguro"
    r"|aseguramos"
    r"|juro)|garantizado|sin falta|(?:i|we) (?:promise|guarantee|swear|assure you|can assure you)|guaranteed"
    r"|without fail|100 ?% (?:seguro|sure))\b"
)
_STRONG_GUARANTEE = re.compile(r"garantiz|promet|jur|guarantee|promise|swear|sin falta|without fail")
_NEVER_AGAIN = re.compile(
    r"\b(?P<s>(?:no )?(?:volvera|va a volver) a (?:pasar|ocurrir|suceder) (?:nunca|jamas)|nunca (?:mas )?"
    r"(?:volvera|va a volver) a (?:pasar|ocurrir|suceder)|jamas (?:volvera|va a volver) a (?:pasar|ocurrir)"
    r"|(?:will|'ll) never happen again|won't (?:ever )?happen again|will not (?:ever )?happen again"
    r"|no volvera a (?:pasar|ocurrir|suceder))\b"
)
_DATE = re.compile(
    r"\b(?:mañana|pasado mañana|hoy|esta tarde|esta semana|el (?:lunes|martes|miercoles|jueves|viernes|sabado"
    r"|domingo)|(?:antes del?|para el) (?:lunes|martes|miercoles|jueves|viernes|sabado|domingo|\d{1,2})"
    r"|en (?:\d+|un|una|dos|tres) (?:horas?|dias?|semanas?)|(?:a|antes de) las \d{1,2}|tomorrow|today|tonight"
    r"|this (?:week|afternoon|evening)|(?:on|by|before) (?:monday|tuesday|wednesday|thursday|friday|saturday"
    r"|sunday|the \d{1,2}(?:st|nd|rd|th)?)|within (?:\d+|24|48|a|an|one|two|three) (?:hours?|days?|weeks?)"
    r"|by (?:tomorrow|tonight|end of (?:day|the week))|next (?:week|monday|tuesday|wednesday|thursday"
    r"|friday))\b"
)
_FIRM = re.compile(
    r"\b(?:llegara|llega|tendra|tiene|lo tiene|recibira|recibe|estara|ira|vendra|pasara|quedara|saldra"
    r"|entregaremos|enviaremos|arreglaremos|resolveremos|solucionaremos|will (?:arrive|be|have|get|come"
    r"|reach)"
    r"|you'll (?:have|get|receive)|it'll (?:be|arrive)|we'll (?:deliver|send|fix|have|be)|is (?:arriving"
    r"|coming)"
    r"|arrives)\b"
)
_HEDGE = re.compile(
    r"\b(?:previst[oa]|estimad[oa]|estimamos|aproximad\w*|intentaremos|intentar|deberia|normalmente|suele"
    r"|calculamos"
    r"|esperamos|si es posible|si todo va bien|segun|probablemente|expected|expect|estimated|should|aim|try"
    r"|trying"
    r"|usually|approximately|hopefully|according to|if possible|likely|might|may|can't guarantee"
    r"|no podemos garantizar)\b"
)

_A_PROMISE_AMOUNT = _adv(
    "Ofrece {amount} € y su límite de compensación es {limit} €; confírmelo con un responsable antes de enviarlo.",
    "Offers €{amount} but your compensation limit is €{limit}; confirm with a lead before sending.",
    "Voy a consultar con mi responsable la compensación que podemos ofrecerle y le respondo hoy mismo.",
    "I'll check with my lead what compensation we can offer and get back to you today.",
    sug_es_tu="Voy a consultar con mi responsable la compensación que podemos ofrecerte y te respondo hoy mismo.",
)
_A_PROMISE_FULL = _adv(
    "Promete el reembolso total sin que conste que esté dentro de su límite ({limit} €).",
    "Promises a full refund that may exceed your limit (€{limit}).",
    "Voy a tramitar la solicitud de reembolso y le confirmo el importe en cuanto esté aprobado.",
    "I'll raise the refund request and confirm the amount as soon as it's approved.",
    sug_es_tu="Voy a tramitar la solicitud de reembolso y te confirmo el importe en cuanto esté aprobado.",
)
_A_PROMISE_GUARANTEE = _adv(
    "Garantiza un resultado o una fecha que no depende solo de nosotros.",
    "Guarantees an outcome or date that isn't entirely in our hands.",
    "Haremos todo lo posible para que lo tenga cuanto antes; según la información actual, la previsión es ...",
    "We'll do everything we can to get it to you as soon as possible; the current estimate is ...",
    sug_es_tu="Haremos todo lo posible para que lo tengas cuanto antes; según la información actual, la previsión"
    " es ...",
)
_A_PROMISE_NEVER = _adv(
    "Promete que nunca volverá a ocurrir; es imposible de garantizar.",
    "Promises it will never happen again, which can't be guaranteed.",
    "Hemos tomado medidas para evitar que vuelva a ocurrir.",
    "We've taken steps to make this much less likely to happen again.",
)
_A_PROMISE_DATE = _adv(
    "Compromete una fecha y en este caso no está autorizado a prometer plazos.",
    "Commits to a date, and you're not authorised to promise dates on this case.",
    "Le informaremos de la fecha en cuanto la confirme el equipo responsable.",
    "We'll let you know the date as soon as the responsible team confirms it.",
    sug_es_tu="Te informaremos de la fecha en cuanto la confirme el equipo responsable.",
)


def _parse_amount(m: re.Match[str]) -> tuple[float, str] | None:
    if m.group("w"):
        word, cur = m.group("w").split(" ", 1)
        return float(_WORD_NUM[word]), cur
    raw = m.group("n1") or m.group("n2")
    cur = (m.group("c1") or m.group("c2") or "").strip()
    raw = raw.replace(" ", "")
    if "," in raw and "." in raw:
        dec = "," if raw.rfind(",") > raw.rfind(".") else "."
        raw = raw.replace("." if dec == "," else ",", "").replace(dec, ".")
    elif "," in raw or "." in raw:
        sep = "," if "," in raw else "."
        head, _, tail = raw.rpartition(sep)
        raw = raw.replace(sep, "") if len(tail) == 3 else head.replace(sep, "") + "." + tail
    try:
        return float(raw), cur
    except ValueError:
        return None


def _is_euro_like(cur: str) -> bool:
    # Only EUR is compared against the limit; USD/GBP taken at face value, other currencies skipped.
    return cur in {
        "€",
        "eur",
        "euro",
        "euros",
        "$",
        "usd",
        "dolares",
        "dollar",
        "dollars",
        "£",
        "gbp",
        "libras",
    } or (cur.startswith("pound") or cur == "quid")


# --------------------------------------------------------------------------------------------------
# Review

_W_BLOCK, _W_WARN = 0.6, 0.25
_CAPS = re.compile(r"\b[A-ZÁÉÍÓÚÑ]{4,}\b")


@dataclass
class _Hit:
    kind: Kind
    severity: Severity
    start: int
    end: int
    advice: Advice
    fmt: dict[str, str]


def _scan(text: str, masked: str, rules: Iterable[Rule]) -> list[_Hit]:
    hits: list[_Hit] = []
    for rule in rules:
        for m in rule.rx.finditer(masked):
            start, end = m.span()
            for name, value in m.groupdict().items():
                if value is not None and name[0] == "s":
                    start, end = m.span(name)
                    break
            if start == end:
                continue
            s0, s1 = _sentence_bounds(masked, start, end)
            if rule.negation is not None and rule.negation.search(_clause_before(masked, start, s0)):
                continue
            if rule.reported_ok and (_REPORTED.search(masked[s0:start]) or _MENTION.match(masked, end)):
                continue
            if rule.unless_after is not None and rule.unless_after.search(masked[end:s1]):
                continue
            hits.append(_Hit(rule.kind, rule.severity, start, end, rule.advice, {}))
    return hits


def _promises(masked: str, ctx: ReplyContext) -> list[_Hit]:
    hits: list[_Hit] = []
    limit = ctx.max_compensation  # None: authority unknown, amounts are not checked
    for m in _AMOUNT.finditer(masked):
        if limit is None:
            break
        parsed = _parse_amount(m)
        if parsed is None or not _is_euro_like(parsed[1]) or parsed[0] <= limit:
            continue
        s0, s1 = _sentence_bounds(masked, m.start(), m.end())
        sentence = masked[s0:s1]
        if not _COMP.search(sentence) or _COMP_NEG.search(sentence):
            continue
        if _PAID.search(sentence) and not re.search(r"\b(?:devolv|devuelv|reembols|refund|abon)", sentence):
            continue
        fmt = {"amount": f"{parsed[0]:g}", "limit": f"{limit:g}"}
        hits.append(_Hit("unauthorized_promise", "warn", m.start(), m.end(), _A_PROMISE_AMOUNT, fmt))
    if limit is not None:
        for m in _FULL_REFUND.finditer(masked):
            s0, s1 = _sentence_bounds(masked, m.start(), m.end())
            if _COMP_NEG.search(masked[s0 : m.start()]):
                continue
            hits.append(
                _Hit("unauthorized_promise", "warn", *m.span("s"), _A_PROMISE_FULL, {"limit": f"{limit:g}"})
            )
    for m in _NEVER_AGAIN.finditer(masked):
        s0, _ = _sentence_bounds(masked, m.start(), m.end())
        before = masked[s0 : m.start()]
        absolute = re.search(r"nunca|jamas|never|ever", m.group("s")) or _GUARANTEE.search(before)
        if absolute and not _HEDGE.search(before) and not re.search(r"\bpara que\b|\bso that\b", before):
            hits.append(_Hit("unauthorized_promise", "warn", *m.span("s"), _A_PROMISE_NEVER, {}))
    for m in _GUARANTEE.finditer(masked):
        s0, s1 = _sentence_bounds(masked, m.start(), m.end())
        rest = masked[m.end() : s1]
        strong = _STRONG_GUARANTEE.search(m.group("s"))
        outcome = _DATE.search(rest) or _DATE.search(masked[s0 : m.start()]) or _AMOUNT.search(rest)
        if outcome is None and strong:
            outcome = _FIRM.search(rest) or _FULL_REFUND.search(rest)
            if re.search(r"\b(?:personalmente|personally|i'll look|lo revisare|look into|get back)", rest):
                outcome = None
        if outcome is None or _NEVER_AGAIN.search(rest):
            continue
        end = s1
        while end > m.end() and not masked[end - 1].isalnum():
            end -= 1
        hits.append(_Hit("unauthorized_promise", "warn", m.start("s"), end, _A_PROMISE_GUARANTEE, {}))
    if not ctx.may_promise_dates:
        for m in _DATE.finditer(masked):
            s0, s1 = _sentence_bounds(masked, m.start(), m.end())
            sentence = masked[s0:s1]
            if _FIRM.search(sentence) and not _HEDGE.search(sentence) and not _COMP_NEG.search(sentence):
                hits.append(_Hit("unauthorized_promise", "warn", m.start(), m.end(), _A_PROMISE_DATE, {}))
    return hits


def _dedupe(hits: list[_Hit]) -> list[_Hit]:
    """Overlapping hits of the same kind collapse into the most severe (then longest) one."""
    order = sorted(hits, key=lambda h: (h.severity != "block", -(h.end - h.start), h.start))
    kept: list[_Hit] = []
    for h in order:
        if any(k.kind == h.kind and h.start < k.end and k.start < h.end for k in kept):
            continue
        kept.append(h)
    return sorted(kept, key=lambda h: (h.start, h.end))


def _suggestion(hit: _Hit, text: str, masked: str, lang: str, informal: bool, name: str | None) -> str:
    adv = hit.advice
    tpl = (adv.sug_es_tu if informal else adv.sug_es) if lang == "es" else adv.sug_en
    # A vocative insult ("..., pesado.") can often just be dropped; use that when what remains is clean.
    if hit.kind == "insult":
        s0, s1 = _sentence_bounds(text, hit.start, hit.end)
        before, after = text[s0 : hit.start].rstrip(), text[hit.end : s1]
        if before.endswith(",") and re.match(r"\s*[.!?…]?\s*$", after):
            candidate = before[:-1].rstrip() + (after.strip() or ".")
            folded_c = _mask(fold(candidate))
            if len(candidate) > 8 and not _scan(candidate, folded_c, _compiled_rules()):
                return candidate
    voc = f", {name}" if name else ""
    return tpl.replace("{voc}", voc)


def _explanation(hit: _Hit, lang: str, informal: bool) -> str:
    adv = hit.advice
    msg = (adv.es_tu if informal else adv.es) if lang == "es" else adv.en
    for key, value in hit.fmt.items():
        msg = msg.replace("{" + key + "}", value)
    return msg


def review_reply(draft: str, context: ReplyContext | None = None) -> ReplyReview:
    ctx = context or ReplyContext()
    text = draft or ""
    folded = fold(text)
    masked = _mask(folded)
    given = (ctx.language or "").lower()
    lang = "es" if given.startswith("es") else "en" if given.startswith("en") else ""
    if not lang:
        lang = _guess_language(folded, text) if text.strip() else "es"
    informal = lang == "es" and _informal(masked)
    hits = _dedupe(_scan(text, masked, _compiled_rules()) + _promises(masked, ctx))
    flags = [
        ToneFlag(
            kind=h.kind,
            text=text[h.start : h.end],
            start=h.start,
            end=h.end,
            severity=h.severity,
            explanation=_explanation(h, lang, informal),
            suggestion=_suggestion(h, text, masked, lang, informal, ctx.customer_name),
        )
        for h in hits
    ]
    risk = 1.0
    for f in flags:
        risk *= 1 - (_W_BLOCK if f.severity == "block" else _W_WARN)
    score = 1 - risk
    # Shouting adds a little risk even when nothing was flagged.
    shouting = min(len(_CAPS.findall(text)), 4) * 0.03 + min(text.count("!!"), 3) * 0.03
    score = min(1.0, score + shouting * (1 - score))
    return ReplyReview(
        ok=not any(f.severity == "block" for f in flags), language=lang, flags=flags, score=round(score, 3)
    )
