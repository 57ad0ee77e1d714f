"""Bucketing in event time: alignment, zero filling, roll-ups and the CLI's duration syntax."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.model import BucketCount
from monitor.timeline import (
    as_utc,
    bucket_start,
    parse_since,
    parse_width,
    rollup,
    width_text,
    zero_filled,
)

FIVE_MIN = timedelta(minutes=5)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
KST = timezone(timedelta(hours=9))
NEWFOUNDLAND = timezone(timedelta(hours=-3, minutes=-30))
NOW = datetime(2024, 3, 1, 12, 2, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "width", "expected"),
    [
        (datetime(2024, 3, 1, 12, 7, 59, tzinfo=UTC), FIVE_MIN, datetime(2024, 3, 1, 12, 5)),
        (datetime(2024, 3, 1, 12, 5, 0, tzinfo=UTC), FIVE_MIN, datetime(2024, 3, 1, 12, 5)),
        (datetime(2024, 3, 1, 12, 4, 59, 999999, tzinfo=UTC), FIVE_MIN, datetime(2024, 3, 1, 12)),
        (datetime(2024, 3, 1, 12, 59, 59, tzinfo=UTC), HOUR, datetime(2024, 3, 1, 12)),
        (datetime(2024, 3, 1, 23, 59, 59, tzinfo=UTC), DAY, datetime(2024, 3, 1)),
        # Naive datetimes are UTC.
        (datetime(2024, 3, 1, 12, 7, 59), FIVE_MIN, datetime(2024, 3, 1, 12, 5)),
        (datetime(2024, 3, 1, 0, 0, 1), DAY, datetime(2024, 3, 1)),
        # 09:30 in Seoul is 00:30 UTC; 02:00 in Seoul is still the previous UTC day.
        (datetime(2024, 3, 1, 9, 33, tzinfo=KST), FIVE_MIN, datetime(2024, 3, 1, 0, 30)),
        (datetime(2024, 3, 1, 9, 33, tzinfo=KST), HOUR, datetime(2024, 3, 1, 0, 0)),
        (datetime(2024, 3, 1, 2, 0, tzinfo=KST), DAY, datetime(2024, 2, 29)),
        # 22:10 at UTC-03:30 is 01:40 UTC the next day.
        (datetime(2024, 2, 29, 22, 10, tzinfo=NEWFOUNDLAND), HOUR, datetime(2024, 3, 1, 1)),
        (datetime(2024, 2, 29, 22, 10, tzinfo=NEWFOUNDLAND), DAY, datetime(2024, 3, 1)),
    ],
)
def test_bucket_start_aligns_in_utc(moment: datetime, width: timedelta, expected: datetime) -> None:
    start = bucket_start(moment, width)

    assert start == expected.replace(tzinfo=UTC)
    assert start.utcoffset() == timedelta(0)


@settings(max_examples=200, deadline=None)
@given(
    moment=st.datetimes(
        min_value=datetime(1970, 1, 2),
        max_value=datetime(2200, 1, 1),
        timezones=st.sampled_from([UTC, KST, NEWFOUNDLAND]),
    ),
    minutes=st.sampled_from([1, 5, 15, 60, 24 * 60]),
)
def test_bucket_start_contains_the_moment(moment: datetime, minutes: int) -> None:
    width = timedelta(minutes=minutes)
    start = bucket_start(moment, width)

    assert start <= moment < start + width
    assert start.timestamp() % width.total_seconds() == 0


def test_bucket_start_before_the_epoch() -> None:
    moment = datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=UTC)

    assert bucket_start(moment, FIVE_MIN) == datetime(1969, 12, 31, 23, 55, tzinfo=UTC)


def test_as_utc() -> None:
    assert as_utc(datetime(2024, 3, 1, 9, tzinfo=KST)) == datetime(2024, 3, 1, tzinfo=UTC)
    assert as_utc(datetime(2024, 3, 1)).tzinfo is UTC


def test_zero_filled_has_one_bucket_per_width_with_zeros() -> None:
    start = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
    stored = [
        BucketCount(start=start + FIVE_MIN, count=3, sentiment_sum=1.5, scored=3, positive=3),
        # Stored with a naive start: found by its instant in UTC.
        BucketCount(start=datetime(2024, 3, 1, 12, 20), count=7),
        # Outside the range: ignored.
        BucketCount(start=start - FIVE_MIN, count=99),
        BucketCount(start=start + HOUR, count=99),
    ]

    series = zero_filled(stored, start=start, end=start + 30 * timedelta(minutes=1), width=FIVE_MIN)

    assert [as_utc(b.start) for b in series] == [start + i * FIVE_MIN for i in range(6)]
    assert [b.count for b in series] == [0, 3, 0, 0, 7, 0]
    assert series[1].sentiment_sum == 1.5
    assert all(b.sentiment_sum == 0 and b.scored == 0 for i, b in enumerate(series) if i != 1)


def test_zero_filled_aligns_an_unaligned_start_and_excludes_the_end() -> None:
    series = zero_filled(
        [],
        start=datetime(2024, 3, 1, 12, 3, tzinfo=UTC),
        end=datetime(2024, 3, 1, 12, 15, tzinfo=UTC),
        width=FIVE_MIN,
    )

    assert [b.start.minute for b in series] == [0, 5, 10]
    assert all(b.count == 0 for b in series)


def test_zero_filled_empty_range() -> None:
    assert zero_filled([], start=NOW, end=NOW - HOUR, width=FIVE_MIN) == []


def test_rollup_sums_every_field_into_coarser_buckets() -> None:
    base = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
    fine = [
        BucketCount(base, 2, 0.5, 2, 1, 1, 0),
        BucketCount(base + FIVE_MIN, 3, -0.25, 2, 0, 1, 1),
        BucketCount(base + 11 * FIVE_MIN, 1, 0.75, 1, 1, 0, 0),
        BucketCount(base + HOUR + FIVE_MIN, 4, 1.0, 4, 2, 2, 0),
    ]

    hourly = rollup(list(reversed(fine)), HOUR)

    assert hourly == [
        BucketCount(base, 6, 1.0, 5, 2, 2, 1),
        BucketCount(base + HOUR, 4, 1.0, 4, 2, 2, 0),
    ]
    assert isinstance(hourly[0].count, int)


def test_rollup_of_nothing_is_nothing() -> None:
    assert rollup([], DAY) == []


bucket_counts = st.builds(
    BucketCount,
    start=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ).map(lambda moment: bucket_start(moment, FIVE_MIN)),
    count=st.integers(0, 10_000),
    sentiment_sum=st.floats(-1000, 1000, allow_nan=False),
    scored=st.integers(0, 10_000),
    positive=st.integers(0, 10_000),
    neutral=st.integers(0, 10_000),
    negative=st.integers(0, 10_000),
)


@settings(max_examples=200, deadline=None)
@given(
    buckets=st.lists(bucket_counts, max_size=40),
    width=st.sampled_from([FIVE_MIN, HOUR, DAY, timedelta(days=7)]),
)
def test_rollup_preserves_totals(buckets: list[BucketCount], width: timedelta) -> None:
    rolled = rollup(buckets, width)

    assert sum(b.count for b in rolled) == sum(b.count for b in buckets)
    assert sum(b.scored for b in rolled) == sum(b.scored for b in buckets)
    for field in ("positive", "neutral", "negative"):
        assert sum(getattr(b, field) for b in rolled) == sum(getattr(b, field) for b in buckets)
    assert math.isclose(
        sum(b.sentiment_sum for b in rolled),
        sum(b.sentiment_sum for b in buckets),
        rel_tol=1e-9,
        abs_tol=1e-6,
    )
    starts = [b.start for b in rolled]
    assert starts == sorted(set(starts))
    assert all(bucket_start(s, width) == s for s in starts)
    assert len(rolled) <= len(buckets)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5m", timedelta(minutes=5)),
        ("90m", timedelta(minutes=90)),
        ("1h", timedelta(hours=1)),
        ("12h", timedelta(hours=12)),
        ("1d", timedelta(days=1)),
        ("30d", timedelta(days=30)),
        (" 5m ", timedelta(minutes=5)),
    ],
)
def test_parse_width_good(text: str, expected: timedelta) -> None:
    assert parse_width(text) == expected


@pytest.mark.parametrize("text", ["", "m", "5", "0m", "-5m", "5s", "5M", "1.5h", "5 m", "h1", "1w"])
def test_parse_width_bad(text: str) -> None:
    with pytest.raises(ValueError, match="5m, 1h, 1d"):
        parse_width(text)


def test_parse_width_too_large_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_width("9999999999d")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", datetime(2024, 3, 1, 11, 32, 30, tzinfo=UTC)),
        ("12h", datetime(2024, 3, 1, 0, 2, 30, tzinfo=UTC)),
        ("7d", datetime(2024, 2, 23, 12, 2, 30, tzinfo=UTC)),
        ("2024-02-29T10:00:00+00:00", datetime(2024, 2, 29, 10, tzinfo=UTC)),
        ("2024-02-29T19:00:00+09:00", datetime(2024, 2, 29, 10, tzinfo=UTC)),
        ("2024-02-29", datetime(2024, 2, 29, tzinfo=UTC)),
        ("2024-02-29T10:00", datetime(2024, 2, 29, 10, tzinfo=UTC)),
    ],
)
def test_parse_since_good(text: str, expected: datetime) -> None:
    since = parse_since(text, now=NOW)

    assert since == expected
    assert since.tzinfo is not None


@pytest.mark.parametrize("text", ["", "yesterday", "5s", "2024-13-01", "0d", "7 days"])
def test_parse_since_bad(text: str) -> None:
    with pytest.raises(ValueError, match="since"):
        parse_since(text, now=NOW)


def test_width_text_reads_back_with_parse_width() -> None:
    for text in ("5m", "90m", "1h", "6h", "1d", "2d"):
        assert width_text(parse_width(text)) == text
    assert width_text(timedelta(minutes=120)) == "2h"
    assert width_text(timedelta(seconds=90)) == "90s"
