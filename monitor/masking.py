"""A topic's own names -> blanked out before scoring, so the titles' words do not count.

"Love wins all" alone scores +0.84 and "Love Letter" +0.64 in VADER: without masking, every
neutral headline about them reads as praise. A topic's phrases, aliases, hashtags and context
terms (`require_any`, which for one song names the other's title) are replaced by a space.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from monitor.config import TopicConfig
from monitor.matching import (
    _RIGHT_EDGE,
    _SPACED,
    _SPACED_WORD_CHAR,
    _WORD_GAP,
    _compile,
    _hashtag_pattern,
    _term_pattern,
    normalize_text,
)


@dataclass(frozen=True)
class TopicMask:
    """The compiled names of one topic; `apply` returns the text with them blanked out."""

    topic: str
    pattern: re.Pattern[str] | None  # over the text as written, case-insensitive
    check: re.Pattern[str] | None  # the same terms over matching's normalised text
    fast: re.Pattern[str] | None  # the same terms over lowercased text, fast to search

    @classmethod
    def compile(cls, topic: TopicConfig) -> TopicMask:
        """Return the mask of one configured topic."""
        terms = [t for t in (*topic.phrases, *topic.aliases, *topic.require_any) if t.strip()]
        patterns = [_term_pattern(t) for t in terms] + [_hashtag_pattern(h) for h in topic.hashtags]
        compiled = _compile(patterns)
        return cls(
            topic=topic.name,
            pattern=None if compiled is None else re.compile(compiled.pattern, re.IGNORECASE),
            check=compiled,
            fast=_hoisted(terms, topic.hashtags),
        )

    def apply(self, text: str) -> str:
        """Return `text` with every occurrence of the topic's names replaced by a space."""
        if self.pattern is None or self.check is None:
            return text
        if self.fast is None:
            return text
        lowered = text.lower()
        if len(lowered) != len(text):
            # Rare letters whose lowercase is longer ("İ"): match the composed text directly.
            composed = unicodedata.normalize("NFKC", text)
            if not self.check.search(normalize_text(text)):
                return text
            return self.pattern.sub(" ", composed)
        # Same length: every character lowercased in place, so matches splice into the text as
        # written. Beyond ASCII, lowercasing is not quite matching's normal form, so a match is
        # kept only if the topic's matcher finds one of its terms too: masking never touches a
        # post that does not name the topic.
        spans = [match.span() for match in self.fast.finditer(lowered)]
        if not spans:
            return text
        if not _lowercase_is_normal_form(text) and not self.check.search(normalize_text(text)):
            return text
        pieces, last = [], 0
        for start, end in spans:
            pieces += [text[last:start], " "]
            last = end
        return "".join(pieces) + text[last:]


# Non-ASCII letters and combining marks: where matching's normal form (NFKC, casefold, accents
# dropped) can differ from plain lowercasing.
_LETTER_OR_MARK = re.compile(
    r"[^\W\x00-\x7f]|[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff]"
)


def _lowercase_is_normal_form(text: str) -> bool:
    """Return True when `text.lower()` is exactly matching's normal form of `text` (ASCII, or
    beyond it only NFKC-stable symbols such as most emoji)."""
    if text.isascii():
        return True
    return unicodedata.is_normalized("NFKC", text) and not _LETTER_OR_MARK.search(text)


def _hoisted(terms: list[str], hashtags: list[str]) -> re.Pattern[str] | None:
    """Return matching's term pattern, rewritten so that every alternative starts with its
    own first character, same order, same matches.

    Matching's pattern checks the left word edge before each term; an alternation whose
    branches all begin with a literal character instead lets `re` skip, in C, every position
    where no term can start (sre's charset prefix) and try the branches only at the others
    (~4x faster than one edge check per term at every position, ~1.4x faster than one hoisted
    edge check per position). The left edge moves after the first character: `l(?<![E]l)ove`
    is `(?<![E])love`. Alternatives keep matching's order (edged terms, longest first, then
    the rest, longest first), so where several terms start at one position the same wins."""
    spaced, other = [], []
    for term in terms:
        words = normalize_text(term).split()
        if _SPACED.match(words[0][0]) and _SPACED.match(words[-1][-1]):
            spaced.append(_WORD_GAP.join(re.escape(word) for word in words))
        else:
            other.append(_term_pattern(term))
    other += [_hashtag_pattern(tag) for tag in hashtags]
    # A spaced term starts with a letter or digit, which re.escape leaves as it is.
    alternatives = [
        f"{body[0]}(?<![{_SPACED_WORD_CHAR}]{body[0]}){body[1:]}{_RIGHT_EDGE}"
        for body in sorted(set(spaced), key=len, reverse=True)
    ]
    alternatives += sorted(set(other), key=len, reverse=True)
    return re.compile("|".join(alternatives)) if alternatives else None
