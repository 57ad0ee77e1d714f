"""Poll -> match -> score -> store against real HTTP servers on 127.0.0.1, on SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from monitor import pipeline
from monitor.runtime import Runtime
from monitor.storage.engine import make_engine, session_scope
from monitor.storage.migrate import upgrade
from monitor.storage.tables import Feed, MentionRow, PostRow, TimelineBucket
from tests.conftest import FeedServer, Route, free_port, make_settings, rfc822, rss, write_config

NOW = datetime.now(UTC).replace(microsecond=0)


def fan_items(count: int, *, start: datetime, prefix: str = "p") -> list[dict[str, str]]:
    texts = [
        "V singing Love Letter in the Love wins all behind the scenes 😭💜 I am not okay",
        "Taehyung's Love Letter cover is so beautiful, thank you IU",
        "Why is the Love Letter clip from BTS V so short? disappointed",
        "IU Love wins all MV behind the scenes with V is out",
    ]
    return [
        {
            "guid": f"tag:fixture,2024:{prefix}{index}",
            "title": texts[index % len(texts)],
            "description": f"<p>{texts[index % len(texts)]} #{index}</p>",
            "pubDate": rfc822(start + timedelta(minutes=index)),
            "link": f"http://127.0.0.1/posts/{prefix}{index}",
        }
        for index in range(count)
    ]


def start_runtime(tmp_path: Path, database_url: str, feeds: list[dict[str, object]]) -> Runtime:
    config = write_config(tmp_path / "monitor.toml", feeds=feeds)
    settings = make_settings(tmp_path, config, database_url)
    engine = make_engine(database_url)
    upgrade(engine)
    engine.dispose()
    return Runtime.start(settings)


def counts(runtime: Runtime) -> dict[str, int]:
    with session_scope(runtime.sessions) as session:
        return {
            "posts": session.scalar(select(func.count(PostRow.id))) or 0,
            "mentions": session.scalar(select(func.count(MentionRow.id))) or 0,
            "bucket_sum": session.scalar(select(func.coalesce(func.sum(TimelineBucket.count), 0))),
            "sentiment_sum": round(
                session.scalar(select(func.coalesce(func.sum(TimelineBucket.sentiment_sum), 0.0))),
                6,
            ),
            "mention_sentiment": round(
                session.scalar(select(func.coalesce(func.sum(MentionRow.compound), 0.0))), 6
            ),
        }


def feed_row(runtime: Runtime, name: str) -> Feed:
    with session_scope(runtime.sessions) as session:
        return session.scalar(select(Feed).where(Feed.name == name))


def poll(runtime: Runtime, name: str, *, now: datetime = NOW) -> pipeline.PollOutcome:
    return pipeline.poll_feed(runtime, feed_row(runtime, name).id, now=now)


def test_polling_the_same_feed_twice_changes_no_count(
    tmp_path: Path, database_url: str, feed_server: FeedServer
) -> None:
    items = fan_items(12, start=NOW - timedelta(hours=2))
    feed_server.routes["/feed.xml"] = Route(body=rss(items))
    runtime = start_runtime(
        tmp_path,
        database_url,
        [{"name": "fans", "kind": "rss", "url": feed_server.url("/feed.xml")}],
    )
    first = poll(runtime, "fans")
    assert first.status == "stored"
    assert first.new_posts == 12
    after_first = counts(runtime)
    # Of every 4 texts, 3 mention love-letter and 2 love-wins-all (the first mentions both).
    assert after_first["posts"] == 12
    assert after_first["mentions"] == 12 // 4 * 5
    assert after_first["bucket_sum"] == after_first["mentions"]
    assert after_first["sentiment_sum"] == after_first["mention_sentiment"]

    second = poll(runtime, "fans", now=NOW + timedelta(minutes=1))
    assert second.status == "stored"
    assert (second.new_posts, second.new_mentions) == (0, 0)
    assert counts(runtime) == after_first
    # Fetched counts every parsed post of every poll; stored only the new ones.
    row = feed_row(runtime, "fans")
    assert (row.posts_fetched, row.posts_stored) == (24, 12)

    # A page that overlaps the stored one adds only the genuinely new posts.
    feed_server.routes["/feed.xml"] = Route(body=rss(items + fan_items(4, start=NOW, prefix="q")))
    third = poll(runtime, "fans", now=NOW + timedelta(minutes=2))
    assert third.new_posts == 4
    assert counts(runtime)["posts"] == 16
    assert counts(runtime)["bucket_sum"] == counts(runtime)["mentions"]
    runtime.close()


def test_conditional_get_sends_validators_and_304_stores_nothing(
    tmp_path: Path, database_url: str, feed_server: FeedServer
) -> None:
    feed_server.routes["/etag.xml"] = Route(
        body=rss(fan_items(4, start=NOW - timedelta(hours=1))),
        etag='"v1"',
        headers={"Last-Modified": "Wed, 24 Jan 2024 10:00:00 GMT"},
    )
    runtime = start_runtime(
        tmp_path,
        database_url,
        [{"name": "etag", "kind": "rss", "url": feed_server.url("/etag.xml")}],
    )
    assert poll(runtime, "etag").status == "stored"
    stored = counts(runtime)
    row = feed_row(runtime, "etag")
    assert (row.etag, row.last_modified) == ('"v1"', "Wed, 24 Jan 2024 10:00:00 GMT")
    outcome = poll(runtime, "etag", now=NOW + timedelta(minutes=10))
    assert outcome.status == "not-modified"
    _, headers = feed_server.requests[-1]
    assert headers["if-none-match"] == '"v1"'
    assert headers["if-modified-since"] == "Wed, 24 Jan 2024 10:00:00 GMT"
    assert counts(runtime) == stored
    assert feed_row(runtime, "etag").last_success_at == NOW + timedelta(minutes=10)
    runtime.close()


def test_timeline_uses_event_time_not_fetch_time(
    tmp_path: Path, database_url: str, feed_server: FeedServer
) -> None:
    published = datetime(2024, 1, 24, 9, 7, tzinfo=UTC)
    feed_server.routes["/old.xml"] = Route(
        body=rss(
            [
                {
                    "guid": "tag:fixture:old",
                    "title": "V sings Love Letter in IU's behind the scenes video",
                    "pubDate": rfc822(published),
                }
            ]
        )
    )
    runtime = start_runtime(
        tmp_path, database_url, [{"name": "old", "kind": "rss", "url": feed_server.url("/old.xml")}]
    )
    poll(runtime, "old")
    with session_scope(runtime.sessions) as session:
        buckets = [row.bucket_start for row in session.scalars(select(TimelineBucket))]
    assert buckets == [datetime(2024, 1, 24, 9, 5, tzinfo=UTC)]
    runtime.close()


BAD_ROUTES = {
    "/500.xml": Route(status=500, body=b"oops", content_type="text/plain"),
    "/html.xml": Route(
        body=b"<html><body><h1>Please log in</h1></body></html>", content_type="text/html"
    ),
    "/malformed.xml": Route(
        body=b"<rss version='2.0'><channel><item><title>V Love Let", content_type="application/xml"
    ),
    "/huge.xml": Route(body=b"<rss>" + b" " * (2 * 1024 * 1024) + b"</rss>"),
    "/429.xml": Route(status=429, headers={"Retry-After": "120"}, content_type="text/plain"),
}


@pytest.mark.parametrize("path", sorted(BAD_ROUTES))
def test_a_bad_feed_is_recorded_and_the_others_keep_going(
    tmp_path: Path, database_url: str, feed_server: FeedServer, path: str
) -> None:
    feed_server.routes[path] = BAD_ROUTES[path]
    feed_server.routes["/good.xml"] = Route(body=rss(fan_items(4, start=NOW - timedelta(hours=1))))
    runtime = start_runtime(
        tmp_path,
        database_url,
        [
            {"name": "bad", "kind": "rss", "url": feed_server.url(path)},
            {"name": "good", "kind": "rss", "url": feed_server.url("/good.xml")},
        ],
    )
    # A small cap so the oversize case is cheap to serve.
    runtime.config = runtime.config.model_copy(
        update={"fetch": runtime.config.fetch.model_copy(update={"max_body_bytes": 1024 * 1024})}
    )
    outcomes = {o.feed_name: o for o in (poll(runtime, "bad"), poll(runtime, "good"))}
    good = outcomes["good"]
    assert good.status == "stored" and good.new_posts == 4
    bad = feed_row(runtime, "bad")
    if path == "/malformed.xml":
        # feedparser's loose parser recovers what it can; nothing is lost, nothing crashes.
        assert outcomes["bad"].status in ("stored", "failed")
    else:
        assert outcomes["bad"].status == "failed"
        assert bad.consecutive_failures == 1
        assert bad.last_error and len(bad.last_error) > 10
        assert bad.next_poll_at > NOW
        assert bad.etag is None and bad.last_success_at is None
    if path == "/429.xml":
        assert "RateLimitedError" in bad.last_error
        assert bad.next_poll_at >= NOW + timedelta(seconds=120)
    if path == "/huge.xml":
        assert "ResponseTooLargeError" in bad.last_error
    if path == "/html.xml":
        assert "ParseError" in bad.last_error
    assert counts(runtime)["posts"] == 4
    runtime.close()


def test_unreachable_feed_is_recorded_and_recovers(
    tmp_path: Path, database_url: str, feed_server: FeedServer
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/feed.xml"
    runtime = start_runtime(tmp_path, database_url, [{"name": "dead", "kind": "rss", "url": dead}])
    first = poll(runtime, "dead")
    second = poll(runtime, "dead", now=NOW + timedelta(minutes=30))
    assert (first.status, second.status) == ("failed", "failed")
    row = feed_row(runtime, "dead")
    assert row.consecutive_failures == 2
    assert "ConnectError" in row.last_error
    # Backoff: the second failure waits twice the interval, plus up to a quarter of jitter.
    second_at = NOW + timedelta(minutes=30)
    assert second_at + timedelta(seconds=600) <= row.next_poll_at
    assert row.next_poll_at <= second_at + timedelta(seconds=750)
    runtime.close()


def test_gzip_responses_are_decoded(
    tmp_path: Path, database_url: str, feed_server: FeedServer
) -> None:
    feed_server.routes["/gz.xml"] = Route(
        body=rss(fan_items(8, start=NOW - timedelta(hours=1))), gzip=True
    )
    runtime = start_runtime(
        tmp_path, database_url, [{"name": "gz", "kind": "rss", "url": feed_server.url("/gz.xml")}]
    )
    assert poll(runtime, "gz").new_posts == 8
    runtime.close()


def test_nul_and_control_characters_are_stored_the_same_on_both_databases(
    tmp_path: Path, database_url: str, feed_server: FeedServer
) -> None:
    body = rss(
        [
            {
                "guid": "tag:x:nul",
                "title": "V Love Letter &#1;ctl",
                "description": "IU behind the scenes",
                "pubDate": rfc822(NOW),
            }
        ]
    ).replace(b"&amp;#1;", "\u0001".encode())
    feed_server.routes["/ctl.xml"] = Route(body=body)
    runtime = start_runtime(
        tmp_path, database_url, [{"name": "ctl", "kind": "rss", "url": feed_server.url("/ctl.xml")}]
    )
    poll(runtime, "ctl")
    with session_scope(runtime.sessions) as session:
        texts = list(session.scalars(select(PostRow.text)))
    assert len(texts) == 1
    assert "\x01" not in texts[0] and "Love Letter" in texts[0]
    runtime.close()


def test_a_fetched_poll_crosses_the_queue_and_stores_once(
    tmp_path: Path, database_url: str, feed_server: FeedServer
) -> None:
    """The polling half's message, through JSON, stores exactly what one process would; the
    same message stored twice (a redelivery) changes nothing."""
    import json

    feed_server.routes["/feed.xml"] = Route(
        body=rss(fan_items(8, start=NOW - timedelta(hours=1))), etag='"v1"'
    )
    runtime = start_runtime(
        tmp_path,
        database_url,
        [{"name": "fans", "kind": "rss", "url": feed_server.url("/feed.xml")}],
    )
    fetched = pipeline.fetch_poll(runtime, feed_row(runtime, "fans").id, now=NOW)
    assert isinstance(fetched, pipeline.FetchedPoll)
    # Nothing but the claim is written by the polling half.
    assert counts(runtime)["posts"] == 0
    message = json.loads(json.dumps(fetched.to_message()))
    assert pipeline.FetchedPoll.from_message(message) == fetched
    first = pipeline.store_poll(runtime, pipeline.FetchedPoll.from_message(message))
    assert (first.new_posts, first.new_mentions) == (8, 10)
    stored = counts(runtime)
    again = pipeline.store_poll(runtime, pipeline.FetchedPoll.from_message(message))
    assert (again.new_posts, again.new_mentions) == (0, 0)
    assert counts(runtime) == stored
    row = feed_row(runtime, "fans")
    assert row.etag == '"v1"' and row.lease_until is None
    assert (row.posts_fetched, row.posts_stored) == (8, 8)  # the redelivery counted nothing
    runtime.close()


def test_a_poll_overtaken_by_a_later_claim_keeps_its_posts_but_not_the_feed_state(
    tmp_path: Path, database_url: str, feed_server: FeedServer
) -> None:
    feed_server.routes["/feed.xml"] = Route(
        body=rss(fan_items(4, start=NOW - timedelta(hours=1), prefix="old")), etag='"old"'
    )
    runtime = start_runtime(
        tmp_path,
        database_url,
        [{"name": "fans", "kind": "rss", "url": feed_server.url("/feed.xml")}],
    )
    feed_id = feed_row(runtime, "fans").id
    slow = pipeline.fetch_poll(runtime, feed_id, now=NOW)
    # Its storing waits in the queue past the lease; a later poll claims the feed again.
    later = NOW + timedelta(seconds=runtime.config.worker.poll_lease_seconds + 1)
    feed_server.routes["/feed.xml"] = Route(
        body=rss(fan_items(4, start=NOW, prefix="new")), etag='"new"'
    )
    fresh = pipeline.fetch_poll(runtime, feed_id, now=later)
    assert isinstance(slow, pipeline.FetchedPoll) and isinstance(fresh, pipeline.FetchedPoll)
    pipeline.store_poll(runtime, fresh)
    pipeline.store_poll(runtime, slow)
    row = feed_row(runtime, "fans")
    assert row.etag == '"new"'  # the older poll's validators do not win
    assert row.last_success_at == later
    assert counts(runtime)["posts"] == 8  # but its posts are kept
    runtime.close()
