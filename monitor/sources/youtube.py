"""YouTube comments of one video (Data API v3 `commentThreads.list`), plus its statistics.

Options (config `[[feeds]]` with `kind = "youtube"`): `video_id`, `token_env` (environment
variable with an API key), `page_size` (max 100), `max_pages_per_poll`, `backfill_posts`,
`api_base` (default https://www.googleapis.com/youtube/v3).

Comments are read newest first (`order=time`) and paging stops at the first stored comment
or one older than the stored newest time. Each request costs one quota unit, counted on the
feed. Each poll also records the video's view/like/comment counts (`videos.list`, one unit)
as a cheap leading signal (`monitor feeds --format json` and the `video_stats` table).
Channel upload feeds need no key: use an `rss` feed on
https://www.youtube.com/feeds/videos.xml?channel_id=UC... (their 404/500 waves are retried
with backoff like any failure; raise `alert_after_failures` for them).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

import httpx

from monitor.model import Post
from monitor.sources.base import FeedState, Page
from monitor.sources.jsonapi import (
    count,
    expect,
    get_request,
    load_document,
    options_of,
    parse_time,
    post_time,
    text_of,
)
from monitor.text import clean_text, html_to_text

DEFAULT_API = "https://www.googleapis.com/youtube/v3"


def _parse_statistics(body: bytes, *, url: str) -> dict[str, int | None]:
    """Return the view/like/comment counts of a `videos.list?part=statistics` response."""
    data = load_document(body, dict, what="response", source="youtube", url=url)
    items = expect(data.get("items"), list, what="items", source="youtube", url=url)
    stats = items[0].get("statistics") if items and isinstance(items[0], dict) else None
    stats = stats if isinstance(stats, dict) else {}
    return {
        "view_count": count(stats.get("viewCount")),
        "like_count": count(stats.get("likeCount")),
        "comment_count": count(stats.get("commentCount")),
    }


class YouTubeCommentsSource:
    """Comment threads of one video, newest first; id = "yt:comment:" + comment id."""

    kind: ClassVar[str] = "youtube"
    network: ClassVar[str] = "youtube"

    def _base(self, state: FeedState) -> str:
        return options_of(state).api_base or DEFAULT_API

    def build_request(self, state: FeedState) -> httpx.Request:
        """Return the GET of one page of comment threads."""
        options = options_of(state)
        return get_request(
            f"{self._base(state)}/commentThreads",
            params={
                "part": "snippet",
                "videoId": options.video_id,
                "order": "time",
                "maxResults": options.page_size or 100,
                "textFormat": "plainText",
                "pageToken": state.page,
                "key": state.secrets.get("token"),
            },
        )

    def statistics_request(self, state: FeedState) -> httpx.Request:
        """Return the GET of the video's statistics (one quota unit)."""
        return get_request(
            f"{self._base(state)}/videos",
            params={
                "part": "statistics",
                "id": options_of(state).video_id,
                "key": state.secrets.get("token"),
            },
        )

    def parse_statistics(self, body: bytes, *, url: str) -> dict[str, int | None]:
        """Return the view/like/comment counts of a `videos.list?part=statistics` response."""
        return _parse_statistics(body, url=url)

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
        """Return the top-level comments of one page; the cursor is the newest comment time."""
        data = load_document(body, dict, what="response", source="youtube", url=url)
        items = expect(data.get("items"), list, what="items", source="youtube", url=url)
        state = state or FeedState(url=url)
        stored_time = parse_time(state.cursor)
        newest = parse_time(state.pending)
        posts: list[Post] = []
        reached = False
        for item in items:
            snippet: Any = item.get("snippet") if isinstance(item, dict) else None
            top = snippet.get("topLevelComment") if isinstance(snippet, dict) else None
            inner = top.get("snippet") if isinstance(top, dict) else None
            if not isinstance(inner, dict) or not text_of(top.get("id")):
                continue
            text = clean_text(text_of(inner.get("textOriginal"))) or html_to_text(
                text_of(inner.get("textDisplay"))
            )
            if not text:
                continue
            published, flags = post_time(inner.get("publishedAt"), fetched_at=fetched_at)
            if inner.get("updatedAt") and inner.get("updatedAt") != inner.get("publishedAt"):
                flags += ("edited",)
            video = text_of(snippet.get("videoId")) or text_of(inner.get("videoId"))
            comment_id = text_of(top.get("id"))
            posts.append(
                Post(
                    network=self.network,
                    external_id=f"yt:comment:{comment_id}"[:512],
                    text=text,
                    published_at=published,
                    url=f"https://www.youtube.com/watch?v={video}&lc={comment_id}"
                    if video
                    else None,
                    author=clean_text(text_of(inner.get("authorDisplayName"))) or None,
                    flags=flags,
                    raw=item,
                    likes=count(inner.get("likeCount")),
                    replies=count(snippet.get("totalReplyCount")),
                )
            )
            if newest is None or published > newest:
                newest = published
            if stored_time is not None and published < stored_time:
                reached = True
        return Page(
            posts=posts,
            next_cursor=newest.isoformat() if newest else None,
            next_page=text_of(data.get("nextPageToken")) or None,
            reached_known=reached,
            metered_units=1,
        )
