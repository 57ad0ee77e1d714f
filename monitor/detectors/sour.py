"""Sentiment turning sour: a rise of the negative share of a topic's scored mentions."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import ClassVar

from monitor.detectors.counts import special
from monitor.model import BucketCount, Verdict

DAY = timedelta(days=1)


def binomial_upper(successes: int, trials: int, share: float) -> float:
    """Return P(K >= successes) for K ~ Binomial(trials, share)."""
    if successes <= 0:
        return 1.0
    if successes > trials:
        return 0.0
    share = min(max(share, 1e-9), 1 - 1e-9)
    return float(special().betainc(successes, trials - successes + 1, share))


@dataclass(frozen=True)
class NegativeShareDetector:
    """Flags a window of `window_buckets` whose share of negative mentions (of the scored
    ones) is improbably high against the topic's share over the previous `baseline_days`
    (a ratio of sums, so one sour hour a week ago barely moves it): binomial tail at most
    `max_p_value`, at least `min_scored` scored mentions in the window, and a share at least
    `min_share_rise` above the baseline. `observed` and `expected` are negative mentions."""

    kind: ClassVar[str] = "negative-share"
    baseline_days: int = 7
    window_buckets: int = 6
    max_p_value: float = 1e-6
    min_share_rise: float = 0.15
    min_scored: int = 10

    def history_buckets(self, width: timedelta) -> int:
        """Return how many buckets of history one verdict reads."""
        return self.baseline_days * max(1, round(DAY / width)) + self.window_buckets

    def evaluate_share(
        self,
        history: Sequence[BucketCount | None],
        current: BucketCount,
        *,
        complete: bool,
    ) -> Verdict:
        """Return the verdict on the window ending with `current` (history oldest first,
        None where unknown)."""
        window = [b for b in history[len(history) - self.window_buckets + 1 :] if b] + [current]
        base = [b for b in history[: len(history) - self.window_buckets + 1] if b is not None]
        scored_base = sum(b.scored for b in base)
        negative_base = sum(b.negative for b in base)
        scored = sum(b.scored for b in window)
        negative = sum(b.negative for b in window)
        if scored_base < 10 * self.min_scored or scored == 0:
            return Verdict(current.start, negative, 0.0, 1.0, False, complete)
        # A baseline with no negative mention at all would make the first one impossible.
        share = (negative_base + 1) / (scored_base + 2)
        tail = binomial_upper(negative, scored, share)
        anomalous = (
            tail <= self.max_p_value
            and scored >= self.min_scored
            and negative / scored >= share + self.min_share_rise
        )
        surprise = -math.log10(max(tail, 1e-300))
        return Verdict(
            current.start,
            negative,
            round(share * scored, 4),
            tail,
            anomalous,
            complete,
            surprise=surprise,
        )
