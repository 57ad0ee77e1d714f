"""A real HTTP server on 127.0.0.1 for API fixtures: handlers see method, path, query,
headers and body, so a test can check the paging parameters and auth it receives."""

from __future__ import annotations

import contextlib
import gzip
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Response:
    status: int = 200
    body: Any = None  # bytes are sent as is; anything else as JSON
    headers: dict[str, str] = field(default_factory=dict)
    gzip: bool = False
    delay_seconds: float = 0.0


Handler = Callable[[Request], Response]


@dataclass
class ApiServer:
    server: ThreadingHTTPServer
    routes: dict[tuple[str, str], Handler] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # checks that failed inside handlers

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str = "") -> str:
        return self.base_url + path

    def route(self, method: str, path: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.routes[(method, path)] = handler
            return handler

        return register

    def hits(self, method: str, path: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and r.path == path]

    def check(self, condition: bool, message: str) -> None:
        """Record a failed expectation about a request (asserted by the test afterwards)."""
        if not condition:
            self.problems.append(message)


def _handler_class(state: ApiServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return

        def _serve(self, method: str) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            request = Request(
                method=method,
                path=parts.path,
                query={k: v[-1] for k, v in parse_qs(parts.query).items()},
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
            )
            state.requests.append(request)
            handler = state.routes.get((method, parts.path))
            response = handler(request) if handler else Response(404, b"not found")
            if response.delay_seconds:
                import time

                time.sleep(response.delay_seconds)
            payload = response.body
            if not isinstance(payload, bytes):
                payload = json.dumps(payload).encode()
            headers = {"Content-Type": "application/json; charset=utf-8", **response.headers}
            if response.gzip:
                payload = gzip.compress(payload)
                headers["Content-Encoding"] = "gzip"
            self.send_response(response.status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(payload)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

    return Handler


@contextlib.contextmanager
def running_api_server() -> Iterator[ApiServer]:
    """Yield an API server on 127.0.0.1 (any free port); stop it afterwards."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    state = ApiServer(server=server)
    server.RequestHandlerClass = _handler_class(state)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
