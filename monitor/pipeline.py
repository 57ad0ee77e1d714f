"""The monitor's cycle, I/O passed in: fetch -> parse -> match -> score -> store; detect."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.alerting import judge_topic
from monitor.detectors import topic_detectors, topic_policy
from monitor.errors import SourceError
from monitor.matching import Matcher
from monitor.model import Post
from monitor.runtime import Runtime
from monitor.schedule import next_poll_after_failure, next_poll_after_success
from monitor.sentiment import score_text
from monitor.sources import FeedState, source_for
from monitor.sources.fetch import fetch
from monitor.storage import alert_queries, queries
from monitor.storage.engine import session_scope

log = logging.getLogger(__name__)

# Longer than a poll may take (the task's hard time limit), so a lease outlives its poll.
POLL_LEASE = timedelta(minutes=3)


@dataclass(frozen=True, slots=True)
class PollOutcome:
    """What one poll of one feed did."""

    feed_id: int
    feed_name: str
    status: str  # "stored", "not-modified", "failed", "skipped"
    fetched: int = 0
    matched: int = 0
    new_posts: int = 0
    new_mentions: int = 0
    error: str | None = None


def match_and_score(
    posts: Iterable[Post], matcher: Matcher, *, topics: set[str] | None = None
) -> list[queries.MatchedPost]:
    """Return the posts that mention a topic (limited to `topics` if given), each scored once."""
    matched = []
    for post in posts:
        hits = matcher.topics_in(post.text, lang=post.lang)
        if topics is not None:
            hits = {name: terms for name, terms in hits.items() if name in topics}
        if hits:
            matched.append(queries.MatchedPost(post, hits, score_text(post.text)))
    return matched


def _newest(posts: Sequence[Post], limit: int) -> Sequence[Post]:
    if len(posts) <= limit:
        return posts
    return sorted(posts, key=lambda post: post.published_at, reverse=True)[:limit]


def poll_feed(runtime: Runtime, feed_id: int, *, now: datetime) -> PollOutcome:
    """Poll one feed and store what is new; a failure is recorded on the feed, never raised."""
    with session_scope(runtime.sessions) as session:
        feed = queries.claim_feed(session, feed_id, now=now, lease=POLL_LEASE)
        if feed is None:
            return PollOutcome(feed_id, str(feed_id), "skipped")
        name, kind, url = feed.name, feed.kind, feed.target
        interval, failures = feed.interval_seconds, feed.consecutive_failures
        etag, last_modified, cursor = feed.etag, feed.last_modified, feed.cursor
        last_success = feed.last_success_at
    feed_config = next((f for f in runtime.config.feeds if f.name == name), None)
    topics = {t.name for t in runtime.config.feed_topics(feed_config)} if feed_config else None
    try:
        source = source_for(kind)
        request = source.build_request(FeedState(url=url, cursor=cursor))
        result = fetch(
            runtime.http,
            request,
            limits=runtime.config.fetch,
            etag=etag,
            last_modified=last_modified,
            now=now,
        )
        if result.not_modified:
            with session_scope(runtime.sessions) as session:
                queries.record_poll_success(
                    session,
                    feed_id,
                    now=now,
                    next_poll_at=next_poll_after_success(now, interval),
                    etag=etag,
                    last_modified=last_modified,
                    cursor=cursor,
                    new_posts=0,
                    keep_validators=True,
                )
            return PollOutcome(feed_id, name, "not-modified")
        page = source.parse(
            result.body, url=result.url, content_type=result.content_type, fetched_at=now
        )
    except SourceError as exc:
        retry_after = getattr(exc, "retry_after_seconds", None)
        with session_scope(runtime.sessions) as session:
            queries.record_poll_failure(
                session,
                feed_id,
                now=now,
                error=f"{type(exc).__name__}: {exc}",
                next_poll_at=next_poll_after_failure(
                    now, interval, failures + 1, retry_after_seconds=retry_after
                ),
            )
            # The buckets since the last success are unknown for this feed's topics.
            alert_queries.record_outage(
                session,
                feed_id,
                since=last_success or now - runtime.bucket_width,
                until=now,
                width=runtime.bucket_width,
            )
        log.warning("poll failed", extra={"feed": name, "error": str(exc)})
        return PollOutcome(feed_id, name, "failed", error=f"{type(exc).__name__}: {exc}")
    posts = _newest(page.posts, runtime.config.fetch.max_entries_per_poll)
    matched = match_and_score(posts, runtime.matcher, topics=topics)
    # Posts, mentions, timeline counters, validators and cursor commit together or not at all.
    with session_scope(runtime.sessions) as session:
        stored = queries.store_matched_posts(
            session,
            feed_id=feed_id,
            matched=matched,
            bucket_width=runtime.bucket_width,
            fetched_at=now,
        )
        queries.record_poll_success(
            session,
            feed_id,
            now=now,
            next_poll_at=next_poll_after_success(now, interval),
            etag=result.etag,
            last_modified=result.last_modified,
            cursor=page.next_cursor,
            new_posts=stored.new_posts,
        )
    return PollOutcome(
        feed_id,
        name,
        "stored",
        fetched=len(page.posts),
        matched=len(matched),
        new_posts=stored.new_posts,
        new_mentions=stored.new_mentions,
    )


def dispatch_due_feeds(runtime: Runtime, *, now: datetime) -> list[int]:
    """Return the ids of the feeds due for a poll, marked so they are not dispatched twice."""
    with session_scope(runtime.sessions) as session:
        return queries.claim_due_feeds(session, now=now, redispatch_after=POLL_LEASE)


def all_feed_ids(runtime: Runtime) -> list[int]:
    """Return the ids of every enabled feed."""
    with session_scope(runtime.sessions) as session:
        return [feed.id for feed in queries.list_feeds(session) if feed.enabled]


@dataclass(frozen=True, slots=True)
class AlertChange:
    """An alert that detection opened, escalated, updated or resolved."""

    alert_id: int
    topic: str
    action: str
    observed: int
    expected: float
    kind: str = "spike"
    severity: str = "minor"


def detect_spikes(runtime: Runtime, *, now: datetime) -> list[AlertChange]:
    """Judge every topic's latest buckets for each alert kind switched on for it (spikes,
    drops) and open, escalate, update or resolve its episode; return the changes."""
    settings = runtime.config.detection
    width = runtime.bucket_width
    changes: list[AlertChange] = []
    with session_scope(runtime.sessions) as session:
        feed_ids = {feed.name: feed.id for feed in queries.list_feeds(session)}
    for topic in runtime.config.topics:
        # Outages of the feeds that serve this topic are left out of its baselines.
        serving = [
            feed_ids[feed.name]
            for feed in runtime.config.feeds
            if feed.name in feed_ids and (feed.topics is None or topic.name in feed.topics)
        ]
        for kind, detector in topic_detectors(settings, topic).items():
            with session_scope(runtime.sessions) as session:
                outcome = judge_topic(
                    session,
                    topic_id=queries.get_topic_id(session, topic.name),
                    kind=kind,
                    detector=detector,
                    policy=topic_policy(settings, topic, detector),
                    width=width,
                    min_history_buckets=settings.min_history_buckets,
                    sample_posts=settings.sample_posts,
                    now=now,
                    topic=topic.name,
                    expected_events=runtime.config.expected_events,
                    feed_ids=serving,
                )
            if outcome is not None:
                changes.append(
                    AlertChange(
                        outcome.alert_id,
                        topic.name,
                        outcome.action,
                        outcome.verdict.observed,
                        outcome.verdict.expected,
                        kind=kind,
                        severity=outcome.severity,
                    )
                )
    return changes
