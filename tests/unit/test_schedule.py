"""Poll scheduling: Retry-After parsing and the backoff after failures, with a fixed `now`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from monitor.schedule import (
    next_poll_after_failure,
    next_poll_after_success,
    parse_retry_after,
)

NOW = datetime(2015, 10, 21, 7, 27, 0, tzinfo=UTC)


@pytest.mark.parametrize(("header", "seconds"), [("120", 120.0), (" 120 ", 120.0), ("0", 0.0)])
def test_retry_after_in_seconds(header: str, seconds: float) -> None:
    assert parse_retry_after(header, now=NOW) == seconds


def test_retry_after_http_date_is_relative_to_now() -> None:
    # The RFC 9110 example date, one minute after NOW.
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=NOW) == 60.0
    assert parse_retry_after("Wed, 21 Oct 2015 08:27:00 GMT", now=NOW) == 3600.0


def test_retry_after_http_date_with_another_now() -> None:
    now = datetime(2015, 10, 21, 16, 27, 0, tzinfo=timezone(timedelta(hours=9)))  # 07:27 UTC

    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=now) == 60.0


def test_retry_after_date_in_the_past_is_zero() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:26:00 GMT", now=NOW) == 0.0
    assert parse_retry_after("Tue, 21 Oct 2014 07:28:00 GMT", now=NOW) == 0.0


@pytest.mark.parametrize("header", [None, "", "   ", "soon", "-5", "1.5", "12 seconds", "Wed, 99"])
def test_unreadable_retry_after_is_none(header: str | None) -> None:
    assert parse_retry_after(header, now=NOW) is None


def test_superscript_digit_retry_after_is_none() -> None:
    # httpx decodes headers as latin-1, so a stray byte 0xB2 arrives as "²".
    assert parse_retry_after("\u00b2", now=NOW) is None


def test_next_poll_after_success_is_one_interval_later() -> None:
    assert next_poll_after_success(NOW, 900) == NOW + timedelta(seconds=900)


@pytest.mark.parametrize(
    ("failures", "delay"),
    [(0, 300), (1, 300), (2, 600), (3, 1200), (4, 2400), (5, 4800), (6, 9600), (7, 19200)],
)
def test_backoff_doubles_per_consecutive_failure(failures: int, delay: int) -> None:
    assert next_poll_after_failure(NOW, 300, failures) == NOW + timedelta(seconds=delay)


@pytest.mark.parametrize("failures", [8, 9, 20, 1000])
def test_backoff_is_capped_at_six_hours(failures: int) -> None:
    # 300 s * 2**7 = 38400 s > 6 h.
    assert next_poll_after_failure(NOW, 300, failures) == NOW + timedelta(hours=6)


def test_long_interval_is_capped_too() -> None:
    assert next_poll_after_failure(NOW, 86_400, 1) == NOW + timedelta(hours=6)


def test_retry_after_longer_than_backoff_wins() -> None:
    later = next_poll_after_failure(NOW, 300, 1, retry_after_seconds=3600)

    assert later == NOW + timedelta(hours=1)


def test_backoff_longer_than_retry_after_wins() -> None:
    later = next_poll_after_failure(NOW, 300, 3, retry_after_seconds=60)

    assert later == NOW + timedelta(seconds=1200)


def test_retry_after_is_clamped_below() -> None:
    for asked in (0.0, 2.0, -30.0):
        later = next_poll_after_failure(NOW, 1, 1, retry_after_seconds=asked)
        assert later == NOW + timedelta(seconds=10)


def test_retry_after_is_clamped_above_but_may_exceed_the_backoff_cap() -> None:
    later = next_poll_after_failure(NOW, 300, 1, retry_after_seconds=48 * 3600)

    assert later == NOW + timedelta(hours=24)
    assert next_poll_after_failure(NOW, 300, 1, retry_after_seconds=12 * 3600) == NOW + timedelta(
        hours=12
    )


def test_absurd_retry_after_is_clamped_not_an_overflow() -> None:
    asked = parse_retry_after("100000000000000", now=NOW)  # 1e14 s, as a server may send

    later = next_poll_after_failure(NOW, 300, 1, retry_after_seconds=asked)

    assert later == NOW + timedelta(hours=24)


def test_failure_jitter_spreads_within_a_quarter_and_keeps_the_cap() -> None:
    low = next_poll_after_failure(NOW, 300, 3, jitter=0.0)
    high = next_poll_after_failure(NOW, 300, 3, jitter=0.999)
    assert low == NOW + timedelta(seconds=1200)
    assert NOW + timedelta(seconds=1200) < high < NOW + timedelta(seconds=1500)
    assert next_poll_after_failure(NOW, 300, 40, jitter=0.999) == NOW + timedelta(hours=6)
