"""The long-running Jetstream consumer behind `monitor stream bluesky`.

It reads events in batches (up to `batch_size` events or `batch_seconds`), matches them with
the topic matchers, and stores the matched posts, their mentions, the timeline counters and
the cursor in one transaction, through the same storage path as polled posts. A dropped
connection is recorded on the feed (so `monitor feeds` and source alerts see it) and retried
with exponential backoff and full jitter, capped, forever.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from sqlalchemy import select, update
from websockets.exceptions import InvalidHandshake, InvalidURI, WebSocketException
from websockets.sync.client import connect

from monitor.config import FeedConfig
from monitor.errors import BlockedAddressError
from monitor.health import update_source_alert
from monitor.model import Post
from monitor.pipeline import match_and_score
from monitor.runtime import Runtime
from monitor.sources.jetstream import parse_event, subscribe_url
from monitor.sources.netguard import open_checked_socket, parse_networks
from monitor.storage import queries
from monitor.storage.engine import session_scope
from monitor.storage.tables import Feed

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 300.0
# Far above a post event (a few KB); bounds what one message may make us hold.
MAX_MESSAGE_BYTES = 1024 * 1024


@dataclass
class StreamStats:
    """What a consumer run did (for tests and the exit message)."""

    connections: int = 0
    events: int = 0
    stored_posts: int = 0
    new_mentions: int = 0
    failures: int = 0


def backoff_seconds(failures: int, *, base: float = 1.0, rng: random.Random | None = None) -> float:
    """Return a full-jitter delay for the n-th consecutive failure: uniform(0, min(cap,
    base * 2**n)); never zero for long, never above the cap."""
    ceiling = min(MAX_BACKOFF_SECONDS, base * 2 ** min(max(failures, 0), 20))
    return (rng or random).uniform(ceiling / 10, ceiling)


def _feed(runtime: Runtime, name: str | None) -> FeedConfig:
    feeds = [f for f in runtime.config.feeds if f.kind == "jetstream"]
    if name is not None:
        feeds = [f for f in feeds if f.name == name]
    if not feeds:
        raise LookupError("no jetstream feed in the config" + (f" named {name!r}" if name else ""))
    return feeds[0]


def _store_batch(
    runtime: Runtime, feed_id: int, feed: FeedConfig, posts: list[Post], cursor: int, now: datetime
) -> tuple[int, int]:
    topics = {t.name for t in runtime.config.feed_topics(feed)}
    repost_topics = {t.name for t in runtime.config.topics if t.count_reposts}
    matched = match_and_score(
        posts,
        runtime.matcher,
        topics=topics,
        repost_topics=repost_topics,
        scorer=runtime.scorer,
    )
    # Posts, mentions, counters and the cursor commit together: a crash re-reads the batch.
    with session_scope(runtime.sessions) as session:
        stored = queries.store_matched_posts(
            session,
            feed_id=feed_id,
            matched=matched,
            bucket_width=runtime.bucket_width,
            fetched_at=now,
        )
        session.execute(
            update(Feed)
            .where(Feed.id == feed_id)
            .values(
                cursor=str(cursor),
                last_success_at=now,
                last_polled_at=now,
                consecutive_failures=0,
                posts_stored=Feed.posts_stored + stored.new_posts,
            )
        )
        if posts:
            queries.record_last_post(session, feed_id, max(p.published_at for p in posts))
        update_source_alert(session, feed_id, feed, now=now)
    return stored.new_posts, stored.new_mentions


def _record_failure(runtime: Runtime, feed_id: int, feed: FeedConfig, error: str, now: datetime):
    with session_scope(runtime.sessions) as session:
        queries.record_poll_failure(session, feed_id, now=now, error=error, next_poll_at=None)
        update_source_alert(session, feed_id, feed, now=now)


def run_jetstream(
    runtime: Runtime,
    *,
    feed_name: str | None = None,
    stop: threading.Event | None = None,
    batch_size: int = 200,
    batch_seconds: float = 1.0,
    backoff_base_seconds: float = 1.0,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> StreamStats:
    """Consume the Jetstream feed until `stop` is set; return what was done."""
    stop = stop or threading.Event()
    feed = _feed(runtime, feed_name)
    with session_scope(runtime.sessions) as session:
        feed_id = session.scalar(select(Feed.id).where(Feed.name == feed.name))
    if feed_id is None:
        raise LookupError(f"feed {feed.name!r} is not in the database; restart after sync")
    stats = StreamStats()
    failures = 0
    while not stop.is_set():
        with session_scope(runtime.sessions) as session:
            stored_cursor = session.scalar(select(Feed.cursor).where(Feed.id == feed_id))
        cursor = int(stored_cursor) if stored_cursor and stored_cursor.isdigit() else None
        url = subscribe_url(feed.target, cursor)
        try:
            target = urlsplit(url)
            # The same address rule as for feeds: resolve once, check, dial the checked IP.
            sock = open_checked_socket(
                target.hostname or "",
                target.port or (443 if target.scheme == "wss" else 80),
                timeout=runtime.config.fetch.connect_timeout_seconds,
                allow_networks=parse_networks(runtime.config.fetch.allow_networks),
            )
            with connect(
                url,
                sock=sock,
                open_timeout=runtime.config.fetch.connect_timeout_seconds,
                max_size=MAX_MESSAGE_BYTES,
                proxy=None,
                user_agent_header=runtime.config.fetch.user_agent,
            ) as connection:
                stats.connections += 1
                log.info("jetstream connected feed=%s cursor=%s", feed.name, cursor)
                posts: list[Post] = []
                last_time: int | None = None
                batch_started = clock()
                while not stop.is_set():
                    try:
                        message = connection.recv(timeout=batch_seconds)
                    except TimeoutError:
                        message = None
                    if message is not None:
                        stats.events += 1
                        post, time_us = parse_event(message, fetched_at=clock())
                        if time_us is not None:
                            last_time = time_us
                        if post is not None:
                            posts.append(post)
                    elapsed = (clock() - batch_started).total_seconds()
                    if last_time is not None and (
                        len(posts) >= batch_size or elapsed >= batch_seconds or message is None
                    ):
                        new_posts, new_mentions = _store_batch(
                            runtime, feed_id, feed, posts, last_time, clock()
                        )
                        stats.stored_posts += new_posts
                        stats.new_mentions += new_mentions
                        posts, last_time, batch_started = [], None, clock()
                        failures = 0
        except (
            OSError,
            TimeoutError,
            WebSocketException,
            InvalidHandshake,
            InvalidURI,
            BlockedAddressError,
        ) as exc:
            failures += 1
            stats.failures += 1
            error = f"{type(exc).__name__}: {exc}"
            _record_failure(runtime, feed_id, feed, f"jetstream {url}: {error}", clock())
            delay = backoff_seconds(failures, base=backoff_base_seconds)
            log.warning(
                "jetstream dropped feed=%s error=%s retry_in=%.1fs", feed.name, error, delay
            )
            stop.wait(delay)
    return stats
