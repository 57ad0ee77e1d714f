"""JSON Feed 1.1 (https://www.jsonfeed.org/version/1.1/).

Options (config `[[feeds]]` with `kind = "jsonfeed"`): `url`, `max_pages_per_poll`
(follows the feed's `next_url`), `backfill_posts`. The post id is the item `id` (made global
with the feed URL when it is not a URL itself).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

import httpx

from monitor.errors import ParseError
from monitor.model import Post
from monitor.sources.base import FeedState, Page
from monitor.sources.jsonapi import (
    expect,
    get_request,
    load_document,
    post_time,
    text_of,
)
from monitor.text import clean_text, html_to_text

_GLOBAL_ID_PREFIXES = ("http://", "https://", "tag:", "urn:", "at://")


def _author(item: Mapping[str, Any], feed: Mapping[str, Any]) -> str | None:
    for holder in (item, feed):
        authors = holder.get("authors")
        if isinstance(authors, list) and authors and isinstance(authors[0], dict):
            return clean_text(text_of(authors[0].get("name"))) or None
        author = holder.get("author")  # JSON Feed 1.0
        if isinstance(author, dict):
            return clean_text(text_of(author.get("name"))) or None
    return None


class JsonFeedSource:
    """JSON Feed 1.0/1.1 documents; pages through `next_url`."""

    kind: ClassVar[str] = "jsonfeed"
    network: ClassVar[str] = "jsonfeed"

    def build_request(self, state: FeedState) -> httpx.Request:
        """Return the GET of the feed, or of its `next_url` within a poll."""
        request = get_request(state.page or state.url)
        request.headers["Accept"] = "application/feed+json, application/json;q=0.9"
        return request

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
        """Return the items of a JSON Feed as posts; ParseError if it is not one."""
        feed = load_document(body, dict, what="document", source="jsonfeed", url=url)
        version = text_of(feed.get("version"))
        if not version.startswith("https://jsonfeed.org/version/"):
            raise ParseError(f"jsonfeed: not a JSON Feed (no version): {url}")
        items = expect(feed.get("items"), list, what="items", source="jsonfeed", url=url)
        feed_url = (state.url if state else None) or url
        feed_lang = text_of(feed.get("language")).lower() or None
        posts = []
        for item in items:
            if not isinstance(item, dict):
                continue
            raw_id = item.get("id")
            if isinstance(raw_id, int | float) and not isinstance(raw_id, bool):
                raw_id = str(raw_id)  # 1.0 feeds may use numbers
            item_id = text_of(raw_id).strip()
            if not item_id:
                continue
            external_id = (
                item_id if item_id.startswith(_GLOBAL_ID_PREFIXES) else f"{feed_url}#{item_id}"
            )
            title = clean_text(text_of(item.get("title")))
            body_text = html_to_text(text_of(item.get("content_html"))) or clean_text(
                text_of(item.get("content_text")) or text_of(item.get("summary"))
            )
            text = body_text if body_text.startswith(title) else f"{title}\n{body_text}".strip()
            if not text:
                continue
            published, flags = post_time(
                item.get("date_published") or item.get("date_modified"), fetched_at=fetched_at
            )
            if item.get("date_modified") and item.get("date_modified") != item.get(
                "date_published"
            ):
                flags += ("edited",)
            posts.append(
                Post(
                    network=self.network,
                    external_id=external_id[:512],
                    text=text,
                    published_at=published,
                    url=text_of(item.get("url")) or None,
                    author=_author(item, feed),
                    lang=(text_of(item.get("language")).lower() or feed_lang),
                    flags=flags,
                    raw=dict(item),
                )
            )
        next_url = text_of(feed.get("next_url")) or None
        return Page(posts=posts, next_page=next_url)
