"""Mastodon hashtag timelines on two instances served on 127.0.0.1, polled by the real
pipeline; the same post on both instances is one post."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from monitor import pipeline
from tests.sources.apiserver import ApiServer, Request, Response, running_api_server
from tests.sources.fixtures import (
    FAN_TEXTS,
    NOW,
    UNRELATED,
    feed_row,
    mastodon_status,
    mention_count,
    mentioned_ids,
    start_runtime,
    stored_ids,
    stored_post,
)

TAG_PATH = "/api/v1/timelines/tag/LoveLetter"


@pytest.fixture
def api() -> Iterator[ApiServer]:
    with running_api_server() as server:
        yield server


def test_two_instances_paging_boosts_and_forward_polls(
    tmp_path: Path, database_url: str, api: ApiServer
) -> None:
    # Instance A: newest page with a Link to an older page; the older page has a boost.
    shared = mastodon_status("fan.example", 1, FAN_TEXTS[0], minutes_ago=30)
    page1 = [
        mastodon_status("a.example", 3, FAN_TEXTS[1], minutes_ago=10, edited=True),
        mastodon_status("a.example", 2, FAN_TEXTS[2], minutes_ago=20, lang="ko"),
        mastodon_status("a.example", 9, UNRELATED, minutes_ago=21, local_id="113456789012344999"),
    ]
    boost = mastodon_status(
        "a.example", 4, "", minutes_ago=25, reblog=shared, local_id="113456789012344998"
    )
    page2 = [boost, shared]
    newer = [mastodon_status("a.example", 5, FAN_TEXTS[4], minutes_ago=1)]

    @api.route("GET", "/a" + TAG_PATH)
    def instance_a(request: Request) -> Response:
        api.check(request.query.get("limit") == "40", f"limit: {request.query}")
        api.check("authorization" not in request.headers, "anonymous instance got a token")
        if "min_id" in request.query:
            api.check(request.query["min_id"] == page1[0]["id"], f"min_id {request.query}")
            return Response(body=newer if request.query["min_id"] == page1[0]["id"] else [])
        if request.query.get("max_id") == "older":
            return Response(body=page2)
        link = f'<{api.url("/a" + TAG_PATH)}?limit=40&max_id=older>; rel="next", '
        link += f'<{api.url("/a" + TAG_PATH)}?limit=40&min_id={page1[0]["id"]}>; rel="prev"'
        return Response(body=page1, headers={"Link": link})

    # Instance B knows the shared post under its own local id, and needs a token.
    shared_on_b = mastodon_status("fan.example", 1, FAN_TEXTS[0], minutes_ago=30, local_id="77")

    @api.route("GET", "/b" + TAG_PATH)
    def instance_b(request: Request) -> Response:
        if request.headers.get("authorization") != "Bearer token-b-secret":
            return Response(401, {"error": "The access token is invalid"})
        return Response(body=[shared_on_b])

    runtime = start_runtime(
        tmp_path,
        database_url,
        [
            {
                "name": "masto-a",
                "kind": "mastodon",
                "instance": api.url("/a"),
                "hashtag": "#LoveLetter",
            },
            {
                "name": "masto-b",
                "kind": "mastodon",
                "instance": api.url("/b"),
                "hashtag": "LoveLetter",
                "token_env": "MASTO_B_TOKEN",
            },
        ],
    )
    env = {"MASTO_B_TOKEN": "token-b-secret"}
    try:
        outcome = pipeline.poll_feed(runtime, feed_row(runtime, "masto-a").id, now=NOW, environ=env)
        assert outcome.status == "stored", outcome.error
        assert api.problems == [], [(r.path, r.query) for r in api.requests]
        uri = lambda host, n: f"https://{host}/users/fan{n}/statuses/{113456789012345000 + n}"  # noqa: E731
        # The unrelated status is not stored; the boost is stored without a mention.
        assert stored_ids(runtime) == sorted(
            [uri("a.example", 2), uri("a.example", 3), uri("a.example", 4), shared["uri"]]
        )
        assert mentioned_ids(runtime) == sorted(
            [uri("a.example", 2), uri("a.example", 3), shared["uri"]]
        )
        korean = stored_post(runtime, uri("a.example", 2))
        assert korean.lang == "ko" and korean.text.startswith("뷔 러브레터")
        edited = stored_post(runtime, uri("a.example", 3))
        assert edited.text.startswith("Taehyung's Love Letter cover & IU's smile <3")
        assert "edited" in edited.flags and edited.likes == 15 and edited.raw["id"]
        original = stored_post(runtime, shared["uri"])
        assert original.reposts == 3 + 1  # the network's count, plus the boost seen here
        booster = stored_post(runtime, uri("a.example", 4))
        assert booster.repost_of == shared["uri"]
        assert feed_row(runtime, "masto-a").cursor == page1[0]["id"]
        mentions = mention_count(runtime)

        # Instance B: the same post under another local id is not a second post or mention.
        outcome = pipeline.poll_feed(runtime, feed_row(runtime, "masto-b").id, now=NOW, environ=env)
        assert outcome.status == "stored", outcome.error
        assert outcome.new_posts == 0 and mention_count(runtime) == mentions

        # Next poll of A reads forward from the stored newest id and stores only the new one.
        later = NOW + timedelta(minutes=10)
        outcome = pipeline.poll_feed(runtime, feed_row(runtime, "masto-a").id, now=later)
        assert outcome.status == "stored", outcome.error
        assert outcome.new_posts == 1 and mention_count(runtime) == mentions + 1
        assert feed_row(runtime, "masto-a").cursor == newer[0]["id"]
        assert api.problems == []
        # Re-polling the same pages again adds nothing.
        outcome = pipeline.poll_feed(
            runtime, feed_row(runtime, "masto-a").id, now=later + timedelta(minutes=10)
        )
        assert outcome.new_posts == 0 and mention_count(runtime) == mentions + 1
    finally:
        runtime.close()


def test_restricted_instance_is_reported_not_quiet(tmp_path: Path, api: ApiServer) -> None:
    api.routes[("GET", "/empty" + TAG_PATH)] = lambda request: Response(body=[])
    api.routes[("GET", "/locked" + TAG_PATH)] = lambda request: Response(
        401, {"error": "This API requires an authenticated user"}
    )
    runtime = start_runtime(
        tmp_path,
        f"sqlite:///{tmp_path / 'm.db'}",
        [
            {
                "name": "empty",
                "kind": "mastodon",
                "instance": api.url("/empty"),
                "hashtag": "LoveLetter",
            },
            {
                "name": "locked",
                "kind": "mastodon",
                "instance": api.url("/locked"),
                "hashtag": "LoveLetter",
                "token_env": "LOCKED_TOKEN",
            },
        ],
    )
    try:
        empty = pipeline.poll_feed(runtime, feed_row(runtime, "empty").id, now=NOW, environ={})
        assert empty.status == "failed" and "token_env" in (empty.error or "")
        missing = pipeline.poll_feed(runtime, feed_row(runtime, "locked").id, now=NOW, environ={})
        assert missing.status == "failed" and "LOCKED_TOKEN" in (missing.error or "")
        locked = pipeline.poll_feed(
            runtime,
            feed_row(runtime, "locked").id,
            now=NOW + timedelta(hours=1),
            environ={"LOCKED_TOKEN": "wrong-token-value"},
        )
        assert locked.status == "failed" and "HTTP 401" in (locked.error or "")
        row = feed_row(runtime, "locked")
        assert row.consecutive_failures == 2 and "wrong-token-value" not in row.last_error
        assert api.hits("GET", "/locked" + TAG_PATH)[-1].headers["authorization"] == (
            "Bearer wrong-token-value"
        )
    finally:
        runtime.close()


def test_count_reposts_switch_counts_a_boost_as_a_mention(tmp_path: Path, api: ApiServer) -> None:
    shared = mastodon_status("fan.example", 1, FAN_TEXTS[0], minutes_ago=30)
    boost = mastodon_status("a.example", 4, "", minutes_ago=5, reblog=shared, local_id="20")
    api.routes[("GET", "/a" + TAG_PATH)] = lambda request: Response(body=[boost])
    runtime = start_runtime(
        tmp_path,
        f"sqlite:///{tmp_path / 'b.db'}",
        [{"name": "masto", "kind": "mastodon", "instance": api.url("/a"), "hashtag": "LoveLetter"}],
        topics_extra="count_reposts = true",
    )
    try:
        outcome = pipeline.poll_feed(runtime, feed_row(runtime, "masto").id, now=NOW)
        assert outcome.status == "stored", outcome.error
        boost_uri = "https://a.example/users/fan4/statuses/113456789012345004"
        # love-letter counts reposts: the boost is a mention of it, love-wins-all is not.
        assert mentioned_ids(runtime) == sorted([boost_uri, shared["uri"]])
        assert mention_count(runtime) == 2 + 1
    finally:
        runtime.close()
