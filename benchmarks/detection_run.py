"""Detection run cost: 100 topics with a year of 5-minute buckets in
PostgreSQL; time per beat run (`pipeline.detect_spikes`), per topic, for the first (cold)
run and in steady state, with no stored mentions and with a million of them.

Usage (from the repository root; PostgreSQL on 127.0.0.1:5432 with trust auth):

    .venv/bin/python benchmarks/detection_run.py [--topics 100] [--days 365]
        [--mentions 1000000] [--runs 7] [--admin-url postgresql://postgres@127.0.0.1:5432/test]

It creates a throwaway database, generates the timeline rows with SQL (a daily rhythm with
noise, every topic, every bucket of the year), and runs detection as beat would, with the
default detector (`alerts = ["spike"]`). Cold: the first run, which has no stored detector
state (it computes each topic's two weeks of calibration records). Steady: each later run comes
one bucket later, after that bucket's counts were stored for every topic (the most a run
at least once per bucket judges); the median of `--runs`. Then it stores `--mentions` posts
with one mention each (spread over the year and the topics), measures the steady runs again,
drops the detector state and measures a cold run again. Ratios are against the row with no
mentions, in the same process.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from sqlalchemy import text  # noqa: E402

from benchmarks.support import migrated_runtime  # noqa: E402
from monitor import pipeline  # noqa: E402
from monitor.runtime import Runtime  # noqa: E402
from monitor.storage.engine import session_scope  # noqa: E402

WIDTH = timedelta(minutes=5)
END = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)  # the first run's filling bucket

# A daily rhythm (phase per topic) with uniform noise: ordinary days, no events.
BUCKETS_SQL = """
INSERT INTO timeline_buckets (topic_id, bucket_start, count, sentiment_sum, scored, positive,
    neutral, negative, scored_vader, scored_fandom, scored_emoji)
SELECT t.id, b,
       greatest(0, round(12 + 6 * sin(2 * pi() * extract(epoch FROM b) / 86400 + t.id)
                         + 6 * (random() - 0.5)))::int,
       0, 0, 0, 0, 0, 0, 0, 0
FROM topics t, generate_series(CAST(:first AS timestamp), CAST(:last AS timestamp),
                               interval '5 minutes') AS b
"""

POSTS_SQL = """
INSERT INTO posts (network, external_id, text, published_at, fetched_at)
SELECT 'bench', 'p' || g, 'a stored post about topic number ' || (g % :topics),
       CAST(:first AS timestamp) + (g % 105120) * interval '5 minutes',
       CAST(:first AS timestamp) + (g % 105120) * interval '5 minutes'
FROM generate_series(1, :mentions) AS g
"""

MENTIONS_SQL = """
INSERT INTO mentions (post_id, topic_id, bucket_start, published_at, terms, label)
SELECT p.id, t.id, p.published_at, p.published_at, 'topic', 'neutral'
FROM posts p
JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM topics) t
  ON t.k = p.id % :topics
WHERE p.network = 'bench'
"""


def config_text(topics: int) -> str:
    lines = ['[detection]\nalerts = ["spike"]\n']
    for index in range(topics):
        lines.append(f'[[topics]]\nname = "topic-{index}"\nphrases = ["topic {index}"]\n')
    return "\n".join(lines)


def timed_run(runtime: Runtime, now: datetime) -> tuple[float, int]:
    began = time.perf_counter()
    changes = pipeline.detect_spikes(runtime, now=now)
    return time.perf_counter() - began, len(changes)


def add_bucket(runtime: Runtime, moment: datetime) -> None:
    """Store one more bucket for every topic (as the pollers' counters would)."""
    naive = moment.astimezone(UTC).replace(tzinfo=None)
    with session_scope(runtime.sessions) as session:
        session.execute(text(BUCKETS_SQL), {"first": naive, "last": naive})


def steady(runtime: Runtime, now: datetime, runs: int) -> tuple[float, datetime, int]:
    """Return the median seconds of `runs` runs, each one bucket after the last."""
    times, changes = [], 0
    for _ in range(runs):
        add_bucket(runtime, now)  # the filling bucket of the last run is complete now
        now += WIDTH
        seconds, changed = timed_run(runtime, now + timedelta(seconds=20))
        times.append(seconds)
        changes += changed
    return statistics.median(times), now, changes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topics", type=int, default=100)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--mentions", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()

    name = f"monitor_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(args.admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = args.admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    url = f"{base}/{name}"
    try:
        with tempfile.TemporaryDirectory() as folder:
            runtime = migrated_runtime(config_text(args.topics), url, Path(folder))
            try:
                rows = measure(runtime, args)
            finally:
                runtime.close()
    finally:
        with psycopg.connect(args.admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print_table(rows, args.topics)


def measure(runtime: Runtime, args: argparse.Namespace) -> list[tuple[int, str, float, int]]:
    first = (END - timedelta(days=args.days)).replace(tzinfo=None)
    last = (END - WIDTH).replace(tzinfo=None)
    began = time.perf_counter()
    with session_scope(runtime.sessions) as session:
        session.execute(text(BUCKETS_SQL), {"first": first, "last": last})
        session.execute(text("ANALYZE timeline_buckets"))
        buckets = session.execute(text("SELECT count(*) FROM timeline_buckets")).scalar_one()
    print(f"generated {buckets:,} timeline rows in {time.perf_counter() - began:.0f} s")
    rows: list[tuple[int, str, float, int]] = []
    now = END
    seconds, changed = timed_run(runtime, now + timedelta(seconds=20))
    rows.append((0, "cold (first run)", seconds, changed))
    seconds, now, changed = steady(runtime, now, args.runs)
    rows.append((0, f"steady (median of {args.runs})", seconds, changed))

    began = time.perf_counter()
    with session_scope(runtime.sessions) as session:
        params = {"first": first, "topics": args.topics, "mentions": args.mentions}
        session.execute(text(POSTS_SQL), params)
        session.execute(text(MENTIONS_SQL), params)
        session.execute(text("ANALYZE posts"))
        session.execute(text("ANALYZE mentions"))
        mentions = session.execute(text("SELECT count(*) FROM mentions")).scalar_one()
    print(f"stored {mentions:,} mentions in {time.perf_counter() - began:.0f} s")
    seconds, now, changed = steady(runtime, now, args.runs)
    rows.append((mentions, f"steady (median of {args.runs})", seconds, changed))
    with session_scope(runtime.sessions) as session:
        session.execute(text("DELETE FROM detector_state"))
    add_bucket(runtime, now)
    now += WIDTH
    seconds, changed = timed_run(runtime, now + timedelta(seconds=20))
    rows.append((mentions, "cold (state dropped)", seconds, changed))
    return rows


def print_table(rows: list[tuple[int, str, float, int]], topics: int) -> None:
    print()
    print(
        "| stored mentions | run | per run "
        f"({topics} topics) | per topic | target | alert changes | ratio to 0 mentions |"
    )
    print("|---|---|---|---|---|---|---|")
    reference = {kind.split(" ")[0]: seconds for mentions, kind, seconds, _ in rows if not mentions}
    for mentions, kind, seconds, changed in rows:
        per_topic = seconds / topics * 1000
        target = "< 10 ms" if kind.startswith("steady") else "–"
        ratio = seconds / reference[kind.split(" ")[0]]
        print(
            f"| {mentions:,} | {kind} | {seconds * 1000:,.0f} ms | {per_topic:.1f} ms "
            f"| {target} | {changed} | ×{ratio:.2f} |"
        )


if __name__ == "__main__":
    main()
