"""The fandom lexicon: valence overrides for fan slang, hyperbole and emoji, layered on VADER.

The entries live in `monitor/data/fandom_lexicon.toml` (each with the reason it is there);
users add their own in the config (`[sentiment] extra_words`, `extra_emoji`). They are
applied with VADER's own mechanics, so its rules for boosters, negation, "but", capitals and
punctuation still work around them:

- words go into the analyzer's lexicon (single lowercase tokens);
- emoji go into the analyzer's emoji table, as a one-token description with its own valence,
  because VADER replaces each emoji by its description before any lexicon lookup;
- phrases (VADER cannot hold multi-word keys) are rewritten to one such token before scoring;
- "not me <verb>ing" is an admission ("not me sobbing at 3am" = "I am sobbing"), so it becomes
  one positive token instead of a negation of what follows;
- U+FE0F is dropped, since VADER's table has "❤" but not "❤️".
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

DATA_FILE = "data/fandom_lexicon.toml"
VARIATION_SELECTOR = "\ufe0f"
# "not me sobbing", "not me rewatching it": the verb's own valence is the fan's delight here.
NOT_ME_TOKEN = "fandomnotme"
NOT_ME_VALENCE = 1.5
_NOT_ME = r"not me [a-z']+ing"
_WORD = re.compile(r"^[a-z][a-z'-]*$")
_LETTERS = re.compile(r"[a-z]+")
# Too common to pick out the few texts a rule can match; a rule made only of these keeps them.
_COMMON = frozenset(
    [
        "a",
        "actually",
        "be",
        "for",
        "he",
        "i",
        "is",
        "it",
        "just",
        "literally",
        "me",
        "my",
        "no",
        "not",
        "of",
        "on",
        "really",
        "she",
        "should",
        "so",
        "that",
        "the",
        "they",
        "this",
        "too",
        "u",
        "what",
        "which",
        "with",
        "you",
    ]
)


@dataclass(frozen=True)
class _Rewrite:
    """One phrase rule: its pattern (case-sensitive over lowercased ASCII text, and
    case-insensitive for the rest), its replacement token and its literal words."""

    pattern: re.Pattern[str]
    folded: re.Pattern[str]
    token: str
    words: frozenset[str]

    @classmethod
    def compile(cls, pattern: str, token: str) -> _Rewrite:
        body = rf"(?<![\w'])(?:{pattern})(?![\w'])"
        # Whole literal words of the pattern (not in a class, not quantified, not glued to other
        # pattern syntax), less the common ones if any remain. A text the rule matches holds
        # one of them; a rule with none runs on every text. A class of spaces and hyphens
        # only, taken once ("rent[ -]free"), matches one character that is not a letter, so
        # it separates words like a space.
        literal = re.sub(r"\[[ -]+\](?![?*+{])", " ", pattern)
        literal = re.sub(r"\\.", " ", literal)
        words = frozenset(re.findall(r"(?:(?<=^)|(?<=[ (|:?]))([a-z]{2,})(?=$|[ )|(\\])", literal))
        return cls(
            pattern=re.compile(body),
            folded=re.compile(body, re.IGNORECASE),
            token=token,
            words=(words - _COMMON) or words,
        )

    def apply(self, text: str, lowered: str) -> str:
        """Return `text` (whose lowercase is `lowered`) with every match replaced by the token."""
        if len(lowered) != len(text):
            return self.folded.sub(self.token, text)
        # Same length: each character was lowercased in place, so matches splice into `text`.
        pieces, last = [], 0
        for match in self.pattern.finditer(lowered):
            pieces += [text[last : match.start()], self.token]
            last = match.end()
        return "".join(pieces) + text[last:] if pieces else text


def emoji_token(emoji: str) -> str:
    """Return the one-token description an emoji is replaced by (letters and digits only)."""
    return "fandomemoji" + "".join(f"{ord(char):x}" for char in emoji)


# eq=False: hashed by identity, so analyzers can be cached per lexicon object.
@dataclass(frozen=True, eq=False)
class FandomLexicon:
    """Word, emoji and phrase valences; `prepare` rewrites a text, `apply_to` an analyzer."""

    words: Mapping[str, float]
    emoji: Mapping[str, float]
    phrases: tuple[tuple[str, float], ...]
    _rules: tuple[_Rewrite, ...] = field(init=False, repr=False)
    _by_word: dict[str, tuple[int, ...]] = field(init=False, repr=False)
    _keys: frozenset[str] = field(init=False, repr=False)
    _always: tuple[int, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        rules = [_Rewrite.compile(_NOT_ME, NOT_ME_TOKEN)]
        rules += [
            _Rewrite.compile(pattern, f"fandomphrase{index}")
            for index, (pattern, _) in enumerate(self.phrases)
        ]
        # One big alternation costs ~30 us a post; instead a rule runs only when a text holds
        # one of the literal words of its pattern (a superset of the texts it can match).
        by_word: dict[str, list[int]] = {}
        always = []
        for index, rule in enumerate(rules):
            if not rule.words:
                always.append(index)
            for word in rule.words:
                by_word.setdefault(word, []).append(index)
        object.__setattr__(self, "_rules", tuple(rules))
        object.__setattr__(self, "_by_word", {w: tuple(ids) for w, ids in by_word.items()})
        object.__setattr__(self, "_always", tuple(always))
        object.__setattr__(self, "_keys", frozenset(by_word))

    def extended(
        self, words: Mapping[str, float] | None = None, emoji: Mapping[str, float] | None = None
    ) -> FandomLexicon:
        """Return this lexicon with `words` and `emoji` added (or overriding entries)."""
        return FandomLexicon(
            words={**self.words, **(words or {})},
            emoji={**self.emoji, **(emoji or {})},
            phrases=self.phrases,
        )

    def prepare(self, text: str) -> str:
        """Return `text` with U+FE0F dropped and each fan phrase rewritten to its token."""
        text = text.replace(VARIATION_SELECTOR, "")
        lowered = text.lower()
        candidates = set(self._always)
        # Most words of a post pick out no rule: one set intersection finds the few that do.
        for word in self._keys.intersection(_LETTERS.findall(lowered)):
            candidates.update(self._by_word[word])
        # In rule order, so "not me ...ing" comes first; a token never matches a later rule.
        for index in sorted(candidates):
            rewritten = self._rules[index].apply(text, lowered)
            if rewritten is not text:  # most candidates match nothing: no need to lower again
                text, lowered = rewritten, rewritten.lower()
        return text

    def apply_to(self, analyzer: SentimentIntensityAnalyzer) -> None:
        """Set the words, emoji and phrase tokens in `analyzer`'s lexicon and emoji table."""
        analyzer.lexicon.update(self.words)
        for emoji, valence in self.emoji.items():
            token = emoji_token(emoji)
            for char in (emoji, emoji.replace(VARIATION_SELECTOR, "")):
                if char:
                    analyzer.emojis[char] = token
            analyzer.lexicon[token] = valence
        analyzer.lexicon[NOT_ME_TOKEN] = NOT_ME_VALENCE
        for index, (_, valence) in enumerate(self.phrases):
            analyzer.lexicon[f"fandomphrase{index}"] = valence


def check_word(word: str) -> str:
    """Return `word` if it can be a VADER lexicon key (one lowercase token); ValueError if not."""
    if not _WORD.match(word):
        raise ValueError(f"{word!r} must be one lowercase word (VADER looks up single tokens)")
    return word


def check_emoji(emoji: str) -> str:
    """Return `emoji` if it is one emoji character (optionally with U+FE0F); ValueError if not."""
    bare = emoji.replace(VARIATION_SELECTOR, "")
    if len(bare) != 1 or bare.isalnum() or bare.isspace():
        raise ValueError(
            f"{emoji!r} must be a single emoji character (VADER reads emoji one at a time)"
        )
    return emoji


@cache
def bundled_lexicon() -> FandomLexicon:
    """Return the lexicon shipped in monitor/data/fandom_lexicon.toml."""
    text = resources.files("monitor").joinpath(DATA_FILE).read_text(encoding="utf-8")
    data = tomllib.loads(text)
    return FandomLexicon(
        words={check_word(w): float(e["valence"]) for w, e in data["words"].items()},
        emoji={check_emoji(m): float(e["valence"]) for m, e in data["emoji"].items()},
        phrases=tuple((p, float(e["valence"])) for p, e in data["phrases"].items()),
    )
