"""Cost of one live detection run on SQLite, one topic: it should not grow with the number
of stored mentions. (benchmarks/detection_run.py measures 100 topics with a year of
buckets on PostgreSQL.)

Run from the repository root: `.venv/bin/python benchmarks/live_cost.py`. For each case it
builds a fresh SQLite database with one topic, stores mentions spread over the given days
(without sentiment scoring, which is not what is measured), and times
`pipeline.detect_spikes`: the first run (no detector state yet: it computes the week of
calibration records) and the next runs in the same bucket (beat runs every
minute, a bucket is 5; median of 9). Ratios are against the first row.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.support import migrated_runtime
from monitor import pipeline
from monitor.model import Post
from monitor.storage import queries
from monitor.storage.engine import session_scope

CONFIG = """
[detection]
alerts = ["spike"]

[[topics]]
name = "love-letter"
phrases = ["Love Letter"]
"""
NOW = datetime(2026, 5, 4, 12, 0, 20, tzinfo=UTC)


def run_case(mentions: int, days: float) -> tuple[float, float]:
    """Return the seconds of the first detection run over `mentions` spread over `days`,
    and the median of the next 9."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        runtime = migrated_runtime(CONFIG, f"sqlite:///{root / 'monitor.db'}", root)
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
            for run in range(10):
                began = time.perf_counter()
                pipeline.detect_spikes(runtime, now=NOW + timedelta(seconds=10 * run))
                times.append(time.perf_counter() - began)
            return times[0], statistics.median(times[1:])
        finally:
            runtime.close()


def main() -> None:
    cases = [(2_000, 7.0), (20_000, 7.0), (100_000, 7.0), (2_000, 1.0), (2_000, 14.0)]
    print("| stored mentions | days of history | first run | ratio | next runs | ratio |")
    print("|---|---|---|---|---|---|")
    baseline = None
    for mentions, days in cases:
        first, steady = run_case(mentions, days)
        baseline = baseline or (first, steady)
        print(
            f"| {mentions:,} | {days:g} | {first * 1000:.0f} ms | ×{first / baseline[0]:.2f} "
            f"| {steady * 1000:.1f} ms | ×{steady / baseline[1]:.2f} |"
        )


if __name__ == "__main__":
    main()
