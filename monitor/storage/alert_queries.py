"""Reads and writes of alert episodes beyond the basics in `queries`: cooldown, acks, posts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.storage.tables import AlertRow, Feed, MentionRow, PostRow


def last_resolved_bucket(session: Session, topic_id: int, kind: str) -> datetime | None:
    """Return the bucket on which the topic's latest resolved episode of `kind` ended."""
    row = session.execute(
        select(AlertRow.resolved_bucket, AlertRow.last_bucket)
        .where(AlertRow.topic_id == topic_id, AlertRow.kind == kind)
        .where(AlertRow.resolved_at.is_not(None))
        .order_by(AlertRow.opened_bucket.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return row[0] or row[1]


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
