"""X (Twitter) API v2 recent search. Optional and paid: every post read is billed.

Options (config `[[feeds]]` with `kind = "x"`): `query` (X search operators, at most 512
characters; add `-is:retweet` to skip retweets at the source), `token_env` (environment
variable with an app-only bearer token), `unit_price_usd` (price per post read, e.g. 0.005:
`monitor feeds` shows posts read x price), `page_size` (10-100), `max_pages_per_poll`,
`backfill_posts`, `api_base` (default https://api.x.com).

Polling follows X's recipe: `since_id` = the `newest_id` of the previous poll's first page;
`next_token` pages within a poll with the same `since_id`. A retweet is a repost of the
tweet it references.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

import httpx

from monitor.model import Post
from monitor.sources.base import FeedState, Page
from monitor.sources.jsonapi import (
    bearer,
    count,
    expect,
    get_request,
    load_document,
    options_of,
    post_time,
    text_of,
)
from monitor.text import clean_text

DEFAULT_API = "https://api.x.com"
TWEET_FIELDS = "created_at,lang,public_metrics,author_id,referenced_tweets,conversation_id"


class XSearchSource:
    """API v2 recent search; id = tweet id; posts read are metered for the cost meter."""

    kind: ClassVar[str] = "x"
    network: ClassVar[str] = "x"

    def build_request(self, state: FeedState) -> httpx.Request:
        """Return the GET of one search page after the stored newest id."""
        options = options_of(state)
        return get_request(
            f"{options.api_base or DEFAULT_API}/2/tweets/search/recent",
            params={
                "query": options.query,
                "max_results": max(10, options.page_size or 100),
                "since_id": state.cursor,
                "next_token": state.page,
                "tweet.fields": TWEET_FIELDS,
                "expansions": "author_id,referenced_tweets.id",
                "user.fields": "username",
            },
            **bearer(state.secrets.get("token")),
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
        """Return the tweets of one page; the first page's `newest_id` is the cursor."""
        data = load_document(body, dict, what="response", source="x", url=url)
        tweets = expect(data.get("data", []), list, what="data", source="x", url=url)
        meta = data.get("meta") if isinstance(data.get("meta"), dict) else {}
        includes: Any = data.get("includes") if isinstance(data.get("includes"), dict) else {}
        users = {
            u.get("id"): text_of(u.get("username"))
            for u in includes.get("users", []) or []
            if isinstance(u, dict)
        }
        originals = {
            t.get("id"): t for t in includes.get("tweets", []) or [] if isinstance(t, dict)
        }
        state = state or FeedState(url=url)
        posts: list[Post] = []
        for tweet in tweets:
            if not isinstance(tweet, dict) or not text_of(tweet.get("id")):
                continue
            tweet_id = tweet["id"]
            retweeted = next(
                (
                    text_of(ref.get("id"))
                    for ref in tweet.get("referenced_tweets") or []
                    if isinstance(ref, dict) and ref.get("type") == "retweeted"
                ),
                None,
            )
            text = clean_text(text_of(tweet.get("text")))
            if retweeted and retweeted in originals:
                # The retweet's own text is truncated ("RT @name: ..."): use the original.
                text = clean_text(text_of(originals[retweeted].get("text"))) or text
            if not text:
                continue
            published, flags = post_time(tweet.get("created_at"), fetched_at=fetched_at)
            edits = tweet.get("edit_history_tweet_ids")
            if isinstance(edits, list) and len(edits) > 1:
                flags += ("edited",)
            metrics = tweet.get("public_metrics")
            metrics = metrics if isinstance(metrics, dict) else {}
            username = users.get(tweet.get("author_id"))
            posts.append(
                Post(
                    network=self.network,
                    external_id=tweet_id,
                    text=text,
                    published_at=published,
                    url=f"https://x.com/{username or 'i'}/status/{tweet_id}",
                    author=username or text_of(tweet.get("author_id")) or None,
                    lang=(text_of(tweet.get("lang")).lower()[:16] or None),
                    flags=(*flags, *(("repost",) if retweeted else ())),
                    raw=tweet,
                    likes=count(metrics.get("like_count")),
                    reposts=count(metrics.get("retweet_count")),
                    replies=count(metrics.get("reply_count")),
                    repost_of=retweeted,
                )
            )
        newest = text_of(meta.get("newest_id")) or None
        return Page(
            posts=posts,
            # Only the first page's newest_id: later pages are older within the same poll.
            next_cursor=newest if state.page is None else None,
            next_page=text_of(meta.get("next_token")) or None,
            metered_units=len(tweets),
        )
