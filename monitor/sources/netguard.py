"""Which addresses the monitor may fetch from, and a connection backend that enforces it.

A feed URL is user input. Without a check, a feed (or a redirect it answers with) pointing at
`http://169.254.169.254/` or `http://127.0.0.1:6379/` would make the worker fetch cloud
metadata or talk to internal services. The rule: an address is allowed when it is clearly
public after unwrapping IPv4-mapped, NAT64 and 6to4 IPv6 forms (Python's `is_global` alone
calls `::ffff:127.0.0.1` non-loopback and `224.0.0.1` global), or when it is inside a network
the configuration allows explicitly (`[fetch] allow_networks`, e.g. loopback for the demo).

The check runs at connect time on every connection, hence on every redirect hop, after one
name resolution whose answer is then dialled directly: a name that resolves to an allowed
address first and a forbidden one later (DNS rebinding) is never resolved twice.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Sequence
from typing import Any

import httpcore
import httpx

from monitor.errors import BlockedAddressError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def unwrap(address: IPAddress) -> IPAddress:
    """Return the IPv4 address an IPv6 address stands for (mapped, NAT64, 6to4), else itself."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if address.sixtofour is not None:
            return address.sixtofour
    return address


def is_public(address: IPAddress) -> bool:
    """Return True for a global unicast address (after unwrapping)."""
    plain = unwrap(address)
    return plain.is_global and not plain.is_multicast and not plain.is_reserved


def is_allowed(address: IPAddress, allow_networks: Sequence[IPNetwork] = ()) -> bool:
    """Return True when the monitor may connect to `address`."""
    for candidate in {address, unwrap(address)}:
        for network in allow_networks:
            if candidate.version == network.version and candidate in network:
                return True
    return is_public(address)


def literal_address(host: str) -> IPAddress | None:
    """Return the address a URL host denotes without DNS: an IP literal, including the
    legacy IPv4 spellings resolvers accept (`2130706433`, `0x7f.1`); None for a name."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def parse_networks(values: Iterable[str]) -> tuple[IPNetwork, ...]:
    """Return the networks in `values` (CIDR or single addresses); ValueError names a bad one."""
    return tuple(ipaddress.ip_network(value, strict=False) for value in values)


def checked_addresses(
    host: str, port: int, allow_networks: Sequence[IPNetwork] = ()
) -> list[IPAddress]:
    """Return the addresses `host` resolves to (one resolution); raise BlockedAddressError if
    any of them is not allowed, OSError if the name does not resolve."""
    answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in answers]
    forbidden = [str(a) for a in addresses if not is_allowed(a, allow_networks)]
    if forbidden or not addresses:
        raise BlockedAddressError(
            f"refused to connect to {host} ({', '.join(forbidden) or 'no address'}): "
            "not a public address; allow its network in [fetch] allow_networks if intended"
        )
    return addresses


def open_checked_socket(
    host: str, port: int, *, timeout: float, allow_networks: Sequence[IPNetwork] = ()
) -> socket.socket:
    """Return a TCP socket connected to the checked address of `host` (for clients other than
    httpx, such as the Jetstream WebSocket)."""
    address = checked_addresses(host, port, allow_networks)[0]
    return socket.create_connection((str(address), port), timeout=timeout)


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's socket backend with the address rule applied to every TCP connection."""

    def __init__(self, allow_networks: Sequence[IPNetwork] = ()) -> None:
        self.allow_networks = tuple(allow_networks)

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        """Resolve `host` once, refuse it if any answer is forbidden, dial the checked IP."""
        try:
            addresses = checked_addresses(host, port, self.allow_networks)
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        # Dial the checked address itself: resolving the name again could answer otherwise.
        pinned = str(addresses[0])
        return super().connect_tcp(pinned, port, timeout, local_address, socket_options)


def guarded_transport(allow_networks: Sequence[IPNetwork] = ()) -> httpx.HTTPTransport:
    """Return an httpx transport whose every connection obeys the address rule."""
    transport = httpx.HTTPTransport(trust_env=False)
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False),
        network_backend=GuardedBackend(allow_networks),
    )
    return transport
