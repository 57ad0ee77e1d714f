"""Turning untrusted markup into plain text that every database accepts."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

# C0 controls except tab, newline and carriage return: PostgreSQL rejects NUL in text and the
# rest are never meaningful in a post.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"[ \t\r\f\v]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
_BLOCK_TAGS = frozenset(
    {
        "p",
        "br",
        "div",
        "li",
        "ul",
        "ol",
        "blockquote",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "tr",
        "pre",
    }
)
_DROPPED_TAGS = frozenset({"script", "style", "template"})


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._dropped_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROPPED_TAGS:
            self._dropped_depth += 1
        elif tag in _BLOCK_TAGS and not self._dropped_depth:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROPPED_TAGS:
            self._dropped_depth = max(0, self._dropped_depth - 1)
        elif tag in _BLOCK_TAGS and not self._dropped_depth:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._dropped_depth:
            self.parts.append(data)


def clean_text(text: str) -> str:
    """Return `text` without control characters and with runs of spaces folded."""
    text = _CONTROL.sub("", text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n", "\n".join(lines)).strip()


def html_to_text(markup: str) -> str:
    """Return the visible text of an HTML fragment, entities decoded, cleaned."""
    if "<" not in markup and "&" not in markup:
        return clean_text(markup)
    extractor = _TextExtractor()
    try:
        extractor.feed(markup)
        extractor.close()
    except Exception:  # html.parser is lenient, but never let odd markup stop a poll
        return clean_text(html.unescape(re.sub(r"<[^>]*>", " ", markup)))
    return clean_text("".join(extractor.parts))
