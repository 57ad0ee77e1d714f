"""The Jetstream consumer against a real WebSocket server on 127.0.0.1: local filtering,
a dropped connection, resume from the stored cursor (rewound), no duplicate mentions."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from websockets.sync.server import ServerConnection, serve

from monitor.sources.jetstream import parse_event, subscribe_url
from monitor.stream import backoff_seconds, run_jetstream
from tests.sources.fixtures import (
    FAN_TEXTS,
    NOW,
    UNRELATED,
    feed_row,
    iso,
    mention_count,
    start_runtime,
    stored_ids,
)

BASE_US = int(NOW.timestamp() * 1_000_000)


def event(number: int, text: str, *, operation: str = "create", collection: str | None = None):
    return json.dumps(
        {
            "did": f"did:plc:fan{number}",
            "time_us": BASE_US + number * 1_000_000,
            "kind": "commit",
            "commit": {
                "rev": "3l",
                "operation": operation,
                "collection": collection or "app.bsky.feed.post",
                "rkey": f"3kjet{number:04d}",
                "record": {
                    "$type": "app.bsky.feed.post",
                    "text": text,
                    "createdAt": iso(NOW - timedelta(seconds=30 - number)),
                    "langs": ["en"],
                },
                "cid": f"bafy{number}",
            },
        }
    )


def test_parse_event_and_subscribe_url() -> None:
    post, time_us = parse_event(event(1, FAN_TEXTS[0]), fetched_at=NOW)
    assert post is not None and post.external_id == "at://did:plc:fan1/app.bsky.feed.post/3kjet0001"
    assert time_us == BASE_US + 1_000_000 and post.network == "bluesky"
    assert parse_event(event(2, "x", operation="delete"), fetched_at=NOW)[0] is None
    assert parse_event(event(3, "x", collection="app.bsky.feed.like"), fetched_at=NOW)[0] is None
    assert parse_event(b"\xff not json", fetched_at=NOW) == (None, None)
    url = subscribe_url("ws://127.0.0.1:1/subscribe", 10_000_000)
    assert parse_qs(urlsplit(url).query) == {
        "wantedCollections": ["app.bsky.feed.post"],
        "cursor": ["5000000"],
    }
    assert 0 < backoff_seconds(30) <= 300


def test_consumer_survives_a_drop_and_resumes_from_its_cursor(
    tmp_path: Path, database_url: str
) -> None:
    connections: list[dict[str, list[str]]] = []
    first_batch = [
        event(1, FAN_TEXTS[0]),
        event(2, UNRELATED),
        event(3, FAN_TEXTS[4]),
        event(4, "gone", operation="delete"),
        "not json at all",
    ]
    second_batch = [event(3, FAN_TEXTS[4]), event(5, FAN_TEXTS[5])]

    def handler(connection: ServerConnection) -> None:
        connections.append(parse_qs(urlsplit(connection.request.path).query))
        if len(connections) == 1:
            for message in first_batch:
                connection.send(message)
            time.sleep(1.5)  # let the consumer store its batch, then drop without a close
            connection.socket.close()
            return
        if len(connections) == 2:
            connection.socket.close()  # a second drop straight away
            return
        for message in second_batch:  # overlaps the rewound window
            connection.send(message)
        time.sleep(2)

    server = serve(handler, "127.0.0.1", 0)
    port = server.socket.getsockname()[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    runtime = start_runtime(
        tmp_path,
        database_url,
        [{"name": "jetstream", "kind": "jetstream", "url": f"ws://127.0.0.1:{port}/subscribe"}],
    )
    stop = threading.Event()
    results = {}
    consumer = threading.Thread(
        target=lambda: results.setdefault(
            "stats", run_jetstream(runtime, stop=stop, batch_seconds=0.3, backoff_base_seconds=0.05)
        ),
        daemon=True,
    )
    consumer.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(stored_ids(runtime)) < 3:
            time.sleep(0.2)
        time.sleep(0.8)
    finally:
        stop.set()
        consumer.join(timeout=10)
        server.shutdown()
    try:
        assert not consumer.is_alive()
        assert stored_ids(runtime) == [
            f"at://did:plc:fan{n}/app.bsky.feed.post/3kjet{n:04d}" for n in (1, 3, 5)
        ]
        # fan1: love-letter + love-wins-all; fan3: love-letter; fan5: love-wins-all (+ V)
        assert mention_count(runtime) == 4
        assert connections[0] == {"wantedCollections": ["app.bsky.feed.post"]}
        # Resumed from the stored cursor (the delete, the last event read), rewound 5 s.
        resumed = int(connections[2]["cursor"][0])
        assert resumed == BASE_US + 4_000_000 - 5_000_000
        stats = results["stats"]
        assert stats.failures >= 2 and stats.connections >= 3
        row = feed_row(runtime, "jetstream")
        assert row.cursor == str(BASE_US + 5_000_000) and row.consecutive_failures == 0
    finally:
        runtime.close()
