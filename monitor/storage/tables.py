"""SQLAlchemy 2.x declarative tables; the Alembic migrations create exactly these."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC: one behaviour on SQLite and PostgreSQL."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    pass


class Feed(Base):
    """A configured feed and its poll state (validators and cursor move only with new posts)."""

    __tablename__ = "feeds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(Text)
    interval_seconds: Mapped[int] = mapped_column(Integer)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    cursor: Mapped[str | None] = mapped_column(Text)
    next_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    posts_stored: Mapped[int] = mapped_column(Integer, default=0)
    posts_fetched: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    enabled: Mapped[int] = mapped_column(Integer, default=1)
    # A session or OAuth token (JSON) of an authenticated source: reused across polls.
    auth_state: Mapped[str | None] = mapped_column(Text)
    # Requests or posts read that the network meters (YouTube units, X posts read).
    metered_units: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    rate_limit: Mapped[str | None] = mapped_column(Text)
    last_post_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Topic(Base):
    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)


class PostRow(Base):
    """A post, unique per (network, external_id) wherever and however often it is seen."""

    __tablename__ = "posts"
    __table_args__ = (UniqueConstraint("network", "external_id", name="uq_posts_network_external"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    network: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(512))
    feed_id: Mapped[int | None] = mapped_column(ForeignKey("feeds.id", ondelete="SET NULL"))
    url: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    lang: Mapped[str | None] = mapped_column(String(16))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime)
    flags: Mapped[str | None] = mapped_column(Text)
    likes: Mapped[int | None] = mapped_column(Integer)
    reposts: Mapped[int | None] = mapped_column(Integer)
    replies: Mapped[int | None] = mapped_column(Integer)
    repost_of: Mapped[str | None] = mapped_column(String(512))
    raw: Mapped[dict[str, object] | None] = mapped_column(JSON)


class MentionRow(Base):
    """A post that mentions a topic, with the sentiment it was scored with."""

    __tablename__ = "mentions"
    __table_args__ = (
        UniqueConstraint("post_id", "topic_id", name="uq_mentions_post_topic"),
        Index("ix_mentions_topic_published", "topic_id", "published_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"))
    bucket_start: Mapped[datetime] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    terms: Mapped[str] = mapped_column(Text, default="")
    compound: Mapped[float | None] = mapped_column(Float)
    pos: Mapped[float | None] = mapped_column(Float)
    neu: Mapped[float | None] = mapped_column(Float)
    neg: Mapped[float | None] = mapped_column(Float)
    label: Mapped[str] = mapped_column(String(16))
    # "vader", "vader+fandom", "emoji-only" or "unscored" (monitor/scoring.py)
    method: Mapped[str | None] = mapped_column(String(16))


class TimelineCounters:
    """The counters of one topic in one period, kept by the timeline tables."""

    topic_id: Mapped[int] = mapped_column(
        ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True
    )
    bucket_start: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    sentiment_sum: Mapped[float] = mapped_column(Float, default=0.0)
    scored: Mapped[int] = mapped_column(Integer, default=0)
    positive: Mapped[int] = mapped_column(Integer, default=0)
    neutral: Mapped[int] = mapped_column(Integer, default=0)
    negative: Mapped[int] = mapped_column(Integer, default=0)
    # `scored` split by method; count - scored mentions are unscored (other languages).
    scored_vader: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    scored_fandom: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    scored_emoji: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class TimelineBucket(TimelineCounters, Base):
    """Per topic and bucket: the counters, updated in the transaction that stores new mentions."""

    __tablename__ = "timeline_buckets"


class TimelineHour(TimelineCounters, Base):
    """The timeline summed per hour: the stored buckets whose start falls in the hour, updated
    in the same transaction, so a year at 1 h reads 8,760 rows instead of 105,120."""

    __tablename__ = "timeline_hourly"


class AlertRow(Base):
    """One alert episode: opened on its first anomalous bucket, updated, then resolved."""

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("topic_id", "kind", "opened_bucket", name="uq_alerts_episode"),
        Index("ix_alerts_topic_status", "topic_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Spike alerts belong to a topic; source alerts (kind "source") to a feed.
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    opened_bucket: Mapped[datetime] = mapped_column(UTCDateTime)
    last_bucket: Mapped[datetime] = mapped_column(UTCDateTime)
    peak_bucket: Mapped[datetime] = mapped_column(UTCDateTime)
    observed: Mapped[int] = mapped_column(Integer)
    expected: Mapped[float] = mapped_column(Float)
    score: Mapped[float] = mapped_column(Float)
    peak_count: Mapped[int] = mapped_column(Integer)
    # The count the episode last alerted on (open, escalate, surge); NULL on rows from before
    # migration 0009, read as the peak.
    raised_count: Mapped[int | None] = mapped_column(Integer)
    excess_mentions: Mapped[float] = mapped_column(Float, default=0.0)
    quiet_buckets: Mapped[int] = mapped_column(Integer, default=0)
    samples: Mapped[list[dict[str, object]]] = mapped_column(JSON, default=list)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    severity: Mapped[str] = mapped_column(String(16), default="minor", server_default="minor")
    explanation: Mapped[dict[str, object] | None] = mapped_column(JSON)
    resolved_bucket: Mapped[datetime | None] = mapped_column(UTCDateTime)

    feed_id: Mapped[int | None] = mapped_column(
        ForeignKey("feeds.id", ondelete="CASCADE", name="fk_alerts_feed_id")
    )
    reason: Mapped[str | None] = mapped_column(Text)


class FeedOutage(Base):
    """A bucket during which a feed was failing: its topics' counts there are unknown, so
    detection leaves them out of baselines and never judges them."""

    __tablename__ = "feed_outages"

    feed_id: Mapped[int] = mapped_column(
        ForeignKey("feeds.id", ondelete="CASCADE"), primary_key=True
    )
    bucket_start: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)


class DetectorState(Base):
    """What the live detection run of one topic and alert kind remembers between runs (the
    counts it judged with and the per-bucket surprises; monitor/detectors/incremental.py), so
    a run judges only the buckets completed since the last one. A cache: dropping a row
    costs one full recompute, never a different verdict."""

    __tablename__ = "detector_state"

    topic_id: Mapped[int] = mapped_column(
        ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    # The detector's parameters and bucket width: a config change starts afresh.
    fingerprint: Mapped[str] = mapped_column(String(64))
    state: Mapped[bytes] = mapped_column(LargeBinary)


class VideoStats(Base):
    """A video's public counters as one poll saw them: a cheap leading signal."""

    __tablename__ = "video_stats"
    __table_args__ = (UniqueConstraint("feed_id", "polled_at", name="uq_video_stats_poll"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"))
    video_id: Mapped[str] = mapped_column(String(64))
    polled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    view_count: Mapped[int | None] = mapped_column(BigInteger)
    like_count: Mapped[int | None] = mapped_column(BigInteger)
    comment_count: Mapped[int | None] = mapped_column(BigInteger)


class DeliveryRow(Base):
    """One notification of one alert state change to one sink: claimed before it is sent, so a
    second run of the same notification task sends nothing."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("alert_id", "event", "sink", name="uq_deliveries_alert_event_sink"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(40))  # open, resolve, escalate:critical, surge:N
    sink: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # sending, sent, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TaskStatsRow(Base):
    """Runs, failures and durations of each Celery task, summed over every worker process
    (what /metrics reports as task durations)."""

    __tablename__ = "task_stats"

    task: Mapped[str] = mapped_column(String(64), primary_key=True)
    runs: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    total_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    last_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    last_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
