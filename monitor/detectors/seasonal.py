"""The default detector: a seasonal, robust, count-aware baseline with negative-binomial tails.

For the bucket being judged it looks only at buckets before it (causal):

* the same time of day on each of the previous `days` days (a slot `slot_minutes` wide
  around the same clock time): their median is the seasonal expectation, so a daily peak
  that happens every day is expected, and a past spike (one value among dozens) does not
  move it;
* the last `level_minutes` against the same minutes on the previous days: their ratio of
  medians scales the expectation, so a busier-than-usual week or weekend is followed;
* the spread of the same-slot values after removing each day's level: the extra-Poisson
  dispersion of a negative binomial, so a noisy topic needs a larger jump than a calm one,
  and a topic with 0-2 posts per bucket is judged by count probabilities, not a z-score.

The bucket is anomalous when the tail probability of its count (or of the sum of the last
`sustain_buckets`, which catches hours-long raised levels whose single buckets look
ordinary) is at most `max_p_value`, and it exceeds the expectation by `min_excess` mentions
and `min_ratio` times. No verdict is anomalous before `warmup_days` of history exist.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

from monitor.detectors.counts import log_surprise, mad, median, nb_lower, nb_upper
from monitor.model import Verdict

DAY = timedelta(days=1)
# Each value's own Poisson noise is part of its spread; a level this low would make the
# relative dispersion of a near-empty topic explode.
_MIN_LEVEL = 1.0


@dataclass(frozen=True)
class SeasonalDetector:
    """Seasonal negative-binomial detector. Options (see the module docstring): `days`,
    `slot_minutes`, `level_minutes`, `sustain_buckets`, `max_p_value`, `min_excess`,
    `min_ratio`, `min_dispersion`, `warmup_days`, `direction` ("up" for spikes, "down"
    for drops)."""

    kind: ClassVar[str] = "seasonal"
    days: int = 7
    slot_minutes: int = 60
    level_minutes: int = 60
    sustain_buckets: int = 6
    max_p_value: float = 1e-6
    min_excess: float = 5.0
    min_ratio: float = 1.5
    min_dispersion: float = 0.01
    warmup_days: float = 1.0
    direction: str = "up"

    def history_buckets(self, width: timedelta) -> int:
        """Return how many buckets of history one verdict reads (its whole cost)."""
        per_day = max(1, round(DAY / width))
        half_slot = self._half_slot(width)
        return self.days * per_day + half_slot + 1

    def _half_slot(self, width: timedelta) -> int:
        return max(0, round(timedelta(minutes=self.slot_minutes) / width / 2))

    def baseline(
        self, history: Sequence[int | None], *, width: timedelta
    ) -> tuple[float, float, int] | None:
        """Return (expected count, dispersion, days of history used) for the bucket right
        after `history`, or None when there is not enough known history."""
        per_day = max(1, round(DAY / width))
        half = self._half_slot(width)
        level_n = max(1, round(timedelta(minutes=self.level_minutes) / width))
        n = len(history)
        slot_values: list[float] = []
        day_levels: list[float] = []
        normalized: list[float] = []
        past_level_values: list[float] = []
        used_days = 0
        for day in range(1, self.days + 1):
            centre = n - day * per_day  # index of the same clock time `day` days ago
            lo, hi = centre - half, centre + half + 1
            if lo < 0:
                break
            values = [v for v in history[lo : min(hi, n)] if v is not None]
            if len(values) < max(1, (hi - lo) // 2):
                continue
            used_days += 1
            slot_values.extend(values)
            day_level = max(_MIN_LEVEL, median(values))
            day_levels.append(day_level)
            normalized.extend(v / day_level for v in values)
            past = [v for v in history[max(0, centre - level_n) : centre] if v is not None]
            past_level_values.extend(past)
        if used_days == 0 or used_days < self.warmup_days:
            return None
        seasonal = median(slot_values)
        recent = [v for v in history[max(0, n - level_n) :] if v is not None]
        ratio = 1.0
        if recent and past_level_values:
            ratio = (median(recent) + 1.0) / (median(past_level_values) + 1.0)
        expected = max(0.2, seasonal * ratio)
        # Relative spread of same-slot values around their day's level, less its Poisson
        # part: the negative binomial's dispersion (variance = mu + dispersion * mu^2).
        centre_norm = median(normalized)
        spread = 1.4826 * mad(normalized, centre_norm)
        typical_level = median(day_levels)
        dispersion = max(self.min_dispersion, spread**2 - 1.0 / typical_level)
        return expected, dispersion, used_days

    def evaluate(
        self,
        history: Sequence[int | None],
        observed: int,
        *,
        bucket_start: datetime,
        width: timedelta,
        complete: bool,
    ) -> Verdict:
        """Return the verdict on one bucket given the counts before it (oldest first, None
        where unknown); `score` is the smaller of the one-bucket and sustained tails."""
        fit = self.baseline(history, width=width)
        if fit is None:
            return Verdict(bucket_start, observed, 0.0, 1.0, False, complete)
        expected, dispersion, _ = fit
        tail = self._tail(observed, expected, dispersion)
        anomalous = tail <= self.max_p_value and self._large(observed, expected)
        if self.sustain_buckets > 1 and complete:
            recent = [v for v in history[len(history) - self.sustain_buckets + 1 :]]
            if len(recent) == self.sustain_buckets - 1 and None not in recent:
                total = observed + sum(v for v in recent if v is not None)
                total_expected = expected * self.sustain_buckets
                sustained = self._tail(total, total_expected, dispersion)
                # Every bucket of a raised level must be above expectation, or one spike
                # followed by quiet would count as a raised level again.
                raised = all(
                    v is not None and self._beyond(v, expected) for v in [*recent, observed]
                )
                if raised and sustained < tail:
                    tail = sustained
                    anomalous = anomalous or (
                        sustained <= self.max_p_value and self._large(total, total_expected)
                    )
        return Verdict(bucket_start, observed, round(expected, 4), tail, anomalous, complete)

    def _tail(self, observed: float, expected: float, dispersion: float) -> float:
        if self.direction == "down":
            return nb_lower(observed, expected, dispersion)
        return nb_upper(observed, expected, dispersion)

    def _beyond(self, observed: float, expected: float) -> bool:
        return observed < expected if self.direction == "down" else observed > expected

    def _large(self, observed: float, expected: float) -> bool:
        if self.direction == "down":
            return expected - observed >= self.min_excess and observed * self.min_ratio <= expected
        return observed - expected >= self.min_excess and observed >= self.min_ratio * expected


def score_of(tail: float, max_p_value: float) -> float:
    """Return a 0-1 anomaly score: 0.5 at the alert threshold, 1 at its square."""
    return max(0.0, min(1.0, log_surprise(tail) / (2.0 * -math.log10(max_p_value))))
