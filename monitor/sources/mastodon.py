"""Mastodon (and Mastodon-API servers): a hashtag timeline of one instance.

Options (config `[[feeds]]` with `kind = "mastodon"`): `instance` (base URL, e.g.
"https://mastodon.social"), `hashtag`, optional `token_env` (an environment variable with
an access token: instances on 4.5+ may restrict hashtag feeds to signed-in users),
`page_size` (max 40), `max_pages_per_poll`, `backfill_posts`, `api_base` (overrides
`instance`).

Polling: the first poll reads newest-first and follows `Link: rel="next"` (older) within the
backfill budget; later polls read forward from the stored newest id with `min_id` and follow
`rel="prev"` (newer). The post id is the status `uri`, the same on every instance, so one
post seen on two instances is one post. A boost yields the original status and the boost
itself (with `repost_of`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

import httpx

from monitor.errors import CredentialsError
from monitor.model import Post
from monitor.sources.base import FeedState, Page
from monitor.sources.jsonapi import (
    bearer,
    count,
    get_request,
    load_document,
    post_time,
    text_of,
)
from monitor.text import clean_text, html_to_text

_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="?([a-z]+)"?')


def parse_link_header(value: str | None) -> dict[str, str]:
    """Return {rel: url} from an HTTP Link header."""
    return {rel: url for url, rel in _LINK.findall(value or "")}


def _id_key(value: str) -> tuple[int, str]:
    # Snowflake ids are digit strings; flake ids of other servers have a fixed length.
    return (len(value), value)


def newest_id(ids: list[str]) -> str | None:
    """Return the largest status id, or None."""
    return max(ids, key=_id_key) if ids else None


class MastodonSource:
    """Hashtag timeline of one Mastodon instance; the post id is the status uri."""

    kind: ClassVar[str] = "mastodon"
    network: ClassVar[str] = "mastodon"

    def build_request(self, state: FeedState) -> httpx.Request:
        """Return the GET of the next page: a Link URL within a poll, else the timeline
        newer than the stored id (or the newest page on the first poll)."""
        headers = bearer(state.secrets.get("token"))
        if state.page:
            return get_request(state.page, **headers)
        limit = min(40, state.options.page_size or 40) if state.options else 40
        return get_request(state.url, params={"limit": limit, "min_id": state.cursor}, **headers)

    def _post(self, status: Mapping[str, Any], *, fetched_at: datetime) -> Post | None:
        uri = text_of(status.get("uri"))
        if not uri:
            return None
        account = status.get("account") if isinstance(status.get("account"), dict) else {}
        text = html_to_text(text_of(status.get("content")))
        warning = clean_text(text_of(status.get("spoiler_text")))
        if warning:
            text = f"{warning}\n{text}"
        published, flags = post_time(status.get("created_at"), fetched_at=fetched_at)
        if status.get("edited_at"):
            flags += ("edited",)
        return Post(
            network=self.network,
            external_id=uri[:512],
            text=text,
            published_at=published,
            url=text_of(status.get("url")) or uri,
            author=text_of(account.get("acct")) or None,
            lang=(text_of(status.get("language")).lower()[:16] or None),
            flags=flags,
            raw=dict(status),
            likes=count(status.get("favourites_count")),
            reposts=count(status.get("reblogs_count")),
            replies=count(status.get("replies_count")),
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
        """Return the statuses of one timeline page, with the newest id as the cursor."""
        statuses = load_document(body, list, what="timeline", source="mastodon", url=url)
        state = state or FeedState(url=url)
        anonymous = not state.secrets.get("token")
        if not statuses and anonymous and state.cursor is None and state.page is None:
            # Since 4.5 an instance may answer an anonymous hashtag request with []: that
            # must read as "cannot see", not as "nobody posted".
            raise CredentialsError(
                "mastodon: empty hashtag timeline on the first anonymous poll (the instance "
                f"may restrict hashtag feeds to signed-in users; set token_env): {url}"
            )
        posts: list[Post] = []
        ids: list[str] = []
        for status in statuses:
            if not isinstance(status, dict):
                continue
            if isinstance(status.get("id"), str):
                ids.append(status["id"])
            original = status.get("reblog")
            if isinstance(original, dict):
                post = self._post(original, fetched_at=fetched_at)
                if post is None or not post.text:
                    continue
                posts.append(post)
                boost = self._post(status, fetched_at=fetched_at)
                if boost is not None:
                    posts.append(
                        Post(
                            network=self.network,
                            external_id=boost.external_id,
                            text=post.text,
                            published_at=boost.published_at,
                            url=boost.url,
                            author=boost.author,
                            lang=post.lang,
                            flags=(*boost.flags, "repost"),
                            raw=boost.raw,
                            repost_of=post.external_id,
                        )
                    )
                continue
            post = self._post(status, fetched_at=fetched_at)
            # A status with no text (media only) mentions nothing we can match.
            if post is not None and post.text:
                posts.append(post)
        links = parse_link_header((headers or {}).get("link"))
        cursor = newest_id([i for i in (*ids, state.pending) if i])
        # Forward (newer) once a cursor exists; backward (older) while backfilling.
        direction = "prev" if state.cursor is not None else "next"
        return Page(
            posts=posts,
            next_cursor=cursor,
            next_page=links.get(direction) if statuses else None,
        )
