"""Text -> Sentiment, with VADER behind one function and one analyzer per process."""

from __future__ import annotations

from functools import cache

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from monitor.model import Sentiment

# VADER's cost grows with the square of the text length (100k chars take ~16 s); fan posts
# that matter fit well within this.
MAX_SCORED_CHARS = 5_000


@cache
def get_analyzer() -> SentimentIntensityAnalyzer:
    """Return this process's analyzer; building one reads the lexicon, so never per post."""
    return SentimentIntensityAnalyzer()


def score_text(text: str) -> Sentiment | None:
    """Return VADER's scores of `text` (its first MAX_SCORED_CHARS), or None for empty text."""
    clipped = text[:MAX_SCORED_CHARS].strip()
    if not clipped:
        return None
    scores = get_analyzer().polarity_scores(clipped)
    return Sentiment(
        compound=scores["compound"], pos=scores["pos"], neu=scores["neu"], neg=scores["neg"]
    )
