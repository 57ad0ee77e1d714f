"""Bluesky post search (`app.bsky.feed.searchPosts`) with an app-password session.

Options (config `[[feeds]]` with `kind = "bluesky"`): `query` (Lucene syntax), optional
`language`, `handle_env` and `password_env` (environment variables with the account handle
and an app password), `page_size` (max 100), `max_pages_per_poll`, `backfill_posts`,
`api_base` (the PDS or AppView, default https://bsky.social).

The session is created once (`createSession` has a tight limit of its own), kept on the feed
and renewed with `refreshSession`; never a login per poll. Search is `sort=latest`; paging
stops at the first stored post or one older than the stored newest time. The post id is the
`at://` URI. For continuous listening use the Jetstream consumer (`monitor stream bluesky`).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar

import httpx

from monitor.errors import ParseError
from monitor.model import Post
from monitor.sources.base import FeedState, Page
from monitor.sources.jsonapi import (
    bearer,
    count,
    expect,
    get_request,
    load_document,
    load_json,
    options_of,
    parse_time,
    post_time,
    text_of,
)
from monitor.text import clean_text

DEFAULT_PDS = "https://bsky.social"
ACCESS_MARGIN = timedelta(seconds=60)
SINCE_OVERLAP = timedelta(minutes=10)


def jwt_expiry(token: str) -> float | None:
    """Return the `exp` claim (Unix time) of a JWT without verifying it, or None."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    return float(exp) if isinstance(exp, int | float) else None


def post_url(uri: str, handle: str | None) -> str | None:
    """Return the bsky.app web URL of an at:// post URI."""
    parts = uri.removeprefix("at://").split("/")
    if len(parts) != 3 or parts[1] != "app.bsky.feed.post":
        return None
    return f"https://bsky.app/profile/{handle or parts[0]}/post/{parts[2]}"


def record_post(
    *,
    uri: str,
    record: Mapping[str, Any],
    handle: str | None,
    fetched_at: datetime,
    network: str = "bluesky",
    raw: dict[str, Any] | None = None,
    counts: Mapping[str, Any] | None = None,
) -> Post | None:
    """Return the Post of an `app.bsky.feed.post` record (search hit or Jetstream event)."""
    text = clean_text(text_of(record.get("text")))
    if not uri or not text:
        return None
    langs = record.get("langs")
    lang = langs[0] if isinstance(langs, list) and langs and isinstance(langs[0], str) else ""
    published, flags = post_time(record.get("createdAt"), fetched_at=fetched_at)
    counts = counts or {}
    return Post(
        network=network,
        external_id=uri[:512],
        text=text,
        published_at=published,
        url=post_url(uri, handle),
        author=handle,
        lang=lang.lower()[:16] or None,
        flags=flags,
        raw=raw if raw is not None else dict(record),
        likes=count(counts.get("likeCount")),
        reposts=count(counts.get("repostCount")),
        replies=count(counts.get("replyCount")),
    )


class BlueskySearchSource:
    """`app.bsky.feed.searchPosts`, sort=latest, with a kept session; id = at:// URI."""

    kind: ClassVar[str] = "bluesky"
    network: ClassVar[str] = "bluesky"

    def _base(self, state: FeedState) -> str:
        return options_of(state).api_base or DEFAULT_PDS

    def auth_request(self, state: FeedState, *, now: datetime) -> httpx.Request | None:
        """Return None while the access token is valid, a refreshSession while the refresh
        token is, else a createSession with the app password."""
        access = text_of(state.auth.get("accessJwt"))
        expiry = jwt_expiry(access) if access else None
        if access and (expiry is None or now.timestamp() < expiry - ACCESS_MARGIN.seconds):
            return None
        refresh = text_of(state.auth.get("refreshJwt"))
        refresh_expiry = jwt_expiry(refresh) if refresh else None
        if refresh and (refresh_expiry is None or now.timestamp() < refresh_expiry):
            return httpx.Request(
                "POST",
                f"{self._base(state)}/xrpc/com.atproto.server.refreshSession",
                headers=bearer(refresh),
            )
        return httpx.Request(
            "POST",
            f"{self._base(state)}/xrpc/com.atproto.server.createSession",
            json={
                "identifier": state.secrets.get("handle", ""),
                "password": state.secrets.get("password", ""),
            },
        )

    def parse_auth(self, body: bytes, *, now: datetime) -> dict[str, Any]:
        """Return the session tokens of a createSession/refreshSession response."""
        data = load_json(body, source="bluesky", url="session")
        if not isinstance(data, dict) or not isinstance(data.get("accessJwt"), str):
            raise ParseError("bluesky: the session response has no accessJwt")
        return {
            "accessJwt": data["accessJwt"],
            "refreshJwt": text_of(data.get("refreshJwt")),
            "did": text_of(data.get("did")),
        }

    def build_request(self, state: FeedState) -> httpx.Request:
        """Return the GET of one search page (newest first)."""
        options = options_of(state)
        stored = parse_time(state.cursor)
        # No server-side "since id": bound the search by time, with an overlap for late
        # indexing; stored posts in the overlap are recognised by their URI.
        since = (stored - SINCE_OVERLAP).strftime("%Y-%m-%dT%H:%M:%SZ") if stored else None
        return get_request(
            f"{self._base(state)}/xrpc/app.bsky.feed.searchPosts",
            params={
                "q": options.query,
                "sort": "latest",
                "since": since,
                "limit": options.page_size or 100,
                "lang": options.language,
                "cursor": state.page,
            },
            **bearer(text_of(state.auth.get("accessJwt"))),
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
        """Return the hits of one search page; the cursor is the newest post time seen."""
        data = load_document(body, dict, what="response", source="bluesky", url=url)
        hits = expect(data.get("posts"), list, what="posts", source="bluesky", url=url)
        state = state or FeedState(url=url)
        stored_time = parse_time(state.cursor)
        posts: list[Post] = []
        newest = parse_time(state.pending)
        reached = False
        for hit in hits:
            if not isinstance(hit, dict) or not isinstance(hit.get("record"), dict):
                continue
            author = hit.get("author") if isinstance(hit.get("author"), dict) else {}
            post = record_post(
                uri=text_of(hit.get("uri")),
                record=hit["record"],
                handle=text_of(author.get("handle")) or None,
                fetched_at=fetched_at,
                raw=hit,
                counts=hit,
            )
            if post is None:
                continue
            posts.append(post)
            if newest is None or post.published_at > newest:
                newest = post.published_at
            if stored_time is not None and post.published_at < stored_time:
                reached = True
        return Page(
            posts=posts,
            next_cursor=newest.isoformat() if newest else None,
            next_page=text_of(data.get("cursor")) or None,
            reached_known=reached,
        )
