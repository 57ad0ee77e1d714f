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

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from monitor.errors import ConfigError

TOPIC_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
FEED_KINDS = ("rss",)
_NAMED_PROBLEM = re.compile(r"^([a-z_]+(?:\[\d+\])?(?:\.[a-z_]+)*): (.*)$", re.S)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


NonEmptyText = Annotated[str, Field(min_length=1, max_length=200, pattern=r"\S")]


Preset = Literal["sensitive", "balanced", "strict"]
AlertKind = Literal["spike", "drop", "climb", "sour"]
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


class FeedConfig(_Strict):
    """A feed to poll. `topics` defaults to every topic."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")]
    kind: Literal["rss"]
    url: str
    interval_seconds: Annotated[int, Field(ge=10, le=86_400)] = 300
    topics: list[str] | None = None

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must be an http:// or https:// URL")
        return value


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
    resolve_after_buckets: Annotated[int, Field(ge=1, le=1000)] = 3
    sample_posts: Annotated[int, Field(ge=0, le=50)] = 5


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
    user_agent: str = "fan-reaction-monitor/0.1 (+self-hosted)"


class MonitorConfig(_Strict):
    """The whole configuration file."""

    topics: Annotated[list[TopicConfig], Field(min_length=1)]
    feeds: list[FeedConfig] = Field(default_factory=list)
    timeline: TimelineConfig = TimelineConfig()
    detection: DetectionConfig = DetectionConfig()
    fetch: FetchConfig = FetchConfig()
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
        for index, feed in enumerate(self.feeds):
            for topic in feed.topics or []:
                if topic not in names:
                    raise ValueError(
                        f"feeds[{index}].topics: unknown topic {topic!r} "
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


def format_validation_error(source: str, error: ValidationError) -> str:
    """Return one line per problem: `<file>: <field>: <what is wrong>`."""
    lines = []
    for problem in error.errors():
        location = tuple(part for part in problem["loc"] if part not in ("function-after",))
        message = problem["msg"].removeprefix("Value error, ")
        path = _field_path(location)
        if problem["type"] == "extra_forbidden":
            message = "unknown field (check the spelling against the configuration reference)"
        elif (
            problem["type"] == "string_pattern_mismatch"
            and problem.get("ctx", {}).get("pattern") == r"\S"
        ):
            message = "must not be blank"
        # Cross-field checks run on the whole file; their message starts with the field.
        named = _NAMED_PROBLEM.match(message)
        if not location and named:
            path, message = named.group(1), named.group(2)
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
