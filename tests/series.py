"""Generated count series shared by the detector's unit tests and the live-detection tests."""

from __future__ import annotations

import math
import random


def poisson(rng: random.Random, mean: float) -> int:
    """Return one Poisson draw (Knuth for small means, rounded normal for large ones)."""
    if mean > 50:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


def bursty_series(days: int, *, seed: int, rate: float = 20.0) -> list[int]:
    """5-minute counts around `rate` with four ordinary heavy-tailed bursts a day, each
    decaying over a quarter of an hour: the traffic a busy topic sees."""
    rng = random.Random(seed)
    means = [rate] * (days * 288)
    for _ in range(4 * days):
        start = rng.randrange(len(means))
        posts = rate * rng.paretovariate(1.5) * 3
        for offset in range(12):
            if start + offset < len(means):
                means[start + offset] += posts * math.exp(-offset / 3)
    return [poisson(rng, mean) for mean in means]
