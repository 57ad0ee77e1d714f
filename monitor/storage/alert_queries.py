"""Reads and writes of alert episodes beyond the basics in `queries`: cooldown, acks, posts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, cast, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from monitor.storage import queries
from monitor.storage.tables import (
    AlertRow,
    DetectorState,
    Feed,
    FeedOutage,
    MentionRow,
    PostRow,
    TimelineBucket,
    Topic,
)
from monitor.timeline import bucket_start


def last_resolved(session: Session, topic_id: int, kind: str) -> tuple[datetime, str, int] | None:
    """Return the bucket on which the topic's latest resolved episode of `kind` ended, its
    severity and its peak count; None if there is none."""
    row = session.execute(
        select(
            AlertRow.resolved_bucket, AlertRow.last_bucket, AlertRow.severity, AlertRow.peak_count
        )
        .where(AlertRow.topic_id == topic_id, AlertRow.kind == kind)
        .where(AlertRow.resolved_at.is_not(None))
        .order_by(AlertRow.opened_bucket.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return (row[0] or row[1], row[2], row[3])


def posts_between(
    session: Session,
    topic_id: int,
    *,
    start: datetime,
    end: datetime,
    limit: int,
    newest_first: bool = False,
) -> list[dict[str, Any]]:
    """Return up to `limit` posts mentioning a topic published in [start, end) as dicts
    (earliest first unless `newest_first`), with engagement where the table has it."""
    order = (
        (MentionRow.published_at.desc(), MentionRow.id.desc())
        if newest_first
        else (MentionRow.published_at, MentionRow.id)
    )
    rows = session.execute(
        select(PostRow, MentionRow.label, MentionRow.compound, Feed.name)
        .join(MentionRow, MentionRow.post_id == PostRow.id)
        .outerjoin(Feed, Feed.id == PostRow.feed_id)
        .where(queries.mentions_published(topic_id, start, end))
        .order_by(*order)
        .limit(limit)
    )
    posts = []
    for post, label, compound, feed_name in rows:
        record: dict[str, Any] = {
            "text": post.text[:500],
            "url": post.url,
            "author": post.author,
            "network": post.network,
            "source": feed_name or post.network,
            "lang": post.lang,
            "published_at": post.published_at.isoformat(),
            "label": label,
            "compound": compound,
        }
        # Engagement columns exist only where a source reports them.
        for name in ("likes", "reposts", "replies"):
            value = getattr(post, name, None)
            if value is not None:
                record[name] = value
        posts.append(record)
    if newest_first:
        posts.reverse()
    return posts


def acknowledge(session: Session, alert_id: int, *, now: datetime) -> AlertRow | None:
    """Mark an alert acknowledged (an open one keeps being updated until it resolves);
    return it, or None when there is no such alert."""
    row = session.get(AlertRow, alert_id)
    if row is None:
        return None
    if row.acked_at is None:
        row.acked_at = now
    if row.status == "open":
        row.status = "acknowledged"
    return row


# At most a week of 5-minute buckets is marked for one failure.
MAX_OUTAGE_BUCKETS = 2016


def record_outage(
    session: Session, feed_id: int, *, since: datetime, until: datetime, width: timedelta
) -> int:
    """Mark the buckets from the one after `since` (the last success) to the one holding
    `until` as an outage of the feed; return how many buckets were marked."""
    first = bucket_start(since, width) + width
    last = bucket_start(until, width)
    first = max(first, last - width * (MAX_OUTAGE_BUCKETS - 1))
    rows = []
    moment = min(first, last)
    while moment <= last:
        rows.append({"feed_id": feed_id, "bucket_start": moment})
        moment += width
    table = FeedOutage.__table__
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    for start in range(0, len(rows), 400):
        session.execute(insert(table).values(rows[start : start + 400]).on_conflict_do_nothing())
    return len(rows)


def outage_buckets(
    session: Session, feed_ids: Sequence[int], *, start: datetime, end: datetime
) -> set[datetime]:
    """Return the buckets in [start, end) in which any of `feed_ids` was failing."""
    if not feed_ids:
        return set()
    return set(
        session.scalars(
            select(FeedOutage.bucket_start)
            .where(FeedOutage.feed_id.in_(list(feed_ids)))
            .where(FeedOutage.bucket_start >= start, FeedOutage.bucket_start < end)
            .distinct()
        )
    )


def first_buckets(session: Session, topic_ids: Sequence[int]) -> dict[int, datetime | None]:
    """Return {topic id: its earliest bucket with mentions, or None}, one index lookup per
    topic in one query."""
    if not topic_ids:
        return {}
    earliest = (
        select(func.min(TimelineBucket.bucket_start))
        .where(TimelineBucket.topic_id == Topic.id)
        .scalar_subquery()
    )
    rows = session.execute(select(Topic.id, earliest).where(Topic.id.in_(list(topic_ids))))
    return {topic_id: first for topic_id, first in rows}


def bucket_counts_of(
    session: Session, topic_ids: Sequence[int], *, start: datetime, end: datetime
) -> dict[int, list[tuple[datetime, int]]]:
    """Return {topic id: [(bucket start, count)]} of the topics' stored buckets in
    [start, end): the two columns detection reads, not whole rows."""
    found: dict[int, list[tuple[datetime, int]]] = {topic_id: [] for topic_id in topic_ids}
    if not topic_ids:
        return found
    rows = session.execute(
        select(TimelineBucket.topic_id, TimelineBucket.bucket_start, TimelineBucket.count)
        .where(
            TimelineBucket.topic_id.in_(list(topic_ids)),
            TimelineBucket.bucket_start >= start,
            TimelineBucket.bucket_start < end,
        )
        .order_by(TimelineBucket.topic_id, TimelineBucket.bucket_start)
    )
    for topic_id, moment, count in rows:
        found[topic_id].append((moment, count))
    return found


def count_checksums(
    session: Session, topic_ids: Sequence[int], *, start: datetime, end: datetime
) -> dict[int, tuple[int, int]]:
    """Return {topic id: (sum, sum of squares)} of the topics' counts in [start, end),
    computed in the database (counts only grow, so an unchanged pair means unchanged
    counts); topics without buckets there are left out."""
    if not topic_ids:
        return {}
    rows = session.execute(
        select(
            TimelineBucket.topic_id,
            func.sum(TimelineBucket.count),
            # 64-bit: the square of a count above 46,340 overflows PostgreSQL's integer.
            func.sum(
                cast(TimelineBucket.count, BigInteger) * cast(TimelineBucket.count, BigInteger)
            ),
        )
        .where(
            TimelineBucket.topic_id.in_(list(topic_ids)),
            TimelineBucket.bucket_start >= start,
            TimelineBucket.bucket_start < end,
        )
        .group_by(TimelineBucket.topic_id)
    )
    return {topic_id: (int(total), int(squares)) for topic_id, total, squares in rows}


def outages_by_feed(
    session: Session, feed_ids: Sequence[int], *, start: datetime, end: datetime
) -> dict[int, set[datetime]]:
    """Return {feed id: the buckets in [start, end) in which it was failing}."""
    found: dict[int, set[datetime]] = {}
    if not feed_ids:
        return found
    rows = session.execute(
        select(FeedOutage.feed_id, FeedOutage.bucket_start).where(
            FeedOutage.feed_id.in_(list(feed_ids)),
            FeedOutage.bucket_start >= start,
            FeedOutage.bucket_start < end,
        )
    )
    for feed_id, moment in rows:
        found.setdefault(feed_id, set()).add(moment)
    return found


def open_episodes(session: Session, topic_ids: Sequence[int]) -> dict[tuple[int, str], AlertRow]:
    """Return {(topic id, kind): its open (or acknowledged) episode} for the topics."""
    if not topic_ids:
        return {}
    rows = session.scalars(
        select(AlertRow)
        .where(AlertRow.topic_id.in_(list(topic_ids)))
        .where(AlertRow.status.in_(("open", "acknowledged")))
        .where(AlertRow.resolved_at.is_(None))
        .order_by(AlertRow.opened_bucket)
    )
    # The latest wins, as in `queries.open_alert`.
    return {(row.topic_id, row.kind): row for row in rows if row.topic_id is not None}


def load_detector_states(
    session: Session, topic_ids: Sequence[int]
) -> dict[tuple[int, str], tuple[str, bytes]]:
    """Return {(topic id, kind): (fingerprint, state)} of the topics' live detector states."""
    if not topic_ids:
        return {}
    rows = session.execute(
        select(
            DetectorState.topic_id,
            DetectorState.kind,
            DetectorState.fingerprint,
            DetectorState.state,
        ).where(DetectorState.topic_id.in_(list(topic_ids)))
    )
    return {(topic_id, kind): (key, bytes(state)) for topic_id, kind, key, state in rows}


def save_detector_states(session: Session, states: Sequence[tuple[int, str, str, bytes]]) -> None:
    """Store (insert or replace) live detector states: (topic id, kind, fingerprint, state)."""
    if not states:
        return
    table = DetectorState.__table__
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["topic_id", "kind"],
            set_={
                "fingerprint": statement.excluded.fingerprint,
                "state": statement.excluded.state,
            },
        ),
        [
            {"topic_id": topic_id, "kind": kind, "fingerprint": key, "state": state}
            for topic_id, kind, key, state in states
        ],
    )
