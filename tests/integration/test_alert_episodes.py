"""A burst stored through the pipeline opens one alert episode that explains itself and
resolves after the burst; bigger bursts inside it escalate and surge it once each; the CLI
shows, acknowledges and replays it. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from monitor import pipeline
from monitor.cli import app
from monitor.model import Post
from monitor.notify import notify_changes
from monitor.runtime import Runtime
from monitor.storage import alert_queries, queries
from monitor.storage.engine import make_engine, session_scope
from monitor.storage.migrate import upgrade
from monitor.storage.tables import AlertRow, DeliveryRow
from tests.conftest import REPO, FeedServer, Route, make_settings, write_config
from tests.integration.receivers import Receiver, receiver_fixture  # noqa: F401 - fixture

WIDTH = timedelta(minutes=5)
BURST = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)  # a bucket boundary
CALM = [
    "Still thinking about Taehyung's Love Letter",
    "V Love Letter on repeat today",
    "Love Letter by V is such a comfort song",
]


def store(runtime: Runtime, posts: list[Post], *, now: datetime) -> None:
    matched = pipeline.match_and_score(posts, runtime.matcher)
    with session_scope(runtime.sessions) as session:
        queries.store_matched_posts(
            session, feed_id=None, matched=matched, bucket_width=WIDTH, fetched_at=now
        )


def calm_posts(start: datetime, end: datetime) -> list[Post]:
    """Two posts per bucket, the same few sentences."""
    posts, moment, index = [], start, 0
    while moment < end:
        for offset in (60, 180):
            posts.append(
                Post(
                    "test",
                    f"calm-{moment:%Y%m%d%H%M}-{offset}",
                    CALM[index % 3],
                    moment + timedelta(seconds=offset),
                )
            )
            index += 1
        moment += WIDTH
    return posts


def burst_posts() -> list[Post]:
    return [
        Post(
            "test",
            f"burst-{index}",
            f"V's Love Letter live clip!! the #LWAteaser is out {index}",
            BURST + timedelta(seconds=5 * index),
            lang="en" if index % 4 else "ko",
        )
        for index in range(40)
    ]


def run_burst(tmp_path: Path, database_url: str) -> tuple[Path, int]:
    """Store calm history, a burst and calm again, detecting as beat would; check the
    episode and return the config path and the alert id."""
    config = write_config(tmp_path / "monitor.toml", feeds=[])
    settings = make_settings(tmp_path, config, database_url)
    engine = make_engine(database_url)
    upgrade(engine)
    engine.dispose()
    runtime = Runtime.start(settings)
    try:
        store(runtime, calm_posts(BURST - timedelta(hours=6), BURST), now=BURST)
        assert pipeline.detect_spikes(runtime, now=BURST - WIDTH + timedelta(seconds=30)) == []

        store(runtime, [*burst_posts(), *calm_posts(BURST, BURST + WIDTH)], now=BURST + WIDTH)
        opened = pipeline.detect_spikes(runtime, now=BURST + WIDTH + timedelta(seconds=20))
        assert [(c.topic, c.action, c.kind) for c in opened] == [("love-letter", "open", "spike")]
        # The next runs see the same burst: the episode goes on, no second alert.
        store(runtime, calm_posts(BURST + WIDTH, BURST + 2 * WIDTH), now=BURST + 2 * WIDTH)
        again = pipeline.detect_spikes(runtime, now=BURST + WIDTH + timedelta(seconds=50))
        assert all(change.action != "open" for change in again)

        resolved_at = None
        for step in range(2, 20):  # an hour of calm buckets resolves it
            moment = BURST + step * WIDTH
            store(runtime, calm_posts(moment, moment + WIDTH), now=moment + WIDTH)
            changes = pipeline.detect_spikes(runtime, now=moment + WIDTH + timedelta(seconds=20))
            assert all(change.action != "open" for change in changes)
            if any(change.action == "resolve" for change in changes):
                resolved_at = moment
                break
        assert resolved_at is not None, "the episode resolves once the burst is over"

        with session_scope(runtime.sessions) as session:
            rows = list(session.scalars(select(AlertRow)))
            assert len(rows) == 1
            row = rows[0]
            assert row.status == "resolved" and row.opened_bucket == BURST
            assert row.peak_count == 42 and row.excess_mentions > 30
            explanation = row.explanation
            assert explanation is not None
            assert explanation["rising_terms"][0]["term"] in {"#lwateaser", "clip", "live"}
            assert "#lwateaser" in [t["term"] for t in explanation["rising_terms"][:3]]
            assert explanation["first_post"]["text"].startswith("V's Love Letter live clip")
            assert explanation["languages"]["en"] > explanation["languages"]["ko"] > 0
            assert explanation["sentiment"]["before"]["scored"] > 0
            assert explanation["observed"] == 42
            alert_id = row.id
    finally:
        runtime.close()
    return config, alert_id


def test_a_burst_opens_one_explained_episode_that_resolves(
    tmp_path: Path, database_url: str
) -> None:
    run_burst(tmp_path, database_url)


def test_bigger_bursts_inside_an_open_episode_alert_again_once_each(
    tmp_path: Path, database_url: str, receiver: Receiver
) -> None:
    # The burst opens a major episode at 42 posts (about 14x the calm two). The next bucket
    # brings 120, critical: an escalation. The one after brings 300, still critical but more
    # than twice 120 and far beyond chance of it: a surge. Each is stored as the count now
    # reported, a second run in the same bucket only updates, and a webhook that asks for
    # re-alerts hears each change once, however often its notification is run.
    sink = f"""
[[notifiers]]
name = "re-alerts"
kind = "webhook"
url = "{receiver.url("/hook")}"
events = ["open", "escalate", "surge"]
"""
    config = write_config(tmp_path / "monitor.toml", feeds=[], extra=sink)
    settings = make_settings(tmp_path, config, database_url)
    engine = make_engine(database_url)
    upgrade(engine)
    engine.dispose()
    runtime = Runtime.start(settings)

    def bigger_burst(start: datetime, size: int) -> list[Post]:
        return [
            Post(
                "test",
                f"bigger-{start:%H%M}-{index}",
                f"V's Love Letter full live stage!! {index}",
                start + timedelta(seconds=index * 250 // size),
            )
            for index in range(size)
        ]

    def announce(changes: list[pipeline.AlertChange], now: datetime) -> int:
        events = pipeline.notification_events(runtime, changes, now=now)
        outcomes = notify_changes(runtime.sessions, runtime.config, events, environ={})
        return sum(outcome.sent for outcome in outcomes)

    def raised_and_peak() -> tuple[int | None, int, str]:
        with session_scope(runtime.sessions) as session:
            rows = list(session.scalars(select(AlertRow)))
            assert len(rows) == 1
            return rows[0].raised_count, rows[0].peak_count, rows[0].severity

    try:
        store(runtime, calm_posts(BURST - timedelta(hours=6), BURST), now=BURST)
        store(runtime, [*burst_posts(), *calm_posts(BURST, BURST + WIDTH)], now=BURST + WIDTH)
        opened = pipeline.detect_spikes(runtime, now=BURST + WIDTH + timedelta(seconds=20))
        assert [c.action for c in opened] == ["open"]
        assert raised_and_peak() == (42, 42, "major")
        assert announce(opened, BURST + WIDTH) == 1
        for step, size, action in ((1, 120, "escalate"), (2, 300, "surge")):
            start = BURST + step * WIDTH
            store(runtime, bigger_burst(start, size), now=start + WIDTH)
            changes = pipeline.detect_spikes(runtime, now=start + WIDTH + timedelta(seconds=20))
            assert [(c.action, c.observed) for c in changes] == [(action, size)]
            assert announce(changes, start + WIDTH) == 1
            assert announce(changes, start + WIDTH) == 0  # the same task delivered twice
            again = pipeline.detect_spikes(runtime, now=start + WIDTH + timedelta(seconds=50))
            assert [c.action for c in again] == ["update"]
            assert announce(again, start + WIDTH) == 0
            assert raised_and_peak() == (size, size, "critical")
        with session_scope(runtime.sessions) as session:
            claimed = session.scalars(select(DeliveryRow.event).order_by(DeliveryRow.id))
            assert list(claimed) == ["open", "escalate:critical", "surge:300"]
    finally:
        runtime.close()
    posts = [payload for _, payload in receiver.posts("/hook")]
    assert [(p["event"], p["alerts"][0]["observed"]) for p in posts] == [
        ("open", 42),
        ("escalate", 120),
        ("surge", 300),
    ]
    assert posts[1]["alerts"][0]["severity"] == "critical"
    assert posts[2]["alerts"][0]["raised_count"] == 300
    assert posts[2]["text"].startswith("Surging: spike on love-letter: 300 mentions")


def test_cli_shows_acknowledges_and_replays_the_episode(tmp_path: Path, sqlite_url: str) -> None:
    database_url = sqlite_url
    config, alert_id = run_burst(tmp_path, database_url)

    env = {
        "MONITOR_CONFIG": str(config),
        "MONITOR_DATA_DIR": str(tmp_path / "var"),
        "MONITOR_DATABASE_URL": database_url,
        "PATH": "/usr/bin:/bin",
    }

    def monitor(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "monitor", *args],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    shown = monitor("alerts", "show", str(alert_id), "--format", "json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["explanation"]["rising_terms"]
    table = monitor("alerts", "show", str(alert_id))
    assert table.returncode == 0 and "#lwateaser" in table.stdout
    acked = monitor("alerts", "ack", str(alert_id))
    assert acked.returncode == 0 and "acknowledged" in acked.stdout
    missing = monitor("alerts", "ack", "999999")
    assert missing.returncode != 0 and "no alert with id 999999" in missing.stderr
    # --until ends the replay at the stored day rather than now (months of empty buckets).
    replay = ["backtest", "--topic", "love-letter", "--since", "2026-05-04T06:00:00"]
    replayed = monitor(*replay, "--until", "2026-05-04T14:00:00", "--format", "jsonl")
    assert replayed.returncode == 0, replayed.stderr
    rows = [json.loads(line) for line in replayed.stdout.splitlines()]
    assert [r["timestamp"] for r in rows if r["alert"]] == ["2026-05-04T12:00:00Z"]
    assert rows[0]["timestamp"] == "2026-05-04T06:00:00Z"
    assert rows[-1]["timestamp"] == "2026-05-04T13:55:00Z"
    backwards = monitor(*replay, "--until", "2026-05-04T05:00:00")
    assert backwards.returncode == 2 and "--until (2026-05-04 05:00 UTC)" in backwards.stderr


def calendar(action: str) -> str:
    return (
        "[[expected_events]]\n"
        'name = "Love Letter live broadcast"\n'
        "start = 2026-05-04T11:30:00Z\n"
        "end = 2026-05-04T13:00:00Z\n"
        'topics = ["love-letter"]\n'
        f'action = "{action}"\n'
    )


def burst_with_calendar(tmp_path: Path, sqlite_url: str, action: str) -> tuple[Path, Runtime]:
    """Store six calm hours and a burst during the calendar's event; return the config path
    and the runtime (the caller closes it)."""
    config = write_config(tmp_path / "monitor.toml", feeds=[], extra=calendar(action))
    settings = make_settings(tmp_path, config, sqlite_url)
    engine = make_engine(sqlite_url)
    upgrade(engine)
    engine.dispose()
    runtime = Runtime.start(settings)
    store(runtime, calm_posts(BURST - timedelta(hours=6), BURST), now=BURST)
    store(runtime, [*burst_posts(), *calm_posts(BURST, BURST + WIDTH)], now=BURST + WIDTH)
    return config, runtime


@pytest.mark.parametrize("action", ["annotate", "suppress"])
def test_an_expected_event_annotates_or_suppresses_the_alert(
    tmp_path: Path, sqlite_url: str, action: str
) -> None:
    config, runtime = burst_with_calendar(tmp_path, sqlite_url, action)
    try:
        changes = pipeline.detect_spikes(runtime, now=BURST + WIDTH + timedelta(seconds=20))
        with session_scope(runtime.sessions) as session:
            rows = list(session.scalars(select(AlertRow)))
    finally:
        runtime.close()
    if action == "suppress":
        assert changes == [] and rows == []
    else:
        assert [c.action for c in changes] == ["open"]
        events = rows[0].explanation["expected_events"]
        assert [event["name"] for event in events] == ["Love Letter live broadcast"]
        env = {
            "MONITOR_CONFIG": str(config),
            "MONITOR_DATA_DIR": str(tmp_path / "var"),
            "MONITOR_DATABASE_URL": sqlite_url,
        }
        shown = CliRunner().invoke(app, ["alerts", "show", str(rows[0].id)], env=env)
        assert shown.exit_code == 0, shown.output
        assert "During the expected event Love Letter live broadcast" in shown.stdout


def busy_posts(start: datetime, end: datetime, per_bucket: int) -> list[Post]:
    posts, moment = [], start
    while moment < end:
        posts.extend(
            Post(
                "test",
                f"busy-{moment:%Y%m%d%H%M}-{k}",
                CALM[k % 3],
                moment + timedelta(seconds=10 * k),
            )
            for k in range(per_bucket)
        )
        moment += WIDTH
    return posts


@pytest.mark.parametrize("outage", [False, True])
def test_a_silent_hour_is_a_drop_unless_the_source_was_failing(
    tmp_path: Path, sqlite_url: str, outage: bool
) -> None:
    config = write_config(
        tmp_path / "monitor.toml",
        feeds=[{"name": "fans", "kind": "rss", "url": "http://127.0.0.1:9/feed.xml"}],
    )
    text = config.read_text()
    config.write_text(text.replace('alerts = ["spike"]', 'alerts = ["spike", "drop"]', 1))
    settings = make_settings(tmp_path, config, sqlite_url)
    engine = make_engine(sqlite_url)
    upgrade(engine)
    engine.dispose()
    runtime = Runtime.start(settings)
    quiet_end = BURST + 12 * WIDTH
    try:
        store(runtime, busy_posts(BURST - timedelta(hours=6), BURST, 10), now=BURST)
        if outage:
            with session_scope(runtime.sessions) as session:
                feed_id = queries.list_feeds(session)[0].id
                alert_queries.record_outage(
                    session, feed_id, since=BURST - WIDTH, until=quiet_end, width=WIDTH
                )
        changes = []
        for step in range(12):  # an hour with nothing stored
            moment = BURST + (step + 1) * WIDTH + timedelta(seconds=20)
            changes += pipeline.detect_spikes(runtime, now=moment)
        # The source recovers and the posts of the outage hour arrive late.
        store(runtime, busy_posts(BURST, quiet_end + 2 * WIDTH, 10), now=quiet_end + 2 * WIDTH)
        changes += pipeline.detect_spikes(runtime, now=quiet_end + WIDTH + timedelta(seconds=20))
    finally:
        runtime.close()
    opened = [(c.kind, c.action) for c in changes if c.action == "open"]
    assert opened == ([] if outage else [("drop", "open")])


def test_a_failed_poll_marks_the_buckets_since_the_last_success_as_an_outage(
    tmp_path: Path, database_url: str, feed_server: FeedServer
) -> None:
    feed_server.routes["/down.xml"] = Route(status=500, body=b"oops", content_type="text/plain")
    config = write_config(
        tmp_path / "monitor.toml",
        feeds=[{"name": "down", "kind": "rss", "url": feed_server.url("/down.xml")}],
    )
    settings = make_settings(tmp_path, config, database_url)
    engine = make_engine(database_url)
    upgrade(engine)
    engine.dispose()
    runtime = Runtime.start(settings)
    try:
        with session_scope(runtime.sessions) as session:
            feed = queries.list_feeds(session)[0]
            feed.last_success_at = BURST - 3 * WIDTH + timedelta(seconds=30)
            feed_id = feed.id
        outcome = pipeline.poll_feed(runtime, feed_id, now=BURST + timedelta(seconds=40))
        assert outcome.status == "failed"
        with session_scope(runtime.sessions) as session:
            marked = alert_queries.outage_buckets(
                session, [feed_id], start=BURST - timedelta(hours=1), end=BURST + WIDTH
            )
    finally:
        runtime.close()
    assert marked == {BURST - 2 * WIDTH, BURST - WIDTH, BURST}


def test_sentiment_turning_sour_opens_its_own_alert(tmp_path: Path, sqlite_url: str) -> None:
    config = write_config(tmp_path / "monitor.toml", feeds=[])
    text = config.read_text()
    config.write_text(text.replace('alerts = ["spike"]', 'alerts = ["sour"]', 1))
    settings = make_settings(tmp_path, config, sqlite_url)
    engine = make_engine(sqlite_url)
    upgrade(engine)
    engine.dispose()
    runtime = Runtime.start(settings)
    try:
        store(runtime, busy_posts(BURST - timedelta(hours=6), BURST, 4), now=BURST)
        angry = [
            Post(
                "test",
                f"angry-{index}",
                "V Love Letter clip got cut again, terrible, I hate this, so disappointed",
                BURST + timedelta(seconds=7 * index),
            )
            for index in range(30)
        ]
        store(runtime, [*angry, *busy_posts(BURST, BURST + WIDTH, 4)], now=BURST + WIDTH)
        changes = pipeline.detect_spikes(runtime, now=BURST + WIDTH + timedelta(seconds=20))
        with session_scope(runtime.sessions) as session:
            row = session.scalar(select(AlertRow))
            explanation = row.explanation if row else None
    finally:
        runtime.close()
    assert [(c.kind, c.action) for c in changes] == [("sour", "open")]
    sentiment = explanation["sentiment"]
    assert sentiment["during"]["negative_share"] > 0.5 > sentiment["before"]["negative_share"]


@pytest.mark.parametrize("action", ["annotate", "suppress"])
def test_the_backtest_of_a_stored_topic_applies_the_calendar(
    tmp_path: Path, sqlite_url: str, action: str
) -> None:
    config, runtime = burst_with_calendar(tmp_path, sqlite_url, action)
    try:
        store(runtime, calm_posts(BURST + WIDTH, BURST + 4 * WIDTH), now=BURST + 4 * WIDTH)
    finally:
        runtime.close()
    env = {
        "MONITOR_CONFIG": str(config),
        "MONITOR_DATA_DIR": str(tmp_path / "var"),
        "MONITOR_DATABASE_URL": sqlite_url,
        "PATH": "/usr/bin:/bin",
        "COLUMNS": "200",
    }
    replay = [
        *("backtest", "--topic", "love-letter"),
        *("--since", "2026-05-04T06:00:00", "--until", "2026-05-04T13:00:00"),
    ]

    def monitor(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "monitor", *replay, *args],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    rows = [json.loads(line) for line in monitor("--format", "jsonl").splitlines()]
    burst = next(row for row in rows if row["timestamp"] == "2026-05-04T12:00:00Z")
    table = monitor()
    assert "until 2026-05-04 13:00 UTC" in table
    if action == "suppress":
        # As live: the alert is not raised during the event.
        assert [row for row in rows if row["alert"]] == []
        assert burst["event"] == "suppressed"
        assert "0 alerts" in table
    else:
        assert [row["timestamp"] for row in rows if row["alert"]] == ["2026-05-04T12:00:00Z"]
        assert burst["event"] == "open"
        assert "Love Letter live broadcast" in table and "1 alerts" in table
