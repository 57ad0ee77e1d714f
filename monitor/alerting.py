"""One topic's alert of one kind, judged live: verdicts -> episode change -> stored row.

The work of one call is bounded by the detector's history window (timeline buckets) and the
explanation's post limits, never by how many mentions are stored.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from monitor.config import ExpectedEvent
from monitor.detectors import incremental
from monitor.detectors.seasonal import SeasonalDetector
from monitor.episodes import (
    SEVERITIES,
    Episode,
    EpisodeChange,
    EpisodePolicy,
    decide_alert,
    judge_latest,
    severity_level,
)
from monitor.explain import explain_episode
from monitor.model import BucketCount, Verdict
from monitor.storage import alert_queries, queries
from monitor.storage.tables import AlertRow
from monitor.timeline import bucket_start, zero_filled

# How far back the explanation looks for "before", and how many posts it reads at most.
EXPLAIN_BASELINE = timedelta(hours=24)
EXPLAIN_EPISODE_POSTS = 500
EXPLAIN_BASELINE_POSTS = 2000


@dataclass(frozen=True, slots=True)
class TopicAlertOutcome:
    """What one judgement did to a topic's alert of one kind."""

    alert_id: int
    action: str
    verdict: Verdict
    severity: str


def judge_topic(
    session: Session,
    *,
    topic_id: int,
    kind: str,
    detector: Any,
    policy: EpisodePolicy,
    width: timedelta,
    min_history_buckets: int,
    sample_posts: int,
    now: datetime,
    topic: str = "",
    expected_events: Sequence[ExpectedEvent] = (),
    feed_ids: Sequence[int] = (),
) -> TopicAlertOutcome | None:
    """Judge the topic's latest buckets and open, escalate, update or resolve its alert of
    `kind`; return what changed, or None. An expected event with action "suppress" keeps
    an alert from opening during it; one with "annotate" is named in the explanation."""
    size = detector.history_buckets(width)
    first = queries.first_bucket(session, topic_id)
    if incremental.supports(detector):
        verdicts = live_verdicts(
            session,
            topic_id=topic_id,
            kind=kind,
            detector=detector,
            width=width,
            now=now,
            first_bucket=first,
            min_history_buckets=min_history_buckets,
            feed_ids=feed_ids,
        )
    elif hasattr(detector, "evaluate_share"):
        stored = queries.load_buckets(
            session, topic_id, start=now - width * (size + 2), end=now + width
        )
        outages = alert_queries.outage_buckets(
            session, feed_ids, start=now - width * (size + 2), end=now + width
        )
        verdicts = judge_share(stored, detector=detector, now=now, width=width, excluded=outages)
    else:
        stored = queries.load_buckets(
            session, topic_id, start=now - width * (size + 2), end=now + width
        )
        outages = alert_queries.outage_buckets(
            session, feed_ids, start=now - width * (size + 2), end=now + width
        )
        verdicts = judge_latest(
            stored,
            excluded=outages,
            detector=detector,
            now=now,
            width=width,
            baseline_buckets=size,
            min_history_buckets=min_history_buckets,
            first_bucket=first,
        )
    row = queries.open_alert(session, topic_id, kind)
    episode = None
    if row is not None:
        episode = Episode(row.opened_bucket, row.last_bucket, row.peak_count, _level(row.severity))
    resolved = alert_queries.last_resolved(session, topic_id, kind)
    change = decide_alert(
        episode,
        verdicts,
        policy,
        width=width,
        resolved_bucket=resolved[0] if resolved else None,
        resolved_severity=_level(resolved[1]) if resolved else 0,
    )
    if change is None or change.verdict is None:
        return None
    events = [e for e in expected_events if e.covers(topic, change.verdict.bucket_start)]
    if change.action == "open" and any(e.action == "suppress" for e in events):
        return None
    row = _apply(session, row, change, topic_id=topic_id, kind=kind, policy=policy, now=now)
    if row is None:
        return None
    _refresh(session, row, width=width, sample_posts=sample_posts)
    opened_during = [e for e in expected_events if e.covers(topic, row.opened_bucket)]
    if opened_during and row.explanation is not None:
        row.explanation = {
            **row.explanation,
            "expected_events": [
                {"name": e.name, "start": e.start.isoformat(), "end": e.end.isoformat()}
                for e in opened_during
            ],
        }
    return TopicAlertOutcome(row.id, change.action, change.verdict, row.severity)


# Late posts into buckets judged up to this long ago are found by reading those buckets
# again; older changes show in the checksum of the remembered counts (then all are read).
SETTLE = timedelta(hours=1)


def live_verdicts(
    session: Session,
    *,
    topic_id: int,
    kind: str,
    detector: SeasonalDetector,
    width: timedelta,
    now: datetime,
    first_bucket: datetime | None,
    min_history_buckets: int,
    feed_ids: Sequence[int] = (),
) -> list[Verdict]:
    """Return the seasonal detector's verdicts on the latest complete bucket and the one
    filling at `now` (none during warm-up), judging only the buckets that changed or
    completed since the stored state: the same verdicts as `judge_latest`, from a read of
    the recent buckets, a checksum of the older ones and the stored state."""
    current = bucket_start(now, width)
    if first_bucket is None or (current - width - first_bucket) / width < min_history_buckets:
        return []
    span = incremental.span_buckets(detector, width)
    start = current - width * span
    end = current + width
    key = incremental.fingerprint(detector, width)
    state = _decode(alert_queries.load_detector_state(session, topic_id, kind, key))
    counts = [0] * (span + 1)
    read_from = start
    if state is not None and start <= state.through <= current:
        # The remembered counts of [start, settled) stand if the database's agree in sum.
        settled = max(start, state.through - SETTLE)
        skip = round((start - state.through) / width) + len(state.counts)
        remembered = state.counts[skip : skip + round((settled - start) / width)]
        if skip >= 0 and alert_queries.count_checksum(
            session, topic_id, start=start, end=settled
        ) == (sum(remembered), sum(c * c for c in remembered)):
            counts[: len(remembered)] = remembered
            read_from = settled
    for moment, count in alert_queries.bucket_counts(session, topic_id, start=read_from, end=end):
        counts[round((moment - start) / width)] = count
    outages = alert_queries.outage_buckets(session, feed_ids, start=start, end=end)
    excluded = {round((moment - start) / width) for moment in outages}
    before_first = max(0, min(span + 1, round((first_bucket - start) / width)))
    unknown = set(range(before_first)) | excluded
    verdicts, next_state, _ = incremental.judge(
        detector, state, counts, unknown, start=start, width=width, excluded=excluded
    )
    alert_queries.save_detector_state(session, topic_id, kind, key, next_state.encode())
    return verdicts


def _decode(data: bytes | None) -> incremental.ScanState | None:
    if data is None:
        return None
    try:
        return incremental.ScanState.decode(data)
    except (ValueError, zlib.error, struct.error):
        return None  # unreadable: recompute, the state is only a cache


def _level(severity: str) -> int:
    return SEVERITIES.index(severity) + 1 if severity in SEVERITIES else 1


def judge_share(
    stored: Sequence[BucketCount],
    *,
    detector: Any,
    now: datetime,
    width: timedelta,
    excluded: Collection[datetime] = (),
) -> list[Verdict]:
    """Return the share detector's verdicts on the latest complete bucket and the one
    filling at `now` (outage buckets unknown)."""
    current = bucket_start(now, width)
    size = detector.history_buckets(width)
    series = zero_filled(
        stored, start=current - width * (size + 1), end=current + width, width=width
    )
    known = [None if b.start in excluded else b for b in series]
    verdicts = []
    for index, complete in ((len(series) - 2, True), (len(series) - 1, False)):
        if known[index] is None:
            continue
        verdicts.append(detector.evaluate_share(known[:index], series[index], complete=complete))
    return verdicts


def _apply(
    session: Session,
    row: AlertRow | None,
    change: EpisodeChange,
    *,
    topic_id: int,
    kind: str,
    policy: EpisodePolicy,
    now: datetime,
) -> AlertRow | None:
    verdict = change.verdict
    assert verdict is not None
    level = severity_level(verdict) if verdict.anomalous else 1
    if change.action == "open":
        row = AlertRow(
            topic_id=topic_id,
            kind=kind,
            status="open",
            opened_bucket=verdict.bucket_start,
            last_bucket=verdict.bucket_start,
            peak_bucket=verdict.bucket_start,
            observed=verdict.observed,
            expected=verdict.expected,
            score=verdict.score,
            peak_count=verdict.observed,
            excess_mentions=0.0,
            samples=[],
            severity=SEVERITIES[level - 1],
            opened_at=now,
            updated_at=now,
        )
        session.add(row)
        session.flush()
        return row
    if row is None:
        return None
    if change.action == "resolve":
        row.status = "resolved"
        row.resolved_at = row.updated_at = now
        row.resolved_bucket = verdict.bucket_start
        return row
    row.last_bucket = max(row.last_bucket, verdict.bucket_start)
    if change.action == "escalate":
        row.severity = SEVERITIES[level - 1]
    stronger = verdict.observed > row.peak_count if kind != "drop" else False
    if stronger or (change.action == "escalate" and verdict.anomalous):
        row.peak_count, row.peak_bucket = (
            max(row.peak_count, verdict.observed),
            verdict.bucket_start,
        )
        row.observed, row.expected, row.score = verdict.observed, verdict.expected, verdict.score
    row.updated_at = now
    return row


def _refresh(session: Session, row: AlertRow, *, width: timedelta, sample_posts: int) -> None:
    """Recompute the episode's excess, samples and explanation from bounded reads."""
    end = row.last_bucket + width
    during = queries.load_buckets(session, row.topic_id, start=row.opened_bucket, end=end)
    before = queries.load_buckets(
        session, row.topic_id, start=row.opened_bucket - EXPLAIN_BASELINE, end=row.opened_bucket
    )
    per_bucket = row.expected  # the expectation at the peak (or trough) bucket
    if row.kind == "sour":
        # Negative mentions beyond the baseline share, in the window at the peak.
        row.excess_mentions = round(max(0.0, row.observed - row.expected), 2)
    elif row.kind == "drop":
        buckets = max(1, round((end - row.opened_bucket) / width))
        row.excess_mentions = round(per_bucket * buckets - sum(b.count for b in during), 2)
    else:
        row.excess_mentions = round(sum(max(0.0, b.count - per_bucket) for b in during), 2)
    episode_posts = alert_queries.posts_between(
        session, row.topic_id, start=row.opened_bucket, end=end, limit=EXPLAIN_EPISODE_POSTS
    )
    baseline_posts = alert_queries.posts_between(
        session,
        row.topic_id,
        start=row.opened_bucket - EXPLAIN_BASELINE,
        end=row.opened_bucket,
        limit=EXPLAIN_BASELINE_POSTS,
        newest_first=True,
    )
    row.samples = [
        {
            key: post.get(key)
            for key in ("text", "url", "author", "network", "published_at", "compound", "label")
        }
        for post in episode_posts[:sample_posts]
    ]
    row.explanation = explain_episode(
        observed=row.observed,
        expected=row.expected,
        tail=row.score,
        episode_posts=episode_posts,
        baseline_posts=baseline_posts,
        during=during,
        before=before,
    )
