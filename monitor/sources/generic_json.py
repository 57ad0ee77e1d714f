"""Any JSON API, mapped to posts with JMESPath expressions: a new network without code.

Options (config `[[feeds]]` with `kind = "json"`): `url`, `token_env` (sent as a bearer
token, optional), and a `[feeds.mapping]` table:

    items      list of posts in the response          e.g. "hits", "data.children[].data"
    id         the post's id (its dedupe key)           e.g. "objectID"
    text       the post's text (HTML is stripped)      e.g. "join(' ', [title, body])"
    author, time, url, lang, likes, replies            optional, on each item
    next       the next page, on the whole response    e.g. "meta.next_token"
    next_param query parameter `next` goes in; without it, `next` is a URL

Times may be ISO 8601 strings or Unix seconds. Paging stops at the first stored post.
Example: Hacker News search (Algolia) in config/monitor.example.toml.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any, ClassVar

import httpx
import jmespath
from jmespath.exceptions import JMESPathError
from jmespath.parser import ParsedResult

from monitor.errors import ParseError
from monitor.model import Post
from monitor.sources.base import FeedState, Page
from monitor.sources.jsonapi import bearer, count, get_request, load_json, post_time
from monitor.text import clean_text, html_to_text


@lru_cache(maxsize=256)
def _compiled(expression: str) -> ParsedResult:
    return jmespath.compile(expression)


def _search(expression: str | None, data: Any) -> Any:
    if expression is None:
        return None
    try:
        return _compiled(expression).search(data)
    except JMESPathError:
        return None


def _scalar_text(value: Any) -> str:
    if isinstance(value, str):
        return value.replace("\x00", "")  # PostgreSQL text refuses NUL
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


class GenericJsonSource:
    """A JSON API mapped with JMESPath; the post id is `<url host>:<mapped id>`."""

    kind: ClassVar[str] = "json"
    network: ClassVar[str] = "json"

    def build_request(self, state: FeedState) -> httpx.Request:
        """Return the GET of the API URL, with the next-page token or URL within a poll."""
        headers = bearer(state.secrets.get("token"))
        mapping = state.options.mapping if state.options else None
        if state.page and mapping is not None and mapping.next_param:
            # Keep the URL's own query (the search terms) and add the page token to it.
            url = httpx.URL(state.url).copy_merge_params({mapping.next_param: state.page})
            return get_request(str(url), **headers)
        return get_request(state.page or state.url, **headers)

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
        """Return the mapped items as posts; ParseError if `items` is not a list."""
        if state is None or state.options is None or state.options.mapping is None:
            raise ParseError(f"json: the feed has no [feeds.mapping]: {url}")
        mapping = state.options.mapping
        data = load_json(body, source="json", url=url)
        items = _search(mapping.items, data)
        if not isinstance(items, list):
            raise ParseError(
                f"json: unexpected response shape: mapping.items {mapping.items!r} gave "
                f"{type(items).__name__}, not a list: {url}"
            )
        scope = httpx.URL(state.url).host
        posts = []
        for item in items:
            item_id = _scalar_text(_search(mapping.id, item)).strip()
            text = html_to_text(_scalar_text(_search(mapping.text, item)))
            if not item_id or not text:
                continue
            published, flags = post_time(_search(mapping.time, item), fetched_at=fetched_at)
            lang = _scalar_text(_search(mapping.lang, item)).lower()[:16] or None
            posts.append(
                Post(
                    network=self.network,
                    external_id=f"{scope}:{item_id}"[:512],
                    text=text,
                    published_at=published,
                    url=_scalar_text(_search(mapping.url, item)) or None,
                    author=clean_text(_scalar_text(_search(mapping.author, item))) or None,
                    lang=lang,
                    flags=flags,
                    raw=item if isinstance(item, dict) else {"value": item},
                    likes=count(_search(mapping.likes, item)),
                    replies=count(_search(mapping.replies, item)),
                )
            )
        next_page = _scalar_text(_search(mapping.next, data)) or None
        return Page(posts=posts, next_page=next_page)
