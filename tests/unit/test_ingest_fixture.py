"""The ingest benchmark's fixture: deterministic posts, the promised layout, and texts whose
topics the real matcher agrees with (so the benchmark's expected counts are right)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from benchmarks.ingest_fixture import Layout, feed_posts, post_text, render_pages
from monitor.config import load_config
from monitor.matching import Matcher
from monitor.sources.mastodon import MastodonSource, parse_link_header
from tests.conftest import REPO

ANCHOR = datetime(2026, 1, 24, 12, 0, tzinfo=UTC)


def test_same_arguments_give_the_same_pages_and_another_seed_does_not() -> None:
    layout = Layout(posts=500, instances=2)
    first = render_pages(layout, 3, anchor=ANCHOR, base_url="http://127.0.0.1:1")
    again = render_pages(layout, 3, anchor=ANCHOR, base_url="http://127.0.0.1:1")
    other = render_pages(
        Layout(posts=500, instances=2, seed=7), 3, anchor=ANCHOR, base_url="http://127.0.0.1:1"
    )
    assert first == again
    assert first != other


def test_posts_are_spread_over_the_timelines_and_pages_link_to_older_ones() -> None:
    layout = Layout(posts=1003, instances=2, page_size=40)
    assert layout.feeds == 10
    assert sum(layout.feed_posts(i) for i in range(layout.feeds)) == 1003
    pages = render_pages(layout, 0, anchor=ANCHOR, base_url="http://h")
    statuses = [s for body, _ in pages.values() for s in json.loads(body)]
    assert len(statuses) == layout.feed_posts(0) == 101
    assert len(pages) == 3
    ids = [int(s["id"]) for s in statuses]
    assert ids == sorted(ids, reverse=True)  # newest first, as Mastodon serves a timeline
    # Following rel="next" from the first page visits every page once.
    key, seen = None, 0
    while True:
        _, link = pages[key]
        seen += 1
        nxt = parse_link_header(link).get("next")
        if nxt is None:
            break
        key = nxt.split("max_id=")[1]
    assert seen == len(pages)


def test_the_matcher_finds_exactly_the_topics_each_template_names() -> None:
    layout = Layout(posts=2000, instances=1)
    matcher = Matcher.compile(load_config(REPO / "config" / "monitor.toml").topics)
    source = MastodonSource()
    checked = 0
    for index in range(layout.feeds):
        expected = {p.status_id: p for p in feed_posts(layout, index, anchor=ANCHOR)}
        for body, _ in render_pages(layout, index, anchor=ANCHOR, base_url="http://h").values():
            page = source.parse(
                body, url="http://h", content_type="application/json", fetched_at=ANCHOR
            )
            for post in page.posts:
                fixture = expected[post.external_id.rsplit("/", 1)[1]]
                assert post.text == post_text(fixture, layout.hashtag(index))
                assert set(matcher.topics_in(post.text, lang=post.lang)) == fixture.topics
                checked += 1
    assert checked == 2000
