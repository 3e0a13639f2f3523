"""Sentiment and emotion lexicons: text -> named numeric features, and the words behind them.

The lexicons live next to this module (`lexicons/*.tsv`), written by the Cuida team:

- `sentiment-{es,en}.tsv`: `term<TAB>polarity`, polarity in [-3, 3];
- `emotion-{es,en}.tsv`: `term<TAB>emotion<TAB>weight`, emotion in anger/sadness/joy/fear, weight 1..3.

Terms are stored the way `tokens()` writes them: folded (lower case, no accents, ñ -> n), tokens
joined by one space ("no funciona", "does n't work", "😡"). Lines starting with `#` are comments.

Lookups run on *canonical* tokens: a folded token that is not in the lexicon vocabulary is tried
again as a laugh ("jajajaja" -> "jaja"), an abbreviation ("q" -> "que", "u" -> "you"), without
elongation ("buenooo" -> "bueno", "looove" -> "love"), and for Spanish without the superlative or an
intensifying prefix ("lentísimo" -> "lento", "superbueno" -> "bueno", both boosted).

Scoring rules, applied to the lexicon polarity of each match (longest multiword match first):

- negation ("no", "nunca", "ni", "sin", "not", "never", "n't", ...) flips a match that starts within
  the next 3 content words (pronouns, auxiliaries and "que"/"es" do not count, so "no es que sea malo"
  is covered); a positive becomes -0.75x, a negative +0.5x ("no está mal" is mildly positive). A
  punctuation mark or "pero"/"but" ends the scope. Matches that begin with a negator ("ni caso",
  "sin problemas", "ninguna queja") are lexicon entries in their own right and are never flipped.
- intensifiers ("muy", "super", "re", "tan", "so", "really", ...) multiply the next match by ~1.5,
  downtoners ("un poco", "algo", "a bit", "kinda") by ~0.6; "poco útil" negates.
- contrast: with "pero"/"sin embargo"/"but"/"however", matches after the last marker weigh 1.4x and
  matches before it 0.6x.
"""

from __future__ import annotations

import functools
import math
import re
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

LANGUAGES = ("es", "en")
EMOTIONS = ("anger", "sadness", "joy", "fear")
POLARITY_RANGE = (-3.0, 3.0)

# --- folding and tokens ---------------------------------------------------------------------------

_MARKS = re.compile("[\u0300-\u036f\ufe0e\ufe0f\u200d\u20e3\U0001f3fb-\U0001f3ff]")
_TRIPLE = re.compile(r"(.)\1\1")
_REPEAT3 = re.compile(r"(.)\1\1+")
_ELONGATED = re.compile(r"([^\W\d_])\1\1")
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'", "\u2026": "..."})
_WIDE = re.compile("[^\x00-\u036f]")
_QUOTE_CHARS = re.compile("[\u2019\u2018`\u00b4\u2026]")
_HASHTAG = re.compile(r"(?<!\S)#(\w+)")
_CAMEL = re.compile(r"(?<=[a-z\u00e0-\u00ff])(?=[A-Z\u00c0-\u00de])")
_URL = re.compile(r"https?://\S+|www\.\S+")
_AT = re.compile(r"(?<!\S)[\w.+-]*@[\w.-]*\w")  # a mention or an email address, from a word start
_EMOJI_CLASS = (
    "\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\u2300-\u23ff\u2190-\u21ff\u2122\u2139\u3030\u303d"
)
_TOKEN = re.compile(
    r"[^\W_]+(?:'[^\W_]+)*"
    r"|\x00[a-z]+\x00"  # placeholders for URLs, mentions and emails
    r"|(?<!\w)(?:>:\(|</3|<3+|[:;=8][-o'^]?[()\[\]dpo/\\|*3sc$]+|[()\[\]][-']?[:;=])(?!\w)"
    rf"|[{_EMOJI_CLASS}]"
    r"|[!?.,;:]+"
)
_PLACEHOLDER = {"\x00url\x00": "<url>", "\x00user\x00": "<user>", "\x00email\x00": "<email>"}
_SPECIAL_TOKENS = frozenset(_PLACEHOLDER.values())
_NT_FORMS = {
    "dont": "do", "doesnt": "does", "didnt": "did", "isnt": "is", "arent": "are", "wasnt": "was",
    "werent": "were", "cant": "can", "couldnt": "could", "wont": "will", "wouldnt": "would",
    "shouldnt": "should", "havent": "have", "hasnt": "has", "hadnt": "had", "aint": "ai",
    "mustnt": "must", "neednt": "need",
}  # fmt: skip
_NT_BASES = {"ca": "can", "wo": "will", "sha": "shall"}


def fold(text: str) -> str:
    """Lower case, no accents or emoji modifiers (ñ -> n), 3+ repeated characters squeezed to 2.

    Squeezing to two keeps English double letters ("cool", "good"); the lexicon lookup later tries
    the fully collapsed form too, so "buenooo" -> "buenoo" still finds "bueno".
    """
    return _fold(text)[0]


def _fold(text: str) -> tuple[str, bool]:
    """(folded text, whether anything was squeezed)."""
    text = text.lower()
    if not text.isascii():
        if _QUOTE_CHARS.search(text):
            text = text.translate(_QUOTES)
        text = unicodedata.normalize("NFD", text)
        # Only Latin-1 letters and their accents: dropping every non-ASCII character is the same as
        # dropping the combining marks, and faster. Otherwise (emoji) remove just the marks.
        text = _MARKS.sub("", text) if _WIDE.search(text) else text.encode("ascii", "ignore").decode("ascii")
    if _TRIPLE.search(text):
        return _REPEAT3.sub(r"\1\1", text), True
    return text, False


def _split_hashtag(match: re.Match[str]) -> str:
    return " " + _CAMEL.sub(" ", match.group(1)).replace("_", " ") + " "


def _special(match: re.Match[str]) -> str:
    s = match.group(0)
    if s[0] == "@":
        return " \x00user\x00 "
    return " \x00email\x00 "


def _emoticon(tok: str) -> str:
    tok = tok.replace("-", "")
    return re.sub(r"(.)\1+", r"\1", tok) if len(tok) > 2 else tok


def tokens(text: str) -> list[str]:
    """Folded tokens: words, emoji (one per character), emoticons (":)", ":-)))", "<3"), punctuation runs
    ("!!", "?!", "..."), and "<url>", "<user>", "<email>" for links, mentions and addresses.
    Hashtags lose their "#" and are split at camel case ("#PesimoServicio" -> "pesimo", "servicio").
    English negative contractions are split: "don't"/"dont" -> "do", "n't"."""
    return _tokenize(text)[0]


def _tokenize(text: str) -> tuple[list[str], bool]:
    if "#" in text:
        text = _HASHTAG.sub(_split_hashtag, text)
    if "http" in text or "www." in text:
        text = _URL.sub(" \x00url\x00 ", text)
    if "@" in text:
        text = _AT.sub(_special, text)
    folded, squeezed = _fold(text)
    toks: list[str] = _TOKEN.findall(folded)
    if "'" not in folded and "\x00" not in folded and _NT_FORMS.keys().isdisjoint(toks):
        return toks, squeezed
    out: list[str] = []
    append = out.append
    for tok in toks:
        if "'" in tok and tok.endswith("n't") and len(tok) > 3:
            base = tok[:-3]
            append(_NT_BASES.get(base, base))
            append("n't")
        elif tok in _NT_FORMS:
            append(_NT_FORMS[tok])
            append("n't")
        elif tok[0] == "\x00":
            append(_PLACEHOLDER.get(tok, "<url>"))
        else:
            append(tok)
    return out, squeezed


# --- modifiers ------------------------------------------------------------------------------------

_NEGATORS = {
    "es": {"no", "nunca", "jamas", "ni", "tampoco", "sin", "ningun", "ninguna", "ninguno", "nadie", "nada", "poco"},
    "en": {"not", "no", "never", "n't", "cannot", "without", "nobody", "nothing", "none", "neither", "nor",
           "hardly", "barely", "lack", "lacks", "lacking"},
}  # fmt: skip
# Words that do not use up the negation scope ("no ME LO han arreglado", "not THAT good").
_SCOPE_FREE = {
    "es": {"me", "te", "se", "le", "les", "lo", "la", "los", "las", "nos", "os", "que", "es", "son", "era",
           "fue", "ha", "han", "he", "has", "hemos", "habeis", "esta", "estan", "estoy", "estaba", "muy",
           "tan", "mas", "un", "una", "el", "mi", "su", "tu", "del", "al", "de", "sea", "ser", "estar",
           "demasiado", "nada", "para", "tanto", "siempre", "ya", "todavia", "aun", "q"},
    "en": {"i", "me", "it", "it's", "is", "was", "are", "be", "been", "being", "the", "a", "an", "that",
           "this", "my", "your", "you", "very", "so", "too", "really", "at", "all", "that's", "do", "does",
           "did", "have", "has", "had", "am", "were", "will", "would", "could", "should", "can", "to",
           "even", "quite", "as", "they", "we", "he", "she", "any", "much", "exactly", "particularly"},
}  # fmt: skip
_INTENSIFIERS = {
    "es": {"muy": 1.5, "super": 1.5, "re": 1.5, "requete": 1.6, "recontra": 1.6, "tan": 1.4, "bastante": 1.2,
           "demasiado": 1.4, "sumamente": 1.6, "extremadamente": 1.6, "totalmente": 1.4,
           "completamente": 1.4, "absolutamente": 1.5, "increiblemente": 1.5, "realmente": 1.4,
           "verdaderamente": 1.4, "terriblemente": 1.5, "tremendamente": 1.5, "especialmente": 1.3,
           "mucho": 1.3, "muchisimo": 1.5, "mazo": 1.5, "harto": 1.4, "bien": 1.3, "ultra": 1.5,
           "hiper": 1.5, "mega": 1.5, "tremendo": 1.4, "menudo": 1.4, "vaya": 1.3, "todo": 1.2,
           "rete": 1.5, "bien bien": 1.5, "puto": 1.5, "pinche": 1.3, "algo": 0.7, "medio": 0.7,
           "ligeramente": 0.6, "relativamente": 0.7, "casi": 0.7, "un poco": 0.6, "un pelin": 0.6},
    "en": {"very": 1.5, "so": 1.4, "really": 1.4, "super": 1.5, "extremely": 1.6, "incredibly": 1.6,
           "totally": 1.4, "absolutely": 1.5, "completely": 1.4, "utterly": 1.5, "too": 1.3, "such": 1.3,
           "truly": 1.4, "seriously": 1.3, "highly": 1.4, "insanely": 1.5, "ridiculously": 1.5,
           "terribly": 1.5, "awfully": 1.4, "damn": 1.4, "fucking": 1.6, "freaking": 1.4, "bloody": 1.4,
           "hella": 1.5, "most": 1.3, "pretty": 1.2, "quite": 1.2, "way": 1.3, "mega": 1.5, "ultra": 1.5,
           "slightly": 0.6, "somewhat": 0.7, "kinda": 0.7, "sorta": 0.7, "fairly": 0.8, "a bit": 0.6,
           "a little": 0.6, "kind of": 0.7, "sort of": 0.7, "bit": 0.7, "little": 0.7},
}  # fmt: skip
_CONTRAST = {"es": {"pero", "sin embargo", "no obstante"}, "en": {"but", "however"}}
_ABBREVIATIONS = {
    "es": {"q": "que", "k": "que", "xq": "porque", "pq": "porque", "porq": "porque", "tb": "tambien",
           "tmb": "tambien", "x": "por", "d": "de", "xfa": "por favor", "xfavor": "por favor", "mxs": "muchas",
           "grax": "gracias", "bn": "bien", "nd": "nada", "ntp": "no te preocupes", "tqm": "te quiero mucho"},
    "en": {"u": "you", "ur": "your", "r": "are", "im": "i'm", "ive": "i've", "youre": "you're",
           "thats": "that's", "its": "it's", "pls": "please", "plz": "please", "cuz": "because",
           "bc": "because", "rly": "really", "srsly": "seriously", "v": "very", "gud": "good"},
}  # fmt: skip
_LAUGH_J = re.compile(r"^a?(?:j+[aeiou]+){2,}j*$|^(?:js){2,}j?$")
_LAUGH_H = re.compile(r"^a?(?:h+[aeiou]+){2,}h*$")
_LAUGHS = frozenset({"jaja", "jajaja", "jeje", "jiji", "jsjs", "haha", "hehe", "heh", "hah", "lol", "lmao",
                     "lmfao", "rofl", "xd", "😂", "🤣"})  # fmt: skip
_SUPERLATIVE = re.compile(r"^(\w{3,}?)(?:quisim|guisim|bilisim|isim)([oa]s?)$")
_PREFIXES = ("requete", "recontra", "super", "ultra", "hiper", "mega", "re")
_NEGATED_POSITIVE = -0.75
_NEGATED_NEGATIVE = -0.5
_BEFORE_CONTRAST = 0.6
_AFTER_CONTRAST = 1.4
_SCOPE = 3


# --- lexicons -------------------------------------------------------------------------------------


@dataclass(slots=True)
class LexiconMatch:
    term: str  # the lexicon entry, canonical form ("me encanta")
    polarity: float  # after negation, intensifiers and contrast
    start: int  # token index of the first word
    end: int  # token index after the last word (a slice end)
    negated: bool
    prior: float = 0.0  # the lexicon polarity
    negator_at: int = -1  # token index of the negator when negated


@dataclass(slots=True)
class _Lexicon:
    sentiment: dict[tuple[str, ...], float]
    emotion: dict[tuple[str, ...], tuple[tuple[str, float], ...]]
    sent_first: dict[str, int]  # first token -> longest entry (of 2+ tokens) starting with it
    sent_pairs: frozenset[tuple[str, str]]  # first two tokens of every multiword entry
    sent_single: frozenset[str]  # one-token entries
    emo_first: dict[str, int]
    emo_pairs: frozenset[tuple[str, str]]
    emo_single: frozenset[str]
    vocab: frozenset[str]
    starts: frozenset[str]  # tokens that begin some sentiment entry
    negators: frozenset[str]
    scope_free: frozenset[str]
    intensifiers: dict[str, float]  # single tokens
    intensifiers2: dict[tuple[str, str], float]  # two-token ones ("un poco", "a bit")
    contrast: frozenset[str]
    contrast2: frozenset[tuple[str, str]]
    abbreviations: dict[str, str]
    intensifier_heads: frozenset[str]
    contrast_heads: frozenset[str]
    special: frozenset[str]  # single tokens the matcher must look at: one-token entries and modifiers
    pairs: frozenset[tuple[str, str]]  # token pairs that start an entry or a two-token modifier
    canon: dict[str, str] = field(default_factory=dict)  # folded token -> lexicon form
    boosts: dict[str, float] = field(default_factory=dict)  # folded token -> boost, when not 1


_lock = threading.Lock()
_cache: dict[str, _Lexicon] = {}


def _read(name: str) -> Iterable[list[str]]:
    text = resources.files("cuida.triage").joinpath("lexicons", name).read_text(encoding="utf-8")
    for line in text.splitlines():
        if line and not line.startswith("#"):
            yield line.split("\t")


def load_sentiment(language: str) -> dict[str, float]:
    """The raw sentiment lexicon of one language: term -> polarity."""
    return {cols[0]: float(cols[1]) for cols in _read(f"sentiment-{language}.tsv")}


def load_emotion(language: str) -> list[tuple[str, str, float]]:
    """The raw emotion lexicon of one language: (term, emotion, weight)."""
    return [(cols[0], cols[1], float(cols[2])) for cols in _read(f"emotion-{language}.tsv")]


def _first_index(keys: Iterable[tuple[str, ...]]) -> dict[str, int]:
    first: dict[str, int] = {}
    for key in keys:
        if len(key) > 1 and len(key) > first.get(key[0], 0):
            first[key[0]] = len(key)
    return first


def _pairs(keys: Iterable[tuple[str, ...]]) -> frozenset[tuple[str, str]]:
    return frozenset((key[0], key[1]) for key in keys if len(key) > 1)


def _singles(keys: Iterable[tuple[str, ...]]) -> frozenset[str]:
    return frozenset(key[0] for key in keys if len(key) == 1)


def _build(languages: tuple[str, ...]) -> _Lexicon:
    sentiment: dict[tuple[str, ...], float] = {}
    emotion: dict[tuple[str, ...], list[tuple[str, float]]] = {}
    negators: set[str] = set()
    scope_free: set[str] = set()
    intensifiers: dict[str, float] = {}
    contrast: set[str] = set()
    abbreviations: dict[str, str] = {}
    for lang in languages:  # the first language wins a clash
        for term, polarity in load_sentiment(lang).items():
            sentiment.setdefault(tuple(term.split(" ")), polarity)
        for term, emo, weight in load_emotion(lang):
            entries = emotion.setdefault(tuple(term.split(" ")), [])
            if all(e != emo for e, _ in entries):
                entries.append((emo, weight))
        negators |= _NEGATORS[lang]
        scope_free |= _SCOPE_FREE[lang]
        for word, factor in _INTENSIFIERS[lang].items():
            intensifiers.setdefault(word, factor)
        contrast |= _CONTRAST[lang]
        for short, long in _ABBREVIATIONS[lang].items():
            abbreviations.setdefault(short, long)
    vocab = {w for key in sentiment for w in key} | {w for key in emotion for w in key}
    vocab |= negators | scope_free | {w for phrase in intensifiers for w in phrase.split()}
    vocab |= {w for phrase in contrast for w in phrase.split()}
    first = _first_index(sentiment)
    heads = {phrase.split()[0] for phrase in intensifiers}
    contrast_heads = {phrase.split()[0] for phrase in contrast}
    return _Lexicon(
        sentiment=sentiment,
        emotion={k: tuple(v) for k, v in emotion.items()},
        sent_first=first,
        sent_pairs=_pairs(sentiment),
        sent_single=_singles(sentiment),
        emo_first=_first_index(emotion),
        emo_pairs=_pairs(emotion),
        emo_single=_singles(emotion),
        vocab=frozenset(vocab),
        starts=frozenset(first.keys() | _singles(sentiment)),
        negators=frozenset(negators),
        scope_free=frozenset(scope_free),
        intensifiers={k: v for k, v in intensifiers.items() if " " not in k},
        intensifiers2={(k.split()[0], k.split()[1]): v for k, v in intensifiers.items() if " " in k},
        contrast=frozenset(c for c in contrast if " " not in c),
        contrast2=frozenset((c.split()[0], c.split()[1]) for c in contrast if " " in c),
        abbreviations={k: v for k, v in abbreviations.items() if " " not in v},
        special=frozenset(
            _singles(sentiment) | {"poco"} | {k for k in intensifiers if " " not in k} | contrast
        ),
        pairs=_pairs(sentiment) | _pairs(tuple(k.split()) for k in [*intensifiers, *contrast]),
        intensifier_heads=frozenset(heads),
        contrast_heads=frozenset(contrast_heads),
    )


def _lexicon(language: str) -> _Lexicon:
    key = language if language in LANGUAGES else "*"
    lex = _cache.get(key)
    if lex is None:
        with _lock:
            lex = _cache.get(key)
            if lex is None:
                lex = _build((key,) if key != "*" else LANGUAGES)
                _cache[key] = lex
    return lex


def _canonical(tok: str, lex: _Lexicon) -> tuple[str, float]:
    """(lexicon form, boost) of a folded token; the token itself when nothing fits."""
    vocab = lex.vocab
    if tok in vocab:
        return tok, 1.0
    if not tok[0].isalpha():
        if tok.strip("!?.,;:"):
            emoticon = _emoticon(tok)
            if emoticon in vocab:
                return emoticon, 1.0
        return tok, 1.0
    if tok in lex.abbreviations:
        return lex.abbreviations[tok], 1.0
    if _LAUGH_J.match(tok):
        return "jaja", 1.0
    if _LAUGH_H.match(tok):
        return "haha", 1.0
    if re.search(r"(.)\1", tok):
        for candidate in (
            re.sub(r"(.)\1+$", r"\1", tok),
            re.sub(r"([^lrce])\1+", r"\1", tok),
            re.sub(r"(.)\1+", r"\1", tok),
        ):
            if candidate in vocab:
                return candidate, 1.0
            if candidate in lex.abbreviations:
                return lex.abbreviations[candidate], 1.0
    m = _SUPERLATIVE.match(tok)
    if m:  # lentisimo -> lento, amabilisima -> amable, riquisimo -> rico, facilisimo -> facil
        stem, ending = m.group(1), m.group(2)
        infix = tok[len(stem) : len(tok) - len(ending)]
        stem += {"quisim": "c", "guisim": "g", "bilisim": "ble"}.get(infix, "")
        gender, plural = ending[0], ending[1:]
        for candidate in (stem + gender + plural, stem + "o" + plural, stem + "e" + plural, stem):
            if (candidate,) in lex.sentiment or (candidate,) in lex.emotion:
                return candidate, 1.3
    for prefix in _PREFIXES:
        rest = tok[len(prefix) :]
        if tok.startswith(prefix) and len(rest) >= (5 if prefix == "re" else 3):
            if (rest,) in lex.sentiment:
                return rest, 1.4
            break
    return tok, 1.0


def _canonicalize(toks: list[str], lex: _Lexicon) -> list[str]:
    cache = lex.canon
    get = cache.get
    if len(cache) > 200_000:
        cache.clear()
        lex.boosts.clear()
    return [get(tok) or _remember(tok, lex) for tok in toks]


def _remember(tok: str, lex: _Lexicon) -> str:
    form, boost = _canonical(tok, lex)
    lex.canon[tok] = form
    if boost != 1.0:
        lex.boosts[tok] = boost
    return form


# --- matching -------------------------------------------------------------------------------------


_BOUNDARY_START = frozenset("!?.;:")


def _is_boundary(tok: str) -> bool:
    return tok[0] in _BOUNDARY_START or tok == ","


def _negation_scopes(canon: list[str], lex: _Lexicon) -> list[int]:
    """Per token: the index of the negator whose scope covers it, or -1. A scope is the next
    `_SCOPE` content words, up to a punctuation mark or a contrast word. Negators inside lexicon
    entries open a scope too ("no funciona BIEN"); the entry itself is never flipped."""
    n = len(canon)
    negated_at = [-1] * n
    negators = lex.negators
    if negators.isdisjoint(canon):
        return negated_at
    scope_free, contrast = lex.scope_free, lex.contrast
    for i, tok in enumerate(canon):
        if tok not in negators:
            continue
        if (tok == "sin" and i + 1 < n and canon[i + 1] == "embargo") or (
            tok == "poco" and i > 0 and canon[i - 1] == "un"
        ):
            continue
        j, content = i + 1, 0
        while j < n and content < _SCOPE:
            t = canon[j]
            if _is_boundary(t) or t in contrast:
                break
            if t not in scope_free:
                content += 1
            if negated_at[j] < 0:
                negated_at[j] = i
            j += 1
    return negated_at


# (entry, effective polarity, start, end, negator index or -1, prior)
_Sentiment = tuple[tuple[str, ...], float, int, int, int, float]


@dataclass(slots=True)
class _Analysis:
    toks: list[str]
    canon: list[str]
    sentiment: list[_Sentiment]
    emotion: list[tuple[tuple[str, ...], str, float, int, int]]  # entry, emotion, weight, start, end
    contrast_at: int
    intensified: int


def _match_at(
    canon: list[str], i: int, n: int, first: dict[str, int], pairs: frozenset[tuple[str, str]],
    table: dict[tuple[str, ...], Any], single: frozenset[str],
) -> int:  # fmt: skip
    """Length of the longest entry starting at token i (0 when none)."""
    tok = canon[i]
    longest = first.get(tok)
    if longest and i + 1 < n and (tok, canon[i + 1]) in pairs:
        for size in range(min(longest, n - i), 2, -1):
            if tuple(canon[i : i + size]) in table:
                return size
        if (tok, canon[i + 1]) in table:
            return 2
    return 1 if tok in single else 0


def _analyze(toks: list[str], language: str) -> _Analysis:
    lex = _lexicon(language)
    canon = _canonicalize(toks, lex)
    boosts = lex.boosts
    n = len(canon)
    table, first, pairs, single, starts = (
        lex.sentiment, lex.sent_first, lex.sent_pairs, lex.sent_single, lex.starts
    )  # fmt: skip
    negators, intensifiers = lex.negators, lex.intensifiers
    negated_at = _negation_scopes(canon, lex)
    raw: list[tuple[tuple[str, ...], int, int, float]] = []  # key, start, negator, boost
    contrast_at = -1
    pending_boost, boost_until = 1.0, -1
    intensified = 0
    next_free = 0
    special, all_pairs = lex.special, lex.pairs
    bigrams = list(zip(canon, [*canon[1:], ""], strict=False))  # pairs (token, next token)
    for i in [k for k, bg in enumerate(bigrams) if bg[0] in special or bg in all_pairs]:
        if i < next_free:
            continue
        tok = canon[i]
        if bigrams[i] in pairs:
            length = _match_at(canon, i, n, first, pairs, table, single)
        else:
            length = 1 if tok in single else 0
        if length < 2:
            nxt = canon[i + 1] if i + 1 < n else ""
            if tok in negators and not (tok == "sin" and nxt == "embargo"):
                if tok == "poco" and i > 0 and canon[i - 1] == "un":
                    pending_boost, boost_until = 0.6, i + 2
                continue
            if tok in lex.intensifier_heads:
                base = pending_boost if i <= boost_until else 1.0
                factor = lex.intensifiers2.get((tok, nxt))
                if factor and i + 2 < n and canon[i + 2] in starts:
                    pending_boost, boost_until = base * factor, i + 3
                    next_free = i + 2
                    continue
                if tok in intensifiers and nxt in starts:
                    pending_boost, boost_until = base * intensifiers[tok], i + 2
                    continue
            if tok in lex.contrast_heads and (tok in lex.contrast or (tok, nxt) in lex.contrast2):
                contrast_at = i
        if length:
            boost = boosts.get(toks[i], 1.0) if boosts else 1.0
            if pending_boost != 1.0 and i <= boost_until:
                boost *= pending_boost
                intensified += 1
            pending_boost, boost_until = 1.0, -1
            key = tuple(canon[i : i + length]) if length > 1 else (tok,)
            raw.append((key, i, negated_at[i] if tok not in negators else -1, boost))
            next_free = i + length

    sentiment: list[_Sentiment] = []
    for key, start, negator, boost in raw:
        prior = table[key]
        polarity = prior * boost
        if negator >= 0:
            polarity *= _NEGATED_POSITIVE if polarity > 0 else _NEGATED_NEGATIVE
        if contrast_at >= 0:
            polarity *= _AFTER_CONTRAST if start > contrast_at else _BEFORE_CONTRAST
        sentiment.append((key, polarity, start, start + len(key), negator, prior))

    emotion: list[tuple[tuple[str, ...], str, float, int, int]] = []
    etable, efirst, epairs, esingle = lex.emotion, lex.emo_first, lex.emo_pairs, lex.emo_single
    next_free = 0
    for i in [k for k, bg in enumerate(bigrams) if bg[0] in esingle or bg in epairs]:
        if i < next_free:
            continue
        if bigrams[i] in epairs:
            length = _match_at(canon, i, n, efirst, epairs, etable, esingle)
        else:
            length = 1 if canon[i] in esingle else 0
        if not length:
            continue
        next_free = i + length
        tok = canon[i]
        if negated_at[i] < 0 or tok in negators:
            key = tuple(canon[i : i + length]) if length > 1 else (tok,)
            factor = boosts.get(toks[i], 1.0) * (intensifiers.get(canon[i - 1], 1.0) if i else 1.0)
            for emo, weight in etable[key]:
                emotion.append((key, emo, weight * factor, i, i + length))
    return _Analysis(toks, canon, sentiment, emotion, contrast_at, intensified)


def sentiment_matches(tokens: list[str], language: str) -> list[LexiconMatch]:
    """Sentiment lexicon matches in `tokens` (from `tokens()`), with their effective polarity."""
    return [
        LexiconMatch(" ".join(key), round(polarity, 4), start, end, negator >= 0, prior, negator)
        for key, polarity, start, end, negator, prior in _analyze(tokens, language).sentiment
    ]


def emotion_matches(tokens: list[str], language: str) -> list[tuple[str, str, float]]:
    """(term, emotion, weight) for each emotion lexicon match that is not negated."""
    return [(" ".join(key), emo, weight) for key, emo, weight, _, _ in _analyze(tokens, language).emotion]


# --- features -------------------------------------------------------------------------------------

_CAPS_RUN = re.compile(r"[^\W\d_a-z\u00df-\u00ff]{3}")
_CAPS_WORD = re.compile(r"[^\W\d_]{3,}")
_PUNCT = frozenset("!?.,;:")

FEATURE_NAMES = (
    "pos_sum", "neg_sum", "pos_count", "neg_count", "max_pos", "max_neg", "net", "mean_polarity",
    "balance", "negated_count", "intensified_count", "has_contrast", "last_clause_polarity",
    "first_clause_polarity", "exclamations", "question_marks", "all_caps_ratio", "elongated_words",
    "emoji_pos", "emoji_neg", "laugh", "anger", "sadness", "joy", "fear", "coverage",
)  # fmt: skip


def _slog(x: float) -> float:
    return math.copysign(math.log1p(abs(x)), x)


def _clip(x: float, low: float = -3.0, high: float = 3.0) -> float:
    return low if x < low else high if x > high else x


def _clauses(toks: list[str], bounds: list[int], contrast_at: int) -> tuple[int, int]:
    """(end of the first clause, start of the last clause) in token indices. Clauses end at . ! ? ; :
    (`bounds`) and at the contrast word ("pero", "but"); trailing punctuation does not open a clause."""
    if contrast_at >= 0:
        bounds = bounds.copy()
        bounds.append(contrast_at)
        bounds.sort()
    if not bounds:
        return len(toks), 0
    first_end = next((b for b in bounds if b > 0), len(toks))
    last = len(toks) - 1
    while last >= 0 and toks[last][0] in _PUNCT:
        last -= 1
    last_start = 0
    for b in reversed(bounds):
        if b < last:
            last_start = b + 1
            break
    return first_end, last_start


def _features(text: str, analysis: _Analysis, squeezed: bool) -> dict[str, float]:
    pos = neg = max_pos = max_neg = emoji_pos = emoji_neg = 0.0
    pos_count = neg_count = negated = matched_tokens = 0
    toks = analysis.toks
    bounds = [i for i, t in enumerate(toks) if t[0] in _BOUNDARY_START]
    first_end, last_start = _clauses(toks, bounds, analysis.contrast_at)
    first_clause = last_clause = 0.0
    for key, p, start, end, negator, _ in analysis.sentiment:
        if p > 0:
            pos += p
            pos_count += 1
            if p > max_pos:
                max_pos = p
            if not key[0][0].isalnum():
                emoji_pos += p
        elif p < 0:
            neg -= p
            neg_count += 1
            if -p > max_neg:
                max_neg = -p
            if not key[0][0].isalnum():
                emoji_neg -= p
        if negator >= 0:
            negated += 1
        if start >= last_start:
            last_clause += p
        if end <= first_end:
            first_clause += p
        matched_tokens += end - start
    anger = sadness = joy = fear = 0.0
    for _, emo, weight, _, _ in analysis.emotion:
        if emo == "anger":
            anger += weight
        elif emo == "sadness":
            sadness += weight
        elif emo == "joy":
            joy += weight
        else:
            fear += weight
    n_words = len(toks) - len(bounds) - toks.count(",")
    laughs = sum(map(_LAUGHS.__contains__, analysis.canon))
    caps_ratio = 0.0
    if _CAPS_RUN.search(text):
        caps = _CAPS_WORD.findall(text)
        caps_ratio = sum(1 for w in caps if w.isupper()) / len(caps)
    elongated = len(_ELONGATED.findall(text)) if squeezed else 0
    matches = pos_count + neg_count
    log1p = math.log1p
    return {
        "pos_sum": log1p(pos),
        "neg_sum": log1p(neg),
        "pos_count": log1p(pos_count),
        "neg_count": log1p(neg_count),
        "max_pos": min(max_pos, 3.0),
        "max_neg": min(max_neg, 3.0),
        "net": _slog(pos - neg),
        "mean_polarity": _clip((pos - neg) / matches) if matches else 0.0,
        "balance": (pos - neg) / (pos + neg + 1.0),
        "negated_count": log1p(negated),
        "intensified_count": log1p(analysis.intensified),
        "has_contrast": 1.0 if analysis.contrast_at >= 0 else 0.0,
        "last_clause_polarity": _clip(last_clause),
        "first_clause_polarity": _clip(first_clause),
        "exclamations": log1p(text.count("!")),
        "question_marks": log1p(text.count("?")),
        "all_caps_ratio": caps_ratio,
        "elongated_words": log1p(elongated),
        "emoji_pos": log1p(emoji_pos),
        "emoji_neg": log1p(emoji_neg),
        "laugh": log1p(laughs),
        "anger": log1p(anger),
        "sadness": log1p(sadness),
        "joy": log1p(joy),
        "fear": log1p(fear),
        "coverage": min(matched_tokens / n_words, 1.0) if n_words > 0 else 0.0,
    }


def features(text: str, language: str) -> dict[str, float]:
    """Named lexicon features of `text`, counts on a log1p scale: roughly [0, 3] for magnitudes and
    counts, [-3, 3] for signed scores, [0, 1] for ratios. Keys are `FEATURE_NAMES`, always all of them.
    `max_neg` is a magnitude (>= 0); `net`, `mean_polarity`, `balance` and the clause scores are signed."""
    _, squeezed, analysis = _analysis_of(text, language)
    return _features(text, analysis, squeezed)


@functools.lru_cache(maxsize=64)
def _analysis_of(text: str, language: str) -> tuple[list[str], bool, _Analysis]:
    """Triage asks for features and then evidence of the same text: analyse it once."""
    toks, squeezed = _tokenize(text)
    return toks, squeezed, _analyze(toks, language)


def _surface(toks: list[str], start: int, end: int, negator: int = -1) -> str:
    if 0 <= negator < start:
        start = negator - 1 if negator > 0 and toks[negator] == "n't" else negator
    return " ".join(toks[start:end]).replace(" n't", "n't")


def evidence(text: str, language: str) -> dict[str, list[str]]:
    """The words behind the features, for an agent: {"positive": [...], "negative": [...], "anger": [...],
    "sadness": [...], "joy": [...], "fear": [...]}, folded as in the text ("no me gusta", "buenoo"),
    negated phrases with their negator, first occurrence order, no repeats."""
    analysis = _analysis_of(text, language)[2]
    out: dict[str, list[str]] = {"positive": [], "negative": [], **{e: [] for e in EMOTIONS}}
    toks = analysis.toks
    for _, polarity, start, end, negator, _ in analysis.sentiment:
        if polarity:
            phrase = _surface(toks, start, end, negator)
            bucket = out["positive" if polarity > 0 else "negative"]
            if phrase not in bucket:
                bucket.append(phrase)
    for _, emo, _, start, end in analysis.emotion:
        phrase = _surface(toks, start, end)
        if phrase not in out[emo]:
            out[emo].append(phrase)
    return out


__all__ = [
    "EMOTIONS",
    "FEATURE_NAMES",
    "LANGUAGES",
    "LexiconMatch",
    "emotion_matches",
    "evidence",
    "features",
    "fold",
    "load_emotion",
    "load_sentiment",
    "sentiment_matches",
    "tokens",
]
