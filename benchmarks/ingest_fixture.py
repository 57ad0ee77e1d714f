"""The ingest benchmark's fixture: Mastodon hashtag timelines of realistic fan posts, served on
127.0.0.1, and an endless response for the memory case.

Layout: `feeds` hashtag timelines (instances x hashtags: `/m01/api/v1/timelines/tag/kpop`...)
share `posts` statuses; each timeline is paged newest first, `page_size` statuses a page,
with Mastodon's `Link: <...max_id=...>; rel="next"` to the older page. The texts come from
the offline demo's template bank (monitor/simulator_posts.py): each timeline takes the
baseline mix of one of the simulator's communities (English fan forum, Korean community,
global fans, news), so about three quarters of the posts mention a topic and the rest is fan
chatter that must not match. Posts are dated over the `span` before `anchor`.

Everything is a pure function of (seed, layout, anchor): the same arguments give the same
bytes. `serve()` renders every page once, before it listens, so serving costs next to
nothing while the benchmark runs.

`/huge/...` streams a JSON array of statuses of `huge_bytes` (2 GiB by default) with chunked
transfer encoding, built on the fly from one 1 MiB block: it never sits in memory on either
side. `/stats` says how many bytes of it were sent before the client hung up.

Run as a script it serves until killed and prints its base URL on the first line:

    .venv/bin/python benchmarks/ingest_fixture.py --posts 100000 --anchor 2026-11-26T10:00:00Z
"""

from __future__ import annotations

import argparse
import html
import json
import random
import sys
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from monitor.simulate import _pick_template, fill_template  # noqa: E402
from monitor.simulator_posts import BASELINE_MIX, BASELINE_TEMPLATES, HANDLE_PARTS  # noqa: E402

# Hashtags that are no topic term nor context term: the tag itself never makes a post match.
HASHTAGS = ("kpop", "fandom", "kmusic", "nowplaying", "music")
COMMUNITIES = ("fan-forum", "kr-community", "global-fans", "news")
DECLARED_LANGUAGE_SHARE = 0.8  # the rest leave `language` null: the monitor detects it
FIRST_ID = 113_000_000_000_000_000
HUGE_PATH = "/huge/api/v1/timelines/tag/kpop"
_BLOCK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Layout:
    """How the posts are spread: `instances` x len(HASHTAGS) timelines, paged."""

    posts: int = 100_000
    instances: int = 10
    page_size: int = 40  # Mastodon's maximum `limit`
    seed: int = 2024
    span: timedelta = timedelta(hours=24)

    @property
    def feeds(self) -> int:
        return self.instances * len(HASHTAGS)

    def feed_posts(self, index: int) -> int:
        """Return how many posts timeline `index` holds (the remainder goes to the first)."""
        base, extra = divmod(self.posts, self.feeds)
        return base + (index < extra)

    def path(self, index: int) -> str:
        instance, tag = divmod(index, len(HASHTAGS))
        return f"/m{instance + 1:02d}/api/v1/timelines/tag/{HASHTAGS[tag]}"

    def instance(self, index: int) -> str:
        return f"/m{index // len(HASHTAGS) + 1:02d}"

    def hashtag(self, index: int) -> str:
        return HASHTAGS[index % len(HASHTAGS)]

    def community(self, index: int) -> str:
        return COMMUNITIES[index % len(COMMUNITIES)]


@dataclass(frozen=True, slots=True)
class FixturePost:
    """One generated status: what it says and which topics its template mentions."""

    status_id: str
    text: str
    lang: str
    declared: bool
    topics: frozenset[str]
    created_at: datetime
    handle: str


def _handle(community: str, rng: random.Random) -> str:
    if community == "news":
        return f"newsdesk{rng.randrange(1, 10)}"
    first, second = (words.split() for words in HANDLE_PARTS[community])
    return f"{rng.choice(first)}_{rng.choice(second)}_{rng.randrange(1, 100):02d}"


def feed_posts(layout: Layout, index: int, *, anchor: datetime) -> list[FixturePost]:
    """Return the posts of timeline `index`, newest first (as the API serves them)."""
    community = layout.community(index)
    rng = random.Random(f"{layout.seed}:{index}")
    count = layout.feed_posts(index)
    templates, mix = BASELINE_TEMPLATES[community], BASELINE_MIX[community]
    step = layout.span / max(count, 1)
    posts = []
    for k in range(count):
        template = _pick_template(rng, templates, mix)
        posts.append(
            FixturePost(
                # Snowflake-like: larger is newer; unique over all timelines.
                status_id=str(FIRST_ID + index * 1_000_000 + (count - k)),
                text=fill_template(template, rng),
                lang=template.lang,
                declared=rng.random() < DECLARED_LANGUAGE_SHARE,
                topics=template.topics,
                created_at=anchor - step * k - timedelta(seconds=rng.randrange(60)),
                handle=_handle(community, rng),
            )
        )
    return posts


def post_text(post: FixturePost, hashtag: str) -> str:
    """Return the text the monitor reads from the status: the post and its hashtag."""
    return f"{post.text} #{hashtag}"


def status_json(post: FixturePost, *, host: str, hashtag: str) -> dict[str, Any]:
    """Return the Mastodon status entity of `post` (the fields the monitor reads, and the
    usual others, so the page weighs what a real one does)."""
    body = "<br>".join(html.escape(line) for line in post.text.split("\n"))
    tag_link = (
        f'<a href="https://{host}/tags/{hashtag}" class="mention hashtag" rel="tag">'
        f"#<span>{hashtag}</span></a>"
    )
    created = post.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return {
        "id": post.status_id,
        "created_at": created,
        "in_reply_to_id": None,
        "in_reply_to_account_id": None,
        "sensitive": False,
        "spoiler_text": "",
        "visibility": "public",
        "language": post.lang if post.declared else None,
        "uri": f"https://{host}/users/{post.handle}/statuses/{post.status_id}",
        "url": f"https://{host}/@{post.handle}/{post.status_id}",
        "replies_count": int(post.status_id) % 7,
        "reblogs_count": int(post.status_id) % 11,
        "favourites_count": int(post.status_id) % 53,
        "edited_at": None,
        "content": f"<p>{body} {tag_link}</p>",
        "reblog": None,
        "account": {
            "id": str(zlib.crc32(post.handle.encode())),
            "username": post.handle,
            "acct": f"{post.handle}@{host}",
            "display_name": post.handle.replace("_", " "),
            "url": f"https://{host}/@{post.handle}",
        },
        "media_attachments": [],
        "mentions": [],
        "tags": [{"name": hashtag, "url": f"https://{host}/tags/{hashtag}"}],
        "emojis": [],
        "card": None,
        "poll": None,
    }


def render_pages(
    layout: Layout, index: int, *, anchor: datetime, base_url: str
) -> dict[str | None, tuple[bytes, str | None]]:
    """Return {max_id (None: first page): (body, Link header)} of timeline `index`."""
    posts = feed_posts(layout, index, anchor=anchor)
    host = f"{layout.instance(index).strip('/')}.example"
    tag = layout.hashtag(index)
    url = base_url + layout.path(index)
    pages: dict[str | None, tuple[bytes, str | None]] = {}
    key: str | None = None
    for start in range(0, len(posts), layout.page_size):
        chunk = posts[start : start + layout.page_size]
        body = json.dumps(
            [status_json(p, host=host, hashtag=tag) for p in chunk], ensure_ascii=False
        ).encode()
        older = start + layout.page_size < len(posts)
        links = [f'<{url}?limit={layout.page_size}&min_id={chunk[0].status_id}>; rel="prev"']
        if older:
            links.insert(
                0, f'<{url}?limit={layout.page_size}&max_id={chunk[-1].status_id}>; rel="next"'
            )
        pages[key] = (body, ", ".join(links))
        key = chunk[-1].status_id
    return pages


def huge_chunks(total: int) -> Iterator[bytes]:
    """Yield a JSON array of statuses `total` bytes long (about), 1 MiB at a time."""
    post = FixturePost(
        str(FIRST_ID),
        "filler " * 20,
        "en",
        True,
        frozenset(),
        datetime(2024, 1, 24, tzinfo=UTC),
        "x",
    )
    item = json.dumps(status_json(post, host="huge.example", hashtag="kpop")).encode() + b","
    block = item * (_BLOCK // len(item))
    yield b"["
    sent = 1
    while sent < total:
        piece = block[: total - sent]
        sent += len(piece)
        yield piece


@dataclass
class FixtureServer:
    server: ThreadingHTTPServer
    pages: dict[str, dict[str | None, tuple[bytes, str | None]]]
    huge_bytes: int
    huge_sent: int = 0

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"


def _handler(state: FixtureServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes: with Nagle on, each response waits ~40 ms
        # for the client's delayed ACK, which a real server (one write, or TCP_NODELAY) avoids.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: object) -> None:
            return

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            if parts.path == "/stats":
                self._send(200, json.dumps({"huge_sent": state.huge_sent}).encode())
                return
            if parts.path == HUGE_PATH:
                self._stream_huge()
                return
            pages = state.pages.get(parts.path)
            if pages is None:
                self._send(404, b'{"error": "Record not found"}')
                return
            if "min_id" in query:  # nothing newer than what the timeline holds
                self._send(200, b"[]")
                return
            page = pages.get(query.get("max_id"))
            if page is None:
                self._send(200, b"[]")
                return
            body, link = page
            self._send(200, body, {"Link": link} if link else None)

        def _stream_huge(self) -> None:
            state.huge_sent = 0
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                for chunk in huge_chunks(state.huge_bytes):
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    state.huge_sent += len(chunk)
                self.wfile.write(b"]\r\n0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

    return Handler


def serve(
    layout: Layout, *, anchor: datetime, huge_bytes: int = 2 * 1024**3, port: int = 0
) -> FixtureServer:
    """Render every page and serve them (and /huge, /stats) on 127.0.0.1 in a daemon thread."""
    server = ThreadingHTTPServer(("127.0.0.1", port), BaseHTTPRequestHandler)
    server.daemon_threads = True
    state = FixtureServer(server=server, pages={}, huge_bytes=huge_bytes)
    for index in range(layout.feeds):
        state.pages[layout.path(index)] = render_pages(
            layout, index, anchor=anchor, base_url=state.base_url
        )
    server.RequestHandlerClass = _handler(state)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--instances", type=int, default=10)
    parser.add_argument("--anchor", required=True, help="ISO time the newest posts are near")
    parser.add_argument("--huge-bytes", type=int, default=2 * 1024**3)
    args = parser.parse_args()
    anchor = datetime.fromisoformat(args.anchor.replace("Z", "+00:00"))
    state = serve(
        Layout(posts=args.posts, instances=args.instances),
        anchor=anchor,
        huge_bytes=args.huge_bytes,
    )
    print(state.base_url, flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
