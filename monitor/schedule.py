"""When to poll a feed next: pure functions of `now`, the interval and the failure count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

MAX_BACKOFF = timedelta(hours=6)
MIN_RETRY_AFTER = timedelta(seconds=10)
MAX_RETRY_AFTER = timedelta(hours=24)
JITTER_SHARE = 0.25


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Return the seconds a Retry-After header asks for (delta-seconds or HTTP date), or None
    when the header is missing or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - now).total_seconds())


def next_poll_after_success(now: datetime, interval_seconds: int) -> datetime:
    """Return when a feed that was just polled successfully is due again."""
    return now + timedelta(seconds=interval_seconds)


def next_poll_after_failure(
    now: datetime,
    interval_seconds: int,
    consecutive_failures: int,
    *,
    retry_after_seconds: float | None = None,
    jitter: float = 0.0,
) -> datetime:
    """Return when a failing feed is due again: the interval doubled per consecutive failure,
    plus up to JITTER_SHARE of it scaled by `jitter` (a random number in [0, 1) the caller
    draws, so failing feeds spread out instead of retrying in step), capped at MAX_BACKOFF,
    and never sooner than a (clamped) Retry-After."""
    exponent = max(0, min(consecutive_failures - 1, 16))
    base = interval_seconds * 2**exponent
    spread = base * JITTER_SHARE * min(max(jitter, 0.0), 1.0)
    delay = min(MAX_BACKOFF, timedelta(seconds=base + spread))
    if retry_after_seconds is not None:
        # Clamp the number first: a huge header value would overflow timedelta.
        asked_seconds = min(
            MAX_RETRY_AFTER.total_seconds(),
            max(MIN_RETRY_AFTER.total_seconds(), retry_after_seconds),
        )
        delay = max(delay, timedelta(seconds=asked_seconds))
    return now + delay
