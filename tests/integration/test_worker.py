"""End to end with real processes: a Celery worker and beat on real Redis, storing in real
PostgreSQL, polling a feed server on 127.0.0.1, flag a spike; on a stored timeline they name a
raised level as a `level` alert."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from monitor.runtime import Runtime
from monitor.storage import queries
from monitor.storage.engine import make_engine, make_session_factory, session_scope
from monitor.storage.migrate import upgrade
from monitor.storage.tables import AlertRow, Feed, MentionRow, TimelineBucket
from monitor.timeline import bucket_start
from tests.conftest import REPO, FeedServer, Route, make_settings, rfc822, rss, write_config
from tests.processes import processes_env, start_beat, start_worker, stop, wait_for
from tests.series import bursty_series, poisson

pytestmark = pytest.mark.integration


def spike_feed(now: datetime) -> tuple[bytes, int]:
    """Return a feed with 4 h of quiet history (one post every 10 min) and a burst of 30 posts
    in the current bucket, and the number of love-letter posts in it."""
    items = []
    for index in range(24):
        items.append(
            {
                "guid": f"tag:fixture,2024:base-{index}",
                "title": f"Still thinking about Taehyung's Love Letter ({index})",
                "pubDate": rfc822(now - timedelta(minutes=10 * (index + 1))),
            }
        )
    for index in range(30):
        items.append(
            {
                "guid": f"tag:fixture,2024:burst-{index}",
                "title": f"V singing Love Letter in the IU behind the scenes video!! {index} 😭",
                "description": "<p>the <b>LWA</b> behind-the-scenes is out</p>",
                "pubDate": rfc822(now),
            }
        )
    return rss(items), len(items)


@pytest.fixture
def spike_setup(
    tmp_path: Path, postgres_url: str, redis_url: str, feed_server: FeedServer
) -> Iterator[dict[str, object]]:
    now = datetime.now(UTC)
    body, expected = spike_feed(now)
    feed_server.routes["/fans.xml"] = Route(body=body)
    config = write_config(
        tmp_path / "monitor.toml",
        feeds=[
            {
                "name": "fans",
                "kind": "rss",
                "url": feed_server.url("/fans.xml"),
                "interval_seconds": 10,
            }
        ],
    )
    text = config.read_text()
    faster = text.replace("interval_seconds = 60 ", "interval_seconds = 5 ", 1)
    assert faster != text
    config.write_text(faster)
    engine = make_engine(postgres_url)
    upgrade(engine)
    yield {
        "env": processes_env(tmp_path, config, postgres_url, redis_url),
        "sessions": make_session_factory(engine),
        "expected": expected,
    }
    engine.dispose()


def test_worker_and_beat_poll_store_and_flag_a_spike(
    tmp_path: Path, spike_setup: dict[str, object], feed_server: FeedServer
) -> None:
    env, sessions, expected = spike_setup["env"], spike_setup["sessions"], spike_setup["expected"]
    worker = start_worker(env, tmp_path / "worker.log", name="test")
    beat = start_beat(env, tmp_path / "beat.log", tmp_path / "beat")
    try:

        def stored() -> int:
            with sessions() as session:
                return session.scalar(select(func.count(MentionRow.id))) or 0

        def alert() -> AlertRow | None:
            with sessions() as session:
                return session.scalar(select(AlertRow))

        assert wait_for(lambda: stored() >= expected, timeout=60, processes=[worker, beat]), (
            tmp_path / "worker.log"
        ).read_text()[-3000:]
        assert wait_for(lambda: alert() is not None, timeout=30, processes=[worker, beat]), (
            tmp_path / "worker.log"
        ).read_text()[-3000:]
        found = alert()
        assert found.kind == "spike" and found.status == "open"
        assert found.peak_count >= 10 and found.expected < 3
        assert found.samples and "Love Letter" in found.samples[0]["text"]
        # Several more polls of the same feed (every 10 s) change no count.
        polls_before = feed_server.hits("/fans.xml")
        assert wait_for(
            lambda: feed_server.hits("/fans.xml") >= polls_before + 1,
            timeout=30,
            processes=[worker, beat],
        )
        with sessions() as session:
            assert session.scalar(select(func.count(MentionRow.id))) == expected
            assert session.scalar(select(func.sum(TimelineBucket.count))) == expected
            assert session.scalar(select(func.count(AlertRow.id))) == 1
            feed = session.scalar(select(Feed))
            assert feed.consecutive_failures == 0 and feed.last_success_at is not None
    finally:
        stop(beat)
        stop(worker)


def test_worker_and_beat_raise_a_level_alert_for_a_raised_level(
    tmp_path: Path, postgres_url: str, redis_url: str
) -> None:
    """Fifteen days of a bursty topic's counts, the last two and a half hours at three times
    the usual rate, stored as the pipeline's counters would have them: the beat-driven
    detection run of a topic with `alerts = ["spike", "level"]` opens a `level` alert, and
    the spike kind, whose bar the topic's bursts set, stays silent."""
    width = timedelta(minutes=5)
    config = write_config(tmp_path / "monitor.toml", feeds=[])
    text = config.read_text()
    levels = text.replace('alerts = ["spike"]', 'alerts = ["spike", "level"]', 1)
    levels = levels.replace("interval_seconds = 60 ", "interval_seconds = 5 ", 1)
    assert levels.count('"level"') == 1 and "interval_seconds = 5 " in levels
    config.write_text(levels)
    engine = make_engine(postgres_url)
    upgrade(engine)
    filling = bucket_start(datetime.now(UTC), width)
    values = [*bursty_series(15, seed=3), 0]  # the last one is the filling bucket
    raised_from = len(values) - 31
    for index in range(raised_from, len(values)):  # 2.5 hours and the filling bucket
        values[index] = poisson(random.Random(index), 60.0)
    first = filling - (len(values) - 1) * width
    runtime = Runtime.start(make_settings(tmp_path, config, postgres_url))  # syncs the topics
    try:
        with session_scope(runtime.sessions) as session:
            topic_id = queries.get_topic_id(session, "love-letter")
            session.add_all(
                TimelineBucket(topic_id=topic_id, bucket_start=first + i * width, count=count)
                for i, count in enumerate(values)
            )
    finally:
        runtime.close()
    sessions = make_session_factory(engine)
    env = processes_env(tmp_path, config, postgres_url, redis_url)
    worker = start_worker(env, tmp_path / "worker.log", name="level")
    beat = start_beat(env, tmp_path / "beat.log", tmp_path / "beat")
    try:

        def level_alert() -> AlertRow | None:
            with sessions() as session:
                return session.scalar(select(AlertRow).where(AlertRow.kind == "level"))

        assert wait_for(lambda: level_alert() is not None, timeout=90, processes=[worker, beat]), (
            tmp_path / "worker.log"
        ).read_text()[-3000:]
        found = level_alert()
        assert found.topic_id == topic_id and found.status == "open"
        assert found.opened_bucket >= first + raised_from * width
        assert found.expected == pytest.approx(20, rel=0.3)  # the usual rate, per bucket
        assert found.peak_count > 2 * found.expected
        runs = (tmp_path / "worker.log").read_text().count("monitor.detect_spikes[")
        assert wait_for(  # two more detection runs (received and succeeded lines)
            lambda: (
                (tmp_path / "worker.log").read_text().count("monitor.detect_spikes[") >= runs + 4
            ),
            timeout=30,
            processes=[worker, beat],
        )
        with sessions() as session:
            kinds = list(session.scalars(select(AlertRow.kind)))
        assert kinds == ["level"]
    finally:
        stop(beat)
        stop(worker)
        engine.dispose()


def test_worker_refuses_to_start_on_an_unmigrated_database(
    tmp_path: Path, postgres_url: str, redis_url: str, feed_server: FeedServer
) -> None:
    config = write_config(
        tmp_path / "monitor.toml",
        feeds=[{"name": "fans", "kind": "rss", "url": feed_server.url("/fans.xml")}],
    )
    env = processes_env(tmp_path, config, postgres_url, redis_url)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "workers.app",
            "worker",
            "--loglevel=INFO",
            "--concurrency=1",
            "--without-mingle",
            "--without-gossip",
        ],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "monitor db upgrade" in result.stdout + result.stderr


def test_cli_reads_what_the_pipeline_stored(tmp_path: Path, spike_setup: dict[str, object]) -> None:
    env = spike_setup["env"]
    poll = subprocess.run(
        [sys.executable, "-m", "monitor", "poll", "--once"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert poll.returncode == 0, poll.stderr
    alerts = subprocess.run(
        [sys.executable, "-m", "monitor", "alerts", "--format", "json"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert alerts.returncode == 0, alerts.stderr
    records = json.loads(alerts.stdout)
    assert [r["topic"] for r in records] == ["love-letter"]
    history = subprocess.run(
        [
            sys.executable,
            "-m",
            "monitor",
            "history",
            "love-letter",
            "--since",
            "30d",
            "--bucket",
            "1h",
            "--format",
            "json",
        ],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert history.returncode == 0, history.stderr
    data = json.loads(history.stdout)
    assert data["bucket"] == "1h"
    assert data["total"] == spike_setup["expected"]
    assert sum(b["count"] for b in data["buckets"]) == spike_setup["expected"]
    csv_out = subprocess.run(
        [
            sys.executable,
            "-m",
            "monitor",
            "history",
            "love-letter",
            "--since",
            "1d",
            "--format",
            "csv",
        ],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = csv_out.stdout.strip().splitlines()
    assert lines[0].startswith("start,count,scored,mean_compound")
    assert sum(int(line.split(",")[1]) for line in lines[1:]) == spike_setup["expected"]
