"""Reads and writes of alert episodes beyond the basics in `queries`: cooldown, acks, posts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from monitor.storage.tables import (
    AlertRow,
    DetectorState,
    Feed,
    FeedOutage,
    MentionRow,
    PostRow,
    TimelineBucket,
)
from monitor.timeline import bucket_start


def last_resolved(session: Session, topic_id: int, kind: str) -> tuple[datetime, str] | None:
    """Return the bucket on which the topic's latest resolved episode of `kind` ended, and
    its severity; None if there is none."""
    row = session.execute(
        select(AlertRow.resolved_bucket, AlertRow.last_bucket, AlertRow.severity)
        .where(AlertRow.topic_id == topic_id, AlertRow.kind == kind)
        .where(AlertRow.resolved_at.is_not(None))
        .order_by(AlertRow.opened_bucket.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return (row[0] or row[1], row[2])


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
        .where(
            MentionRow.topic_id == topic_id,
            MentionRow.published_at >= start,
            MentionRow.published_at < end,
        )
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


def get_alert(session: Session, alert_id: int) -> tuple[AlertRow, str] | None:
    """Return the alert with `alert_id` and its topic name, or None."""
    from monitor.storage.tables import Topic

    row = session.execute(
        select(AlertRow, Topic.name)
        .join(Topic, Topic.id == AlertRow.topic_id)
        .where(AlertRow.id == alert_id)
    ).first()
    return None if row is None else (row[0], row[1])


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


def bucket_counts(
    session: Session, topic_id: int, *, start: datetime, end: datetime
) -> list[tuple[datetime, int]]:
    """Return (bucket start, count) of the topic's stored buckets in [start, end): the two
    columns detection reads, not whole rows."""
    rows = session.execute(
        select(TimelineBucket.bucket_start, TimelineBucket.count)
        .where(
            TimelineBucket.topic_id == topic_id,
            TimelineBucket.bucket_start >= start,
            TimelineBucket.bucket_start < end,
        )
        .order_by(TimelineBucket.bucket_start)
    )
    return [(moment, count) for moment, count in rows]


def count_checksum(
    session: Session, topic_id: int, *, start: datetime, end: datetime
) -> tuple[int, int]:
    """Return the sum and the sum of squares of the topic's counts in [start, end), computed
    in the database (counts only grow, so an unchanged pair means unchanged counts)."""
    total, squares = session.execute(
        select(
            func.coalesce(func.sum(TimelineBucket.count), 0),
            func.coalesce(func.sum(TimelineBucket.count * TimelineBucket.count), 0),
        ).where(
            TimelineBucket.topic_id == topic_id,
            TimelineBucket.bucket_start >= start,
            TimelineBucket.bucket_start < end,
        )
    ).one()
    return int(total), int(squares)


def load_detector_state(
    session: Session, topic_id: int, kind: str, fingerprint: str
) -> bytes | None:
    """Return the stored live detector state of a topic and kind if it was computed with
    the same detector settings (`fingerprint`), else None."""
    row = session.get(DetectorState, (topic_id, kind))
    if row is None or row.fingerprint != fingerprint:
        return None
    return row.state


def save_detector_state(
    session: Session, topic_id: int, kind: str, fingerprint: str, state: bytes
) -> None:
    """Store (insert or replace) the live detector state of a topic and kind."""
    table = DetectorState.__table__
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table).values(
        topic_id=topic_id, kind=kind, fingerprint=fingerprint, state=state
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["topic_id", "kind"],
            set_={"fingerprint": fingerprint, "state": state},
        )
    )
