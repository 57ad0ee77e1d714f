"""A seeded database for the API, dashboard and notification tests: two topics, one feed,
quiet history then a burst of love-letter mentions (one of them hostile HTML), and an open
spike alert over the burst."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import uvicorn

from monitor.config import MonitorConfig, parse_config
from monitor.model import Post, Sentiment
from monitor.settings import Settings, load_settings
from monitor.storage import queries
from monitor.storage.engine import make_engine, make_session_factory, session_scope
from monitor.storage.migrate import upgrade
from monitor.storage.tables import AlertRow
from monitor.timeline import bucket_start

CONFIG = """
[timeline]
bucket_minutes = 5

[api]
max_page_size = 50

[fetch]
allow_networks = ["127.0.0.0/8"]

[[topics]]
name = "love-letter"
phrases = ["Love Letter"]

[[topics]]
name = "quiet-topic"
phrases = ["nothing here"]

[[feeds]]
name = "fans"
kind = "rss"
url = "http://127.0.0.1:9/fans.xml"
"""

HOSTILE = '<script>alert("x")</script>"><img src=x onerror=alert(1)> Love Letter'
WIDTH = timedelta(minutes=5)
# Posts the seeded poll parsed that mention no topic (fetched, never stored).
FETCHED_NOT_MATCHED = 8


@dataclass
class Seeded:
    settings: Settings
    config: MonitorConfig
    now: datetime
    burst_bucket: datetime
    alert_id: int
    history_posts: int
    burst_posts: int


def _sentiment(compound: float) -> Sentiment:
    pos = max(0.0, compound)
    neg = max(0.0, -compound)
    return Sentiment(compound=compound, pos=pos, neu=1 - pos - neg, neg=neg)


def seed(tmp_path: Path, database_url: str, *, now: datetime, config_text: str = CONFIG) -> Seeded:
    """Migrate `database_url`, store the fixture posts and an open alert; return what was made."""
    config_path = tmp_path / "monitor.toml"
    config_path.write_text(config_text, encoding="utf-8")
    config = parse_config(config_text, source=str(config_path))
    settings = load_settings(
        {
            "MONITOR_CONFIG": str(config_path),
            "MONITOR_DATA_DIR": str(tmp_path / "var"),
            "MONITOR_DATABASE_URL": database_url,
            "MONITOR_BROKER_URL": "memory://",
        }
    )
    engine = make_engine(database_url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    burst = bucket_start(now, WIDTH) - WIDTH
    matched = []
    # Quiet history: one post every 30 minutes for 6 hours, mildly positive, two authors.
    history = 12
    for index in range(history):
        published = burst - timedelta(minutes=30 * (index + 1))
        post = Post(
            network="rss",
            external_id=f"history-{index}",
            text=f"Love Letter is lovely ({index})",
            published_at=published,
            url=f"https://fans.example/history/{index}",
            author=f"fan{index % 2}",
            lang="en",
        )
        matched.append(
            queries.MatchedPost(post, {"love-letter": ("Love Letter",)}, _sentiment(0.4))
        )
    # The burst: 20 posts in one bucket, mostly negative, in two languages, one hostile.
    burst_posts = 20
    for index in range(burst_posts):
        text = HOSTILE if index == 0 else f"Love Letter leak?! so upset #{index}"
        url = "javascript:alert(1)" if index == 0 else f"https://fans.example/burst/{index}"
        post = Post(
            network="rss",
            external_id=f"burst-{index}",
            text=text,
            published_at=burst + timedelta(seconds=10 * index),
            url=url,
            author=f"burst{index % 7}",
            lang="ko" if index % 4 == 0 else "en",
        )
        compound = -0.6 if index % 5 else 0.3
        matched.append(
            queries.MatchedPost(
                post, {"love-letter": ("Love Letter", "leak")}, _sentiment(compound)
            )
        )
    with session_scope(sessions) as session:
        queries.sync_config(session, config)
        feed_id = queries.list_feeds(session)[0].id
        queries.store_matched_posts(
            session, feed_id=feed_id, matched=matched, bucket_width=WIDTH, fetched_at=now
        )
        queries.record_poll_success(
            session,
            feed_id,
            now=now - timedelta(minutes=1),
            next_poll_at=now + timedelta(minutes=4),
            etag=None,
            last_modified=None,
            cursor=None,
            new_posts=len(matched),
            fetched_posts=len(matched) + FETCHED_NOT_MATCHED,
        )
        topic_id = queries.get_topic_id(session, "love-letter")
        alert = AlertRow(
            topic_id=topic_id,
            kind="spike",
            status="open",
            opened_bucket=burst,
            last_bucket=burst,
            peak_bucket=burst,
            observed=burst_posts,
            expected=0.5,
            score=1e-12,
            peak_count=burst_posts,
            excess_mentions=burst_posts - 0.5,
            samples=queries.sample_mentions(
                session, topic_id, start=burst, end=burst + WIDTH, limit=5
            ),
            opened_at=now,
            updated_at=now,
        )
        session.add(alert)
        session.flush()
        alert_id = alert.id
    engine.dispose()
    return Seeded(settings, config, now, burst, alert_id, history, burst_posts)


@contextlib.contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """Run `app` under a real uvicorn server on 127.0.0.1 (any free port); yield its base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
