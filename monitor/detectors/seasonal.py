"""The default detector: a seasonal, robust, count-aware baseline with negative-binomial tails.

For the bucket being judged it looks only at buckets before it (causal):

* the same time of day on each of the previous `days` days (a slot `slot_minutes` wide
  around the same clock time): their median is the seasonal expectation, so a daily peak
  that happens every day is expected, and a past spike (one value among dozens) does not
  move it;
* the last `level_minutes` (a day) against the same minutes on the previous days: their
  ratio of medians scales the expectation, so a busier-than-usual week or weekend is
  followed, while a burst of a few hours is not absorbed into its own baseline;
* the spread of the same-slot values after removing each day's level: the extra-Poisson
  dispersion of a negative binomial, so a noisy topic needs a larger jump than a calm one,
  and a topic with 0-2 posts per bucket is judged by count probabilities, not a z-score.

A bucket is a candidate when the tail probability of its count is at most `max_p_value`,
and it exceeds the expectation by `min_excess` mentions and `min_ratio` times; or when the
same holds for the sum of the run of buckets ending at it, each above its own expectation
(2 to `sustain_buckets` of them, the most surprising length counting), which catches raised
levels whose single buckets look ordinary: an episode is scored by its cumulative excess so
far, not bucket by bucket.

Real mention series are burstier than any fitted count model: a busy topic has a few
"impossible" buckets every day (a retweet cascade, a bot). So a candidate is anomalous only
when it is also more surprising than the `calibration_rank`-th most surprising burst of the
previous `calibration_days` days: the topic's own record of ordinary bursts sets the bar. A
burst is a stretch of consecutive buckets beyond the alert threshold, counted once (one
spike lasting an hour is one burst, not twelve), and the burst a bucket continues is not in
its own record (after its peak, a long episode would stop topping itself). Taking the
second rather than the largest keeps one past spike from raising the bar for two weeks. If
a topic's bursts do not change in kind, a new one tops the second largest of the last n
with probability 2/(n+1): such a topic alerts about twice per `calibration_days`, once a
week with the defaults. While less than `calibration_days` of history is known, the rank is
scaled to the history there is (with the defaults the largest burst until 10.5 days are
known, then the second), so the same rate holds from a week of history on; with less, the
rank cannot fall below 1 and a young topic alerts more readily on ordinary bursts (up to
7/d times a week at d days), the tail test being the main guard then.

Two modes judge a window's sum instead of single buckets, each calibrated by its own record:
`climb_minutes` (a slow climb: the later half of the window above its earlier half) and
`shift_minutes` (a raised level: each bucket capped at `shift_cap` times its expectation
plus `min_excess`, so a burst adds at most a few caps while a level adds its excess to every
bucket; levels below the topic's bursts, which the spike test's calibration misses).

Warm-up: no verdict is anomalous before `warmup_minutes` of known history exist. Until a
full day of history exists there is no same-time-of-day value yet, so the expectation is the
median of all the history seen so far (no daily rhythm), and the dispersion its spread.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from typing import ClassVar

from monitor.detectors.counts import (
    log_surprise,
    median,
    nb_log10_upper,
    nb_lower,
    robust_spread,
)
from monitor.model import Verdict

DAY = timedelta(days=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Each value's own Poisson noise is part of its spread; a level this low would make the
# relative dispersion of a near-empty topic explode.
_MIN_LEVEL = 1.0


@dataclass(frozen=True)
class SeasonalDetector:
    """Seasonal negative-binomial detector. Options (see the module docstring): `days`,
    `slot_minutes`, `level_minutes`, `sustain_buckets`, `max_p_value`, `min_excess`,
    `min_ratio`, `min_dispersion`, `warmup_minutes`, `climb_minutes`, `shift_minutes`,
    `shift_cap`, `direction` ("up" for spikes, "down" for drops; a shift is up only)."""

    kind: ClassVar[str] = "seasonal"
    days: int = 7
    slot_minutes: int = 60
    # A day: long enough that a burst of a few hours barely moves the level it is judged
    # against (an hour let a raised level become its own baseline within the hour).
    level_minutes: int = 1440
    # An hour of buckets at 5 minutes: raised levels are judged over up to an hour.
    sustain_buckets: int = 12
    # Score a raised level by its most surprising run of 2..sustain_buckets raised buckets
    # (the episode so far), not only by the whole window (see `_sustained`).
    sustain_scan: bool = True
    # Slow climbs: no one-bucket test; the sum of the last `climb_minutes` must be
    # improbable and rising (its later half above its earlier half).
    climb_minutes: int | None = None
    # Raised levels: no one-bucket test; the sum of the last `shift_minutes`, each bucket
    # capped at `shift_cap` times its expectation (plus `min_excess`), against the level
    # before them, calibrated by its own record (see `_shift`).
    shift_minutes: int | None = None
    shift_cap: float = 3.0
    max_p_value: float = 1e-6
    min_excess: float = 5.0
    min_ratio: float = 1.5
    min_dispersion: float = 0.01
    # The spread of the same-slot values: None for 1.4826 x MAD, or a fraction trimmed from
    # each side for a trimmed standard deviation (see `benchmarks/simulated.py`).
    spread_trim: float | None = None
    warmup_minutes: int = 180
    # A topic whose bursts do not change in kind alerts about calibration_rank times per
    # calibration_days (a new burst tops the rank-th largest of the last ones with that
    # probability): about once a week with these.
    calibration_days: int = 14
    calibration_rank: int = 2
    direction: str = "up"

    def _window(self, width: timedelta) -> int:
        """Return how many buckets the sustained (or climb) test sums over."""
        for minutes in (self.climb_minutes, self.shift_minutes):
            if minutes is not None:
                return max(2, round(timedelta(minutes=minutes) / width))
        return self.sustain_buckets

    def history_buckets(self, width: timedelta) -> int:
        """Return how many buckets of history one verdict reads (its whole cost)."""
        return (
            self._baseline_buckets(width) + self._calibration_buckets(width) + self._window(width)
        )

    def _baseline_buckets(self, width: timedelta) -> int:
        per_day = max(1, round(DAY / width))
        # The oldest day's slot, and the level windows before it (see `baseline`).
        reach = max(self._half_slot(width), self._level_buckets(width) + self._window(width) - 1)
        return self.days * per_day + reach + 1

    def _level_buckets(self, width: timedelta) -> int:
        # A level read from fewer than three buckets is mostly noise.
        return max(3, round(timedelta(minutes=self.level_minutes) / width))

    def _calibration_buckets(self, width: timedelta) -> int:
        return self.calibration_days * max(1, round(DAY / width))

    def _half_slot(self, width: timedelta) -> int:
        return max(0, round(timedelta(minutes=self.slot_minutes) / width / 2))

    def baseline(
        self, history: Sequence[int | None], *, width: timedelta
    ) -> tuple[float, float, int, float, float] | None:
        """Return (expected count, dispersion, days of history used, seasonal count, level
        ratio before the sustained window) for the bucket right after `history`, or None
        when there is not enough known history."""
        per_day = max(1, round(DAY / width))
        half = self._half_slot(width)
        level_n = self._level_buckets(width)
        # For the sustained test the level is read before the window it sums over, so a
        # raised level is judged against the level it rose from, not against itself.
        lag = max(0, self._window(width) - 1)
        n = len(history)
        slot_values: list[float] = []
        day_levels: list[float] = []
        normalized: list[float] = []
        past_level_values: list[float] = []
        lagged_level_values: list[float] = []
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
            # A past day's level counts only when its whole window is in the history: a
            # window cut short at the start would cover other hours of the day.
            if centre - lag - level_n >= 0:
                past_level_values.extend(_known(history[centre - level_n : centre]))
                lagged_level_values.extend(_known(history[centre - lag - level_n : centre - lag]))
        if used_days == 0:
            known = [float(v) for v in history if v is not None]
            if len(known) * width < timedelta(minutes=self.warmup_minutes):
                return None
            # Less than a day seen: one flat level, its spread around itself.
            slot_values = known
            level = max(_MIN_LEVEL, median(known))
            day_levels = [level]
            normalized = [v / level for v in known]
        seasonal = median(slot_values)
        ratio = self._ratio(history[max(0, n - level_n) :], past_level_values, used_days)
        lagged = self._ratio(
            history[max(0, n - lag - level_n) : max(0, n - lag)], lagged_level_values, used_days
        )
        expected = max(0.2, seasonal * ratio)
        # Relative spread of same-slot values around their day's level, less its Poisson
        # part: the negative binomial's dispersion (variance = mu + dispersion * mu^2).
        spread = robust_spread(normalized, self.spread_trim)
        typical_level = median(day_levels)
        dispersion = max(self.min_dispersion, spread**2 - 1.0 / typical_level)
        # The expectation is itself estimated: the median of k Poisson counts around mu has a
        # relative variance of about pi / (2 k mu). With few same-slot values (hourly buckets,
        # a few days of history) that uncertainty widens the tail; with dozens it vanishes.
        dispersion += math.pi / (2.0 * len(slot_values) * max(_MIN_LEVEL, seasonal))
        return expected, dispersion, used_days, seasonal, lagged

    @staticmethod
    def _ratio(recent: Sequence[int | None], past: Sequence[float], used_days: int) -> float:
        """Return how much busier the recent buckets are than the same minutes on past days
        (1 without same-time history)."""
        known = [v for v in recent if v is not None]
        if not (used_days and known and past):
            return 1.0
        return (median(known) + 1.0) / (median(past) + 1.0)

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
        history = list(history[-self.history_buckets(width) :])
        size = self._baseline_buckets(width)
        first = max(0, len(history) - self._calibration_buckets(width))
        past: list[Verdict | None] = []
        expectations: list[float | None] = [None] * first
        # The seasonal counts before the calibration window feed its first sustained tests.
        for i in range(max(0, first - self._window(width)), first):
            fit = self.baseline(history[max(0, i - size) : i], width=width)
            expectations[i] = fit[3] if fit and history[i] is not None else None
        for i in range(first, len(history)):
            value = history[i]
            if value is None:
                past.append(None)
                expectations.append(None)
                continue
            candidate, seasonal = self.candidate(
                history[max(0, i - size) : i], value, width=width, previous=expectations
            )
            past.append(candidate)
            expectations.append(seasonal)
        verdict, _ = self.candidate(
            history[-size:], observed, width=width, complete=complete, previous=expectations
        )
        # Unknown buckets count as unsurprising, as in `scan`.
        return self._calibrated(
            verdict,
            [v.log_surprise if v else 0.0 for v in past],
            bucket_start,
            known_buckets=sum(1 for v in past if v is not None),
            width=width,
        )

    def scan(
        self,
        counts: Sequence[int],
        starts: Sequence[datetime],
        width: timedelta,
        excluded: Sequence[int] = (),
    ) -> list[Verdict]:
        """Return the verdict on every bucket of a series, each from the buckets before it
        only (the same verdicts as `evaluate` on each prefix, computed once each)."""
        skip = set(excluded)
        known: list[int | None] = [None if i in skip else v for i, v in enumerate(counts)]
        size = self._baseline_buckets(width)
        reference = self._calibration_buckets(width)
        candidates: list[Verdict] = []
        expectations: list[float | None] = []
        for i, value in enumerate(counts):
            candidate, seasonal = self.candidate(
                known[max(0, i - size) : i], value, width=width, previous=expectations
            )
            candidates.append(candidate)
            expectations.append(seasonal if known[i] is not None else None)
        surprise = [0.0 if known[i] is None else v.log_surprise for i, v in enumerate(candidates)]
        known_before = list(accumulate((v is not None for v in known), initial=0))
        return [
            self._calibrated(
                verdict,
                surprise[max(0, i - reference) : i],
                starts[i],
                known_buckets=known_before[i] - known_before[max(0, i - reference)],
                width=width,
            )
            for i, verdict in enumerate(candidates)
        ]

    def calibration_rank_for(self, known_buckets: int, width: timedelta) -> int:
        """Return the rank of the burst a candidate must top, given how many buckets of the
        calibration window are known: `calibration_rank` over the full window, scaled down
        (at least 1) while the history is shorter, so that a topic's expected alert rate
        (rank per window) is the same from a week of history on as later."""
        full = self._calibration_buckets(width)
        scaled = math.floor(self.calibration_rank * known_buckets / full + 0.5)
        return max(1, min(self.calibration_rank, scaled))

    def _calibrated(
        self,
        verdict: Verdict,
        past_surprise: Sequence[float],
        bucket_start: datetime,
        *,
        known_buckets: int,
        width: timedelta,
    ) -> Verdict:
        """Return the verdict anomalous only if it also tops the topic's recent bursts
        (`past_surprise`: the calibration window's surprises, of which `known_buckets`
        are known)."""
        anomalous = verdict.anomalous
        if anomalous:
            floor = -math.log10(self.max_p_value)
            bursts = burst_surprises(past_surprise, floor)
            if past_surprise and past_surprise[-1] >= floor:
                # The burst this bucket continues is not part of its own record.
                bursts.pop()
            rank = self.calibration_rank_for(known_buckets, width)
            if len(bursts) >= rank:
                bar = heapq.nlargest(rank, bursts)[-1]
                anomalous = verdict.log_surprise > bar
        return replace(verdict, bucket_start=bucket_start, anomalous=anomalous)

    def candidate(
        self,
        history: Sequence[int | None],
        observed: int,
        *,
        width: timedelta,
        complete: bool = True,
        bucket_start: datetime | None = None,
        previous: Sequence[float | None] = (),
    ) -> tuple[Verdict, float | None]:
        """Return the uncalibrated verdict on one bucket (tail probability, and whether it
        passes the count tests before comparison with the topic's recent bursts) and its
        seasonal count. `previous` holds the seasonal counts of the buckets before it
        (aligned to the end of `history`; None where unknown), for the sustained test."""
        bucket_start = bucket_start or EPOCH
        fit = self.baseline(history, width=width)
        if fit is None:
            return Verdict(bucket_start, observed, 0.0, 1.0, False, complete), None
        expected, dispersion, _, seasonal, lagged = fit
        log_tail = self._log_tail(observed, expected, dispersion)
        anomalous = self._passes(log_tail, observed, expected)
        if self.climb_minutes is not None or self.shift_minutes is not None:
            log_tail, anomalous = 0.0, False  # only the window's sum counts
        others = self._window(width) - 1
        if others > 0 and complete and len(previous) >= others and len(history) >= others:
            recent = list(history[len(history) - others :])
            recent_seasonal = list(previous[len(previous) - others :])
            if None not in recent and None not in recent_seasonal:
                counts = [v for v in recent if v is not None]
                means = [max(0.2, m * lagged) for m in recent_seasonal if m is not None]
                mean_now = max(0.2, seasonal * lagged)
                if self.climb_minutes is not None:
                    log_tail, anomalous = self._climb(
                        observed, counts, means, mean_now, dispersion, log_tail, anomalous
                    )
                elif self.shift_minutes is not None:
                    log_tail, anomalous = self._shift(observed, counts, means, mean_now, dispersion)
                else:
                    log_tail, anomalous = self._sustained(
                        observed, expected, counts, means, mean_now, dispersion, log_tail, anomalous
                    )
        verdict = Verdict(
            bucket_start,
            observed,
            round(expected, 4),
            10.0**log_tail,
            anomalous,
            complete,
            surprise=-log_tail,
        )
        return verdict, seasonal

    def _climb(
        self,
        observed: int,
        counts: Sequence[int],
        means: Sequence[float],
        mean_now: float,
        dispersion: float,
        log_tail: float,
        anomalous: bool,
    ) -> tuple[float, bool]:
        """Return the (log tail, anomalous) of a climb: the window's sum, when its later half
        is beyond its earlier half."""
        total = observed + sum(counts)
        total_expected = mean_now + sum(means)
        sustained = self._log_tail(total, total_expected, dispersion)
        window = [*counts, observed]
        half = len(window) // 2
        if self._beyond(sum(window[-half:]), sum(window[:half])) and sustained < log_tail:
            return sustained, anomalous or self._passes(sustained, total, total_expected)
        return log_tail, anomalous

    def _shift(
        self,
        observed: int,
        counts: Sequence[int],
        means: Sequence[float],
        mean_now: float,
        dispersion: float,
    ) -> tuple[float, bool]:
        """Return the (log tail, anomalous) of a raised level: the window's sum with each
        bucket capped at `shift_cap` times its expectation plus `min_excess`; anomalous only
        when the latest bucket is beyond its expectation.

        The cap is what tells a level from a burst: a burst of any size adds at most a few
        buckets' caps to the sum, while a level raised for the whole window adds its excess
        in every bucket. The null distribution of a capped sum is narrower than the
        negative binomial used for it, which only makes the test conservative; the
        calibration against the topic's own record of this statistic does the rest.

        The tail is the window's on every bucket, a dip included: a level's ordinary dips
        would otherwise cut it into several bursts of the record, each of which its later
        buckets must top (and one ordinary burst would fill several ranks)."""
        window = zip([*counts, observed], [*means, mean_now], strict=True)
        total = sum(min(value, self.shift_cap * mean + self.min_excess) for value, mean in window)
        total_expected = mean_now + sum(means)
        log_tail = self._log_tail(total, total_expected, dispersion)
        if not self._beyond(observed, mean_now):
            return log_tail, False
        return log_tail, self._passes(log_tail, total, total_expected)

    def _sustained(
        self,
        observed: int,
        expected: float,
        counts: Sequence[int],
        means: Sequence[float],
        mean_now: float,
        dispersion: float,
        log_tail: float,
        anomalous: bool,
    ) -> tuple[float, bool]:
        """Return the (log tail, anomalous) of a raised level: the sum of the run of buckets
        ending here, each beyond its own expectation, against their summed expectation.

        With `sustain_scan` the run is judged at every length from 2 buckets to the window
        and the most surprising length counts: an episode is scored by its cumulative excess
        so far, whether it has lasted two buckets or the whole window. Otherwise only the
        whole window counts. Every bucket must be beyond its expectation, or one spike
        followed by quiet would count as a raised level again."""
        if not (self._beyond(observed, mean_now) and self._beyond(observed, expected)):
            return log_tail, anomalous
        total, total_expected = float(observed), mean_now
        lengths = range(2, len(counts) + 2) if self.sustain_scan else [len(counts) + 1]
        # Walk back from the bucket before this one: the run ends at the first ordinary one.
        walked = 1
        for length in lengths:
            while walked < length:
                value, mean = counts[-walked], means[-walked]
                if not self._beyond(value, mean):
                    return log_tail, anomalous
                total += value
                total_expected += mean
                walked += 1
            sustained = self._log_tail(total, total_expected, dispersion)
            if sustained < log_tail:
                log_tail = sustained
                anomalous = anomalous or self._passes(sustained, total, total_expected)
        return log_tail, anomalous

    def _passes(self, log_tail: float, observed: float, expected: float) -> bool:
        """Return whether a count (or a window's sum) passes the count tests: a tail of at
        most `max_p_value`, and beyond its expectation by `min_excess` and `min_ratio`."""
        return log_tail <= math.log10(self.max_p_value) and self._large(observed, expected)

    def _log_tail(self, observed: float, expected: float, dispersion: float) -> float:
        if self.direction == "down":
            return math.log10(max(nb_lower(observed, expected, dispersion), 1e-300))
        return nb_log10_upper(observed, expected, dispersion)

    def _beyond(self, observed: float, expected: float) -> bool:
        return observed < expected if self.direction == "down" else observed > expected

    def _large(self, observed: float, expected: float) -> bool:
        if self.direction == "down":
            return expected - observed >= self.min_excess and observed * self.min_ratio <= expected
        return observed - expected >= self.min_excess and observed >= self.min_ratio * expected


def _known(values: list[int | None]) -> list[int | None]:
    """Return `values` without its unknown (None) entries; the slice itself when it has none,
    the common case (a day-long level window is a few hundred buckets, read per verdict)."""
    if None not in values:
        return values
    return [v for v in values if v is not None]


def burst_surprises(surprise: Sequence[float], floor: float) -> list[float]:
    """Return the surprise of each burst in a run of buckets: a burst is a stretch of
    consecutive buckets at least `floor` surprising, counted once by its most surprising
    bucket (so one hours-long spike is one burst, not dozens); other buckets count alone."""
    bursts: list[float] = []
    peak: float | None = None
    for value in surprise:
        if value >= floor:
            peak = value if peak is None or value > peak else peak
            continue
        if peak is not None:
            bursts.append(peak)
            peak = None
        bursts.append(value)
    if peak is not None:
        bursts.append(peak)
    return bursts


def score_of(tail: float, max_p_value: float) -> float:
    """Return a 0-1 anomaly score: 0.5 at the alert threshold, 1 at its square."""
    return max(0.0, min(1.0, log_surprise(tail) / (2.0 * -math.log10(max_p_value))))
