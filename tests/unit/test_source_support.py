"""Pure helpers of the sources: rate-limit headers, secrets and their redaction, feed
options in the config file."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.config import parse_config
from monitor.errors import ConfigError, CredentialsError
from monitor.ratelimit import rate_limit_summary, rate_limit_wait, reset_seconds
from monitor.secrets import REDACTED, redact, resolve_secrets
from monitor.sources.mastodon import newest_id, parse_link_header
from monitor.sources.reddit import fullname_key

NOW = datetime(2026, 8, 20, 10, 0, tzinfo=UTC)
TOPIC = '[[topics]]\nname = "t"\nphrases = ["Love Letter"]\n'


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "2026-08-20T10:05:00.000Z"}, 300),
        ({"x-ratelimit-remaining": "0.0", "x-ratelimit-reset": "42"}, 42),  # Reddit
        (
            {"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(int(NOW.timestamp()) + 900)},
            900,
        ),  # X
        ({"RateLimit-Remaining": "0", "RateLimit-Reset": str(int(NOW.timestamp()) + 60)}, 60),
        ({"X-RateLimit-Remaining": "0"}, 60),  # no reset: a minute
        ({"X-RateLimit-Remaining": "5", "X-RateLimit-Reset": "42"}, None),
        ({"X-RateLimit-Remaining": "soon"}, None),
        ({}, None),
    ],
)
def test_rate_limit_wait(headers: dict[str, str], wait: float | None) -> None:
    assert rate_limit_wait(headers, now=NOW) == wait


def test_reset_is_clamped_and_summarised() -> None:
    assert reset_seconds({"x-ratelimit-reset": "1e12"}, now=NOW) == 24 * 3600
    assert reset_seconds({"x-ratelimit-reset": "2020-01-01T00:00:00Z"}, now=NOW) == 0
    summary = rate_limit_summary(
        {"X-Ratelimit-Remaining": "97", "X-Ratelimit-Limit": "100", "X-Ratelimit-Reset": "300"},
        now=NOW,
    )
    assert summary == "97/100, resets in 300s"


def test_secrets_come_from_the_named_variables_and_are_redacted() -> None:
    config = parse_config(
        TOPIC + '[[feeds]]\nname = "x"\nkind = "x"\nquery = "q"\ntoken_env = "X_BEARER"\n'
    )
    feed = config.feeds[0]
    assert resolve_secrets(feed, {"X_BEARER": " abc-secret "}) == {"token": "abc-secret"}
    with pytest.raises(CredentialsError, match="X_BEARER"):
        resolve_secrets(feed, {})
    text = (
        "HTTP 500 from https://api.example/v3?key=AIzaXYZ&id=1 with abc-secret; "
        "Authorization: Bearer eyJhbGciOi.payload.sig"
    )
    cleaned = redact(text, ["abc-secret"])
    assert "abc-secret" not in cleaned and "AIzaXYZ" not in cleaned
    assert "eyJhbGciOi" not in cleaned and cleaned.count(REDACTED) == 3
    assert "id=1" in cleaned


def test_literal_secrets_and_missing_options_fail_naming_file_and_field() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(
            TOPIC + '[[feeds]]\nname = "m"\nkind = "mastodon"\ninstance = "https://m.example"\n',
            source="monitor.toml",
        )
    assert str(info.value) == "monitor.toml: feeds[0]: a mastodon feed needs hashtag"
    with pytest.raises(ConfigError) as info:
        parse_config(
            TOPIC + '[[feeds]]\nname = "x"\nkind = "x"\nquery = "q"\ntoken = "literal"\n',
            source="monitor.toml",
        )
    assert "monitor.toml: feeds[0].token: unknown field" in str(info.value)


def test_link_header_ids_and_fullnames() -> None:
    links = parse_link_header(
        '<https://m.example/api/v1/timelines/tag/x?max_id=10>; rel="next", '
        '<https://m.example/api/v1/timelines/tag/x?min_id=20>; rel="prev"'
    )
    assert links == {
        "next": "https://m.example/api/v1/timelines/tag/x?max_id=10",
        "prev": "https://m.example/api/v1/timelines/tag/x?min_id=20",
    }
    assert newest_id(["99", "100", "98"]) == "100"
    assert fullname_key("t3_1abcz") > fullname_key("t3_1abc9") > fullname_key("t3_zz")


def test_the_example_config_has_one_valid_feed_of_every_kind() -> None:
    from pathlib import Path

    from monitor.config import FEED_KINDS, load_config

    config = load_config(Path(__file__).resolve().parents[2] / "config" / "monitor.example.toml")
    assert {feed.kind for feed in config.feeds} == set(FEED_KINDS)
    assert all(not feed.name.startswith("-") for feed in config.feeds)


@pytest.mark.parametrize(
    ("options", "path", "params"),
    [
        ({"subreddit": "bangtan"}, "/r/bangtan/new", {"limit": "100", "raw_json": "1"}),
        (
            {"subreddit": "bangtan", "query": "Love Letter"},
            "/r/bangtan/search",
            {"q": "Love Letter", "sort": "new", "restrict_sr": "on", "type": "link"},
        ),
        ({"query": "Love Letter"}, "/search", {"q": "Love Letter", "sort": "new"}),
    ],
)
def test_reddit_listing_and_search_requests(
    options: dict[str, str], path: str, params: dict[str, str]
) -> None:
    from monitor.config import FeedConfig
    from monitor.sources import FeedState, source_for

    feed = FeedConfig.model_validate(
        {
            "name": "r",
            "kind": "reddit",
            "client_id_env": "I",
            "client_secret_env": "S",
            "user_agent": "server:m:0.1 (by /u/someone)",
            **options,
        }
    )
    state = FeedState(url=feed.target, options=feed, auth={"access_token": "tok"})
    request = source_for("reddit").build_request(state)
    assert request.url.host == "oauth.reddit.com" and request.url.path == path
    assert {k: request.url.params[k] for k in params} == params
    assert "restrict_sr" not in request.url.params or "subreddit" in options
    assert request.headers["authorization"] == "bearer tok"
    assert request.headers["user-agent"] == "server:m:0.1 (by /u/someone)"
