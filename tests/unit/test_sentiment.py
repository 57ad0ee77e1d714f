"""score_text: VADER behind one function, with a length cap and one analyzer per process."""

from __future__ import annotations

import math

import pytest

from monitor.model import Sentiment
from monitor.sentiment import MAX_SCORED_CHARS, get_analyzer, score_text

FILLER = "the "  # no valence in VADER's lexicon


@pytest.mark.parametrize("text", ["", "   ", "\n\t "])
def test_empty_text_is_not_scored(text: str) -> None:
    assert score_text(text) is None


def test_single_word_compound_follows_vaders_normalisation() -> None:
    # VADER: compound = s / sqrt(s^2 + 15), s the word's lexicon valence.
    valence = get_analyzer().lexicon["love"]
    expected = valence / math.sqrt(valence**2 + 15)

    sentiment = score_text("love")

    assert sentiment is not None
    assert sentiment.compound == pytest.approx(expected, abs=1e-4)
    assert sentiment.label == "positive"


def test_clearly_positive_and_negative_posts() -> None:
    positive = score_text("V's Love Letter is beautiful, I love it!")
    negative = score_text("This cover is terrible and awful, I hate it.")

    assert positive is not None and positive.label == "positive"
    assert negative is not None and negative.label == "negative"
    for sentiment in (positive, negative):
        assert -1.0 <= sentiment.compound <= 1.0
        assert sentiment.pos + sentiment.neu + sentiment.neg == pytest.approx(1.0, abs=0.01)


def test_word_beyond_the_cap_is_not_scored() -> None:
    padding = FILLER * (MAX_SCORED_CHARS // len(FILLER) + 1)
    text = padding + "love"
    assert len(padding) >= MAX_SCORED_CHARS

    sentiment = score_text(text)

    assert sentiment is not None
    assert sentiment.label == "neutral"
    assert sentiment.compound == 0.0
    # Unclipped, the same text is positive: the cap is what made it neutral.
    assert get_analyzer().polarity_scores(text)["compound"] >= 0.05


def test_word_ending_exactly_at_the_cap_is_scored() -> None:
    word = " love"
    padding = "x" * (MAX_SCORED_CHARS - len(word))
    text = padding + word + " hate hate hate"
    assert text.index(word) + len(word) == MAX_SCORED_CHARS

    sentiment = score_text(text)

    assert sentiment is not None
    assert sentiment.label == "positive"


def test_get_analyzer_is_built_once() -> None:
    assert get_analyzer() is get_analyzer()


@pytest.mark.parametrize(
    ("compound", "label"),
    [
        (1.0, "positive"),
        (0.05, "positive"),
        (0.0499, "neutral"),
        (0.0, "neutral"),
        (-0.0499, "neutral"),
        (-0.05, "negative"),
        (-1.0, "negative"),
    ],
)
def test_label_thresholds(compound: float, label: str) -> None:
    assert Sentiment(compound=compound, pos=0.0, neu=1.0, neg=0.0).label == label
