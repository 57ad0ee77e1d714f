"""Reddit through its OAuth API (anonymous JSON answers 403 since 2026).

Options (config `[[feeds]]` with `kind = "reddit"`): `subreddit` and/or `query` (subreddit
`new` listing, subreddit search, or site-wide search, newest first), `client_id_env` and
`client_secret_env` (environment variables of a registered app; app-only client-credentials
token), `user_agent` in Reddit's required format `<platform>:<app id>:<version> (by
/u/<name>)`, `page_size` (max 100), `max_pages_per_poll`, `backfill_posts`, `api_base`
(default https://oauth.reddit.com; the token comes from `<api_base>/api/v1/access_token`
when set, else https://www.reddit.com/api/v1/access_token).

The post id is the fullname (`t3_...`, `t1_...`); paging (`after`) stops at the first stored
fullname. A crosspost is a repost of its `crosspost_parent`. The `X-Ratelimit-*` headers are
honoured by the page loop; a 403 is reported as "credentials needed".
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar

import httpx

from monitor.errors import ParseError
from monitor.model import Post
from monitor.sources.base import FeedState, Page
from monitor.sources.jsonapi import (
    count,
    expect,
    get_request,
    load_document,
    load_json,
    options_of,
    post_time,
    text_of,
)
from monitor.text import clean_text, html_to_text

TOKEN_URL = "https://www.reddit.com/api/v1/access_token"
# Renew a little before expiry, so a token never runs out between two pages.
TOKEN_MARGIN = timedelta(seconds=60)


def fullname_key(fullname: str) -> tuple[str, int]:
    """Return a sortable key of a fullname: its type and its base-36 number."""
    kind, _, number = fullname.partition("_")
    try:
        return kind, int(number, 36)
    except ValueError:
        return kind, -1


class RedditSource:
    """Subreddit listings and searches via OAuth; the post id is the fullname."""

    kind: ClassVar[str] = "reddit"
    network: ClassVar[str] = "reddit"

    def auth_request(self, state: FeedState, *, now: datetime) -> httpx.Request | None:
        """Return the client-credentials token request, or None while the token is valid."""
        expires = state.auth.get("expires_at")
        if (
            state.auth.get("access_token")
            and isinstance(expires, int | float)
            and now.timestamp() < expires - TOKEN_MARGIN.total_seconds()
        ):
            return None
        options = options_of(state)
        url = f"{options.api_base}/api/v1/access_token" if options.api_base else TOKEN_URL
        pair = f"{state.secrets.get('client_id', '')}:{state.secrets.get('client_secret', '')}"
        basic = base64.b64encode(pair.encode()).decode("ascii")
        return httpx.Request(
            "POST",
            url,
            data={"grant_type": "client_credentials"},
            headers={
                "User-Agent": options.user_agent,
                "Authorization": "Basic " + basic,
            },
        )

    def parse_auth(self, body: bytes, *, now: datetime) -> dict[str, Any]:
        """Return the bearer token and when it expires."""
        data = load_json(body, source="reddit", url="access_token")
        if not isinstance(data, dict) or not isinstance(data.get("access_token"), str):
            raise ParseError("reddit: the token response has no access_token")
        lifetime = count(data.get("expires_in")) or 3600
        return {"access_token": data["access_token"], "expires_at": now.timestamp() + lifetime}

    def build_request(self, state: FeedState) -> httpx.Request:
        """Return the GET of a listing page (`after` = the previous page's last fullname)."""
        options = options_of(state)
        params: dict[str, Any] = {
            "limit": options.page_size or 100,
            "raw_json": 1,
            "after": state.page,
        }
        if options.query:
            params.update(q=options.query, sort="new", type="link")
            if options.subreddit:
                params["restrict_sr"] = "on"
        return get_request(
            state.url.split("?", 1)[0],
            params=params,
            **{
                "User-Agent": options.user_agent,
                "Authorization": f"bearer {state.auth.get('access_token', '')}",
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
        """Return the posts and comments of one Listing, newest fullname as the cursor."""
        listing = load_document(body, dict, what="listing", source="reddit", url=url)
        data = expect(listing.get("data"), dict, what="listing.data", source="reddit", url=url)
        children = expect(data.get("children"), list, what="children", source="reddit", url=url)
        state = state or FeedState(url=url)
        posts: list[Post] = []
        names: list[str] = []
        reached = False
        stored_key = fullname_key(state.cursor) if state.cursor else None
        for child in children:
            thing = child.get("data") if isinstance(child, dict) else None
            if not isinstance(thing, dict):
                continue
            name = text_of(thing.get("name"))
            if not name:
                continue
            names.append(name)
            key = fullname_key(name)
            if stored_key and key[0] == stored_key[0] and key[1] <= stored_key[1]:
                reached = True
            title = clean_text(text_of(thing.get("title")))
            body_text = html_to_text(text_of(thing.get("selftext")) or text_of(thing.get("body")))
            flags: tuple[str, ...] = ()
            if body_text in ("[removed]", "[deleted]") or thing.get("author") == "[deleted]":
                flags += ("deleted",)
                body_text = ""
            text = f"{title}\n{body_text}".strip() if title else body_text
            if not text:
                continue
            published, time_flags = post_time(thing.get("created_utc"), fetched_at=fetched_at)
            if thing.get("edited"):
                flags += ("edited",)
            parent = text_of(thing.get("crosspost_parent")) or None
            permalink = text_of(thing.get("permalink"))
            posts.append(
                Post(
                    network=self.network,
                    external_id=name,
                    text=text,
                    published_at=published,
                    url=f"https://www.reddit.com{permalink}" if permalink else None,
                    author=text_of(thing.get("author")) or None,
                    lang=None,
                    flags=(*time_flags, *flags, *(("repost",) if parent else ())),
                    raw=thing,
                    likes=count(thing.get("score")),
                    replies=count(thing.get("num_comments")),
                    repost_of=parent,
                )
            )
        candidates = [n for n in (*names, state.pending) if n]
        cursor = max(candidates, key=fullname_key) if candidates else None
        return Page(
            posts=posts,
            next_cursor=cursor,
            next_page=text_of(data.get("after")) or None,
            reached_known=reached,
        )
