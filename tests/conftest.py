"""Shared fixtures: real PostgreSQL and Redis on loopback, SQLite files, feed servers on 127.0.0.1.

Services are never mocked. A test that needs PostgreSQL or Redis fails (does not skip) when
they are not running: `.ci/run` starts them.
"""

from __future__ import annotations

import contextlib
import gzip
import ipaddress
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest
import redis

from monitor.demo import with_table_setting
from monitor.settings import Settings, load_settings

POSTGRES_ADMIN_URL = os.environ.get(
    "MONITOR_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("MONITOR_TEST_REDIS", "redis://127.0.0.1:6379")
REPO = Path(__file__).resolve().parent.parent
LOOPBACK_NETWORKS = '["127.0.0.0/8", "::1/128"]'


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _require_loopback(address: object) -> None:
    if isinstance(address, tuple):  # AF_INET/AF_INET6; an AF_UNIX address is a str
        ip = ipaddress.ip_address(str(address[0]).split("%")[0])
        ip = getattr(ip, "ipv4_mapped", None) or ip
        if not ip.is_loopback:
            raise AssertionError(f"a test tried to connect to non-loopback {address[0]}")


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test connects anywhere but the loopback: "refused" in the SSRF tests then means
    that no packet left, and no test can reach the internet by accident."""

    def connect(sock: socket.socket, address: object) -> None:
        _require_loopback(address)
        return _real_connect(sock, address)

    def connect_ex(sock: socket.socket, address: object) -> int:
        _require_loopback(address)
        return _real_connect_ex(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)


def _postgres_admin() -> psycopg.Connection:
    try:
        return psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL} ({exc}); start it as .ci/run "
            "does: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
        )


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test, dropped afterwards."""
    name = f"monitor_test_{uuid.uuid4().hex[:12]}"
    with _postgres_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    yield f"{base}/{name}"
    with _postgres_admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'monitor.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on the embedded SQLite file and on a real PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'monitor.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A Redis database number of its own on the loopback server, flushed before and after.

    The number is claimed with a key in database 0, so that test runs in parallel processes
    (pytest-xdist, or two checkouts) never share a queue."""
    admin = redis.Redis.from_url(f"{REDIS_URL}/0", socket_timeout=5)
    token = uuid.uuid4().hex
    try:
        number = next(
            (n for n in range(1, 16) if admin.set(f"monitor-test:db{n}", token, nx=True, ex=900)),
            None,
        )
    except redis.ConnectionError as exc:
        pytest.fail(
            f"Redis is not reachable at {REDIS_URL} ({exc}); start it as .ci/run does: "
            "redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 ..."
        )
    assert number is not None, "every Redis database 1-15 is claimed by other test runs"
    url = f"{REDIS_URL}/{number}"
    client = redis.Redis.from_url(url, socket_timeout=5)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()
    if admin.get(f"monitor-test:db{number}") == token.encode():
        admin.delete(f"monitor-test:db{number}")
    admin.close()


@dataclass
class Route:
    """What the feed server answers on one path; tests may change it between polls."""

    body: bytes = b""
    status: int = 200
    content_type: str = "application/rss+xml; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    gzip: bool = False
    delay_seconds: float = 0.0
    handler: Callable[[BaseHTTPRequestHandler], None] | None = None


@dataclass
class FeedServer:
    """A real HTTP server on 127.0.0.1 serving feed fixtures; records what it received."""

    server: ThreadingHTTPServer
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def hits(self, path: str) -> int:
        return sum(1 for requested, _ in self.requests if requested == path)


def _handler_for(state: FeedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # quiet
            return

        def do_GET(self) -> None:
            state.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            route = state.routes.get(self.path.split("?")[0])
            if route is None:
                self._send(404, b"not found", "text/plain", {})
                return
            if route.handler is not None:
                route.handler(self)
                return
            if route.delay_seconds:
                import time

                time.sleep(route.delay_seconds)
            headers = dict(route.headers)
            if route.etag:
                headers["ETag"] = route.etag
                if self.headers.get("If-None-Match") == route.etag:
                    self._send(304, b"", None, headers)
                    return
            body = route.body
            if route.gzip:
                body = gzip.compress(body)
                headers["Content-Encoding"] = "gzip"
            self._send(route.status, body, route.content_type, headers)

        def _send(
            self, status: int, body: bytes, content_type: str | None, headers: dict[str, str]
        ) -> None:
            self.send_response(status)
            if content_type:
                self.send_header("Content-Type", content_type)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            # The client may give up on purpose (size cap, timeout).
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(body)

    return Handler


def _serve(host: str) -> Iterator[FeedServer]:
    server = ThreadingHTTPServer((host, 0), BaseHTTPRequestHandler)
    state = FeedServer(server=server)
    server.RequestHandlerClass = _handler_for(state)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    """A threaded HTTP server on 127.0.0.1 (any free port) with mutable routes."""
    yield from _serve("127.0.0.1")


@pytest.fixture
def other_host() -> Iterator[FeedServer]:
    """The same kind of server on 127.0.0.2: loopback, but another host, which a config
    allowing only 127.0.0.1/32 must refuse (redirects to it are the SSRF tests' case)."""
    yield from _serve("127.0.0.2")


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss(items: list[dict[str, str]], *, title: str = "fixture feed", lang: str = "en") -> bytes:
    """Return an RSS 2.0 document with the given items (keys: guid, title, description,
    pubDate, link)."""
    from xml.sax.saxutils import escape

    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<rss version="2.0"><channel>',
        f"<title>{escape(title)}</title><link>http://127.0.0.1/</link>",
        f"<description>fixture</description><language>{lang}</language>",
    ]
    for item in items:
        parts.append("<item>")
        for key in ("guid", "title", "description", "pubDate", "link", "author"):
            if key in item:
                attrs = ' isPermaLink="false"' if key == "guid" else ""
                parts.append(f"<{key}{attrs}>{escape(item[key])}</{key}>")
        parts.append("</item>")
    parts.append("</channel></rss>")
    return "\n".join(parts).encode()


def rfc822(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")


def write_config(path: Path, *, feeds: list[dict[str, object]], extra: str = "") -> Path:
    """Write a config with the shipped topics and the given feeds; return its path."""
    base = (REPO / "config" / "monitor.toml").read_text(encoding="utf-8")
    base = base[: base.index("[[feeds]]")]
    # The feed servers of the tests listen on the loopback, which feeds may not use unless
    # the config allows it.
    base = with_table_setting(base, "fetch", f"allow_networks = {LOOPBACK_NETWORKS}")
    lines = [base, extra]
    for feed in feeds:
        lines.append("[[feeds]]")
        for key, value in feed.items():
            if isinstance(value, str):
                lines.append(f'{key} = "{value}"')
            elif isinstance(value, list):
                lines.append(
                    f"{key} = [{', '.join(repr(v).replace(chr(39), chr(34)) for v in value)}]"
                )
            else:
                lines.append(f"{key} = {value}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def make_settings(
    tmp_path: Path, config: Path, database_url: str, broker_url: str = ""
) -> Settings:
    return load_settings(
        {
            "MONITOR_CONFIG": str(config),
            "MONITOR_DATA_DIR": str(tmp_path / "var"),
            "MONITOR_DATABASE_URL": database_url,
            "MONITOR_BROKER_URL": broker_url,
        }
    )
