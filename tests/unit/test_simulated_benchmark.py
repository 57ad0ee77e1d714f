"""The benchmarks' NAB scorer and the simulated series they choose settings on."""

from __future__ import annotations

import math
import random
import statistics
from collections import Counter

import pytest

from benchmarks.detection import score_file
from benchmarks.simulated import EVENTS, contenders, nab_windows, simulate, windows_hit_by_kind
from monitor.detectors import detector_from_preset
from monitor.detectors.counts import robust_spread


def test_robust_spread_is_the_scaled_mad_or_a_trimmed_sd_both_near_one_on_normal_values() -> None:
    rng = random.Random(7)
    normal = [rng.gauss(0.0, 1.0) for _ in range(20_000)]
    values = [1.0, 2.0, 2.0, 3.0, 10.0]
    assert robust_spread(values) == pytest.approx(1.4826 * 1.0)  # MAD around 2 is 1
    assert robust_spread([]) == 0.0
    for trim in (None, 0.05, 0.10, 0.25):
        assert robust_spread(normal, trim) == pytest.approx(1.0, abs=0.03)
    # A trim cuts the outlier that an untrimmed standard deviation keeps.
    z = statistics.NormalDist().inv_cdf(0.8)
    central_sd = math.sqrt(1.0 - 2.0 * z * statistics.NormalDist().pdf(z) / 0.6)
    assert robust_spread(values, 0.2) == pytest.approx(
        statistics.pstdev([2.0, 2.0, 3.0]) / central_sd
    )
    assert robust_spread(values, 0.2) < statistics.pstdev(values) / 3


def test_nab_windows_are_centred_merged_and_dropped_inside_probation() -> None:
    rows = 10_000
    width = int(0.10 * rows / 3)
    windows = nab_windows([5_000, 5_100, 9_990], rows)
    assert windows == [(5_000 - width // 2, 5_100 + width // 2), (9_990 - width // 2, rows - 1)]
    assert nab_windows([800], rows) == []  # its window would start inside the 750 rows


def test_simulated_series_are_deterministic_with_labels_after_probation() -> None:
    first, again, other = simulate(3, buckets=4_000), simulate(3, buckets=4_000), simulate(4, 4_000)
    assert first == again
    assert first.values != other.values
    assert len(first.labels) == EVENTS and len(first.windows) == EVENTS
    for label, (lo, hi) in zip(first.labels, first.windows, strict=True):
        assert 750 <= lo <= label <= hi
        # A labelled event stands out against the hour before it.
        assert max(first.values[label : label + 12]) > statistics.median(
            first.values[label - 12 : label]
        )


def test_scorer_rewards_an_early_hit_and_charges_misses_and_false_rows() -> None:
    windows, labels = [(1_000, 1_099)], [1_050]
    at_start = score_file([i == 1_000 for i in range(2_000)], windows, labels)
    late = score_file([i == 1_090 for i in range(2_000)], windows, labels)
    missed = score_file([i == 1_500 for i in range(2_000)], windows, labels)
    assert at_start.raw["standard"] == pytest.approx(1.0)
    assert 0 < late.raw["standard"] < at_start.raw["standard"]
    assert late.spikes_within_hour == 0 and late.delays_minutes == [200.0]
    assert missed.raw["standard"] < -1.0 and missed.false_rows == 1 and missed.hits == 0
    assert math.isclose(missed.raw["low-FN"], missed.raw["standard"] - 1.0)


def test_simulated_benchmark_scores_the_shipped_default_first_and_the_baselines() -> None:
    named = contenders()
    ((first_detector, first_policy),) = next(iter(named.values()))
    assert first_detector == detector_from_preset("balanced")
    assert first_policy.max_p_value == first_detector.max_p_value
    assert {"Huginn PeakDetector rule, defaults", "robust z (median/MAD of 24 h, k = 10)"} <= set(
        named
    )


def test_windows_are_counted_as_hit_per_kind_of_event() -> None:
    series = simulate(5, buckets=4_000)
    assert sorted(set(series.kinds)) <= ["level", "spike"]
    assert len(series.kinds) == len(series.labels)
    nothing = [False] * 4_000
    assert windows_hit_by_kind(series, nothing) == Counter()
    first_label, first_kind = series.labels[0], series.kinds[0]
    only_first = [i == first_label for i in range(4_000)]
    assert windows_hit_by_kind(series, only_first) == Counter({first_kind: 1})
    everything = [True] * 4_000
    assert windows_hit_by_kind(series, everything) == Counter(series.kinds)
