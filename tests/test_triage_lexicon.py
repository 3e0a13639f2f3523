"""Lexicon features: folding, tokens, negation, intensifiers, multiword entries, emoji, and the
shipped TSV files themselves."""

from __future__ import annotations

from importlib import resources

import pytest

from cuida.triage import lexicon
from cuida.triage.lexicon import emotion_matches, evidence, features, fold, sentiment_matches, tokens


def score(text: str, language: str) -> float:
    return sum(m.polarity for m in sentiment_matches(tokens(text), language))


def terms(text: str, language: str) -> list[str]:
    return [m.term for m in sentiment_matches(tokens(text), language)]


# --- folding and tokens ---------------------------------------------------------------------------


def test_fold_lowercases_strips_accents_and_squeezes():
    assert fold("Está GENIAL, Ñandú") == "esta genial, nandu"
    assert fold("graciasssss!!!!") == "graciass!!"
    assert fold("cool") == "cool"
    assert fold("❤️") == "❤"  # the emoji variation selector goes


def test_tokens_keep_emoji_and_mark_urls_and_mentions():
    toks = tokens("Me encanta 😍😍 @Iberia https://t.co/x #PesimoServicio")
    assert toks == ["me", "encanta", "😍", "😍", "<user>", "<url>", "pesimo", "servicio"]
    assert tokens("escribid a ana@example.com") == ["escribid", "a", "<email>"]


def test_tokens_split_english_negative_contractions():
    assert tokens("I don't like it") == ["i", "do", "n't", "like", "it"]
    assert tokens("it doesnt work") == ["it", "does", "n't", "work"]
    assert tokens("I can’t wait") == ["i", "can", "n't", "wait"]


def test_tokens_keep_emoticons_and_punctuation():
    assert tokens("genial :) pero... ¿por qué? :(") == ["genial", ":)", "pero", "..", "por", "que", "?", ":("]


# --- sentiment ------------------------------------------------------------------------------------


def test_single_words_in_both_languages():
    assert score("horrible", "es") < -2
    assert score("genial", "es") > 2
    assert score("awful", "en") < -2
    assert score("awesome", "en") > 2


def test_negation_flips_a_liked_thing():
    assert score("me gusta", "es") > 0
    assert score("No me gusta", "es") < -1
    assert score("I don't like it", "en") < -1
    matches = sentiment_matches(tokens("nunca me ha gustado"), "es")
    assert matches[0].negated and matches[0].polarity < 0


def test_negated_negative_is_not_strongly_negative():
    for text in ("No está mal", "no es malo", "no es que sea malo"):
        assert score(text, "es") > 0, text
    for text in ("not bad", "not terrible", "it wasn't bad at all"):
        assert score(text, "en") > 0, text


def test_negation_scope_ends_at_punctuation():
    assert score("No, me encanta", "es") > 2
    assert score("No. Great service", "en") > 1


def test_double_negation_entries_are_not_flipped():
    assert score("no tengo ninguna queja", "es") > 0
    assert score("sin problemas", "es") > 0
    assert score("no hay problema", "es") > 0


def test_intensifiers_and_downtoners():
    assert score("muy lento", "es") < score("lento", "es") < score("un poco lento", "es") < 0
    assert score("super amable", "es") > score("amable", "es")
    assert score("really good", "en") > score("good", "en") > score("a bit good", "en") > 0
    assert score("re lindo", "es") > score("lindo", "es")


def test_contrast_makes_the_last_clause_weigh_more():
    f = features("El producto es bueno pero el envío fue un desastre", "es")
    assert f["has_contrast"] == 1.0
    assert f["last_clause_polarity"] < 0
    assert score("bueno pero lento", "es") < 0
    assert score("lento pero bueno", "es") > 0


def test_multiword_expressions_win_over_their_words():
    assert terms("esto es una tomadura de pelo", "es") == ["una tomadura de pelo"]
    assert score("la app no funciona", "es") < -1
    assert score("el hotel es de lujo", "es") > 2
    assert score("ni caso a mis correos", "es") < -1
    assert score("qué asco", "es") < -2
    assert score("vale la pena", "es") > 0
    assert score("this is a rip off", "en") < -2
    assert score("doesn't work", "en") < -1


def test_emoji_and_emoticons():
    assert score("😍", "es") > 2 and score("😡", "es") < -2
    assert score("👍", "en") > 0 and score("👎", "en") < 0
    assert score("❤️", "es") > 2  # with the variation selector
    assert score(":)))", "es") > 0 and score(":-(", "en") < 0
    f = features("gracias 🙏😍 pero 😭", "es")
    assert f["emoji_pos"] > 0 and f["emoji_neg"] > 0


def test_accents_caps_and_elongation_do_not_matter():
    assert score("PÉSIMO", "es") == score("pesimo", "es") < 0
    assert score("Me ENCANTAAAA", "es") == score("me encanta", "es") > 0
    assert score("buenooo", "es") == score("bueno", "es")
    assert score("loooove it", "en") == score("love it", "en")


def test_spain_and_latam_slang():
    for text in ("qué chido", "está bacán", "muy chévere", "de puta madre", "una chimba", "es la neta",
                 "la raja", "qué guay", "re copado", "joya"):  # fmt: skip
        assert score(text, "es") > 0, text
    for text in ("qué cutre", "muy fome", "qué bajón", "bien chafa", "menuda chapuza", "un garrón"):
        assert score(text, "es") < 0, text


def test_english_slang():
    assert score("this is fire", "en") > 0
    assert score("so lit", "en") > 0
    assert score("this sucks", "en") < 0
    assert score("meh", "en") < 0
    assert score("ugh smh", "en") < 0


def test_superlatives_and_prefixes_are_found():
    assert score("lentísimo", "es") < score("lento", "es") < 0
    assert score("amabilísima", "es") > score("amable", "es") > 0
    assert score("superbuena", "es") > score("buena", "es")


def test_unknown_language_uses_both_lexicons():
    assert score("genial", "pt") > 0 and score("awesome", "pt") > 0
    assert score("horrible service, una estafa", "other") < -2


def test_neutral_questions_score_zero():
    assert score("¿A qué hora abrís mañana?", "es") == 0
    assert score("Where can I download my invoice?", "en") == 0


# --- emotion --------------------------------------------------------------------------------------


def emotions(text: str, language: str) -> set[str]:
    return {emo for _, emo, _ in emotion_matches(tokens(text), language)}


def test_emotions():
    assert "anger" in emotions("Estoy hasta las narices, qué vergüenza 😡", "es")
    assert "sadness" in emotions("Qué pena, me siento decepcionado 😢", "es")
    assert "joy" in emotions("¡Qué ilusión! Me encanta", "es")
    assert "fear" in emotions("Me han hackeado la cuenta y tengo miedo", "es")
    assert "anger" in emotions("I'm furious, this is a scam", "en")
    assert "fear" in emotions("I'm worried, there are charges I didn't make", "en")


def test_negated_emotion_is_dropped():
    assert "fear" not in emotions("no tengo miedo", "es")
    assert "joy" not in emotions("no me gusta nada", "es")
    assert "sadness" not in emotions("I'm not sad", "en")


# --- features and evidence ------------------------------------------------------------------------


def test_features_are_named_finite_and_scaled():
    texts = ["", "ok", "NO FUNCIONA NADA!!! 😡😡 jajaja", "Love it :) lol " * 20, "¿?¿?", "@x https://y.z #a"]
    for text in texts:
        f = features(text, "es")
        assert tuple(f) == lexicon.FEATURE_NAMES
        for name, value in f.items():
            assert -3.5 <= value <= 4.5, (text, name, value)


def test_feature_values():
    f = features("NO FUNCIONA, qué asco!!! jajaja xD", "es")
    assert f["neg_sum"] > 0 and f["pos_sum"] == 0 or f["net"] < 0
    assert f["exclamations"] > 0 and f["laugh"] > 0 and f["all_caps_ratio"] > 0
    assert features("holaaaa", "es")["elongated_words"] > 0
    assert features("no me gusta", "es")["negated_count"] > 0
    assert features("what?", "en")["question_marks"] > 0
    assert features("", "en")["net"] == 0


def test_evidence_names_the_phrases():
    ev = evidence("No me gusta nada, la app no funciona y encima me cobraron dos veces 😡", "es")
    assert "no funciona" in ev["negative"]
    assert "😡" in ev["negative"] and "😡" in ev["anger"]
    assert ev["positive"] == []
    ev = evidence("I don't love it, but the staff were amazing", "en")
    assert any(p.startswith("don't love") for p in ev["negative"]) and "amazing" in ev["positive"]
    assert set(ev) == {"positive", "negative", "anger", "sadness", "joy", "fear"}


# --- the lexicon files ----------------------------------------------------------------------------


def _lines(name: str) -> list[list[str]]:
    text = resources.files("cuida.triage").joinpath("lexicons", name).read_text(encoding="utf-8")
    return [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]


@pytest.mark.parametrize(("language", "minimum"), [("es", 1500), ("en", 1000)])
def test_sentiment_files(language, minimum):
    rows = _lines(f"sentiment-{language}.tsv")
    assert len(rows) >= minimum
    seen = set()
    for row in rows:
        assert len(row) == 2, row
        term, polarity = row[0], float(row[1])
        assert -3 <= polarity <= 3 and polarity != 0, row
        assert term == " ".join(tokens(term)), f"not in folded token form: {term!r}"
        assert term not in seen, f"duplicate: {term!r}"
        seen.add(term)
    assert sum(" " in t for t in seen) >= (150 if language == "es" else 100)  # multiword entries


@pytest.mark.parametrize(("language", "minimum"), [("es", 400), ("en", 300)])
def test_emotion_files(language, minimum):
    rows = _lines(f"emotion-{language}.tsv")
    assert len({row[0] for row in rows}) >= minimum
    seen = set()
    for row in rows:
        assert len(row) == 3, row
        term, emo, weight = row[0], row[1], float(row[2])
        assert emo in lexicon.EMOTIONS, row
        assert weight in (1, 2, 3), row
        assert term == " ".join(tokens(term)), f"not in folded token form: {term!r}"
        assert (term, emo) not in seen, f"duplicate: {term!r} {emo}"
        seen.add((term, emo))
    assert {emo for _, emo in seen} == set(lexicon.EMOTIONS)
