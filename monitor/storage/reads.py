"""Read-only queries behind the HTTP API and the dashboard; each takes a Session."""

from __future__ import annotations

import base64
import binascii
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, and_, cast, func, literal, null, or_, select, union_all
from sqlalchemy.orm import Session

from monitor.sentiment_stats import SentimentAccumulator, net_sentiment
from monitor.storage import queries
from monitor.storage.tables import (
    AlertRow,
    DeliveryRow,
    Feed,
    MentionRow,
    PostRow,
    TimelineBucket,
    Topic,
)
from monitor.timeline import as_utc, bucket_start

UNRESOLVED = ("open", "acknowledged")
LABELS = {"pos": "positive", "neu": "neutral", "neg": "negative"}


def iso(moment: datetime | None) -> str | None:
    """Return `moment` as ISO 8601 UTC with a Z, or None."""
    return as_utc(moment).isoformat().replace("+00:00", "Z") if moment else None


def topic_overview(session: Session, *, now: datetime) -> list[dict[str, Any]]:
    """Return every topic with its last-24-hours volume, mean sentiment and open alerts."""
    day_ago = now - timedelta(hours=24)
    volume = dict(
        (topic_id, (count, total, scored))
        for topic_id, count, total, scored in session.execute(
            select(
                TimelineBucket.topic_id,
                func.sum(TimelineBucket.count),
                func.sum(TimelineBucket.sentiment_sum),
                func.sum(TimelineBucket.scored),
            )
            .where(TimelineBucket.bucket_start >= day_ago, TimelineBucket.bucket_start <= now)
            .group_by(TimelineBucket.topic_id)
        )
    )
    open_alerts = dict(
        session.execute(
            select(AlertRow.topic_id, func.count(AlertRow.id))
            .where(AlertRow.status.in_(UNRESOLVED), AlertRow.resolved_at.is_(None))
            .group_by(AlertRow.topic_id)
        ).all()
    )
    out = []
    for topic in session.scalars(select(Topic).order_by(Topic.name)):
        count, total, scored = volume.get(topic.id, (0, 0.0, 0))
        out.append(
            {
                "name": topic.name,
                "volume_24h": int(count or 0),
                "scored_24h": int(scored or 0),
                "mean_compound_24h": round(total / scored, 4) if scored else None,
                "open_alerts": int(open_alerts.get(topic.id, 0)),
            }
        )
    return out


def audience(
    session: Session, topic_id: int, *, start: datetime, end: datetime, top: int = 8
) -> dict[str, Any]:
    """Return who talked about a topic from start to end: mentions, distinct authors (per
    network), and the largest sources (feed, or network for streamed posts) and languages
    with their mention counts, largest first.

    One statement: the window's rows are read once (a common table expression the three
    aggregates share), because each mention's post is a random read on a large table."""
    window_rows = (
        select(
            func.coalesce(Feed.name, PostRow.network).label("source"),
            func.coalesce(PostRow.lang, "unknown").label("lang"),
            PostRow.network,
            PostRow.author,
        )
        .select_from(MentionRow)
        .join(PostRow, PostRow.id == MentionRow.post_id)
        .outerjoin(Feed, Feed.id == PostRow.feed_id)
        .where(queries.mentions_published(topic_id, start, end))
        .cte("window_rows")
    )
    rows = window_rows.c
    distinct_authors = (
        select(rows.network, rows.author).where(rows.author.is_not(None)).distinct().subquery()
    )
    counted = union_all(
        select(literal("source"), rows.source, func.count()).group_by(rows.source),
        select(literal("lang"), rows.lang, func.count()).group_by(rows.lang),
        select(literal("authors"), cast(null(), String), func.count()).select_from(
            distinct_authors
        ),
    )
    groups: dict[str, list[tuple[str, int]]] = {"source": [], "lang": []}
    authors = 0
    for kind, name, count in session.execute(counted):
        if kind == "authors":
            authors = int(count)
        else:
            groups[kind].append((str(name), int(count)))
    mentions = sum(count for _, count in groups["source"])

    def largest(pairs: list[tuple[str, int]]) -> list[dict[str, Any]]:
        pairs.sort(key=lambda pair: (-pair[1], pair[0]))
        shown = pairs[:top]
        return [{"name": name, "mentions": n, "share": round(n / mentions, 4)} for name, n in shown]

    return {
        "mentions": mentions,
        "authors": authors,
        "sources": largest(groups["source"]),
        "languages": largest(groups["lang"]),
    }


def topic_id_or_none(session: Session, name: str) -> int | None:
    """Return the id of topic `name`, or None."""
    return session.scalar(select(Topic.id).where(Topic.name == name))


@dataclass(frozen=True, slots=True)
class HistoryBucket:
    start: datetime
    total: SentimentAccumulator
    groups: dict[str, SentimentAccumulator]


def _mention_rows(
    session: Session, topic_id: int, start: datetime, end: datetime
) -> Iterator[tuple[Any, ...]]:
    query = (
        select(
            MentionRow.published_at,
            MentionRow.compound,
            MentionRow.label,
            PostRow.network,
            PostRow.author,
            PostRow.lang,
            Feed.name,
        )
        .join(PostRow, PostRow.id == MentionRow.post_id)
        .outerjoin(Feed, Feed.id == PostRow.feed_id)
        .where(queries.mentions_published(topic_id, start, end))
        .execution_options(yield_per=2000)
    )
    yield from session.execute(query)


def history_buckets(
    session: Session,
    topic_id: int,
    *,
    start: datetime,
    end: datetime,
    width: timedelta,
    group_by: str | None,
) -> list[HistoryBucket]:
    """Return one bucket per `width` from start to end (zero-filled), each with its
    statistics and, with `group_by` ("source" or "lang"), the same per group."""
    first = bucket_start(start, width)
    buckets: dict[datetime, HistoryBucket] = {}
    moment = first
    while moment < end:
        buckets[moment] = HistoryBucket(moment, SentimentAccumulator(), {})
        moment += width
    for published, compound, label, network, author, lang, feed in _mention_rows(
        session, topic_id, first, end
    ):
        bucket = buckets.get(bucket_start(published, width))
        if bucket is None:
            continue
        who = (network, author) if author else None
        bucket.total.add(compound, label, who)
        if group_by is not None:
            key = (feed or network) if group_by == "source" else (lang or "unknown")
            bucket.groups.setdefault(key, SentimentAccumulator()).add(compound, label, who)
    return list(buckets.values())


def encode_cursor(published_at: datetime, mention_id: int) -> str:
    """Return an opaque cursor pointing after the mention (published_at, id)."""
    raw = f"{iso(published_at)}|{mention_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """Return the (published_at, id) a cursor points after; ValueError if it is not one."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, _, id_text = raw.partition("|")
        return as_utc(datetime.fromisoformat(moment)), int(id_text)
    except (ValueError, binascii.Error, UnicodeDecodeError, OverflowError) as exc:
        raise ValueError("cursor: not a cursor this API returned") from exc


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


def mention_page(
    session: Session,
    *,
    topic_id: int | None,
    q: str | None,
    label: str | None,
    since: datetime | None,
    limit: int,
    after: tuple[datetime, int] | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Return up to `limit` mentions, newest first, after the cursor position, and the next
    cursor (None on the last page)."""
    query = (
        select(MentionRow, PostRow, Topic.name, Feed.name)
        .join(PostRow, PostRow.id == MentionRow.post_id)
        .join(Topic, Topic.id == MentionRow.topic_id)
        .outerjoin(Feed, Feed.id == PostRow.feed_id)
    )
    conditions = []
    if topic_id is not None:
        conditions.append(MentionRow.topic_id == topic_id)
    if q:
        conditions.append(func.lower(PostRow.text).like(_like_pattern(q), escape="\\"))
    if label is not None:
        conditions.append(MentionRow.label == label)
    if since is not None:
        conditions.append(MentionRow.published_at >= since)
    if after is not None:
        moment, mention_id = after
        conditions.append(
            or_(
                MentionRow.published_at < moment,
                and_(MentionRow.published_at == moment, MentionRow.id < mention_id),
            )
        )
    if conditions:
        query = query.where(and_(*conditions))
    rows = session.execute(
        query.order_by(MentionRow.published_at.desc(), MentionRow.id.desc()).limit(limit + 1)
    ).all()
    page = [
        {
            "id": mention.id,
            "topic": topic,
            "text": post.text,
            "url": post.url,
            "author": post.author,
            "network": post.network,
            "source": feed or post.network,
            "lang": post.lang,
            "published_at": iso(mention.published_at),
            "compound": mention.compound,
            "label": mention.label,
            "terms": mention.terms,
        }
        for mention, post, topic, feed in rows[:limit]
    ]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1][0]
        next_cursor = encode_cursor(last.published_at, last.id)
    return page, next_cursor


def window_sentiment(
    session: Session, topic_id: int, *, start: datetime, end: datetime
) -> dict[str, Any]:
    """Return the mentions and sentiment of a topic in [start, end) from its timeline."""
    count, total, scored, positive, negative = session.execute(
        select(
            func.coalesce(func.sum(TimelineBucket.count), 0),
            func.coalesce(func.sum(TimelineBucket.sentiment_sum), 0.0),
            func.coalesce(func.sum(TimelineBucket.scored), 0),
            func.coalesce(func.sum(TimelineBucket.positive), 0),
            func.coalesce(func.sum(TimelineBucket.negative), 0),
        ).where(
            TimelineBucket.topic_id == topic_id,
            TimelineBucket.bucket_start >= start,
            TimelineBucket.bucket_start < end,
        )
    ).one()
    scored = int(scored)
    return {
        "start": iso(start),
        "end": iso(end),
        "mentions": int(count),
        "scored": scored,
        "mean_compound": round(float(total) / scored, 4) if scored else None,
        "positive_share": round(int(positive) / scored, 4) if scored else None,
        "negative_share": round(int(negative) / scored, 4) if scored else None,
        "net_sentiment": net_sentiment(int(positive), int(negative)),
    }


def top_terms(
    session: Session, topic_id: int, *, start: datetime, end: datetime, limit: int = 10
) -> list[dict[str, Any]]:
    """Return the matched terms of a topic's mentions in [start, end), most frequent first."""
    counts: Counter[str] = Counter()
    for terms in session.scalars(
        select(MentionRow.terms)
        .where(queries.mentions_published(topic_id, start, end))
        .limit(20_000)
    ):
        counts.update(term.strip() for term in (terms or "").split(" | ") if term.strip())
    return [{"term": term, "count": count} for term, count in counts.most_common(limit)]


def alert_with_topic(
    session: Session, alert_id: int
) -> tuple[AlertRow, str | None, str | None] | None:
    """Return the alert `alert_id` with its topic name and, for a source alert, its feed
    name; None when there is no such alert."""
    row = session.execute(queries.alerts_query().where(AlertRow.id == alert_id)).first()
    return None if row is None else (row[0], row[1], row[2])


def deliveries_summary(session: Session) -> list[tuple[str, str, int]]:
    """Return (sink, status, count) over every notification delivery."""
    return [
        (sink, status, int(count))
        for sink, status, count in session.execute(
            select(DeliveryRow.sink, DeliveryRow.status, func.count(DeliveryRow.id)).group_by(
                DeliveryRow.sink, DeliveryRow.status
            )
        )
    ]


def open_alert_counts(session: Session) -> list[tuple[str, str, int]]:
    """Return (topic, kind, count) of unresolved alerts."""
    return [
        (topic, kind, int(count))
        for topic, kind, count in session.execute(
            select(Topic.name, AlertRow.kind, func.count(AlertRow.id))
            .join(Topic, Topic.id == AlertRow.topic_id)
            .where(AlertRow.status.in_(UNRESOLVED), AlertRow.resolved_at.is_(None))
            .group_by(Topic.name, AlertRow.kind)
        )
    ]
