"""A count-aware spike detector: Poisson tail probability against a robust baseline."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

from monitor.model import Verdict

# A baseline of zero would make any single post infinitely surprising.
MIN_EXPECTED = 0.5


def poisson_tail(observed: int, expected: float) -> float:
    """Return P(X >= observed) for X ~ Poisson(expected)."""
    if observed <= 0:
        return 1.0
    log_rate = math.log(expected)
    if observed > expected:
        # Sum the upper tail itself: 1 - CDF cannot resolve tails below ~1e-16.
        log_term = observed * log_rate - expected - math.lgamma(observed + 1)
        total, k = 0.0, observed
        while True:
            term = math.exp(log_term)
            total += term
            k += 1
            log_term += log_rate - math.log(k)
            if term < total * 1e-17 or k > observed + 100_000:
                return min(1.0, total)
    log_term = -expected
    cdf = math.exp(log_term)
    for k in range(1, observed):
        log_term += log_rate - math.log(k)
        cdf += math.exp(log_term)
    return max(0.0, min(1.0, 1.0 - cdf))


def robust_expected(baseline: Sequence[int]) -> float:
    """Return the baseline rate: the larger of the median and the mean without the top tenth,
    so that past spikes do not inflate it and sparse series do not collapse it to zero."""
    if not baseline:
        return MIN_EXPECTED
    ordered = sorted(baseline)
    kept = ordered[: max(1, math.ceil(len(ordered) * 0.9))]
    return max(MIN_EXPECTED, statistics.median(ordered), statistics.fmean(kept))


@dataclass(frozen=True)
class PoissonDetector:
    """Flags a bucket whose count is improbable under Poisson(baseline rate) and also large
    in absolute and relative terms. Options: `min_count`, `max_p_value`, `min_ratio`."""

    kind: ClassVar[str] = "poisson"
    min_count: int = 10
    max_p_value: float = 1e-4
    min_ratio: float = 3.0
    baseline_buckets: int = 288

    def history_buckets(self, width: timedelta | None = None) -> int:
        """Return how many buckets of history one verdict reads."""
        return self.baseline_buckets

    def evaluate(
        self,
        baseline: Sequence[int | None],
        observed: int,
        *,
        bucket_start: datetime,
        complete: bool,
        width: timedelta | None = None,
    ) -> Verdict:
        """Return the verdict on one bucket (a partial bucket can only grow, so an anomalous
        partial count is already a spike)."""
        expected = robust_expected([count for count in baseline if count is not None])
        tail = poisson_tail(observed, expected)
        anomalous = (
            observed >= self.min_count
            and observed >= self.min_ratio * expected
            and tail <= self.max_p_value
        )
        return Verdict(
            bucket_start=bucket_start,
            observed=observed,
            expected=round(expected, 4),
            score=tail,
            anomalous=anomalous,
            complete=complete,
        )
