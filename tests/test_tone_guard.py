"""Tone guard: the brief's must-flag / must-not-flag cases, promises against authority, spans,
language of the advice, and accuracy on the labelled drafts in triage/corpus/drafts-*.jsonl."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cuida.triage.tone import ReplyContext, review_reply

CORPUS = Path(__file__).resolve().parents[1] / "src" / "cuida" / "triage" / "corpus"
DRAFT_FILES = sorted(CORPUS.glob("drafts-*.jsonl"))


def _kinds(draft: str, ctx: ReplyContext | None = None, severity: str | None = None) -> set[str]:
    return {f.kind for f in review_reply(draft, ctx).flags if severity is None or f.severity == severity}


MUST_BLOCK = [
    ("Pues si no te gusta no vengas, pesado.", {"insult", "dismissive"}),
    ("Un fabricante de tractores no va a enseñarnos a hacer coches.", {"contempt"}),
    ("Eso es culpa suya por no leer las condiciones.", {"blame"}),
    ("Como ya le dije tres veces...", {"contempt"}),
    ("Obviamente no ha leído el manual", {"contempt"}),
    ("Si no sabe usarlo no es nuestro problema", {"dismissive"}),
    ("Vaya, qué sorpresa, otro cliente que no sabe leer", {"sarcasm", "contempt"}),
    ("You clearly didn't read the instructions", {"contempt"}),
    ("That's not our problem", {"dismissive"}),
    ("Calm down", {"dismissive"}),
    ("Cálmese", {"dismissive"}),
    ("Good luck with that", {"dismissive"}),
    ("Eres un idiota.", {"insult"}),
    ("No seas pesado, ya te contestamos.", {"insult"}),
    ("Qué pesada es usted.", {"insult"}),
    ("Mira, listillo, eso no cuela.", {"insult"}),
    ("Menudo pringado.", {"insult"}),
    ("Es usted un imbécil.", {"insult"}),
    ("You're a moron.", {"insult"}),
    ("Listen, idiot, it ships when it ships.", {"insult"}),
    ("Joder, ya le hemos contestado.", {"profanity"}),
    ("Esto es una mierda de sistema.", {"profanity"}),
    ("What the fuck do you want?", {"profanity"}),
    ("That's bullshit.", {"profanity"}),
]

MUST_NOT_FLAG = [
    "No podemos cambiar el producto, pero le ofrecemos la reparación gratuita.",
    "Lamentamos las molestias; según las condiciones no es posible el reembolso, pero podemos ofrecerle un vale.",
    "Entendemos su enfado y lo sentimos de verdad.",
    "We can't replace it, but we can repair it for free.",
    "Please calm any worries: your money is safe.",
    "Su culpa no es.",
    "No es culpa suya.",
    "It's not your fault at all.",
    "Usted dice que 'es un timo', y entiendo que lo parezca.",
    "Usted nos llamó «idiotas» y entiendo su enfado.",
    'Nos escribe que somos "unos pesados"; lo sentimos.',
    'You said we were "morons", and I understand why.',
    "El paquete es pesado, así que irán dos repartidores.",
    "No hay preguntas tontas.",
    "Once things calm down at the warehouse we'll confirm a date.",
    "Pinche aquí para descargar la factura.",
    "Gracias, Bob.",
    "No se preocupe, no es su problema: lo resolvemos nosotros.",
    "You should have received a confirmation email.",
    "Para que lo entienda mejor, le adjunto una guía.",
    "Gracias por su mensaje.\n\n> sois unos idiotas y unos ladrones",
    "",
]


@pytest.mark.parametrize(("draft", "expected"), MUST_BLOCK)
def test_must_block(draft: str, expected: set[str]) -> None:
    review = review_reply(draft)
    assert not review.ok
    assert expected <= _kinds(draft, severity="block") | _kinds(draft), (draft, review.flags)
    assert review.score >= 0.6


@pytest.mark.parametrize("draft", MUST_NOT_FLAG)
def test_must_not_flag(draft: str) -> None:
    review = review_reply(draft)
    assert review.ok
    assert review.flags == [], review.flags
    assert review.score < 0.2


def test_repetition_with_count_blocks_without_count_warns() -> None:
    assert _kinds("Como ya le dije tres veces, el plazo es de 14 días.", severity="block") == {"contempt"}
    mild = review_reply("Como ya le dije, el plazo es de 14 días.")
    assert mild.ok and [(f.kind, f.severity) for f in mild.flags] == [("contempt", "warn")]


def test_insult_negated_or_self_directed_frames() -> None:
    assert not review_reply("No seas idiota.").ok  # "no seas" is an insult frame, not a negation
    assert review_reply("You are not an idiot, the form is confusing.").ok
    assert review_reply("No es ninguna pregunta estúpida.").ok


@pytest.mark.parametrize(
    ("draft", "ctx", "flagged"),
    [
        ("Le garantizo que mañana lo tiene.", ReplyContext(), True),
        ("Le devolvemos 500 euros.", ReplyContext(max_compensation=100), True),
        ("Le devolvemos 500 euros.", ReplyContext(max_compensation=1000), False),
        ("Le devolvemos 500 euros.", ReplyContext(), False),  # authority unknown: not checked
        ("Le devolvemos 1.500,00 €.", ReplyContext(max_compensation=1000), True),
        ("We'll refund you €1,200.50 today.", ReplyContext(max_compensation=1000), True),
        (
            "No podemos devolverle 500 euros, pero sí anular la penalización.",
            ReplyContext(max_compensation=50),
            False,
        ),
        ("I promise it will never happen again.", ReplyContext(), True),
        ("We will refund the full amount.", ReplyContext(max_compensation=50), True),
        ("El técnico irá el lunes.", ReplyContext(may_promise_dates=False), True),
        ("El técnico irá el lunes.", ReplyContext(), False),
        (
            "Según el transportista, la entrega está prevista para mañana.",
            ReplyContext(may_promise_dates=False),
            False,
        ),
        ("I promise I'll look into it personally.", ReplyContext(), False),
    ],
)
def test_unauthorized_promises_warn(draft: str, ctx: ReplyContext, flagged: bool) -> None:
    review = review_reply(draft, ctx)
    promises = [f for f in review.flags if f.kind == "unauthorized_promise"]
    assert bool(promises) == flagged, review.flags
    assert all(f.severity == "warn" for f in promises)
    assert review.ok  # a warning never blocks on its own


def test_amount_explanation_names_amount_and_limit() -> None:
    (flag,) = review_reply("Le devolvemos 500 euros.", ReplyContext(max_compensation=100)).flags
    assert flag.text == "500 euros" and "500" in flag.explanation and "100" in flag.explanation


def test_spans_explanations_and_suggestions() -> None:
    draft = "Pues si no te gusta no vengas, pesado."
    review = review_reply(draft)
    assert review.language == "es"
    for f in review.flags:
        assert draft[f.start : f.end] == f.text
        assert f.explanation and f.suggestion
    insult = next(f for f in review.flags if f.kind == "insult")
    assert insult.text == "pesado"
    dismissive = next(f for f in review.flags if f.kind == "dismissive")
    assert "estés" in dismissive.suggestion  # the draft says "te": the advice keeps the tú register
    en = review_reply("That's not our problem.")
    assert en.language == "en" and "problem" in en.flags[0].explanation


def test_vocative_insult_suggestion_drops_the_insult() -> None:
    (flag,) = review_reply("Ya te dije que no, huevón.").flags
    assert flag.suggestion == "Ya te dije que no."


def test_customer_name_and_explicit_language() -> None:
    review = review_reply("Calm down, please.", ReplyContext(customer_name="Sam"))
    assert "Sam" in review.flags[0].suggestion
    forced = review_reply("Calm down.", ReplyContext(language="es-MX"))
    assert forced.language == "es" and "cliente" in forced.flags[0].explanation


def _records() -> list[dict]:
    rows = []
    for path in DRAFT_FILES:
        with path.open(encoding="utf-8") as fh:
            rows.extend(json.loads(line) for line in fh if line.strip())
    return rows


def test_drafts_file_shape() -> None:
    rows = _records()
    assert len(rows) >= 300
    oks = sum(r["ok"] for r in rows)
    assert 0.35 < oks / len(rows) < 0.65
    allowed = {"contempt", "insult", "blame", "dismissive", "sarcasm", "unauthorized_promise", "profanity"}
    for r in rows:
        assert r["lang"] in ("es", "en") and isinstance(r["ok"], bool) and set(r["kinds"]) <= allowed
        assert r["ok"] or r["kinds"]


def test_accuracy_on_drafts() -> None:
    rows = _records()
    correct = 0
    for r in rows:
        review = review_reply(r["text"], ReplyContext(**r.get("context", {})))
        correct += review.ok == r["ok"]
    assert correct / len(rows) >= 0.9


def test_suggestions_pass_the_guard_themselves() -> None:
    for r in _records():
        for f in review_reply(r["text"], ReplyContext(**r.get("context", {}))).flags:
            assert review_reply(f.suggestion, ReplyContext(language=r["lang"])).ok, f.suggestion
