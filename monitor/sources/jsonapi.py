"""Helpers shared by the JSON API sources: decoding, times, counts. Pure functions."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from monitor.errors import ParseError
from monitor.sources.base import FeedState

# A clock skew allowance; later than this is a wrong date, not a post from the future.
FUTURE_TOLERANCE = timedelta(minutes=10)


def load_json(body: bytes, *, source: str, url: str) -> Any:
    """Return the decoded JSON document; ParseError naming the source and URL otherwise."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParseError(f"{source}: response is not JSON ({exc}): {url}") from exc


def expect(value: Any, kind: type | tuple[type, ...], *, what: str, source: str, url: str) -> Any:
    """Return `value` if it has the expected JSON type; ParseError (wrong shape) otherwise."""
    if not isinstance(value, kind):
        raise ParseError(
            f"{source}: unexpected response shape: {what} is {type(value).__name__}: {url}"
        )
    return value


def load_document(
    body: bytes, kind: type | tuple[type, ...], *, what: str, source: str, url: str
) -> Any:
    """Return the decoded JSON document if its top level has the expected type; ParseError
    (not JSON, or the wrong shape) otherwise."""
    return expect(load_json(body, source=source, url=url), kind, what=what, source=source, url=url)


def parse_time(value: Any) -> datetime | None:
    """Return an aware UTC datetime from an ISO 8601 string or Unix seconds, or None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(float(value), tz=UTC)
        except (OverflowError, ValueError, OSError):
            return None
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def post_time(value: Any, *, fetched_at: datetime) -> tuple[datetime, tuple[str, ...]]:
    """Return the post's time and flags: missing or far-future times become `fetched_at`."""
    moment = parse_time(value)
    if moment is None:
        return fetched_at, ("date_missing",)
    if moment > fetched_at + FUTURE_TOLERANCE:
        return fetched_at, ("date_future",)
    return moment, ()


def count(value: Any) -> int | None:
    """Return a non-negative integer count, or None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return max(0, value)
    if isinstance(value, float) and value == value:
        return max(0, int(value))
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def text_of(value: Any) -> str:
    """Return `value` if it is a string (without NUL characters, which PostgreSQL text
    refuses), else an empty string."""
    return value.replace("\x00", "") if isinstance(value, str) else ""


def bearer(token: str | None) -> dict[str, str]:
    """Return an Authorization header for a bearer token (none without a token)."""
    return {"Authorization": f"Bearer {token}"} if token else {}


def get_request(
    url: str, *, params: Mapping[str, Any] | None = None, **headers: str
) -> httpx.Request:
    """Return a GET request for JSON."""
    clean = {k: v for k, v in (params or {}).items() if v is not None}
    # An empty params argument would wipe a query already in `url` (a Link header URL).
    return httpx.Request(
        "GET", url, params=clean or None, headers={"Accept": "application/json", **headers}
    )


def options_of(state: FeedState) -> Any:
    """Return the feed config of `state`; a source needs one to build API requests."""
    if state.options is None:
        raise ParseError(f"no options for {state.url}: the feed is not in the config")
    return state.options
