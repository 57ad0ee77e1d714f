"""Spike detection: the Poisson tail, the robust baseline, the detector, and alert episodes."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import ClassVar

import pytest

from monitor.config import DetectionConfig
from monitor.detectors import make_detector
from monitor.detectors.poisson import MIN_EXPECTED, PoissonDetector, poisson_tail, robust_expected
from monitor.episodes import Episode, EpisodeChange, decide_episode, judge_latest
from monitor.model import BucketCount, Verdict

WIDTH = timedelta(minutes=5)
NOW = datetime(2024, 3, 1, 12, 2, 30, tzinfo=UTC)
CURRENT = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)  # the bucket still filling at NOW
PREVIOUS = CURRENT - WIDTH  # the latest complete bucket
T0 = datetime(2024, 3, 1, tzinfo=UTC)


def tail_direct(k: int, lam: Fraction) -> float:
    """P(X >= k), X ~ Poisson(lam): 1 - e^-lam * sum_{i<k} lam^i / i!, the sum done exactly."""
    partial = sum((lam**i / math.factorial(i) for i in range(k)), Fraction(0))
    return 1.0 - math.exp(-float(lam)) * float(partial)


def tail_upper_sum(k: int, lam: float, terms: int = 400) -> float:
    """P(X >= k) as the upper sum e^-lam * sum_{i>=k} lam^i / i!, each term in log space."""
    return math.fsum(
        math.exp(i * math.log(lam) - lam - math.lgamma(i + 1)) for i in range(k, k + terms)
    )


# --- poisson_tail -------------------------------------------------------------------------


@pytest.mark.parametrize("lam", [0.5, 1.0, 3.0, 250.0])
def test_tail_of_zero_or_less_is_one(lam: float) -> None:
    assert poisson_tail(0, lam) == 1.0
    assert poisson_tail(-3, lam) == 1.0


@pytest.mark.parametrize("lam", [0.5, 1.0, 2.5, 10.0])
def test_tail_closed_forms(lam: float) -> None:
    assert poisson_tail(1, lam) == pytest.approx(1 - math.exp(-lam), rel=1e-12)
    assert poisson_tail(2, lam) == pytest.approx(1 - math.exp(-lam) * (1 + lam), rel=1e-12)


@pytest.mark.parametrize(
    ("k", "lam"),
    [
        (3, Fraction(1)),
        (9, Fraction(1)),
        (9, Fraction(2)),
        (15, Fraction(5)),
        (11, Fraction(44, 7)),
        (30, Fraction(10)),
    ],
)
def test_tail_matches_a_direct_sum(k: int, lam: Fraction) -> None:
    expected = tail_direct(k, lam)

    assert poisson_tail(k, float(lam)) == pytest.approx(expected, rel=1e-8)
    assert poisson_tail(k, float(lam)) == pytest.approx(tail_upper_sum(k, float(lam)), rel=1e-8)


def test_tail_with_a_large_rate_does_not_overflow() -> None:
    # e^-1000 underflows to 0 on its own; the log-space sum must not.
    value = poisson_tail(1000, 1000.0)

    assert value == pytest.approx(tail_upper_sum(1000, 1000.0, terms=2000), rel=1e-9)
    assert 0.5 < value < 0.52  # just over a half: the median of Poisson(n) is about n


def test_tail_is_a_probability_and_decreasing_in_k() -> None:
    values = [poisson_tail(k, 4.0) for k in range(0, 40)]

    assert all(0.0 <= v <= 1.0 for v in values)
    assert all(a >= b for a, b in itertools.pairwise(values))


def test_tiny_tails_keep_their_order_and_tiny_thresholds_work() -> None:
    # True values: P(X>=50 | 1) ~ 1.2e-65 < P(X>=50 | 7) ~ 6.2e-26.
    assert poisson_tail(50, 1.0) <= poisson_tail(50, 7.0)
    detector = PoissonDetector(max_p_value=1e-20)
    verdict = detector.evaluate([1] * 100, 50, bucket_start=T0, complete=True)
    assert verdict.anomalous


# --- robust_expected ----------------------------------------------------------------------


def test_expected_ignores_a_single_huge_past_spike() -> None:
    baseline = [1] * 287 + [1000]

    assert robust_expected(baseline) == 1.0
    assert sum(baseline) / len(baseline) > 4  # what a plain mean would have said


def test_expected_never_below_the_floor() -> None:
    assert robust_expected([]) == MIN_EXPECTED == 0.5
    assert robust_expected([0] * 50) == 0.5
    assert robust_expected([0] * 9 + [1]) == 0.5


def test_expected_is_median_or_trimmed_mean_whichever_is_larger() -> None:
    # Median 1.5; trimmed mean of the lowest 90 (50 ones, 40 twos) is 130/90.
    assert robust_expected([1, 2] * 50) == pytest.approx(1.5)
    # A sparse series: median 0, but the lowest 9 of 10 average 6/9.
    assert robust_expected([0] * 6 + [2] * 4) == pytest.approx(6 / 9)


# --- PoissonDetector ----------------------------------------------------------------------


def test_baseline_of_one_or_two_does_not_alert_on_three() -> None:
    verdict = PoissonDetector().evaluate([1, 2] * 50, 3, bucket_start=T0, complete=True)

    assert not verdict.anomalous
    assert verdict.expected == 1.5
    assert verdict.observed == 3


def test_min_count_minus_one_does_not_alert_even_when_improbable() -> None:
    baseline = [1] * 100
    # Under Poisson(1), 9 is improbable (about 1.1e-6) and 9 times the rate...
    assert tail_direct(9, Fraction(1)) < 1e-4

    # ...but below min_count, so no alert; lowering min_count to 9 is all it takes.
    assert (
        not PoissonDetector(min_count=10)
        .evaluate(baseline, 9, bucket_start=T0, complete=True)
        .anomalous
    )
    assert (
        PoissonDetector(min_count=9).evaluate(baseline, 9, bucket_start=T0, complete=True).anomalous
    )


def test_min_ratio_blocks_a_statistically_significant_but_small_rise() -> None:
    baseline = [20] * 100
    # P(X >= 45 | 20) is tiny, yet 45 < 3 * 20.
    assert tail_upper_sum(45, 20.0) < 1e-4

    verdict = PoissonDetector().evaluate(baseline, 45, bucket_start=T0, complete=True)

    assert not verdict.anomalous
    assert (
        PoissonDetector(min_ratio=2.0)
        .evaluate(baseline, 45, bucket_start=T0, complete=True)
        .anomalous
    )


def test_clear_spike_alerts_with_its_figures() -> None:
    verdict = PoissonDetector().evaluate([1] * 288, 40, bucket_start=T0, complete=True)

    assert verdict == Verdict(
        bucket_start=T0,
        observed=40,
        expected=1.0,
        score=verdict.score,
        anomalous=True,
        complete=True,
    )
    assert verdict.score == pytest.approx(tail_upper_sum(40, 1.0), abs=1e-15)
    assert verdict.score <= 1e-4


def test_partial_bucket_with_anomalous_count_is_anomalous() -> None:
    verdict = PoissonDetector().evaluate([1] * 288, 40, bucket_start=T0, complete=False)

    assert verdict.anomalous
    assert verdict.complete is False


def test_make_detector_passes_the_settings() -> None:
    detector = make_detector(
        DetectionConfig(detector="poisson", min_count=4, max_p_value=0.01, min_ratio=2.0)
    )

    assert detector == PoissonDetector(min_count=4, max_p_value=0.01, min_ratio=2.0)


HUGINN = [5, 6, 4, 5, 4, 5, 15, 11, 8, 50]


def flagged(detector: PoissonDetector) -> list[int]:
    """Each value judged against all the values before it, as a growing baseline."""
    return [
        value
        for index, value in enumerate(HUGINN)
        if index
        and detector.evaluate(HUGINN[:index], value, bucket_start=T0, complete=True).anomalous
    ]


def test_huginn_series_with_default_settings_flags_only_fifty() -> None:
    # Before 15 the baseline is 5 (median 5, mean 29/6): 15 is exactly 3x and >= min_count,
    # but P(X >= 15 | 5) ~ 2.3e-4 is above max_p_value 1e-4. Before 50 the baseline is
    # max(median 5, mean 63/9 = 7) = 7, and P(X >= 50 | 7) is ~1e-25.
    assert tail_direct(15, Fraction(5)) > 1e-4
    assert flagged(PoissonDetector()) == [50]


def test_huginn_series_with_a_looser_p_value_also_flags_fifteen() -> None:
    # 11 is then judged against max(5, 44/7): 11 < 3 * 44/7, so it is not a second peak.
    assert flagged(PoissonDetector(max_p_value=1e-3)) == [15, 50]


def test_huginn_series_min_count_decides_about_fifteen() -> None:
    assert flagged(PoissonDetector(max_p_value=1e-3, min_count=16)) == [50]


# --- judge_latest -------------------------------------------------------------------------


@dataclass
class RecordingDetector:
    """Records what it is asked; flags anything at or above `threshold`."""

    kind: ClassVar[str] = "recording"
    threshold: int = 10
    calls: list[tuple[list[int | None], int, datetime, bool]] = field(default_factory=list)

    def history_buckets(self, width: timedelta) -> int:
        return 12

    def evaluate(
        self,
        baseline: Sequence[int | None],
        observed: int,
        *,
        bucket_start: datetime,
        width: timedelta,
        complete: bool,
    ) -> Verdict:
        self.calls.append((list(baseline), observed, bucket_start, complete))
        return Verdict(bucket_start, observed, 0.0, 1.0, observed >= self.threshold, complete)


def ones_since(first: datetime, until: datetime) -> list[BucketCount]:
    """One mention per bucket from `first` up to (not including) `until`."""
    out, moment = [], first
    while moment < until:
        out.append(BucketCount(start=moment, count=1))
        moment += WIDTH
    return out


def judge(stored: Sequence[BucketCount], detector, first: datetime | None, **options):
    settings = {"baseline_buckets": 12, "min_history_buckets": 6} | options
    return judge_latest(
        stored, detector=detector, now=NOW, width=WIDTH, first_bucket=first, **settings
    )


def test_no_verdict_without_any_mention() -> None:
    detector = RecordingDetector()

    assert judge([], detector, None) == []
    assert detector.calls == []


def test_no_verdict_during_warm_up() -> None:
    first = PREVIOUS - 5 * WIDTH  # only five complete buckets before the latest
    detector = RecordingDetector()

    assert judge(ones_since(first, CURRENT), detector, first) == []
    assert detector.calls == []


def test_verdicts_on_latest_complete_and_current_bucket() -> None:
    first = PREVIOUS - 6 * WIDTH  # exactly min_history_buckets
    stored = [
        *ones_since(first, PREVIOUS),
        BucketCount(start=PREVIOUS, count=30),
        BucketCount(start=CURRENT, count=4),
    ]
    detector = RecordingDetector()

    verdicts = judge(stored, detector, first)

    assert [(v.bucket_start, v.observed, v.complete, v.anomalous) for v in verdicts] == [
        (PREVIOUS, 30, True, True),
        (CURRENT, 4, False, False),
    ]
    # Buckets before the first mention are unknown (None), not zeros: the baselines only
    # know the six ones (and, for the current bucket, the complete bucket before it).
    assert detector.calls[0][0] == [None] * 6 + [1] * 6
    assert detector.calls[1][0] == [None] * 5 + [1] * 6 + [30]


def test_baseline_is_limited_to_baseline_buckets() -> None:
    first = PREVIOUS - 100 * WIDTH
    stored = ones_since(first, PREVIOUS)
    detector = RecordingDetector()

    judge(stored, detector, first, baseline_buckets=12)

    assert detector.calls[0][0] == [1] * 12
    assert detector.calls[1][0] == [1] * 11 + [0]  # the latest complete bucket was empty
    assert detector.calls[0][1] == 0
    assert detector.calls[1][1] == 0


def test_judge_latest_with_the_poisson_detector() -> None:
    first = PREVIOUS - 40 * WIDTH
    stored = [*ones_since(first, PREVIOUS), BucketCount(start=CURRENT, count=25)]

    complete, current = judge(
        stored, PoissonDetector(), first, baseline_buckets=36, min_history_buckets=36
    )

    assert (complete.observed, complete.anomalous) == (0, False)
    assert (current.observed, current.anomalous, current.complete) == (25, True, False)
    # Baseline of the current bucket: 35 ones and one empty bucket -> median 1.
    assert current.expected == 1.0


def test_judge_latest_is_deterministic() -> None:
    first = PREVIOUS - 40 * WIDTH
    stored = [*ones_since(first, PREVIOUS), BucketCount(start=PREVIOUS, count=25)]

    runs = [judge(list(stored), PoissonDetector(), first) for _ in range(3)]

    assert runs[0] == runs[1] == runs[2]
    assert len(runs[0]) == 2


# --- decide_episode -----------------------------------------------------------------------


def verdict(start: datetime, observed: int, *, anomalous: bool, complete: bool = True) -> Verdict:
    return Verdict(start, observed, 1.0, 1e-9 if anomalous else 0.5, anomalous, complete)


def decide(episode: Episode | None, verdicts: Sequence[Verdict]) -> EpisodeChange | None:
    return decide_episode(episode, verdicts, width=WIDTH, resolve_after_buckets=2)


def test_quiet_without_episode_changes_nothing() -> None:
    assert decide(None, [verdict(PREVIOUS, 1, anomalous=False)]) is None
    assert decide(None, []) is None


def test_first_anomalous_verdict_opens_an_episode() -> None:
    complete = verdict(PREVIOUS, 30, anomalous=True)
    partial = verdict(CURRENT, 40, anomalous=True, complete=False)

    assert decide(None, [complete, partial]) == EpisodeChange("open", complete)
    assert decide(None, [verdict(PREVIOUS, 1, anomalous=False), partial]) == EpisodeChange(
        "open", partial
    )


def test_anomalous_verdicts_update_an_open_episode_with_the_largest() -> None:
    episode = Episode(opened_bucket=PREVIOUS - WIDTH, last_bucket=PREVIOUS - WIDTH, peak_count=30)
    complete = verdict(PREVIOUS, 35, anomalous=True)
    partial = verdict(CURRENT, 50, anomalous=True, complete=False)

    assert decide(episode, [complete, partial]) == EpisodeChange("update", partial)
    assert decide(episode, [complete]) == EpisodeChange("update", complete)


def test_episode_stays_open_for_fewer_quiet_buckets_than_resolve_after() -> None:
    episode = Episode(opened_bucket=PREVIOUS - WIDTH, last_bucket=PREVIOUS - WIDTH, peak_count=30)
    quiet = [
        verdict(PREVIOUS, 2, anomalous=False),
        verdict(CURRENT, 1, anomalous=False, complete=False),
    ]

    assert decide(episode, quiet) is None


def test_episode_resolves_after_enough_quiet_buckets() -> None:
    episode = Episode(
        opened_bucket=PREVIOUS - 3 * WIDTH, last_bucket=PREVIOUS - 2 * WIDTH, peak_count=30
    )
    latest = verdict(PREVIOUS, 2, anomalous=False)

    change = decide(episode, [latest, verdict(CURRENT, 1, anomalous=False, complete=False)])

    assert change == EpisodeChange("resolve", latest)


def test_only_a_partial_quiet_verdict_never_resolves() -> None:
    episode = Episode(opened_bucket=T0, last_bucket=T0, peak_count=30)

    assert decide(episode, [verdict(CURRENT, 0, anomalous=False, complete=False)]) is None


def test_resolve_after_is_respected() -> None:
    episode = Episode(opened_bucket=T0, last_bucket=PREVIOUS - 3 * WIDTH, peak_count=30)
    quiet = [verdict(PREVIOUS, 0, anomalous=False)]

    assert decide_episode(episode, quiet, width=WIDTH, resolve_after_buckets=4) is None
    assert decide_episode(episode, quiet, width=WIDTH, resolve_after_buckets=3) == EpisodeChange(
        "resolve", quiet[0]
    )


def test_decide_episode_is_deterministic() -> None:
    episode = Episode(opened_bucket=T0, last_bucket=PREVIOUS - WIDTH, peak_count=30)
    verdicts = [verdict(PREVIOUS, 31, anomalous=True), verdict(CURRENT, 31, anomalous=True)]

    results = {decide(episode, verdicts) for _ in range(5)}

    assert results == {EpisodeChange("update", verdicts[0])}


def test_polling_and_storing_code_does_not_load_scipy() -> None:
    """scipy.special (~40 MB a process) loads only when a count is judged, so the workers of
    the polling and storing queues stay small."""
    import subprocess
    import sys

    probe = (
        "import sys, monitor.pipeline, monitor.scoring, monitor.storage.queries;"
        "assert not [m for m in sys.modules if m.startswith('scipy')];"
        "from monitor.detectors.counts import poisson_upper;"
        "assert 0 < poisson_upper(5, 1.0) < 0.01;"
        "assert 'scipy.special' in sys.modules"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
