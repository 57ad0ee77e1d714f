"""A worker killed with SIGKILL in the middle of polls, 20 times, loses nothing and counts
nothing twice: the database ends with exactly the served posts, mentions and bucket counts.

Half of the kills hit the pool child (the worker's main process forks a new one and, with
`task_reject_on_worker_lost`, the message goes back to the queue); the other half kill the
whole worker, which is then started again (its unacked message comes back after the
visibility timeout, and beat re-dispatches the feed once its lease has expired)."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from sqlalchemy import func, select

from monitor.storage.engine import make_engine, make_session_factory
from monitor.storage.migrate import upgrade
from monitor.storage.tables import Feed, MentionRow, PostRow, TimelineBucket
from tests.conftest import FeedServer, Route, rfc822, rss, write_config
from tests.faults.conftest import FAST_WORKER_LIMITS
from tests.processes import (
    children,
    kill_hard,
    kill_pid,
    processes_env,
    start_beat,
    start_worker,
    stop,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.faults]

FEEDS = 6
ITEMS_PER_FEED = 200
REVEALED_PER_REQUEST = 50
KILLS = 20


def growing_feed(feed: int, now: datetime) -> Route:
    """A feed that reveals REVEALED_PER_REQUEST more of its items on every request, so every
    poll stores new posts (and a kill interrupts real work) until all items are out."""
    items = [
        {
            "guid": f"tag:fault,2024:feed{feed}-item{index}",
            "title": f"Taehyung singing Love Letter, clip {feed}-{index} 💜",
            "description": f"<p>V and IU in the behind the scenes video, part {index}</p>",
            "pubDate": rfc822(now - timedelta(minutes=7 * index + feed)),
        }
        for index in range(ITEMS_PER_FEED)
    ]
    served = [0]

    def handle(request: BaseHTTPRequestHandler) -> None:
        served[0] += 1
        body = rss(items[: REVEALED_PER_REQUEST * served[0]])
        request.send_response(200)
        request.send_header("Content-Type", "application/rss+xml")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    return Route(handler=handle)


@pytest.fixture
def kill_setup(
    tmp_path: Path, postgres_url: str, redis_url: str, feed_server: FeedServer
) -> Iterator[dict[str, object]]:
    now = datetime.now(UTC)
    feeds = []
    for feed in range(FEEDS):
        feed_server.routes[f"/fans{feed}.xml"] = growing_feed(feed, now)
        feeds.append(
            {
                "name": f"fans{feed}",
                "kind": "rss",
                "url": feed_server.url(f"/fans{feed}.xml"),
                "interval_seconds": 10,
            }
        )
    config = write_config(tmp_path / "monitor.toml", feeds=feeds, extra=FAST_WORKER_LIMITS)
    engine = make_engine(postgres_url)
    upgrade(engine)
    yield {
        "env": processes_env(tmp_path, config, postgres_url, redis_url),
        "sessions": make_session_factory(engine),
    }
    engine.dispose()


def test_twenty_kills_mid_poll_lose_nothing_and_count_nothing_twice(
    tmp_path: Path, kill_setup: dict[str, object]
) -> None:
    env, sessions = kill_setup["env"], kill_setup["sessions"]
    rng = random.Random(20240124)
    log = tmp_path / "worker.log"
    beat = start_beat(env, tmp_path / "beat.log", tmp_path / "beat")
    worker = start_worker(env, log, name="victim", concurrency=1)

    def poll_in_flight(since: datetime) -> bool:
        # A feed claimed by a poll that started after `since` and has not finished yet.
        with sessions() as session:
            return bool(
                session.scalar(
                    select(func.count(Feed.id)).where(
                        Feed.lease_until.is_not(None), Feed.last_polled_at >= since
                    )
                )
            )

    def stored() -> int:
        with sessions() as session:
            return session.scalar(select(func.count(PostRow.id))) or 0

    kills_mid_poll = 0
    try:
        for kill in range(KILLS):
            since = datetime.now(UTC)
            if wait_for(lambda since=since: poll_in_flight(since), timeout=20, interval=0.05):
                kills_mid_poll += 1
            time.sleep(rng.uniform(0.0, 0.3))
            if kill % 2 == 0:
                pool = children(worker.pid)
                assert pool, "the worker has no pool process"
                for pid in pool:
                    kill_pid(pid)
            else:
                kill_hard(worker)
                worker = start_worker(env, log, name="victim", concurrency=1)
        # Let the last worker finish the job: every item of every feed, exactly once.
        total = FEEDS * ITEMS_PER_FEED
        assert wait_for(lambda: stored() >= total, timeout=150, processes=[worker, beat]), (
            f"{stored()} of {total} posts stored; worker log:\n{log.read_text()[-3000:]}"
        )
        # One more successful poll of every feed after that changes nothing.
        settled = datetime.now(UTC)
        assert wait_for(
            lambda: all_polled_after(sessions, settled), timeout=60, processes=[worker, beat]
        )
    finally:
        stop(worker)
        stop(beat)

    # Most kills landed while a poll held its feed, i.e. in the middle of the work.
    assert kills_mid_poll >= KILLS * 3 // 4, kills_mid_poll
    with sessions() as session:
        assert session.scalar(select(func.count(PostRow.id))) == total
        assert session.scalar(select(func.count(MentionRow.id))) == total
        assert session.scalar(select(func.sum(TimelineBucket.count))) == total
        per_bucket = dict(
            session.execute(
                select(MentionRow.bucket_start, func.count(MentionRow.id)).group_by(
                    MentionRow.bucket_start
                )
            ).all()
        )
        counters = dict(
            session.execute(select(TimelineBucket.bucket_start, TimelineBucket.count)).all()
        )
        assert counters == per_bucket
        sums = dict(
            session.execute(
                select(MentionRow.bucket_start, func.sum(MentionRow.compound)).group_by(
                    MentionRow.bucket_start
                )
            ).all()
        )
        for bucket, sentiment_sum in session.execute(
            select(TimelineBucket.bucket_start, TimelineBucket.sentiment_sum)
        ):
            assert sentiment_sum == pytest.approx(sums[bucket], abs=1e-6)


def all_polled_after(sessions, moment: datetime) -> bool:
    with sessions() as session:
        return all(
            feed.last_success_at is not None and feed.last_success_at > moment
            for feed in session.scalars(select(Feed))
        )
