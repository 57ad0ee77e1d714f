"""The monitor's cycle, I/O passed in: fetch -> parse -> match -> score -> store; detect."""

from __future__ import annotations

import json
import logging
import os
import random
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from monitor.alerting import TopicJob, judge_topics
from monitor.config import STREAM_KINDS
from monitor.detectors import topic_detectors, topic_policy
from monitor.errors import SourceError
from monitor.health import check_sources, source_alert_events, update_source_alert
from monitor.language import detect_language
from monitor.matching import Matcher
from monitor.model import Post, post_from_message, post_to_message
from monitor.paging import collect_pages
from monitor.runtime import Runtime
from monitor.schedule import next_poll_after_failure, next_poll_after_success
from monitor.scoring import Scorer
from monitor.secrets import redact, resolve_secrets
from monitor.sentiment import MAX_SCORED_CHARS
from monitor.sources import FeedState, source_for
from monitor.storage import alert_queries, queries
from monitor.storage.engine import session_scope

log = logging.getLogger(__name__)


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


def match_posts(
    posts: Iterable[Post],
    matcher: Matcher,
    *,
    topics: set[str] | None = None,
    repost_topics: set[str] | None = None,
    originals: Collection[str] | None = None,
) -> list[tuple[Post, dict[str, tuple[str, ...]]]]:
    """Return the posts that mention a topic (limited to `topics` if given), each with
    {topic: matched terms}. A repost of a post in `originals` (seen in this batch or stored)
    counts as a mention only of the topics in `repost_topics` (those configured with
    `count_reposts`); otherwise it is kept with no topics, to add to its original. A repost
    of an original never seen counts like any post: it is the first sighting of that
    content."""
    matched = []
    for post in posts:
        hits = matcher.topics_in(post.text, lang=post.lang)
        if topics is not None:
            hits = {name: terms for name, terms in hits.items() if name in topics}
        if not hits:
            continue
        if post.repost_of is not None and (originals is None or post.repost_of in originals):
            hits = {name: terms for name, terms in hits.items() if name in (repost_topics or ())}
        matched.append((post, hits))
    return matched


def score_matches(
    matches: Iterable[tuple[Post, dict[str, tuple[str, ...]]]], scorer: Scorer | None = None
) -> list[queries.MatchedPost]:
    """Give each matched post its language (the network's, else detected) and its sentiment,
    once per topic it mentions (each topic masks its own titles before scoring)."""
    scorer = scorer or Scorer.plain()
    scored = []
    for post, hits in matches:
        if not hits:
            scored.append(queries.MatchedPost(post, hits, None))
            continue
        lang = detect_language(post.text[:MAX_SCORED_CHARS], declared=post.lang)
        post = replace(post, lang=lang)
        scores = scorer.score_topics(post.text, hits, lang=lang)
        first = next(iter(scores.values()))
        scored.append(queries.MatchedPost(post, hits, first.sentiment, scores))
    return scored


def match_and_score(
    posts: Iterable[Post],
    matcher: Matcher,
    *,
    topics: set[str] | None = None,
    repost_topics: set[str] | None = None,
    originals: Collection[str] | None = None,
    scorer: Scorer | None = None,
) -> list[queries.MatchedPost]:
    """`match_posts` then `score_matches`, in one process."""
    matches = match_posts(
        posts, matcher, topics=topics, repost_topics=repost_topics, originals=originals
    )
    return score_matches(matches, scorer)


@dataclass(frozen=True, slots=True)
class FetchedPoll:
    """The network half of a poll, done: the posts that mention a topic and everything to
    commit with them. It crosses from the polling queue to the storing queue as JSON."""

    feed_id: int
    feed_name: str
    network: str
    polled_at: datetime  # when the poll claimed the feed: a later claim wins the cursor
    next_poll_at: datetime
    matches: list[tuple[Post, dict[str, tuple[str, ...]]]]
    fetched: int
    last_post_at: datetime | None
    etag: str | None
    last_modified: str | None
    cursor: str | None
    metered_units: int = 0
    rate_limit: str | None = None
    statistics: dict[str, int | None] | None = None

    def to_message(self) -> dict[str, Any]:
        """Return this poll as a JSON-safe dict (Celery's serializer is JSON only)."""
        return {
            "feed_id": self.feed_id,
            "feed_name": self.feed_name,
            "network": self.network,
            "polled_at": self.polled_at.isoformat(),
            "next_poll_at": self.next_poll_at.isoformat(),
            "matches": [
                [post_to_message(post), {topic: list(terms) for topic, terms in hits.items()}]
                for post, hits in self.matches
            ],
            "fetched": self.fetched,
            "last_post_at": self.last_post_at.isoformat() if self.last_post_at else None,
            "etag": self.etag,
            "last_modified": self.last_modified,
            "cursor": self.cursor,
            "metered_units": self.metered_units,
            "rate_limit": self.rate_limit,
            "statistics": self.statistics,
        }

    @classmethod
    def from_message(cls, message: Mapping[str, Any]) -> FetchedPoll:
        """Return the poll `to_message` wrote."""
        last_post_at = message.get("last_post_at")
        return cls(
            feed_id=int(message["feed_id"]),
            feed_name=str(message["feed_name"]),
            network=str(message["network"]),
            polled_at=datetime.fromisoformat(message["polled_at"]),
            next_poll_at=datetime.fromisoformat(message["next_poll_at"]),
            matches=[
                (post_from_message(post), {topic: tuple(terms) for topic, terms in hits.items()})
                for post, hits in message["matches"]
            ],
            fetched=int(message["fetched"]),
            last_post_at=datetime.fromisoformat(last_post_at) if last_post_at else None,
            etag=message.get("etag"),
            last_modified=message.get("last_modified"),
            cursor=message.get("cursor"),
            metered_units=int(message.get("metered_units") or 0),
            rate_limit=message.get("rate_limit"),
            statistics=message.get("statistics"),
        )


def _poll_lease(runtime: Runtime) -> timedelta:
    return timedelta(seconds=runtime.config.worker.poll_lease_seconds)


def _newest(posts: Sequence[Post], limit: int) -> Sequence[Post]:
    if len(posts) <= limit:
        return posts
    return sorted(posts, key=lambda post: post.published_at, reverse=True)[:limit]


def poll_feed(
    runtime: Runtime,
    feed_id: int,
    *,
    now: datetime,
    environ: Mapping[str, str] | None = None,
) -> PollOutcome:
    """Poll one feed (every page of this poll) and store what is new, in this process: the
    two halves the workers run on separate queues. A failure is recorded on the feed, never
    raised. Secrets come from `environ` (default: the process's)."""
    fetched = fetch_poll(runtime, feed_id, now=now, environ=environ)
    if isinstance(fetched, PollOutcome):
        return fetched
    return store_poll(runtime, fetched)


def fetch_poll(
    runtime: Runtime,
    feed_id: int,
    *,
    now: datetime,
    environ: Mapping[str, str] | None = None,
) -> FetchedPoll | PollOutcome:
    """Claim one feed, fetch every page of this poll and keep the posts that mention a topic:
    the network half, with no scoring and no writes but the claim, auth sessions and failures.
    Return the poll to store, or the outcome when there is nothing to store (failed,
    not modified, leased elsewhere)."""

    with session_scope(runtime.sessions) as session:
        feed = queries.claim_feed(session, feed_id, now=now, lease=_poll_lease(runtime))
        if feed is None:
            return PollOutcome(feed_id, str(feed_id), "skipped")
        name, kind, url = feed.name, feed.kind, feed.target
        interval, failures = feed.interval_seconds, feed.consecutive_failures
        etag, last_modified, cursor = feed.etag, feed.last_modified, feed.cursor
        auth_state = feed.auth_state
        last_success = feed.last_success_at
    feed_config = next((f for f in runtime.config.feeds if f.name == name), None)
    topics = {t.name for t in runtime.config.feed_topics(feed_config)} if feed_config else None
    repost_topics = {t.name for t in runtime.config.topics if t.count_reposts}
    secrets: dict[str, str] = {}
    limits = runtime.config.fetch

    def save_auth(value: str | None) -> None:
        # A new session is kept at once: logging in again on the next poll is what
        # networks lock accounts for.
        with session_scope(runtime.sessions) as session:
            queries.save_auth_state(session, feed_id, value)

    def stored(ids: Collection[str]) -> Collection[str]:
        with session_scope(runtime.sessions) as session:
            return queries.stored_external_ids(session, source.network, list(ids))

    try:
        source = source_for(kind)
        if feed_config is not None:
            secrets = resolve_secrets(feed_config, os.environ if environ is None else environ)
        state = FeedState(
            url=url,
            cursor=cursor,
            options=feed_config,
            secrets=secrets,
            auth=_load_auth(auth_state),
        )
        budget = limits.max_entries_per_poll
        if cursor is None and feed_config is not None:
            budget = min(budget, feed_config.backfill_posts)
        collected = collect_pages(
            source,
            state,
            client=runtime.http,
            limits=limits,
            max_pages=feed_config.max_pages_per_poll if feed_config else 1,
            max_posts=budget,
            etag=etag,
            last_modified=last_modified,
            now=now,
            stored=stored,
            save_auth=save_auth,
        )
    except SourceError as exc:
        retry_after = getattr(exc, "retry_after_seconds", None)
        error = redact(f"{type(exc).__name__}: {exc}", secrets.values())
        with session_scope(runtime.sessions) as session:
            queries.record_poll_failure(
                session,
                feed_id,
                now=now,
                error=error,
                next_poll_at=next_poll_after_failure(
                    now,
                    interval,
                    failures + 1,
                    retry_after_seconds=retry_after,
                    jitter=random.random(),
                ),
            )
            update_source_alert(session, feed_id, feed_config, now=now)
            # The buckets since the last success are unknown for this feed's topics.
            alert_queries.record_outage(
                session,
                feed_id,
                since=last_success or now - runtime.bucket_width,
                until=now,
                width=runtime.bucket_width,
            )
        log.warning("poll failed", extra={"feed": name, "error": error})
        return PollOutcome(feed_id, name, "failed", error=error)
    next_poll_at = next_poll_after_success(now, interval)
    if collected.wait_seconds is not None:
        # The network's window is used up: the next poll waits for its reset.
        next_poll_at = max(next_poll_at, now + timedelta(seconds=collected.wait_seconds))
    if collected.not_modified:
        with session_scope(runtime.sessions) as session:
            queries.record_poll_success(
                session,
                feed_id,
                now=now,
                next_poll_at=next_poll_at,
                etag=etag,
                last_modified=last_modified,
                cursor=cursor,
                new_posts=0,
                keep_validators=True,
            )
            queries.record_metering(
                session, feed_id, units=collected.metered_units, rate_limit=collected.rate_limit
            )
            update_source_alert(session, feed_id, feed_config, now=now)
        return PollOutcome(feed_id, name, "not-modified")
    posts = _newest(collected.posts, limits.max_entries_per_poll)
    wanted = {p.repost_of for p in posts if p.repost_of} - {p.external_id for p in posts}
    originals = {p.external_id for p in posts} | (set(stored(wanted)) if wanted else set())
    matches = match_posts(
        posts,
        runtime.matcher,
        topics=topics,
        repost_topics=repost_topics,
        originals=originals,
    )
    return FetchedPoll(
        feed_id=feed_id,
        feed_name=name,
        network=source.network,
        polled_at=now,
        next_poll_at=next_poll_at,
        matches=matches,
        fetched=len(collected.posts),
        last_post_at=max((p.published_at for p in posts), default=None),
        etag=collected.etag,
        last_modified=collected.last_modified,
        cursor=collected.cursor,
        metered_units=collected.metered_units,
        rate_limit=collected.rate_limit,
        statistics=collected.statistics,
    )


def store_poll(runtime: Runtime, poll: FetchedPoll) -> PollOutcome:
    """Score the posts of a fetched poll and commit them with the poll's validators and
    cursor, all or nothing: the storing half. Storing the same poll twice changes nothing;
    a poll overtaken by a later claim of the feed stores its posts but leaves the feed's
    cursor and schedule to the later one."""
    feed_config = next((f for f in runtime.config.feeds if f.name == poll.feed_name), None)
    matched = score_matches(poll.matches, runtime.scorer)
    with session_scope(runtime.sessions) as session:
        stored_now = queries.store_matched_posts(
            session,
            feed_id=poll.feed_id,
            matched=matched,
            bucket_width=runtime.bucket_width,
            fetched_at=poll.polled_at,
        )
        _fold_reposts(session, poll.network, matched, stored_now.inserted)
        queries.record_poll_success(
            session,
            poll.feed_id,
            now=poll.polled_at,
            next_poll_at=poll.next_poll_at,
            etag=poll.etag,
            last_modified=poll.last_modified,
            cursor=poll.cursor,
            new_posts=stored_now.new_posts,
            fetched_posts=poll.fetched,
            claimed_at=poll.polled_at,
        )
        queries.record_metering(
            session, poll.feed_id, units=poll.metered_units, rate_limit=poll.rate_limit
        )
        if poll.last_post_at is not None:
            queries.record_last_post(session, poll.feed_id, poll.last_post_at)
        if poll.statistics is not None and feed_config and feed_config.video_id:
            queries.record_video_stats(
                session,
                poll.feed_id,
                feed_config.video_id,
                now=poll.polled_at,
                **poll.statistics,
            )
        update_source_alert(session, poll.feed_id, feed_config, now=poll.polled_at)
    return PollOutcome(
        poll.feed_id,
        poll.feed_name,
        "stored",
        fetched=poll.fetched,
        matched=len(matched),
        new_posts=stored_now.new_posts,
        new_mentions=stored_now.new_mentions,
    )


def _load_auth(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _fold_reposts(
    session: Session,
    network: str,
    matched: Sequence[queries.MatchedPost],
    inserted: Collection[tuple[str, str]],
) -> None:
    # A repost seen for the first time adds one to its stored original's reposts; seen
    # again (re-poll, overlapping page) it adds nothing.
    counts: dict[str, int] = {}
    for item in matched:
        post = item.post
        if post.repost_of and (post.network, post.external_id) in inserted:
            counts[post.repost_of] = counts.get(post.repost_of, 0) + 1
    if counts:
        queries.add_reposts(session, network, counts)


def check_source_health(runtime: Runtime, *, now: datetime) -> dict[str, str]:
    """Open or resolve source alerts of every feed (silence grows between polls); return
    {feed name: action} for the alerts that changed."""
    with session_scope(runtime.sessions) as session:
        return check_sources(session, runtime.config, now=now)


# Source alerts resolved longer ago than this are not announced any more.
SOURCE_EVENTS_WINDOW = timedelta(days=1)


def notification_events(
    runtime: Runtime, changes: Sequence[AlertChange], *, now: datetime
) -> list[tuple[int, str]]:
    """Return the (alert id, action) pairs to announce after a detection run: its own changes
    and the source alerts' openings and resolutions (those change on polls too)."""
    events = [(change.alert_id, change.action) for change in changes]
    with session_scope(runtime.sessions) as session:
        events += source_alert_events(session, since=now - SOURCE_EVENTS_WINDOW)
    return events


def dispatch_due_feeds(runtime: Runtime, *, now: datetime) -> list[int]:
    """Return the ids of the feeds due for a poll, marked so they are not dispatched twice."""
    with session_scope(runtime.sessions) as session:
        return queries.claim_due_feeds(
            session,
            now=now,
            redispatch_after=_poll_lease(runtime),
            per_host=runtime.config.fetch.max_polls_per_host,
        )


def all_feed_ids(runtime: Runtime) -> list[int]:
    """Return the ids of every enabled feed."""
    with session_scope(runtime.sessions) as session:
        return [
            feed.id
            for feed in queries.list_feeds(session)
            if feed.enabled and feed.kind not in STREAM_KINDS
        ]


@dataclass(frozen=True, slots=True)
class AlertChange:
    """An alert that detection opened, escalated, surged, updated or resolved."""

    alert_id: int
    topic: str
    action: str
    observed: int
    expected: float
    kind: str = "spike"
    severity: str = "minor"


def detect_spikes(runtime: Runtime, *, now: datetime) -> list[AlertChange]:
    """Judge every topic's latest buckets for each alert kind switched on for it (spikes,
    drops) and open, escalate, surge, update or resolve its episode; return the changes."""
    settings = runtime.config.detection
    with session_scope(runtime.sessions) as session:
        feed_ids = {feed.name: feed.id for feed in queries.list_feeds(session)}
        topic_ids = queries.topic_ids(session)
    jobs = []
    for topic in runtime.config.topics:
        # Outages of the feeds that serve this topic are left out of its baselines.
        serving = tuple(
            feed_ids[feed.name]
            for feed in runtime.config.feeds
            if feed.name in feed_ids and (feed.topics is None or topic.name in feed.topics)
        )
        for kind, detector in topic_detectors(settings, topic).items():
            policy = topic_policy(settings, topic, detector)
            topic_id = topic_ids.get(topic.name)
            if topic_id is None:  # not synced: raise the error naming the known topics
                with session_scope(runtime.sessions) as session:
                    topic_id = queries.get_topic_id(session, topic.name)
            jobs.append(TopicJob(topic.name, topic_id, kind, detector, policy, serving))
    outcomes = judge_topics(
        runtime.sessions,
        jobs,
        width=runtime.bucket_width,
        min_history_buckets=settings.min_history_buckets,
        sample_posts=settings.sample_posts,
        now=now,
        expected_events=runtime.config.expected_events,
    )
    return [
        AlertChange(
            outcome.alert_id,
            job.topic,
            outcome.action,
            outcome.verdict.observed,
            outcome.verdict.expected,
            kind=job.kind,
            severity=outcome.severity,
        )
        for job, outcome in outcomes
    ]
