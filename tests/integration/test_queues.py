"""The three Celery queues with real processes: a poller busy on a slow network does not hold
up spike detection, which runs in a worker of its own (the compose `detector` service)."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from monitor import pipeline
from monitor.demo import with_table_setting
from monitor.model import Post
from monitor.runtime import Runtime
from monitor.storage import queries
from monitor.storage.engine import make_engine, session_scope
from monitor.storage.migrate import upgrade
from monitor.storage.tables import AlertRow, Feed
from tests.conftest import FeedServer, Route, make_settings, rfc822, rss, write_config
from tests.processes import CELERY, processes_env, start, start_beat, stop, wait_for
from workers.app import DETECTION_QUEUE, POLLING_QUEUE, STORING_QUEUE

pytestmark = pytest.mark.integration

SLOW_FEEDS = 3
SLOW_SECONDS = 30  # each slow feed answers after this long: the poller is busy for minutes


def queue_worker(
    env: dict[str, str], log: Path, *, queues: list[str], name: str
) -> subprocess.Popen[bytes]:
    return start(
        [
            *CELERY,
            "worker",
            f"--queues={','.join(queues)}",
            "--loglevel=INFO",
            "--concurrency=1",
            "--without-mingle",
            "--without-gossip",
            "-n",
            f"{name}@%h",
        ],
        env,
        log,
    )


def seed_spike(runtime: Runtime, now: datetime) -> None:
    """Four quiet hours (a post every 10 min) and a burst of 30 posts in the current bucket."""
    posts = [
        Post("test", f"calm-{index}", "Still thinking about Taehyung's Love Letter", moment)
        for index in range(24)
        for moment in [now - timedelta(minutes=10 * (index + 1))]
    ]
    posts += [
        Post("test", f"burst-{index}", f"V singing Love Letter in the BTS clip!! {index}", now)
        for index in range(30)
    ]
    matched = pipeline.match_and_score(posts, runtime.matcher)
    with session_scope(runtime.sessions) as session:
        queries.store_matched_posts(
            session,
            feed_id=None,
            matched=matched,
            bucket_width=runtime.bucket_width,
            fetched_at=now,
        )


def test_detection_is_not_held_up_by_pollers_waiting_on_a_slow_network(
    tmp_path: Path, postgres_url: str, redis_url: str, feed_server: FeedServer
) -> None:
    now = datetime.now(UTC)
    item = {"guid": "tag:fixture,2024:slow", "title": "Love Letter", "pubDate": rfc822(now)}
    for index in range(SLOW_FEEDS):
        feed_server.routes[f"/slow-{index}.xml"] = Route(
            body=rss([item]), delay_seconds=SLOW_SECONDS
        )
    config = write_config(
        tmp_path / "monitor.toml",
        feeds=[
            {
                "name": f"slow-{index}",
                "kind": "rss",
                "url": feed_server.url(f"/slow-{index}.xml"),
                "interval_seconds": 10,
            }
            for index in range(SLOW_FEEDS)
        ],
    )
    text = config.read_text()
    text = text.replace("interval_seconds = 60 ", "interval_seconds = 5 ", 1)  # detection
    text = with_table_setting(text, "fetch", "read_timeout_seconds = 60")
    text = with_table_setting(text, "fetch", "deadline_seconds = 90")
    config.write_text(text)
    engine = make_engine(postgres_url)
    upgrade(engine)
    engine.dispose()
    runtime = Runtime.start(make_settings(tmp_path, config, postgres_url, redis_url))
    env = processes_env(tmp_path, config, postgres_url, redis_url)

    def slow_requests() -> int:
        return sum(feed_server.hits(f"/slow-{index}.xml") for index in range(SLOW_FEEDS))

    def polls_done() -> int:
        with runtime.sessions() as session:
            done = select(func.count(Feed.id)).where(Feed.last_success_at.is_not(None))
            return session.scalar(done) or 0

    def alerts() -> int:
        with runtime.sessions() as session:
            return session.scalar(select(func.count(AlertRow.id))) or 0

    poller = queue_worker(
        env, tmp_path / "poller.log", queues=[POLLING_QUEUE, STORING_QUEUE], name="poller"
    )
    beat = start_beat(env, tmp_path / "beat.log", tmp_path / "beat")
    detector = None
    try:
        # The only polling process is now waiting on the slow network.
        assert wait_for(lambda: slow_requests() >= 1, timeout=30, processes=[poller, beat]), (
            tmp_path / "poller.log"
        ).read_text()[-3000:]
        # The spike appears only now, so only a detection run from here on can flag it.
        seed_spike(runtime, datetime.now(UTC))
        detector = queue_worker(
            env, tmp_path / "detector.log", queues=[DETECTION_QUEUE], name="detector"
        )
        assert wait_for(lambda: alerts() == 1, timeout=25, processes=[detector, beat]), (
            tmp_path / "detector.log"
        ).read_text()[-3000:]
        # The alert opened while the first slow poll was still waiting for its answer.
        assert polls_done() == 0
        # And the polls themselves get through in the end.
        assert wait_for(lambda: polls_done() >= 1, timeout=SLOW_SECONDS + 30, processes=[poller]), (
            tmp_path / "poller.log"
        ).read_text()[-3000:]
    finally:
        if detector is not None:
            stop(detector)
        stop(beat)
        stop(poller)
        runtime.engine.dispose()
