"""Exactly once under concurrency: four processes store the same 300 posts at the same time,
on SQLite (one file, several writers) and on PostgreSQL."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from monitor.config import load_config
from monitor.matching import Matcher
from monitor.model import Post
from monitor.pipeline import match_and_score
from monitor.storage.engine import make_engine, make_session_factory, session_scope
from monitor.storage.migrate import upgrade
from monitor.storage.queries import store_matched_posts, sync_config
from monitor.storage.tables import MentionRow, PostRow, TimelineBucket
from tests.conftest import REPO

pytestmark = pytest.mark.integration
START = datetime(2024, 1, 24, 9, 0, tzinfo=UTC)


def posts(count: int) -> list[Post]:
    return [
        Post(
            network="rss",
            external_id=f"tag:fixture:{index}",
            text=f"V singing Love Letter in the Love wins all behind the scenes, take {index}",
            published_at=START + timedelta(seconds=37 * index),
        )
        for index in range(count)
    ]


def store_all(database_url: str, barrier: multiprocessing.synchronize.Barrier, queue) -> None:
    config = load_config(REPO / "config" / "monitor.toml")
    matched = match_and_score(posts(300), Matcher.compile(config.topics))
    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    errors = 0
    barrier.wait(timeout=30)
    # Small batches interleave the writers as much as possible.
    for start in range(0, len(matched), 25):
        try:
            with session_scope(sessions) as session:
                store_matched_posts(
                    session,
                    feed_id=None,
                    matched=matched[start : start + 25],
                    bucket_width=timedelta(minutes=5),
                    fetched_at=START,
                )
        except Exception as exc:  # counted, reported by the parent
            errors += 1
            queue.put(repr(exc))
    engine.dispose()
    queue.put(errors)


def test_four_concurrent_writers_store_each_post_once(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    with session_scope(make_session_factory(engine)) as session:
        sync_config(session, load_config(REPO / "config" / "monitor.toml"))
    context = multiprocessing.get_context("spawn")
    barrier, queue = context.Barrier(4), context.Queue()
    workers = [
        context.Process(target=store_all, args=(database_url, barrier, queue)) for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    reports = [queue.get(timeout=5) for _ in range(4)]
    assert reports == [0, 0, 0, 0], reports
    with session_scope(make_session_factory(engine)) as session:
        assert session.scalar(select(func.count(PostRow.id))) == 300
        # Each post mentions both topics.
        assert session.scalar(select(func.count(MentionRow.id))) == 600
        assert session.scalar(select(func.sum(TimelineBucket.count))) == 600
        per_bucket = dict(
            session.execute(
                select(TimelineBucket.bucket_start, func.sum(TimelineBucket.count)).group_by(
                    TimelineBucket.bucket_start
                )
            ).all()
        )
        recount = dict(
            session.execute(
                select(MentionRow.bucket_start, func.count(MentionRow.id)).group_by(
                    MentionRow.bucket_start
                )
            ).all()
        )
        assert per_bucket == recount
        sums = session.execute(
            select(func.sum(TimelineBucket.sentiment_sum), func.sum(TimelineBucket.scored))
        ).one()
        mention_sums = session.execute(
            select(func.sum(MentionRow.compound), func.count(MentionRow.compound))
        ).one()
        assert sums[1] == mention_sums[1]
        assert sums[0] == pytest.approx(mention_sums[0], abs=1e-9)
    engine.dispose()


def test_a_batch_larger_than_one_insert_document_stores_every_post_once(
    database_url: str,
) -> None:
    """1,234 posts in one call cross several insert chunks (PostgreSQL sends a JSON document
    per 500 rows); storing them again, in another order, adds nothing."""
    config = load_config(REPO / "config" / "monitor.toml")
    matched = match_and_score(posts(1234), Matcher.compile(config.topics))
    engine = make_engine(database_url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    with session_scope(sessions) as session:
        sync_config(session, config)
    for batch in (matched, list(reversed(matched))):
        with session_scope(sessions) as session:
            stored = store_matched_posts(
                session,
                feed_id=None,
                matched=batch,
                bucket_width=timedelta(minutes=5),
                fetched_at=START,
            )
        if batch is matched:
            assert stored.new_posts == 1234
        else:
            assert (stored.new_posts, stored.new_mentions) == (0, 0)
    mentions = sum(len(item.topics) for item in matched)
    with session_scope(sessions) as session:
        assert session.scalar(select(func.count(PostRow.id))) == 1234
        assert session.scalar(select(func.count(MentionRow.id))) == mentions
        assert session.scalar(select(func.sum(TimelineBucket.count))) == mentions
    engine.dispose()
