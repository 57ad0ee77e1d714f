"""No SSRF: feeds and their redirects reach only public addresses unless the config allows a
network, checked at connect time on every hop, after a single name resolution."""

from __future__ import annotations

import socket

import httpx
import pytest

from monitor.config import FetchConfig
from monitor.errors import BlockedAddressError
from monitor.sources.fetch import fetch, make_client
from monitor.sources.netguard import GuardedBackend, parse_networks
from tests.conftest import FeedServer, Route, rss

pytestmark = pytest.mark.integration
FEED = rss([{"guid": "tag:x,2024:1", "title": "V sings Love Letter"}])


def get(url: str, limits: FetchConfig) -> None:
    with make_client(limits) as client:
        fetch(client, httpx.Request("GET", url), limits=limits)


def test_loopback_is_refused_by_default_before_any_connection(feed_server: FeedServer) -> None:
    feed_server.routes["/f.xml"] = Route(body=FEED)
    with pytest.raises(BlockedAddressError, match="not a public address"):
        get(feed_server.url("/f.xml"), FetchConfig())
    assert feed_server.hits("/f.xml") == 0


def test_allowed_network_is_fetched(feed_server: FeedServer) -> None:
    feed_server.routes["/f.xml"] = Route(body=FEED)
    get(feed_server.url("/f.xml"), FetchConfig(allow_networks=["127.0.0.1/32"]))
    assert feed_server.hits("/f.xml") == 1


def test_every_redirect_hop_is_checked(feed_server: FeedServer, other_host: FeedServer) -> None:
    other_host.routes["/admin"] = Route(body=b"secret")
    feed_server.routes["/to-internal"] = Route(
        status=302, headers={"Location": other_host.url("/admin")}
    )
    feed_server.routes["/to-metadata"] = Route(
        status=302, headers={"Location": "http://169.254.169.254/latest/meta-data/"}
    )
    limits = FetchConfig(allow_networks=["127.0.0.1/32"])
    for path in ("/to-internal", "/to-metadata"):
        # The loopback-only guard of the tests would fail the test on any other connect.
        with pytest.raises(BlockedAddressError):
            get(feed_server.url(path), limits)
        assert feed_server.hits(path) == 1
    assert other_host.hits("/admin") == 0


def test_a_name_is_resolved_once_and_the_checked_address_is_dialled(
    monkeypatch: pytest.MonkeyPatch, feed_server: FeedServer
) -> None:
    feed_server.routes["/f.xml"] = Route(body=FEED)
    port = feed_server.server.server_address[1]
    real = socket.getaddrinfo
    answers = iter(["127.0.0.1", "10.0.0.1"])  # a rebinding resolver: safe first, then not
    lookups: list[str] = []

    def resolver(host: str, *args: object, **kwargs: object) -> list:
        if host in ("rebind.test", "metadata.test"):
            lookups.append(host)
            address = "169.254.169.254" if host == "metadata.test" else next(answers)
            return real(address, *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    limits = FetchConfig(allow_networks=["127.0.0.0/8"])
    get(f"http://rebind.test:{port}/f.xml", limits)
    assert lookups == ["rebind.test"] and feed_server.hits("/f.xml") == 1
    with pytest.raises(BlockedAddressError, match=r"169\.254\.169\.254"):
        get(f"http://metadata.test:{port}/f.xml", limits)
    assert lookups == ["rebind.test", "metadata.test"]


def test_the_backend_refuses_a_name_with_any_forbidden_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = socket.getaddrinfo

    def two_answers(host: str, port: int, *args: object, **kwargs: object) -> list:
        return real("127.0.0.1", port, *args, **kwargs) + real("10.1.2.3", port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", two_answers)
    backend = GuardedBackend(allow_networks=parse_networks(["127.0.0.0/8"]))
    with pytest.raises(BlockedAddressError, match=r"10\.1\.2\.3"):
        backend.connect_tcp("mixed.test", 80, timeout=1)
