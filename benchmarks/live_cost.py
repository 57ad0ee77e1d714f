"""Cost of one live detection run: it should grow with topics and the history window, not
with the number of stored mentions.

Run from the repository root: `.venv/bin/python benchmarks/live_cost.py`. For each case it
builds a fresh SQLite database with one topic, stores mentions spread over the given days
(without sentiment scoring, which is not what is measured), and times
`pipeline.detect_spikes` (median of 3 runs). Ratios are against the first row.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor import pipeline
from monitor.model import Post
from monitor.runtime import Runtime
from monitor.settings import load_settings
from monitor.storage import queries
from monitor.storage.engine import make_engine, session_scope
from monitor.storage.migrate import upgrade

CONFIG = """
[detection]
alerts = ["spike"]

[[topics]]
name = "love-letter"
phrases = ["Love Letter"]
"""
NOW = datetime(2026, 5, 4, 12, 0, 20, tzinfo=UTC)


def run_case(mentions: int, days: float) -> float:
    """Return the median seconds of one detection run over `mentions` spread over `days`."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "monitor.toml").write_text(CONFIG)
        url = f"sqlite:///{root / 'monitor.db'}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        settings = load_settings(
            {
                "MONITOR_CONFIG": str(root / "monitor.toml"),
                "MONITOR_DATA_DIR": str(root),
                "MONITOR_DATABASE_URL": url,
            }
        )
        runtime = Runtime.start(settings)
        try:
            span = timedelta(days=days)
            step = span / mentions
            matched = [
                queries.MatchedPost(
                    Post("bench", f"p{i}", f"Love Letter {i}", NOW - span + i * step),
                    {"love-letter": ("love letter",)},
                    None,
                )
                for i in range(mentions)
            ]
            with session_scope(runtime.sessions) as session:
                queries.store_matched_posts(
                    session,
                    feed_id=None,
                    matched=matched,
                    bucket_width=runtime.bucket_width,
                    fetched_at=NOW,
                )
            times = []
            for _ in range(3):
                began = time.perf_counter()
                pipeline.detect_spikes(runtime, now=NOW)
                times.append(time.perf_counter() - began)
            return statistics.median(times)
        finally:
            runtime.close()


def main() -> None:
    cases = [(2_000, 7.0), (20_000, 7.0), (100_000, 7.0), (2_000, 1.0), (2_000, 14.0)]
    print("| stored mentions | days of history | detection run | ratio |")
    print("|---|---|---|---|")
    baseline = None
    for mentions, days in cases:
        seconds = run_case(mentions, days)
        baseline = baseline or seconds
        print(f"| {mentions:,} | {days:g} | {seconds * 1000:.0f} ms | ×{seconds / baseline:.2f} |")


if __name__ == "__main__":
    main()
