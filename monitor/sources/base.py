"""The Source protocol: a source builds requests and parses bodies; it never does I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Protocol

import httpx

from monitor.model import Post


@dataclass(frozen=True, slots=True)
class FeedState:
    """What a source may use from the stored poll state of its feed."""

    url: str
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class Page:
    """The posts of one response and the cursor to store with them."""

    posts: Sequence[Post]
    next_cursor: str | None = None


class Source(Protocol):
    """One network's request builder and parser. `parse` is pure: bytes in, posts out."""

    kind: ClassVar[str]
    network: ClassVar[str]

    def build_request(self, state: FeedState) -> httpx.Request:
        """Return the GET request for the next poll (the fetcher adds validators)."""
        ...

    def parse(
        self, body: bytes, *, url: str, content_type: str | None, fetched_at: datetime
    ) -> Page:
        """Return the posts in `body`; raise ParseError if it is not what the source expects."""
        ...
