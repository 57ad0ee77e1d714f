"""Stored rows -> the documented JSON shapes that the CLI prints (and other tools read)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from monitor.model import BucketCount
from monitor.storage import queries
from monitor.storage.tables import AlertRow, Feed
from monitor.timeline import EPOCH, as_utc, bucket_start, rollup, width_text

_NAIVE_EPOCH = EPOCH.replace(tzinfo=None)

HISTORY_FIELDS = (
    "start",
    "count",
    "scored",
    "mean_compound",
    "positive_share",
    "neutral_share",
    "negative_share",
    # Added later; kept last so readers of the first columns are unaffected.
    "unscored",
    "scored_vader",
    "scored_fandom",
    "scored_emoji",
)


def _iso(moment: datetime | None) -> str | None:
    return as_utc(moment).isoformat().replace("+00:00", "Z") if moment else None


def alert_record(alert: AlertRow, topic: str | None, feed: str | None = None) -> dict[str, Any]:
    """Return one alert as its documented JSON object (source alerts name a feed, not a
    topic, and say why)."""
    return {
        "id": alert.id,
        "topic": topic,
        "feed": feed,
        "reason": alert.reason,
        "kind": alert.kind,
        "status": alert.status,
        "opened_bucket": _iso(alert.opened_bucket),
        "last_bucket": _iso(alert.last_bucket),
        "peak_bucket": _iso(alert.peak_bucket),
        "observed": alert.observed,
        "expected": alert.expected,
        "score": alert.score,
        "peak_count": alert.peak_count,
        "raised_count": alert.raised_count,
        "excess_mentions": alert.excess_mentions,
        "samples": alert.samples or [],
        "opened_at": _iso(alert.opened_at),
        "updated_at": _iso(alert.updated_at),
        "resolved_at": _iso(alert.resolved_at),
        "acked_at": _iso(alert.acked_at),
        "severity": alert.severity,
        "resolved_bucket": _iso(alert.resolved_bucket),
        "explanation": alert.explanation,
    }


def alert_records(
    session: Session,
    *,
    topic: str | None = None,
    since: datetime | None = None,
    status: str | None = None,
) -> list[dict[str, Any]]:
    """Return the alerts matching the filters, newest first, as JSON objects."""
    topic_id = queries.get_topic_id(session, topic) if topic else None
    rows = session.execute(queries.alerts_query(topic_id=topic_id, since=since, status=status))
    return [alert_record(alert, name, feed) for alert, name, feed in rows]


# A bucket's counters as the database returns them: (start, *queries.COUNTERS).
CounterRow = tuple[Any, ...]


def history_record(bucket: BucketCount) -> dict[str, Any]:
    """Return one history bucket as its documented JSON object: mentions, how many were scored
    and by which method, and the mean and shares over the scored mentions only."""
    return _record(
        _iso(bucket.start),
        (
            bucket.start,
            bucket.count,
            bucket.sentiment_sum,
            bucket.scored,
            bucket.positive,
            bucket.neutral,
            bucket.negative,
            bucket.scored_vader,
            bucket.scored_fandom,
            bucket.scored_emoji,
        ),
    )


def _record(start: str | None, row: CounterRow) -> dict[str, Any]:
    _, count, total, scored, positive, neutral, negative, vader, fandom, emoji = row
    return {
        "start": start,
        "count": count,
        "scored": scored,
        "unscored": count - scored,
        "scored_vader": vader,
        "scored_fandom": fandom,
        "scored_emoji": emoji,
        "mean_compound": round(total / scored, 4) if scored else None,
        "positive_share": round(positive / scored, 4) if scored else None,
        "neutral_share": round(neutral / scored, 4) if scored else None,
        "negative_share": round(negative / scored, 4) if scored else None,
    }


def _as_row(bucket: BucketCount) -> CounterRow:
    """Return a bucket as a counter row, its start naive UTC as load_counters gives it."""
    start = as_utc(bucket.start).replace(tzinfo=None)
    return (start, *(getattr(bucket, name) for name in queries.COUNTERS))


def require_whole_buckets(width: timedelta, base_width: timedelta) -> None:
    """Raise ValueError unless a history bucket is a whole number of stored buckets."""
    if width < base_width or width % base_width:
        raise ValueError(
            f"bucket width must be a multiple of the stored {int(base_width.total_seconds() // 60)}"
            "-minute buckets"
        )


def history(
    session: Session,
    topic: str,
    *,
    since: datetime,
    until: datetime,
    width: timedelta,
    base_width: timedelta,
) -> dict[str, Any]:
    """Return a topic's timeline from `since` to `until`, rolled up to `width`, zero-filled."""
    require_whole_buckets(width, base_width)
    topic_id = queries.get_topic_id(session, topic)
    start = bucket_start(since, width)
    rows: list[CounterRow]
    if width % queries.HOUR:
        rows = queries.load_counters(session, topic_id, start=start, end=until)
        # Stored buckets each starting on a `width` boundary are already the answer (the
        # common case: width = the stored width); anything else is summed up.
        if any((row[0] - _NAIVE_EPOCH) % width for row in rows):
            stored = [BucketCount(row[0].replace(tzinfo=UTC), *row[1:]) for row in rows]
            rows = [_as_row(bucket) for bucket in rollup(stored, width)]
    else:
        # Whole hours come from the hourly rollup (12x fewer rows at 5-minute buckets); the
        # stored buckets of the hour `until` falls in, from the buckets themselves, so the
        # result is exactly the rollup of the stored buckets up to `until`.
        last_hour = max(start, bucket_start(until, queries.HOUR))
        hours = queries.load_counters(session, topic_id, start=start, end=last_hour, hourly=True)
        tail = queries.load_buckets(session, topic_id, start=last_hour, end=until)
        if width == queries.HOUR:
            # Already one row per hour, all before the tail's hour: nothing to merge. Plain
            # rows rather than BucketCounts: a year is 8,760 of them and this is the hot path.
            rows = hours + [_as_row(bucket) for bucket in rollup(tail, width)]
        else:
            stored = [BucketCount(row[0].replace(tzinfo=UTC), *row[1:]) for row in hours]
            merged = rollup(stored + tail, width)
            rows = [_as_row(bucket) for bucket in merged]
    return history_document(topic, rows, start=start, until=until, width=width)


def history_document(
    topic: str, rows: Sequence[CounterRow], *, start: datetime, until: datetime, width: timedelta
) -> dict[str, Any]:
    """Return the history document from counter rows (start as naive UTC, *COUNTERS) already
    summed to `width`, `start` on a `width` boundary: one record per bucket from start to
    until, zeros where no row is."""
    # Zero-filled as zero_filled() does, by position rather than by datetime key: thousands
    # of rows, and hashing aware datetimes is not free.
    first = as_utc(start).replace(tzinfo=None)
    slots: list[CounterRow | None] = [None] * max(
        0, -((first - as_utc(until).replace(tzinfo=None)) // width)
    )
    for row in rows:
        index = (row[0] - first) // width
        if 0 <= index < len(slots):
            slots[index] = row
    empty = (first, 0, 0.0, 0, 0, 0, 0, 0, 0, 0)
    records = []
    moment = first
    for row in slots:
        # What _iso() gives for the aware start, without a UTC conversion per bucket.
        records.append(_record(moment.isoformat() + "Z", row or empty))
        moment += width
    return {
        "topic": topic,
        "bucket": width_text(width),
        "since": _iso(start),
        "until": _iso(until),
        "total": sum(record["count"] for record in records),
        "buckets": records,
    }


def history_csv(records: Sequence[dict[str, Any]]) -> str:
    """Return history buckets as CSV with a header row."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=HISTORY_FIELDS, lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow({key: "" if record[key] is None else record[key] for key in HISTORY_FIELDS})
    return out.getvalue()


def feed_record(
    feed: Feed,
    *,
    posts_24h: int,
    unit_price_usd: float | None = None,
    source_alert: str | None = None,
    video_stats: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Return one feed's health as its documented JSON object."""
    cost = None if unit_price_usd is None else round(feed.metered_units * unit_price_usd, 4)
    return {
        "name": feed.name,
        "kind": feed.kind,
        "target": feed.target,
        "enabled": bool(feed.enabled),
        "interval_seconds": feed.interval_seconds,
        "last_polled_at": _iso(feed.last_polled_at),
        "last_success_at": _iso(feed.last_success_at),
        "last_error": feed.last_error,
        "last_error_at": _iso(feed.last_error_at),
        "consecutive_failures": feed.consecutive_failures,
        "next_poll_at": _iso(feed.next_poll_at),
        "posts_stored": feed.posts_stored,
        "posts_fetched": feed.posts_fetched,
        "posts_24h": posts_24h,
        "last_post_at": _iso(feed.last_post_at),
        "metered_units": feed.metered_units,
        "cost_usd": cost,
        "rate_limit": feed.rate_limit,
        "source_alert": source_alert,
        "video_stats": video_stats,
    }


def feed_records(
    session: Session, *, now: datetime, unit_prices: dict[str, float] | None = None
) -> list[dict[str, Any]]:
    """Return every feed's health; `unit_prices` (feed name -> price per metered unit)
    turns metered units into an estimated cost."""
    from monitor.health import open_source_alert

    records = []
    for feed in queries.list_feeds(session):
        alert = open_source_alert(session, feed.id)
        stats = queries.latest_video_stats(session, feed.id)
        records.append(
            feed_record(
                feed,
                posts_24h=queries.mentions_since(session, feed.id, now - timedelta(1)),
                unit_price_usd=(unit_prices or {}).get(feed.name),
                source_alert=alert.reason if alert else None,
                video_stats=None
                if stats is None
                else {
                    "polled_at": _iso(stats.polled_at),
                    "view_count": stats.view_count,
                    "like_count": stats.like_count,
                    "comment_count": stats.comment_count,
                },
            )
        )
    return records
