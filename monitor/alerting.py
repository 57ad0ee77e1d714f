"""One topic's alert of one kind, judged live: verdicts -> episode change -> stored row.

The work of one call is bounded by the detector's history window (timeline buckets) and the
explanation's post limits, never by how many mentions are stored.
"""

from __future__ import annotations

import operator
import struct
import zlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from monitor.config import ExpectedEvent
from monitor.detectors import incremental
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
from monitor.storage.engine import session_scope
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


@dataclass(frozen=True, slots=True)
class TopicJob:
    """One topic's alert kind to judge in a detection run."""

    topic: str
    topic_id: int
    kind: str
    detector: Any
    policy: EpisodePolicy
    feed_ids: tuple[int, ...] = ()  # the feeds serving the topic (their outages are unknown)


def judge_topics(
    sessions: sessionmaker[Session],
    jobs: Sequence[TopicJob],
    *,
    width: timedelta,
    min_history_buckets: int,
    sample_posts: int,
    now: datetime,
    expected_events: Sequence[ExpectedEvent] = (),
) -> list[tuple[TopicJob, TopicAlertOutcome]]:
    """Judge every job's latest buckets and open, escalate, surge, update or resolve its alert;
    return what changed. The verdicts and the open episodes of all jobs come from one
    transaction with a few queries for all topics; each change is then written in its own
    transaction. An expected event with action "suppress" keeps an alert from opening
    during it; one with "annotate" is named in the explanation."""
    pending: list[tuple[TopicJob, EpisodeChange]] = []
    with session_scope(sessions) as session:
        verdicts = job_verdicts(
            session, jobs, width=width, now=now, min_history_buckets=min_history_buckets
        )
        episodes = alert_queries.open_episodes(session, sorted({job.topic_id for job in jobs}))
        for job, judged in zip(jobs, verdicts, strict=True):
            row = episodes.get((job.topic_id, job.kind))
            episode = None
            if row is not None:
                episode = Episode(
                    row.opened_bucket,
                    row.last_bucket,
                    row.peak_count,
                    _level(row.severity),
                    row.raised_count,
                )
            resolved = None
            if episode is None and any(verdict.anomalous for verdict in judged):
                # Only an opening needs the cooldown of the last episode.
                resolved = alert_queries.last_resolved(session, job.topic_id, job.kind)
            change = decide_alert(
                episode,
                judged,
                job.policy,
                width=width,
                resolved_bucket=resolved[0] if resolved else None,
                resolved_severity=_level(resolved[1]) if resolved else 0,
                resolved_peak=resolved[2] if resolved else None,
            )
            if change is not None and change.verdict is not None:
                pending.append((job, change))
    outcomes = []
    for job, change in pending:
        with session_scope(sessions) as session:
            outcome = _apply_change(
                session,
                job,
                change,
                width=width,
                sample_posts=sample_posts,
                now=now,
                expected_events=expected_events,
            )
        if outcome is not None:
            outcomes.append((job, outcome))
    return outcomes


def job_verdicts(
    session: Session,
    jobs: Sequence[TopicJob],
    *,
    width: timedelta,
    now: datetime,
    min_history_buckets: int,
) -> list[list[Verdict]]:
    """Return each job's verdicts on its latest complete bucket and the one filling at
    `now`: the seasonal detector's from its stored state (`live_verdicts`), the other
    detectors' from their whole history window."""
    seasonal = [job for job in jobs if incremental.supports(job.detector)]
    live = live_verdicts(
        session, seasonal, width=width, now=now, min_history_buckets=min_history_buckets
    )
    results = []
    for job in jobs:
        if incremental.supports(job.detector):
            results.append(live[(job.topic_id, job.kind)])
            continue
        size = job.detector.history_buckets(width)
        start = now - width * (size + 2)
        stored = queries.load_buckets(session, job.topic_id, start=start, end=now + width)
        outages = alert_queries.outage_buckets(session, job.feed_ids, start=start, end=now + width)
        if hasattr(job.detector, "evaluate_share"):
            results.append(
                judge_share(stored, detector=job.detector, now=now, width=width, excluded=outages)
            )
            continue
        results.append(
            judge_latest(
                stored,
                excluded=outages,
                detector=job.detector,
                now=now,
                width=width,
                baseline_buckets=size,
                min_history_buckets=min_history_buckets,
                first_bucket=queries.first_bucket(session, job.topic_id),
            )
        )
    return results


def _apply_change(
    session: Session,
    job: TopicJob,
    change: EpisodeChange,
    *,
    width: timedelta,
    sample_posts: int,
    now: datetime,
    expected_events: Sequence[ExpectedEvent],
) -> TopicAlertOutcome | None:
    assert change.verdict is not None
    events = [e for e in expected_events if e.covers(job.topic, change.verdict.bucket_start)]
    if change.action == "open" and any(e.action == "suppress" for e in events):
        return None
    row = queries.open_alert(session, job.topic_id, job.kind)
    row = _apply(
        session, row, change, topic_id=job.topic_id, kind=job.kind, policy=job.policy, now=now
    )
    if row is None:
        return None
    _refresh(session, row, width=width, sample_posts=sample_posts)
    opened_during = [e for e in expected_events if e.covers(job.topic, row.opened_bucket)]
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


@dataclass(slots=True)
class _Plan:
    """How one seasonal job reads its counts this run."""

    job: TopicJob
    key: str
    start: datetime
    state: incremental.ScanState | None
    remembered: tuple[int, ...] = ()  # the state's counts of [start, settled), if they stand
    settled: datetime | None = None


def live_verdicts(
    session: Session,
    jobs: Sequence[TopicJob],
    *,
    width: timedelta,
    now: datetime,
    min_history_buckets: int,
) -> dict[tuple[int, str], list[Verdict]]:
    """Return {(topic id, kind): verdicts} of seasonal-detector jobs on the latest complete
    bucket and the one filling at `now` (none during warm-up): the same verdicts as
    `judge_latest`, judging only the buckets that changed or completed since the stored
    state. For all jobs at once it reads the stored states, the first buckets, a checksum of
    the remembered counts, the counts since the last run (an hour back: late posts), and
    the outages; then it stores the new states."""
    current = bucket_start(now, width)
    end = current + width
    results: dict[tuple[int, str], list[Verdict]] = {job_key(job): [] for job in jobs}
    topic_ids = sorted({job.topic_id for job in jobs})
    firsts = alert_queries.first_buckets(session, topic_ids)
    stored = alert_queries.load_detector_states(session, topic_ids)
    plans: list[_Plan] = []
    for job in jobs:
        first = firsts.get(job.topic_id)
        if first is None or (current - width - first) / width < min_history_buckets:
            continue  # warm-up
        span = incremental.span_buckets(job.detector, width)
        start = current - width * span
        key = incremental.fingerprint(job.detector, width)
        found = stored.get(job_key(job))
        state = _decode(found[1]) if found and found[0] == key else None
        plan = _Plan(job, key, start, state)
        if state is not None and start <= state.through <= current:
            settled = max(start, state.through - SETTLE)
            skip = round((start - state.through) / width) + len(state.counts)
            if skip >= 0:
                plan.settled = settled
                plan.remembered = state.counts[skip : skip + round((settled - start) / width)]
        plans.append(plan)
    # The remembered counts stand where the database agrees on their sum and sum of squares.
    by_range: dict[tuple[datetime, datetime], set[int]] = {}
    for plan in plans:
        if plan.settled is not None and plan.settled > plan.start:
            by_range.setdefault((plan.start, plan.settled), set()).add(plan.job.topic_id)
    checksums = {
        (topic_id, *bounds): checksum
        for bounds, ids in by_range.items()
        for topic_id, checksum in alert_queries.count_checksums(
            session, sorted(ids), start=bounds[0], end=bounds[1]
        ).items()
    }
    read_from: dict[datetime, set[int]] = {}
    for plan in plans:
        if plan.settled is not None and plan.settled > plan.start:
            remembered = plan.remembered
            agreed = (sum(remembered), sum(map(operator.mul, remembered, remembered)))
            if checksums.get((plan.job.topic_id, plan.start, plan.settled), (0, 0)) != agreed:
                plan.settled, plan.remembered = None, ()
        if plan.settled is None:
            plan.remembered = ()
        begin = plan.settled or plan.start
        read_from.setdefault(begin, set()).add(plan.job.topic_id)
    rows = {
        (topic_id, begin): counts
        for begin, ids in read_from.items()
        for topic_id, counts in alert_queries.bucket_counts_of(
            session, sorted(ids), start=begin, end=end
        ).items()
    }
    feeds = sorted({feed for plan in plans for feed in plan.job.feed_ids})
    earliest = min((plan.start for plan in plans), default=current)
    outages = alert_queries.outages_by_feed(session, feeds, start=earliest, end=end)
    states: list[tuple[int, str, str, bytes]] = []
    for plan in plans:
        job, start = plan.job, plan.start
        span = round((current - start) / width)
        counts = [0] * (span + 1)
        counts[: len(plan.remembered)] = plan.remembered
        for moment, count in rows.get((job.topic_id, plan.settled or start), ()):
            counts[round((moment - start) / width)] = count
        excluded = {
            round((moment - start) / width)
            for feed in job.feed_ids
            for moment in outages.get(feed, ())
            if moment >= start
        }
        first = firsts[job.topic_id]
        assert first is not None
        before_first = max(0, min(span + 1, round((first - start) / width)))
        unknown = set(range(before_first)) | excluded
        verdicts, next_state, _ = incremental.judge(
            job.detector, plan.state, counts, unknown, start=start, width=width, excluded=excluded
        )
        results[job_key(job)] = verdicts
        states.append((job.topic_id, job.kind, plan.key, next_state.encode()))
    alert_queries.save_detector_states(session, states)
    return results


def job_key(job: TopicJob) -> tuple[int, str]:
    return (job.topic_id, job.kind)


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
            raised_count=verdict.observed,
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
    alerted_again = change.action in ("escalate", "surge")
    if alerted_again:
        row.raised_count = verdict.observed
    stronger = verdict.observed > row.peak_count if kind != "drop" else False
    if stronger or (alerted_again and verdict.anomalous):
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
