"""Scored and unscored mentions in storage: a mixed-language burst, per-method bucket counts,
rescoring, and the `monitor sentiment` / `rescore` / `history` commands; on SQLite and
PostgreSQL."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from monitor.cli import app
from monitor.config import MonitorConfig, load_config
from monitor.matching import Matcher
from monitor.model import Post
from monitor.pipeline import match_and_score
from monitor.rescore import rescore_topic
from monitor.scoring import Scorer
from monitor.storage.engine import make_engine, make_session_factory, session_scope
from monitor.storage.migrate import upgrade
from monitor.storage.queries import store_matched_posts, sync_config
from monitor.storage.tables import MentionRow, PostRow, TimelineBucket
from tests.conftest import REPO, write_config

pytestmark = pytest.mark.integration
START = datetime(2024, 1, 24, 9, 0, tzinfo=UTC)
WIDTH = timedelta(minutes=5)

# (text, the network's language field); every post mentions love-letter.
BURST = [
    ("I'm crying, V sang Love Letter 😭😭", None),
    ("V's Love Letter killed me, no notes 🔥", None),
    ("V's Love Letter cover is overrated tbh", None),
    ("V sang Love Letter in the Love wins all behind-the-scenes video", None),
    ("뷔가 부른 러브레터 진짜 최고야", None),  # Korean, no emoji: unscored
    ("뷔 러브레터 😭😭🔥", None),  # Korean with emoji: emoji-only
    ("テテのラブレター、V の声が最高すぎる", None),  # Japanese: unscored
    ("V cantando Love Letter é perfeito demais", "pt-BR"),  # declared: unscored
    ("V nyanyi Love Letter bagus banget 🥹", "id"),  # declared, with emoji: emoji-only
    ("the way V sang Love Letter... this should be illegal", "en"),
]
EXPECTED_METHODS = [
    "vader+fandom",
    "vader+fandom",
    "vader+fandom",
    "vader+fandom",
    "unscored",
    "emoji-only",
    "unscored",
    "unscored",
    "emoji-only",
    "vader+fandom",
]


def burst_posts(start: datetime = START) -> list[Post]:
    # Two buckets: posts 0-4 in the first, 5-9 in the second.
    return [
        Post(
            network="rss",
            external_id=f"tag:burst:{index}",
            text=text,
            lang=lang,
            published_at=start + timedelta(minutes=index),
        )
        for index, (text, lang) in enumerate(BURST)
    ]


def without_layer(config: MonitorConfig) -> MonitorConfig:
    topics = [topic.model_copy(update={"fandom_lexicon": False}) for topic in config.topics]
    return config.model_copy(update={"topics": topics})


def buckets_and_mentions(session, topic_id: int) -> tuple[dict, dict]:
    buckets = {
        row.bucket_start: row
        for row in session.scalars(
            select(TimelineBucket).where(TimelineBucket.topic_id == topic_id)
        )
    }
    mentions: dict[datetime, list[MentionRow]] = {}
    for row in session.scalars(select(MentionRow).where(MentionRow.topic_id == topic_id)):
        mentions.setdefault(row.bucket_start, []).append(row)
    return buckets, mentions


def assert_buckets_match_mentions(session, topic_id: int) -> None:
    buckets, mentions = buckets_and_mentions(session, topic_id)
    assert set(buckets) == set(mentions)
    for start, bucket in buckets.items():
        rows = mentions[start]
        scored = [row for row in rows if row.compound is not None]
        assert bucket.count == len(rows)
        assert bucket.scored == len(scored)
        assert math.isclose(
            bucket.sentiment_sum, math.fsum(r.compound for r in scored), abs_tol=1e-9
        )
        for method, column in [
            ("vader", "scored_vader"),
            ("vader+fandom", "scored_fandom"),
            ("emoji-only", "scored_emoji"),
        ]:
            assert getattr(bucket, column) == sum(r.method == method for r in scored), column
        for label in ("positive", "neutral", "negative"):
            assert getattr(bucket, label) == sum(r.label == label for r in rows), label
        assert all(r.label == "unscored" for r in rows if r.compound is None)


def test_mixed_language_burst_counts_scored_and_unscored_and_rescore_is_exact(
    database_url: str,
) -> None:
    config = load_config(REPO / "config" / "monitor.toml")
    engine = make_engine(database_url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    with session_scope(sessions) as session:
        sync_config(session, config)
    matched = match_and_score(
        burst_posts(),
        Matcher.compile(config.topics),
        topics={"love-letter"},
        scorer=Scorer.from_config(config),
    )
    assert len(matched) == len(BURST)
    methods = [item.scored("love-letter").method for item in matched]
    assert methods == EXPECTED_METHODS

    with session_scope(sessions) as session:
        store_matched_posts(
            session, feed_id=None, matched=matched, bucket_width=WIDTH, fetched_at=START
        )
    with session_scope(sessions) as session:
        topic_id = session.scalar(
            select(MentionRow.topic_id).join(PostRow, PostRow.id == MentionRow.post_id).limit(1)
        )
        langs = {
            key: lang for key, lang in session.execute(select(PostRow.external_id, PostRow.lang))
        }
        assert langs["tag:burst:4"] == "ko" and langs["tag:burst:6"] == "ja"
        assert langs["tag:burst:7"] == "pt" and langs["tag:burst:0"] == "en"
        buckets, _ = buckets_and_mentions(session, topic_id)
        first, second = buckets[START], buckets[START + WIDTH]
        # First bucket: 4 English (fandom), 1 Korean unscored. Second: 1 English, 2 emoji-only,
        # 2 unscored.
        assert (first.count, first.scored, first.scored_fandom, first.scored_emoji) == (5, 4, 4, 0)
        assert (second.count, second.scored, second.scored_fandom, second.scored_emoji) == (
            5,
            3,
            1,
            2,
        )
        # The unscored are in no label column: the mean is over scored mentions only.
        assert first.positive + first.neutral + first.negative == first.scored
        assert_buckets_match_mentions(session, topic_id)
        before = {start: (b.count, b.sentiment_sum) for start, b in buckets.items()}

    # A lexicon change: the layer switched off, then rescore everything.
    plain = Scorer.from_config(without_layer(config))
    with session_scope(sessions) as session:
        result = rescore_topic(session, plain, "love-letter")
    assert (result.mentions, result.buckets) == (len(BURST), 2)
    assert result.changed >= 5  # every English mention changed method
    with session_scope(sessions) as session:
        buckets, _ = buckets_and_mentions(session, topic_id)
        assert {start: b.count for start, b in buckets.items()} == {
            start: count for start, (count, _) in before.items()
        }
        assert buckets[START].scored_vader == 4 and buckets[START].scored_fandom == 0
        assert buckets[START].sentiment_sum != pytest.approx(before[START][1])
        # Exactly what scoring each stored post afresh gives.
        expected = math.fsum(
            plain.for_topic("love-letter").score(text, lang="en").sentiment.compound
            for text, _ in BURST[:4]
        )
        assert math.isclose(buckets[START].sentiment_sum, expected, abs_tol=1e-9)
        assert_buckets_match_mentions(session, topic_id)

    # Back to the layer, only for mentions since the middle of the second bucket.
    with session_scope(sessions) as session:
        result = rescore_topic(
            session, Scorer.from_config(config), "love-letter", since=START + timedelta(minutes=7)
        )
    assert (result.mentions, result.buckets) == (3, 1)
    with session_scope(sessions) as session:
        buckets, _ = buckets_and_mentions(session, topic_id)
        second = buckets[START + WIDTH]
        assert (second.count, second.scored, second.scored_fandom, second.scored_emoji) == (
            5,
            3,
            1,
            2,
        )
        assert buckets[START].scored_vader == 4  # before `since`: untouched
        assert_buckets_match_mentions(session, topic_id)
    engine.dispose()


def test_cli_history_reports_methods_and_rescore_keeps_counts(
    tmp_path: Path, sqlite_url: str
) -> None:
    config_path = write_config(tmp_path / "monitor.toml", feeds=[])
    env = {
        "MONITOR_CONFIG": str(config_path),
        "MONITOR_DATA_DIR": str(tmp_path / "var"),
        "MONITOR_DATABASE_URL": sqlite_url,
    }
    config = load_config(config_path)
    # History zero-fills up to now: keep the burst recent so the listing stays short.
    recent = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)
    recent -= timedelta(minutes=recent.minute % 5)
    engine = make_engine(sqlite_url)
    upgrade(engine)
    with session_scope(make_session_factory(engine)) as session:
        sync_config(session, config)
        matched = match_and_score(
            burst_posts(recent), Matcher.compile(config.topics), scorer=Scorer.from_config(config)
        )
        store_matched_posts(
            session, feed_id=None, matched=matched, bucket_width=WIDTH, fetched_at=START
        )
    engine.dispose()
    runner = CliRunner()
    since = (recent - timedelta(minutes=30)).isoformat()

    def history() -> list[dict]:
        shown = runner.invoke(
            app,
            ["history", "love-letter", "--since", since, "--bucket", "5m", "--format", "json"],
            env=env,
        )
        assert shown.exit_code == 0, shown.output
        return [row for row in json.loads(shown.stdout)["buckets"] if row["count"]]

    rows = history()
    assert [(r["count"], r["scored"], r["unscored"]) for r in rows] == [(5, 4, 1), (5, 3, 2)]
    before = datetime.now(UTC)
    hourly = runner.invoke(
        app, ["history", "love-letter", "--since", "3h", "--format", "json"], env=env
    )
    after = datetime.now(UTC)
    # The last bucket is the hour still filling, never one that has not begun.
    last = datetime.fromisoformat(json.loads(hourly.stdout)["buckets"][-1]["start"])
    assert last in {m.replace(minute=0, second=0, microsecond=0) for m in (before, after)}

    # Split by language and by source: the groups of each bucket add up to its count.
    by_lang = runner.invoke(
        app,
        [
            *("history", "love-letter", "--since", since, "--bucket", "5m"),
            *("--group-by", "lang", "--format", "json"),
        ],
        env=env,
    )
    assert by_lang.exit_code == 0, by_lang.output
    grouped = [row for row in json.loads(by_lang.stdout)["buckets"] if row["count"]]
    assert [row["count"] for row in grouped] == [5, 5]
    for row in grouped:
        assert sum(group["count"] for group in row["groups"].values()) == row["count"]
    languages = {lang for row in grouped for lang in row["groups"]}
    assert {"en", "ko", "ja", "id"} <= languages
    assert grouped[1]["groups"]["id"]["scored"] == 1  # its emoji scored it
    by_source = runner.invoke(
        app,
        ["history", "love-letter", "--since", since, "--bucket", "5m", "--group-by", "source"],
        env=env,
    )
    assert by_source.exit_code == 0, by_source.output
    assert "by source" in by_source.stdout and "rss" in by_source.stdout
    assert [(r["scored_fandom"], r["scored_emoji"], r["scored_vader"]) for r in rows] == [
        (4, 0, 0),
        (1, 2, 0),
    ]
    for row in rows:
        shares = row["positive_share"] + row["neutral_share"] + row["negative_share"]
        assert shares == pytest.approx(1.0, abs=1e-3)

    rescored = runner.invoke(app, ["rescore", "--topic", "love-letter"], env=env)
    assert rescored.exit_code == 0, rescored.output
    assert "re-scored 10 mentions" in rescored.stdout
    after = history()
    assert [(r["count"], r["scored"], r["mean_compound"]) for r in after] == [
        (r["count"], r["scored"], r["mean_compound"]) for r in rows
    ]

    unknown = runner.invoke(app, ["rescore", "--topic", "nope"], env=env)
    assert unknown.exit_code == 2 and "unknown topic" in unknown.output


def test_monitor_sentiment_command(tmp_path: Path) -> None:
    env = {"MONITOR_CONFIG": str(REPO / "config" / "monitor.toml"), "PATH": ""}
    lines = "I'm crying he sang Love Letter 😭😭\n\n뷔가 부른 러브레터 진짜 최고야\n"
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "sentiment", "--topic", "love-letter"],
        input=lines,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["label"] for r in records] == ["positive", "unscored"]
    assert records[0]["method"] == "vader+fandom" and records[0]["lang"] == "en"
    assert set(records[0]) == {"text", "lang", "method", "compound", "pos", "neu", "neg", "label"}
    assert records[1]["compound"] is None and records[1]["lang"] == "ko"

    headline = subprocess.run(
        [
            sys.executable,
            "-m",
            "monitor",
            "sentiment",
            "--topic",
            "love-wins-all",
            "--text",
            "Love wins all music video released today",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert headline.returncode == 0, headline.stderr
    assert json.loads(headline.stdout)["label"] == "neutral"

    unknown = subprocess.run(
        [sys.executable, "-m", "monitor", "sentiment", "--topic", "nope", "--text", "x"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert unknown.returncode == 2 and "unknown topic" in unknown.stderr


def test_migration_0002_marks_earlier_scores_as_stock_vader(database_url: str) -> None:
    from sqlalchemy import text

    engine = make_engine(database_url)
    upgrade(engine, "0001")
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO topics (id, name) VALUES (1, 'love-letter')"))
        connection.execute(
            text(
                "INSERT INTO posts (id, network, external_id, text, published_at, fetched_at) "
                "VALUES (1, 'rss', 'a', 'x', :t, :t), (2, 'rss', 'b', 'y', :t, :t)"
            ),
            {"t": START.replace(tzinfo=None)},
        )
        connection.execute(
            text(
                "INSERT INTO mentions (post_id, topic_id, bucket_start, published_at, terms, "
                "compound, label) VALUES (1, 1, :t, :t, '', 0.5, 'positive'), "
                "(2, 1, :t, :t, '', NULL, 'unscored')"
            ),
            {"t": START.replace(tzinfo=None)},
        )
        connection.execute(
            text(
                "INSERT INTO timeline_buckets (topic_id, bucket_start, count, sentiment_sum, "
                "scored, positive, neutral, negative) VALUES (1, :t, 2, 0.5, 1, 1, 0, 0)"
            ),
            {"t": START.replace(tzinfo=None)},
        )
    upgrade(engine)
    with session_scope(make_session_factory(engine)) as session:
        rows = session.execute(select(MentionRow.post_id, MentionRow.method))
        methods = {post_id: method for post_id, method in rows}
        assert methods == {1: "vader", 2: "unscored"}
        bucket = session.scalars(select(TimelineBucket)).one()
        assert (bucket.scored_vader, bucket.scored_fandom, bucket.scored_emoji) == (1, 0, 0)
        assert_buckets_match_mentions(session, 1)
    engine.dispose()
