"""YouTube comments (+ statistics per poll), X recent search (since_id, next_token, cost
meter), JSON Feed 1.1 and generic JSON (Hacker News shape) against 127.0.0.1 servers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from monitor import pipeline
from monitor.storage.engine import session_scope
from monitor.storage.tables import VideoStats
from tests.sources.apiserver import ApiServer, Request, Response, running_api_server
from tests.sources.fixtures import (
    FAN_TEXTS,
    NOW,
    UNRELATED,
    feed_row,
    iso,
    mention_count,
    mentioned_ids,
    start_runtime,
    stored_ids,
    stored_post,
    x_tweet,
    youtube_thread,
)


@pytest.fixture
def api() -> Iterator[ApiServer]:
    with running_api_server() as server:
        yield server


def test_youtube_comment_pages_statistics_and_quota(
    tmp_path: Path, database_url: str, api: ApiServer
) -> None:
    threads = [
        youtube_thread(4, FAN_TEXTS[0], minutes_ago=1),
        youtube_thread(3, FAN_TEXTS[2], minutes_ago=2, edited=True),
        youtube_thread(2, UNRELATED, minutes_ago=3),
        youtube_thread(1, FAN_TEXTS[5], minutes_ago=4),
    ]

    @api.route("GET", "/youtube/v3/commentThreads")
    def comments(request: Request) -> Response:
        api.check(request.query.get("key") == "yt-key-0123456789", "api key")
        api.check(request.query.get("videoId") == "LWAvideo01", "videoId")
        api.check(request.query.get("order") == "time", "order")
        api.check(request.query.get("part") == "snippet", "part")
        if request.query.get("pageToken") == "PAGE2":
            return Response(body={"items": threads[2:]}, gzip=True)
        api.check("pageToken" not in request.query, "first page has no token")
        return Response(
            body={
                "nextPageToken": "PAGE2",
                "items": threads[:2],
                "pageInfo": {"totalResults": 4, "resultsPerPage": 2},
            }
        )

    @api.route("GET", "/youtube/v3/videos")
    def videos(request: Request) -> Response:
        api.check(request.query.get("part") == "statistics", "statistics part")
        return Response(
            body={
                "items": [
                    {
                        "id": "LWAvideo01",
                        "statistics": {
                            "viewCount": "1000000",
                            "likeCount": "90000",
                            "commentCount": "5000",
                        },
                    }
                ]
            }
        )

    runtime = start_runtime(
        tmp_path,
        database_url,
        [
            {
                "name": "yt-lwa",
                "kind": "youtube",
                "video_id": "LWAvideo01",
                "token_env": "YT_KEY",
                "api_base": api.url("/youtube/v3"),
                "page_size": 2,
            }
        ],
    )
    try:
        feed_id = feed_row(runtime, "yt-lwa").id
        outcome = pipeline.poll_feed(
            runtime, feed_id, now=NOW, environ={"YT_KEY": "yt-key-0123456789"}
        )
        assert outcome.status == "stored", outcome.error
        assert api.problems == []
        assert stored_ids(runtime) == [
            "yt:comment:UgxThread1",
            "yt:comment:UgxThread3",
            "yt:comment:UgxThread4",
        ]
        assert "edited" in stored_post(runtime, "yt:comment:UgxThread3").flags
        row = feed_row(runtime, "yt-lwa")
        assert row.metered_units == 3  # two comment pages and one statistics call
        assert row.cursor == iso(NOW - timedelta(minutes=1)).replace(".000Z", "+00:00")
        with session_scope(runtime.sessions) as session:
            stats = session.scalars(select(VideoStats)).all()
            assert [(s.view_count, s.like_count, s.comment_count) for s in stats] == [
                (1_000_000, 90_000, 5_000)
            ]
        # A 500 is transient: recorded (without the key), then the next poll goes on.
        api.routes[("GET", "/youtube/v3/commentThreads")] = lambda r: Response(500, b"oops")
        failed = pipeline.poll_feed(
            runtime,
            feed_id,
            now=NOW + timedelta(minutes=5),
            environ={"YT_KEY": "yt-key-0123456789"},
        )
        assert failed.status == "failed" and "HTTP 500" in (failed.error or "")
        assert "yt-key-0123456789" not in feed_row(runtime, "yt-lwa").last_error
        assert feed_row(runtime, "yt-lwa").cursor == row.cursor
    finally:
        runtime.close()


def test_x_since_id_next_token_retweets_and_cost(tmp_path: Path, api: ApiServer) -> None:
    original = x_tweet(1, FAN_TEXTS[0], minutes_ago=9)
    retweet = x_tweet(
        3, "RT @fan: V singing Love Letter in the…", minutes_ago=2, retweet_of=original["id"]
    )
    page1 = [x_tweet(4, FAN_TEXTS[4], minutes_ago=1), retweet]
    page2 = [x_tweet(2, FAN_TEXTS[1].replace("&#39;", "'"), minutes_ago=5), original]
    newer = [x_tweet(5, FAN_TEXTS[5], minutes_ago=0)]
    users = [{"id": str(12345 + n), "username": f"army{n}", "name": "A"} for n in range(6)]

    @api.route("GET", "/2/tweets/search/recent")
    def search(request: Request) -> Response:
        api.check(request.headers.get("authorization") == "Bearer x-bearer-token-1", "bearer")
        api.check(request.query.get("query") == '"Love Letter" (V OR Taehyung)', "query")
        api.check(request.query.get("max_results") == "100", "max_results")
        if request.query.get("since_id"):
            api.check(request.query["since_id"] == page1[0]["id"], f"since_id {request.query}")
            return Response(
                body={
                    "data": newer,
                    "includes": {"users": users},
                    "meta": {"newest_id": newer[0]["id"], "result_count": 1},
                }
            )
        if request.query.get("next_token") == "tok2":
            return Response(
                body={
                    "data": page2,
                    "includes": {"users": users},
                    "meta": {"newest_id": page2[0]["id"], "result_count": 2},
                }
            )
        api.check("next_token" not in request.query, "first page")
        return Response(
            body={
                "data": page1,
                "includes": {"users": users, "tweets": [original]},
                "meta": {"newest_id": page1[0]["id"], "next_token": "tok2", "result_count": 2},
            },
            headers={"x-rate-limit-remaining": "449", "x-rate-limit-limit": "450"},
        )

    runtime = start_runtime(
        tmp_path,
        f"sqlite:///{tmp_path / 'x.db'}",
        [
            {
                "name": "x-search",
                "kind": "x",
                "query": '"Love Letter" (V OR Taehyung)',
                "token_env": "X_BEARER",
                "api_base": api.url(),
                "unit_price_usd": 0.005,
            }
        ],
    )
    env = {"X_BEARER": "x-bearer-token-1"}
    try:
        feed_id = feed_row(runtime, "x-search").id
        outcome = pipeline.poll_feed(runtime, feed_id, now=NOW, environ=env)
        assert outcome.status == "stored", outcome.error
        ids = [t["id"] for t in (*page1, *page2)]
        assert stored_ids(runtime) == sorted(ids)
        # The retweet is not a mention; the original counts once.
        assert mentioned_ids(runtime) == sorted(set(ids) - {retweet["id"]})
        assert stored_post(runtime, retweet["id"]).repost_of == original["id"]
        assert stored_post(runtime, original["id"]).url.startswith("https://x.com/army1/")
        row = feed_row(runtime, "x-search")
        assert row.cursor == page1[0]["id"] and row.metered_units == 4
        outcome = pipeline.poll_feed(runtime, feed_id, now=NOW + timedelta(minutes=15), environ=env)
        assert outcome.new_posts == 1 and feed_row(runtime, "x-search").cursor == newer[0]["id"]
        assert feed_row(runtime, "x-search").metered_units == 5
        assert api.problems == []
    finally:
        runtime.close()


def test_json_feed_and_generic_json_with_paging(tmp_path: Path, api: ApiServer) -> None:
    feed_page1 = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Fan blog",
        "language": "en",
        "next_url": api.url("/feed.json?page=2"),
        "items": [
            {
                "id": "post-2",
                "url": "https://blog.example/2",
                "content_html": "<p>Taehyung&#39;s <b>Love Letter</b> 💜</p>",
                "date_published": iso(NOW),
                "authors": [{"name": "Blogger"}],
            },
            {"id": "post-x", "content_text": UNRELATED, "date_published": iso(NOW)},
        ],
    }
    feed_page2 = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Fan blog",
        "items": [
            {
                "id": "https://blog.example/1",
                "title": "IU Love wins all",
                "content_text": "IU Love wins all MV review",
                "language": "ko",
                "date_published": iso(NOW - timedelta(days=1)),
            }
        ],
    }

    @api.route("GET", "/feed.json")
    def jsonfeed(request: Request) -> Response:
        return Response(
            body=feed_page2 if request.query.get("page") == "2" else feed_page1,
            headers={"Content-Type": "application/feed+json"},
        )

    hn = {
        "hits": [
            {
                "objectID": "41234567",
                "created_at_i": int(NOW.timestamp()),
                "author": "pg_fan",
                "title": "IU and BTS's V: Love Letter went viral",
                "url": "https://example.com/a",
                "points": 42,
                "num_comments": 17,
                "story_text": None,
            },
        ],
        "page": 0,
        "nbPages": 2,
        "next": "p1",
    }
    hn2 = {
        "hits": [
            {
                "objectID": "41234500",
                "created_at_i": int(NOW.timestamp()) - 60,
                "author": "b",
                "title": None,
                "comment_text": "<p>the Love wins all MV with IU &amp; V</p>",
            }
        ],
        "page": 1,
        "nbPages": 2,
    }

    @api.route("GET", "/api/v1/search_by_date")
    def algolia(request: Request) -> Response:
        api.check(request.query.get("query") == "Love Letter", f"query {request.query}")
        return Response(body=hn2 if request.query.get("cursor") == "p1" else hn)

    runtime = start_runtime(
        tmp_path,
        f"sqlite:///{tmp_path / 'j.db'}",
        [
            {"name": "blog", "kind": "jsonfeed", "url": api.url("/feed.json")},
            {
                "name": "hn",
                "kind": "json",
                "url": api.url("/api/v1/search_by_date?query=Love+Letter&tags=(story,comment)"),
                "mapping": {
                    "items": "hits",
                    "id": "objectID",
                    "text": "join(' ', [title || '', story_text || '', comment_text || ''])",
                    "author": "author",
                    "time": "created_at_i",
                    "url": "url",
                    "likes": "points",
                    "replies": "num_comments",
                    "next": "next",
                    "next_param": "cursor",
                },
            },
        ],
    )
    try:
        for name in ("blog", "hn"):
            outcome = pipeline.poll_feed(runtime, feed_row(runtime, name).id, now=NOW)
            assert outcome.status == "stored", outcome.error
        assert stored_ids(runtime, "jsonfeed") == [
            f"{api.url('/feed.json')}#post-2",
            "https://blog.example/1",
        ]
        blog = stored_post(runtime, f"{api.url('/feed.json')}#post-2")
        assert blog.text == "Taehyung's Love Letter 💜" and blog.author == "Blogger"
        assert stored_post(runtime, "https://blog.example/1").lang == "ko"
        assert stored_ids(runtime, "json") == ["127.0.0.1:41234500", "127.0.0.1:41234567"]
        story = stored_post(runtime, "127.0.0.1:41234567")
        assert story.likes == 42 and story.replies == 17 and story.author == "pg_fan"
        assert stored_post(runtime, "127.0.0.1:41234500").text == (
            "the Love wins all MV with IU & V"
        )
        assert api.problems == []
        # A response of the wrong shape is recorded on the feed, not a crash.
        api.routes[("GET", "/api/v1/search_by_date")] = lambda r: Response(body={"hits": 3})
        outcome = pipeline.poll_feed(
            runtime, feed_row(runtime, "hn").id, now=NOW + timedelta(hours=1)
        )
        assert outcome.status == "failed" and "not a list" in (outcome.error or "")
        before = mention_count(runtime)
        api.routes[("GET", "/feed.json")] = lambda r: Response(body=b"{not json")
        outcome = pipeline.poll_feed(
            runtime, feed_row(runtime, "blog").id, now=NOW + timedelta(hours=1)
        )
        assert outcome.status == "failed" and "not JSON" in (outcome.error or "")
        assert mention_count(runtime) == before
    finally:
        runtime.close()
