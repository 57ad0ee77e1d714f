"""The scorer's fast path gives exactly the results of the straightforward one.

The scorer is tuned for throughput (README "Sentiment", benchmarks/sentiment.py): VADER's
driver loop and negation rule are overridden (monitor/sentiment.py: FastAnalyzer) and the
steps around it avoid repeated work. None of that may change a single score: here the
reference path is the plain composition of the steps with stock vaderSentiment, and every
field (lang, method, compound, pos, neu, neg) must be equal, not close.
"""

from __future__ import annotations

import csv
import random
import re
from functools import cache
from pathlib import Path

import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from monitor import language
from monitor.config import parse_config
from monitor.lexicon import VARIATION_SELECTOR, FandomLexicon, bundled_lexicon
from monitor.masking import TopicMask
from monitor.matching import (
    _LEFT_EDGE,
    _RIGHT_EDGE,
    _SPACED,
    _WORD_GAP,
    _hashtag_pattern,
    _term_pattern,
    normalize_text,
)
from monitor.scoring import SCORED_LANGUAGES, Scorer, TextScorer
from monitor.sentiment import MAX_SCORED_CHARS, FastAnalyzer

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config" / "monitor.toml"
FANDOM_SET = REPO / "tests" / "data" / "fandom_posts.tsv"

Outcome = tuple[str | None, str, float | None, float | None, float | None, float | None]


@cache
def stock_analyzer(lexicon: FandomLexicon | None) -> SentimentIntensityAnalyzer:
    """Stock vaderSentiment, with the lexicon applied the documented way."""
    analyzer = SentimentIntensityAnalyzer()
    if lexicon is not None:
        lexicon.apply_to(analyzer)
    return analyzer


def reference_language(text: str) -> str | None:
    """monitor.language.detect_language without its shortcuts."""
    cleaned = text[: language.MAX_DETECTED_CHARS]
    if "http" in cleaned or "www." in cleaned or "@" in cleaned:
        cleaned = language._NOISE.sub(" ", cleaned)
    if not language._TWO_LETTERS.search(cleaned):
        return None
    if not language._NON_ASCII_LETTER.search(cleaned):
        words = language._ASCII_WORD.findall(cleaned.lower())
        markers = language.ENGLISH_MARKERS.intersection(words)
        if len(markers) >= 2 and 6 * sum(word in markers for word in words) >= len(words):
            return "en"
    best = language._model().f.predict(" ".join(cleaned.split()).lower(), 1, 0.0, "strict")
    return best[0][1].removeprefix("__label__") if best else None


def reference_prepare(lexicon: FandomLexicon, text: str) -> str:
    """FandomLexicon.prepare without its word prefilter: every phrase rule, in order."""
    text = text.replace(VARIATION_SELECTOR, "")
    for rule in lexicon._rules:
        text = rule.folded.sub(rule.token, text)
    return text


def reference(
    text: str,
    mask: TopicMask | None,
    lexicon: FandomLexicon | None,
    lang: str | None = None,
    *,
    detect: bool = True,
) -> Outcome:
    """The scorer's steps one after the other, with stock VADER and no shortcut (masking is
    the one step used as it is: it has its own property test in test_scoring.py)."""
    clipped = text[:MAX_SCORED_CHARS]
    if lang is None and detect:
        lang = reference_language(clipped)
    if mask is not None:
        clipped = mask.apply(clipped)
    if lexicon is not None:
        clipped = reference_prepare(lexicon, clipped)
    clipped = clipped.strip()
    if not clipped:
        return (lang, "unscored", None, None, None, None)
    analyzer = stock_analyzer(lexicon)
    if lang is None or lang in SCORED_LANGUAGES:
        method = "vader" if lexicon is None else "vader+fandom"
        scores = analyzer.polarity_scores(clipped)
    else:
        emoji = " ".join(char for char in clipped if char in analyzer.emojis)
        if not emoji:
            return (lang, "unscored", None, None, None, None)
        method, scores = "emoji-only", analyzer.polarity_scores(emoji)
    return (lang, method, scores["compound"], scores["pos"], scores["neu"], scores["neg"])


def outcome(scorer: TextScorer, text: str, lang: str | None = None) -> Outcome:
    result = scorer.score(text, lang=lang)
    s = result.sentiment
    if s is None:
        return (result.lang, result.method, None, None, None, None)
    return (result.lang, result.method, s.compound, s.pos, s.neu, s.neg)


def general_texts(count: int, seed: int = 4) -> list[str]:
    """Random texts built from what VADER's rules and the scorer's steps react to: lexicon
    words, boosters, negations, "but", "kind of", "least", idioms, capitals, punctuation,
    emoticons, emoji (with and without U+FE0F), fan phrases, the topics' names, links,
    mentions and other languages."""
    rng = random.Random(seed)
    stock = SentimentIntensityAnalyzer()
    lexicon = bundled_lexicon()
    words = rng.sample(sorted(stock.lexicon), 400) + sorted(lexicon.words)
    rules = [
        *("very", "extremely", "kind", "of", "sort", "least", "at", "no", "not", "never"),
        *("so", "this", "without", "doubt", "but", "nor", "or", "isn't", "don't", "cannot"),
        *("the", "shit", "bomb", "bad", "ass", "yeah", "right", "cut", "mustard", "kiss"),
        *("death", "hand", "to", "mouth", "a", "is", "it", "he", "she", "was", "and", "I'm"),
        *("im", "crying", "dead", "killed", "me", "literally", "left", "crumbs", "should"),
        *("be", "illegal", "not", "me", "sobbing", "rewatching", "screaming", "ate", "slay"),
        *("lives", "live", "rent", "free", "rent-free", "rent—free", "rentfree", "no", "notes"),
    ]
    emoji = [e for e in sorted(stock.emojis) if len(e) == 1]
    emoji = rng.sample(emoji, 60) + sorted(lexicon.emoji) + ["❤️", "❤", "😭", "🔥", "💀", "🥹"]
    names = ["Love Letter", "love letter", "LOVE LETTER", "V", "IU", "Love wins all", "LWA"]
    names += ["#LoveLetter", "#LoveWinsAll", "러브레터", "Taehyung", "BTS", "MV"]
    foreign = ["사랑해요", "너무 좋아", "最高すぎる", "que lindo", "incrível demais"]
    foreign += ["keren banget", "muito bom"]
    other = ["!", "!!!", "?", "???", ":)", ":(", ":D", "<3", "...", ",", "lol", "smh", "LMAO"]
    other += ["https://t.co/x1", "@someone", "www.example.com", "2024", "x", "İstanbul"]
    pools = [words, rules, rules, emoji, names, foreign, other]
    texts = []
    for _ in range(count):
        tokens = []
        for _ in range(rng.randint(1, 24)):
            token = rng.choice(rng.choice(pools))
            shape = rng.random()
            token = token.upper() if shape < 0.1 else token.title() if shape < 0.2 else token
            if token in emoji and rng.random() < 0.3:
                token += VARIATION_SELECTOR
            tokens.append(token)
        gaps = [rng.choice([" ", " ", " ", " ", "", "  ", "\t", " \n"]) for _ in tokens]
        texts.append("".join(gap + token for gap, token in zip(gaps, tokens, strict=True)))
    return texts


@pytest.fixture(scope="module")
def scorer() -> Scorer:
    return Scorer.from_config(parse_config(CONFIG.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def fandom_posts() -> list[dict[str, str]]:
    with FANDOM_SET.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def variants(scorer: Scorer) -> list[TextScorer]:
    """Every topic's scorer, the topic-less one, and each with the fandom layer off."""
    scorers = [*scorer.topics.values(), scorer.default]
    return scorers + [TextScorer(mask=s.mask, lexicon=None) for s in scorers]


def test_fandom_set_scores_exactly_as_the_reference(
    scorer: Scorer, fandom_posts: list[dict[str, str]]
) -> None:
    compared = 0
    for post in fandom_posts:
        for variant in [scorer.for_topic(post["topic"]), *variants(scorer)]:
            for lang in (None, "en", "ko"):
                expected = reference(post["text"], variant.mask, variant.lexicon, lang)
                assert outcome(variant, post["text"], lang) == expected, (post["text"], lang)
                compared += 1
    assert compared == len(fandom_posts) * 7 * 3 == 4830


def test_general_texts_score_exactly_as_the_reference(scorer: Scorer) -> None:
    texts = general_texts(400)
    methods = set()
    for text in texts:
        for variant in variants(scorer):
            for lang in (None, "en", "ja"):
                expected = reference(text, variant.mask, variant.lexicon, lang)
                assert outcome(variant, text, lang) == expected, (text, lang)
                methods.add(expected[1])
    # The texts reach every route of the scorer, so each route was compared.
    assert methods == {"vader", "vader+fandom", "emoji-only", "unscored"}


def test_fast_analyzer_equals_stock_vader_on_raw_texts() -> None:
    """Without the scorer's steps in front, on text that still has its emoji, U+FE0F, tabs
    and runs of spaces: VADER's own emoji pass against the translation table."""
    stock, fast = SentimentIntensityAnalyzer(), FastAnalyzer()
    fandom_stock, fandom_fast = stock_analyzer(bundled_lexicon()), FastAnalyzer()
    bundled_lexicon().apply_to(fandom_fast)
    fandom_fast.refresh()
    texts = [*general_texts(600, seed=5), "", " ", "😭", " 😭😭 ", "a😭b", "\t🔥\t", "kind of"]
    nonzero = 0
    for text in texts:
        assert fast.polarity_scores(text) == stock.polarity_scores(text), text
        assert fandom_fast.polarity_scores(text) == fandom_stock.polarity_scores(text), text
        nonzero += stock.polarity_scores(text)["compound"] != 0
    assert nonzero > len(texts) / 2


def test_fast_analyzer_follows_changes_to_its_emoji_table_after_refresh() -> None:
    fast = FastAnalyzer()
    before = fast.polarity_scores("🫠")["compound"]
    fast.emojis["🫠"] = "fandomtestmelt"
    fast.lexicon["fandomtestmelt"] = 2.0
    fast.refresh()
    assert before == 0.0
    assert fast.polarity_scores("🫠")["compound"] > 0.3


def test_a_booster_given_a_valence_still_scores_as_in_vader() -> None:
    """A user's extra word can be one of VADER's boosters; VADER then scores it 0 (boosters
    are checked before the lexicon), and so must the fast loop."""
    stock, fast = SentimentIntensityAnalyzer(), FastAnalyzer()
    for analyzer in (stock, fast):
        analyzer.lexicon["very"] = 2.0
    texts = ["very", "very good", "it was very very bad", "VERY nice but very sad", "not very"]
    for text in texts + general_texts(100, seed=6):
        assert fast.polarity_scores(text) == stock.polarity_scores(text), text
    assert stock.polarity_scores("very")["compound"] == 0.0


def hoisted_reference(terms: list[str], hashtags: list[str]) -> re.Pattern[str]:
    """The masking pattern before it was rewritten for speed: the edge check taken out of the
    alternation of the edged terms, checked once per position."""
    spaced, other = [], []
    for term in terms:
        words = normalize_text(term).split()
        if _SPACED.match(words[0][0]) and _SPACED.match(words[-1][-1]):
            spaced.append(_WORD_GAP.join(re.escape(word) for word in words))
        else:
            other.append(_term_pattern(term))
    other += [_hashtag_pattern(tag) for tag in hashtags]
    body = "|".join(sorted(set(spaced), key=len, reverse=True))
    alternatives = [
        f"{_LEFT_EDGE}(?:{body}){_RIGHT_EDGE}",
        *sorted(set(other), key=len, reverse=True),
    ]
    return re.compile("|".join(alternatives))


def test_masking_pattern_finds_exactly_the_spans_of_the_plain_one(
    scorer: Scorer, fandom_posts: list[dict[str, str]]
) -> None:
    config = parse_config(CONFIG.read_text(encoding="utf-8"))
    texts = [post["text"] for post in fandom_posts] + general_texts(400, seed=7)
    texts += ["lovelove letter", "v", "V.", "xv v", "iu's", "love\tletter", "#loveletters", "2v"]
    found = 0
    for topic in config.topics:
        terms = [t for t in (*topic.phrases, *topic.aliases, *topic.require_any) if t.strip()]
        plain = hoisted_reference(terms, topic.hashtags)
        fast = scorer.for_topic(topic.name).mask.fast
        assert fast is not None
        for text in texts:
            lowered = text.lower()
            spans = [match.span() for match in plain.finditer(lowered)]
            assert [match.span() for match in fast.finditer(lowered)] == spans, text
            found += bool(spans)
    assert found > len(texts)


def test_phrase_prefilter_reads_a_class_of_spaces_and_hyphens_as_a_word_break() -> None:
    lexicon = FandomLexicon(
        words={},
        emoji={},
        phrases=(("rent[ -]free", 1.0), ("big[a-z]deal", 1.0), ("so[ -]+good", 1.0)),
    )
    texts = ["rent free", "RENT-free", "rentfree", "rent  free", "bigxdeal", "big deal"]
    texts += ["so good", "so - good", "sogood", "it lives rent-free in my head"]
    rewritten = 0
    for text in texts:
        prepared = lexicon.prepare(text)
        assert prepared == reference_prepare(lexicon, text), text
        rewritten += prepared != text
    assert rewritten == 6
