"""The monitor's TOML configuration: topics, feeds, timeline and detection settings.

Loading validates everything at once; `load_config` raises `ConfigError` whose message names
the file, the field (as a dotted path such as `feeds[2].url`) and what is wrong.

Example::

    [[topics]]
    name = "love-letter"
    phrases = ["Love Letter"]
    hashtags = ["LoveLetter"]
    require_any = ["V", "Taehyung", "뷔"]

    [[feeds]]
    name = "news"
    kind = "rss"
    url = "https://news.example/rss"
    interval_seconds = 600
"""

from __future__ import annotations

import re
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from monitor.errors import ConfigError
from monitor.sources.netguard import is_allowed, literal_address, parse_networks

TOPIC_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
FEED_KINDS = (
    "rss",
    "jsonfeed",
    "json",
    "mastodon",
    "bluesky",
    "reddit",
    "youtube",
    "x",
    "jetstream",
)
# Kinds consumed by a long-running stream process, never polled by the workers.
STREAM_KINDS = ("jetstream",)
# Secrets are never written in the file: options ending in `_env` name environment variables.
ENV_NAME = r"^[A-Z_][A-Z0-9_]{0,127}$"
_NAMED_PROBLEM = re.compile(r"^([a-z_]+(?:\[\d+\])?(?:\.[a-z_]+)*): (.*)$", re.S)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


NonEmptyText = Annotated[str, Field(min_length=1, max_length=200, pattern=r"\S")]


Preset = Literal["sensitive", "balanced", "strict"]
AlertKind = Literal["spike", "level", "drop", "climb", "sour"]
PValue = Annotated[float, Field(gt=0, lt=0.5)]


class DetectorOptions(_Strict):
    """Sensitivity of the seasonal detector: a preset, and explicit parameters that override
    it (unset ones come from the preset). Also valid per topic as `[topics.detection]`::

        [[topics]]
        name = "love-letter"
        phrases = ["Love Letter"]
        [topics.detection]
        preset = "sensitive"
        alerts = ["spike", "drop"]
        cooldown_minutes = 120
    """

    preset: Preset | None = None
    max_p_value: PValue | None = None
    min_excess: Annotated[float, Field(ge=0)] | None = None
    min_ratio: Annotated[float, Field(ge=1.0)] | None = None
    days: Annotated[int, Field(ge=1, le=28)] | None = None
    calibration_days: Annotated[int, Field(ge=0, le=28)] | None = None
    cooldown_minutes: Annotated[int, Field(ge=0, le=10_080)] | None = None
    alerts: list[AlertKind] | None = None


class TopicConfig(_Strict):
    """A tracked topic: a post mentions it when a phrase, alias or hashtag occurs (and, if
    `require_any` is set, one of those context terms too) and no exclusion occurs."""

    name: str
    phrases: list[NonEmptyText] = Field(default_factory=list)
    aliases: list[NonEmptyText] = Field(default_factory=list)
    hashtags: list[NonEmptyText] = Field(default_factory=list)
    require_any: list[NonEmptyText] = Field(default_factory=list)
    exclusions: list[NonEmptyText] = Field(default_factory=list)
    languages: list[Annotated[str, Field(pattern=r"^[a-z]{2,3}$")]] = Field(default_factory=list)
    # Boosts, reposts, crossposts and retweets: by default they add to the original's
    # engagement and the original counts once; true counts each one as a mention.
    count_reposts: bool = False
    fandom_lexicon: bool = True  # score with the fan-slang layer on VADER (monitor/lexicon.py)
    detection: DetectorOptions | None = None

    @field_validator("name")
    @classmethod
    def _name_is_slug(cls, value: str) -> str:
        if not TOPIC_NAME.match(value):
            raise ValueError("must be lowercase letters, digits and dashes, e.g. 'love-letter'")
        return value

    @field_validator("hashtags")
    @classmethod
    def _hashtags_without_hash(cls, value: list[str]) -> list[str]:
        tags = [tag.removeprefix("#") for tag in value]
        for tag in tags:
            if not re.fullmatch(r"\w+", tag):
                raise ValueError(f"hashtag {tag!r} must be one word (letters, digits, _)")
        return tags

    @model_validator(mode="after")
    def _has_terms(self) -> TopicConfig:
        if not (self.phrases or self.aliases or self.hashtags):
            raise ValueError("a topic needs at least one of phrases, aliases or hashtags")
        return self


class JsonMappingConfig(_Strict):
    """JMESPath expressions that turn any JSON API response into posts (`kind = "json"`).

    Example (Hacker News search via Algolia)::

        [feeds.mapping]
        items = "hits"
        id = "objectID"
        text = "join(' ', [title || '', story_text || '', comment_text || ''])"
        author = "author"
        time = "created_at"
        url = "url"
    """

    items: str
    id: str
    text: str
    author: str | None = None
    time: str | None = None
    url: str | None = None
    lang: str | None = None
    likes: str | None = None
    replies: str | None = None
    next: str | None = None  # evaluated on the whole response: the next page token or URL
    next_param: str | None = None  # query parameter the token goes in; None: `next` is a URL

    @model_validator(mode="after")
    def _compiles(self) -> JsonMappingConfig:
        import jmespath
        from jmespath.exceptions import JMESPathError

        for name in (
            "items",
            "id",
            "text",
            "author",
            "time",
            "url",
            "lang",
            "likes",
            "replies",
            "next",
        ):
            expression = getattr(self, name)
            if expression is None:
                continue
            try:
                jmespath.compile(expression)
            except JMESPathError as exc:
                raise ValueError(f"{name}: not a JMESPath expression: {exc}") from None
        return self


EnvName = Annotated[str, Field(pattern=ENV_NAME)]

# Options each kind needs, checked at load so a bad feed fails at start-up, not at its poll.
_REQUIRED: dict[str, tuple[str, ...]] = {
    "rss": ("url",),
    "jsonfeed": ("url",),
    "json": ("url", "mapping"),
    "mastodon": ("instance", "hashtag"),
    "bluesky": ("query", "handle_env", "password_env"),
    "reddit": ("client_id_env", "client_secret_env", "user_agent"),
    "youtube": ("video_id", "token_env"),
    "x": ("query", "token_env"),
    "jetstream": (),
}
JETSTREAM_URL = "wss://jetstream2.us-east.bsky.network/subscribe"
_DEFAULT_API = {
    "bluesky": "https://bsky.social",
    "reddit": "https://oauth.reddit.com",
    "youtube": "https://www.googleapis.com/youtube/v3",
    "x": "https://api.x.com",
}
_REDDIT_AGENT = re.compile(r"^[^:\s]+:[^:\s]+:[^:\s]+ \(by /u/[A-Za-z0-9_-]+\)$")


class FeedConfig(_Strict):
    """A feed to poll. `topics` defaults to every topic. Which options apply depends on
    `kind`; see the README section "Sources" for each kind's options and an example."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")]
    kind: Literal[
        "rss", "jsonfeed", "json", "mastodon", "bluesky", "reddit", "youtube", "x", "jetstream"
    ]
    url: str | None = None
    interval_seconds: Annotated[int, Field(ge=10, le=86_400)] = 300
    topics: list[str] | None = None
    # Where the API lives: lets a feed point at a mirror, a proxy or a local test server.
    api_base: str | None = None
    instance: str | None = None
    hashtag: str | None = None
    query: Annotated[str, Field(min_length=1, max_length=512)] | None = None
    subreddit: Annotated[str, Field(pattern=r"^[A-Za-z0-9_]{2,21}$")] | None = None
    video_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{6,64}$")] | None = None
    language: Annotated[str, Field(pattern=r"^[a-z]{2,3}$")] | None = None
    user_agent: str | None = None
    token_env: EnvName | None = None
    handle_env: EnvName | None = None
    password_env: EnvName | None = None
    client_id_env: EnvName | None = None
    client_secret_env: EnvName | None = None
    mapping: JsonMappingConfig | None = None
    max_pages_per_poll: Annotated[int, Field(ge=1, le=100)] = 5
    backfill_posts: Annotated[int, Field(ge=1, le=10_000)] = 200
    page_size: Annotated[int, Field(ge=1, le=100)] | None = None
    unit_price_usd: Annotated[float, Field(ge=0, le=10)] | None = None
    alert_after_failures: Annotated[int, Field(ge=1, le=1000)] = 5
    alert_after_silent_hours: Annotated[float, Field(gt=0, le=24 * 365)] | None = None

    @field_validator("url", "api_base", "instance")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^(https?|wss?)://[^\s/]+", value):
            raise ValueError("must be an http:// or https:// URL (ws:// or wss:// for jetstream)")
        return value

    @field_validator("api_base", "instance")
    @classmethod
    def _no_trailing_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value is not None else None

    @field_validator("hashtag")
    @classmethod
    def _one_tag(cls, value: str | None) -> str | None:
        if value is None:
            return None
        tag = value.removeprefix("#")
        if not re.fullmatch(r"\w+", tag):
            raise ValueError(f"hashtag {tag!r} must be one word (letters, digits, _)")
        return tag

    @model_validator(mode="after")
    def _kind_options(self) -> FeedConfig:
        missing = [option for option in _REQUIRED[self.kind] if getattr(self, option) is None]
        if missing:
            raise ValueError(f"a {self.kind} feed needs {', '.join(missing)}")
        if self.kind == "reddit":
            if self.user_agent and not _REDDIT_AGENT.match(self.user_agent):
                raise ValueError(
                    "user_agent: Reddit requires '<platform>:<app id>:<version> (by /u/<name>)', "
                    "e.g. 'server:fan-monitor:0.1 (by /u/example)'"
                )
            if self.subreddit is None and self.query is None:
                raise ValueError("a reddit feed needs subreddit, query or both")
        websocket = self.url is not None and self.url.startswith(("ws://", "wss://"))
        if websocket != (self.kind == "jetstream") and self.url is not None:
            raise ValueError("url: only a jetstream feed takes a ws:// or wss:// URL")
        if self.kind == "mastodon" and (self.handle_env or self.password_env):
            raise ValueError("a mastodon feed takes token_env, not handle_env/password_env")
        return self

    @property
    def target(self) -> str:
        """Return what this feed polls, as shown in `monitor feeds` and stored on its row."""
        if self.kind == "jetstream":
            return self.url or JETSTREAM_URL
        if self.kind in ("rss", "jsonfeed", "json"):
            assert self.url is not None
            return self.url
        if self.kind == "mastodon":
            return f"{self.api_base or self.instance}/api/v1/timelines/tag/{self.hashtag}"
        base = self.api_base or _DEFAULT_API[self.kind]
        if self.kind == "bluesky":
            return f"{base}/xrpc/app.bsky.feed.searchPosts?q={self.query}"
        if self.kind == "reddit":
            where = f"/r/{self.subreddit}" if self.subreddit else ""
            return f"{base}{where}/search?q={self.query}" if self.query else f"{base}{where}/new"
        if self.kind == "youtube":
            return f"{base}/commentThreads?videoId={self.video_id}"
        return f"{base}/2/tweets/search/recent?query={self.query}"


class TimelineConfig(_Strict):
    """Bucketing of mentions in event time."""

    bucket_minutes: Annotated[int, Field(ge=1, le=60)] = 5

    @field_validator("bucket_minutes")
    @classmethod
    def _divides_the_hour(cls, value: int) -> int:
        if 60 % value:
            raise ValueError("must divide 60 (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30 or 60)")
        return value


class DetectionConfig(_Strict):
    """Settings of the detector (see monitor/detectors) and of alert episodes.

    `detector` is "seasonal" (the default), or a baseline kept for comparison: "poisson",
    "peak" (Huginn's rule), "robust-z". `preset` and the explicit parameters tune the
    seasonal detector; `min_count`, `baseline_buckets` and, if set, `max_p_value` and
    `min_ratio` tune "poisson".
    """

    detector: Literal["seasonal", "poisson", "peak", "robust-z"] = "seasonal"
    preset: Preset = "balanced"
    interval_seconds: Annotated[int, Field(ge=5, le=3600)] = 60
    baseline_buckets: Annotated[int, Field(ge=12, le=10_000)] = 288
    min_history_buckets: Annotated[int, Field(ge=1, le=10_000)] = 36
    min_count: Annotated[int, Field(ge=1)] = 10
    max_p_value: PValue | None = None
    min_excess: Annotated[float, Field(ge=0)] | None = None
    min_ratio: Annotated[float, Field(ge=1.0)] | None = None
    days: Annotated[int, Field(ge=1, le=28)] | None = None
    calibration_days: Annotated[int, Field(ge=0, le=28)] | None = None
    cooldown_minutes: Annotated[int, Field(ge=0, le=10_080)] = 720
    alerts: list[AlertKind] = Field(default_factory=lambda: ["spike"])
    resolve_after_buckets: Annotated[int, Field(ge=1, le=1000)] = 12
    # 0 turns surges off; below 1 "twice the count" would fire on a smaller bucket.
    surge_ratio: Annotated[float, Field(ge=0, le=1000)] = 2.0
    sample_posts: Annotated[int, Field(ge=0, le=50)] = 5

    @field_validator("surge_ratio")
    @classmethod
    def _surge_ratio_off_or_above_one(cls, value: float) -> float:
        if 0 < value <= 1:
            raise ValueError("must be 0 (no surge alerts) or above 1")
        return value


class ExpectedEvent(_Strict):
    """A known event (an anniversary, a broadcast) during which alerts are expected: they are
    annotated with its name, or not raised at all with `action = "suppress"`::

        [[expected_events]]
        name = "LWA anniversary live"
        start = 2026-01-24T09:00:00Z
        end = 2026-01-24T13:00:00Z
        topics = ["love-letter"]      # default: every topic
        action = "annotate"           # or "suppress"
    """

    name: NonEmptyText
    start: datetime
    end: datetime
    topics: list[str] | None = None
    action: Literal["annotate", "suppress"] = "annotate"

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        # A time without offset is taken as UTC, like every time the monitor stores.
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    @model_validator(mode="after")
    def _ordered(self) -> ExpectedEvent:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self

    def covers(self, topic: str, moment: datetime) -> bool:
        """Return whether this event applies to `topic` at `moment`."""
        return (self.topics is None or topic in self.topics) and self.start <= moment < self.end


class FetchConfig(_Strict):
    """Limits of every HTTP exchange with a feed."""

    connect_timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 5
    read_timeout_seconds: Annotated[float, Field(gt=0, le=120)] = 10
    deadline_seconds: Annotated[float, Field(gt=0, le=300)] = 30
    max_body_bytes: Annotated[int, Field(ge=1024, le=512 * 1024 * 1024)] = 10 * 1024 * 1024
    max_redirects: Annotated[int, Field(ge=0, le=10)] = 5
    max_entries_per_poll: Annotated[int, Field(ge=1, le=100_000)] = 1000
    # Requests one process sends to one host at the same time (politeness, not speed).
    max_in_flight_per_host: Annotated[int, Field(ge=1, le=16)] = 1
    # Feeds of one host polled at once across all workers (0: no cap): set it when many
    # feeds share one API host (several Reddit or Bluesky searches, one Mastodon instance).
    max_polls_per_host: Annotated[int, Field(ge=0, le=100)] = 0
    user_agent: str = "fan-reaction-monitor/0.1 (+self-hosted)"
    # Private, loopback and link-local networks are refused unless listed here (CIDR).
    allow_networks: list[str] = Field(default_factory=list)

    @field_validator("allow_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            try:
                parse_networks([network])
            except ValueError:
                raise ValueError(
                    f"{network!r} is not a network; write e.g. '127.0.0.0/8' or '::1/128'"
                ) from None
        return value


class WorkerConfig(_Strict):
    """Time limits of Celery tasks and the broker's redelivery delay.

    They must nest: soft limit < hard limit < visibility timeout. Redis hands an unacked
    message to another worker after the visibility timeout, so a task still running then
    would run twice; the hard limit kills it well before that.

    Example::

        [worker]
        soft_time_limit_seconds = 90
        time_limit_seconds = 120
        visibility_timeout_seconds = 900
    """

    soft_time_limit_seconds: Annotated[int, Field(ge=1, le=3600)] = 90
    time_limit_seconds: Annotated[int, Field(ge=2, le=7200)] = 120
    visibility_timeout_seconds: Annotated[int, Field(ge=3, le=86_400)] = 900

    @model_validator(mode="after")
    def _limits_nest(self) -> WorkerConfig:
        if self.time_limit_seconds <= self.soft_time_limit_seconds:
            raise ValueError("time_limit_seconds: must be greater than soft_time_limit_seconds")
        if self.visibility_timeout_seconds <= self.time_limit_seconds:
            raise ValueError(
                "visibility_timeout_seconds: must be greater than time_limit_seconds, "
                "or Redis hands a running task to a second worker"
            )
        return self

    @property
    def poll_lease_seconds(self) -> float:
        """How long a poll holds its feed: longer than the hard limit, so a running poll is
        never polled twice at once, yet short enough that a killed poll is retried soon."""
        return self.time_limit_seconds * 1.5


EnvVarName = Annotated[str, Field(pattern=r"^[A-Z_][A-Z0-9_]{0,127}$")]
# What a notifier can be told about an alert: it opened, it rose a severity band or surged
# while open (the re-alerts of `monitor.episodes`), or it resolved.
NoticeEvent = Literal["open", "escalate", "surge", "resolve"]
NOTIFIER_KINDS = ("webhook", "slack", "email")


class ApiConfig(_Strict):
    """The HTTP API and dashboard (`monitor serve`). The bearer token is never in this file:
    it comes from the environment variable MONITOR_API_TOKEN.

    Example::

        [api]
        read_requires_token = true   # GET endpoints and the dashboard need the token too
    """

    read_requires_token: bool = False
    max_page_size: Annotated[int, Field(ge=1, le=500)] = 200


class _NotifierBase(_Strict):
    """Routing shared by every sink: which topics, alert kinds and events it receives."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    topics: list[str] | None = None  # None: every topic
    alert_kinds: list[AlertKind | Literal["source"]] = Field(default_factory=lambda: ["spike"])
    events: list[NoticeEvent] = Field(default_factory=lambda: ["open"])
    digest: bool = False  # one message per detection run instead of one per alert
    timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 10
    max_attempts: Annotated[int, Field(ge=1, le=10)] = 3
    retry_backoff_seconds: Annotated[float, Field(ge=0, le=60)] = 1.0


def _require_http_url(value: str) -> str:
    if not re.match(r"^https?://[^\s/]+", value):
        raise ValueError("must be an http:// or https:// URL")
    return value


class WebhookNotifierConfig(_NotifierBase):
    """A JSON POST to `url`, signed with HMAC-SHA256 when `secret_env` names a variable.

    Example::

        [[notifiers]]
        name = "ops"
        kind = "webhook"
        url = "https://hooks.example/monitor"
        secret_env = "MONITOR_WEBHOOK_SECRET"
    """

    kind: Literal["webhook"]
    url: str
    secret_env: EnvVarName | None = None

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return _require_http_url(value)


class SlackNotifierConfig(_NotifierBase):
    """A Slack-compatible incoming webhook; its URL is a secret, so only its variable is named.

    Example::

        [[notifiers]]
        name = "fan-team"
        kind = "slack"
        url_env = "MONITOR_SLACK_WEBHOOK_URL"
    """

    kind: Literal["slack"]
    url_env: EnvVarName


class EmailNotifierConfig(_NotifierBase):
    """Email over SMTP (STARTTLS unless `starttls = false`); the password comes from the
    variable `password_env` names.

    Example::

        [[notifiers]]
        name = "mail"
        kind = "email"
        smtp_host = "smtp.example"
        from_addr = "monitor@example.org"
        to_addrs = ["team@example.org"]
        username = "monitor"
        password_env = "MONITOR_SMTP_PASSWORD"
    """

    kind: Literal["email"]
    smtp_host: Annotated[str, Field(min_length=1, max_length=255)]
    smtp_port: Annotated[int, Field(ge=1, le=65535)] = 587
    starttls: bool = True
    username: str | None = None
    password_env: EnvVarName | None = None
    from_addr: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$")]
    to_addrs: Annotated[
        list[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$")]], Field(min_length=1)
    ]


NotifierConfig = Annotated[
    WebhookNotifierConfig | SlackNotifierConfig | EmailNotifierConfig,
    Field(discriminator="kind"),
]


Valence = Annotated[float, Field(ge=-4.0, le=4.0)]


class SentimentConfig(_Strict):
    """Scoring settings. `extra_words` and `extra_emoji` extend the fandom lexicon (valence on
    VADER's -4 .. +4 scale) for every topic that has `fandom_lexicon = true`.

    Example::

        [sentiment]
        emoji_only = true
        extra_words = { bop = 2.0, flop = -2.0 }
        extra_emoji = { "🫡" = 1.0 }
    """

    emoji_only: bool = True  # score the emoji of posts in languages VADER cannot read
    extra_words: dict[str, Valence] = Field(default_factory=dict)
    extra_emoji: dict[str, Valence] = Field(default_factory=dict)

    @field_validator("extra_words")
    @classmethod
    def _single_tokens(cls, value: dict[str, float]) -> dict[str, float]:
        from monitor.lexicon import check_word

        for word in value:
            check_word(word)
        return value

    @field_validator("extra_emoji")
    @classmethod
    def _single_emoji(cls, value: dict[str, float]) -> dict[str, float]:
        from monitor.lexicon import check_emoji

        for emoji in value:
            check_emoji(emoji)
        return value


class MonitorConfig(_Strict):
    """The whole configuration file."""

    topics: Annotated[list[TopicConfig], Field(min_length=1)]
    feeds: list[FeedConfig] = Field(default_factory=list)
    timeline: TimelineConfig = TimelineConfig()
    detection: DetectionConfig = DetectionConfig()
    fetch: FetchConfig = FetchConfig()
    worker: WorkerConfig = WorkerConfig()
    api: ApiConfig = ApiConfig()
    notifiers: list[NotifierConfig] = Field(default_factory=list)
    sentiment: SentimentConfig = SentimentConfig()
    expected_events: list[ExpectedEvent] = Field(default_factory=list)

    @model_validator(mode="after")
    def _cross_references(self) -> MonitorConfig:
        names = [topic.name for topic in self.topics]
        duplicated = sorted({name for name in names if names.count(name) > 1})
        if duplicated:
            raise ValueError(f"topics: names must be unique; repeated: {', '.join(duplicated)}")
        feed_names = [feed.name for feed in self.feeds]
        repeated = sorted({name for name in feed_names if feed_names.count(name) > 1})
        if repeated:
            raise ValueError(f"feeds: names must be unique; repeated: {', '.join(repeated)}")
        allowed = parse_networks(self.fetch.allow_networks)
        for index, feed in enumerate(self.feeds):
            for option in ("url", "api_base", "instance"):
                host = urlsplit(getattr(feed, option) or "").hostname or ""
                address = literal_address(host) if host else None
                if address is not None and not is_allowed(address, allowed):
                    raise ValueError(
                        f"feeds[{index}].{option}: {host} is not a public address; list its "
                        "network in [fetch] allow_networks to poll it anyway"
                    )
            for topic in feed.topics or []:
                if topic not in names:
                    raise ValueError(
                        f"feeds[{index}].topics: unknown topic {topic!r} "
                        f"(known: {', '.join(names)})"
                    )
        sinks = [notifier.name for notifier in self.notifiers]
        repeated = sorted({name for name in sinks if sinks.count(name) > 1})
        if repeated:
            raise ValueError(f"notifiers: names must be unique; repeated: {', '.join(repeated)}")
        for index, notifier in enumerate(self.notifiers):
            for topic in notifier.topics or []:
                if topic not in names:
                    raise ValueError(
                        f"notifiers[{index}].topics: unknown topic {topic!r} "
                        f"(known: {', '.join(names)})"
                    )
        for index, event in enumerate(self.expected_events):
            for topic in event.topics or []:
                if topic not in names:
                    raise ValueError(
                        f"expected_events[{index}].topics: unknown topic {topic!r} "
                        f"(known: {', '.join(names)})"
                    )
        return self

    def topic(self, name: str) -> TopicConfig:
        """Return the topic called `name`; KeyError if there is none."""
        for topic in self.topics:
            if topic.name == name:
                return topic
        raise KeyError(name)

    def feed_topics(self, feed: FeedConfig) -> list[TopicConfig]:
        """Return the topics a feed is matched against."""
        if feed.topics is None:
            return list(self.topics)
        return [self.topic(name) for name in feed.topics]


def _field_path(location: tuple[int | str, ...]) -> str:
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "(top level)"


def _without_tags(location: tuple[int | str, ...]) -> tuple[int | str, ...]:
    # A discriminated union adds its tag (`notifiers[0].webhook.url`); the file has no such key.
    kept: list[int | str] = []
    for part in location:
        if part == "function-after":
            continue
        if kept[-2:-1] == ["notifiers"] and isinstance(kept[-1], int) and part in NOTIFIER_KINDS:
            continue
        kept.append(part)
    return tuple(kept)


def format_validation_error(source: str, error: ValidationError) -> str:
    """Return one line per problem: `<file>: <field>: <what is wrong>`."""
    lines = []
    for problem in error.errors():
        location = _without_tags(problem["loc"])
        message = problem["msg"].removeprefix("Value error, ")
        path = _field_path(location)
        if problem["type"] == "extra_forbidden":
            message = "unknown field (check the spelling against the configuration reference)"
        elif (
            problem["type"] == "string_pattern_mismatch"
            and problem.get("ctx", {}).get("pattern") == r"\S"
        ):
            message = "must not be blank"
        # Cross-field checks run on a whole table; their message starts with the field.
        named = _NAMED_PROBLEM.match(message)
        if named:
            field = named.group(1)
            path = f"{path}.{field}" if location else field
            message = named.group(2)
        lines.append(f"{source}: {path}: {message}")
    return "\n".join(lines)


def parse_config(text: str, *, source: str = "<config>") -> MonitorConfig:
    """Return the validated configuration in `text`; raise ConfigError naming source and field."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from exc
    try:
        return MonitorConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(source, exc)) from exc


def load_config(path: str | Path) -> MonitorConfig:
    """Return the validated configuration read from `path`; raise ConfigError on any problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no such file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    return parse_config(text, source=str(path))
