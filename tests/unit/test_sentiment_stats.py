"""Per-bucket sentiment statistics: the interval widens for small buckets."""

from __future__ import annotations

import math
import statistics

import pytest

from monitor.sentiment_stats import mean_interval, net_sentiment, summarize, t_quantile_95


def test_interval_matches_a_t_interval() -> None:
    values = [0.5, -0.2, 0.1, 0.8, 0.3]
    mean, low, high = mean_interval(len(values), sum(values), sum(v * v for v in values))
    half = 2.776 * statistics.stdev(values) / math.sqrt(len(values))
    assert mean == pytest.approx(statistics.mean(values), abs=1e-4)
    assert low == pytest.approx(statistics.mean(values) - half, abs=1e-4)
    assert high == pytest.approx(min(1.0, statistics.mean(values) + half), abs=1e-4)


def test_small_buckets_are_uncertain_and_large_ones_are_not() -> None:
    three = [-0.9, -0.8, -0.7]
    many = three * 100
    _, low3, high3 = mean_interval(3, sum(three), sum(v * v for v in three))
    _, low300, high300 = mean_interval(300, sum(many), sum(v * v for v in many))
    assert high3 - low3 > 5 * (high300 - low300)
    assert mean_interval(1, 0.7, 0.49) == (0.7, -1.0, 1.0)
    assert mean_interval(0, 0.0, 0.0) == (None, None, None)


def test_interval_is_clamped_to_the_score_range() -> None:
    values = [1.0, 0.2]
    _, low, high = mean_interval(2, sum(values), sum(v * v for v in values))
    assert low == -1.0 and high == 1.0


def test_t_quantiles() -> None:
    assert t_quantile_95(1) == 12.706
    assert t_quantile_95(35) == 2.042  # rounds down to df 30: never narrower than the truth
    assert t_quantile_95(1000) == 1.96
    with pytest.raises(ValueError):
        t_quantile_95(0)


def test_net_sentiment_and_shares() -> None:
    assert net_sentiment(0, 0) is None
    assert net_sentiment(3, 1) == 0.5
    stats = summarize(
        [
            (0.6, "positive", ("rss", "a")),
            (0.0, "neutral", ("rss", "a")),
            (-0.4, "negative", ("rss", "b")),
            (None, "unscored", None),
        ]
    )
    assert stats["count"] == 4 and stats["scored"] == 3 and stats["unique_authors"] == 2
    assert stats["positive_share"] == stats["negative_share"] == pytest.approx(0.3333)
    assert stats["net_sentiment"] == 0.0
