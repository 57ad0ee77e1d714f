"""Bluesky Jetstream events (public, keyless JSON over WebSocket): the pure parts.

Options (config `[[feeds]]` with `kind = "jetstream"`): `url` (default
wss://jetstream2.us-east.bsky.network/subscribe; any of the public instances accepts the
same cursor), `topics`, `alert_after_failures`, `alert_after_silent_hours`. The stream is
consumed by `monitor stream bluesky` (a compose service), not by the polling workers.

The server filters by collection only; every public post arrives and the topic matchers
filter them here. The cursor is the `time_us` (Unix microseconds) of the last event stored;
a reconnect rewinds it a few seconds and relies on idempotent storage.
"""

from __future__ import annotations

import json
from datetime import datetime
from urllib.parse import urlencode

from monitor.model import Post
from monitor.sources.bluesky import record_post

COLLECTION = "app.bsky.feed.post"
REWIND_SECONDS = 5


def subscribe_url(base: str, cursor_us: int | None, *, rewind_seconds: int = REWIND_SECONDS) -> str:
    """Return the subscribe URL for posts, resuming `rewind_seconds` before `cursor_us`."""
    params: list[tuple[str, str]] = [("wantedCollections", COLLECTION)]
    if cursor_us is not None:
        params.append(("cursor", str(max(0, cursor_us - rewind_seconds * 1_000_000))))
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}{urlencode(params)}"


def parse_event(message: str | bytes, *, fetched_at: datetime) -> tuple[Post | None, int | None]:
    """Return the post a Jetstream event creates (None for deletes, other collections,
    identity/account events and garbage) and the event's `time_us` (None if unreadable)."""
    try:
        event = json.loads(message)
    except (ValueError, UnicodeDecodeError):
        return None, None
    if not isinstance(event, dict):
        return None, None
    time_us = event.get("time_us")
    time_us = time_us if isinstance(time_us, int) and not isinstance(time_us, bool) else None
    commit = event.get("commit")
    did = event.get("did")
    if (
        event.get("kind") != "commit"
        or not isinstance(commit, dict)
        or not isinstance(did, str)
        or commit.get("collection") != COLLECTION
        or commit.get("operation") != "create"
        or not isinstance(commit.get("record"), dict)
        or not isinstance(commit.get("rkey"), str)
    ):
        return None, time_us
    uri = f"at://{did}/{COLLECTION}/{commit['rkey']}"
    post = record_post(
        uri=uri, record=commit["record"], handle=None, fetched_at=fetched_at, raw=event
    )
    return post, time_us
