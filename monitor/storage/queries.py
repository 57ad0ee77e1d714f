"""Small functions that take a Session: every read and write the core needs."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import (
    JSON,
    ColumnElement,
    DateTime,
    Row,
    Select,
    String,
    Text,
    and_,
    bindparam,
    case,
    cast,
    column,
    func,
    or_,
    select,
    true,
    type_coerce,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from monitor.config import STREAM_KINDS, MonitorConfig
from monitor.errors import UnknownTopicError
from monitor.model import BucketCount, Post, Sentiment
from monitor.scoring import Scored
from monitor.storage.tables import (
    AlertRow,
    Feed,
    MentionRow,
    PostRow,
    TimelineBucket,
    TimelineHour,
    Topic,
    UTCDateTime,
    VideoStats,
)
from monitor.timeline import bucket_start

_CHUNK = 400  # rows per INSERT; far below SQLite's bound-parameter limit
_JSON_CHUNK = 500  # rows per JSON document of a PostgreSQL insert


@dataclass(frozen=True, slots=True)
class MatchedPost:
    """A post with the topics it mentions (topic -> matched terms) and its sentiment: per topic
    in `scores` when given (titles are masked per topic), else `sentiment` for all."""

    post: Post
    topics: dict[str, tuple[str, ...]]
    sentiment: Sentiment | None
    scores: dict[str, Scored] | None = None

    def scored(self, topic: str) -> Scored:
        """Return the sentiment of this post for `topic` and how it was scored."""
        if self.scores is not None and topic in self.scores:
            return self.scores[topic]
        method = "vader" if self.sentiment is not None else "unscored"
        return Scored(self.post.lang, method, self.sentiment)


# Timeline column counting the mentions scored by each method.
METHOD_COLUMNS = {
    "vader": "scored_vader",
    "vader+fandom": "scored_fandom",
    "emoji-only": "scored_emoji",
}


@dataclass(frozen=True, slots=True)
class StoreResult:
    new_posts: int
    new_mentions: int
    inserted: frozenset[tuple[str, str]] = frozenset()  # (network, external_id) of new posts


def _insert(session: Session, table: Any) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def _insert_returning(
    session: Session,
    table: Any,
    rows: Sequence[dict[str, Any]],
    *,
    conflict: Sequence[str],
    returning: Sequence[Any],
) -> Any:
    """INSERT `rows` (same keys each) unless they conflict on `conflict`; return the
    `returning` columns of the rows inserted."""
    statement = _insert(session, table)
    if session.get_bind().dialect.name != "postgresql":
        # One statement, many parameter sets: SQLAlchemy batches multi-row INSERTs
        # ("insertmanyvalues") under SQLite's bound-parameter limit, from one cached compile.
        return session.execute(
            statement.on_conflict_do_nothing(index_elements=list(conflict)).returning(*returning),
            list(rows),
        )
    # PostgreSQL: the rows go as one JSON document, turned into rows by the server
    # (json_to_recordset). The statement is the same short text for any number of rows, so
    # psycopg parses it once; a multi-row VALUES list is re-parsed in Python for every batch,
    # and per-column arrays are escaped element by element (slow for the raw JSON column).
    names = list(rows[0])
    json_columns = {name for name in names if isinstance(table.c[name].type, JSON)}
    new_rows = (
        func.json_to_recordset(cast(bindparam("new_rows", type_=Text), JSON))
        .table_valued(*(column(name, _recordset_type(table.c[name].type)) for name in names))
        .render_derived(name="new_rows", with_types=True)
    )
    values = [
        cast(new_rows.c[name], JSON) if name in json_columns else new_rows.c[name] for name in names
    ]
    insert = (
        statement.from_select(names, select(*values))
        .on_conflict_do_nothing(index_elements=list(conflict))
        .returning(*returning)
    )
    # A document per chunk: a poll of thousands of posts with their raw statuses never
    # holds them all as one more string.
    inserted: list[Any] = []
    for chunk in _chunks(rows, _JSON_CHUNK):
        document = _json_rows(chunk, json_columns)
        inserted += session.execute(insert, {"new_rows": document}).all()
    return inserted


def _recordset_type(type_: Any) -> Any:
    # Timestamps are stored naive UTC (UTCDateTime); a JSON value travels as its text, so
    # PostgreSQL never decodes its escapes (a \u0000 inside cannot become text).
    if isinstance(type_, UTCDateTime):
        return DateTime()
    return Text() if isinstance(type_, JSON) else type_


def _json_rows(rows: Sequence[dict[str, Any]], json_columns: set[str]) -> str:
    def plain(name: str, value: Any) -> Any:
        if name in json_columns:
            return json.dumps(value)  # as SQLAlchemy's JSON type stores it (None: 'null')
        if value is None:
            return None
        if isinstance(value, datetime):
            if value.tzinfo is not None:
                value = value.astimezone(UTC).replace(tzinfo=None)
            return value.isoformat()
        return value

    return json.dumps(
        [{name: plain(name, value) for name, value in row.items()} for row in rows],
        ensure_ascii=False,
    )


def _chunks(rows: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def sync_config(session: Session, config: MonitorConfig) -> None:
    """Create or update the topic and feed rows the config declares; disable feeds it dropped."""
    known_topics = set(session.scalars(select(Topic.name)))
    for topic in config.topics:
        if topic.name not in known_topics:
            session.execute(
                _insert(session, Topic.__table__)
                .values(name=topic.name)
                .on_conflict_do_nothing(index_elements=["name"])
            )
    configured = {feed.name: feed for feed in config.feeds}
    for row in session.scalars(select(Feed)):
        wanted = configured.pop(row.name, None)
        if wanted is None:
            row.enabled = 0
            continue
        if (row.kind, row.target) != (wanted.kind, wanted.target):
            # A new target is a new feed: its validators and cursor no longer apply.
            row.etag = row.last_modified = row.cursor = None
        row.kind, row.target = wanted.kind, wanted.target
        row.interval_seconds, row.enabled = wanted.interval_seconds, 1
    for feed in configured.values():
        session.execute(
            _insert(session, Feed.__table__)
            .values(
                name=feed.name,
                kind=feed.kind,
                target=feed.target,
                interval_seconds=feed.interval_seconds,
                consecutive_failures=0,
                posts_stored=0,
                enabled=1,
            )
            .on_conflict_do_nothing(index_elements=["name"])
        )
    session.flush()


def topic_ids(session: Session) -> dict[str, int]:
    """Return {topic name: id} for every stored topic."""
    return {name: id_ for id_, name in session.execute(select(Topic.id, Topic.name))}


def mentions_published(topic_id: int, start: datetime, end: datetime) -> ColumnElement[bool]:
    """Return the condition "a mention of the topic published in [start, end)", which the
    `(topic_id, published_at)` index answers."""
    return and_(
        MentionRow.topic_id == topic_id,
        MentionRow.published_at >= start,
        MentionRow.published_at < end,
    )


def get_topic_id(session: Session, name: str) -> int:
    """Return the id of topic `name`; UnknownTopicError naming the known topics otherwise."""
    ids = topic_ids(session)
    if name not in ids:
        if not ids:
            raise UnknownTopicError(
                f"unknown topic {name!r} (no topic is stored yet: the workers, or "
                "`monitor poll --once`, store the configured topics)"
            )
        raise UnknownTopicError(f"unknown topic {name!r} (known: {', '.join(sorted(ids))})")
    return ids[name]


def claim_due_feeds(
    session: Session, *, now: datetime, redispatch_after: timedelta, per_host: int = 0
) -> list[int]:
    """Return the enabled feeds that are due and not being polled, and push their next poll
    out by `redispatch_after`, so a lost queue message is sent again after that but a
    queued one is not sent twice. With `per_host`, at most that many feeds of one host are
    polling (leased) or dispatched at once; the others wait for a later tick."""
    due = (
        select(Feed.id, Feed.target)
        .where(Feed.enabled == 1)
        .where(Feed.kind.not_in(STREAM_KINDS))  # consumed by `monitor stream`, not polled
        .where(or_(Feed.next_poll_at.is_(None), Feed.next_poll_at <= now))
        .where(or_(Feed.lease_until.is_(None), Feed.lease_until <= now))
        .order_by(Feed.next_poll_at.is_not(None), Feed.next_poll_at, Feed.id)
    )
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    rows = list(session.execute(due))
    ids = [feed_id for feed_id, _ in rows]
    if per_host > 0:
        busy = Counter(
            _host(target)
            for target in session.scalars(select(Feed.target).where(Feed.lease_until > now))
        )
        ids = []
        for feed_id, target in rows:
            if busy[_host(target)] < per_host:
                busy[_host(target)] += 1
                ids.append(feed_id)
    if ids:
        session.execute(
            update(Feed).where(Feed.id.in_(ids)).values(next_poll_at=now + redispatch_after)
        )
    return ids


def _host(target: str) -> str:
    return (urlsplit(target).hostname or target).lower()


def claim_feed(session: Session, feed_id: int, *, now: datetime, lease: timedelta) -> Feed | None:
    """Take the poll lease of one enabled feed unless a running poll holds it; return the row
    (None when leased elsewhere or unknown)."""
    taken = session.execute(
        update(Feed)
        .where(Feed.id == feed_id, Feed.enabled == 1)
        .where(or_(Feed.lease_until.is_(None), Feed.lease_until <= now))
        .values(lease_until=now + lease, last_polled_at=now)
    )
    if taken.rowcount != 1:
        return None
    return session.get(Feed, feed_id, populate_existing=True)


def store_matched_posts(
    session: Session,
    *,
    feed_id: int | None,
    matched: Sequence[MatchedPost],
    bucket_width: timedelta,
    fetched_at: datetime,
) -> StoreResult:
    """Insert the posts and mentions not stored yet and add exactly those to the timeline, in
    the caller's transaction; seeing a post again changes nothing."""
    unique: dict[tuple[str, str], MatchedPost] = {}
    for item in matched:
        unique.setdefault((item.post.network, item.post.external_id), item)
    if not unique:
        return StoreResult(0, 0)
    post_rows = [
        {
            "network": item.post.network,
            "external_id": item.post.external_id,
            "feed_id": feed_id,
            "url": item.post.url,
            "author": item.post.author,
            "text": item.post.text,
            "lang": item.post.lang,
            "published_at": item.post.published_at,
            "fetched_at": fetched_at,
            "flags": ",".join(item.post.flags) or None,
            "likes": item.post.likes,
            "reposts": item.post.reposts,
            "replies": item.post.replies,
            "repost_of": item.post.repost_of,
            "raw": item.post.raw or None,
        }
        for item in unique.values()
    ]
    # All rows in one call (see _insert_returning): `.values(rows)` compiled a new statement
    # of hundreds of rows for every chunk.
    posts = PostRow.__table__
    inserted = _insert_returning(
        session,
        posts,
        post_rows,
        conflict=["network", "external_id"],
        returning=(posts.c.id, posts.c.network, posts.c.external_id),
    )
    post_ids = {(network, external_id): id_ for id_, network, external_id in inserted}
    inserted_keys = set(post_ids)
    new_posts = len(inserted_keys)
    # Only the posts seen before need their ids looked up.
    post_ids.update(_post_ids(session, [key for key in unique if key not in inserted_keys]))
    # A post seen again (on another instance, page or poll) is not new, but its counts are.
    for key, item in unique.items():
        if key not in inserted_keys:
            refresh_engagement(session, post_ids[key], item.post)
    topics = topic_ids(session)
    mention_rows = []
    for key, item in unique.items():
        for topic, terms in item.topics.items():
            scored = item.scored(topic)
            sentiment = scored.sentiment
            mention_rows.append(
                {
                    "post_id": post_ids[key],
                    "topic_id": topics[topic],
                    "bucket_start": bucket_start(item.post.published_at, bucket_width),
                    "published_at": item.post.published_at,
                    "terms": " | ".join(terms)[:1000],
                    "compound": sentiment.compound if sentiment else None,
                    "pos": sentiment.pos if sentiment else None,
                    "neu": sentiment.neu if sentiment else None,
                    "neg": sentiment.neg if sentiment else None,
                    "label": scored.label,
                    "method": scored.method,
                }
            )
    table = MentionRow.__table__
    increments: dict[tuple[int, datetime], list[float]] = defaultdict(
        lambda: [0, 0.0, 0, 0, 0, 0, 0, 0, 0]
    )
    new_mentions = 0
    if mention_rows:
        inserted = _insert_returning(
            session,
            table,
            mention_rows,
            conflict=["post_id", "topic_id"],
            returning=(
                table.c.topic_id,
                table.c.bucket_start,
                table.c.compound,
                table.c.label,
                table.c.method,
            ),
        )
        for topic_id, bucket, compound, label, method in inserted:
            new_mentions += 1
            acc = increments[(topic_id, bucket)]
            acc[0] += 1
            if compound is not None:
                acc[1] += compound
                acc[2] += 1
            acc[3] += label == "positive"
            acc[4] += label == "neutral"
            acc[5] += label == "negative"
            acc[6] += compound is not None and method == "vader"
            acc[7] += compound is not None and method == "vader+fandom"
            acc[8] += compound is not None and method == "emoji-only"
    _add_to_timeline(session, increments)
    return StoreResult(
        new_posts=new_posts, new_mentions=new_mentions, inserted=frozenset(inserted_keys)
    )


def refresh_engagement(session: Session, post_id: int, post: Post) -> None:
    """Raise a stored post's like/repost/reply counts to what `post` reports (never lower)."""
    for name in ("likes", "reposts", "replies"):
        seen = getattr(post, name)
        if seen is None:
            continue
        column = getattr(PostRow, name)
        session.execute(
            update(PostRow)
            .where(PostRow.id == post_id, or_(column.is_(None), column < seen))
            .values({name: seen})
        )


def add_reposts(session: Session, network: str, counts: dict[str, int]) -> int:
    """Add reposts seen (original canonical id -> how many) to stored originals; return how
    many originals were found."""
    found = 0
    for external_id, count in counts.items():
        result = session.execute(
            update(PostRow)
            .where(PostRow.network == network, PostRow.external_id == external_id)
            .values(reposts=func.coalesce(PostRow.reposts, 0) + count)
        )
        found += result.rowcount
    return found


def stored_external_ids(session: Session, network: str, external_ids: Sequence[str]) -> set[str]:
    """Return which of `external_ids` are stored for `network`."""
    return {external_id for _, external_id in _stored(session, network, external_ids)}


def _stored(
    session: Session, network: str, external_ids: Sequence[str]
) -> Iterable[tuple[int, str]]:
    """Yield (id, external_id) of the stored posts of `network` among `external_ids`."""
    if not external_ids:
        return
    if session.get_bind().dialect.name == "postgresql":
        # One index probe per id (a LATERAL lookup on the unique key), whatever the table
        # statistics say: before the first ANALYZE (a fresh database, or autovacuum off) a
        # plain `external_id IN (...)` or join is planned as a scan of the network's posts.
        wanted = (
            func.unnest(bindparam("wanted_ids", list(external_ids), type_=ARRAY(String)))
            .table_valued("external_id")
            .render_derived(name="wanted")
        )
        found = (
            select(PostRow.id, PostRow.external_id)
            .where(PostRow.network == network, PostRow.external_id == wanted.c.external_id)
            .limit(1)
            .lateral("found")
        )
        yield from session.execute(
            select(found.c.id, found.c.external_id).select_from(wanted).join(found, true())
        )
        return
    for chunk in _chunks(list(external_ids)):
        yield from session.execute(
            select(PostRow.id, PostRow.external_id).where(
                PostRow.network == network, PostRow.external_id.in_(chunk)
            )
        )


def _post_ids(session: Session, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
    by_network: dict[str, list[str]] = defaultdict(list)
    for network, external_id in keys:
        by_network[network].append(external_id)
    return {
        (network, external_id): id_
        for network, external_ids in by_network.items()
        for id_, external_id in _stored(session, network, external_ids)
    }


HOUR = timedelta(hours=1)
COUNTERS = (
    "count",
    "sentiment_sum",
    "scored",
    "positive",
    "neutral",
    "negative",
    "scored_vader",
    "scored_fandom",
    "scored_emoji",
)


def _add_to_timeline(session: Session, increments: dict[tuple[int, datetime], list[float]]) -> None:
    if not increments:
        return
    # The hourly rollup sums the same increments by the hour their bucket starts in, in this
    # transaction: it can never disagree with the buckets it sums.
    hourly: dict[tuple[int, datetime], list[float]] = defaultdict(lambda: [0] * len(COUNTERS))
    for (topic_id, bucket), acc in increments.items():
        total = hourly[(topic_id, bucket_start(bucket, HOUR))]
        for index, value in enumerate(acc):
            total[index] += value
    _upsert_counters(session, TimelineBucket.__table__, increments, add=True)
    _upsert_counters(session, TimelineHour.__table__, hourly, add=True)


def _upsert_counters(
    session: Session,
    table: Any,
    rows: dict[tuple[int, datetime], list[float]],
    *,
    add: bool,
) -> None:
    """Insert counter rows, or on conflict add to (`add`) or replace the stored counters."""
    # Sorted: concurrent writers lock rows in one order and cannot deadlock each other. One
    # statement with many parameter sets: a poll that spans a day of buckets is one batch
    # (a pipelined executemany), not hundreds of round trips.
    if not rows:
        return
    parameters = [
        {
            "topic_id": topic_id,
            "bucket_start": bucket,
            **{
                name: float(value) if name == "sentiment_sum" else int(value)
                for name, value in zip(COUNTERS, acc, strict=True)
            },
        }
        for (topic_id, bucket), acc in sorted(rows.items())
    ]
    statement = _insert(session, table)
    excluded = statement.excluded
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["topic_id", "bucket_start"],
            set_={
                name: (table.c[name] + excluded[name]) if add else excluded[name]
                for name in COUNTERS
            },
        ),
        parameters,
    )


def refresh_hours(session: Session, topic_id: int, buckets: Iterable[datetime]) -> int:
    """Recompute the hourly rollup of the hours holding `buckets` from the stored buckets
    (after their counters were rewritten, as rescore does); return how many hours."""
    hours = sorted({bucket_start(bucket, HOUR) for bucket in buckets})
    sums: dict[tuple[int, datetime], list[float]] = {}
    for chunk in _chunks(hours):
        wanted = set(chunk)
        rows = session.execute(
            select(TimelineBucket.bucket_start, *(TimelineBucket.__table__.c[n] for n in COUNTERS))
            .where(TimelineBucket.topic_id == topic_id)
            .where(TimelineBucket.bucket_start >= chunk[0])
            .where(TimelineBucket.bucket_start < chunk[-1] + HOUR)
        )
        for start, *counters in rows:
            hour = bucket_start(start, HOUR)
            if hour not in wanted:
                continue
            total = sums.setdefault((topic_id, hour), [0] * len(COUNTERS))
            for index, value in enumerate(counters):
                total[index] += value
    _upsert_counters(session, TimelineHour.__table__, sums, add=False)
    return len(sums)


def record_poll_success(
    session: Session,
    feed_id: int,
    *,
    now: datetime,
    next_poll_at: datetime,
    etag: str | None,
    last_modified: str | None,
    cursor: str | None,
    new_posts: int,
    fetched_posts: int = 0,
    keep_validators: bool = False,
    claimed_at: datetime | None = None,
) -> None:
    """Store a successful poll: validators and cursor, health, next poll, posts fetched and
    stored; release the lease. With `claimed_at` (when the poll claimed the feed), only the
    first store of the feed's current claim does all that: a store delivered again, or one
    overtaken by a later claim (its cursor may be older), adds just the posts it stored."""
    values: dict[str, Any] = {
        "last_success_at": now,
        "consecutive_failures": 0,
        "next_poll_at": next_poll_at,
        "lease_until": None,
        "posts_stored": Feed.posts_stored + new_posts,
        "posts_fetched": Feed.posts_fetched + fetched_posts,
    }
    if not keep_validators:
        values.update(etag=etag, last_modified=last_modified, cursor=cursor)
    current = update(Feed).where(Feed.id == feed_id)
    if claimed_at is not None:
        current = current.where(Feed.last_polled_at == claimed_at, Feed.lease_until.is_not(None))
    if session.execute(current.values(**values)).rowcount == 0 and claimed_at is not None:
        session.execute(
            update(Feed)
            .where(Feed.id == feed_id)
            .values(posts_stored=Feed.posts_stored + new_posts)
        )


def save_auth_state(session: Session, feed_id: int, value: str | None) -> None:
    """Keep (or forget, with None) the session/token of an authenticated feed."""
    session.execute(update(Feed).where(Feed.id == feed_id).values(auth_state=value))


def record_metering(session: Session, feed_id: int, *, units: int, rate_limit: str | None) -> None:
    """Add metered units (API units, posts read) and keep the last rate-limit summary."""
    values: dict[str, Any] = {}
    if units:
        values["metered_units"] = Feed.metered_units + units
    if rate_limit:
        values["rate_limit"] = rate_limit[:200]
    if values:
        session.execute(update(Feed).where(Feed.id == feed_id).values(**values))


def record_video_stats(
    session: Session,
    feed_id: int,
    video_id: str,
    *,
    now: datetime,
    view_count: int | None,
    like_count: int | None,
    comment_count: int | None,
) -> None:
    """Store one poll's view/like/comment counts of a video (once per poll time)."""
    session.execute(
        _insert(session, VideoStats.__table__)
        .values(
            feed_id=feed_id,
            video_id=video_id,
            polled_at=now,
            view_count=view_count,
            like_count=like_count,
            comment_count=comment_count,
        )
        .on_conflict_do_nothing(index_elements=["feed_id", "polled_at"])
    )


def latest_video_stats(session: Session, feed_id: int) -> VideoStats | None:
    """Return the most recent statistics a feed recorded, or None."""
    return session.scalar(
        select(VideoStats)
        .where(VideoStats.feed_id == feed_id)
        .order_by(VideoStats.polled_at.desc())
        .limit(1)
    )


def record_last_post(session: Session, feed_id: int, published_at: datetime) -> None:
    """Move the feed's newest-post time forward to `published_at` (never back)."""
    session.execute(
        update(Feed)
        .where(Feed.id == feed_id)
        .where(or_(Feed.last_post_at.is_(None), Feed.last_post_at < published_at))
        .values(last_post_at=published_at)
    )


def record_poll_failure(
    session: Session, feed_id: int, *, now: datetime, error: str, next_poll_at: datetime | None
) -> None:
    """Store a failed poll (or stream connection) on its feed, validators and cursor untouched;
    release the lease. `next_poll_at` None leaves the schedule alone (streams have none)."""
    values: dict[str, Any] = {
        "last_error": error[:2000],
        "last_error_at": now,
        "consecutive_failures": Feed.consecutive_failures + 1,
        "lease_until": None,
    }
    if next_poll_at is not None:
        values["next_poll_at"] = next_poll_at
    session.execute(update(Feed).where(Feed.id == feed_id).values(**values))


def load_buckets(
    session: Session, topic_id: int, *, start: datetime, end: datetime, hourly: bool = False
) -> list[BucketCount]:
    """Return the stored buckets of a topic with start <= bucket < end, in time order; with
    `hourly`, the hourly rollup instead (each hour: the stored buckets starting in it)."""
    rows = load_counters(session, topic_id, start=start, end=end, hourly=hourly)
    return [BucketCount(row[0].replace(tzinfo=UTC), *row[1:]) for row in rows]


def load_counters(
    session: Session, topic_id: int, *, start: datetime, end: datetime, hourly: bool = False
) -> list[Row[Any]]:
    """Return what load_buckets does as plain (bucket start as naive UTC, *COUNTERS) rows:
    cheaper than BucketCounts with aware starts when there are thousands (a year of hours)."""
    table = (TimelineHour if hourly else TimelineBucket).__table__
    # The column read as a plain DateTime: the stored naive UTC value, no conversion per row.
    stored_start = type_coerce(table.c.bucket_start, DateTime())
    rows = session.execute(
        select(stored_start, *(table.c[name] for name in COUNTERS))
        .where(
            table.c.topic_id == topic_id,
            table.c.bucket_start >= start,
            table.c.bucket_start < end,
        )
        .order_by(table.c.bucket_start)
    )
    return list(rows.all())  # Rows are tuples by position: no copy needed


def first_bucket(session: Session, topic_id: int) -> datetime | None:
    """Return the earliest bucket with mentions of a topic, or None."""
    return session.scalar(
        select(func.min(TimelineBucket.bucket_start)).where(TimelineBucket.topic_id == topic_id)
    )


def open_alert(session: Session, topic_id: int, kind: str) -> AlertRow | None:
    """Return the open episode of `kind` for a topic, if any."""
    return session.scalar(
        select(AlertRow)
        .where(AlertRow.topic_id == topic_id, AlertRow.kind == kind)
        .where(AlertRow.status.in_(("open", "acknowledged")))
        .where(AlertRow.resolved_at.is_(None))
        .order_by(AlertRow.opened_bucket.desc())
        .limit(1)
    )


def sample_mentions(
    session: Session, topic_id: int, *, start: datetime, end: datetime, limit: int
) -> list[dict[str, Any]]:
    """Return up to `limit` mentions of a topic published in [start, end), earliest first."""
    rows = session.execute(
        select(PostRow, MentionRow)
        .join(MentionRow, MentionRow.post_id == PostRow.id)
        .where(mentions_published(topic_id, start, end))
        .order_by(MentionRow.published_at, MentionRow.id)
        .limit(limit)
    )
    return [
        {
            "text": post.text[:500],
            "url": post.url,
            "author": post.author,
            "network": post.network,
            "published_at": post.published_at.isoformat(),
            "compound": mention.compound,
            "label": mention.label,
            "terms": mention.terms,
        }
        for post, mention in rows
    ]


def alerts_query(
    *, topic_id: int | None = None, since: datetime | None = None, status: str | None = None
) -> Select[tuple[AlertRow, str | None, str | None]]:
    """Return the SELECT of alerts (with topic names), newest first, filtered as given."""
    # Source alerts have a feed instead of a topic: outer joins keep them.
    query = (
        select(AlertRow, Topic.name, Feed.name)
        .outerjoin(Topic, Topic.id == AlertRow.topic_id)
        .outerjoin(Feed, Feed.id == AlertRow.feed_id)
    )
    conditions = []
    if topic_id is not None:
        conditions.append(AlertRow.topic_id == topic_id)
    if since is not None:
        conditions.append(AlertRow.last_bucket >= since)
    if status is not None:
        conditions.append(AlertRow.status == status)
    if conditions:
        query = query.where(and_(*conditions))
    return query.order_by(AlertRow.opened_bucket.desc(), AlertRow.id.desc())


def list_feeds(session: Session) -> list[Feed]:
    """Return every feed row, enabled first, by name."""
    return list(session.scalars(select(Feed).order_by(Feed.enabled.desc(), Feed.name)))


def mentions_since(session: Session, feed_id: int, since: datetime) -> int:
    """Return how many posts a feed stored that were fetched since `since`."""
    return (
        session.scalar(
            select(func.count(PostRow.id)).where(
                PostRow.feed_id == feed_id, PostRow.fetched_at >= since
            )
        )
        or 0
    )


def mentions_for_rescore(
    session: Session, topic_id: int, *, since: datetime | None = None
) -> list[tuple[int, str, str | None, datetime]]:
    """Return (mention id, post text, post language, bucket start) of a topic's mentions
    published at or after `since` (all if None), oldest first."""
    query = (
        select(MentionRow.id, PostRow.text, PostRow.lang, MentionRow.bucket_start)
        .join(PostRow, PostRow.id == MentionRow.post_id)
        .where(MentionRow.topic_id == topic_id)
        .order_by(MentionRow.published_at, MentionRow.id)
    )
    if since is not None:
        query = query.where(MentionRow.published_at >= since)
    return [tuple(row) for row in session.execute(query)]  # type: ignore[misc]


def update_mention_scores(session: Session, scores: Sequence[tuple[int, Scored]]) -> None:
    """Store new sentiment, label and method on the mentions given by id."""
    table = MentionRow.__table__
    rows = [
        {
            "mention_id": mention_id,
            "new_compound": scored.sentiment.compound if scored.sentiment else None,
            "new_pos": scored.sentiment.pos if scored.sentiment else None,
            "new_neu": scored.sentiment.neu if scored.sentiment else None,
            "new_neg": scored.sentiment.neg if scored.sentiment else None,
            "new_label": scored.label,
            "new_method": scored.method,
        }
        for mention_id, scored in scores
    ]

    statement = (
        update(table)
        .where(table.c.id == bindparam("mention_id"))
        .values(
            compound=bindparam("new_compound"),
            pos=bindparam("new_pos"),
            neu=bindparam("new_neu"),
            neg=bindparam("new_neg"),
            label=bindparam("new_label"),
            method=bindparam("new_method"),
        )
    )
    for chunk in _chunks(rows):
        session.connection().execute(statement, list(chunk))


def recompute_bucket_sentiment(session: Session, topic_id: int, buckets: Iterable[datetime]) -> int:
    """Recompute the sentiment counters of the given buckets of a topic from their mention rows
    (mention counts are left as they are), and their hours in the hourly rollup; return how
    many buckets were updated."""
    updated = 0
    starts = sorted(set(buckets))
    scored = MentionRow.compound.is_not(None)

    def count_where(condition: Any) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    for chunk in _chunks(starts):
        totals = session.execute(
            select(
                MentionRow.bucket_start,
                func.coalesce(func.sum(MentionRow.compound), 0.0),
                count_where(scored),
                count_where(MentionRow.label == "positive"),
                count_where(MentionRow.label == "neutral"),
                count_where(MentionRow.label == "negative"),
                # Rows from before method was stored were all scored by stock VADER.
                count_where(
                    and_(scored, or_(MentionRow.method == "vader", MentionRow.method.is_(None)))
                ),
                count_where(and_(scored, MentionRow.method == "vader+fandom")),
                count_where(and_(scored, MentionRow.method == "emoji-only")),
            )
            .where(MentionRow.topic_id == topic_id, MentionRow.bucket_start.in_(list(chunk)))
            .group_by(MentionRow.bucket_start)
        )
        for start, total, n, pos, neu, neg, vader, fandom, emoji in totals:
            session.execute(
                update(TimelineBucket)
                .where(TimelineBucket.topic_id == topic_id, TimelineBucket.bucket_start == start)
                .values(
                    sentiment_sum=float(total),
                    scored=int(n),
                    positive=int(pos),
                    neutral=int(neu),
                    negative=int(neg),
                    scored_vader=int(vader),
                    scored_fandom=int(fandom),
                    scored_emoji=int(emoji),
                )
            )
            updated += 1
    refresh_hours(session, topic_id, starts)
    return updated


def mention_labels(
    session: Session, mention_ids: Sequence[int]
) -> dict[int, tuple[str, str | None]]:
    """Return {mention id: (label, method)} for the given mentions."""
    labels: dict[int, tuple[str, str | None]] = {}
    for chunk in _chunks(list(mention_ids)):
        rows = session.execute(
            select(MentionRow.id, MentionRow.label, MentionRow.method).where(
                MentionRow.id.in_(list(chunk))
            )
        )
        labels.update({id_: (label, method) for id_, label, method in rows})
    return labels
