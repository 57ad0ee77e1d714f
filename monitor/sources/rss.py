"""RSS and Atom feeds, parsed with feedparser.

Options (config `[[feeds]]` with `kind = "rss"`): `url`, `interval_seconds`, `topics`.

feedparser only ever gets `io.BytesIO(body)`: handed a str or bytes it may treat them as a
path or URL and open a local file.
"""

from __future__ import annotations

import calendar
import hashlib
import io
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import feedparser
import httpx

from monitor.errors import ParseError
from monitor.model import Post
from monitor.sources.base import FeedState, Page
from monitor.text import clean_text, html_to_text

# A clock skew allowance; later than this is a wrong date, not a post from the future.
FUTURE_TOLERANCE = timedelta(minutes=10)
_GLOBAL_ID_PREFIXES = ("http://", "https://", "tag:", "urn:", "at://")


def _entry_time(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = entry.get(key)
        if parsed:
            try:
                return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
            except (OverflowError, ValueError, OSError):
                return None
    return None


def _entry_text(entry: Any) -> str:
    title = entry.get("title", "") or ""
    # A title the feed declares as plain text is literal characters, not markup.
    plain = (entry.get("title_detail") or {}).get("type") == "text/plain"
    title = clean_text(title) if plain else html_to_text(title)
    body = ""
    if entry.get("content"):
        body = " ".join(html_to_text(part.get("value", "") or "") for part in entry.content)
    elif entry.get("summary"):
        body = html_to_text(entry.summary or "")
    if body.startswith(title):
        return body
    return clean_text(f"{title}\n{body}" if body else title)


def _external_id(entry: Any, *, feed_url: str, text: str, seen: set[str], position: int) -> str:
    guid = (entry.get("id") or "").strip()
    link = (entry.get("link") or "").strip()
    if guid:
        base = guid if guid.startswith(_GLOBAL_ID_PREFIXES) else f"{feed_url}#{guid}"
    elif link:
        base = link
    else:
        base = "sha256:" + hashlib.sha256(f"{feed_url}\n{text}".encode()).hexdigest()
    # Feeds that repeat an id for different items: tell them apart by link, then position.
    for candidate in (base, f"{base}|{link}" if link and guid else None, f"{base}|{position}"):
        if candidate and candidate not in seen:
            return candidate
    return f"{base}|{position}|{len(seen)}"


class RssSource:
    """RSS 0.9x/1.0/2.0 and Atom 0.3/1.0 via feedparser; the post id is the entry's guid."""

    kind: ClassVar[str] = "rss"
    network: ClassVar[str] = "rss"

    def build_request(self, state: FeedState) -> httpx.Request:
        """Return a GET for the feed URL that accepts the usual feed media types."""
        return httpx.Request(
            "GET",
            state.url,
            headers={
                "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, "
                "text/xml;q=0.8, */*;q=0.1"
            },
        )

    def parse(
        self,
        body: bytes,
        *,
        url: str,
        content_type: str | None,
        fetched_at: datetime,
        state: FeedState | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Page:
        """Return the entries of an RSS/Atom document as posts; ParseError if it is not one."""
        headers = {"content-location": url}
        if content_type:
            headers["content-type"] = content_type
        parsed = feedparser.parse(io.BytesIO(body), response_headers=headers)
        if not parsed.get("version") and not parsed.entries:
            problem = parsed.get("bozo_exception")
            reason = f": {type(problem).__name__}: {problem}" if problem else ""
            raise ParseError(f"rss: not an RSS or Atom feed{reason}: {url}")
        feed_lang = (parsed.feed.get("language") or "").strip().lower() or None
        posts: list[Post] = []
        seen: set[str] = set()
        for position, entry in enumerate(parsed.entries):
            text = _entry_text(entry)
            if not text:
                continue
            external_id = _external_id(entry, feed_url=url, text=text, seen=seen, position=position)
            seen.add(external_id)
            published = _entry_time(entry)
            flags: list[str] = []
            if published is None:
                published, flags = fetched_at, ["date_missing"]
            elif published > fetched_at + FUTURE_TOLERANCE:
                published, flags = fetched_at, ["date_future"]
            lang = entry.get("language") or entry.get("dc_language") or feed_lang or ""
            posts.append(
                Post(
                    network=self.network,
                    external_id=external_id[:512],
                    text=text,
                    published_at=published,
                    url=(entry.get("link") or None),
                    author=clean_text(entry.get("author") or "") or None,
                    lang=lang.strip().lower()[:16] or None,
                    flags=tuple(flags),
                    raw={"id": entry.get("id"), "link": entry.get("link")},
                )
            )
        return Page(posts=posts)
