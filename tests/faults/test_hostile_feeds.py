"""Hostile feeds polled by a real worker beside a good one: each is recorded on its own feed
with a clear error, or handled as documented, and the good feed keeps being polled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from monitor.demo import with_table_setting
from monitor.storage.engine import make_engine, make_session_factory
from monitor.storage.migrate import upgrade
from monitor.storage.tables import Feed, PostRow
from tests.conftest import FeedServer, Route, rfc822, rss, write_config
from tests.hostile import drip, endless, gzip_bomb
from tests.processes import processes_env, start_beat, start_worker, stop, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.faults]

LIMITS = """
[worker]
soft_time_limit_seconds = 20
time_limit_seconds = 25
visibility_timeout_seconds = 30
"""
FETCH = {
    "read_timeout_seconds": 2,
    "deadline_seconds": 3,
    "max_body_bytes": 2 * 1024 * 1024,
    "max_entries_per_poll": 500,
}
NOW = datetime.now(UTC)


def post(guid: str, title: str, when: datetime = NOW, **extra: str) -> dict[str, str]:
    return {"guid": guid, "title": title, "pubDate": rfc822(when), **extra}


def routes(other_host: str) -> dict[str, Route]:
    flood = [
        post(f"tag:h,2024:flood-{i}", f"V Love Letter flood {i}", NOW - timedelta(seconds=i))
        for i in range(10_000)
    ]
    dates = [
        post("tag:h,2024:future", "V Love Letter from 2999", datetime(2999, 1, 1, tzinfo=UTC)),
        post("tag:h,2024:epoch", "V Love Letter from 1970", datetime(1970, 1, 2, tzinfo=UTC)),
    ]
    bad_utf8 = rss([post("tag:h,2024:utf8", "Taehyung Love Letter PLACEHOLDER")]).replace(
        b"PLACEHOLDER", b"caf\xe9 \xff\xfe"
    )
    return {
        "/malformed.xml": Route(body=b"<rss version='2.0'><channel><item><title>V Love Let"),
        "/html.xml": Route(body=b"<html><body>Sign in</body></html>", content_type="text/html"),
        "/endless.xml": Route(handler=endless),
        "/bomb.xml": Route(handler=gzip_bomb),
        "/drip.xml": Route(handler=drip),
        "/loop.xml": Route(status=302, headers={"Location": "/loop.xml"}),
        "/offhost.xml": Route(status=302, headers={"Location": f"{other_host}/admin"}),
        "/flood.xml": Route(body=rss(flood)),
        "/utf8.xml": Route(body=bad_utf8),
        "/dates.xml": Route(body=rss(dates)),
        "/dupes.xml": Route(
            body=rss(
                [
                    post(
                        "same", f"Taehyung Love Letter take {i}", link=f"http://127.0.0.1/p/{i % 2}"
                    )
                    for i in range(3)
                ]
            )
        ),
        "/bigpost.xml": Route(
            body=rss([post("tag:h,2024:big", "V Love Letter " + "so good " * 125_000)])
        ),
    }


def test_hostile_feeds_are_recorded_and_the_good_feed_keeps_going(
    tmp_path: Path,
    postgres_url: str,
    redis_url: str,
    feed_server: FeedServer,
    other_host: FeedServer,
) -> None:
    other_host.routes["/admin"] = Route(body=b"internal")
    hostile = routes(other_host.base_url)
    feed_server.routes.update(hostile)
    good = [post(f"tag:h,2024:good-{i}", f"Kim Taehyung Love Letter {i}") for i in range(30)]
    feed_server.routes["/good.xml"] = Route(body=rss(good[:10]))
    feeds = [
        {"name": path[1:].removesuffix(".xml"), "kind": "rss", "url": feed_server.url(path)}
        for path in [*hostile, "/good.xml"]
    ]
    for feed in feeds:
        feed["interval_seconds"] = 10
    config = write_config(tmp_path / "monitor.toml", feeds=feeds, extra=LIMITS)
    # Only this host: the redirect to 127.0.0.2 must be refused.
    text = with_table_setting(config.read_text(), "fetch", 'allow_networks = ["127.0.0.1/32"]')
    for key, value in FETCH.items():
        text = with_table_setting(text, "fetch", f"{key} = {value}")
    config.write_text(text)
    engine = make_engine(postgres_url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    env = processes_env(tmp_path, config, postgres_url, redis_url)
    log = tmp_path / "worker.log"
    worker = start_worker(env, log, name="hostile", concurrency=2)
    beat = start_beat(env, tmp_path / "beat.log", tmp_path / "beat")

    def feeds_by_name() -> dict[str, Feed]:
        with sessions() as session:
            return {feed.name: feed for feed in session.scalars(select(Feed))}

    def every_feed_polled() -> bool:
        rows = feeds_by_name().values()
        done = [f for f in rows if f.last_polled_at and f.lease_until is None]
        return len(done) == len(feeds)

    try:
        assert wait_for(every_feed_polled, timeout=90, processes=[worker, beat]), log.read_text()[
            -3000:
        ]
        # The good feed grows and keeps being polled while the hostile ones fail.
        feed_server.routes["/good.xml"] = Route(body=rss(good))
        good_hits = feed_server.hits("/good.xml")
        assert wait_for(
            lambda: feed_server.hits("/good.xml") >= good_hits + 2,
            timeout=60,
            processes=[worker, beat],
        )
    finally:
        stop(worker)
        stop(beat)

    feeds = feeds_by_name()
    errors = {name: feed.last_error or "" for name, feed in feeds.items()}
    assert "ParseError" in errors["html"]
    assert "ResponseTooLargeError" in errors["endless"]
    assert "ResponseTooLargeError" in errors["bomb"]
    assert "FetchTimeoutError" in errors["drip"]
    assert "redirects" in errors["loop"]
    assert "BlockedAddressError" in errors["offhost"] and other_host.hits("/admin") == 0
    for name in ("html", "endless", "bomb", "drip", "loop", "offhost"):
        assert feeds[name].consecutive_failures >= 1 and feeds[name].last_success_at is None
    # Handled as documented: the loose parser, the newest 500 of a flood per poll, dates
    # from the future clamped to the fetch time, 1970 kept (event time), repeated ids told
    # apart, invalid UTF-8 decoded, a huge post stored whole.
    assert feeds["malformed"].consecutive_failures in (0, 1)
    with sessions() as session:

        def stored(prefix: str) -> list[PostRow]:
            return list(
                session.scalars(select(PostRow).where(PostRow.external_id.like(f"{prefix}%")))
            )

        assert 500 <= len(stored("tag:h,2024:flood-")) <= 10_000
        assert len(stored("tag:h,2024:flood-")) % 500 == 0
        # The newest ones first.
        flood = {post.external_id for post in stored("tag:h,2024:flood-")}
        assert {"tag:h,2024:flood-0", "tag:h,2024:flood-499"} <= flood
        (future,) = stored("tag:h,2024:future")
        assert "date_future" in (future.flags or "") and future.published_at.year < 2999
        (epoch,) = stored("tag:h,2024:epoch")
        assert epoch.published_at.year == 1970
        assert len({p.external_id for p in stored("") if "take" in p.text}) == 3
        (utf8,) = stored("tag:h,2024:utf8")
        assert utf8.text.startswith("Taehyung Love Letter caf")
        (big,) = stored("tag:h,2024:big")
        assert len(big.text) > 900_000
        assert len(stored("tag:h,2024:good-")) == 30
    assert feeds["good"].consecutive_failures == 0
    engine.dispose()
