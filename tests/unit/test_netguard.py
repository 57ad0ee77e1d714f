"""The address rule feeds are fetched under (pure: no sockets)."""

from __future__ import annotations

import ipaddress

import pytest

from monitor.config import parse_config
from monitor.errors import ConfigError
from monitor.sources.netguard import is_allowed, is_public, literal_address, parse_networks

FORBIDDEN = [
    "127.0.0.1",
    "::1",
    "169.254.169.254",
    "0.0.0.0",
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "100.100.100.200",  # CGNAT
    "::ffff:127.0.0.1",  # IPv4-mapped loopback: not `is_loopback` in Python 3.11
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1: `is_global` in Python 3.11
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "224.0.0.1",  # multicast: `is_global` in Python 3.11
    "fe80::1",
    "fc00::1",
    "240.0.0.1",
]
PUBLIC = ["93.184.215.14", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"]


@pytest.mark.parametrize("address", FORBIDDEN)
def test_private_loopback_link_local_and_disguised_addresses_are_refused(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))
    assert not is_allowed(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    assert is_allowed(ipaddress.ip_address(address))


def test_an_allowed_network_admits_only_its_own_addresses() -> None:
    loopback = parse_networks(["127.0.0.0/8"])
    assert is_allowed(ipaddress.ip_address("127.0.0.2"), loopback)
    assert is_allowed(ipaddress.ip_address("::ffff:127.0.0.1"), loopback)
    assert not is_allowed(ipaddress.ip_address("169.254.169.254"), loopback)
    assert not is_allowed(ipaddress.ip_address("::1"), loopback)


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("[::1]", "::1"),
        ("169.254.169.254", "169.254.169.254"),
        ("news.example", None),
    ],
)
def test_literal_hosts_are_read_as_resolvers_read_them(host: str, address: str | None) -> None:
    found = literal_address(host)
    assert (str(found) if found else None) == address


TOPIC = '[[topics]]\nname = "t"\nphrases = ["x"]\n'


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:6379/",
        "http://[::1]/feed",
        "http://2130706433/",
        "http://0x7f.1/",
        "http://10.0.0.1/rss",
    ],
)
def test_a_feed_at_a_private_literal_address_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(f'{TOPIC}[[feeds]]\nname = "f"\nkind = "rss"\nurl = "{url}"\n', source="c")
    assert str(info.value).startswith("c: feeds[0].url: ")
    assert "allow_networks" in str(info.value)


def test_allowed_networks_admit_a_loopback_feed_and_must_be_networks() -> None:
    config = parse_config(
        '[fetch]\nallow_networks = ["127.0.0.0/8"]\n'
        f'{TOPIC}[[feeds]]\nname = "f"\nkind = "rss"\nurl = "http://127.0.0.1:8765/a"\n'
    )
    assert config.feeds[0].url == "http://127.0.0.1:8765/a"
    with pytest.raises(ConfigError) as info:
        parse_config(f'[fetch]\nallow_networks = ["loopback"]\n{TOPIC}', source="c")
    assert str(info.value).startswith("c: fetch.allow_networks: ")


def test_the_tests_themselves_cannot_leave_the_loopback() -> None:
    import socket

    with socket.socket() as sock, pytest.raises(AssertionError, match="non-loopback"):
        sock.connect(("192.0.2.1", 80))  # TEST-NET-1: never dialled, the guard stops it
