"""The Source protocol: a source builds requests and parses bodies; it never does I/O.

One poll of a feed is a loop the pipeline drives (monitor/paging.py):

    state = FeedState(url, cursor=<stored>, options=<feed config>, secrets=<from env>)
    request = source.build_request(state)          # first page
    page = source.parse(body, ..., state=state)    # posts, cursor to store, next page
    request = source.build_request(replace(state, page=page.next_page, pending=...))
    ...until page.next_page is None, a page reaches stored posts, or max_pages_per_poll.

The cursor a poll stores is `Page.next_cursor` of its last page (each source folds the
running `pending` cursor into it), and it is committed in the transaction that stores the
posts, so a crash between fetch and commit re-fetches instead of skipping.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import httpx

from monitor.model import Post

if TYPE_CHECKING:
    from monitor.config import FeedConfig


@dataclass(frozen=True, slots=True)
class FeedState:
    """What a source may use to build a request: the feed's stored cursor, its options and
    secrets, and, within one poll, the page to fetch and the cursor gathered so far."""

    url: str
    cursor: str | None = None
    options: FeedConfig | None = None
    secrets: Mapping[str, str] = field(default_factory=dict)
    page: str | None = None  # the next-page token of the previous page; None: first page
    pending: str | None = None  # the cursor the poll would store after the pages so far
    auth: Mapping[str, Any] = field(default_factory=dict)  # session/token of the feed


@dataclass(frozen=True, slots=True)
class Page:
    """The posts of one response, the cursor to store with them, and how to go on."""

    posts: Sequence[Post]
    next_cursor: str | None = None
    next_page: str | None = None  # a token or URL for the next page of this poll
    reached_known: bool = False  # the page reached the stored high-water mark: stop paging
    metered_units: int = 0  # what this response costs on a metered API (units, posts read)


class Source(Protocol):
    """One network's request builder and parser. `parse` is pure: bytes in, posts out."""

    kind: ClassVar[str]
    network: ClassVar[str]

    def build_request(self, state: FeedState) -> httpx.Request:
        """Return the request for the page `state` describes (the fetcher adds validators)."""
        ...

    def parse(
        self,
        body: bytes,
        *,
        url: str,
        content_type: str | None,
        fetched_at: datetime,
        state: FeedState | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Page:
        """Return the posts in `body`; raise ParseError if it is not what the source expects."""
        ...


class AuthenticatedSource(Source, Protocol):
    """A source that needs a session or token before its first request (Bluesky, Reddit)."""

    def auth_request(self, state: FeedState, *, now: datetime) -> httpx.Request | None:
        """Return the request that creates or refreshes the session, or None if `state.auth`
        is still good."""
        ...

    def parse_auth(self, body: bytes, *, now: datetime) -> dict[str, Any]:
        """Return the session to keep from an auth response; ParseError if there is none."""
        ...
