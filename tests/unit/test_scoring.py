"""The scorer: title masking, the fandom lexicon's mechanisms, language routing, unscored posts."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from monitor.config import TopicConfig, parse_config
from monitor.errors import ConfigError
from monitor.language import detect_language, normalize_lang
from monitor.lexicon import NOT_ME_TOKEN, bundled_lexicon, check_emoji, check_word
from monitor.masking import TopicMask
from monitor.matching import TopicMatcher, normalize_text
from monitor.scoring import Scorer, TextScorer

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config" / "monitor.toml"
FANDOM_SET = REPO / "tests" / "data" / "fandom_posts.tsv"
STOCK = SentimentIntensityAnalyzer()

LOVE_LETTER = TopicConfig(
    name="love-letter",
    phrases=["Love Letter"],
    aliases=["러브레터"],
    hashtags=["LoveLetter"],
    require_any=["V", "Love wins all"],
)


@pytest.fixture(scope="module")
def scorer() -> Scorer:
    return Scorer.from_config(parse_config(CONFIG.read_text(encoding="utf-8")))


def stock(text: str) -> float:
    return STOCK.polarity_scores(text)["compound"]


# --- masking -----------------------------------------------------------------------------


def test_titles_alone_score_positive_in_stock_vader_but_neutral_masked(scorer: Scorer) -> None:
    assert stock("Love wins all") > 0.5 and stock("Love Letter") > 0.5
    for topic, text in [
        ("love-wins-all", "Love wins all music video released today"),
        ("love-letter", "V sang Love Letter in the Love wins all behind-the-scenes video"),
    ]:
        result = scorer.for_topic(topic).score(text)
        assert result.method == "vader+fandom"
        assert result.label == "neutral", (text, result)


def test_mask_blanks_phrases_aliases_hashtags_and_context_terms_in_any_case() -> None:
    mask = TopicMask.compile(LOVE_LETTER)

    masked = mask.apply("V's LOVE LETTER is #LoveLetter love-letter 러브레터, Love Wins All")

    assert "love" not in masked.lower() and "러브레터" not in masked
    assert "is" in masked and "#" not in masked
    assert mask.apply("lovely letters for V") == "lovely letters for  "


def test_mask_keeps_words_that_only_contain_a_term() -> None:
    mask = TopicMask.compile(LOVE_LETTER)
    text = "love lettering and #LoveLetters, Vivid"
    assert mask.apply(text) == text


def test_mask_works_beyond_ascii_and_keeps_emoji() -> None:
    mask = TopicMask.compile(LOVE_LETTER)
    assert mask.apply("Love Letter 😭🔥 by V") == "  😭🔥 by  "


_PIECES = st.sampled_from(
    [
        "love",
        "Love",
        "letter",
        "Letter",
        " ",
        "-",
        "#",
        "V",
        "v",
        "wins",
        "all",
        "러브",
        "레터",
        "😭",
        "é",
        "ı",
        "İ",
        "ﬁ",
        "\u0301",
        "x",
        "s",
        "_",
        "LoveLetter",
        "lettering",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, max_size=12).map("".join))
def test_masking_never_changes_a_post_that_does_not_mention_the_topic(text: str) -> None:
    mask = TopicMask.compile(LOVE_LETTER)
    names = TopicMatcher.compile(
        TopicConfig(
            name="names",
            phrases=[*LOVE_LETTER.phrases, *LOVE_LETTER.require_any],
            aliases=LOVE_LETTER.aliases,
            hashtags=LOVE_LETTER.hashtags,
        )
    )
    if not names.match(normalize_text(text)):
        assert mask.apply(text) == text


# --- the fandom lexicon ------------------------------------------------------------------


def fandom(text: str) -> float:
    result = TextScorer(lexicon=bundled_lexicon()).score(text, lang="en")
    assert result.sentiment is not None
    return result.sentiment.compound


def test_word_overrides_use_vaders_lexicon() -> None:
    assert stock("she did slay") == 0 and fandom("she did slay") > 0.3
    assert stock("I'm obsessed") < 0 < fandom("I'm obsessed")
    # VADER's rules still apply around an entry: negation flips it.
    assert fandom("she did not slay") < 0


def test_emoji_go_through_vaders_emoji_table() -> None:
    assert stock("🔥🔥🔥") < 0 < fandom("🔥🔥🔥")
    assert stock("😭") < 0 < fandom("😭")
    for newer in ("🥹", "🫶", "🤍"):
        assert stock(newer) == 0 and fandom(newer) > 0.3, newer


def test_red_heart_with_variation_selector_scores_like_the_bare_heart() -> None:
    assert stock("❤️") == 0 and stock("❤") > 0.5
    assert fandom("❤️") == pytest.approx(fandom("❤")) and fandom("❤️") > 0.5


@pytest.mark.parametrize(
    "text",
    [
        "this killed me",
        "I'm dead",
        "I'm crying",
        "he ate and left no crumbs",
        "she ate.",
        "no notes",
        "it should be illegal",
        "screaming crying throwing up",
    ],
)
def test_fan_phrases_that_stock_vader_reads_as_negative_or_nothing(text: str) -> None:
    assert stock(text) <= 0
    assert fandom(text) >= 0.3


def test_not_me_ing_is_an_admission_not_a_negation() -> None:
    lexicon = bundled_lexicon()
    assert lexicon.prepare("not me sobbing at 3am") == f"{NOT_ME_TOKEN} at 3am"
    assert lexicon.prepare("NOT ME rewatching it") == f"{NOT_ME_TOKEN} it"
    # Stock VADER negates what follows "not": "not me loving this" comes out negative.
    assert stock("not me loving this so much") < 0 < fandom("not me loving this so much")
    # Only the construction: other "not me" stays a negation context.
    assert lexicon.prepare("that's not me") == "that's not me"


def test_literal_senses_stay_negative_with_the_layer_on() -> None:
    for text in ["Three people were killed in the crash", "He is dead", "I feel sick"]:
        assert fandom(text) < -0.3, text


def _all_rules(text: str) -> str:
    """The reference: every phrase rule applied in order, with no word prefilter."""
    lexicon = bundled_lexicon()
    text = text.replace("\ufe0f", "")
    for rule in lexicon._rules:
        text = rule.folded.sub(rule.token, text)
    return text


def test_word_prefilter_never_skips_a_rule_that_matches() -> None:
    with FANDOM_SET.open(encoding="utf-8") as handle:
        texts = [row["text"] for row in csv.DictReader(handle, delimiter="\t")]
    texts += ["I'm SO DEAD", "it lives rent-free", "X? pass.", "that hits different", "İ ate."]
    lexicon = bundled_lexicon()
    for text in texts:
        assert lexicon.prepare(text) == _all_rules(text), text


def test_every_phrase_and_entry_of_the_data_file_is_well_formed() -> None:
    lexicon = bundled_lexicon()
    assert lexicon.words and lexicon.emoji and lexicon.phrases
    for word in lexicon.words:
        check_word(word)
    for emoji in lexicon.emoji:
        check_emoji(emoji)
    for pattern, valence in lexicon.phrases:
        assert -4 <= valence <= 4
        assert re.compile(pattern).groups == 0, f"{pattern}: use (?:...) groups only"


def test_fandom_set_accuracy_with_the_layer_on(scorer: Scorer) -> None:
    with FANDOM_SET.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert len(rows) >= 200
    right = sum(
        scorer.for_topic(row["topic"]).score(row["text"]).label == row["label"] for row in rows
    )
    stock_right = sum(
        (
            "positive"
            if stock(r["text"]) >= 0.05
            else "negative"
            if stock(r["text"]) <= -0.05
            else "neutral"
        )
        == r["label"]
        for r in rows
    )
    assert right / len(rows) >= 0.85
    assert right > stock_right


# --- configuration -----------------------------------------------------------------------


def config_with(extra: str, topic_extra: str = "") -> str:
    return f'[[topics]]\nname = "t"\nphrases = ["Love Letter"]\n{topic_extra}\n{extra}\n'


def test_layer_can_be_switched_off_per_topic_and_then_is_stock_vader() -> None:
    config = parse_config(config_with("", "fandom_lexicon = false"))
    text_scorer = Scorer.from_config(config).for_topic("t")
    for text in ["this killed me 🔥", "I hate it", "what a great day", "Love Letter 😭"]:
        result = text_scorer.score(text, lang="en")
        assert result.method == "vader"
        assert result.sentiment is not None
        assert result.sentiment.compound == stock(text_scorer.mask.apply(text))


def test_users_extend_the_lexicon_in_the_config() -> None:
    config = parse_config(
        config_with(
            '[sentiment]\nextra_words = { bop = 3.0, flop = -3.0 }\nextra_emoji = { "🫡" = -2.0 }'
        )
    )
    text_scorer = Scorer.from_config(config).for_topic("t")
    assert text_scorer.score("a flop", lang="en").label == "negative"
    assert text_scorer.score("🫡", lang="en").label == "negative"  # overrides the bundled +1.0
    assert text_scorer.score("total bop", lang="en").label == "positive"


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ('[sentiment]\nextra_words = { "two words" = 1.0 }', "sentiment.extra_words"),
        ("[sentiment]\nextra_words = { Bop = 1.0 }", "sentiment.extra_words"),
        ("[sentiment]\nextra_words = { bop = 9.0 }", "sentiment.extra_words.bop"),
        ('[sentiment]\nextra_emoji = { "ab" = 1.0 }', "sentiment.extra_emoji"),
        ("[sentiment]\nlexicon = {}", "sentiment.lexicon"),
    ],
)
def test_bad_sentiment_config_names_file_and_field(extra: str, field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(config_with(extra), source="monitor.toml")
    assert str(caught.value).startswith(f"monitor.toml: {field}:"), str(caught.value)


# --- language routing --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("뷔가 부른 러브레터 진짜 최고야", "ko"),
        ("テテのラブレター最高すぎる", "ja"),
        ("V nyanyi Love Letter bagus banget, aku suka sekali", "id"),
        ("o V cantando Love Letter é perfeito demais", "pt"),
        ("the way he sang it, I can't stop", "en"),
    ],
)
def test_languages_are_detected_offline(text: str, lang: str) -> None:
    assert detect_language(text) == lang


def test_the_networks_own_language_wins() -> None:
    assert detect_language("V nyanyi Love Letter bagus banget", declared="en-US") == "en"
    assert normalize_lang("pt_BR") == "pt" and normalize_lang("") is None
    assert normalize_lang("not a code!") is None


def test_too_few_letters_have_no_language() -> None:
    assert detect_language("🔥🔥 https://x.example/a @v") is None


def test_other_languages_are_unscored_never_neutral(scorer: Scorer) -> None:
    result = scorer.for_topic("love-letter").score("뷔가 부른 러브레터 진짜 최고야")
    assert (result.lang, result.method, result.sentiment, result.label) == (
        "ko",
        "unscored",
        None,
        "unscored",
    )
    declared = scorer.for_topic("love-letter").score("Love Letter hari ini", lang="id")
    assert declared.method == "unscored" and declared.sentiment is None


def test_emoji_of_other_languages_may_be_scored_labelled_emoji_only(scorer: Scorer) -> None:
    result = scorer.for_topic("love-letter").score("뷔가 부른 러브레터 진짜 최고야 😭🔥")
    assert result.method == "emoji-only" and result.label == "positive"
    off = TextScorer(lexicon=bundled_lexicon(), emoji_only=False)
    assert off.score("뷔가 부른 러브레터 진짜 최고야 😭🔥").method == "unscored"


def test_posts_without_words_have_no_language_and_are_scored_as_written(scorer: Scorer) -> None:
    result = scorer.for_topic("love-letter").score("🔥🔥🔥")
    assert (result.lang, result.method, result.label) == (None, "vader+fandom", "positive")
    emoticon = TextScorer().score(":( :(")
    assert (emoticon.lang, emoticon.method, emoticon.label) == (None, "vader", "negative")
    assert scorer.for_topic("love-letter").score("   ").method == "unscored"


def test_layer_off_and_no_topic_is_exactly_stock_vader_on_english() -> None:
    plain = TextScorer()
    for text in ["What a lovely day :)", "I HATE Mondays!!!", "meh", "not bad at all"]:
        result = plain.score(text, lang="en")
        assert result.method == "vader"
        assert result.sentiment is not None and result.sentiment.compound == stock(text)
