"""Failures of paged API polls: each is recorded on its feed, nothing crashes, nothing is
lost, and the next good poll resumes at the right cursor; a dead source raises a source
alert that a recovery clears."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from monitor import pipeline
from monitor.health import check_sources
from monitor.storage.engine import session_scope
from monitor.storage.tables import AlertRow
from tests.conftest import free_port
from tests.sources.apiserver import ApiServer, Request, Response, running_api_server
from tests.sources.fixtures import (
    FAN_TEXTS,
    NOW,
    feed_row,
    mention_count,
    reddit_listing,
    reddit_thing,
    start_runtime,
    stored_ids,
)

AGENT = "server:fan-monitor:0.1 (by /u/fixture_user)"
ENV = {"RID": "id", "RSECRET": "secret-value"}


@pytest.fixture
def api() -> Iterator[ApiServer]:
    with running_api_server() as server:
        yield server


def feed(api: ApiServer, name: str = "r", **extra: object) -> dict[str, object]:
    return {
        "name": name,
        "kind": "reddit",
        "subreddit": "bangtan",
        "api_base": api.url(),
        "client_id_env": "RID",
        "client_secret_env": "RSECRET",
        "user_agent": AGENT,
        **extra,
    }


def test_failure_on_a_later_page_stores_nothing_and_the_next_poll_resumes(
    tmp_path: Path, database_url: str, api: ApiServer
) -> None:
    api.routes[("POST", "/api/v1/access_token")] = lambda r: Response(
        body={"access_token": "t", "expires_in": 3600}
    )
    first = [reddit_thing(5, FAN_TEXTS[0], minutes_ago=1)]
    second = [reddit_thing(4, FAN_TEXTS[4], minutes_ago=2)]
    third = [reddit_thing(3, FAN_TEXTS[5], minutes_ago=3)]
    faults: dict[str, Response | None] = {"p2": None}

    @api.route("GET", "/r/bangtan/new")
    def listing(request: Request) -> Response:
        after = request.query.get("after")
        if after == "t3_1abc5":
            return faults["p2"] or Response(body=reddit_listing(second, "t3_1abc4"))
        if after == "t3_1abc4":
            # A server that hands out the same cursor again must not loop the poll.
            return Response(body=reddit_listing(third, "t3_1abc4"))
        return Response(body=reddit_listing(first, "t3_1abc5"))

    runtime = start_runtime(
        tmp_path,
        database_url,
        [feed(api)],
        fetch={"read_timeout_seconds": 1, "max_body_bytes": 2048},
    )
    feed_id = feed_row(runtime, "r").id
    try:
        cases = [
            Response(429, {"message": "slow down"}, headers={"Retry-After": "120"}),
            Response(500, b"internal error"),
            Response(body=b'{"kind": "Listing", "data": '),  # truncated JSON
            Response(body={"kind": "Listing", "data": {"children": "none"}}),  # wrong shape
            Response(body=b"x" * 3000, headers={"X-Pad": "1"}),  # over the size cap
            Response(body=reddit_listing(second, None), delay_seconds=3),  # stalled
        ]
        now = NOW
        for number, fault in enumerate(cases, start=1):
            faults["p2"] = fault
            outcome = pipeline.poll_feed(runtime, feed_id, now=now, environ=ENV)
            assert outcome.status == "failed", (number, outcome)
            row = feed_row(runtime, "r")
            assert row.consecutive_failures == number and row.cursor is None
            assert stored_ids(runtime) == [] and mention_count(runtime) == 0
            if number == 1:
                assert row.next_poll_at >= now + timedelta(seconds=120)
                assert "rate limited" in row.last_error
            now += timedelta(hours=7)
        faults["p2"] = None
        outcome = pipeline.poll_feed(runtime, feed_id, now=now, environ=ENV)
        assert outcome.status == "stored", outcome.error
        assert stored_ids(runtime) == ["t3_1abc3", "t3_1abc4", "t3_1abc5"]
        row = feed_row(runtime, "r")
        assert row.cursor == "t3_1abc5" and row.consecutive_failures == 0
        # The repeated cursor stopped the poll after three pages.
        assert (
            len(
                [r for r in api.hits("GET", "/r/bangtan/new") if r.query.get("after") == "t3_1abc4"]
            )
            == 1
        )
    finally:
        runtime.close()


def test_dead_source_raises_a_source_alert_and_recovery_clears_it(
    tmp_path: Path, api: ApiServer
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    runtime = start_runtime(
        tmp_path,
        f"sqlite:///{tmp_path / 'a.db'}",
        [
            {
                "name": "dead",
                "kind": "jsonfeed",
                "url": dead + "/feed.json",
                "alert_after_failures": 3,
                "alert_after_silent_hours": 2,
            }
        ],
    )
    feed_id = feed_row(runtime, "dead").id

    def alerts() -> list[tuple[str, str, int | None]]:
        with session_scope(runtime.sessions) as session:
            return [(a.kind, a.status, a.feed_id) for a in session.scalars(select(AlertRow))]

    try:
        now = NOW
        for _ in range(2):
            assert pipeline.poll_feed(runtime, feed_id, now=now).status == "failed"
            now += timedelta(hours=7)
        assert alerts() == []
        assert pipeline.poll_feed(runtime, feed_id, now=now).status == "failed"
        assert alerts() == [("source", "open", feed_id)]
        with session_scope(runtime.sessions) as session:
            reason = session.scalar(select(AlertRow.reason))
        assert "3 failed polls in a row" in reason and "ConnectError" in reason
        # The source comes back: the alert resolves.
        body = {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "t",
            "items": [
                {
                    "id": "1",
                    "content_text": FAN_TEXTS[0],
                    "date_published": (now + timedelta(hours=7)).isoformat(),
                }
            ],
        }
        api.routes[("GET", "/feed.json")] = lambda r: Response(body=body)
        with session_scope(runtime.sessions) as session:
            from monitor.storage.tables import Feed

            session.get(Feed, feed_id).target = api.url("/feed.json")
        assert pipeline.poll_feed(runtime, feed_id, now=now + timedelta(hours=7)).status == (
            "stored"
        )
        assert alerts() == [("source", "resolved", feed_id)]
        # Silent for longer than configured: a new source alert, from the periodic check.
        with session_scope(runtime.sessions) as session:
            actions = check_sources(session, runtime.config, now=now + timedelta(hours=10))
        assert actions == {"dead": "open"}
        assert sorted(alerts()) == [("source", "open", feed_id), ("source", "resolved", feed_id)]
    finally:
        runtime.close()


def test_polls_per_host_cap_spreads_feeds_of_one_host_over_ticks(tmp_path: Path) -> None:
    from monitor.storage import queries

    runtime = start_runtime(
        tmp_path,
        f"sqlite:///{tmp_path / 'h.db'}",
        [
            {"name": f"f{n}", "kind": "jsonfeed", "url": f"http://api.example/{n}.json"}
            for n in range(3)
        ]
        + [{"name": "other", "kind": "jsonfeed", "url": "http://other.example/f.json"}],
        fetch={"max_polls_per_host": 1},
    )
    try:
        first = pipeline.dispatch_due_feeds(runtime, now=NOW)
        ids = {feed_row(runtime, name).id: name for name in ("f0", "f1", "f2", "other")}
        assert sorted(ids[i] for i in first) == ["f0", "other"]
        # f0 is being polled (leased): nothing more for api.example on the next tick.
        with session_scope(runtime.sessions) as session:
            assert queries.claim_feed(session, first[0], now=NOW, lease=timedelta(minutes=3))
        assert pipeline.dispatch_due_feeds(runtime, now=NOW + timedelta(seconds=5)) == []
        # Its poll ends (lease released): the next feed of the host goes.
        with session_scope(runtime.sessions) as session:
            queries.record_poll_failure(
                session, first[0], now=NOW, error="x", next_poll_at=NOW + timedelta(hours=1)
            )
        assert [ids[i] for i in pipeline.dispatch_due_feeds(runtime, now=NOW)] == ["f1"]
    finally:
        runtime.close()
