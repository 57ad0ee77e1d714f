"""Two beats started by mistake still send the schedule once: the second stands by behind
the leader lock and takes over when the first one dies."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import redis

from monitor.storage.engine import make_engine
from monitor.storage.migrate import upgrade
from tests.conftest import FeedServer, write_config
from tests.processes import kill_hard, processes_env, start_beat, stop, wait_for
from workers.app import POLLING_QUEUE
from workers.beat import LOCK_KEY, FileLeaderLock

pytestmark = [pytest.mark.integration, pytest.mark.faults]
TICK_SECONDS = 5  # the dispatch tick for a feed polled every 10 s


def dispatches(client: redis.Redis) -> int:
    """Return how many dispatch messages wait in their queue (no worker consumes)."""
    return sum(
        json.loads(raw)["headers"]["task"] == "monitor.dispatch_due_feeds"
        for raw in client.lrange(POLLING_QUEUE, 0, -1)
    )


def test_second_beat_stands_by_and_takes_over_when_the_first_dies(
    tmp_path: Path, postgres_url: str, redis_url: str, feed_server: FeedServer
) -> None:
    config = write_config(
        tmp_path / "monitor.toml",
        feeds=[
            {
                "name": "fans",
                "kind": "rss",
                "url": feed_server.url("/f.xml"),
                "interval_seconds": 10,
            }
        ],
    )
    engine = make_engine(postgres_url)
    upgrade(engine)
    engine.dispose()
    env = processes_env(tmp_path, config, postgres_url, redis_url)
    client = redis.Redis.from_url(redis_url)
    first_log, second_log = tmp_path / "beat1.log", tmp_path / "beat2.log"
    first = start_beat(env, first_log, tmp_path / "schedule1")
    second = None
    try:
        assert wait_for(lambda: "beat lock taken" in first_log.read_text(), timeout=30)
        second = start_beat(env, second_log, tmp_path / "schedule2")
        assert wait_for(lambda: "standing by" in second_log.read_text(), timeout=30)

        # Both running: the schedule fires at the rate of one beat, not two.
        before, started = dispatches(client), time.monotonic()
        time.sleep(4 * TICK_SECONDS)
        sent = dispatches(client) - before
        one_beat = (time.monotonic() - started) / TICK_SECONDS
        assert 1 <= sent <= one_beat + 1, (sent, one_beat)
        assert "Sending due task" not in second_log.read_text()

        # The leader crashes: the standby takes over within the lock's time to live.
        kill_hard(first)
        assert wait_for(
            lambda: "beat lock taken" in second_log.read_text(),
            timeout=3 * TICK_SECONDS + 15,
            processes=[second],
        ), second_log.read_text()[-2000:]
        after_takeover = dispatches(client)
        assert wait_for(lambda: dispatches(client) > after_takeover, timeout=3 * TICK_SECONDS)
        assert client.get(LOCK_KEY).decode().split(":")[1] == str(second.pid)
    finally:
        stop(first)
        if second is not None:
            stop(second)
    # A beat that stops cleanly gives the lock back at once.
    assert client.get(LOCK_KEY) is None


def test_file_lock_of_the_embedded_broker_admits_one_holder(tmp_path: Path) -> None:
    first, second = FileLeaderLock(tmp_path / "beat.lock"), FileLeaderLock(tmp_path / "beat.lock")
    assert first.hold()
    assert not second.hold()
    assert first.hold()  # renewing is holding
    first.release()
    assert second.hold()
    assert not first.hold()
    second.release()
