"""Reddit (OAuth client credentials, fullname paging, rate-limit headers, 403) and Bluesky
search (one session, refreshSession, stop at stored posts) against 127.0.0.1 servers."""

from __future__ import annotations

import base64
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
    bluesky_hit,
    feed_row,
    jwt,
    mention_count,
    mentioned_ids,
    reddit_listing,
    reddit_thing,
    start_runtime,
    stored_ids,
    stored_post,
)

AGENT = "server:fan-monitor:0.1 (by /u/fixture_user)"
REDDIT_ENV = {"REDDIT_ID": "client-id-1", "REDDIT_SECRET": "client-secret-xyz"}


@pytest.fixture
def api() -> Iterator[ApiServer]:
    with running_api_server() as server:
        yield server


def reddit_feed(api: ApiServer, **extra: object) -> dict[str, object]:
    return {
        "name": "reddit-bangtan",
        "kind": "reddit",
        "subreddit": "bangtan",
        "api_base": api.url(),
        "client_id_env": "REDDIT_ID",
        "client_secret_env": "REDDIT_SECRET",
        "user_agent": AGENT,
        **extra,
    }


def test_reddit_token_once_fullname_paging_crossposts_and_rate_limit(
    tmp_path: Path, database_url: str, api: ApiServer
) -> None:
    expected_basic = "Basic " + base64.b64encode(b"client-id-1:client-secret-xyz").decode()

    @api.route("POST", "/api/v1/access_token")
    def token(request: Request) -> Response:
        api.check(request.headers.get("authorization") == expected_basic, "basic auth")
        api.check(request.headers.get("user-agent") == AGENT, "user agent on token request")
        api.check(request.body == b"grant_type=client_credentials", f"body {request.body!r}")
        return Response(
            body={
                "access_token": "reddit-token-abc",
                "token_type": "bearer",
                "expires_in": 86400,
                "scope": "*",
            }
        )

    first = [
        reddit_thing(5, FAN_TEXTS[0], minutes_ago=1),
        reddit_thing(4, FAN_TEXTS[4], minutes_ago=2, crosspost_parent="t3_1abc3"),
    ]
    second = [
        reddit_thing(3, FAN_TEXTS[5], minutes_ago=3, edited=1755684900.0, author="army\x003"),
        reddit_thing(
            2, "[deleted] Love Letter V", minutes_ago=4, selftext="[removed]", author="[deleted]"
        ),
        reddit_thing(1, UNRELATED, minutes_ago=5),
    ]
    newest = [reddit_thing(6, FAN_TEXTS[1], minutes_ago=0)]
    state = {"poll": 1}

    @api.route("GET", "/r/bangtan/new")
    def listing(request: Request) -> Response:
        api.check(request.headers.get("authorization") == "bearer reddit-token-abc", "bearer")
        api.check(request.headers.get("user-agent") == AGENT, "user agent")
        api.check(request.query.get("limit") == "100", f"limit {request.query}")
        headers = {
            "X-Ratelimit-Used": "3",
            "X-Ratelimit-Remaining": "97",
            "X-Ratelimit-Reset": "300",
        }
        if state["poll"] == 2:
            # The window is used up: the page is kept, the next poll waits for the reset.
            headers["X-Ratelimit-Remaining"] = "0"
            return Response(body=reddit_listing([*newest, *first], "t3_1abc4"), headers=headers)
        if request.query.get("after") == "t3_1abc4":
            return Response(body=reddit_listing(second, None), headers=headers)
        api.check("after" not in request.query, f"unexpected after {request.query}")
        return Response(body=reddit_listing(first, "t3_1abc4"), headers=headers)

    runtime = start_runtime(tmp_path, database_url, [reddit_feed(api)])
    try:
        feed_id = feed_row(runtime, "reddit-bangtan").id
        outcome = pipeline.poll_feed(runtime, feed_id, now=NOW, environ=REDDIT_ENV)
        assert outcome.status == "stored", outcome.error
        assert api.problems == []
        assert stored_ids(runtime) == ["t3_1abc2", "t3_1abc3", "t3_1abc4", "t3_1abc5"]
        # The crosspost is stored but is not a mention; it adds to its original.
        assert mentioned_ids(runtime) == ["t3_1abc2", "t3_1abc3", "t3_1abc5"]
        assert stored_post(runtime, "t3_1abc4").repost_of == "t3_1abc3"
        deleted = stored_post(runtime, "t3_1abc2")
        assert "deleted" in deleted.flags and deleted.text == "[deleted] Love Letter V"
        assert "edited" in stored_post(runtime, "t3_1abc3").flags
        assert stored_post(runtime, "t3_1abc3").author == "army3"  # NUL dropped
        row = feed_row(runtime, "reddit-bangtan")
        assert row.cursor == "t3_1abc5" and row.rate_limit.startswith("97")
        state["poll"] = 2
        later = NOW + timedelta(minutes=10)
        outcome = pipeline.poll_feed(runtime, feed_id, now=later, environ=REDDIT_ENV)
        assert outcome.status == "stored" and outcome.new_posts == 1
        assert len(api.hits("POST", "/api/v1/access_token")) == 1  # token kept
        # Stopped at the stored posts: no request with after=, and waits for the reset.
        assert len(api.hits("GET", "/r/bangtan/new")) == 3
        row = feed_row(runtime, "reddit-bangtan")
        assert row.cursor == "t3_1abc6"
        assert row.next_poll_at >= later + timedelta(seconds=300)
        assert api.problems == []
    finally:
        runtime.close()


def test_reddit_403_reports_credentials_needed_and_secrets_stay_out(
    tmp_path: Path, api: ApiServer
) -> None:
    api.routes[("POST", "/api/v1/access_token")] = lambda r: Response(
        body={"access_token": "tok-forbidden-123", "expires_in": 3600}
    )
    api.routes[("GET", "/r/bangtan/new")] = lambda r: Response(
        403, {"message": "Forbidden", "error": 403}
    )
    runtime = start_runtime(tmp_path, f"sqlite:///{tmp_path / 'r.db'}", [reddit_feed(api)])
    try:
        feed_id = feed_row(runtime, "reddit-bangtan").id
        outcome = pipeline.poll_feed(runtime, feed_id, now=NOW, environ=REDDIT_ENV)
        assert outcome.status == "failed"
        row = feed_row(runtime, "reddit-bangtan")
        assert "credentials needed" in row.last_error and row.cursor is None
        assert "client-secret-xyz" not in row.last_error
        # A refused token request is also reported, not a crash.
        api.routes[("POST", "/api/v1/access_token")] = lambda r: Response(
            401, {"message": "Unauthorized"}
        )
        with runtime.sessions() as session:  # force a new token request
            from monitor.storage import queries

            queries.save_auth_state(session, feed_id, None)
            session.commit()
        outcome = pipeline.poll_feed(
            runtime, feed_id, now=NOW + timedelta(hours=1), environ=REDDIT_ENV
        )
        assert outcome.status == "failed" and "credentials refused" in (outcome.error or "")
    finally:
        runtime.close()


def bluesky_feed(api: ApiServer) -> dict[str, object]:
    return {
        "name": "bsky-search",
        "kind": "bluesky",
        "query": '"Love Letter" V',
        "api_base": api.url(),
        "handle_env": "BSKY_HANDLE",
        "password_env": "BSKY_APP_PASSWORD",
        "page_size": 2,
    }


BSKY_ENV = {"BSKY_HANDLE": "monitor.bsky.social", "BSKY_APP_PASSWORD": "app-pass-1234"}


def test_bluesky_one_session_refresh_and_stop_at_stored(
    tmp_path: Path, database_url: str, api: ApiServer
) -> None:
    sessions = {"access": jwt(NOW + timedelta(hours=2)), "refresh": jwt(NOW + timedelta(days=60))}

    @api.route("POST", "/xrpc/com.atproto.server.createSession")
    def create(request: Request) -> Response:
        api.check(
            request.json() == {"identifier": "monitor.bsky.social", "password": "app-pass-1234"},
            f"login body {request.body!r}",
        )
        return Response(
            body={
                "accessJwt": sessions["access"],
                "refreshJwt": sessions["refresh"],
                "did": "did:plc:monitor",
                "handle": "monitor.bsky.social",
            }
        )

    @api.route("POST", "/xrpc/com.atproto.server.refreshSession")
    def refresh(request: Request) -> Response:
        api.check(
            request.headers.get("authorization") == f"Bearer {sessions['refresh']}", "refresh token"
        )
        sessions["access"] = jwt(NOW + timedelta(days=1), subject="refreshed")
        return Response(
            body={
                "accessJwt": sessions["access"],
                "refreshJwt": sessions["refresh"],
                "did": "did:plc:monitor",
            }
        )

    hits = [
        bluesky_hit(6, FAN_TEXTS[0] + " (new)", minutes_ago=0),
        bluesky_hit(5, FAN_TEXTS[0], minutes_ago=1),
        bluesky_hit(4, FAN_TEXTS[3], minutes_ago=2, langs=["ja"]),
        bluesky_hit(3, FAN_TEXTS[4], minutes_ago=3),
        bluesky_hit(2, UNRELATED, minutes_ago=4),
    ]
    visible = {"from": 1}

    @api.route("GET", "/xrpc/app.bsky.feed.searchPosts")
    def search(request: Request) -> Response:
        api.check(
            request.headers.get("authorization") == f"Bearer {sessions['access']}",
            f"access token {request.headers.get('authorization')}",
        )
        api.check(request.query.get("sort") == "latest", "sort")
        api.check(request.query.get("q") == '"Love Letter" V', "q")
        api.check(request.query.get("limit") == "2", "limit")
        if visible["from"] == 0:  # later polls search from the stored time minus 10 minutes
            newest = (NOW - timedelta(minutes=n) for n in (1, 0))  # after poll 1, after poll 2
            allowed = {(t - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ") for t in newest}
            api.check(request.query.get("since") in allowed, f"since {request.query}")
        else:
            api.check("since" not in request.query, "first poll has no since")
        start = int(request.query.get("cursor", visible["from"]))
        page = hits[start : start + 2]
        cursor = str(start + 2) if start + 2 < len(hits) else None
        return Response(body={"posts": page, "cursor": cursor, "hitsTotal": len(hits)})

    runtime = start_runtime(tmp_path, database_url, [bluesky_feed(api)])
    try:
        feed_id = feed_row(runtime, "bsky-search").id
        outcome = pipeline.poll_feed(runtime, feed_id, now=NOW, environ=BSKY_ENV)
        assert outcome.status == "stored", outcome.error
        uris = [hit["uri"] for hit in hits]
        assert stored_ids(runtime) == sorted(uris[1:4])
        assert stored_post(runtime, uris[2]).lang == "ja"
        assert stored_post(runtime, uris[1]).url == (
            "https://bsky.app/profile/fan5.bsky.social/post/3kxyz0005"
        )
        # A new post appears on top: the next poll stops at the first stored post.
        visible["from"] = 0
        outcome = pipeline.poll_feed(
            runtime, feed_id, now=NOW + timedelta(minutes=5), environ=BSKY_ENV
        )
        assert outcome.status == "stored" and outcome.new_posts == 1, outcome
        assert len(api.hits("GET", "/xrpc/app.bsky.feed.searchPosts")) == 2 + 1
        assert len(api.hits("POST", "/xrpc/com.atproto.server.createSession")) == 1
        # After the access token expires, the session is refreshed, not created again.
        outcome = pipeline.poll_feed(
            runtime, feed_id, now=NOW + timedelta(hours=3), environ=BSKY_ENV
        )
        assert outcome.status == "stored", outcome.error
        assert len(api.hits("POST", "/xrpc/com.atproto.server.createSession")) == 1
        assert len(api.hits("POST", "/xrpc/com.atproto.server.refreshSession")) == 1
        assert mention_count(runtime) == 4 * 2 - 1  # love-letter x4, love-wins-all x3
        assert api.problems == []
    finally:
        runtime.close()


def test_a_crosspost_of_an_unseen_original_is_a_mention(tmp_path: Path, api: ApiServer) -> None:
    api.routes[("POST", "/api/v1/access_token")] = lambda r: Response(
        body={"access_token": "t", "expires_in": 3600}
    )
    api.routes[("GET", "/r/bangtan/new")] = lambda r: Response(
        body=reddit_listing(
            [reddit_thing(7, FAN_TEXTS[4], minutes_ago=1, crosspost_parent="t3_elsewhere")],
            None,
        )
    )
    runtime = start_runtime(tmp_path, f"sqlite:///{tmp_path / 'c.db'}", [reddit_feed(api)])
    try:
        outcome = pipeline.poll_feed(
            runtime, feed_row(runtime, "reddit-bangtan").id, now=NOW, environ=REDDIT_ENV
        )
        assert outcome.status == "stored", outcome.error
        assert mentioned_ids(runtime) == ["t3_1abc7"] and outcome.new_mentions == 1
    finally:
        runtime.close()
