"""Sources by kind: a new network is one module and one line here."""

from __future__ import annotations

from monitor.sources.base import FeedState, Page, Source
from monitor.sources.bluesky import BlueskySearchSource
from monitor.sources.generic_json import GenericJsonSource
from monitor.sources.jsonfeed import JsonFeedSource
from monitor.sources.mastodon import MastodonSource
from monitor.sources.reddit import RedditSource
from monitor.sources.rss import RssSource
from monitor.sources.x import XSearchSource
from monitor.sources.youtube import YouTubeCommentsSource

SOURCES: dict[str, type[Source]] = {
    RssSource.kind: RssSource,
    JsonFeedSource.kind: JsonFeedSource,
    GenericJsonSource.kind: GenericJsonSource,
    MastodonSource.kind: MastodonSource,
    BlueskySearchSource.kind: BlueskySearchSource,
    RedditSource.kind: RedditSource,
    YouTubeCommentsSource.kind: YouTubeCommentsSource,
    XSearchSource.kind: XSearchSource,
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
