"""Hostile HTTP responses for fetch and fault tests: each handler writes its own response on a
`BaseHTTPRequestHandler` of the feed server (conftest.Route.handler)."""

from __future__ import annotations

import gzip
import time
from functools import cache
from http.server import BaseHTTPRequestHandler


@cache
def _bomb(decoded_mib: int) -> bytes:
    return gzip.compress(b"\0" * (decoded_mib * 1024 * 1024), compresslevel=9)


def gzip_bomb(handler: BaseHTTPRequestHandler) -> None:
    """64 MiB of zeros, about 64 KiB on the wire."""
    body = _bomb(64)
    handler.send_response(200)
    handler.send_header("Content-Type", "application/rss+xml")
    handler.send_header("Content-Encoding", "gzip")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def endless(handler: BaseHTTPRequestHandler) -> None:
    """A body with no length that goes on until the client hangs up."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/rss+xml")
    handler.end_headers()  # no length: the body ends when the connection closes
    try:
        for _ in range(100_000):
            handler.wfile.write(b"<item>" * 10_000)
    except (BrokenPipeError, ConnectionResetError):
        pass


def drip(handler: BaseHTTPRequestHandler) -> None:
    """One byte every half second: never a read timeout, only a total deadline stops it."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/rss+xml")
    handler.send_header("Content-Length", "1000")
    handler.end_headers()
    try:
        for _ in range(20):
            handler.wfile.write(b"<")
            handler.wfile.flush()
            time.sleep(0.5)  # each byte arrives well within the read timeout
    except (BrokenPipeError, ConnectionResetError):
        pass
