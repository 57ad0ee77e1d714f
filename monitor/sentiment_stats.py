"""Per-bucket sentiment statistics: mean compound with a 95 % confidence interval, label
shares and net sentiment, so a bucket of three posts does not look as certain as one of 300."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

# Two-sided 95 % quantiles of Student's t by degrees of freedom; beyond 120, the normal 1.96.
_T95 = {
    1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
    9: 2.262, 10: 2.228, 11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120,
    17: 2.110, 18: 2.101, 19: 2.093, 20: 2.086, 21: 2.080, 22: 2.074, 23: 2.069, 24: 2.064,
    25: 2.060, 26: 2.056, 27: 2.052, 28: 2.048, 29: 2.045, 30: 2.042, 40: 2.021, 60: 2.000,
    120: 1.980,
}  # fmt: skip


def t_quantile_95(degrees_of_freedom: int) -> float:
    """Return the two-sided 95 % t quantile, rounding the degrees of freedom down to the
    nearest tabulated value (a slightly wider, never narrower, interval)."""
    if degrees_of_freedom < 1:
        raise ValueError("degrees of freedom must be at least 1")
    if degrees_of_freedom > 120:
        return 1.96
    return _T95[max(df for df in _T95 if df <= degrees_of_freedom)]


@dataclass
class SentimentAccumulator:
    """Running totals of one bucket (or one group within a bucket)."""

    count: int = 0
    scored: int = 0
    total: float = 0.0
    total_squares: float = 0.0
    positive: int = 0
    neutral: int = 0
    negative: int = 0
    authors: set[tuple[str, str]] = field(default_factory=set)

    def add(self, compound: float | None, label: str, author: tuple[str, str] | None) -> None:
        """Count one mention."""
        self.count += 1
        if author is not None:
            self.authors.add(author)
        if compound is None:
            return
        self.scored += 1
        self.total += compound
        self.total_squares += compound * compound
        self.positive += label == "positive"
        self.neutral += label == "neutral"
        self.negative += label == "negative"

    def summary(self) -> dict[str, Any]:
        """Return the bucket's documented statistics (None where there is nothing to say)."""
        mean, low, high = mean_interval(self.scored, self.total, self.total_squares)

        def share(part: int) -> float | None:
            return round(part / self.scored, 4) if self.scored else None

        return {
            "count": self.count,
            "unique_authors": len(self.authors),
            "scored": self.scored,
            "mean_compound": mean,
            "mean_compound_ci_low": low,
            "mean_compound_ci_high": high,
            "positive_share": share(self.positive),
            "neutral_share": share(self.neutral),
            "negative_share": share(self.negative),
            "net_sentiment": net_sentiment(self.positive, self.negative),
        }


def mean_interval(
    n: int, total: float, total_squares: float
) -> tuple[float | None, float | None, float | None]:
    """Return (mean, low, high): the mean compound and its 95 % t interval, clamped to the
    score's range [-1, 1]; one value gives the whole range, none gives Nones."""
    if n == 0:
        return None, None, None
    mean = total / n
    if n == 1:
        return round(mean, 4), -1.0, 1.0
    variance = max(0.0, (total_squares - n * mean * mean) / (n - 1))
    half = t_quantile_95(n - 1) * math.sqrt(variance / n)
    return round(mean, 4), round(max(-1.0, mean - half), 4), round(min(1.0, mean + half), 4)


def net_sentiment(positive: int, negative: int) -> float | None:
    """Return (pos - neg) / (pos + neg), or None when there is neither."""
    if positive + negative == 0:
        return None
    return round((positive - negative) / (positive + negative), 4)


def summarize(rows: Iterable[tuple[float | None, str, tuple[str, str] | None]]) -> dict[str, Any]:
    """Return the statistics of (compound, label, author) rows."""
    acc = SentimentAccumulator()
    for compound, label, author in rows:
        acc.add(compound, label, author)
    return acc.summary()
