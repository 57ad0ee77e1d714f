"""Done-when check: one feed of every kind, pointed at fixture servers on 127.0.0.1, polled
by a real Celery worker and beat on Redis into PostgreSQL, plus the Jetstream consumer as
its own process; exactly the expected posts and mentions are stored, `monitor feeds` shows
their health, and a feed on a dead port raises a source alert."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from websockets.sync.server import ServerConnection, serve

from monitor.storage.engine import make_engine, make_session_factory
from monitor.storage.migrate import upgrade
from monitor.storage.tables import AlertRow, MentionRow, PostRow
from tests.conftest import REPO, free_port
from tests.processes import processes_env, start, stop, wait_for
from tests.sources.apiserver import Request, Response, running_api_server
from tests.sources.fixtures import (
    FAN_TEXTS,
    NOW,
    UNRELATED,
    bluesky_hit,
    iso,
    jwt,
    mastodon_status,
    reddit_listing,
    reddit_thing,
    write_feeds_config,
    x_tweet,
    youtube_thread,
)
from tests.sources.test_jetstream import event

pytestmark = pytest.mark.integration

SECRETS = {
    "MASTO_TOKEN": "masto-token-1",
    "BSKY_HANDLE": "me.bsky.social",
    "BSKY_PASSWORD": "app-password-1",
    "REDDIT_ID": "rid",
    "REDDIT_SECRET": "rsecret-1",
    "YT_KEY": "yt-key-1",
    "X_BEARER": "x-bearer-1",
}


def rss_body() -> bytes:
    return f"""<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>
<title>news</title><link>http://127.0.0.1/</link><description>d</description>
<item><guid>https://news.example/1</guid><title>{FAN_TEXTS[5]}</title>
<pubDate>{NOW.strftime("%a, %d %b %Y %H:%M:%S +0000")}</pubDate></item>
<item><guid>https://news.example/2</guid><title>{UNRELATED}</title></item>
</channel></rss>""".encode()


def test_worker_polls_every_kind_and_the_stream_consumer_stores_bluesky(
    tmp_path: Path, postgres_url: str, redis_url: str
) -> None:
    with running_api_server() as api:
        api.routes[("GET", "/rss.xml")] = lambda r: Response(
            body=rss_body(), headers={"Content-Type": "application/rss+xml"}
        )
        api.routes[("GET", "/feed.json")] = lambda r: Response(
            body={
                "version": "https://jsonfeed.org/version/1.1",
                "title": "blog",
                "items": [
                    {
                        "id": "https://blog.example/1",
                        "content_text": FAN_TEXTS[4],
                        "date_published": iso(NOW),
                    }
                ],
            }
        )
        api.routes[("GET", "/hn")] = lambda r: Response(
            body={
                "hits": [
                    {"objectID": "41", "title": FAN_TEXTS[0], "created_at_i": int(NOW.timestamp())},
                    {"objectID": "42", "title": UNRELATED},
                ]
            }
        )

        def mastodon(request: Request) -> Response:
            if request.headers.get("authorization") != "Bearer masto-token-1":
                return Response(401, {"error": "This API requires an authenticated user"})
            if "min_id" in request.query:
                return Response(body=[])
            return Response(body=[mastodon_status("fan.example", 1, FAN_TEXTS[1], minutes_ago=3)])

        api.routes[("GET", "/masto/api/v1/timelines/tag/LoveLetter")] = mastodon
        api.routes[("POST", "/xrpc/com.atproto.server.createSession")] = lambda r: Response(
            body={
                "accessJwt": jwt(NOW.replace(year=NOW.year + 1)),
                "refreshJwt": "r",
                "did": "did:plc:me",
            }
        )
        api.routes[("GET", "/xrpc/app.bsky.feed.searchPosts")] = lambda r: Response(
            body={"posts": [bluesky_hit(7, FAN_TEXTS[0], minutes_ago=2)]}
        )
        api.routes[("POST", "/api/v1/access_token")] = lambda r: Response(
            body={"access_token": "reddit-token", "expires_in": 86400}
        )
        api.routes[("GET", "/r/bangtan/new")] = lambda r: Response(
            body=reddit_listing(
                [
                    reddit_thing(5, FAN_TEXTS[5], minutes_ago=1),
                    reddit_thing(4, UNRELATED, minutes_ago=2),
                ],
                None,
            )
        )
        api.routes[("GET", "/yt/commentThreads")] = lambda r: Response(
            body={"items": [youtube_thread(1, FAN_TEXTS[2], minutes_ago=4)]}
        )
        api.routes[("GET", "/yt/videos")] = lambda r: Response(
            body={
                "items": [
                    {"statistics": {"viewCount": "10", "likeCount": "2", "commentCount": "1"}}
                ]
            }
        )
        api.routes[("GET", "/2/tweets/search/recent")] = lambda r: Response(
            body={
                "data": [x_tweet(9, FAN_TEXTS[4], minutes_ago=1)],
                "meta": {"newest_id": x_tweet(9, "", minutes_ago=1)["id"], "result_count": 1},
            }
        )

        def stream(connection: ServerConnection) -> None:
            connection.send(event(1, FAN_TEXTS[5]))
            connection.send(event(2, UNRELATED))
            time.sleep(30)

        ws = serve(stream, "127.0.0.1", 0)
        threading.Thread(target=ws.serve_forever, daemon=True).start()
        ws_port = ws.socket.getsockname()[1]
        feeds = [
            {"name": "news", "kind": "rss", "url": api.url("/rss.xml")},
            {"name": "blog", "kind": "jsonfeed", "url": api.url("/feed.json")},
            {
                "name": "hn",
                "kind": "json",
                "url": api.url("/hn"),
                "mapping": {
                    "items": "hits",
                    "id": "objectID",
                    "text": "title",
                    "time": "created_at_i",
                },
            },
            {
                "name": "masto",
                "kind": "mastodon",
                "instance": api.url("/masto"),
                "hashtag": "LoveLetter",
                "token_env": "MASTO_TOKEN",
            },
            {
                "name": "bsky",
                "kind": "bluesky",
                "query": "Love Letter",
                "api_base": api.url(),
                "handle_env": "BSKY_HANDLE",
                "password_env": "BSKY_PASSWORD",
            },
            {
                "name": "reddit",
                "kind": "reddit",
                "subreddit": "bangtan",
                "api_base": api.url(),
                "client_id_env": "REDDIT_ID",
                "client_secret_env": "REDDIT_SECRET",
                "user_agent": "server:fan-monitor:0.1 (by /u/fixture_user)",
            },
            {
                "name": "yt",
                "kind": "youtube",
                "video_id": "LWAvideo01",
                "api_base": api.url("/yt"),
                "token_env": "YT_KEY",
            },
            {
                "name": "x",
                "kind": "x",
                "query": "Love Letter",
                "api_base": api.url(),
                "token_env": "X_BEARER",
                "unit_price_usd": 0.005,
            },
            {
                "name": "jetstream",
                "kind": "jetstream",
                "url": f"ws://127.0.0.1:{ws_port}/subscribe",
            },
            {
                "name": "dead",
                "kind": "jsonfeed",
                "url": f"http://127.0.0.1:{free_port()}/f.json",
                "alert_after_failures": 1,
            },
        ]
        for feed in feeds:
            feed["interval_seconds"] = 10
        config = write_feeds_config(tmp_path / "monitor.toml", feeds)
        engine = make_engine(postgres_url)
        upgrade(engine)
        sessions = make_session_factory(engine)
        env = processes_env(tmp_path, config, postgres_url, redis_url) | SECRETS
        celery = [sys.executable, "-m", "celery", "-A", "workers.app"]
        worker = start(
            [
                *celery,
                "worker",
                "--loglevel=INFO",
                "--concurrency=2",
                "--without-mingle",
                "--without-gossip",
                "-n",
                f"src-{os.getpid()}@%h",
            ],
            env,
            tmp_path / "worker.log",
        )
        beat = start(
            [*celery, "beat", "--loglevel=INFO", "--schedule", str(tmp_path / "beat")],
            env,
            tmp_path / "beat.log",
        )
        consumer = start(
            [sys.executable, "-m", "monitor", "stream", "bluesky"], env, tmp_path / "stream.log"
        )
        processes = [worker, beat, consumer]
        expected = sorted(
            [
                "https://news.example/1",
                "https://blog.example/1",
                "127.0.0.1:41",
                "https://fan.example/users/fan1/statuses/113456789012345001",
                bluesky_hit(7, "", minutes_ago=0)["uri"],
                "t3_1abc5",
                "yt:comment:UgxThread1",
                x_tweet(9, "", minutes_ago=0)["id"],
                "at://did:plc:fan1/app.bsky.feed.post/3kjet0001",
            ]
        )
        try:

            def stored() -> list[str]:
                with sessions() as session:
                    return sorted(session.scalars(select(PostRow.external_id)))

            def source_alerts() -> list[str]:
                with sessions() as session:
                    return list(
                        session.scalars(select(AlertRow.reason).where(AlertRow.kind == "source"))
                    )

            ok = wait_for(
                lambda: stored() == expected and source_alerts(), timeout=75, processes=processes
            )
            assert ok, (
                stored(),
                (tmp_path / "worker.log").read_text()[-3000:],
                (tmp_path / "stream.log").read_text()[-2000:],
            )
            # Polls go on; nothing is stored twice.
            time.sleep(12)
            assert stored() == expected
            with sessions() as session:
                mentions = session.scalar(select(func.count(MentionRow.id)))
            # Texts naming both songs count for both topics (FAN_TEXTS[0]: hn, bsky); the
            # others for one: news, blog, masto, reddit, yt, x, stream.
            assert mentions == 2 * 2 + 7
            assert len(source_alerts()) == 1 and "ConnectError" in source_alerts()[0]
            result = subprocess.run(
                [sys.executable, "-m", "monitor", "feeds", "--format", "json"],
                env=env,
                cwd=REPO,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert result.returncode == 0, result.stderr
            records = {r["name"]: r for r in json.loads(result.stdout)}
            assert set(records) == {f["name"] for f in feeds}
            for name in ("news", "blog", "hn", "masto", "bsky", "reddit", "yt", "x"):
                assert records[name]["consecutive_failures"] == 0, records[name]
                assert records[name]["last_success_at"] and records[name]["posts_24h"] >= 1
            assert records["x"]["metered_units"] >= 1 and records["x"]["cost_usd"] >= 0.005
            assert records["yt"]["video_stats"]["view_count"] == 10
            assert records["jetstream"]["last_success_at"] and records["jetstream"]["posts_24h"]
            assert records["dead"]["source_alert"] and records["dead"]["last_error"]
            logs = "".join(
                (tmp_path / log).read_text(errors="replace")
                for log in ("worker.log", "beat.log", "stream.log")
            )
            assert "/yt/commentThreads" in logs  # httpx logged the requests...
            for value in SECRETS.values():  # ...but no secret
                assert value not in result.stdout and value not in logs, value
            table = subprocess.run(
                [sys.executable, "-m", "monitor", "feeds"],
                env=env,
                cwd=REPO,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert table.returncode == 0 and "dead" in table.stdout and "$0.0" in table.stdout
            assert "streaming" in table.stdout
            alerts = subprocess.run(
                [sys.executable, "-m", "monitor", "alerts", "--format", "json"],
                env=env,
                cwd=REPO,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert alerts.returncode == 0, alerts.stderr
            source = [a for a in json.loads(alerts.stdout) if a["kind"] == "source"]
            assert [(a["feed"], a["topic"], a["status"]) for a in source] == [
                ("dead", None, "open")
            ]
            assert "failed polls in a row" in source[0]["reason"]
        finally:
            for process in processes:
                stop(process)
            ws.shutdown()
            engine.dispose()
