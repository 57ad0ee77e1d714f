"""Text -> the topics it mentions.

Each topic's terms are compiled once into regular expressions over a normalised form of the
text (NFKC, case-folded, accents removed from Latin/Greek/Cyrillic letters). A term edge made
of a letter or digit from a space-separated script must sit on a word boundary, so "Love
Letter" does not match "love lettering"; Hangul, kana and Han edges need no boundary because
those scripts attach particles to words ("뷔가", "아이유의").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from monitor.config import TopicConfig

_SPACED_WORD_CHAR = "0-9a-z\u00c0-\u024f\u0370-\u052f"
_LEFT_EDGE = f"(?<![{_SPACED_WORD_CHAR}])"
_RIGHT_EDGE = f"(?![{_SPACED_WORD_CHAR}])"
_HASHTAG_END = r"(?!\w)"
_SPACED = re.compile(f"[{_SPACED_WORD_CHAR}]")
_WORD_GAP = r"[\s\-_‐-―·・]+"


def normalize_text(text: str) -> str:
    """Return `text` in the form terms are matched against (length may change)."""
    text = unicodedata.normalize("NFKC", text).casefold()
    decomposed = unicodedata.normalize("NFD", text)
    kept: list[str] = []
    for char in decomposed:
        # Drop accents on Latin/Greek/Cyrillic only: kana voicing marks change the word.
        if unicodedata.combining(char) and kept and ord(kept[-1]) < 0x0530:
            continue
        kept.append(char)
    return unicodedata.normalize("NFC", "".join(kept))


def _term_pattern(term: str) -> str:
    words = normalize_text(term).split()
    body = _WORD_GAP.join(re.escape(word) for word in words)
    left = _LEFT_EDGE if _SPACED.match(words[0][0]) else ""
    right = _RIGHT_EDGE if _SPACED.match(words[-1][-1]) else ""
    return f"{left}{body}{right}"


def _hashtag_pattern(tag: str) -> str:
    return "#" + re.escape(normalize_text(tag)) + _HASHTAG_END


def _compile(patterns: Sequence[str]) -> re.Pattern[str] | None:
    if not patterns:
        return None
    # Longest first so the reported term is the most specific one.
    ordered = sorted(set(patterns), key=len, reverse=True)
    return re.compile("|".join(f"(?:{p})" for p in ordered))


@dataclass(frozen=True)
class TopicMatcher:
    """A topic's compiled query; `match` returns the matched terms or an empty tuple."""

    topic: str
    terms: re.Pattern[str] | None
    context: re.Pattern[str] | None
    exclusions: re.Pattern[str] | None
    languages: frozenset[str]

    @classmethod
    def compile(cls, topic: TopicConfig) -> TopicMatcher:
        """Return the matcher of one configured topic."""
        term_patterns = [_term_pattern(t) for t in (*topic.phrases, *topic.aliases) if t.strip()]
        term_patterns += [_hashtag_pattern(tag) for tag in topic.hashtags]
        return cls(
            topic=topic.name,
            terms=_compile(term_patterns),
            context=_compile([_term_pattern(t) for t in topic.require_any if t.strip()]),
            exclusions=_compile([_term_pattern(t) for t in topic.exclusions if t.strip()]),
            languages=frozenset(topic.languages),
        )

    def match(self, normalized: str, *, lang: str | None = None) -> tuple[str, ...]:
        """Return the distinct terms of this topic found in already-normalised text."""
        if self.languages and lang and lang.split("-")[0] not in self.languages:
            return ()
        if self.terms is None:
            return ()
        found = tuple(dict.fromkeys(m.group(0) for m in self.terms.finditer(normalized)))
        if not found:
            return ()
        if self.context is not None and not self.context.search(normalized):
            return ()
        if self.exclusions is not None and self.exclusions.search(normalized):
            return ()
        return found


@dataclass(frozen=True)
class Matcher:
    """All topics' matchers; `topics_in` returns every topic a text mentions."""

    matchers: tuple[TopicMatcher, ...]

    @classmethod
    def compile(cls, topics: Iterable[TopicConfig]) -> Matcher:
        """Return a matcher over `topics`, each compiled once."""
        return cls(tuple(TopicMatcher.compile(topic) for topic in topics))

    def topics_in(self, text: str, *, lang: str | None = None) -> dict[str, tuple[str, ...]]:
        """Return {topic name: matched terms} for every topic `text` mentions."""
        normalized = normalize_text(text)
        hits = {}
        for matcher in self.matchers:
            terms = matcher.match(normalized, lang=lang)
            if terms:
                hits[matcher.topic] = terms
        return hits
