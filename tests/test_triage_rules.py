"""Curated triage rules: positives and hard negatives per label, Spain / Latin America / English,
and evidence spans that are exact slices of the original text."""

from __future__ import annotations

import pytest

from cuida.triage.rules import Hit, find_hits, fold, is_positive, urgency_reasons


def positive_labels(text: str, language: str | None = None) -> set[str]:
    return {h.label for h in find_hits(text, language) if is_positive(h)}


def assert_spans(text: str, hits: list[Hit]) -> None:
    for h in hits:
        assert 0 <= h.start < h.end <= len(text), h
        assert text[h.start : h.end] == h.text, h


POSITIVES: list[tuple[str, str]] = [
    # churn_threat
    ("churn_threat", "Llevo 5 días sin fibra. Si no lo arregláis mañana me paso a otra compañía"),
    ("churn_threat", "ME DOY DE BAJA YA!!!"),
    ("churn_threat", "me doy de baja, estoy harto"),
    ("churn_threat", "quiero darme de baja de la fibra"),
    ("churn_threat", "mañana mismo pido la portabilidad"),
    ("churn_threat", "me cambio de compañía, adiós"),
    ("churn_threat", "me paso a la competencia"),
    ("churn_threat", "cancelo mi cuenta hoy"),
    ("churn_threat", "voy a cancelar mi plan, ya no aguanto"),
    ("churn_threat", "Si no me solucionan me cambio a Telcel"),
    ("churn_threat", "habéis perdido un cliente"),
    ("churn_threat", "nunca más vuelvo a comprar aquí"),
    ("churn_threat", "ya no quiero seguir con ustedes"),
    ("churn_threat", "me voy con otro banco"),
    ("churn_threat", "#MeDoyDeBaja"),
    ("churn_threat", "solicito la baja del contrato"),
    ("churn_threat", "I'm going to cancel my account"),
    ("churn_threat", "cancelling my subscription today"),
    ("churn_threat", "I'm switching to Verizon"),
    ("churn_threat", "porting my number out tomorrow"),
    ("churn_threat", "I'm done with you"),
    ("churn_threat", "you've lost a customer"),
    ("churn_threat", "taking my business elsewhere"),
    ("churn_threat", "CLOSE MY ACCOUNT NOW"),
    # legal_threat
    ("legal_threat", "os denuncio"),
    ("legal_threat", "os voy a denunciar, esto no queda así"),
    ("legal_threat", "lo pongo en manos de mi abogado"),
    ("legal_threat", "voy a poner una queja en la OCU"),
    ("legal_threat", "ya he escrito a FACUA"),
    ("legal_threat", "me voy a consumo con todas las facturas"),
    ("legal_threat", "quiero la hoja de reclamaciones"),
    ("legal_threat", "pediré el libro de reclamaciones"),
    ("legal_threat", "los voy a reportar a PROFECO"),
    ("legal_threat", "voy al SERNAC mañana"),
    ("legal_threat", "denuncia en INDECOPI ya"),
    ("legal_threat", "interpondré una demanda"),
    ("legal_threat", "nos vemos en el juzgado"),
    ("legal_threat", "tomaré acciones legales"),
    ("legal_threat", "#OCU @FACUA mirad esto"),
    ("legal_threat", "I'll sue you"),
    ("legal_threat", "my lawyer will be in touch"),
    ("legal_threat", "see you in small claims court"),
    ("legal_threat", "reporting you to Trading Standards"),
    ("legal_threat", "filing a complaint with the BBB"),
    ("legal_threat", "I will do a chargeback"),
    ("legal_threat", "I'm taking legal action"),
    ("legal_threat", "denunciarlos es lo que voy a hacer"),
    ("legal_threat", "voy a denunciaaaar"),
    # public_escalation_threat
    ("public_escalation_threat", "lo voy a publicar en todas partes"),
    ("public_escalation_threat", "difundid por favor, esto es una vergüenza"),
    ("public_escalation_threat", "se va a enterar todo el mundo"),
    ("public_escalation_threat", "lo subo a TikTok ahora mismo"),
    ("public_escalation_threat", "vamos a viralizar esto"),
    ("public_escalation_threat", "voy a ir a la prensa"),
    ("public_escalation_threat", "lo llevo a la tele"),
    ("public_escalation_threat", "#boicot a esta empresa"),
    ("public_escalation_threat", "voy a escrachar a esta empresa"),
    ("public_escalation_threat", "I'm going to the press"),
    ("public_escalation_threat", "I will post this everywhere"),
    ("public_escalation_threat", "let's make this go viral"),
    ("public_escalation_threat", "everyone will know how you treat customers"),
    ("public_escalation_threat", "leaving 1 star reviews everywhere"),
    # escalation_request
    ("escalation_request", "quiero hablar con el director"),
    ("escalation_request", "exijo hablar con un supervisor"),
    ("escalation_request", "pásame con alguien que sepa"),
    ("escalation_request", "pasame con el encargado"),
    ("escalation_request", "Quiero hablar con el gerente YA"),
    ("escalation_request", "que me atienda un responsable"),
    ("escalation_request", "necesito hablar con alguien con autoridad"),
    ("escalation_request", "I want to speak to a manager"),
    ("escalation_request", "put me through to a supervisor"),
    ("escalation_request", "please escalate this"),
    ("escalation_request", "let me talk to someone in charge"),
    # toxicity
    ("insult", "sois unos inútiles"),
    ("insult", "LADRONES!!!"),
    ("insult", "gilipollas"),
    ("insult", "pinches pendejos"),
    ("insult", "sois una mierda"),
    ("insult", "vaya panda de incompetentes"),
    ("insult", "you idiots"),
    ("insult", "bunch of clowns"),
    ("insult", "you're useless"),
    ("insult", "fuck you"),
    ("profanity", "joder, otra vez sin luz"),
    ("profanity", "hostia, qué desastre"),
    ("profanity", "me cago en todo"),
    ("profanity", "mierda de app"),
    ("profanity", "Esta app es una mierda"),
    ("profanity", "carajo, no anda"),
    ("profanity", "la puta madre, otra vez"),
    ("profanity", "qué chingada es esto"),
    ("profanity", "ffs not again"),
    ("profanity", "wtf is this"),
    ("profanity", "damn, broken again"),
    ("threat", "os rompo el escaparate"),
    ("threat", "te voy a partir la cara"),
    ("threat", "I'll smash your windows"),
    ("threat", "voy a quemar la tienda"),
    ("threat", "i know where you live"),
    # requests
    ("request:refund", "quiero un reembolso"),
    ("request:refund", "exijo la devolución del dinero"),
    ("request:refund", "que me devuelvan el dinero ya"),
    ("request:refund", "I want a refund"),
    ("request:refund", "give me my money back"),
    ("request:refund", "Quiero un reembolzo"),
    ("request:replacement", "que me lo cambien por otro"),
    ("request:replacement", "pido la reposición del producto"),
    ("request:replacement", "I need a replacement"),
    ("request:repair", "necesito que lo reparen"),
    ("request:repair", "please repair my washing machine"),
    ("request:cancellation", "quiero cancelar el pedido"),
    ("request:cancellation", "cancelen la reserva por favor"),
    ("request:cancellation", "please cancel my order"),
    ("request:cancellation", "cancelo mi suscripción"),
    ("request:appointment", "quiero pedir cita"),
    ("request:appointment", "necesito un turno para el técnico"),
    ("request:appointment", "que venga el técnico"),
    ("request:appointment", "can you book an engineer visit"),
    ("request:information", "quisiera saber el horario"),
    ("request:information", "me podéis informar del precio"),
    ("request:information", "I'd like more information about the plans"),
    # question
    ("question", "¿A qué hora abrís mañana?"),
    ("question", "como cancelo mi pedido"),
    ("question", "xq no me llega"),
    ("question", "cuando llega mi paquete"),
    ("question", "when does the store open"),
    ("question", "can you help me with my bill"),
    ("question", "me podéis decir el precio"),
    ("question", "Where is my order?"),
    # urgency
    ("urgency:days_without_service", "llevo 5 días sin internet"),
    ("urgency:days_without_service", "llevamos una semana sin luz"),
    ("urgency:days_without_service", "3 dias sin agua!!!"),
    ("urgency:days_without_service", "2 weeks without broadband"),
    ("urgency:days_without_service", "no power since Monday"),
    ("urgency:double_charge", "me habéis cobrado dos veces"),
    ("urgency:double_charge", "you charged me twice"),
    ("urgency:money_blocked", "tengo la cuenta bloqueada"),
    ("urgency:money_blocked", "my account is frozen"),
    ("urgency:deadline", "mi vuelo sale mañana"),
    ("urgency:deadline", "mi boda es el sábado"),
    ("urgency:deadline", "my flight is tomorrow"),
    ("urgency:deadline", "I need it before Friday"),
    ("urgency:vulnerable_customer", "mi madre de 85 años está sola"),
    ("urgency:vulnerable_customer", "tengo un bebé en casa"),
    ("urgency:vulnerable_customer", "estoy enfermo y sin calefacción"),
    ("urgency:vulnerable_customer", "mi hijo tiene una discapacidad"),
    ("urgency:vulnerable_customer", "my elderly mother"),
    ("urgency:vulnerable_customer", "she needs oxygen at home"),
    ("urgency:repeated_contact", "es la tercera vez que llamo"),
    ("urgency:repeated_contact", "llevo semanas escribiendo"),
    ("urgency:repeated_contact", "nadie me contesta"),
    ("urgency:repeated_contact", "third time I've called"),
    ("urgency:repeated_contact", "I've called you five times"),
    ("urgency:safety", "huele a gas en la cocina"),
    ("urgency:safety", "hay un cable pelado en la calle"),
    ("urgency:safety", "el router echa humo"),
    ("urgency:safety", "there is smoke coming out of the meter"),
    ("urgency:safety", "I can smell gas"),
]

HARD_NEGATIVES: list[tuple[str, str]] = [
    ("churn_threat", "no me quiero dar de baja, solo cambiar de tarifa"),
    ("churn_threat", "¿cómo me doy de alta?"),
    ("churn_threat", "I'm not cancelling, just asking about the upgrade"),
    ("churn_threat", "os dejo mi número de cliente: 12345"),
    ("churn_threat", "quiero cambiar de tarifa"),
    ("churn_threat", "estoy de baja médica y no puedo ir a la tienda"),
    ("churn_threat", "quiero hacer la portabilidad a vosotros"),
    ("churn_threat", "I don't want to cancel my account"),
    ("churn_threat", "switching to the new plan was easy"),
    ("churn_threat", "no tengo intención de darme de baja"),
    ("legal_threat", "no pienso denunciar, solo quiero mi dinero"),
    ("legal_threat", "mi abogado me recomendó vuestro seguro"),
    ("legal_threat", "my lawyer friend recommended you"),
    ("legal_threat", "¿cuál es la política de devoluciones?"),
    ("legal_threat", "me robaron el móvil y voy a denunciar el robo"),
    ("legal_threat", "hay alta demanda estos días"),
    ("legal_threat", "mi consumo de datos es muy alto"),
    ("legal_threat", "my sister Sue ordered it"),
    ("legal_threat", "a mi juicio el producto es bueno"),
    ("public_escalation_threat", "lo publiqué en Insta, me encanta"),
    ("public_escalation_threat", "conecté el router a la tele"),
    ("public_escalation_threat", "I posted it on Insta, love it"),
    ("public_escalation_threat", "the video went viral last year"),
    ("public_escalation_threat", "voy a dejar una reseña buenísima"),
    ("escalation_request", "el director de la peli es buenísimo"),
    ("escalation_request", "the director of the movie was great"),
    ("escalation_request", "ayer hablé con el encargado y todo bien"),
    ("escalation_request", "me gusta escalar montañas"),
    ("insult", "Esta app es una mierda"),
    ("insult", "la app es inútil"),
    ("insult", "unos ladrones me robaron el móvil"),
    ("insult", "I feel like an idiot"),
    ("profanity", "sois una mierda"),
    ("threat", "me parto de risa"),
    ("threat", "this wait is killing me"),
    ("threat", "I could kill for a coffee"),
    ("threat", "os voy a quemar en redes"),
    ("request:cancellation", "habéis cancelado mi vuelo sin avisar"),
    ("request:cancellation", "you cancelled my flight"),
    ("request:refund", "gracias por el reembolso, todo bien"),
    ("request:refund", "what is your refund policy"),
    ("request:repair", "ya está arreglado, gracias"),
    ("question", "Como siempre, tarde."),
    ("question", "Gracias por todo"),
    ("urgency:days_without_service", "llevo 5 días de vacaciones"),
    ("urgency:vulnerable_customer", "mi hijo bebe mucha leche"),
    ("urgency:safety", "qué oferta tan buena, me encanta"),
    ("urgency:double_charge", "me cobraron una vez, todo bien"),
]


@pytest.mark.parametrize(("label", "text"), POSITIVES)
def test_positive(label: str, text: str) -> None:
    hits = find_hits(text)
    assert_spans(text, hits)
    assert label in positive_labels(text), (label, text, hits)


@pytest.mark.parametrize(("label", "text"), HARD_NEGATIVES)
def test_hard_negative(label: str, text: str) -> None:
    hits = find_hits(text)
    assert_spans(text, hits)
    assert label not in positive_labels(text), (label, text, hits)


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("no me quiero dar de baja, solo cambiar de tarifa", "churn_threat"),
        ("I'm not cancelling, just asking about the upgrade", "churn_threat"),
        ("no pienso denunciar, solo quiero mi dinero", "legal_threat"),
        ("I'm not going to sue anyone", "legal_threat"),
        ("no hace falta hablar con el supervisor", "escalation_request"),
    ],
)
def test_negation_keeps_evidence_but_flags_it(text: str, label: str) -> None:
    hits = [h for h in find_hits(text) if h.label == label]
    assert hits, text
    assert all(h.negated for h in hits), hits


@pytest.mark.parametrize(
    "text",
    [
        "si no lo arregláis mañana me doy de baja",
        "no funciona, me doy de baja",
        "ya no quiero seguir con vosotros",
        "if you don't fix it I'm cancelling my contract",
    ],
)
def test_conditions_and_ya_no_are_not_negations(text: str) -> None:
    assert "churn_threat" in positive_labels(text), find_hits(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ESTO ES UNA ESTAFAAAA, OS DENUNCIOOOO", "OS DENUNCIOOOO"),
        ("Quiero hablar con el DIRECTÓR", "Quiero hablar con el DIRECTÓR"),
        ("me doy de   baja", "me doy de   baja"),
        ("quiero un reembolso del pedido", "reembolso"),
        ("quiero un rembolso", "rembolso"),
        ("os voy a denunciar 😡😡 https://x.com/a_b #OCU", "os voy a denunciar"),
        ("portavilidad ya", "portavilidad"),
        ("Cancelé, no: cancelo mi cuenta", "cancelo mi cuenta"),
        ("@Movistar_ES me paso a Vodafone", "me paso a Vodafone"),
        ("llevo 5 días sin fibra", "llevo 5 días sin fibra"),
        ("Llevo 5 di\u0301as sin fibra", "Llevo 5 di\u0301as sin fibra"),
    ],
)
def test_spans_are_original_slices(text: str, expected: str) -> None:
    hits = find_hits(text)
    assert_spans(text, hits)
    assert expected in {h.text for h in hits}, hits


def test_folding_keeps_an_offset_for_every_character() -> None:
    text = "¡¡NOOOO!! Cañón   ÁRBOL\tcafe\u0301 staff İ"
    folded, omap = fold(text)
    assert folded.startswith("¡¡no!! canon arbol")
    assert len(omap) == len(folded) + 1
    assert omap[-1] == len(text)
    assert all(a < b for a, b in zip(omap, omap[1:], strict=False))
    for i, ch in enumerate(folded):
        if ch.isalpha() and ch.isascii():
            assert text[omap[i]].lower().startswith(ch) or text[omap[i]] in "ñÑáÁéÉíÍóÓúÚİ", (i, ch)


def test_profanity_insult_and_threat_stay_apart() -> None:
    assert positive_labels("esta app es una mierda") == {"profanity"}
    assert positive_labels("sois una mierda") == {"insult"}
    both = positive_labels("joder, sois unos ladrones y os rompo el escaparate")
    assert {"profanity", "insult", "threat"} <= both


def test_cancelling_an_order_is_not_churn() -> None:
    labels = positive_labels("quiero cancelar el pedido 1234")
    assert "request:cancellation" in labels
    assert "churn_threat" not in labels
    labels = positive_labels("quiero cancelar mi contrato")
    assert {"request:cancellation", "churn_threat"} <= labels


def test_rhetorical_question_is_weaker() -> None:
    plain = [h for h in find_hits("¿Cuándo llega mi pedido?") if h.label == "question"]
    rhetorical = [h for h in find_hits("¿¿Pero esto qué es??!") if h.label == "question"]
    assert plain and rhetorical
    assert rhetorical[0].weight < plain[0].weight


def test_urgency_reasons() -> None:
    text = "Mi madre de 85 años lleva 3 días sin luz, es la tercera vez que llamo y huele a gas"
    hits = find_hits(text)
    reasons = urgency_reasons(text, hits)
    codes = [r.split(":")[0] for r in reasons]
    assert codes[0] == "safety"
    assert {"safety", "vulnerable_customer", "days_without_service", "repeated_contact"} <= set(codes)
    assert "days_without_service: 'lleva 3 días sin luz'" in reasons
    assert urgency_reasons("gracias, todo perfecto", find_hits("gracias, todo perfecto")) == []


def test_urgency_reasons_english() -> None:
    text = "You charged me twice, my account is frozen and my flight is tomorrow"
    codes = {r.split(":")[0] for r in urgency_reasons(text, find_hits(text))}
    assert codes == {"double_charge", "money_blocked", "deadline"}


@pytest.mark.parametrize(
    ("text", "language", "label"),
    [
        ("me doy de baja", "es", "churn_threat"),
        ("I will sue you", "en", "legal_threat"),
        ("me doy de baja", None, "churn_threat"),
        ("wtf, me doy de baja", "es", "profanity"),
    ],
)
def test_language_hint(text: str, language: str | None, label: str) -> None:
    assert label in positive_labels(text, language)


def test_language_hint_skips_other_language_rules() -> None:
    assert "legal_threat" not in positive_labels("I will sue you", "es")


def test_off_topic_chatter_has_no_high_stakes_hits() -> None:
    for text in [
        "Qué partidazo anoche, golazo en el 90",
        "Hoy hace un día precioso para ir a la playa",
        "Great match last night!",
        "Feliz cumple, hermana 🎉",
    ]:
        assert not positive_labels(text) & {
            "churn_threat",
            "legal_threat",
            "public_escalation_threat",
            "escalation_request",
            "insult",
            "threat",
            "profanity",
        }, (text, find_hits(text))


def test_empty_and_odd_input() -> None:
    assert find_hits("") == []
    assert find_hits("   ") == []
    assert find_hits("🔥🔥🔥") == []
    assert_spans("İİİ ¿¿??", find_hits("İİİ ¿¿??"))
