"""A post, for one topic -> its sentiment and how it was scored (or why it was not).

VADER scores English. The steps, per (post, topic):

1. language: the network's own field, else the bundled detector (monitor/language.py);
2. the topic's own names are masked (monitor/masking.py);
3. English text is scored by VADER, with the fandom lexicon layered on where the topic has
   `fandom_lexicon = true` (method `vader+fandom`) or stock (`vader`);
4. other languages are never scored as neutral: if the post has emoji, those alone may be
   scored (`emoji-only`), otherwise it is `unscored` (no sentiment). A post with too few
   letters to have a language (emoji, emoticons) is scored by VADER as it is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from monitor.config import MonitorConfig, SentimentConfig, TopicConfig
from monitor.language import detect_language
from monitor.lexicon import FandomLexicon, bundled_lexicon
from monitor.masking import TopicMask
from monitor.model import Sentiment
from monitor.sentiment import MAX_SCORED_CHARS, FastAnalyzer, get_analyzer

METHODS = ("vader", "vader+fandom", "emoji-only", "unscored")
SCORED_LANGUAGES = frozenset({"en"})


@dataclass(frozen=True, slots=True)
class Scored:
    """The outcome of scoring one text: its language, the method, and the sentiment (None when
    `method` is "unscored")."""

    lang: str | None
    method: str
    sentiment: Sentiment | None

    @property
    def label(self) -> str:
        return self.sentiment.label if self.sentiment is not None else "unscored"


@cache
def _fandom_analyzer(lexicon: FandomLexicon) -> FastAnalyzer:
    analyzer = FastAnalyzer()
    lexicon.apply_to(analyzer)
    analyzer.refresh()
    return analyzer


def _sentiment(scores: dict[str, float]) -> Sentiment:
    return Sentiment(
        compound=scores["compound"], pos=scores["pos"], neu=scores["neu"], neg=scores["neg"]
    )


@dataclass(frozen=True)
class TextScorer:
    """Scores text for one topic (or none): masking, lexicon, language routing."""

    mask: TopicMask | None = None
    lexicon: FandomLexicon | None = None
    emoji_only: bool = True

    @property
    def analyzer(self) -> SentimentIntensityAnalyzer:
        return get_analyzer() if self.lexicon is None else _fandom_analyzer(self.lexicon)

    def score(self, text: str, *, lang: str | None = None, detect: bool = True) -> Scored:
        """Return how `text` scores; `lang` is the post's language if known (else detected when
        `detect`; a text without a language is scored as written)."""
        clipped = text[:MAX_SCORED_CHARS]
        if lang is None and detect:
            lang = detect_language(clipped)
        if self.mask is not None:
            clipped = self.mask.apply(clipped)
        if self.lexicon is not None:
            clipped = self.lexicon.prepare(clipped)
        clipped = clipped.strip()
        if not clipped:
            return Scored(lang, "unscored", None)
        analyzer = self.analyzer
        if lang is None or lang in SCORED_LANGUAGES:
            # No language: too few letters to be in any (emoji, emoticons, a name), so VADER's
            # emoji and emoticon entries are all there is to read, in any language.
            method = "vader" if self.lexicon is None else "vader+fandom"
            return Scored(lang, method, _sentiment(analyzer.polarity_scores(clipped)))
        if self.emoji_only:
            emoji = " ".join(char for char in clipped if char in analyzer.emojis)
            if emoji:
                return Scored(lang, "emoji-only", _sentiment(analyzer.polarity_scores(emoji)))
        return Scored(lang, "unscored", None)


def topic_lexicon(topic: TopicConfig, settings: SentimentConfig) -> FandomLexicon | None:
    """Return the lexicon a topic scores with (bundled plus the config's extras), or None."""
    if not topic.fandom_lexicon:
        return None
    return _extended(
        tuple(sorted(settings.extra_words.items())), tuple(sorted(settings.extra_emoji.items()))
    )


@cache
def _extended(
    words: tuple[tuple[str, float], ...], emoji: tuple[tuple[str, float], ...]
) -> FandomLexicon:
    if not words and not emoji:
        return bundled_lexicon()
    return bundled_lexicon().extended(dict(words), dict(emoji))


@dataclass(frozen=True)
class Scorer:
    """One TextScorer per configured topic, plus a topic-less one (fandom layer on)."""

    topics: dict[str, TextScorer]
    default: TextScorer

    @classmethod
    def from_config(cls, config: MonitorConfig) -> Scorer:
        """Return the scorer of every topic in `config`."""
        settings = config.sentiment
        topics = {
            topic.name: TextScorer(
                mask=TopicMask.compile(topic),
                lexicon=topic_lexicon(topic, settings),
                emoji_only=settings.emoji_only,
            )
            for topic in config.topics
        }
        default = TextScorer(
            lexicon=_extended(
                tuple(sorted(settings.extra_words.items())),
                tuple(sorted(settings.extra_emoji.items())),
            ),
            emoji_only=settings.emoji_only,
        )
        return cls(topics, default)

    @classmethod
    def plain(cls) -> Scorer:
        """Return a scorer with no topics (no masking), fandom layer on."""
        return cls({}, TextScorer(lexicon=bundled_lexicon()))

    def for_topic(self, topic: str | None) -> TextScorer:
        """Return the scorer of `topic` (the topic-less one for None or an unknown topic)."""
        return self.topics.get(topic or "", self.default)

    def score_topics(
        self, text: str, topics: Iterable[str], *, lang: str | None
    ) -> dict[str, Scored]:
        """Return {topic: Scored} for one post already known to be in `lang`."""
        return {
            topic: self.for_topic(topic).score(text, lang=lang, detect=False) for topic in topics
        }
