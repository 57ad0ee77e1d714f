"""Stored rows -> the API's JSON documents (alerts with evidence, history, CSV)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from monitor.reports import alert_record
from monitor.storage import reads
from monitor.storage.tables import AlertRow
from monitor.timeline import width_text

BEFORE_WINDOW = timedelta(hours=24)
# A history read from the stored mentions holds every bucket in memory: bound how many.
MAX_HISTORY_BUCKETS = 5000
HISTORY_STATS = (
    "count",
    "unique_authors",
    "scored",
    "mean_compound",
    "mean_compound_ci_low",
    "mean_compound_ci_high",
    "positive_share",
    "neutral_share",
    "negative_share",
    "net_sentiment",
)


def alert_detail(
    session: Session,
    alert: AlertRow,
    topic: str | None,
    feed: str | None = None,
    *,
    width: timedelta,
) -> dict[str, Any]:
    """Return an alert's record with `explanation` (as detection stored it, if it did) and
    `evidence`: observed vs expected, top terms, and sentiment during vs before the episode."""
    record = alert_record(alert, topic, feed)
    stored = getattr(alert, "explanation", None)
    record["explanation"] = stored if isinstance(stored, dict) else None
    if alert.topic_id is None:  # a source alert: about a feed, not about mentions
        record["evidence"] = None
        return record
    during_end = alert.last_bucket + width
    expected = alert.expected
    record["evidence"] = {
        "observed": alert.observed,
        "expected": expected,
        "ratio": round(alert.observed / expected, 2) if expected > 0 else None,
        "score": alert.score,
        "top_terms": reads.top_terms(
            session, alert.topic_id, start=alert.opened_bucket, end=during_end
        ),
        "sentiment_during": reads.window_sentiment(
            session, alert.topic_id, start=alert.opened_bucket, end=during_end
        ),
        "sentiment_before": reads.window_sentiment(
            session,
            alert.topic_id,
            start=alert.opened_bucket - BEFORE_WINDOW,
            end=alert.opened_bucket,
        ),
    }
    return record


def history_payload(
    buckets: Sequence[reads.HistoryBucket],
    *,
    topic: str,
    start: datetime,
    end: datetime,
    width: timedelta,
    group_by: str | None,
) -> dict[str, Any]:
    """Return the history document: per bucket its statistics and, if grouped, per group."""
    rows = []
    for bucket in buckets:
        row: dict[str, Any] = {"start": reads.iso(bucket.start), **bucket.total.summary()}
        if group_by is not None:
            row["groups"] = {key: acc.summary() for key, acc in sorted(bucket.groups.items())}
        rows.append(row)
    return {
        "topic": topic,
        "bucket": width_text(width),
        "since": reads.iso(buckets[0].start if buckets else start),
        "until": reads.iso(end),
        "group_by": group_by,
        "total": sum(bucket.total.count for bucket in buckets),
        "buckets": rows,
    }


def history_csv(payload: dict[str, Any]) -> str:
    """Return the history as CSV: one row per bucket, or per bucket and group when grouped
    (the `group` column is empty on ungrouped rows)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["start", "group", *HISTORY_STATS])

    def cells(stats: dict[str, Any]) -> list[Any]:
        return ["" if stats[key] is None else stats[key] for key in HISTORY_STATS]

    for row in payload["buckets"]:
        if payload["group_by"] is None:
            writer.writerow([row["start"], "", *cells(row)])
            continue
        for key, stats in row["groups"].items():
            # A group name is user data (a feed name, a language tag): keep spreadsheet
            # programs from reading it as a formula.
            safe = "'" + key if key[:1] in ("=", "+", "-", "@") else key
            writer.writerow([row["start"], safe, *cells(stats)])
    return out.getvalue()
