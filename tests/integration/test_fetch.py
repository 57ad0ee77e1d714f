"""The bounded fetcher against hostile responses from a real server on 127.0.0.1."""

from __future__ import annotations

import time
from http.server import BaseHTTPRequestHandler

import pytest

from monitor.config import FetchConfig
from monitor.errors import (
    FetchError,
    FetchTimeoutError,
    HTTPStatusError,
    RateLimitedError,
    ResponseTooLargeError,
)
from monitor.sources.fetch import fetch, make_client
from tests.conftest import FeedServer, Route
from tests.hostile import drip, endless, gzip_bomb

LIMITS = FetchConfig(
    allow_networks=["127.0.0.0/8"],
    connect_timeout_seconds=2,
    read_timeout_seconds=2,
    deadline_seconds=3,
    max_body_bytes=256 * 1024,
    max_redirects=3,
)


def get(server: FeedServer, path: str, **kwargs) -> object:
    with make_client(LIMITS) as client:
        return fetch(client, client.build_request("GET", server.url(path)), limits=LIMITS, **kwargs)


def lying_length(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Length", str(10 * 1024 * 1024 * 1024))
    handler.end_headers()


def test_gzip_bomb_stops_at_the_decoded_cap(feed_server: FeedServer) -> None:
    feed_server.routes["/bomb"] = Route(handler=gzip_bomb)
    with pytest.raises(ResponseTooLargeError, match="after decoding"):
        get(feed_server, "/bomb")


def test_endless_body_stops_at_the_cap(feed_server: FeedServer) -> None:
    feed_server.routes["/endless"] = Route(handler=endless)
    with pytest.raises(ResponseTooLargeError):
        get(feed_server, "/endless")


def test_declared_length_over_the_cap_is_refused_before_reading(feed_server: FeedServer) -> None:
    feed_server.routes["/huge"] = Route(handler=lying_length)
    started = time.monotonic()
    with pytest.raises(ResponseTooLargeError, match="exceeds"):
        get(feed_server, "/huge")
    assert time.monotonic() - started < 2


def test_a_dripping_server_hits_the_total_deadline(feed_server: FeedServer) -> None:
    feed_server.routes["/drip"] = Route(handler=drip)
    with pytest.raises(FetchTimeoutError, match="deadline"):
        get(feed_server, "/drip")


def test_a_stalled_server_hits_the_read_timeout(feed_server: FeedServer) -> None:
    feed_server.routes["/stall"] = Route(body=b"<rss/>", delay_seconds=4)
    with pytest.raises(FetchTimeoutError):
        get(feed_server, "/stall")


def test_redirects_are_followed_up_to_the_limit(feed_server: FeedServer) -> None:
    feed_server.routes["/a"] = Route(status=302, headers={"Location": "/b"})
    feed_server.routes["/b"] = Route(status=301, headers={"Location": feed_server.url("/feed")})
    feed_server.routes["/feed"] = Route(body=b"<rss version='2.0'/>")
    result = get(feed_server, "/a")
    assert result.status_code == 200 and result.url == feed_server.url("/feed")
    feed_server.routes["/loop"] = Route(status=302, headers={"Location": "/loop"})
    with pytest.raises(FetchError, match="redirects"):
        get(feed_server, "/loop")
    assert feed_server.hits("/loop") == LIMITS.max_redirects + 1


def test_statuses_and_validators(feed_server: FeedServer) -> None:
    feed_server.routes["/etag"] = Route(body=b"<rss/>", etag='"abc"')
    first = get(feed_server, "/etag")
    assert first.etag == '"abc"' and not first.not_modified
    assert get(feed_server, "/etag", etag='"abc"').not_modified
    feed_server.routes["/429"] = Route(status=429, headers={"Retry-After": "42"})
    with pytest.raises(RateLimitedError) as limited:
        get(feed_server, "/429")
    assert limited.value.retry_after_seconds == 42
    feed_server.routes["/404"] = Route(status=404)
    with pytest.raises(HTTPStatusError) as missing:
        get(feed_server, "/404")
    assert missing.value.status_code == 404


def test_environment_proxies_are_ignored(feed_server: FeedServer, monkeypatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    feed_server.routes["/feed"] = Route(body=b"<rss/>")
    assert get(feed_server, "/feed").body == b"<rss/>"
