"""Verdicts -> alert episode changes: one alert per spike episode, not one per bucket."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from monitor.model import BucketCount, Verdict
from monitor.timeline import bucket_start, zero_filled

if TYPE_CHECKING:  # the detectors package imports this module
    from monitor.detectors.base import Detector


@dataclass(frozen=True, slots=True)
class Episode:
    """The stored state of an open alert episode that the decision needs."""

    opened_bucket: datetime
    last_bucket: datetime
    peak_count: int
    severity: int = 0
    raised_count: int | None = None  # the count the episode last alerted on (open/escalate/surge)


@dataclass(frozen=True, slots=True)
class EpisodeChange:
    """What to do with the topic's alert: open one, extend the open one, or resolve it."""

    action: Literal["open", "escalate", "surge", "update", "resolve"]
    verdict: Verdict | None = None


def judge_latest(
    stored: Sequence[BucketCount],
    *,
    detector: Detector,
    now: datetime,
    width: timedelta,
    baseline_buckets: int,
    min_history_buckets: int,
    first_bucket: datetime | None,
    excluded: Collection[datetime] = (),
) -> list[Verdict]:
    """Return verdicts on the latest complete bucket and the one still filling at `now`,
    each against the `baseline_buckets` before it; none during warm-up."""
    current = bucket_start(now, width)
    previous = current - width
    if first_bucket is None or (previous - first_bucket) / width < min_history_buckets:
        return []
    start = previous - width * baseline_buckets
    series = zero_filled(stored, start=start, end=current + width, width=width)
    counts = [bucket.count for bucket in series]
    verdicts = []
    for index, complete in ((len(series) - 2, True), (len(series) - 1, False)):
        history_from = max(0, index - baseline_buckets)
        # Buckets before the topic's first mention are unknown, not quiet.
        # So are buckets in which a source serving the topic was failing.
        history: list[int | None] = [
            count if bucket.start >= first_bucket and bucket.start not in excluded else None
            for bucket, count in zip(
                series[history_from:index], counts[history_from:index], strict=True
            )
        ]
        if series[index].start in excluded:
            verdicts.append(Verdict(series[index].start, counts[index], 0.0, 1.0, False, complete))
            continue
        verdicts.append(
            detector.evaluate(
                history,
                counts[index],
                bucket_start=series[index].start,
                width=width,
                complete=complete,
            )
        )
    return verdicts


def decide_episode(
    episode: Episode | None,
    verdicts: Sequence[Verdict],
    *,
    width: timedelta,
    resolve_after_buckets: int,
) -> EpisodeChange | None:
    """Return the change to the topic's alert given the latest verdicts, or None."""
    anomalous = [verdict for verdict in verdicts if verdict.anomalous]
    if anomalous:
        if episode is None:
            return EpisodeChange("open", anomalous[0])
        return EpisodeChange("update", max(anomalous, key=lambda v: v.observed))
    if episode is None:
        return None
    complete = [verdict for verdict in verdicts if verdict.complete]
    if not complete:
        return None
    quiet_buckets = (complete[-1].bucket_start - episode.last_bucket) / width
    if quiet_buckets >= resolve_after_buckets:
        return EpisodeChange("resolve", complete[-1])
    return None


SEVERITIES = ("minor", "major", "critical")
# The episode changes that tell a user something new (alert rows of a replay).
ALERT_ACTIONS = ("open", "escalate", "surge")


def severity_level(verdict: Verdict) -> int:
    """Return 1 (minor), 2 (major) or 3 (critical) by how far the count is from its
    expectation: under 4 times (or a quarter, for drops), under 16 times, or beyond.
    The tail probability already decided that the bucket is anomalous; the size of the
    change is what a reader weighs next."""
    ratio = (verdict.observed + 1.0) / (verdict.expected + 1.0)
    if ratio < 1:
        ratio = 1 / ratio
    return 3 if ratio >= 16 else 2 if ratio >= 4 else 1


@dataclass(frozen=True, slots=True)
class EpisodePolicy:
    """When an episode opens, stays open, escalates and resolves.

    `resolve_after_buckets` consecutive calm buckets (tail probability above
    `calm_p_value`, i.e. back within ordinary variation) resolve it; no new episode opens
    within `cooldown_minutes` of the last one resolving, unless it is bigger than that one
    (a cooldown holds back repeats, not a bigger event). An open episode alerts again when
    it escalates to a higher severity, or *surges*: an anomalous bucket above its
    expectation with at least `surge_ratio` times the count the episode last alerted on (a
    burst on top of an hours-long episode is news; 0 turns surges off). A rise re-alerts
    only when it is beyond chance of the count already reported (`beyond_reported`).
    `max_p_value` is the detector's alert threshold (the 0-1 score of a replay is 0.5
    there).
    """

    # An hour of calm at 5-minute buckets: a burst with a quiet quarter-hour in it is one
    # episode, not two.
    resolve_after_buckets: int = 12
    # Still elevated while the count is in the upper 5 % tail of ordinary variation.
    calm_p_value: float = 0.05
    cooldown_minutes: int = 720
    surge_ratio: float = 2.0
    max_p_value: float = 1e-6
    # Huginn-style peaks: the episode is its opening bucket alone (cooldown from there).
    single_bucket: bool = False


@dataclass(frozen=True, slots=True)
class EpisodeState:
    """What the episode rules remember between buckets (stored on the alert row live)."""

    open_since: datetime | None = None
    calm_buckets: int = 0
    resolved_bucket: datetime | None = None
    severity: int = 0
    resolved_severity: int = 0  # of the episode the cooldown follows
    peak: int = 0  # the open episode's highest count so far
    resolved_peak: int | None = None  # the highest count of the episode the cooldown follows
    raised: int = 0  # the count the open episode last alerted on


def beyond_reported(verdict: Verdict, raised_count: int | None, max_p_value: float) -> bool:
    """Return True unless a rise is within chance of the count the episode last alerted on:
    a count above its expectation must be as improbable under a Poisson with that count
    as its mean as an opening is against the baseline (`max_p_value`). One more post on a
    near-empty topic (3 -> 4 against 0.2 expected) is not news; a doubling of hundreds is.
    Drops deepening are judged by their severity alone."""
    if raised_count is None or verdict.observed <= verdict.expected:
        return True
    from monitor.detectors.counts import poisson_upper  # the detectors package imports us

    return poisson_upper(verdict.observed, max(1.0, raised_count)) <= max_p_value


def escalates(
    verdict: Verdict, severity: int, raised_count: int | None, max_p_value: float
) -> bool:
    """Return True when an anomalous bucket of an open episode raises its severity band by a
    change beyond chance (`beyond_reported`)."""
    return (
        verdict.anomalous
        and severity_level(verdict) > severity
        and beyond_reported(verdict, raised_count, max_p_value)
    )


def surges(
    verdict: Verdict, raised_count: int | None, surge_ratio: float, max_p_value: float
) -> bool:
    """Return True when an anomalous bucket of an open episode is a surge: above its
    expectation (never a drop deepening) with at least `surge_ratio` times the count the
    episode last alerted on, and beyond chance of it (`beyond_reported`)."""
    return (
        surge_ratio > 0
        and verdict.anomalous
        and raised_count is not None
        and verdict.observed > verdict.expected
        and verdict.observed >= surge_ratio * max(1, raised_count)
        and beyond_reported(verdict, raised_count, max_p_value)
    )


def tops_last_episode(
    verdict: Verdict, level: int, resolved_severity: int, resolved_peak: int | None
) -> bool:
    """Return True when an anomalous bucket in a cooldown is a bigger event than the episode
    the cooldown follows: of a higher severity, or above that episode's peak count. A
    cooldown holds back repeats of a burst, never the news that it grew."""
    return level > resolved_severity or (
        resolved_peak is not None and verdict.observed > resolved_peak
    )


def step_episode(
    state: EpisodeState, verdict: Verdict, policy: EpisodePolicy, *, width: timedelta
) -> tuple[EpisodeState, str | None]:
    """Return the next state and the action on this bucket: "open", "escalate" (anomalous
    and of a higher severity than before), "surge" (see `EpisodePolicy`), "update"
    (anomalous or still elevated), "hold"
    (calm, not yet resolved), "resolve", "suppressed" (anomalous in the cooldown, and no
    bigger than the episode before) or None."""
    level = severity_level(verdict) if verdict.anomalous else 0
    if state.open_since is None:
        if not verdict.anomalous:
            return state, None
        if (
            state.resolved_bucket is not None
            and verdict.bucket_start - state.resolved_bucket
            < timedelta(minutes=policy.cooldown_minutes)
            and (
                policy.single_bucket
                or not tops_last_episode(
                    verdict, level, state.resolved_severity, state.resolved_peak
                )
            )
        ):
            return state, "suppressed"
        if policy.single_bucket:
            return EpisodeState(resolved_bucket=verdict.bucket_start), "open"
        return (
            EpisodeState(
                open_since=verdict.bucket_start,
                severity=level,
                peak=verdict.observed,
                raised=verdict.observed,
            ),
            "open",
        )
    peak = max(state.peak, verdict.observed)
    if escalates(verdict, state.severity, state.raised, policy.max_p_value):
        return EpisodeState(
            open_since=state.open_since, severity=level, peak=peak, raised=verdict.observed
        ), "escalate"
    if surges(verdict, state.raised, policy.surge_ratio, policy.max_p_value):
        return EpisodeState(
            open_since=state.open_since, severity=state.severity, peak=peak, raised=verdict.observed
        ), "surge"
    if verdict.anomalous or verdict.score <= policy.calm_p_value:
        return EpisodeState(
            open_since=state.open_since, severity=state.severity, peak=peak, raised=state.raised
        ), "update"
    calm = state.calm_buckets + 1
    if calm >= policy.resolve_after_buckets:
        return (
            EpisodeState(
                resolved_bucket=verdict.bucket_start,
                resolved_severity=state.severity,
                resolved_peak=state.peak,
            ),
            "resolve",
        )
    return (
        EpisodeState(
            open_since=state.open_since,
            calm_buckets=calm,
            severity=state.severity,
            peak=state.peak,
            raised=state.raised,
        ),
        "hold",
    )


def decide_alert(
    episode: Episode | None,
    verdicts: Sequence[Verdict],
    policy: EpisodePolicy,
    *,
    width: timedelta,
    resolved_bucket: datetime | None,
    resolved_severity: int = 0,
    resolved_peak: int | None = None,
) -> EpisodeChange | None:
    """Return the change to a topic's alert of one kind given the latest verdicts (the last
    complete bucket and the one filling), or None. The live counterpart of `step_episode`:
    idempotent when the same buckets are judged again by the next run."""
    anomalous = [verdict for verdict in verdicts if verdict.anomalous]
    if episode is None:
        if not anomalous:
            return None
        first = anomalous[0]
        if (
            resolved_bucket is not None
            and first.bucket_start - resolved_bucket < timedelta(minutes=policy.cooldown_minutes)
            and not tops_last_episode(
                first, severity_level(first), resolved_severity, resolved_peak
            )
        ):
            return None  # in the cooldown after the last episode, and no bigger than it
        return EpisodeChange("open", first)
    if anomalous:
        raised = episode.raised_count if episode.raised_count is not None else episode.peak_count
        strongest = max(anomalous, key=severity_level)
        if escalates(strongest, episode.severity, raised, policy.max_p_value):
            return EpisodeChange("escalate", strongest)
        largest = max(anomalous, key=lambda v: v.observed)
        if surges(largest, raised, policy.surge_ratio, policy.max_p_value):
            return EpisodeChange("surge", largest)
        return EpisodeChange("update", largest)
    complete = [verdict for verdict in verdicts if verdict.complete]
    if not complete:
        return None
    latest = complete[-1]
    if latest.score <= policy.calm_p_value:
        return EpisodeChange("update", latest)  # still elevated: the episode goes on
    calm_buckets = (latest.bucket_start - episode.last_bucket) / width
    if calm_buckets >= policy.resolve_after_buckets:
        return EpisodeChange("resolve", latest)
    return None
