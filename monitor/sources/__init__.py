"""Sources by kind: a new network is one module and one line here."""

from __future__ import annotations

from monitor.sources.base import FeedState, Page, Source
from monitor.sources.rss import RssSource

SOURCES: dict[str, type[Source]] = {
    RssSource.kind: RssSource,
}


def source_for(kind: str) -> Source:
    """Return the source that handles feeds of `kind`."""
    try:
        return SOURCES[kind]()
    except KeyError:
        raise KeyError(
            f"unknown feed kind {kind!r} (known: {', '.join(sorted(SOURCES))})"
        ) from None


__all__ = ["SOURCES", "FeedState", "Page", "Source", "source_for"]
