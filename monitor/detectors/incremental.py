"""Live verdicts of the seasonal detector without recomputing its calibration window.

A verdict on bucket t needs, besides the counts of the baseline window before t, the
uncalibrated surprise of every bucket of the `calibration_days` before t and the seasonal
counts of the few buckets before t (for the sustained test). Each of those per-bucket
*records* is a pure function of the known counts up to that bucket. So the live run keeps
them, with the counts they were computed from, in a `ScanState`; the next run compares the
counts it reads now with the remembered ones and recomputes the records only from the first
bucket that differs (a late post, a newly recorded outage), normally just the buckets that
completed since the last run. The verdicts are therefore exactly those of
`SeasonalDetector.evaluate` on the full history, at a cost of a few record computations.

Pure: no I/O; `monitor.alerting` reads the counts and stores the state.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from array import array
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from monitor.detectors.seasonal import SeasonalDetector
from monitor.model import Verdict

_HEADER = struct.Struct("<qiii")  # through (epoch seconds), counts, unknown, records
_NAN = float("nan")


@dataclass(frozen=True, slots=True)
class ScanState:
    """What a live run remembers: the counts of the `len(counts)` buckets before `through`
    (unknown ones listed by offset), and the records (uncalibrated surprise, seasonal count
    or None) of the `len(surprise)` buckets before `through`."""

    through: datetime
    counts: tuple[int, ...]
    unknown: frozenset[int]
    surprise: tuple[float, ...]
    seasonal: tuple[float | None, ...]

    def encode(self) -> bytes:
        """Return the state as compact bytes (exact floats: verdicts must not drift)."""
        body = b"".join(
            (
                _HEADER.pack(
                    round(self.through.timestamp()),
                    len(self.counts),
                    len(self.unknown),
                    len(self.surprise),
                ),
                array("q", self.counts).tobytes(),
                array("q", sorted(self.unknown)).tobytes(),
                array("d", self.surprise).tobytes(),
                array("d", [_NAN if s is None else s for s in self.seasonal]).tobytes(),
            )
        )
        return zlib.compress(body, 1)

    @classmethod
    def decode(cls, data: bytes) -> ScanState:
        """Return the state `encode` wrote."""
        body = zlib.decompress(data)
        seconds, *sizes = _HEADER.unpack_from(body)
        parts: list[array[int] | array[float]] = []
        at = _HEADER.size
        for code, size in zip("qqdd", (*sizes, sizes[-1]), strict=True):
            part = array(code)
            part.frombytes(body[at : at + 8 * size])
            parts.append(part)
            at += 8 * size
        counts, unknown, surprise, seasonal = parts
        return cls(
            through=datetime.fromtimestamp(seconds, UTC),
            counts=tuple(counts),
            unknown=frozenset(unknown),
            surprise=tuple(surprise),
            # NaN marks None (NaN is the one value unequal to itself).
            seasonal=tuple([None if s != s else s for s in seasonal]),
        )


def supports(detector: object) -> bool:
    """Return True when `detector` can be judged incrementally (the seasonal detector)."""
    return isinstance(detector, SeasonalDetector)


def fingerprint(detector: SeasonalDetector, width: timedelta) -> str:
    """Return a key of the detector's parameters and the bucket width: a state computed
    with other settings is not reused."""
    text = f"{detector!r}|{width.total_seconds()}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def record_buckets(detector: SeasonalDetector, width: timedelta) -> int:
    """Return how many records a verdict reads: the calibration window and, before it, the
    seasonal counts its first sustained tests need."""
    return detector._calibration_buckets(width) + detector._window(width)


def span_buckets(detector: SeasonalDetector, width: timedelta) -> int:
    """Return how many complete buckets of counts the records depend on."""
    return record_buckets(detector, width) + detector._baseline_buckets(width)


def judge(
    detector: SeasonalDetector,
    state: ScanState | None,
    counts: Sequence[int],
    unknown: Collection[int],
    *,
    start: datetime,
    width: timedelta,
    excluded: Collection[int] = (),
) -> tuple[list[Verdict], ScanState, int]:
    """Return the verdicts on the latest complete bucket and the filling one, the state for
    the next run, and how many records were computed.

    `counts` are the stored counts of `span_buckets` complete buckets from `start`, then the
    filling bucket; `unknown` the indices whose counts are unknown to baselines (before the
    topic's first mention, or in an outage); `excluded` those of them in an outage (never
    judged). The verdicts equal `detector.evaluate` on the full history."""
    n = len(counts)
    complete, filling = n - 2, n - 1
    size = detector._baseline_buckets(width)
    calibration = detector._calibration_buckets(width)
    first_record = filling - record_buckets(detector, width)
    known: list[int | None] = list(counts)
    for index in unknown:
        known[index] = None
    surprise: list[float] = [0.0] * n
    seasonal: list[float | None] = [None] * n
    # The sustained test reads the seasonal counts of the `others` buckets before a bucket.
    others = detector._window(width) - 1
    recompute_from = first_record
    if state is not None:
        recompute_from = _reusable(
            state, counts, unknown, known, surprise, seasonal, start, width, first_record
        )
    latest: Verdict | None = None
    for index in range(recompute_from, filling):
        value = known[index]
        if value is None:
            surprise[index], seasonal[index] = 0.0, None
            continue
        verdict, expected = detector.candidate(
            known[max(0, index - size) : index],
            value,
            width=width,
            previous=seasonal[max(0, index - others) : index],
        )
        surprise[index], seasonal[index] = verdict.log_surprise, expected
        if index == complete:
            latest = verdict
    computed = filling - recompute_from
    verdicts = []
    for index, is_complete in ((complete, True), (filling, False)):
        moment = start + index * width
        if index in excluded:
            verdicts.append(Verdict(moment, counts[index], 0.0, 1.0, False, is_complete))
            continue
        if index == complete and latest is not None:
            verdict = latest
        else:
            verdict, _ = detector.candidate(
                known[max(0, index - size) : index],
                counts[index],
                width=width,
                complete=is_complete,
                previous=seasonal[max(0, index - others) : index],
            )
        window = slice(max(0, index - calibration), index)
        known_buckets = sum(1 for value in known[window] if value is not None)
        verdicts.append(
            detector._calibrated(
                verdict, surprise[window], moment, known_buckets=known_buckets, width=width
            )
        )
    next_state = ScanState(
        through=start + filling * width,
        counts=tuple(counts[:filling]),
        unknown=frozenset(i for i in unknown if i < filling),
        surprise=tuple(surprise[first_record:filling]),
        seasonal=tuple(seasonal[first_record:filling]),
    )
    return verdicts, next_state, computed


def _reusable(
    state: ScanState,
    counts: Sequence[int],
    unknown: Collection[int],
    known: Sequence[int | None],
    surprise: list[float],
    seasonal: list[float | None],
    start: datetime,
    width: timedelta,
    first_record: int,
) -> int:
    """Copy the still valid records of `state` into `surprise` and `seasonal`; return the
    index from which records must be recomputed (the first bucket whose known count differs
    from the one the state was computed with, at most the state's end)."""
    offset = (state.through - start) / width  # index of the state's end in this series
    if offset != int(offset) or not 0 <= offset <= len(known) - 1:
        return first_record  # another width, or time went backwards: start afresh
    end = int(offset)
    state_start = end - len(state.counts)
    if state_start > 0:
        return first_record  # the state does not cover this run's window
    changed = end
    # Compare whole runs first (fast); find the first difference only when there is one.
    recent = list(state.counts[-state_start : -state_start + end])
    shifted = {i + state_start for i in state.unknown if i + state_start >= 0}
    if recent != list(counts[:end]) or shifted != {i for i in unknown if i < end}:
        for index in range(0, end):
            position = index - state_start
            remembered = None if position in state.unknown else state.counts[position]
            if remembered != known[index]:
                changed = index
                break
    # The state ends at or before this run's latest bucket, so its records reach back at
    # least to this run's first record.
    records_start = end - len(state.surprise)
    if records_start > first_record:
        return first_record
    if changed > first_record:
        lo, hi = first_record - records_start, changed - records_start
        surprise[first_record:changed] = state.surprise[lo:hi]
        seasonal[first_record:changed] = state.seasonal[lo:hi]
    return max(first_record, changed)
