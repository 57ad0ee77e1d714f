"""Property: whatever batches of posts are stored, in whatever order and however often, each
timeline bucket's counters equal the sums over the mentions stored in it (SQLite file)."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from monitor.config import parse_config
from monitor.model import Post, Sentiment
from monitor.storage.engine import make_engine, make_session_factory, session_scope
from monitor.storage.queries import MatchedPost, store_matched_posts, sync_config
from monitor.storage.tables import Base, MentionRow, TimelineBucket, Topic

pytestmark = pytest.mark.integration
START = datetime(2024, 1, 24, 9, 0, tzinfo=UTC)
CONFIG = parse_config(
    '[[topics]]\nname = "a"\nphrases = ["x"]\n[[topics]]\nname = "b"\nphrases = ["y"]\n'
)

# The same post has the same text wherever it is seen, so it mentions the same topics.
TOPICS_OF = [{"a"}, {"b"}, {"a", "b"}]

post_strategy = st.builds(
    lambda number, minutes, compound: MatchedPost(
        Post(
            network="rss",
            external_id=f"post-{number}",
            text=f"post {number}",
            published_at=START + timedelta(minutes=minutes),
        ),
        {name: (name,) for name in TOPICS_OF[number % 3]},
        None if compound is None else Sentiment(compound, 0.0, 1.0, 0.0),
    ),
    number=st.integers(0, 40),
    minutes=st.integers(-30, 600),
    compound=st.none() | st.floats(-1, 1, allow_nan=False).map(lambda v: round(v, 3)),
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches=st.lists(st.lists(post_strategy, max_size=12), min_size=1, max_size=4))
def test_bucket_counters_always_equal_the_stored_mentions(
    batches: list[list[MatchedPost]],
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'monitor.db'}")
        Base.metadata.create_all(engine)
        sessions = make_session_factory(engine)
        with session_scope(sessions) as session:
            sync_config(session, CONFIG)
        for batch in batches:
            with session_scope(sessions) as session:
                store_matched_posts(
                    session,
                    feed_id=None,
                    matched=batch,
                    bucket_width=timedelta(minutes=5),
                    fetched_at=START,
                )
        with sessions() as session:
            expected = {
                (topic, bucket): (count, round(total or 0.0, 9), scored)
                for topic, bucket, count, total, scored in session.execute(
                    select(
                        Topic.name,
                        MentionRow.bucket_start,
                        func.count(MentionRow.id),
                        func.sum(MentionRow.compound),
                        func.count(MentionRow.compound),
                    )
                    .join(Topic, Topic.id == MentionRow.topic_id)
                    .group_by(Topic.name, MentionRow.bucket_start)
                )
            }
            counters = {
                (topic, bucket): (count, round(total, 9), scored)
                for topic, bucket, count, total, scored in session.execute(
                    select(
                        Topic.name,
                        TimelineBucket.bucket_start,
                        TimelineBucket.count,
                        TimelineBucket.sentiment_sum,
                        TimelineBucket.scored,
                    ).join(Topic, Topic.id == TimelineBucket.topic_id)
                )
                if count
            }
        engine.dispose()
    # One mention per post and topic, however often and in whichever batches it was seen.
    pairs = {(item.post.external_id, t) for batch in batches for item in batch for t in item.topics}
    assert counters == expected
    assert sum(count for count, _, _ in counters.values()) == len(pairs)
