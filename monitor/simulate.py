"""The offline demo's feed simulator: fan posts served as RSS 2.0 over HTTP on 127.0.0.1.

The story: fans post about V (Kim Taehyung) and IU's "Love wins all" at a quiet rate with a
daily rhythm, until the behind-the-scenes video "drops" and V is heard singing Anthony
Lazaro's "Love Letter": a burst of posts that the monitor should flag as a spike.

Time model. No post is ever dated after the real clock (the monitor clamps future-dated
posts), so time is compressed only for the burst:

- the history, `history_hours` of baseline posts, already exists when the simulator starts;
- baseline posts keep appearing in real time while it runs;
- the burst starts `burst_delay_seconds` after the start and lasts `burst_duration_seconds`,
  at `burst_posts_per_minute` summed over all feeds.

Determinism. Baseline posts are a pure function of (seed, feed, 5-minute slot start), so a
restarted simulator serves the same posts under the same guids; burst posts are a pure
function of (seed, feed, burst start, index) and their guids carry the burst start, so every
run's burst is new. The pure core is `baseline_posts`, `burst_posts` and `render_rss`;
`Simulator` serves them over HTTP (stdlib `ThreadingHTTPServer`) in a daemon thread.

Example::

    with Simulator(seed=2024, burst_delay_seconds=15) as sim:
        print(sim.feed_url("fan-forum"))   # http://127.0.0.1:45123/feeds/fan-forum.xml
"""

from __future__ import annotations

import hashlib
import html
import math
import random
import re
import string
import sys
import threading
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from functools import lru_cache, partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape, quoteattr

from monitor.simulator_posts import (
    BASELINE_MIX,
    BASELINE_TEMPLATES,
    BURST_MIX,
    BURST_TEMPLATES,
    FEED_LANGUAGES,
    FEED_TITLES,
    FILLERS,
    HANDLE_PARTS,
    NEWS_AUTHORS,
    PostTemplate,
)

FEEDS: tuple[str, ...] = ("fan-forum", "news", "kr-community", "global-fans")

SLOT_SECONDS = 300
# Mean posts per feed per 5-minute slot over a day (matching or not). The busiest feed must
# fit 36 hours (432 slots) plus its burst share under the default cap of 500 items, even when
# the extra 12 hours are the busy half of the day (x1.1): fan-forum ~380 + 27, at most ~450.
BASELINE_POSTS_PER_SLOT: dict[str, float] = {
    "fan-forum": 0.8,
    "news": 0.25,
    "kr-community": 0.75,
    "global-fans": 0.75,
}
# Each feed's share of the burst's posts_per_minute (summed over FEEDS).
BURST_SHARE: dict[str, float] = {
    "fan-forum": 0.45,
    "news": 0.05,
    "kr-community": 0.25,
    "global-fans": 0.25,
}
PEAK_HOUR_UTC = 12.0  # 21:00 in Korea
DAILY_SWING = 0.5  # rate = mean * (1 + swing * cos): the trough is a third of the peak

TITLE_MAX_CHARS = 80
GUID_PREFIX = "tag:simulator.local,2024"
DC_NAMESPACE = "http://purl.org/dc/elements/1.1/"

_FEED_PATH = re.compile(r"^/feeds/([a-z0-9-]+)\.xml$")
_POST_PATH = re.compile(r"^/posts/([a-z0-9-]+)/([A-Za-z0-9-]+)$")
_TABLE_HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.\"' -]+?)\s*\]\]?\s*(?:#.*)?$")


@dataclass(frozen=True)
class SimulatedPost:
    """One simulated post; `link` is a path that `render_rss` joins to the server's base URL."""

    feed: str
    guid: str
    title: str
    text: str
    author: str
    lang: str
    published_at: datetime
    link: str


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _check_feed(feed: str) -> None:
    if feed not in FEEDS:
        raise ValueError(f"unknown feed {feed!r}; known: {', '.join(FEEDS)}")


def _check_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {moment!r}")


def daily_factor(moment: datetime) -> float:
    """Return the daily-rhythm multiplier at `moment`: 1.5 at 12:00 UTC, 0.5 at 00:00 UTC."""
    moment = moment.astimezone(UTC)
    hour = moment.hour + moment.minute / 60 + moment.second / 3600
    return 1 + DAILY_SWING * math.cos(2 * math.pi * (hour - PEAK_HOUR_UTC) / 24)


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method: exact and fast for the small means used here.
    limit = math.exp(-mean)
    count, product = 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def fill_template(template: PostTemplate, rng: random.Random) -> str:
    """Return the template's text with each `{filler}` replaced by a choice made with `rng`."""
    names = sorted({name for _, name, _, _ in string.Formatter().parse(template.text) if name})
    text = template.text.format(**{name: rng.choice(FILLERS[name]) for name in names})
    # An empty filler (no emoji) must not leave doubled or trailing spaces.
    return "\n".join(re.sub(r" {2,}", " ", line).strip() for line in text.splitlines())


def _title(text: str) -> str:
    # A prefix of the text (no ellipsis), so readers that skip a title repeating the body do.
    first_line = text.split("\n", 1)[0]
    if len(first_line) <= TITLE_MAX_CHARS:
        return first_line
    cut = first_line.rfind(" ", 0, TITLE_MAX_CHARS)
    return first_line[: cut if cut > 0 else TITLE_MAX_CHARS]


def _author(feed: str, rng: random.Random) -> str:
    if feed == "news":
        return rng.choice(NEWS_AUTHORS)
    first, second = (words.split() for words in HANDLE_PARTS[feed])
    handle = f"{rng.choice(first)}_{rng.choice(second)}"
    return f"{handle}_{rng.randrange(1, 100):02d}" if rng.random() < 0.7 else handle


def _pick_template(
    rng: random.Random,
    templates: Sequence[PostTemplate],
    mix: dict[frozenset[str], float],
) -> PostTemplate:
    topic_sets = list(mix)
    chosen = rng.choices(topic_sets, weights=[mix[key] for key in topic_sets])[0]
    return rng.choice([template for template in templates if template.topics == chosen])


def _make_post(
    feed: str, post_id: str, template: PostTemplate, rng: random.Random, published_at: datetime
) -> SimulatedPost:
    text = fill_template(template, rng)
    return SimulatedPost(
        feed=feed,
        guid=f"{GUID_PREFIX}:{feed}:{post_id}",
        title=_title(text),
        text=text,
        author=_author(feed, rng),
        lang=template.lang,
        published_at=published_at,
        link=f"/posts/{feed}/{post_id}",
    )


@lru_cache(maxsize=8192)
def _slot_posts(feed: str, slot_epoch_seconds: int, seed: int) -> tuple[SimulatedPost, ...]:
    rng = random.Random(f"{seed}:{feed}:{slot_epoch_seconds}")
    slot_start = datetime.fromtimestamp(slot_epoch_seconds, UTC)
    middle = slot_start + timedelta(seconds=SLOT_SECONDS / 2)
    count = _poisson(rng, BASELINE_POSTS_PER_SLOT[feed] * daily_factor(middle))
    offsets_seconds = sorted(rng.randrange(SLOT_SECONDS) for _ in range(count))
    templates, mix = BASELINE_TEMPLATES[feed], BASELINE_MIX[feed]
    return tuple(
        _make_post(
            feed,
            f"{slot_epoch_seconds}-{index}",
            _pick_template(rng, templates, mix),
            rng,
            slot_start + timedelta(seconds=offset),
        )
        for index, offset in enumerate(offsets_seconds)
    )


def _slot_of(moment: datetime) -> int:
    return math.floor(moment.timestamp() / SLOT_SECONDS) * SLOT_SECONDS


def baseline_posts(feed: str, start: datetime, end: datetime, *, seed: int) -> list[SimulatedPost]:
    """Return the baseline posts of `feed` published in [start, end), oldest first."""
    _check_feed(feed)
    _check_aware(start, "start")
    _check_aware(end, "end")
    posts: list[SimulatedPost] = []
    slot = _slot_of(start)
    end_epoch = end.timestamp()
    while slot < end_epoch:
        posts.extend(p for p in _slot_posts(feed, slot, seed) if start <= p.published_at < end)
        slot += SLOT_SECONDS
    return posts


def burst_size(feed: str, *, posts_per_minute: float, duration_seconds: float) -> int:
    """Return how many burst posts `feed` serves; `posts_per_minute` is summed over FEEDS."""
    _check_feed(feed)
    return round(posts_per_minute * duration_seconds / 60 * BURST_SHARE[feed])


@lru_cache(maxsize=64)
def _all_burst_posts(
    feed: str, start_epoch_seconds: int, seed: int, posts_per_minute: float, duration: float
) -> tuple[SimulatedPost, ...]:
    count = burst_size(feed, posts_per_minute=posts_per_minute, duration_seconds=duration)
    start = datetime.fromtimestamp(start_epoch_seconds, UTC)
    templates, mix = BURST_TEMPLATES[feed], BURST_MIX[feed]
    posts = []
    for index in range(count):
        rng = random.Random(f"{seed}:{feed}:burst:{start_epoch_seconds}:{index}")
        # One post per equal share of the duration, at a random point within it.
        offset_seconds = int(duration * (index + rng.random()) / count)
        post_id = f"burst-{start_epoch_seconds}-{index}"
        template = _pick_template(rng, templates, mix)
        published = start + timedelta(seconds=offset_seconds)
        posts.append(_make_post(feed, post_id, template, rng, published))
    return tuple(posts)


def burst_posts(
    feed: str,
    burst_start: datetime,
    until: datetime,
    *,
    seed: int,
    posts_per_minute: float,
    duration_seconds: float,
) -> list[SimulatedPost]:
    """Return `feed`'s burst posts published at or before `until`, oldest first.

    `posts_per_minute` is the burst's total rate over all FEEDS; this feed gets its
    BURST_SHARE of it. Posts fall in [burst_start, burst_start + duration_seconds), with
    `burst_start` truncated to whole seconds.
    """
    _check_feed(feed)
    _check_aware(burst_start, "burst_start")
    _check_aware(until, "until")
    if posts_per_minute < 0 or duration_seconds < 0:
        raise ValueError("posts_per_minute and duration_seconds must not be negative")
    start_epoch = math.floor(burst_start.timestamp())
    every = _all_burst_posts(
        feed, start_epoch, seed, float(posts_per_minute), float(duration_seconds)
    )
    return [post for post in every if post.published_at <= until]


def _rfc822(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def _description_html(text: str) -> str:
    return "".join(f"<p>{html.escape(line, quote=False)}</p>" for line in text.split("\n"))


def render_rss(feed: str, posts: Sequence[SimulatedPost], *, base_url: str) -> bytes:
    """Return `posts` as an RSS 2.0 document (UTF-8), items in the given order."""
    _check_feed(feed)
    base_url = base_url.rstrip("/")
    channel = [
        f"<title>{escape(FEED_TITLES[feed])}</title>",
        f"<link>{escape(base_url)}/</link>",
        f"<description>{escape(f'Simulated {feed} posts for the offline demo')}</description>",
        "<generator>monitor.simulate</generator>",
    ]
    language = FEED_LANGUAGES[feed]
    if language:
        channel.append(f"<language>{language}</language>")
    if posts:
        newest = max(post.published_at for post in posts)
        channel.append(f"<lastBuildDate>{_rfc822(newest)}</lastBuildDate>")
    for post in posts:
        channel.append(
            "<item>"
            f"<title>{escape(post.title)}</title>"
            f"<link>{escape(base_url + post.link)}</link>"
            f'<guid isPermaLink="false">{escape(post.guid)}</guid>'
            f"<description>{escape(_description_html(post.text))}</description>"
            f"<dc:creator>{escape(post.author)}</dc:creator>"
            f"<pubDate>{_rfc822(post.published_at)}</pubDate>"
            f"<dc:language>{escape(post.lang)}</dc:language>"
            "</item>"
        )
    body = "\n".join(channel)
    document = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<rss version="2.0" xmlns:dc={quoteattr(DC_NAMESPACE)}>\n'
        f"<channel>\n{body}\n</channel>\n</rss>\n"
    )
    return document.encode("utf-8")


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _etag_matches(etag: str, if_none_match: str | None) -> bool:
    if not if_none_match:
        return False
    candidates = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in candidates or etag in candidates


class _RequestHandler(BaseHTTPRequestHandler):
    server_version = "fan-monitor-simulator/0.1"

    def __init__(self, *args: Any, simulator: Simulator, **kwargs: Any) -> None:
        self.simulator = simulator
        super().__init__(*args, **kwargs)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Log nothing per request (errors are still logged)."""

    def do_GET(self) -> None:
        self._send(head=False)

    def do_HEAD(self) -> None:
        self._send(head=True)

    def _send(self, *, head: bool) -> None:
        status, headers, body = self.simulator.respond(
            self.path, if_none_match=self.headers.get("If-None-Match")
        )
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and not head:
            self.wfile.write(body)


class Simulator:
    """Serves FEEDS as RSS 2.0 at `/feeds/<name>.xml` on `host`:`port` (0 = any free port).

    `started_at` and `burst_start` are set by `start()`. A feed lists the posts published at
    or before `clock()`, newest first, at most `max_items_per_feed`: the baseline from
    `history_hours` before the start onwards, plus the burst so far.
    """

    started_at: datetime
    burst_start: datetime

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 2024,
        history_hours: float = 36,
        burst_delay_seconds: float = 15,
        burst_duration_seconds: float = 90,
        burst_posts_per_minute: float = 40,
        max_items_per_feed: int = 500,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        if history_hours < 0 or burst_delay_seconds < 0 or burst_duration_seconds < 0:
            raise ValueError("history_hours and burst_*_seconds must not be negative")
        if burst_posts_per_minute < 0:
            raise ValueError("burst_posts_per_minute must not be negative")
        if max_items_per_feed < 1:
            raise ValueError("max_items_per_feed must be at least 1")
        self.host = host
        self.port = port
        self.seed = seed
        self.history_hours = history_hours
        self.burst_delay_seconds = burst_delay_seconds
        self.burst_duration_seconds = burst_duration_seconds
        self.burst_posts_per_minute = burst_posts_per_minute
        self.max_items_per_feed = max_items_per_feed
        self._clock = clock
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Simulator:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        """Fix the start time and the burst start, bind the port and serve in a daemon thread."""
        if self._server is not None:
            raise RuntimeError("the simulator is already running")
        now = self._clock()
        _check_aware(now, "clock()")
        self.started_at = now.astimezone(UTC).replace(microsecond=0)
        burst_start = self.started_at + timedelta(seconds=self.burst_delay_seconds)
        self.burst_start = burst_start.replace(microsecond=0)
        handler = partial(_RequestHandler, simulator=self)
        self._server = ThreadingHTTPServer((self.host, self.port), handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},  # how long stop() may wait
            name="feed-simulator",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and release the port; does nothing if not running."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    @property
    def base_url(self) -> str:
        """Return the server's root URL, e.g. "http://127.0.0.1:45123"."""
        if self._server is None:
            raise RuntimeError("the simulator is not running: call start() first")
        port = self._server.server_address[1]
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port}"

    def feed_url(self, feed: str) -> str:
        """Return the URL at which `feed` is served."""
        _check_feed(feed)
        return f"{self.base_url}/feeds/{feed}.xml"

    def posts(self, feed: str, now: datetime) -> list[SimulatedPost]:
        """Return what `feed` serves at `now`: newest first, at most max_items_per_feed."""
        _check_feed(feed)
        _check_aware(now, "now")
        if not hasattr(self, "started_at"):
            raise RuntimeError("the simulator has not started: call start() first")
        window_start = self.started_at - timedelta(hours=self.history_hours)
        burst = burst_posts(
            feed,
            self.burst_start,
            now,
            seed=self.seed,
            posts_per_minute=self.burst_posts_per_minute,
            duration_seconds=self.burst_duration_seconds,
        )
        # Walk back slot by slot; the newest `cap` baseline posts are all the merge can use.
        baseline: list[SimulatedPost] = []
        slot, first_slot = _slot_of(now), _slot_of(window_start)
        while slot >= first_slot and len(baseline) < self.max_items_per_feed:
            baseline.extend(
                post
                for post in reversed(_slot_posts(feed, slot, self.seed))
                if window_start <= post.published_at <= now
            )
            slot -= SLOT_SECONDS
        merged = sorted(
            [*burst, *baseline], key=lambda post: (post.published_at, post.guid), reverse=True
        )
        return merged[: self.max_items_per_feed]

    def respond(
        self, path: str, *, if_none_match: str | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """Return (status, headers, body) of a GET of `path` at the clock's current time."""
        path = urlsplit(path).path
        if path in ("", "/"):
            lines = ["Fan-reaction feed simulator (offline demo)", ""]
            lines += [self.feed_url(feed) for feed in FEEDS]
            lines += [
                "",
                f"burst: {self.burst_start.isoformat()} for {self.burst_duration_seconds:g} s",
            ]
            return 200, {"Content-Type": "text/plain; charset=utf-8"}, _text_body(lines)
        feed_match = _FEED_PATH.match(path)
        if feed_match and feed_match.group(1) in FEEDS:
            return self._respond_feed(feed_match.group(1), if_none_match)
        post_match = _POST_PATH.match(path)
        if post_match and post_match.group(1) in FEEDS:
            feed, post_id = post_match.groups()
            guid = f"{GUID_PREFIX}:{feed}:{post_id}"
            for post in self.posts(feed, self._clock()):
                if post.guid == guid:
                    lines = [post.text, "", f"-- {post.author}, {_rfc822(post.published_at)}"]
                    return 200, {"Content-Type": "text/plain; charset=utf-8"}, _text_body(lines)
        return 404, {"Content-Type": "text/plain; charset=utf-8"}, b"not found\n"

    def _respond_feed(
        self, feed: str, if_none_match: str | None
    ) -> tuple[int, dict[str, str], bytes]:
        posts = self.posts(feed, self._clock())
        body = render_rss(feed, posts, base_url=self.base_url)
        etag = _etag(body)
        newest = posts[0].published_at if posts else self.started_at
        headers = {"ETag": etag, "Last-Modified": _rfc822(newest)}
        if _etag_matches(etag, if_none_match):
            return 304, headers, b""
        headers["Content-Type"] = "application/rss+xml; charset=utf-8"
        return 200, headers, body


def _text_body(lines: Sequence[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode("utf-8")


def _without_feeds(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if key != "feeds"}


def _toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def demo_config_toml(sim: Simulator, *, base_config: str) -> str:
    """Return `base_config` with its [[feeds]] replaced by one rss feed per simulator feed.

    Everything else (topics, timeline, detection, fetch) is kept verbatim; the result is
    checked to parse as TOML with the same non-feed tables.
    """
    kept: list[str] = []
    in_feed_table = False
    for line in base_config.splitlines(keepends=True):
        header = _TABLE_HEADER.match(line)
        if header:
            name = header.group(1).strip()
            entering = name == "feeds" or name.startswith("feeds.")
            if entering and not in_feed_table:
                # Comments just above a feed table describe the feeds being replaced.
                while kept and kept[-1].lstrip().startswith("#"):
                    kept.pop()
            in_feed_table = entering
        if not in_feed_table:
            kept.append(line)
    text = "".join(kept).rstrip() + "\n\n# Simulated feeds (monitor.simulate) on the loopback.\n"
    for feed in FEEDS:
        text += (
            "[[feeds]]\n"
            f"name = {_toml_string('sim-' + feed)}\n"
            'kind = "rss"\n'
            f"url = {_toml_string(sim.feed_url(feed))}\n"
            "interval_seconds = 10\n\n"
        )
    text = text.rstrip() + "\n"
    if _without_feeds(tomllib.loads(text)) != _without_feeds(tomllib.loads(base_config)):
        raise ValueError("base_config: could not replace its [[feeds]] tables cleanly")
    return text


def run_simulator(
    *,
    host: str,
    port: int,
    seed: int,
    burst_delay_seconds: float,
    burst_duration_seconds: float = 90,
    burst_posts_per_minute: float = 40,
    history_hours: float = 36,
    max_items_per_feed: int = 500,
) -> None:
    """Serve the simulated feeds until interrupted (Ctrl-C); print one feed URL per line."""
    sim = Simulator(
        host=host,
        port=port,
        seed=seed,
        history_hours=history_hours,
        burst_delay_seconds=burst_delay_seconds,
        burst_duration_seconds=burst_duration_seconds,
        burst_posts_per_minute=burst_posts_per_minute,
        max_items_per_feed=max_items_per_feed,
    )
    sim.start()
    try:
        for feed in FEEDS:
            print(sim.feed_url(feed), flush=True)
        print(
            f"simulator: burst at {sim.burst_start.isoformat()} "
            f"({burst_delay_seconds:g} s from now) for {burst_duration_seconds:g} s; "
            "Ctrl-C to stop",
            file=sys.stderr,
            flush=True,
        )
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
