"""The hourly timeline rollup: written with the buckets, equal to the stored mentions summed
per hour after re-polls and rescores, backfilled by migration 0007, and what `history` reads
for whole-hour widths; on SQLite and PostgreSQL."""

from __future__ import annotations

import math
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text

from monitor import reports
from monitor.config import MonitorConfig, load_config, parse_config
from monitor.matching import Matcher
from monitor.model import BucketCount, Post, Sentiment
from monitor.pipeline import match_and_score
from monitor.rescore import rescore_topic
from monitor.scoring import Scorer
from monitor.storage import queries
from monitor.storage.engine import make_engine, make_session_factory, session_scope
from monitor.storage.migrate import upgrade
from monitor.storage.queries import MatchedPost, store_matched_posts, sync_config
from monitor.storage.tables import MentionRow, TimelineBucket, TimelineHour
from monitor.timeline import bucket_start, rollup
from tests.conftest import REPO

pytestmark = pytest.mark.integration
START = datetime(2024, 1, 24, 9, 0, tzinfo=UTC)
WIDTH = timedelta(minutes=5)
HOUR = timedelta(hours=1)
TEXTS = [
    ("I'm crying, V sang Love Letter 😭😭", None),
    ("V's Love Letter cover is overrated tbh", None),
    ("뷔 러브레터 😭😭🔥", None),  # emoji-only
    ("V cantando Love Letter é perfeito demais", "pt-BR"),  # unscored
    ("the way V sang Love Letter... this should be illegal", "en"),
]


def posts(count: int, *, offset: int = 0) -> list[Post]:
    # Every 17 minutes: the posts fall in several 5-minute buckets of several hours.
    return [
        Post(
            network="rss",
            external_id=f"tag:rollup:{index}",
            text=TEXTS[index % len(TEXTS)][0],
            lang=TEXTS[index % len(TEXTS)][1],
            published_at=START + timedelta(minutes=17 * index),
        )
        for index in range(offset, offset + count)
    ]


def without_layer(config: MonitorConfig) -> MonitorConfig:
    topics = [topic.model_copy(update={"fandom_lexicon": False}) for topic in config.topics]
    return config.model_copy(update={"topics": topics})


def hourly_rows(session, topic_id: int) -> dict[datetime, tuple]:
    return {
        row.bucket_start: tuple(getattr(row, name) for name in queries.COUNTERS)
        for row in session.scalars(select(TimelineHour).where(TimelineHour.topic_id == topic_id))
    }


def mentions_per_hour(session, topic_id: int) -> dict[datetime, tuple]:
    """The counters computed afresh from the stored mention rows, per hour."""
    sums: dict[datetime, list] = {}
    for row in session.scalars(select(MentionRow).where(MentionRow.topic_id == topic_id)):
        acc = sums.setdefault(bucket_start(row.bucket_start, HOUR), [0, [], 0, 0, 0, 0, 0, 0, 0])
        scored = row.compound is not None
        acc[0] += 1
        if scored:
            acc[1].append(row.compound)
            acc[2] += 1
        acc[3] += row.label == "positive"
        acc[4] += row.label == "neutral"
        acc[5] += row.label == "negative"
        acc[6] += scored and row.method == "vader"
        acc[7] += scored and row.method == "vader+fandom"
        acc[8] += scored and row.method == "emoji-only"
    return {hour: (acc[0], math.fsum(acc[1]), *acc[2:]) for hour, acc in sums.items()}


def assert_hourly_matches_mentions(session, topic_id: int) -> None:
    stored, expected = hourly_rows(session, topic_id), mentions_per_hour(session, topic_id)
    assert set(stored) == set(expected)
    for hour, counters in expected.items():
        assert stored[hour][0] == counters[0], hour
        assert math.isclose(stored[hour][1], counters[1], abs_tol=1e-9), hour
        assert stored[hour][2:] == counters[2:], hour


def test_hourly_rollup_equals_stored_mentions_after_repolls_and_rescore(
    database_url: str,
) -> None:
    config = load_config(REPO / "config" / "monitor.toml")
    engine = make_engine(database_url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    with session_scope(sessions) as session:
        sync_config(session, config)
    matcher, scorer = Matcher.compile(config.topics), Scorer.from_config(config)

    def store(batch: list[Post]) -> int:
        matched = match_and_score(batch, matcher, topics={"love-letter"}, scorer=scorer)
        with session_scope(sessions) as session:
            result = store_matched_posts(
                session, feed_id=None, matched=matched, bucket_width=WIDTH, fetched_at=START
            )
        return result.new_mentions

    # 30 posts over 8.5 hours, then re-polls overlapping them: nothing is counted twice.
    assert store(posts(20)) == 20
    assert store(posts(20, offset=10)) == 10
    assert store(posts(30)) == 0
    with session_scope(sessions) as session:
        topic_id = queries.get_topic_id(session, "love-letter")
        assert_hourly_matches_mentions(session, topic_id)
        stored = hourly_rows(session, topic_id)
        assert sum(counters[0] for counters in stored.values()) == 30
        assert len(stored) == 9
        before = {hour: counters[1] for hour, counters in stored.items()}

    # A lexicon change rewrites the sentiment of every hour, and the hours follow.
    with session_scope(sessions) as session:
        result = rescore_topic(session, Scorer.from_config(without_layer(config)), "love-letter")
    assert result.changed > 0
    with session_scope(sessions) as session:
        assert_hourly_matches_mentions(session, topic_id)
        after = {hour: counters[1] for hour, counters in hourly_rows(session, topic_id).items()}
        assert after != before
    # Rescoring only the last hours leaves the earlier ones as they are, and still exact.
    with session_scope(sessions) as session:
        rescore_topic(session, scorer, "love-letter", since=START + timedelta(hours=6))
    with session_scope(sessions) as session:
        assert_hourly_matches_mentions(session, topic_id)
        rows = hourly_rows(session, topic_id)
        assert rows[START][1] == after[START]
    engine.dispose()


def test_history_at_whole_hours_reads_the_rollup_and_equals_the_buckets(
    database_url: str,
) -> None:
    config = load_config(REPO / "config" / "monitor.toml")
    engine = make_engine(database_url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    with session_scope(sessions) as session:
        sync_config(session, config)
        matched = match_and_score(
            posts(40),
            Matcher.compile(config.topics),
            topics={"love-letter"},
            scorer=Scorer.from_config(config),
        )
        store_matched_posts(
            session, feed_id=None, matched=matched, bucket_width=WIDTH, fetched_at=START
        )
    # `until` inside an hour: that hour's buckets after `until` are left out, as before.
    until = START + timedelta(hours=9, minutes=20)
    with session_scope(sessions) as session:
        topic_id = queries.get_topic_id(session, "love-letter")
        buckets = queries.load_buckets(session, topic_id, start=START, end=until)
        for width in (WIDTH, 2 * WIDTH, HOUR, 2 * HOUR, timedelta(days=1)):
            data = reports.history(
                session, "love-letter", since=START, until=until, width=width, base_width=WIDTH
            )
            start = bucket_start(START, width)
            expected = {
                reports.history_record(bucket)["start"]: reports.history_record(bucket)
                for bucket in rollup(buckets, width)
            }
            got = {row["start"]: row for row in data["buckets"] if row["count"]}
            assert got == expected, width
            assert data["total"] == sum(b.count for b in buckets) < 40
            first = reports.history_record(BucketCount(start=start, count=0))["start"]
            assert data["buckets"][0]["start"] == data["since"] == first
    engine.dispose()


def test_migration_0007_backfills_the_hours_from_the_buckets(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine, "0006")
    naive = START.replace(tzinfo=None)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO topics (id, name) VALUES (1, 'a'), (2, 'b')"))
        for topic_id, minutes, count, total in [
            (1, 0, 2, 0.5),
            (1, 55, 3, -0.25),
            (1, 60, 1, 0.125),
            (2, 5, 4, 1.0),
        ]:
            connection.execute(
                text(
                    "INSERT INTO timeline_buckets (topic_id, bucket_start, count, sentiment_sum, "
                    "scored, positive, neutral, negative, scored_vader, scored_fandom, "
                    "scored_emoji) VALUES (:topic, :start, :count, :total, :count, 1, 0, 0, "
                    ":count, 0, 0)"
                ),
                {
                    "topic": topic_id,
                    "start": naive + timedelta(minutes=minutes),
                    "count": count,
                    "total": total,
                },
            )
    upgrade(engine)
    with session_scope(make_session_factory(engine)) as session:
        assert {
            (row.topic_id, row.bucket_start): (row.count, row.sentiment_sum, row.positive)
            for row in session.scalars(select(TimelineHour))
        } == {
            (1, START): (5, 0.25, 2),
            (1, START + HOUR): (1, 0.125, 1),
            (2, START): (4, 1.0, 1),
        }
        # The backfilled keys are the ones the write path uses: new mentions add to them.
        with_bucket = session.scalar(select(TimelineBucket).where(TimelineBucket.topic_id == 2))
        assert with_bucket is not None
        queries._add_to_timeline(session, {(2, START + WIDTH): [1, 0.5, 1, 1, 0, 0, 1, 0, 0]})
    with session_scope(make_session_factory(engine)) as session:
        rows = list(session.scalars(select(TimelineHour).where(TimelineHour.topic_id == 2)))
        assert [(row.bucket_start, row.count, row.sentiment_sum) for row in rows] == [
            (START, 5, 1.5)
        ]
    engine.dispose()


# Property: whatever batches are stored, in whatever order and however often, each hour of
# the rollup equals the stored mentions of that hour (SQLite file, as the bucket property).
PROPERTY_CONFIG = parse_config(
    '[[topics]]\nname = "a"\nphrases = ["x"]\n[[topics]]\nname = "b"\nphrases = ["y"]\n'
)
TOPICS_OF = [{"a"}, {"b"}, {"a", "b"}]
post_strategy = st.builds(
    lambda number, compound: MatchedPost(
        Post(
            network="rss",
            external_id=f"post-{number}",
            text=f"post {number}",
            # The same post always has the same time and topics, wherever it is seen again.
            published_at=START + timedelta(minutes=37 * number),
        ),
        {name: (name,) for name in TOPICS_OF[number % 3]},
        None if compound is None else Sentiment(compound, 0.0, 1.0, 0.0),
    ),
    number=st.integers(0, 40),
    compound=st.none() | st.floats(-1, 1, allow_nan=False).map(lambda v: round(v, 3)),
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches=st.lists(st.lists(post_strategy, max_size=12), min_size=1, max_size=4))
def test_hourly_rollup_always_equals_the_stored_mentions(batches: list[list[MatchedPost]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'monitor.db'}")
        upgrade(engine)
        sessions = make_session_factory(engine)
        with session_scope(sessions) as session:
            sync_config(session, PROPERTY_CONFIG)
        for batch in batches:
            with session_scope(sessions) as session:
                store_matched_posts(
                    session, feed_id=None, matched=batch, bucket_width=WIDTH, fetched_at=START
                )
        with sessions() as session:
            for topic_id in queries.topic_ids(session).values():
                assert_hourly_matches_mentions(session, topic_id)
            stored = session.scalar(select(func.coalesce(func.sum(TimelineHour.count), 0)))
        engine.dispose()
    pairs = {(item.post.external_id, t) for batch in batches for item in batch for t in item.topics}
    assert stored == len(pairs)
