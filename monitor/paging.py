"""One poll of one feed as a page loop: authenticate if needed, fetch pages, stop politely.

The loop stops at the first of: no next page, a page that reaches stored posts (or the
source's high-water mark), a next-page token seen before (a server that loops), the post
budget (`backfill_posts` on the first poll, `max_entries_per_poll` after), the feed's
`max_pages_per_poll`, or rate-limit headers that say the window is used up. A failure on any
page fails the whole poll: nothing is stored and the cursor stays, so the next poll starts
over instead of leaving a gap.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import httpx

from monitor.config import FetchConfig
from monitor.errors import CredentialsError, HTTPStatusError, SourceError
from monitor.model import Post
from monitor.ratelimit import rate_limit_summary, rate_limit_wait
from monitor.secrets import redact
from monitor.sources.base import FeedState, Source
from monitor.sources.fetch import fetch

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Collected:
    """What the pages of one poll gave: posts, the cursor and validators to store, and
    what the network said about its limits."""

    posts: list[Post] = field(default_factory=list)
    cursor: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False
    pages: int = 0
    metered_units: int = 0
    wait_seconds: float | None = None
    rate_limit: str | None = None
    statistics: dict[str, int | None] | None = None


def _authenticate(
    source: Any,
    state: FeedState,
    *,
    client: httpx.Client,
    limits: FetchConfig,
    now: datetime,
    save_auth: Callable[[str | None], None],
) -> FeedState:
    request = source.auth_request(state, now=now)
    if request is None:
        return state
    try:
        result = fetch(client, request, limits=limits, now=now)
    except HTTPStatusError as exc:
        if exc.status_code in (400, 401, 403):
            save_auth(None)
            if state.auth:
                # A refresh token that expired or was revoked: log in from scratch once.
                return _authenticate(
                    source,
                    replace(state, auth={}),
                    client=client,
                    limits=limits,
                    now=now,
                    save_auth=save_auth,
                )
            raise CredentialsError(
                f"credentials refused (HTTP {exc.status_code}) by {request.url.host}"
            ) from exc
        raise
    auth = source.parse_auth(result.body, now=now)
    save_auth(json.dumps(auth))
    return replace(state, auth=auth)


def collect_pages(
    source: Source,
    state: FeedState,
    *,
    client: httpx.Client,
    limits: FetchConfig,
    max_pages: int,
    max_posts: int,
    etag: str | None,
    last_modified: str | None,
    now: datetime,
    stored: Callable[[Collection[str]], Collection[str]],
    save_auth: Callable[[str | None], None],
) -> Collected:
    """Return the posts of one poll; raise SourceError if any page fails."""
    collected = Collected(cursor=state.cursor)
    authenticated = hasattr(source, "auth_request")
    if authenticated:
        state = _authenticate(
            source, state, client=client, limits=limits, now=now, save_auth=save_auth
        )
    seen_pages: set[str] = set()
    state = replace(state, page=None, pending=state.cursor)
    retried_auth = False
    while collected.pages < max_pages:
        first = collected.pages == 0
        request = source.build_request(state)
        try:
            result = fetch(
                client,
                request,
                limits=limits,
                etag=etag if first else None,
                last_modified=last_modified if first else None,
                now=now,
            )
        except HTTPStatusError as exc:
            # An expired session: log in again once, then report.
            if authenticated and exc.status_code == 401 and not retried_auth:
                retried_auth = True
                save_auth(None)
                state = _authenticate(
                    source,
                    replace(state, auth={}),
                    client=client,
                    limits=limits,
                    now=now,
                    save_auth=save_auth,
                )
                continue
            raise
        collected.pages += 1
        summary = rate_limit_summary(result.headers, now=now)
        collected.rate_limit = summary or collected.rate_limit
        if result.not_modified:
            collected.not_modified = first
            break
        if first:
            collected.etag, collected.last_modified = result.etag, result.last_modified
        page = source.parse(
            result.body,
            url=result.url,
            content_type=result.content_type,
            fetched_at=now,
            state=state,
            headers=result.headers,
        )
        collected.posts.extend(page.posts)
        collected.metered_units += page.metered_units
        if page.next_cursor is not None:
            collected.cursor = page.next_cursor
        collected.wait_seconds = rate_limit_wait(result.headers, now=now)
        ids = [post.external_id for post in page.posts]
        known = bool(ids) and bool(stored(ids))
        next_page = page.next_page
        if (
            next_page is None
            or next_page in seen_pages
            or page.reached_known
            or known
            or not page.posts
            or len(collected.posts) >= max_posts
            or collected.wait_seconds is not None
        ):
            break
        seen_pages.add(next_page)
        state = replace(state, page=next_page, pending=collected.cursor)
    if hasattr(source, "statistics_request") and not collected.not_modified:
        collected.statistics = _statistics(source, state, client=client, limits=limits, now=now)
        collected.metered_units += 1
    return collected


def _statistics(
    source: Any, state: FeedState, *, client: httpx.Client, limits: FetchConfig, now: datetime
) -> dict[str, int | None] | None:
    # A leading signal, not the poll's purpose: its failure must not fail the comments.
    request = source.statistics_request(state)
    try:
        result = fetch(client, request, limits=limits, now=now)
        return dict(source.parse_statistics(result.body, url=result.url))
    except SourceError as exc:
        log.warning("statistics request failed: %s", redact(str(exc), state.secrets.values()))
        return None
