"""The offline demo's feed simulator: determinism, realism of the mix, RSS and HTTP."""

from __future__ import annotations

import hashlib
import io
import os
import random
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import httpx
import pytest

from monitor import simulate
from monitor.config import load_config, parse_config
from monitor.demo import with_table_setting
from monitor.matching import Matcher
from monitor.simulate import (
    FEEDS,
    SLOT_SECONDS,
    SimulatedPost,
    Simulator,
    baseline_posts,
    burst_posts,
    demo_config_toml,
    fill_template,
    render_rss,
    run_simulator,
)
from monitor.simulator_posts import (
    BASELINE_MIX,
    BASELINE_TEMPLATES,
    BURST_MIX,
    BURST_TEMPLATES,
    PostTemplate,
)
from tests.conftest import LOOPBACK_NETWORKS

CONFIG_PATH = Path(__file__).resolve().parents[2] / "config" / "monitor.toml"
# 15 s before 12:00:30 UTC: the default burst (90 s from 12:00:30) sits in the 12:00 bucket.
START = datetime(2024, 1, 30, 12, 0, 15, tzinfo=UTC)
HISTORY = timedelta(hours=36)
ALL_TEMPLATES = [
    pytest.param(template, id=f"{feed}-{phase}-{index}")
    for phase, bank in (("baseline", BASELINE_TEMPLATES), ("burst", BURST_TEMPLATES))
    for feed, templates in bank.items()
    for index, template in enumerate(templates)
]


class FakeClock:
    """A settable clock for the simulator."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher.compile(load_config(CONFIG_PATH).topics)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def sim(clock: FakeClock) -> Iterator[Simulator]:
    with Simulator(clock=clock) as running:
        yield running


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False, timeout=10) as http:
        yield http


def _bucket(moment: datetime) -> datetime:
    epoch = int(moment.timestamp()) // SLOT_SECONDS * SLOT_SECONDS
    return datetime.fromtimestamp(epoch, UTC)


def _parse(body: bytes) -> feedparser.FeedParserDict:
    return feedparser.parse(io.BytesIO(body))


# --- the text bank -------------------------------------------------------------------------


@pytest.mark.parametrize("template", ALL_TEMPLATES)
def test_each_template_mentions_exactly_its_topics(
    template: PostTemplate, matcher: Matcher
) -> None:
    for seed in range(40):
        text = fill_template(template, random.Random(seed))
        found = set(matcher.topics_in(text, lang=template.lang))
        assert found == set(template.topics), text


def test_template_bank_is_varied_and_covers_every_mix() -> None:
    texts = {
        t.text for bank in (BASELINE_TEMPLATES, BURST_TEMPLATES) for ts in bank.values() for t in ts
    }
    assert len(texts) >= 60
    languages = {
        t.lang for bank in (BASELINE_TEMPLATES, BURST_TEMPLATES) for ts in bank.values() for t in ts
    }
    assert {"en", "ko", "ja", "id", "pt", "es"} <= languages
    for bank, mixes in ((BASELINE_TEMPLATES, BASELINE_MIX), (BURST_TEMPLATES, BURST_MIX)):
        assert set(bank) == set(mixes) == set(FEEDS)
        for feed, mix in mixes.items():
            for topics in mix:
                assert any(t.topics == topics for t in bank[feed]), (feed, sorted(topics))


# --- baseline ------------------------------------------------------------------------------


def test_baseline_is_a_pure_function_of_seed_feed_and_slot() -> None:
    start, end = START - timedelta(hours=6), START
    for feed in FEEDS:
        first = baseline_posts(feed, start, end, seed=7)
        assert first, feed
        assert baseline_posts(feed, start, end, seed=7) == first
        assert baseline_posts(feed, start, end, seed=8) != first
    # A window split anywhere (even mid-slot) yields the same posts as the whole window.
    middle = START - timedelta(hours=2, seconds=123)
    whole = baseline_posts("fan-forum", start, end, seed=7)
    split = baseline_posts("fan-forum", start, middle, seed=7) + baseline_posts(
        "fan-forum", middle, end, seed=7
    )
    assert split == whole


_DIGEST_SCRIPT = """
import hashlib, sys
from datetime import UTC, datetime, timedelta
from monitor.simulate import FEEDS, baseline_posts
end = datetime(2024, 1, 30, 12, tzinfo=UTC)
posts = [p for f in FEEDS for p in baseline_posts(f, end - timedelta(hours=6), end, seed=11)]
sys.stdout.write(hashlib.sha256(repr(posts).encode()).hexdigest())
"""


def test_baseline_is_identical_in_a_fresh_process() -> None:
    # A restarted simulator must re-serve the same posts: no per-process state or hash seed.
    end = datetime(2024, 1, 30, 12, tzinfo=UTC)
    posts = [p for f in FEEDS for p in baseline_posts(f, end - timedelta(hours=6), end, seed=11)]
    expected = hashlib.sha256(repr(posts).encode()).hexdigest()
    for hash_seed in ("1", "2"):
        result = subprocess.run(
            [sys.executable, "-c", _DIGEST_SCRIPT],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
        )
        assert result.stdout == expected


def test_baseline_posts_lie_in_the_window_oldest_first_with_unique_ids() -> None:
    start, end = START - HISTORY, START
    for feed in FEEDS:
        posts = baseline_posts(feed, start, end, seed=2024)
        assert all(start <= p.published_at < end for p in posts)
        assert [p.published_at for p in posts] == sorted(p.published_at for p in posts)
        guids = [p.guid for p in posts]
        assert len(set(guids)) == len(guids)
        for post in posts:
            post_id = post.guid.removeprefix(f"tag:simulator.local,2024:{feed}:")
            assert post_id != post.guid
            assert post.link == f"/posts/{feed}/{post_id}"
            assert post.feed == feed and post.author and post.lang and post.text
            assert post.text.startswith(post.title) and len(post.title) <= 80


def test_fan_forum_baseline_mostly_matches_and_some_posts_do_not(matcher: Matcher) -> None:
    posts = baseline_posts("fan-forum", START - HISTORY, START, seed=2024)
    matched = [p for p in posts if matcher.topics_in(p.text, lang=p.lang)]
    assert len(matched) >= 0.6 * len(posts)
    assert len(posts) - len(matched) >= 0.1 * len(posts)


def test_korean_and_japanese_posts_match_love_letter(matcher: Matcher) -> None:
    posts = baseline_posts("kr-community", START - HISTORY, START, seed=2024)
    posts += baseline_posts("global-fans", START - HISTORY, START, seed=2024)
    for lang in ("ko", "ja"):
        in_lang = [p for p in posts if p.lang == lang]
        love_letter = [p for p in in_lang if "love-letter" in matcher.topics_in(p.text, lang=lang)]
        assert len(love_letter) >= 10, lang
        assert len(love_letter) < len(in_lang), lang  # and some in that language do not match


def test_baseline_has_a_daily_rhythm_peaking_at_noon_utc() -> None:
    def mean_per_slot(hour: int) -> float:
        total = slots = 0
        for day in range(20):
            center = datetime(2024, 1, 1, hour, tzinfo=UTC) + timedelta(days=day)
            start, end = center - timedelta(hours=1), center + timedelta(hours=1)
            total += sum(len(baseline_posts(feed, start, end, seed=3)) for feed in FEEDS)
            slots += 24
        return total / slots

    noon, midnight = mean_per_slot(12), mean_per_slot(0)
    assert noon > 2 * midnight
    assert noon < 5 * midnight  # a trough of about a third, not silence


def test_baseline_love_letter_rate_is_one_to_three_per_bucket(matcher: Matcher) -> None:
    counts: Counter[datetime] = Counter()
    for feed in FEEDS:
        for post in baseline_posts(feed, START - HISTORY, START, seed=2024):
            if "love-letter" in matcher.topics_in(post.text, lang=post.lang):
                counts[_bucket(post.published_at)] += 1
    buckets = int(HISTORY.total_seconds()) // SLOT_SECONDS
    assert 1 <= sum(counts.values()) / buckets <= 3


# --- burst ---------------------------------------------------------------------------------


def test_burst_posts_spread_over_the_duration_with_new_guids_per_run() -> None:
    burst_start = START + timedelta(seconds=15)
    end = burst_start + timedelta(seconds=90)
    total = 0
    for feed in FEEDS:
        posts = burst_posts(
            feed, burst_start, end, seed=1, posts_per_minute=40, duration_seconds=90
        )
        total += len(posts)
        assert all(burst_start <= p.published_at < end for p in posts)
        assert all(str(int(burst_start.timestamp())) in p.guid for p in posts)
        again = burst_posts(
            feed, burst_start, end, seed=1, posts_per_minute=40, duration_seconds=90
        )
        assert again == posts
        later_run = burst_posts(
            feed,
            burst_start + timedelta(minutes=10),
            end + timedelta(minutes=10),
            seed=1,
            posts_per_minute=40,
            duration_seconds=90,
        )
        assert not {p.guid for p in posts} & {p.guid for p in later_run}
        half = burst_start + timedelta(seconds=45)
        early = burst_posts(
            feed, burst_start, half, seed=1, posts_per_minute=40, duration_seconds=90
        )
        assert early == [p for p in posts if p.published_at <= half]
        assert 0 < len(early) < len(posts)
    assert total == 60  # 40 per minute for 90 seconds, over all feeds


def test_burst_bucket_dwarfs_every_baseline_bucket(sim: Simulator, matcher: Matcher) -> None:
    assert _bucket(sim.burst_start) == _bucket(sim.burst_start + timedelta(seconds=89))
    now = _bucket(sim.burst_start) + timedelta(minutes=5)
    counts: Counter[datetime] = Counter()
    for feed in FEEDS:
        for post in sim.posts(feed, now):
            if "love-letter" in matcher.topics_in(post.text, lang=post.lang):
                counts[_bucket(post.published_at)] += 1
    burst_count = counts.pop(_bucket(sim.burst_start))
    history = {b: c for b, c in counts.items() if b < _bucket(sim.started_at)}
    assert len(history) > 300  # the 36 hours of history are there
    assert burst_count >= 5 * max(history.values())


# --- what a feed serves --------------------------------------------------------------------


def test_a_feed_never_serves_posts_from_the_future(sim: Simulator) -> None:
    moments = [sim.started_at + timedelta(seconds=s) for s in (0, 14, 15, 16, 47, 104, 105, 400)]
    for feed in FEEDS:
        for now in moments:
            posts = sim.posts(feed, now)
            assert posts
            assert all(p.published_at <= now for p in posts)
            assert posts == sorted(posts, key=lambda p: (p.published_at, p.guid), reverse=True)
            assert len(posts) <= sim.max_items_per_feed


def test_the_burst_appears_only_once_it_starts(sim: Simulator) -> None:
    def burst_count(now: datetime) -> int:
        return sum(1 for f in FEEDS for p in sim.posts(f, now) if ":burst-" in p.guid)

    assert sim.burst_start == sim.started_at + timedelta(seconds=15)
    assert burst_count(sim.burst_start - timedelta(seconds=1)) == 0
    assert 0 < burst_count(sim.burst_start + timedelta(seconds=45)) < 60
    assert burst_count(sim.burst_start + timedelta(seconds=90)) == 60


@pytest.mark.parametrize("hour", [0, 12, 18])
@pytest.mark.parametrize("seed", [1, 2024])
def test_history_fits_under_the_item_cap(hour: int, seed: int) -> None:
    # A start at 18:00 is the worst case: the 12 hours beyond a full day are the busiest half.
    clock = FakeClock(START.replace(hour=hour))
    with Simulator(clock=clock, seed=seed) as sim:
        after_burst = sim.burst_start + timedelta(seconds=90)
        for feed in FEEDS:
            posts = sim.posts(feed, after_burst)
            assert len(posts) < 0.95 * sim.max_items_per_feed, feed
            # The oldest served post is from the start of the history window.
            assert posts[-1].published_at < sim.started_at - HISTORY + timedelta(hours=3)


def test_the_item_cap_keeps_the_newest_posts(clock: FakeClock) -> None:
    with Simulator(clock=clock, max_items_per_feed=50) as capped, Simulator(clock=clock) as full:
        now = capped.burst_start + timedelta(seconds=60)
        assert capped.posts("fan-forum", now) == full.posts("fan-forum", now)[:50]


def test_a_restart_with_the_same_seed_serves_the_same_history(clock: FakeClock) -> None:
    with Simulator(clock=clock, seed=5) as first:
        before = first.posts("kr-community", first.started_at)
    clock.now += timedelta(minutes=20)
    with Simulator(clock=clock, seed=5) as second:
        after = second.posts("kr-community", second.started_at)
    old = {p.guid: p for p in before}
    overlap = [p for p in after if p.guid in old]
    assert len(overlap) > 0.9 * len(before)
    assert all(old[p.guid] == p for p in overlap)


# --- RSS and HTTP --------------------------------------------------------------------------


def test_render_rss_parses_with_every_post(sim: Simulator) -> None:
    now = sim.burst_start + timedelta(seconds=90)
    for feed in FEEDS:
        posts = sim.posts(feed, now)
        parsed = _parse(render_rss(feed, posts, base_url="http://127.0.0.1:9"))
        assert not parsed.bozo, parsed.get("bozo_exception")
        assert parsed.version == "rss20"
        assert len(parsed.entries) == len(posts)
        assert [e.id for e in parsed.entries] == [p.guid for p in posts]
        assert len({e.id for e in parsed.entries}) == len(posts)
        for entry, post in zip(parsed.entries, posts, strict=True):
            assert entry.link == "http://127.0.0.1:9" + post.link
            assert entry.title == post.title
            assert entry.author == post.author
            published = datetime(*entry.published_parsed[:6], tzinfo=UTC)
            assert published == post.published_at
            assert entry.summary.startswith("<p>")


def test_render_rss_escapes_markup_and_entities() -> None:
    post = SimulatedPost(
        feed="fan-forum",
        guid="tag:simulator.local,2024:fan-forum:x-1",
        title="IU & V <3",
        text="IU & V <3\nsecond line",
        author="purple_ocean_95",
        lang="en",
        published_at=START,
        link="/posts/fan-forum/x-1",
    )
    body = render_rss("fan-forum", [post], base_url="http://127.0.0.1:9")
    assert b"&amp;amp;" in body  # the description is HTML, escaped once more as XML text
    entry = _parse(body).entries[0]
    assert entry.title == "IU & V <3"
    assert entry.summary == "<p>IU &amp; V &lt;3</p><p>second line</p>"
    assert (entry.get("language") or entry.get("dc_language")) == "en"


def test_http_serves_feeds_with_etag_and_304(
    sim: Simulator, clock: FakeClock, client: httpx.Client
) -> None:
    url = sim.feed_url("fan-forum")
    assert url == f"{sim.base_url}/feeds/fan-forum.xml"
    assert sim.base_url.startswith("http://127.0.0.1:")
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/rss+xml")
    etag = response.headers["etag"]
    assert etag.startswith('"') and response.headers["last-modified"].endswith("GMT")
    parsed = _parse(response.content)
    assert len(parsed.entries) == len(sim.posts("fan-forum", clock.now))
    assert all(datetime(*e.published_parsed[:6], tzinfo=UTC) <= clock.now for e in parsed.entries)

    unchanged = client.get(url, headers={"If-None-Match": etag})
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    assert unchanged.headers["etag"] == etag

    clock.now = sim.burst_start + timedelta(seconds=60)  # the burst has new posts
    changed = client.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert len(_parse(changed.content).entries) > len(parsed.entries)


def test_http_index_posts_and_unknown_paths(sim: Simulator, client: httpx.Client) -> None:
    index = client.get(sim.base_url + "/")
    assert index.status_code == 200
    assert all(sim.feed_url(feed) in index.text for feed in FEEDS)
    post = sim.posts("news", sim.started_at)[0]
    page = client.get(sim.base_url + post.link)
    assert page.status_code == 200 and post.text in page.text
    for path in ("/nope", "/feeds/nope.xml", "/feeds/news.json", "/posts/news/0-0"):
        assert client.get(sim.base_url + path).status_code == 404, path


def test_stop_releases_the_port(clock: FakeClock, client: httpx.Client) -> None:
    sim = Simulator(clock=clock)
    sim.start()
    url = sim.feed_url("news")
    assert client.get(url).status_code == 200
    sim.stop()
    sim.stop()  # idempotent
    with pytest.raises(httpx.TransportError):
        client.get(url)
    with pytest.raises(RuntimeError):
        _ = sim.base_url


def test_simulator_refuses_naive_clocks_and_use_before_start() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Simulator(clock=lambda: datetime(2024, 1, 30)).start()
    with pytest.raises(RuntimeError):
        Simulator().posts("news", START)
    with pytest.raises(ValueError, match="unknown feed"):
        baseline_posts("nope", START - HISTORY, START, seed=1)


# --- demo configuration and the blocking runner --------------------------------------------


def loopback_allowed(text: str) -> str:
    """The simulator listens on the loopback, which a config must allow explicitly."""
    return with_table_setting(text, "fetch", f"allow_networks = {LOOPBACK_NETWORKS}")


def test_demo_config_points_every_feed_at_the_simulator(sim: Simulator) -> None:
    base_text = CONFIG_PATH.read_text(encoding="utf-8")
    base = parse_config(base_text)
    config = parse_config(loopback_allowed(demo_config_toml(sim, base_config=base_text)))
    assert [feed.name for feed in config.feeds] == [f"sim-{feed}" for feed in FEEDS]
    assert [feed.url for feed in config.feeds] == [sim.feed_url(feed) for feed in FEEDS]
    assert all(feed.kind == "rss" and feed.interval_seconds == 10 for feed in config.feeds)
    assert config.topics == base.topics
    assert (config.timeline, config.detection) == (base.timeline, base.detection)
    assert config.fetch.model_copy(update={"allow_networks": []}) == base.fetch


def test_demo_config_handles_tables_after_feeds_and_no_feeds(sim: Simulator) -> None:
    base_text = (
        '[[topics]]\nname = "t"\nphrases = ["x"]\n\n'
        '# old feed\n[[feeds]]\nname = "old"\nkind = "rss"\nurl = "https://example.org/a"\n'
        'topics = [\n  "t",\n]\n\n[detection]\nmin_count = 4\n'
    )
    config = parse_config(loopback_allowed(demo_config_toml(sim, base_config=base_text)))
    assert [feed.name for feed in config.feeds] == [f"sim-{feed}" for feed in FEEDS]
    assert config.detection.min_count == 4
    no_feeds = parse_config(
        loopback_allowed(
            demo_config_toml(sim, base_config='[[topics]]\nname = "t"\nphrases = ["x"]\n')
        )
    )
    assert len(no_feeds.feeds) == len(FEEDS)


def test_run_simulator_prints_feed_urls_and_stops_on_ctrl_c(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(simulate.time, "sleep", interrupt)
    run_simulator(host="127.0.0.1", port=0, seed=1, burst_delay_seconds=5)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(FEEDS)
    for line, feed in zip(lines, FEEDS, strict=True):
        assert line.startswith("http://127.0.0.1:") and line.endswith(f"/feeds/{feed}.xml")
