"""Baseline detectors kept for comparison: Huginn's PeakDetector rule and a robust z-score."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

from monitor.detectors.counts import mad, median
from monitor.model import Verdict


@dataclass(frozen=True)
class PeakDetector:
    """Huginn's PeakDetectorAgent rule: a value above mean + `std_multiple` standard
    deviations of the previous `window_days` (population deviation, at least `min_events`
    values). Its peak spacing is the episode cooldown (Huginn: 2 days). `score` is a
    one-sided normal tail, for display only."""

    kind: ClassVar[str] = "peak"
    window_days: float = 14.0
    std_multiple: float = 3.0
    min_events: int = 4
    default_cooldown_minutes: ClassVar[int] = 2 * 24 * 60

    def history_buckets(self, width: timedelta) -> int:
        """Return how many buckets of history one verdict reads."""
        return max(1, round(timedelta(days=self.window_days) / width) - 1)

    def evaluate(
        self,
        history: Sequence[int | None],
        observed: int,
        *,
        bucket_start: datetime,
        width: timedelta,
        complete: bool,
    ) -> Verdict:
        """Return the verdict on one bucket against the mean and deviation before it."""
        values = [v for v in history[-self.history_buckets(width) :] if v is not None]
        return self._verdict(
            len(values), sum(values), sum(v * v for v in values), observed, bucket_start, complete
        )

    def scan(
        self, counts: Sequence[int], starts: Sequence[datetime], width: timedelta
    ) -> list[Verdict]:
        """Return the verdict on every bucket of a complete series (running sums; the same
        numbers as `evaluate` on each prefix)."""
        size = self.history_buckets(width)
        out, total, squares = [], 0, 0
        for index, (value, start) in enumerate(zip(counts, starts, strict=True)):
            n = min(index, size)
            out.append(self._verdict(n, total, squares, value, start, True))
            total += value
            squares += value * value
            if index >= size:
                total -= counts[index - size]
                squares -= counts[index - size] ** 2
        return out

    def _verdict(
        self, n: int, total: float, squares: float, observed: int, start: datetime, complete: bool
    ) -> Verdict:
        if n + 1 <= self.min_events:
            return Verdict(start, observed, 0.0, 1.0, False, complete)
        mean = total / n
        std = math.sqrt(max(0.0, squares / n - mean * mean))
        z = (observed - mean) / std if std > 0 else (math.inf if observed > mean else 0.0)
        tail = 0.5 * math.erfc(z / math.sqrt(2)) if math.isfinite(z) else 0.0
        anomalous = observed > mean + self.std_multiple * std
        return Verdict(start, observed, round(mean, 4), tail, anomalous, complete)


@dataclass(frozen=True)
class RobustZDetector:
    """A robust z-score: (value - median) / (1.4826 MAD) of the previous `window_hours`,
    anomalous above `threshold` (cooldown 24 h). `score` is a one-sided normal tail."""

    kind: ClassVar[str] = "robust-z"
    window_hours: float = 24.0
    threshold: float = 10.0
    default_cooldown_minutes: ClassVar[int] = 24 * 60

    def history_buckets(self, width: timedelta) -> int:
        """Return how many buckets of history one verdict reads."""
        return max(1, round(timedelta(hours=self.window_hours) / width))

    def evaluate(
        self,
        history: Sequence[int | None],
        observed: int,
        *,
        bucket_start: datetime,
        width: timedelta,
        complete: bool,
    ) -> Verdict:
        """Return the verdict on one bucket against the median and MAD before it."""
        values = [v for v in history[-self.history_buckets(width) :] if v is not None]
        if len(values) < 2:
            return Verdict(bucket_start, observed, 0.0, 1.0, False, complete)
        centre = median(values)
        spread = 1.4826 * mad(values, centre)
        if spread == 0:
            spread = 1.0  # a flat window: judge the jump in raw counts
        z = (observed - centre) / spread
        tail = 0.5 * math.erfc(z / math.sqrt(2))
        return Verdict(bucket_start, observed, round(centre, 4), tail, z > self.threshold, complete)
