"""The page loop's stop rules, with httpx.MockTransport standing in for the network."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from monitor.config import FeedConfig, FetchConfig
from monitor.errors import HTTPStatusError
from monitor.paging import collect_pages
from monitor.sources import FeedState, source_for

NOW = datetime(2026, 8, 20, 10, 0, tzinfo=UTC)
FEED = FeedConfig.model_validate(
    {
        "name": "j",
        "kind": "json",
        "url": "https://api.example/items",
        "mapping": {
            "items": "items",
            "id": "id",
            "text": "text",
            "next": "next",
            "next_param": "page",
        },
    }
)


def respond(status: int, body: bytes, headers: dict[str, str]) -> httpx.Response:
    # A stream, not content: the fetcher reads raw chunks, as from a socket.
    return httpx.Response(status, stream=httpx.ByteStream(body), headers=headers)


def serve(pages: dict[str | None, dict], seen: list[str | None], **headers: str):
    def handler(request: httpx.Request) -> httpx.Response:
        page = request.url.params.get("page")
        seen.append(page)
        return respond(200, json.dumps(pages[page]).encode(), headers)

    return httpx.Client(transport=httpx.MockTransport(handler))


def collect(client: httpx.Client, *, max_pages: int = 10, stored=lambda ids: set(), **kw):
    return collect_pages(
        source_for("json"),
        FeedState(url=FEED.target, options=FEED),
        client=client,
        limits=FetchConfig(),
        max_pages=max_pages,
        max_posts=kw.get("max_posts", 1000),
        etag=None,
        last_modified=None,
        now=NOW,
        stored=stored,
        save_auth=lambda value: None,
    )


def endless(page: str | None) -> dict:
    number = int(page or 0)
    return {"items": [{"id": f"p{number}", "text": "t"}], "next": str(number + 1)}


@pytest.mark.parametrize("max_pages", [1, 3])
def test_stops_at_max_pages(max_pages: int) -> None:
    seen: list[str | None] = []
    pages = {None: endless(None), **{str(n): endless(str(n)) for n in range(1, 10)}}
    result = collect(serve(pages, seen), max_pages=max_pages)
    assert len(seen) == max_pages and result.pages == max_pages
    assert [p.external_id for p in result.posts] == [f"api.example:p{n}" for n in range(max_pages)]


def test_stops_at_a_repeated_token_a_stored_post_and_the_post_budget() -> None:
    seen: list[str | None] = []
    loop = {
        None: {"items": [{"id": "a", "text": "t"}], "next": "x"},
        "x": {"items": [{"id": "b", "text": "t"}], "next": "x"},
    }
    assert len(collect(serve(loop, seen)).posts) == 2 and seen == [None, "x"]
    seen.clear()
    pages = {None: endless(None), **{str(n): endless(str(n)) for n in range(1, 10)}}
    result = collect(serve(pages, seen), stored=lambda ids: {i for i in ids if i.endswith("p1")})
    assert seen == [None, "1"] and len(result.posts) == 2
    seen.clear()
    result = collect(serve(pages, seen), max_posts=3)
    assert seen == [None, "1", "2"]


def test_used_up_rate_limit_stops_and_reports_the_wait() -> None:
    seen: list[str | None] = []
    pages = {None: endless(None), "1": endless("1")}
    result = collect(
        serve(pages, seen, **{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "90"})
    )
    assert seen == [None] and result.wait_seconds == 90 and result.rate_limit.startswith("0")


def test_a_failing_later_page_fails_the_whole_poll() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("page"):
            return respond(502, b"bad gateway", {})
        return respond(200, json.dumps(endless(None)).encode(), {})

    with pytest.raises(HTTPStatusError):
        collect(httpx.Client(transport=httpx.MockTransport(handler)))
