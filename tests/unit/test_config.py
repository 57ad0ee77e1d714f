"""parse_config / load_config: the shipped file loads, and every error names file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import MonitorConfig, load_config, parse_config
from monitor.errors import ConfigError

SHIPPED = Path(__file__).resolve().parents[2] / "config" / "monitor.toml"
SOURCE = "test.toml"

TOPIC = """
[[topics]]
name = "love-letter"
phrases = ["Love Letter"]
"""


def feed(name: str, url: str = "https://news.example/rss", extra: str = "") -> str:
    return f'\n[[feeds]]\nname = "{name}"\nkind = "rss"\nurl = "{url}"\n{extra}\n'


def config_error(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(text, source=SOURCE)
    return str(info.value)


def test_shipped_config_loads_with_its_two_topics() -> None:
    config = load_config(SHIPPED)

    assert isinstance(config, MonitorConfig)
    assert [topic.name for topic in config.topics] == ["love-letter", "love-wins-all"]
    assert "Love Letter" in config.topic("love-letter").phrases
    assert "Love wins all" in config.topic("love-wins-all").phrases
    assert config.timeline.bucket_minutes == 5
    assert 60 % config.timeline.bucket_minutes == 0


def test_shipped_feeds_refer_to_known_topics_and_default_to_all() -> None:
    config = load_config(SHIPPED)
    names = {topic.name for topic in config.topics}

    assert config.feeds, "the shipped config polls at least one feed"
    for feed_config in config.feeds:
        assert feed_config.url.startswith(("http://", "https://"))
        topics = {topic.name for topic in config.feed_topics(feed_config)}
        assert topics <= names
        if feed_config.topics is None:
            assert topics == names


def test_minimal_config_gets_defaults() -> None:
    config = parse_config(TOPIC, source=SOURCE)

    assert config.feeds == []
    assert config.timeline.bucket_minutes == 5
    assert config.detection.detector == "seasonal"
    assert config.detection.preset == "balanced"
    with pytest.raises(KeyError):
        config.topic("missing")


@pytest.mark.parametrize("given", [["LoveLetter"], ["#LoveLetter"]])
def test_hashtags_are_stored_without_the_hash(given: list[str]) -> None:
    text = f'[[topics]]\nname = "t"\nhashtags = {given!r}\n'.replace("'", '"')

    assert parse_config(text).topics[0].hashtags == ["LoveLetter"]


def test_bad_topic_name_names_file_and_field() -> None:
    message = config_error('[[topics]]\nname = "Love Letter"\nphrases = ["x"]\n')

    assert message.startswith(f"{SOURCE}: topics[0].name: ")
    assert "lowercase" in message


def test_bad_feed_url_names_the_second_feed() -> None:
    message = config_error(TOPIC + feed("ok") + feed("bad", url="ftp://news.example/rss"))

    assert message.startswith(f"{SOURCE}: feeds[1].url: ")
    assert "http" in message
    assert "feeds[0]" not in message


def test_misspelt_field_is_reported_as_unknown() -> None:
    message = config_error(TOPIC + feed("news", extra="intervl = 600"))

    assert message.startswith(f"{SOURCE}: feeds[0].intervl: ")
    assert "unknown field" in message


def test_bucket_minutes_must_divide_the_hour() -> None:
    message = config_error(TOPIC + "\n[timeline]\nbucket_minutes = 7\n")

    assert message.startswith(f"{SOURCE}: timeline.bucket_minutes: ")
    assert "must divide 60" in message


@pytest.mark.parametrize("minutes", [1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60])
def test_every_divisor_of_sixty_is_a_valid_bucket(minutes: int) -> None:
    config = parse_config(TOPIC + f"\n[timeline]\nbucket_minutes = {minutes}\n")

    assert config.timeline.bucket_minutes == minutes


def test_duplicate_topic_names_are_rejected() -> None:
    message = config_error(TOPIC + TOPIC)

    assert message.startswith(f"{SOURCE}: ")
    assert "unique" in message
    assert "love-letter" in message


def test_duplicate_topic_names_error_names_the_topics_field() -> None:
    message = config_error(TOPIC + TOPIC)

    assert message.startswith(f"{SOURCE}: topics")


def test_feed_with_unknown_topic_names_the_feed_field() -> None:
    message = config_error(TOPIC + feed("news", extra='topics = ["love-lettr"]'))

    assert message.startswith(f"{SOURCE}: ")
    assert "feeds[0].topics" in message
    assert "'love-lettr'" in message
    assert "love-letter" in message  # the known topics are listed


def test_topic_without_any_term_is_rejected() -> None:
    message = config_error('[[topics]]\nname = "empty"\nrequire_any = ["V"]\n')

    assert message.startswith(f"{SOURCE}: topics[0]: ")
    assert "phrases" in message


@pytest.mark.parametrize("tag", ["#", "Love Letter", "love-letter"])
def test_hashtag_must_be_one_word(tag: str) -> None:
    message = config_error(f'[[topics]]\nname = "t"\nhashtags = ["{tag}"]\n')

    assert message.startswith(f"{SOURCE}: topics[0].hashtags: ")


def test_whitespace_only_phrase_is_rejected() -> None:
    message = config_error('[[topics]]\nname = "t"\nphrases = ["   "]\n')

    assert message.startswith(f"{SOURCE}: topics[0].phrases")


def test_invalid_toml_names_the_file() -> None:
    message = config_error('[[topics]]\nname = "t"\nphrases = ["unclosed"\n')

    assert message.startswith(f"{SOURCE}: not valid TOML")


def test_empty_topic_list_is_rejected() -> None:
    assert config_error("topics = []\n").startswith(f"{SOURCE}: topics: ")


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.toml"

    with pytest.raises(ConfigError) as info:
        load_config(path)

    assert str(info.value) == f"{path}: no such file"


def test_load_config_reports_errors_under_the_file_path(tmp_path: Path) -> None:
    path = tmp_path / "monitor.toml"
    path.write_text(TOPIC + feed("news", url="news.example"), encoding="utf-8")

    with pytest.raises(ConfigError) as info:
        load_config(path)

    assert str(info.value).startswith(f"{path}: feeds[0].url: ")


def test_several_problems_are_reported_one_per_line() -> None:
    message = config_error(
        '[[topics]]\nname = "Bad Name"\nphrases = ["x"]\n' + feed("news", url="nope")
    )
    lines = message.splitlines()

    assert any(line.startswith(f"{SOURCE}: topics[0].name: ") for line in lines)
    assert any(line.startswith(f"{SOURCE}: feeds[0].url: ") for line in lines)


@pytest.mark.parametrize(
    ("worker", "field"),
    [
        ("soft_time_limit_seconds = 60\ntime_limit_seconds = 60", "worker.time_limit_seconds"),
        ("visibility_timeout_seconds = 100", "worker.visibility_timeout_seconds"),
    ],
)
def test_worker_time_limits_must_nest(worker: str, field: str) -> None:
    message = config_error(f"{TOPIC}\n[worker]\n{worker}\n")

    assert message.startswith(f"{SOURCE}: {field}: must be greater than ")


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ('[topics.detection]\npreset = "loud"\n', "topics[0].detection.preset"),
        ('[topics.detection]\nalerts = ["spike", "storm"]\n', "topics[0].detection.alerts[1]"),
        ("[topics.detection]\nmax_p_value = 0.7\n", "topics[0].detection.max_p_value"),
        ("[topics.detection]\ncooldown = 5\n", "topics[0].detection.cooldown"),
        ("[detection]\nsurge_ratio = 0.5\n", "detection.surge_ratio"),
        (
            '[[expected_events]]\nname = "x"\nstart = 2026-01-02T00:00:00Z\n'
            "end = 2026-01-01T00:00:00Z\n",
            "expected_events[0]",
        ),
        (
            '[[expected_events]]\nname = "x"\nstart = 2026-01-01T00:00:00Z\n'
            'end = 2026-01-02T00:00:00Z\ntopics = ["nope"]\n',
            "expected_events[0].topics",
        ),
    ],
)
def test_bad_detection_settings_name_the_field(extra: str, field: str) -> None:
    message = config_error(TOPIC + extra)
    assert message.startswith(f"{SOURCE}: {field}:"), message


def test_topic_detection_options_reach_the_topic_detectors() -> None:
    from monitor.detectors import topic_detectors, topic_policy

    text = TOPIC + (
        '[topics.detection]\npreset = "strict"\nmin_excess = 20\ncooldown_minutes = 30\n'
        'alerts = ["spike", "level", "drop", "climb", "sour"]\n'
    )
    config = parse_config(text)
    topic = config.topics[0]
    detectors = topic_detectors(config.detection, topic)
    assert sorted(detectors) == ["climb", "drop", "level", "sour", "spike"]
    assert detectors["level"].shift_minutes == 120 and detectors["spike"].shift_minutes is None
    spike = detectors["spike"]
    assert (spike.max_p_value, spike.min_excess) == (1e-8, 20)  # preset, then explicit
    assert detectors["drop"].direction == "down" and detectors["climb"].climb_minutes == 180
    assert topic_policy(config.detection, topic, spike).cooldown_minutes == 30
    assert topic_policy(config.detection, topic, spike).surge_ratio == 2.0
    quiet = parse_config(TOPIC + "[detection]\nsurge_ratio = 0\n")
    assert topic_policy(quiet.detection, quiet.topics[0], spike).surge_ratio == 0
    default = parse_config(TOPIC)
    assert list(topic_detectors(default.detection, default.topics[0])) == ["spike"]
