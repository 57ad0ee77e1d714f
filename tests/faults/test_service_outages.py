"""Outages of the services: Redis restarted without persistence while tasks are queued, and
PostgreSQL down for a minute in the middle of a poll. The worker and beat ride them out by
themselves, nothing already stored is lost, and what was missed is stored afterwards."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from celery import Celery
from sqlalchemy import func, select

from monitor.storage.engine import make_engine, make_session_factory
from monitor.storage.migrate import upgrade
from monitor.storage.tables import Feed, MentionRow, PostRow, TimelineBucket
from tests.conftest import FeedServer, Route, rfc822, rss, write_config
from tests.faults.conftest import FAST_WORKER_LIMITS, OwnPostgres, OwnRedis
from tests.processes import processes_env, start_beat, start_worker, stop, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.faults]


def fan_posts(feed: str, count: int, now: datetime) -> list[dict[str, str]]:
    return [
        {
            "guid": f"tag:outage,2024:{feed}-{index}",
            "title": f"Kim Taehyung's Love Letter cover, {feed} post {index}",
            "pubDate": rfc822(now - timedelta(minutes=3 * index)),
        }
        for index in range(count)
    ]


def counts(sessions) -> tuple[int, int, int]:
    with sessions() as session:
        return (
            session.scalar(select(func.count(PostRow.id))) or 0,
            session.scalar(select(func.count(MentionRow.id))) or 0,
            session.scalar(select(func.sum(TimelineBucket.count))) or 0,
        )


def test_worker_and_beat_reconnect_after_redis_restart(
    tmp_path: Path, postgres_url: str, own_redis: OwnRedis, feed_server: FeedServer
) -> None:
    now = datetime.now(UTC)
    posts = {name: fan_posts(name, 24, now) for name in ("a", "b")}
    for name in posts:
        feed_server.routes[f"/{name}.xml"] = Route(body=rss(posts[name][12:]))
    config = write_config(
        tmp_path / "monitor.toml",
        feeds=[
            {
                "name": name,
                "kind": "rss",
                "url": feed_server.url(f"/{name}.xml"),
                "interval_seconds": 10,
            }
            for name in posts
        ],
        extra=FAST_WORKER_LIMITS,
    )
    engine = make_engine(postgres_url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    env = processes_env(tmp_path, config, postgres_url, own_redis.url)
    log = tmp_path / "worker.log"
    worker = start_worker(env, log, name="redis-restart")
    beat = start_beat(env, tmp_path / "beat.log", tmp_path / "beat")
    try:
        assert wait_for(lambda: counts(sessions)[0] == 24, timeout=60, processes=[worker, beat])
        # Work queued in Redis that the restart will throw away.
        with sessions() as session:
            feed_ids = list(session.scalars(select(Feed.id)))
        client = Celery(broker=own_redis.url)
        for _ in range(10):
            for feed_id in feed_ids:
                client.send_task("monitor.poll_feed", args=[feed_id])
        client.close()
        own_redis.crash()
        # The fans keep posting while the broker is down.
        for name in posts:
            feed_server.routes[f"/{name}.xml"] = Route(body=rss(posts[name]))
        time.sleep(3)
        own_redis.start()
        restarted = datetime.now(UTC)
        # Same processes (no crash loop), every feed polled again, the new posts stored.
        assert wait_for(lambda: counts(sessions)[0] == 48, timeout=90, processes=[worker, beat]), (
            log.read_text()[-3000:]
        )
        with sessions() as session:
            assert all(f.last_success_at > restarted for f in session.scalars(select(Feed)))
    finally:
        stop(worker)
        stop(beat)
    assert counts(sessions) == (48, 48, 48)
    engine.dispose()
    assert "Connection to broker lost" in log.read_text()


def test_polls_fail_cleanly_while_postgres_is_down_and_catch_up_after(
    tmp_path: Path, own_postgres: OwnPostgres, redis_url: str, feed_server: FeedServer
) -> None:
    now = datetime.now(UTC)
    posts = fan_posts("pg", 30, now)
    feed_server.routes["/pg.xml"] = Route(body=rss(posts[10:]), etag='"v1"')
    config = write_config(
        tmp_path / "monitor.toml",
        feeds=[
            {"name": "pg", "kind": "rss", "url": feed_server.url("/pg.xml"), "interval_seconds": 10}
        ],
        extra=FAST_WORKER_LIMITS,
    )
    engine = make_engine(own_postgres.url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    env = processes_env(tmp_path, config, own_postgres.url, redis_url)
    log = tmp_path / "worker.log"
    worker = start_worker(env, log, name="pg-outage")
    beat = start_beat(env, tmp_path / "beat.log", tmp_path / "beat")
    try:
        assert wait_for(lambda: counts(sessions)[0] == 20, timeout=60, processes=[worker, beat])
        with sessions() as session:
            assert session.scalar(select(Feed.etag)) == '"v1"'
        # New posts, served slowly: the database goes down while a poll is fetching them.
        requests_before = feed_server.hits("/pg.xml")
        feed_server.routes["/pg.xml"] = Route(body=rss(posts), etag='"v2"', delay_seconds=2)
        assert wait_for(lambda: feed_server.hits("/pg.xml") > requests_before, timeout=30)
        engine.dispose()
        own_postgres.crash()
        down_until = time.monotonic() + 60
        while time.monotonic() < down_until:
            for process in (worker, beat):
                assert process.poll() is None, f"{process.args} exited during the outage"
            time.sleep(1)
        own_postgres.start()
        assert wait_for(lambda: counts(sessions)[0] == 30, timeout=60, processes=[worker, beat]), (
            log.read_text()[-3000:]
        )
        with sessions() as session:
            feed = session.scalar(select(Feed))
            # The validators moved only with the posts they belong to.
            assert feed.etag == '"v2"' and feed.consecutive_failures == 0
    finally:
        stop(worker)
        stop(beat)
    assert counts(sessions) == (30, 30, 30)
    engine.dispose()
    text = log.read_text()
    assert "database unavailable" in text
    # One clear line per failed task, not a traceback per attempt.
    assert "Traceback" not in text
