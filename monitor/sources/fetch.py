"""The only module that sends HTTP requests to feeds.

Every exchange is bounded: connect and read timeouts, a total deadline (httpx has none), a cap
on the decoded body enforced while reading (httpx decompresses without bound), and our own
redirect loop with a hop limit. Conditional GET validators go out with each request; a 304 is
a `FetchResult` with `not_modified`, not an error.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from monitor.config import FetchConfig
from monitor.errors import (
    FetchError,
    FetchTimeoutError,
    HTTPStatusError,
    RateLimitedError,
    ResponseTooLargeError,
)
from monitor.schedule import parse_retry_after
from monitor.secrets import install_log_redaction
from monitor.sources.netguard import guarded_transport, parse_networks

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_DECODED_PIECE = 65_536


@dataclass(frozen=True, slots=True)
class FetchResult:
    """A completed exchange: the final URL, status, decoded body and validators."""

    url: str
    status_code: int
    body: bytes
    content_type: str | None
    etag: str | None
    last_modified: str | None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def not_modified(self) -> bool:
        return self.status_code == 304


def make_client(limits: FetchConfig) -> httpx.Client:
    """Return the HTTP client feeds are fetched with: no env proxies, no automatic redirects,
    and only public addresses (or the configured `allow_networks`) on every connection."""
    # httpx logs each request URL at INFO; an API key may ride in the query string.
    install_log_redaction()
    return httpx.Client(
        transport=guarded_transport(parse_networks(limits.allow_networks)),
        timeout=httpx.Timeout(
            connect=limits.connect_timeout_seconds,
            read=limits.read_timeout_seconds,
            write=limits.read_timeout_seconds,
            pool=limits.connect_timeout_seconds,
        ),
        follow_redirects=False,
        trust_env=False,
        headers={
            "User-Agent": limits.user_agent,
            # Only encodings we can decode with a bound on the output.
            "Accept-Encoding": "gzip, deflate",
        },
    )


def _decoder(encoding: str, url: str) -> Callable[[bytes], list[bytes]] | None:
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise FetchError(f"unsupported Content-Encoding {encoding!r} from {url}")
    decompressor = zlib.decompressobj(47)  # 47: gzip or zlib header, detected

    def decode(chunk: bytes) -> list[bytes]:
        pieces = []
        buffer = chunk
        while buffer:
            pieces.append(decompressor.decompress(buffer, _DECODED_PIECE))
            buffer = decompressor.unconsumed_tail
        return pieces

    return decode


def _read_bounded(response: httpx.Response, *, cap: int, deadline: float, url: str) -> bytes:
    declared = response.headers.get("content-length", "")
    encoding = response.headers.get("content-encoding", "")
    if declared.isdigit() and int(declared) > cap and not encoding:
        raise ResponseTooLargeError(
            f"response of {declared} bytes exceeds the {cap}-byte cap: {url}"
        )
    decode = _decoder(encoding, url)
    parts: list[bytes] = []
    size = 0
    try:
        for raw in response.iter_raw():  # as the network delivers: a chunk size would buffer
            if time.monotonic() > deadline:
                raise FetchTimeoutError(f"total deadline exceeded while reading {url}")
            for piece in decode(raw) if decode else [raw]:
                size += len(piece)
                if size > cap:
                    raise ResponseTooLargeError(
                        f"response exceeds the {cap}-byte cap after decoding: {url}"
                    )
                parts.append(piece)
    except zlib.error as exc:
        raise FetchError(f"corrupt {encoding} body from {url}: {exc}") from exc
    return b"".join(parts)


def _status_hint(status: int, url: str) -> str:
    # Networks that closed anonymous access answer 401/403: say what is needed.
    if status == 401:
        return " (authentication required: set the feed's credentials)"
    if status == 403:
        return " (forbidden: credentials needed or access restricted)"
    return ""


_host_slots: dict[str, threading.BoundedSemaphore] = defaultdict(
    lambda: threading.BoundedSemaphore(1)
)
_host_slots_lock = threading.Lock()


@contextmanager
def host_slot(host: str, limit: int) -> Iterator[None]:
    """Hold one of the `limit` request slots of `host` in this process while the block runs."""
    with _host_slots_lock:
        semaphore = _host_slots.get(host)
        if semaphore is None or getattr(semaphore, "_initial_value", limit) != limit:
            semaphore = _host_slots[host] = threading.BoundedSemaphore(limit)
    with semaphore:
        yield


def fetch(
    client: httpx.Client,
    request: httpx.Request,
    *,
    limits: FetchConfig,
    etag: str | None = None,
    last_modified: str | None = None,
    now: datetime | None = None,
) -> FetchResult:
    """Send `request` (following redirects ourselves) and return the bounded result; raise a
    FetchError subclass on timeouts, oversize bodies, redirect loops and unusable statuses."""
    deadline = time.monotonic() + limits.deadline_seconds
    if etag:
        request.headers["If-None-Match"] = etag
    if last_modified:
        request.headers["If-Modified-Since"] = last_modified
    with host_slot(request.url.host, limits.max_in_flight_per_host):
        return _fetch(client, request, limits=limits, deadline=deadline, now=now)


def _fetch(
    client: httpx.Client,
    request: httpx.Request,
    *,
    limits: FetchConfig,
    deadline: float,
    now: datetime | None,
) -> FetchResult:
    url = str(request.url)
    for _hop in range(limits.max_redirects + 1):
        try:
            response = client.send(request, stream=True)
        except httpx.TimeoutException as exc:
            raise FetchTimeoutError(f"timed out ({type(exc).__name__}) fetching {url}") from exc
        except httpx.HTTPError as exc:
            raise FetchError(f"{type(exc).__name__} fetching {url}: {exc}") from exc
        try:
            if response.status_code in REDIRECT_STATUSES and "location" in response.headers:
                target = response.url.join(response.headers["location"])
                if target.scheme not in ("http", "https"):
                    raise FetchError(f"redirect to a non-http URL {target} from {url}")
                request = client.build_request("GET", target, headers=request.headers)
                request.headers["Host"] = target.netloc.decode("ascii")
                url = str(target)
                continue
            return _complete(response, limits=limits, deadline=deadline, url=url, now=now)
        except httpx.TimeoutException as exc:
            raise FetchTimeoutError(f"timed out ({type(exc).__name__}) reading {url}") from exc
        except httpx.HTTPError as exc:
            raise FetchError(f"{type(exc).__name__} reading {url}: {exc}") from exc
        finally:
            response.close()
    raise FetchError(f"more than {limits.max_redirects} redirects starting at {request.url}")


def _complete(
    response: httpx.Response,
    *,
    limits: FetchConfig,
    deadline: float,
    url: str,
    now: datetime | None,
) -> FetchResult:
    status = response.status_code
    if status == 304:
        body = b""
    elif status == 429 or (status == 503 and "retry-after" in response.headers):
        retry_after = parse_retry_after(
            response.headers.get("retry-after"), now=now or datetime.now(UTC)
        )
        raise RateLimitedError(
            f"HTTP {status} (rate limited) from {url}",
            status_code=status,
            retry_after_seconds=retry_after,
        )
    elif not 200 <= status < 300:
        raise HTTPStatusError(
            f"HTTP {status}{_status_hint(status, url)} from {url}", status_code=status
        )
    else:
        body = _read_bounded(response, cap=limits.max_body_bytes, deadline=deadline, url=url)
    return FetchResult(
        url=url,
        status_code=status,
        body=body,
        content_type=response.headers.get("content-type"),
        etag=response.headers.get("etag"),
        last_modified=response.headers.get("last-modified"),
        headers={key.lower(): value for key, value in response.headers.items()},
    )
