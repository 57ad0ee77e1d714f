"""Matcher: the shipped topics against hand-written posts, plus two Hypothesis properties."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from monitor.config import TopicConfig, load_config
from monitor.matching import Matcher, TopicMatcher, normalize_text

SHIPPED = Path(__file__).resolve().parents[2] / "config" / "monitor.toml"
TOPICS = load_config(SHIPPED).topics
MATCHER = Matcher.compile(TOPICS)
LOVE_LETTER = next(topic for topic in TOPICS if topic.name == "love-letter")


def topics(text: str, *, lang: str | None = None) -> set[str]:
    return set(MATCHER.topics_in(text, lang=lang))


def test_shipped_topics_are_the_two_expected() -> None:
    assert [m.topic for m in MATCHER.matchers] == ["love-letter", "love-wins-all"]


def test_phrase_with_context_matches_and_reports_the_term() -> None:
    assert MATCHER.topics_in("V's Love Letter is on repeat") == {"love-letter": ("love letter",)}


@pytest.mark.parametrize(
    "text",
    [
        "V is teaching love lettering at the fan meeting",
        "V wrote love letters to his fans",
        "Taehyung: lovelyletter",
        "V loves letters",
    ],
)
def test_phrase_must_end_on_a_word_boundary(text: str) -> None:
    assert topics(text) == set()


@pytest.mark.parametrize(
    "text",
    [
        "LOVE LETTER by V",
        "LOVÉ LETTER by V",
        "lòvë lêttér by Taehyung",
        "Love-Letter by V",
        "love   letter by V",
        "love\tletter\nby V",
        "love_letter by V",
        "love–letter by V",  # en dash
        "(Love Letter) by V!",
        "“Love Letter”—V",
    ],
)
def test_case_accents_and_word_gaps_do_not_matter(text: str) -> None:
    assert topics(text) == {"love-letter"}


def test_normalize_text_folds_case_accents_and_width() -> None:
    assert normalize_text("LOVÉ") == "love"
    assert normalize_text("ＬＯＶＥ") == "love"
    assert normalize_text("Straße") == "strasse"
    # Kana voicing marks are part of the word: they must survive.
    assert normalize_text("ブ") == "ブ"
    assert normalize_text("ｶﾞ") == "ガ"


def test_hashtag_matches_exactly_that_tag() -> None:
    assert MATCHER.topics_in("#LoveLetter from V") == {"love-letter": ("#loveletter",)}
    assert topics("#loveletter from V") == {"love-letter"}
    assert topics("#LoveLetters from V") == set()
    assert topics("#LoveLetter_2024 from V") == set()


def test_context_is_required() -> None:
    assert topics("Love Letter") == set()
    assert topics("I found an old love letter in a drawer") == set()
    assert topics("#LoveLetter") == set()
    assert topics("I found an old love letter in a drawer, V's song reminded me") == {"love-letter"}


def test_context_term_must_be_a_whole_word() -> None:
    # "v" inside "velvet" or "tv" is not the singer.
    assert topics("Velvet love letter on tv") == set()
    assert topics("Love letter, sung by V.") == {"love-letter"}


def test_exclusion_vetoes_the_match() -> None:
    assert topics("V sang Love Letter") == {"love-letter"}
    assert topics("V sang Love Letter; also: love lettering workshop") == set()


def test_korean_with_particles() -> None:
    assert MATCHER.topics_in("뷔가 부른 러브레터") == {"love-letter": ("러브레터",)}
    assert topics("뷔가 부른 러브레터를 들었다") == {"love-letter"}
    assert topics("아이유의 러브윈즈올 뮤비") == {"love-wins-all"}
    assert topics("러브레터를 읽었다") == set()  # no singer, no video


def test_japanese() -> None:
    assert topics("テテのラブレター、最高") == {"love-letter"}
    assert topics("テテの「ラブ・レター」") == {"love-letter"}
    assert topics("ラブレターを書いた") == set()


def test_fullwidth_latin_is_folded() -> None:
    assert topics("ＬＯＶＥ　ＬＥＴＴＥＲ　ｂｙ　Ｖ") == {"love-letter"}
    assert topics("＃ＬｏｖｅＷｉｎｓＡｌｌ　ＩＵ") == {"love-wins-all"}


def test_one_post_can_mention_both_topics() -> None:
    text = "V sang Love Letter in the behind-the-scenes video of IU's Love wins all"

    hits = MATCHER.topics_in(text)

    assert set(hits) == {"love-letter", "love-wins-all"}
    assert hits["love-wins-all"] == ("love wins all",)


def test_other_topic_alone() -> None:
    assert topics("IU - Love wins all (MV)") == {"love-wins-all"}
    assert topics("love wins all") == set()


def test_languages_restrict_the_topic_when_a_language_is_known() -> None:
    korean_only = TopicConfig(name="ko-only", phrases=["러브레터"], languages=["ko"])
    matcher = Matcher.compile([korean_only])
    text = "러브레터"

    assert set(matcher.topics_in(text, lang="ko")) == {"ko-only"}
    assert set(matcher.topics_in(text, lang="ko-kr")) == {"ko-only"}
    assert matcher.topics_in(text, lang="en") == {}
    assert matcher.topics_in(text, lang="en-us") == {}
    # An unknown language does not hide a post.
    assert set(matcher.topics_in(text, lang=None)) == {"ko-only"}


def test_topic_without_languages_ignores_lang() -> None:
    assert topics("V sang Love Letter", lang="fr") == {"love-letter"}


def test_most_specific_term_is_reported() -> None:
    topic = TopicConfig(name="t", phrases=["Love", "Love Letter"])
    matcher = TopicMatcher.compile(topic)

    assert matcher.match(normalize_text("my Love Letter")) == ("love letter",)


def test_distinct_terms_are_reported_once_each() -> None:
    hits = MATCHER.topics_in("V: Love Letter, love letter, 러브레터")

    assert hits == {"love-letter": ("love letter", "러브레터")}


def test_whitespace_only_phrase_does_not_crash_compile() -> None:
    with pytest.raises(ValidationError, match="phrases"):
        TopicConfig(name="t", phrases=["  "], hashtags=["LoveLetter"])
    # Built without validation, the blank phrase is ignored rather than crashing.
    topic = TopicConfig.model_construct(
        name="t",
        phrases=["  "],
        aliases=[],
        hashtags=["LoveLetter"],
        require_any=[],
        exclusions=[],
        languages=[],
    )

    matcher = Matcher.compile([topic])

    assert matcher.topics_in("#LoveLetter") == {"t": ("#loveletter",)}


# Every Latin term and hashtag of the shipped topics contains an "l"; the other terms are
# Hangul or kana. Text without those can never mention a topic.
NO_TERM_ALPHABET = (
    string.digits
    + string.punctuation
    + " \t\n"
    + "".join(c for c in string.ascii_letters if c not in "lL")
)


def test_no_term_alphabet_really_excludes_every_term() -> None:
    for topic in TOPICS:
        for term in (*topic.phrases, *topic.aliases, *topic.hashtags):
            assert not set(normalize_text(term)) <= set(NO_TERM_ALPHABET), term


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=NO_TERM_ALPHABET, max_size=200))
def test_text_that_cannot_spell_a_term_mentions_nothing(text: str) -> None:
    assert MATCHER.topics_in(text) == {}


@settings(max_examples=200, deadline=None)
@given(
    before=st.text(max_size=60),
    after=st.text(max_size=60),
    term=st.sampled_from([*LOVE_LETTER.phrases, *LOVE_LETTER.aliases]),
    context=st.sampled_from(LOVE_LETTER.require_any),
    context_first=st.booleans(),
)
def test_term_and_context_between_spaces_always_match(
    before: str, after: str, term: str, context: str, context_first: bool
) -> None:
    middle = f"{context} {term}" if context_first else f"{term} {context}"
    text = f"{before} {middle} {after}"
    normalized = normalize_text(text)
    # Random text may itself contain the exclusion; that veto is tested elsewhere.
    assume(not any(normalize_text(e) in normalized for e in LOVE_LETTER.exclusions))

    assert "love-letter" in MATCHER.topics_in(text)
