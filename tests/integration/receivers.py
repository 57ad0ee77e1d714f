"""A webhook receiver on 127.0.0.1 for the notification tests."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1 that records each POST and can fail the first ones."""

    server: ThreadingHTTPServer
    fail_first: int = 0
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def posts(self, path: str) -> list[tuple[dict[str, str], Any]]:
        return [(h, json.loads(b)) for h, b in self.requests if h["x-path"] == path]


@pytest.fixture(name="receiver")
def receiver_fixture() -> Iterator[Receiver]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    state = Receiver(server=server)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            return

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()} | {"x-path": self.path}
            with lock:
                state.requests.append((headers, body))
                failing = state.fail_first > 0 and self.path == "/flaky"
                if failing:
                    state.fail_first -= 1
            self.send_response(500 if failing else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server.RequestHandlerClass = Handler
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
