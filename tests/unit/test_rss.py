"""RssSource.parse over the hand-written fixtures in tests/fixtures/feeds/rss/, and a fuzz test."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.errors import ParseError
from monitor.matching import Matcher
from monitor.model import Post
from monitor.sources.base import FeedState, Page
from monitor.sources.rss import RssSource

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "feeds" / "rss"
FETCHED_AT = datetime(2024, 2, 24, 12, 0, tzinfo=UTC)
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f]")
# feedparser warns when its updated_parsed -> published_parsed fallback is looked up.
pytestmark = pytest.mark.filterwarnings("ignore:To avoid breaking existing software")


def feed_url(name: str) -> str:
    return f"https://feeds.example/{name}"


def parse(name: str, *, fetched_at: datetime = FETCHED_AT, url: str | None = None) -> list[Post]:
    body = (FIXTURES / name).read_bytes()
    page = RssSource().parse(
        body, url=url or feed_url(name), content_type="application/xml", fetched_at=fetched_at
    )
    assert isinstance(page, Page)
    return list(page.posts)


def assert_well_formed(posts: list[Post]) -> None:
    ids = [post.external_id for post in posts]
    assert len(ids) == len(set(ids)), f"duplicate ids: {ids}"
    for post in posts:
        assert post.network == "rss"
        assert post.text and post.text == post.text.strip()
        assert not CONTROL.search(post.text)
        assert 0 < len(post.external_id) <= 512
        assert post.published_at.tzinfo is not None


def inline_feed(*items: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>t</title>'
        + "".join(items)
        + "</channel></rss>"
    ).encode()


# --- rss20_basic.xml ----------------------------------------------------------------------


def test_rss20_basic_posts() -> None:
    posts = parse("rss20_basic.xml")

    assert len(posts) == 3
    assert_well_formed(posts)
    first, _, korean = posts

    assert first.external_id == "https://fans.example/posts/1"
    assert first.url == "https://fans.example/posts/1"
    assert first.text == (
        "V sings Love Letter in the Love wins all behind-the-scenes video\n"
        "Fans are replaying the clip."
    )
    # 09:30 at +09:00 is 00:30 UTC.
    assert first.published_at == datetime(2024, 2, 24, 0, 30, tzinfo=UTC)
    assert first.flags == ()

    assert korean.external_id == "https://fans.example/posts/3"
    assert korean.text.startswith("뷔가 부른 러브레터\n")
    assert "뷔가 러브레터를 불렀다" in korean.text


def test_rss20_non_url_guid_is_scoped_to_the_feed() -> None:
    second = parse("rss20_basic.xml")[1]

    assert second.external_id == feed_url("rss20_basic.xml") + "#post-2"
    assert second.url == "https://fans.example/posts/2"


def test_rss20_html_description_becomes_plain_text() -> None:
    second = parse("rss20_basic.xml")[1]

    # The description is escaped HTML holding escaped entities: once for XML, once for HTML.
    assert second.text.splitlines() == [
        "Fans & critics react",
        'First paragraph & more "quoted" text',
        "Second\u00a0paragraph \u2665",
    ]
    assert "<p>" not in second.text
    assert "&amp;" not in second.text


def test_rss20_language_and_authors() -> None:
    posts = parse("rss20_basic.xml")

    assert [post.lang for post in posts] == ["en-us"] * 3
    assert "Jane Editor" in (posts[0].author or "")
    assert posts[1].author == "Min Reporter"
    assert posts[2].author is None


def test_rss20_posts_are_matched_by_the_shipped_topics() -> None:
    from monitor.config import load_config

    config = load_config(Path(__file__).resolve().parents[2] / "config" / "monitor.toml")
    matcher = Matcher.compile(config.topics)
    posts = parse("rss20_basic.xml")

    hits = [set(matcher.topics_in(post.text, lang=post.lang)) for post in posts]

    assert hits == [{"love-letter", "love-wins-all"}, set(), {"love-letter"}]


# --- atom10_basic.xml ---------------------------------------------------------------------


def test_atom10_basic_posts() -> None:
    posts = parse("atom10_basic.xml")

    assert len(posts) == 2
    assert_well_formed(posts)
    mv, bts = posts

    assert mv.external_id == "tag:fans.example,2024:entry-1"
    assert mv.url == "https://fans.example/atom/1"
    assert mv.text == "러브 윈즈 올 뮤직비디오 공개\n아이유의 Love wins all MV"
    # <published> wins over <updated>: 09:00 at +09:00 is midnight UTC.
    assert mv.published_at == datetime(2024, 1, 24, tzinfo=UTC)
    assert "김기자" in (mv.author or "")

    assert bts.external_id == "urn:uuid:60a76c80-d399-11d9-b93C-0003939e0af6"
    assert bts.text == "Behind the scenes\nV sings Love Letter."
    assert bts.published_at == datetime(2024, 2, 24, 2, 0, tzinfo=UTC)  # from <updated>
    assert bts.author == "Lee Editor"


def test_atom10_language_comes_from_xml_lang() -> None:
    assert {post.lang for post in parse("atom10_basic.xml")} == {"ko"}


# --- ids ----------------------------------------------------------------------------------


def test_duplicate_guids_get_distinct_ids() -> None:
    posts = parse("duplicate_guids.xml")

    assert [post.text for post in posts] == ["First item", "Second item", "Third item, no link"]
    assert_well_formed(posts)
    base = feed_url("duplicate_guids.xml") + "#1"
    assert all(post.external_id.startswith(base) for post in posts)


def test_guid_and_link_repeated_three_times_still_get_distinct_ids() -> None:
    item = '<item><title>{}</title><guid isPermaLink="false">1</guid><link>https://x.example/</link></item>'
    body = inline_feed(*(item.format(title) for title in ("one", "two", "three")))

    posts = (
        RssSource()
        .parse(body, url="https://feeds.example/x", content_type=None, fetched_at=FETCHED_AT)
        .posts
    )

    assert len(posts) == 3
    assert len({post.external_id for post in posts}) == 3


def test_ids_without_guid_or_link_are_stable() -> None:
    first = parse("no_guid_no_link.xml")
    second = parse("no_guid_no_link.xml", fetched_at=FETCHED_AT + timedelta(hours=5))

    assert len(first) == 2
    assert_well_formed(first)
    assert [post.external_id for post in first] == [post.external_id for post in second]
    for post in first:
        assert re.fullmatch(r"sha256:[0-9a-f]{64}", post.external_id)
        assert post.url is None


def test_ids_without_guid_or_link_depend_on_the_text() -> None:
    item = "<item><title>{}</title></item>"
    parse_one = lambda title: (  # noqa: E731
        RssSource()
        .parse(
            inline_feed(item.format(title)),
            url="https://feeds.example/x",
            content_type=None,
            fetched_at=FETCHED_AT,
        )
        .posts[0]
        .external_id
    )

    assert parse_one("one") == parse_one("one")
    assert parse_one("one") != parse_one("two")


# --- dates --------------------------------------------------------------------------------


def test_future_and_missing_dates_are_flagged_and_replaced() -> None:
    posts = {post.external_id.rsplit("/", 1)[1]: post for post in parse("dates_future_missing.xml")}

    assert set(posts) == {"future", "missing", "skew", "normal", "garbage"}
    assert posts["future"].flags == ("date_future",)
    assert posts["future"].published_at == FETCHED_AT
    assert posts["missing"].flags == ("date_missing",)
    assert posts["missing"].published_at == FETCHED_AT
    assert posts["garbage"].flags == ("date_missing",)
    assert posts["garbage"].published_at == FETCHED_AT
    # Five minutes ahead is clock skew, within the tolerance: kept as written.
    assert posts["skew"].flags == ()
    assert posts["skew"].published_at == FETCHED_AT + timedelta(minutes=5)
    # 20:00 at +09:00 is 11:00 UTC.
    assert posts["normal"].flags == ()
    assert posts["normal"].published_at == datetime(2024, 2, 24, 11, 0, tzinfo=UTC)


def test_future_is_relative_to_fetched_at() -> None:
    posts = parse("dates_future_missing.xml", fetched_at=datetime(2100, 1, 1, tzinfo=UTC))
    future = next(post for post in posts if post.external_id.endswith("/future"))

    assert future.flags == ()
    assert future.published_at == datetime(2099, 1, 1, tzinfo=UTC)


# --- not feeds, broken feeds --------------------------------------------------------------


def test_html_page_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="not an RSS or Atom feed"):
        parse("html_page.html")


@pytest.mark.parametrize("body", [b"", b"{}", b'{"items": []}', b"just some text", b"\x00\xff" * 8])
def test_other_bodies_are_parse_errors(body: bytes) -> None:
    with pytest.raises(ParseError):
        RssSource().parse(
            body, url="https://feeds.example/x", content_type=None, fetched_at=FETCHED_AT
        )


def test_truncated_feed_gives_posts_or_a_parse_error() -> None:
    try:
        posts = parse("malformed.xml")
    except ParseError:
        return
    assert_well_formed(posts)
    assert all("before the cut" in post.text or "mid" in post.text for post in posts)


def test_every_truncation_of_a_good_feed_gives_posts_or_a_parse_error() -> None:
    body = (FIXTURES / "rss20_basic.xml").read_bytes()

    for end in range(0, len(body), 29):
        try:
            page = RssSource().parse(
                body[:end], url="https://feeds.example/x", content_type=None, fetched_at=FETCHED_AT
            )
        except ParseError:
            continue
        assert len(page.posts) <= 3


# --- hostile markup -----------------------------------------------------------------------


def test_script_in_description_is_not_in_the_text() -> None:
    posts = parse("script_payload.xml")

    assert [post.text for post in posts] == [
        "Innocent title\nVisible text",
        "CDATA variant\nHello\nWorld",
    ]
    for post in posts:
        assert "pwned" not in post.text
        assert "cdata-secret" not in post.text
        assert "display:none" not in post.text
        assert "steal" not in post.text
        assert "<" not in post.text


def test_script_in_atom_html_content_is_not_in_the_text() -> None:
    (post,) = parse("script_payload_atom.xml")

    assert "pwned-atom" not in post.text
    assert post.text.endswith("\nBody text")
    assert post.text.startswith("Why ")


def test_text_typed_atom_title_keeps_its_characters() -> None:
    (post,) = parse("script_payload_atom.xml")

    # A text construct is characters, not markup: stored as text, it can't run anywhere.
    assert post.text.splitlines()[0] == "Why <script>alert(1)</script> is not run here"


def test_control_characters_are_removed() -> None:
    (post,) = parse("nul_bytes.xml")

    assert_well_formed([post])
    assert "\x00" not in post.text
    assert post.text.splitlines()[0] == "NULhere and bellthere"
    assert "Tab here" in post.text  # a tab is a space
    assert "form feedend" in post.text


# --- request ------------------------------------------------------------------------------


def test_build_request_is_a_get_accepting_feeds() -> None:
    request = RssSource().build_request(FeedState(url="https://feeds.example/rss"))

    assert request.method == "GET"
    assert str(request.url) == "https://feeds.example/rss"
    assert "application/rss+xml" in request.headers["accept"]
    assert "application/atom+xml" in request.headers["accept"]


# --- fuzz ---------------------------------------------------------------------------------

FRAGMENTS = [
    b'<?xml version="1.0" encoding="utf-8"?>',
    b'<rss version="2.0">',
    b"<channel>",
    b"</channel>",
    b"<item>",
    b"</item>",
    b"<title>",
    b"</title>",
    b"<guid>",
    b"</guid>",
    b"<link>",
    b"</link>",
    b"<description>",
    b"</description>",
    b"<pubDate>",
    b"</pubDate>",
    b"Sat, 24 Feb 2024 01:00:00 GMT",
    b"Mon, 01 Jan 0001 00:00:00 GMT",
    b"<language>",
    b"</language>",
    b'<feed xmlns="http://www.w3.org/2005/Atom">',
    b"<entry>",
    b"</entry>",
    b"<id>",
    b"</id>",
    b'<content type="html">',
    b"</content>",
    b"<published>",
    b"9999-12-31T23:59:59Z",
    b"</published>",
    b"<author>",
    b"</author>",
    b"&lt;script&gt;",
    b"&#0;",
    b"\x00",
    b"\xff\xfe",
    b"<![CDATA[",
    b"]]>",
]

bodies = st.one_of(
    st.binary(max_size=1000),
    st.lists(
        st.one_of(
            st.sampled_from(FRAGMENTS), st.binary(max_size=16), st.text(max_size=16).map(str.encode)
        ),
        max_size=40,
    ).map(b"".join),
)
content_types = st.one_of(
    st.none(),
    st.sampled_from(["application/rss+xml", "text/html", "text/xml; charset=utf-16"]),
    st.text(max_size=30),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=bodies, content_type=content_types)
def test_parse_returns_a_page_or_raises_parse_error(body: bytes, content_type: str | None) -> None:
    try:
        page = RssSource().parse(
            body, url="https://feeds.example/fuzz", content_type=content_type, fetched_at=FETCHED_AT
        )
    except ParseError:
        return
    assert isinstance(page, Page)
    for post in page.posts:
        assert isinstance(post, Post)
        assert post.text
        assert not CONTROL.search(post.text)
