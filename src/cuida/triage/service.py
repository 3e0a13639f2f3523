"""Triage entry point: `analyze(text) -> Analysis`.

Three layers, each doing what it is good at: the learned heads (sentiment, complaint, intents,
toxicity, emotion, urgency) read word and character n-grams plus lexicon features; curated rules
catch the rare, high-stakes intents and keep insult, threat and profanity apart, with negation;
patterns pull out entities. Every label carries the words that drove it."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from cuida.events.service import Actor
from cuida.triage import entities as entity_extractor
from cuida.triage import lexicon, rules
from cuida.triage.language import detect
from cuida.triage.model import MODEL_FILE, TriageModel
from cuida.triage.models import TriageCorrection
from cuida.triage.schemas import (
    EMOTIONS,
    INTENTS,
    Analysis,
    Complaint,
    Sentiment,
    Toxicity,
    Urgency,
)

MODEL_DIR = Path(__file__).parent / "artifacts"
MAX_CHARS = 5000  # longer texts are judged on their first part (emails with quoted history)
_lock = threading.Lock()
_model: TriageModel | None = None
_model_dir: Path | None = None


def use_model_dir(folder: Path | None) -> None:
    """Use a company's own model (built by `cuida train`) instead of the shipped one."""
    global _model, _model_dir
    with _lock:
        _model_dir = folder
        _model = None


def model_dir() -> Path:
    if _model_dir is not None:
        return _model_dir
    configured = os.environ.get("CUIDA_TRIAGE_MODEL_DIR")
    return Path(configured) if configured else MODEL_DIR


def load_model() -> TriageModel:
    global _model
    if _model is None:
        with _lock:
            if _model is None:
                folder = model_dir()
                if not (folder / MODEL_FILE).exists():
                    raise FileNotFoundError(
                        f"no triage model in {folder}: run `cuida train` (or reinstall Cuida)"
                    )
                _model = TriageModel.load(folder, dense=lexicon.features)
    return _model


def _rule_probability(model_p: float, hits: list[rules.Hit]) -> float:
    """Curated evidence is precise: a clear hit sets the label, a weak one (a bare "abogado") only
    nudges the model, and a negated one ("no me quiero dar de baja") vetoes it."""
    strong = [h for h in hits if not h.negated and h.weight >= 0.5]
    if strong:
        return max(model_p, 0.5 + 0.49 * max(h.weight for h in strong))
    weak = [h for h in hits if not h.negated]
    if weak:
        return min(0.49, max(model_p, 1 - (1 - model_p) * (1 - 0.5 * max(h.weight for h in weak))))
    if hits:
        return min(model_p, 0.15)
    return model_p


# Reported service failures are complaints by definition, however calmly they are worded.
SERVICE_FAILURES = (
    "urgency:days_without_service",
    "urgency:double_charge",
    "urgency:money_blocked",
    "urgency:repeated_fault",
)


def analyze(text: str) -> Analysis:
    text = text[:MAX_CHARS]
    language, confidence = detect(text)
    feature_language = language if language in ("es", "en") else "es"
    model = load_model()
    scored = model.score(text, feature_language)
    predicted = model.probabilities(scored)
    hits = rules.find_hits(text, language)
    by_label: dict[str, list[rules.Hit]] = {}
    for hit in hits:
        by_label.setdefault(hit.label, []).append(hit)
    reasons: dict[str, list[str]] = {"language": [f"py3langid {confidence:.2f}"]}
    evidence = lexicon.evidence(text, feature_language)

    def why(column_head: str, label: str | None = None) -> list[str]:
        head = model.heads[column_head]
        column = head.start + (head.labels.index(label) if label is not None else 0)
        return model.top_features(scored, column)

    failures = [h for h in hits if h.label in SERVICE_FAILURES and not h.negated]
    # Sentiment: the model, explained by lexicon words first, then the strongest features.
    sentiment_scores = dict(predicted["sentiment"])
    if failures and sentiment_scores["positive"] < 0.5:
        # Days without service or a double charge is a bad experience, however dryly reported.
        moved = sentiment_scores["neutral"] * 0.6
        sentiment_scores["neutral"] -= moved
        sentiment_scores["negative"] += moved
    sentiment_label = max(sentiment_scores, key=lambda k: sentiment_scores[k])
    lexicon_words = evidence.get(sentiment_label, []) if sentiment_label != "neutral" else []
    reasons["sentiment"] = lexicon_words[:4] or why("sentiment", sentiment_label)
    if failures and sentiment_label == "negative":
        reasons["sentiment"] = [*reasons["sentiment"], *(f"«{h.text}»" for h in failures)][:5]

    complaint_p = predicted["complaint"]["complaint"]
    if failures:
        complaint_p = max(complaint_p, 0.8)
    if complaint_p >= 0.5:
        reasons["complaint"] = [f"«{h.text}»" for h in failures] or why("complaint")

    intents: dict[str, float] = {}
    for intent in INTENTS:
        if intent == "complaint":
            intents[intent] = complaint_p
            continue
        model_p = predicted[f"intent:{intent}"][f"intent:{intent}"]
        label_hits = by_label.get(intent, [])
        if intent == "request":
            label_hits = [h for h in hits if h.label.startswith("request:")]
        p = _rule_probability(model_p, label_hits)
        if intent == "off_topic" and complaint_p >= 0.5:
            p = min(p, 1 - complaint_p)  # a complaint about the service is on topic by definition
        intents[intent] = round(p, 4)
        if p >= 0.5:
            words = [f"«{h.text}»" for h in label_hits if not h.negated]
            reasons[intent] = words or why(f"intent:{intent}")
        elif any(h.negated for h in label_hits):
            reasons[f"not_{intent}"] = [f"«{h.text}» (negated)" for h in label_hits if h.negated]

    request_kind = None
    if intents["request"] >= 0.5:
        kinds = [h for h in hits if h.label.startswith("request:") and not h.negated]
        if kinds:
            request_kind = max(kinds, key=lambda h: h.weight).label.split(":", 1)[1]
        else:
            kind_scores = predicted["request_kind"]
            request_kind = max(kind_scores, key=lambda k: kind_scores[k])

    toxicity: dict[str, float] = {}
    for kind in ("insult", "threat", "profanity"):
        model_p = predicted[f"toxicity:{kind}"][f"toxicity:{kind}"]
        p = _rule_probability(model_p, by_label.get(kind, []))
        if kind == "insult" and "insult" not in by_label and "profanity" in by_label:
            # The rules read the swearing as aimed at a thing ("esta app es una mierda"), not a person.
            p = min(p, 0.4)
        toxicity[kind] = round(p, 4)
        if p >= 0.5:
            words = [f"«{h.text}»" for h in by_label.get(kind, []) if not h.negated]
            reasons[kind] = words or why(f"toxicity:{kind}")

    emotion_scores = predicted["emotion"]
    emotion = {name: round(emotion_scores.get(name, 0.0), 4) for name in EMOTIONS}
    for name in EMOTIONS:
        if emotion[name] >= 0.5:
            reasons[name] = evidence.get(name, [])[:4] or why("emotion", name)

    urgency_scores = predicted["urgency"]
    urgency_why = rules.urgency_reasons(text, hits)
    if urgency_why:
        urgency_label = "high"
    elif urgency_scores["high"] >= 0.5:
        urgency_label = "high"
        urgency_why = [f"model: {', '.join(why('urgency', 'high'))}"]
    elif urgency_scores["low"] >= 0.5 and complaint_p < 0.5:
        urgency_label = "low"
    else:
        urgency_label = "normal"
    if urgency_why:
        reasons["urgency"] = urgency_why

    found = entity_extractor.extract_entities(text)
    return Analysis(
        language=language,
        language_scores={language: round(confidence, 4)},
        sentiment=Sentiment(
            label=sentiment_label,  # type: ignore[arg-type]
            scores={k: round(v, 4) for k, v in sentiment_scores.items()},
        ),
        complaint=Complaint(label=complaint_p >= 0.5, probability=round(complaint_p, 4)),
        intents=intents,
        request_kind=request_kind,
        toxicity=Toxicity(**toxicity),
        urgency=Urgency(label=urgency_label, reasons=urgency_why),  # type: ignore[arg-type]
        emotion=emotion,
        entities=found,
        reasons=reasons,
    )


__all__ = ["Analysis", "analyze", "load_model", "use_model_dir", "MODEL_DIR"]


# --- corrections: agents fix a label; the fix is kept as training data ---------------------------

CORRECTABLE = (
    "sentiment",
    "complaint",
    "emotion",
    "urgency",
    "request_kind",
    *(f"intent:{i}" for i in INTENTS if i != "complaint"),
    *(f"toxicity:{k}" for k in ("insult", "threat", "profanity")),
)


def check_correction(field: str, value: object) -> object:
    """The value an agent may set for a field, or ValueError saying what is allowed."""
    from cuida.triage.schemas import REQUEST_KINDS, SENTIMENTS, URGENCIES

    if field == "intent:complaint":
        field = "complaint"
    choices: dict[str, tuple[str, ...]] = {
        "sentiment": SENTIMENTS,
        "emotion": (*EMOTIONS, "none"),
        "urgency": URGENCIES,
        "request_kind": REQUEST_KINDS,
    }
    if field in choices:
        if value not in choices[field]:
            raise ValueError(f"{field} must be one of {', '.join(choices[field])}")
        return value
    if field in CORRECTABLE:
        if not isinstance(value, bool):
            raise ValueError(f"{field} must be true or false")
        return value
    raise ValueError(f"unknown field {field!r}; correctable: {', '.join(CORRECTABLE)}")


def record_correction(
    *, session: Session, message_id: int, field: str, value: object, actor: Actor
) -> TriageCorrection:
    from cuida.clock.service import now
    from cuida.common.errors import Invalid, NotFound
    from cuida.conversations.models import Message
    from cuida.events.service import publish

    message = session.get(Message, message_id)
    if message is None:
        raise NotFound(f"message {message_id} not found")
    try:
        value = check_correction(field, value)
    except ValueError as exc:
        raise Invalid(str(exc), field="value" if field in CORRECTABLE else "field") from None
    if field == "intent:complaint":
        field = "complaint"
    triage = dict(message.triage or {})
    corrections: dict[str, object] = dict(triage.get("corrections") or {})  # type: ignore[call-overload]
    previous = corrections.get(field, _current_label(triage, field))
    corrections[field] = value
    triage["corrections"] = corrections
    message.triage = triage
    correction = TriageCorrection(
        message_id=message.id,
        field=field,
        value=value,
        previous=previous,
        text=message.text,
        language=str(triage.get("language") or "es"),
        agent_id=actor.id if actor.type == "agent" else None,
        created_at=now(session=session),
    )
    session.add(correction)
    session.flush()
    publish(
        session=session,
        type="triage.corrected",
        actor=actor,
        customer_id=message.customer_id,
        conversation_id=message.conversation_id,
        message_id=message.id,
        payload={"field": field, "value": value, "previous": previous},
    )
    return correction


def _current_label(triage: dict[str, object], field: str) -> object:
    """What the model said for a field, to keep beside the correction."""
    try:
        if field in ("sentiment", "urgency"):
            return triage[field]["label"]  # type: ignore[index]
        if field == "complaint":
            return triage["complaint"]["label"]  # type: ignore[index]
        if field == "emotion":
            emotion: dict[str, float] = triage["emotion"]  # type: ignore[assignment]
            best = max(emotion, key=lambda k: emotion[k])
            return best if emotion[best] >= 0.5 else "none"
        if field == "request_kind":
            return triage.get("request_kind")
        group, name = field.split(":", 1)
        key = "intents" if group == "intent" else "toxicity"
        return triage[key][name] >= 0.5  # type: ignore[index]
    except (KeyError, TypeError, ValueError):
        return None


def corrections_for(*, session: Session, message_id: int) -> list[TriageCorrection]:
    return list(
        session.scalars(
            select(TriageCorrection)
            .where(TriageCorrection.message_id == message_id)
            .order_by(TriageCorrection.id)
        )
    )


def correction_examples(*, session: Session) -> list[tuple[str, str, dict[str, object]]]:
    """(text, language, {field: value}) per corrected message, latest correction per field."""
    latest: dict[int, tuple[str, str, dict[str, object]]] = {}
    for row in session.scalars(select(TriageCorrection).order_by(TriageCorrection.id)):
        text, language, labels = latest.setdefault(row.message_id, (row.text, row.language, {}))
        labels[row.field] = row.value
    return list(latest.values())
