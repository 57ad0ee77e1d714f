"""One suite over every entry of the SOURCES registry: each builds a request for the page it
is asked for, parses a documented-shape sample into posts with unique ids, rejects bodies of
the wrong kind with ParseError only, and never puts a secret anywhere but where it belongs."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.config import FeedConfig
from monitor.errors import ParseError, SourceError
from monitor.sources import SOURCES, FeedState, source_for

NOW = datetime(2026, 8, 20, 10, 30, tzinfo=UTC)
SECRETS = {
    "token": "tok-secret-1",
    "handle": "me.bsky.social",
    "password": "pw-secret-2",
    "client_id": "cid",
    "client_secret": "csecret-3",
}

OPTIONS: dict[str, dict[str, object]] = {
    "rss": {"url": "https://news.example/rss"},
    "jsonfeed": {"url": "https://blog.example/feed.json"},
    "json": {
        "url": "https://hn.example/api?query=x",
        "mapping": {
            "items": "hits",
            "id": "objectID",
            "text": "title",
            "time": "created_at_i",
            "next": "next",
            "next_param": "cursor",
        },
    },
    "mastodon": {"instance": "https://fan.example", "hashtag": "LoveLetter"},
    "bluesky": {"query": "Love Letter", "handle_env": "H", "password_env": "P"},
    "reddit": {
        "subreddit": "bangtan",
        "client_id_env": "I",
        "client_secret_env": "S",
        "user_agent": "server:m:0.1 (by /u/someone)",
    },
    "youtube": {"video_id": "LWAvideo01", "token_env": "K"},
    "x": {"query": "Love Letter", "token_env": "T"},
}

SAMPLES: dict[str, bytes] = {
    "rss": b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
<item><guid>https://news.example/1</guid><title>V Love Letter</title></item>
<item><guid>https://news.example/2</guid><title>IU Love wins all</title></item>
</channel></rss>""",
    "jsonfeed": json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "t",
            "items": [
                {"id": "1", "content_text": "a"},
                {"id": "2", "content_html": "<p>b &amp; c</p>"},
            ],
        }
    ).encode(),
    "json": json.dumps(
        {
            "hits": [
                {"objectID": "1", "title": "a", "created_at_i": 1755684000},
                {"objectID": 2, "title": "b"},
            ],
            "next": "n2",
        }
    ).encode(),
    "mastodon": json.dumps(
        [
            {
                "id": "2",
                "uri": "https://fan.example/users/a/statuses/2",
                "content": "<p>x</p>",
                "created_at": "2026-08-20T10:15:00.000Z",
                "account": {"acct": "a"},
            },
            {
                "id": "1",
                "uri": "https://fan.example/users/b/statuses/1",
                "content": "<p>y</p>",
                "created_at": "2026-08-20T10:14:00.000Z",
                "account": {"acct": "b"},
            },
        ]
    ).encode(),
    "bluesky": json.dumps(
        {
            "cursor": "25",
            "posts": [
                {
                    "uri": "at://did:plc:a/app.bsky.feed.post/1",
                    "author": {"handle": "a.bsky.social"},
                    "record": {"text": "x", "createdAt": "2026-08-20T10:14:11.000Z"},
                },
                {
                    "uri": "at://did:plc:b/app.bsky.feed.post/2",
                    "author": {"handle": "b.bsky.social"},
                    "record": {"text": "y", "createdAt": "2026-08-20T10:13:11.000Z"},
                },
            ],
        }
    ).encode(),
    "reddit": json.dumps(
        {
            "kind": "Listing",
            "data": {
                "after": "t3_b",
                "children": [
                    {
                        "kind": "t3",
                        "data": {"name": "t3_c", "title": "x", "created_utc": 1755684800.0},
                    },
                    {
                        "kind": "t3",
                        "data": {"name": "t3_b", "title": "y", "created_utc": 1755684700.0},
                    },
                ],
            },
        }
    ).encode(),
    "youtube": json.dumps(
        {
            "nextPageToken": "P2",
            "items": [
                {
                    "id": "A",
                    "snippet": {
                        "videoId": "v",
                        "topLevelComment": {
                            "id": "A",
                            "snippet": {"textOriginal": "x", "publishedAt": "2026-08-20T09:58:03Z"},
                        },
                    },
                },
                {
                    "id": "B",
                    "snippet": {
                        "videoId": "v",
                        "topLevelComment": {
                            "id": "B",
                            "snippet": {"textOriginal": "y", "publishedAt": "2026-08-20T09:57:03Z"},
                        },
                    },
                },
            ],
        }
    ).encode(),
    "x": json.dumps(
        {
            "data": [
                {"id": "20", "text": "x", "created_at": "2026-08-20T10:10:00.000Z"},
                {"id": "19", "text": "y", "created_at": "2026-08-20T10:09:00.000Z"},
            ],
            "meta": {"newest_id": "20", "next_token": "nt"},
        }
    ).encode(),
}


def state_for(kind: str, **changes: object) -> FeedState:
    feed = FeedConfig.model_validate({"name": "f", "kind": kind, **OPTIONS[kind]})
    auth = {"accessJwt": "a.b.c", "access_token": "bearer-tok", "expires_at": 4e9}
    return FeedState(url=feed.target, options=feed, secrets=SECRETS, auth=auth, **changes)


def test_every_kind_has_a_sample() -> None:
    assert set(SOURCES) == set(SAMPLES) == set(OPTIONS)


@pytest.mark.parametrize("kind", sorted(SOURCES))
def test_builds_a_request_and_parses_its_sample(kind: str) -> None:
    source = source_for(kind)
    assert source.kind == kind and source.network
    request = source.build_request(state_for(kind))
    assert isinstance(request, httpx.Request) and request.method == "GET"
    assert request.url.scheme == "https"
    page = source.parse(
        SAMPLES[kind],
        url=str(request.url),
        content_type=None,
        fetched_at=NOW,
        state=state_for(kind),
    )
    ids = [post.external_id for post in page.posts]
    assert len(ids) == 2 and len(set(ids)) == 2
    assert all(post.network == source.network and post.text for post in page.posts)
    # The secrets go only in their documented place, never in a URL but YouTube's key.
    url = str(request.url)
    for name, value in SECRETS.items():
        if not (kind == "youtube" and name == "token"):
            assert value not in url


@pytest.mark.parametrize("kind", sorted(SOURCES))
def test_next_page_requests_carry_the_token(kind: str) -> None:
    source = source_for(kind)
    first = source.parse(
        SAMPLES[kind],
        url="https://x.example/",
        content_type=None,
        fetched_at=NOW,
        state=state_for(kind),
    )
    if first.next_page is None:
        pytest.skip(f"{kind} sample has one page")
    request = source.build_request(state_for(kind, page=first.next_page))
    assert first.next_page in str(request.url)


@pytest.mark.parametrize("kind", sorted(SOURCES))
@pytest.mark.parametrize(
    "body",
    [b"", b"<html>captive portal</html>", b"[1, 2", b'"text"', b'{"unexpected": true}', b"null"],
)
def test_rejects_the_wrong_body_with_parse_error(kind: str, body: bytes) -> None:
    source = source_for(kind)
    try:
        page = source.parse(
            body, url="https://x.example/", content_type=None, fetched_at=NOW, state=state_for(kind)
        )
    except ParseError:
        return
    except SourceError as exc:  # e.g. Mastodon's empty-first-page report
        assert kind == "mastodon", exc
        return
    assert list(page.posts) == []


@pytest.mark.parametrize("kind", sorted(set(SOURCES) - {"rss"}))
@settings(max_examples=40, deadline=None)
@given(
    data=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "id",
                        "uri",
                        "data",
                        "items",
                        "posts",
                        "children",
                        "record",
                        "text",
                        "snippet",
                        "name",
                        "created_at",
                        "content",
                        "version",
                        "hits",
                        "objectID",
                        "title",
                        "meta",
                        "account",
                        "author",
                    ]
                ),
                inner,
                max_size=6,
            )
        ),
        max_leaves=25,
    )
)
def test_arbitrary_json_raises_nothing_but_source_errors(kind: str, data: object) -> None:
    source = source_for(kind)
    try:
        page = source.parse(
            json.dumps(data).encode(),
            url="https://x.example/",
            content_type=None,
            fetched_at=NOW,
            state=state_for(kind),
        )
    except SourceError:
        return
    # Whatever gets through is well-formed: text, an id, an aware time.
    for post in page.posts:
        assert isinstance(post.text, str) and post.text
        assert isinstance(post.external_id, str) and post.external_id
        assert post.published_at.tzinfo is not None


@pytest.mark.parametrize(
    ("kind", "options", "message"),
    [
        ("mastodon", {"instance": "https://m.example"}, "needs hashtag"),
        (
            "reddit",
            {
                "subreddit": "bangtan",
                "client_id_env": "A",
                "client_secret_env": "B",
                "user_agent": "python-requests",
            },
            "Reddit requires",
        ),
        ("bluesky", {"query": "x", "handle_env": "lower-case", "password_env": "P"}, "handle_env"),
        (
            "json",
            {"url": "https://x.example", "mapping": {"items": "[[", "id": "a", "text": "b"}},
            "JMESPath",
        ),
        ("rss", {"url": "wss://x.example"}, "jetstream"),
    ],
)
def test_bad_options_are_rejected_with_a_message(kind: str, options: dict, message: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as info:
        FeedConfig.model_validate({"name": "f", "kind": kind, **options})
    assert message in str(info.value)
