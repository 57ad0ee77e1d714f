"""Live detection remembers per-topic state and judges only the buckets that completed (or
changed) since its last run; its verdicts and alerts are exactly those of a full recompute.
SQLite and PostgreSQL."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor import pipeline
from monitor.alerting import TopicJob, live_verdicts
from monitor.backtest import replay_stored
from monitor.detectors import topic_detectors, topic_policy
from monitor.episodes import judge_latest
from monitor.runtime import Runtime
from monitor.storage import alert_queries, queries
from monitor.storage.engine import make_engine, session_scope
from monitor.storage.migrate import upgrade
from monitor.storage.tables import AlertRow, DetectorState, TimelineBucket
from tests.conftest import make_settings, write_config

WIDTH = timedelta(minutes=5)
T0 = datetime(2026, 5, 1, tzinfo=UTC)
TOPIC = "love-letter"
HISTORY = 700  # buckets stored before the live runs: more than the detector's window
STEPS = 160


def counts(n: int, seed: int) -> list[int]:
    """A daily rhythm with noise, a sharp spike at bucket HISTORY + 40, a raised level from
    HISTORY + 100 and a silent hour from HISTORY + 130."""
    rng = random.Random(seed)
    values = []
    for i in range(n):
        level = 8 + 5 * math.sin(2 * math.pi * i / 288)
        value = max(0, round(rng.gauss(level, math.sqrt(level) * 1.3)))
        if i == HISTORY + 40:
            value += 90
        if HISTORY + 100 <= i < HISTORY + 110:
            value += 14
        if HISTORY + 130 <= i < HISTORY + 142:
            value = 0
        values.append(value)
    return values


@contextmanager
def started(tmp_path: Path, database_url: str) -> Iterator[Runtime]:
    config = write_config(
        tmp_path / "monitor.toml",
        feeds=[{"name": "fans", "kind": "rss", "url": "http://127.0.0.1:9/feed.xml"}],
    )
    # A one-day baseline and calibration keep the test small; the state logic is the same.
    text = config.read_text().replace(
        'alerts = ["spike"]',
        'alerts = ["spike", "drop"]\ndays = 1\ncalibration_days = 1',
        1,
    )
    config.write_text(text.replace("cooldown_minutes = 720", "cooldown_minutes = 60", 1))
    engine = make_engine(database_url)
    upgrade(engine)
    engine.dispose()
    runtime = Runtime.start(make_settings(tmp_path, config, database_url))
    try:
        yield runtime
    finally:
        runtime.close()


def put(session: Session, topic_id: int, index: int, count: int) -> None:
    """Store bucket `index`'s count (as the pipeline's counters would have it)."""
    session.merge(TimelineBucket(topic_id=topic_id, bucket_start=T0 + index * WIDTH, count=count))


def at(index: int) -> datetime:
    """A detection run 20 s into bucket `index` (bucket index - 1 is the latest complete)."""
    return T0 + index * WIDTH + timedelta(seconds=20)


def test_live_verdicts_equal_a_full_recompute_with_late_posts_and_outages(
    tmp_path: Path, database_url: str
) -> None:
    values = counts(HISTORY + STEPS + 1, seed=11)
    # A viral bucket in the remembered window: its square overflows a 32-bit integer.
    values[HISTORY - 300] = 50_000
    with started(tmp_path, database_url) as runtime:
        topic = next(t for t in runtime.config.topics if t.name == TOPIC)
        detectors = topic_detectors(runtime.config.detection, topic)
        with session_scope(runtime.sessions) as session:
            topic_id = queries.get_topic_id(session, TOPIC)
            feed_id = queries.list_feeds(session)[0].id
            for index in range(HISTORY):
                put(session, topic_id, index, values[index])
        recomputed = 0
        rng = random.Random(5)
        for step in range(STEPS):
            now_index = HISTORY + step  # the filling bucket
            with session_scope(runtime.sessions) as session:
                put(session, topic_id, now_index - 1, values[now_index - 1])
                put(session, topic_id, now_index, values[now_index] // 2)  # still filling
                if step % 9 == 4:  # a late post into a bucket judged within the hour
                    late = now_index - rng.randint(2, 8)
                    values[late] += 3
                    put(session, topic_id, late, values[late])
                if step % 23 == 7:  # ... and one into a bucket judged days ago
                    late = now_index - rng.randint(100, 500)
                    values[late] += 5
                    put(session, topic_id, late, values[late])
                if step == 60:  # a poll failed: a quarter hour is unknown
                    alert_queries.record_outage(
                        session,
                        feed_id,
                        since=T0 + (now_index - 4) * WIDTH,
                        until=T0 + (now_index - 1) * WIDTH,
                        width=WIDTH,
                    )
            for kind, detector in detectors.items():
                policy = topic_policy(runtime.config.detection, topic, detector)
                with session_scope(runtime.sessions) as session:
                    job = TopicJob(TOPIC, topic_id, kind, detector, policy, (feed_id,))
                    live = live_verdicts(
                        session, [job], width=WIDTH, now=at(now_index), min_history_buckets=36
                    )[(topic_id, kind)]
                with session_scope(runtime.sessions) as session:
                    size = detector.history_buckets(WIDTH)
                    start = at(now_index) - WIDTH * (size + 2)
                    full = judge_latest(
                        queries.load_buckets(session, topic_id, start=start, end=at(now_index + 1)),
                        detector=detector,
                        now=at(now_index),
                        width=WIDTH,
                        baseline_buckets=size,
                        min_history_buckets=36,
                        first_bucket=queries.first_bucket(session, topic_id),
                        excluded=alert_queries.outage_buckets(
                            session, [feed_id], start=start, end=at(now_index + 1)
                        ),
                    )
                assert live == full, (kind, step)
                assert len(live) == 2
                recomputed += sum(v.anomalous for v in live)
        with session_scope(runtime.sessions) as session:
            assert len(list(session.scalars(select(DetectorState)))) == len(detectors)
    # The series has events: the comparison covered anomalous verdicts too.
    assert recomputed > 0


def test_live_runs_raise_the_alerts_of_the_backtest(tmp_path: Path, database_url: str) -> None:
    values = counts(HISTORY + STEPS + 1, seed=3)
    with started(tmp_path, database_url) as runtime:
        topic = next(t for t in runtime.config.topics if t.name == TOPIC)
        settings = runtime.config.detection
        with session_scope(runtime.sessions) as session:
            topic_id = queries.get_topic_id(session, TOPIC)
            for index in range(HISTORY):
                put(session, topic_id, index, values[index])
        for step in range(STEPS):
            now_index = HISTORY + step
            with session_scope(runtime.sessions) as session:
                put(session, topic_id, now_index, values[now_index])
            pipeline.detect_spikes(runtime, now=at(now_index))
            pipeline.detect_spikes(runtime, now=at(now_index) + timedelta(seconds=60))
        live_start = T0 + HISTORY * WIDTH
        with session_scope(runtime.sessions) as session:
            rows = session.scalars(
                select(AlertRow).where(AlertRow.topic_id == topic_id).order_by(AlertRow.id)
            )
            live = [
                (row.kind, row.opened_bucket, row.resolved_bucket, row.severity)
                for row in rows
                if row.opened_bucket >= live_start
            ]
            buckets = queries.load_buckets(session, topic_id, start=T0, end=at(HISTORY + STEPS))
        for kind, detector in topic_detectors(settings, topic).items():
            _, alerts = replay_stored(
                buckets,
                detector=detector,
                policy=topic_policy(settings, topic, detector),
                width=WIDTH,
                first_bucket=T0,
                start=live_start,
                end=T0 + (HISTORY + STEPS - 1) * WIDTH,
            )
            expected = [(kind, a.opened, a.resolved, a.severity) for a in alerts]
            assert [a for a in live if a[0] == kind] == expected
    kinds = {alert[0] for alert in live}
    assert kinds == {"spike", "drop"}, live
