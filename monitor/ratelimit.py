"""The networks' rate-limit headers, read as a pure function of the headers and `now`.

Mastodon: X-RateLimit-Remaining / X-RateLimit-Reset (ISO time). Reddit: X-Ratelimit-Remaining
/ X-Ratelimit-Reset (seconds from now, may be fractional). X: x-rate-limit-remaining /
x-rate-limit-reset (Unix time). Bluesky: RateLimit-Remaining / RateLimit-Reset (Unix time).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

_REMAINING = ("x-ratelimit-remaining", "x-rate-limit-remaining", "ratelimit-remaining")
_RESET = ("x-ratelimit-reset", "x-rate-limit-reset", "ratelimit-reset")
_LIMIT = ("x-ratelimit-limit", "x-rate-limit-limit", "ratelimit-limit")
# A reset value this large is a Unix time, smaller is seconds from now.
_EPOCH_THRESHOLD = 1_000_000_000
MAX_WAIT_SECONDS = 24 * 3600.0


def _first(headers: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    lowered = {key.lower(): value for key, value in headers.items()}
    for name in names:
        if name in lowered and lowered[name].strip():
            return lowered[name].strip()
    return None


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value == value and abs(value) != float("inf") else None


def reset_seconds(headers: Mapping[str, str], *, now: datetime) -> float | None:
    """Return the seconds until the rate-limit window resets, or None if not given."""
    text = _first(headers, _RESET)
    if text is None:
        return None
    number = _number(text)
    if number is None:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = (moment - now).total_seconds()
    elif number > _EPOCH_THRESHOLD:
        seconds = number - now.timestamp()
    else:
        seconds = number
    return min(MAX_WAIT_SECONDS, max(0.0, seconds))


def rate_limit_wait(headers: Mapping[str, str], *, now: datetime) -> float | None:
    """Return how long to wait before the next request when the window is used up (remaining
    below one), or None when requests are still allowed or the headers say nothing."""
    remaining = _number(_first(headers, _REMAINING))
    if remaining is None or remaining >= 1:
        return None
    wait = reset_seconds(headers, now=now)
    return 60.0 if wait is None else wait


def rate_limit_summary(headers: Mapping[str, str], *, now: datetime) -> str | None:
    """Return "remaining/limit, resets in Ns" for display, or None without headers."""
    remaining = _first(headers, _REMAINING)
    if remaining is None:
        return None
    limit = _first(headers, _LIMIT)
    reset = reset_seconds(headers, now=now)
    text = f"{remaining}/{limit}" if limit else remaining
    return text + (f", resets in {reset:.0f}s" if reset is not None else "")
