"""Mentions -> fixed-width buckets in event time, and roll-ups to coarser widths."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from monitor.model import BucketCount

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_WIDTH = re.compile(r"^(\d+)([mhd])$")
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400}


def parse_width(text: str) -> timedelta:
    """Return the bucket width written as `5m`, `1h` or `1d`; ValueError otherwise."""
    match = _WIDTH.match(text.strip())
    problem = f"width {text!r}: write it as <number><m|h|d>, e.g. 5m, 1h, 1d"
    if not match or int(match.group(1)) == 0:
        raise ValueError(problem)
    try:
        return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])
    except OverflowError:
        raise ValueError(f"{problem} (at most 999999999 days)") from None


def width_text(width: timedelta) -> str:
    """Return a duration the way parse_width reads it: 5m, 1h, 1d (seconds when it is not a
    whole number of minutes, e.g. a step between two rows of a file)."""
    seconds = width.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def parse_since(text: str, *, now: datetime, option: str = "since") -> datetime:
    """Return the instant `text` ago (`30d`, `12h`, `90m`) or the ISO time it names; a
    ValueError naming `option` otherwise."""
    try:
        return now - parse_width(text)
    except (ValueError, OverflowError):
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(
            f"{option} {text!r}: give a duration such as 7d, 12h, 30m or an ISO time"
        ) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def as_utc(moment: datetime) -> datetime:
    """Return `moment` as an aware UTC datetime (naive values are taken to be UTC)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def bucket_start(moment: datetime, width: timedelta) -> datetime:
    """Return the start of the bucket of `width` holding `moment` (aligned to the epoch)."""
    elapsed = as_utc(moment) - EPOCH
    return EPOCH + (elapsed // width) * width  # floor division: right before 1970 too


def current_bucket_end(now: datetime, width: timedelta) -> datetime:
    """Return the end of the `width` bucket `now` falls in: where a history up to now stops
    (it shows the bucket still filling, never one that has not begun)."""
    return bucket_start(now, width) + width


def zero_filled(
    stored: Iterable[BucketCount], *, start: datetime, end: datetime, width: timedelta
) -> list[BucketCount]:
    """Return one bucket per `width` from start (inclusive) to end (exclusive), zeros where
    nothing was stored."""
    by_start = {as_utc(b.start): b for b in stored}
    out: list[BucketCount] = []
    moment = bucket_start(start, width)
    while moment < end:
        out.append(by_start.get(moment) or BucketCount(start=moment, count=0))
        moment += width
    return out


def rollup(buckets: Sequence[BucketCount], width: timedelta) -> list[BucketCount]:
    """Return `buckets` summed into buckets of the coarser `width`, in time order."""
    merged: dict[datetime, list[float]] = {}
    for bucket in buckets:
        key = bucket_start(bucket.start, width)
        acc = merged.setdefault(key, [0, 0.0, 0, 0, 0, 0, 0, 0, 0])
        acc[0] += bucket.count
        acc[1] += bucket.sentiment_sum
        acc[2] += bucket.scored
        acc[3] += bucket.positive
        acc[4] += bucket.neutral
        acc[5] += bucket.negative
        acc[6] += bucket.scored_vader
        acc[7] += bucket.scored_fandom
        acc[8] += bucket.scored_emoji
    return [
        BucketCount(
            start=key,
            count=int(acc[0]),
            sentiment_sum=acc[1],
            scored=int(acc[2]),
            positive=int(acc[3]),
            neutral=int(acc[4]),
            negative=int(acc[5]),
            scored_vader=int(acc[6]),
            scored_fandom=int(acc[7]),
            scored_emoji=int(acc[8]),
        )
        for key, acc in sorted(merged.items())
    ]
