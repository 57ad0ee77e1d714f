"""Tail probabilities of count models: Poisson and negative binomial (over-dispersed Poisson)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from functools import cache
from types import ModuleType


@cache
def special() -> ModuleType:
    """Return scipy.special, imported on first use: it adds ~40 MB and half a second to a
    process, and workers that only poll and store never judge a count."""
    import scipy.special

    return scipy.special


def poisson_upper(observed: float, expected: float) -> float:
    """Return P(X >= observed) for X ~ Poisson(expected)."""
    if observed <= 0:
        return 1.0
    return float(special().gammainc(math.ceil(observed), max(expected, 1e-12)))


def poisson_lower(observed: float, expected: float) -> float:
    """Return P(X <= observed) for X ~ Poisson(expected)."""
    if observed < 0:
        return 0.0
    return float(special().gammaincc(math.floor(observed) + 1, max(expected, 1e-12)))


def nb_upper(observed: float, expected: float, dispersion: float) -> float:
    """Return P(X >= observed) for X negative binomial with mean `expected` and variance
    expected + dispersion * expected**2 (dispersion 0 is Poisson)."""
    if observed <= 0:
        return 1.0
    if dispersion <= 1e-9:
        return poisson_upper(observed, expected)
    size = 1.0 / dispersion
    p_success = size / (size + max(expected, 1e-12))
    # P(X >= x) = I_{1-p}(x, size): the regularized incomplete beta function.
    return float(special().betainc(math.ceil(observed), size, 1.0 - p_success))


def nb_lower(observed: float, expected: float, dispersion: float) -> float:
    """Return P(X <= observed) under the same negative binomial as `nb_upper`."""
    if observed < 0:
        return 0.0
    if dispersion <= 1e-9:
        return poisson_lower(observed, expected)
    size = 1.0 / dispersion
    p_success = size / (size + max(expected, 1e-12))
    return float(special().betainc(size, math.floor(observed) + 1, p_success))


# Above this many values numpy's selection beats sorting a Python list (a day-long level
# window is hundreds of buckets); below it the conversion costs more than it saves.
_NUMPY_MEDIAN_FROM = 256


def median(values: Sequence[float]) -> float:
    """Return the median of `values` (0 for none)."""
    if not values:
        return 0.0
    if len(values) >= _NUMPY_MEDIAN_FROM:
        return float(_numpy().median(_numpy().asarray(values, dtype=float)))
    return float(statistics.median(values))


@cache
def _numpy() -> ModuleType:
    """Return numpy, imported on first use (as `special`)."""
    import numpy

    return numpy


def mad(values: Sequence[float], center: float) -> float:
    """Return the median absolute deviation of `values` around `center`."""
    return median([abs(value - center) for value in values])


def robust_spread(values: Sequence[float], trim: float | None = None) -> float:
    """Return the spread of `values` scaled to a normal's standard deviation: 1.4826 times
    their MAD around the median, or with `trim` (a fraction per side) the standard deviation
    of the central values, scaled by the same truncation of a normal."""
    if not values:
        return 0.0
    if trim is None:
        return 1.4826 * mad(values, median(values))
    ordered = sorted(values)
    cut = int(trim * len(ordered))
    kept = ordered[cut : len(ordered) - cut] or ordered
    return statistics.pstdev(kept) / _trimmed_normal_sd(trim)


@cache
def _trimmed_normal_sd(trim: float) -> float:
    """Return the standard deviation of a standard normal cut `trim` from each side."""
    if trim <= 0:
        return 1.0
    z = statistics.NormalDist().inv_cdf(1.0 - trim)
    density = statistics.NormalDist().pdf(z)
    return math.sqrt(1.0 - 2.0 * z * density / (1.0 - 2.0 * trim))


def log_surprise(tail: float) -> float:
    """Return -log10 of a tail probability, capped at 300 so 0 stays finite."""
    return min(300.0, -math.log10(max(tail, 1e-300)))


def nb_log10_upper(observed: float, expected: float, dispersion: float) -> float:
    """Return log10 P(X >= observed) under `nb_upper`'s distribution, staying finite where the
    tail underflows (there the point probability P(X = observed) stands in: a lower bound
    that orders the extreme cases)."""
    tail = nb_upper(observed, expected, dispersion)
    if tail > 1e-280:
        return math.log10(tail)
    x = math.ceil(observed)
    mu = max(expected, 1e-12)
    if dispersion <= 1e-9:
        log_p = x * math.log(mu) - mu - math.lgamma(x + 1)
    else:
        size = 1.0 / dispersion
        log_p = (
            math.lgamma(x + size)
            - math.lgamma(size)
            - math.lgamma(x + 1)
            + size * math.log(size / (size + mu))
            + x * math.log(mu / (size + mu))
        )
    return log_p / math.log(10)
