"""History at scale: `monitor history` over 10 million mentions in PostgreSQL.

Run from the repository root: `.venv/bin/python benchmarks/history.py [--mentions 10000000]
[--keep]`. Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth; override with
--admin-url) and about 5 GB of free disk for 10 million mentions (3.7 GB database plus
write-ahead log); about 7-10 minutes on a shared two-core machine.

1. Creates the throwaway database `monitor_bench_history` and migrates it.
2. Cross-check: stores a few hundred posts of two topics through the project's write path
   (`store_matched_posts`, with re-polls) and asserts that the SQL aggregates used below give
   exactly the 5-minute buckets and the hourly rollup that path wrote. Then empties the tables.
3. Generates the mentions server-side (INSERT ... SELECT FROM generate_series): one year, two
   topics, a daily rhythm peaking in the evening (UTC), interest growing over the year, a few
   spikes per topic, languages, sentiment and scoring methods; every 11th post mentions both
   topics. The buckets and hours are then derived with those aggregates.
4. Measures `monitor.reports.history` (what `monitor history` runs: rollups) for one year at
   1 h and for 7 days at 5 min per topic, and the same document built from a naive GROUP BY
   over the mentions; asserts that both agree field by field. Prints one table, then the
   API's per-mention history for 7 days at 5 min for comparison.

The database is dropped at the end unless --keep is given; --reuse measures a kept one again.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor import reports
from monitor.config import parse_config
from monitor.model import Post, Sentiment
from monitor.scoring import Scored
from monitor.storage import queries, reads
from monitor.storage.engine import make_engine, make_session_factory, session_scope
from monitor.storage.migrate import upgrade
from monitor.storage.queries import MatchedPost, store_matched_posts, sync_config
from monitor.timeline import bucket_start, rollup, zero_filled

DATABASE = "monitor_bench_history"
TOPICS = ("alpha", "beta")
CONFIG = parse_config(
    '[[topics]]\nname = "alpha"\nphrases = ["alpha"]\n'
    '[[topics]]\nname = "beta"\nphrases = ["beta"]\n'
)
WIDTH = timedelta(minutes=5)
YEAR_START = datetime(2025, 1, 1, tzinfo=UTC)
NOW = YEAR_START + timedelta(days=365)  # the benchmark's "now": the end of the year
TARGET_RATIO = 100.0
TARGET_P50_MS = 50.0

COUNTERS = """count(*), coalesce(sum(compound), 0), count(compound),
    count(*) FILTER (WHERE label = 'positive'),
    count(*) FILTER (WHERE label = 'neutral'),
    count(*) FILTER (WHERE label = 'negative'),
    count(*) FILTER (WHERE compound IS NOT NULL AND method = 'vader'),
    count(*) FILTER (WHERE compound IS NOT NULL AND method = 'vader+fandom'),
    count(*) FILTER (WHERE compound IS NOT NULL AND method = 'emoji-only')"""
COLUMNS = """topic_id, bucket_start, count, sentiment_sum, scored, positive, neutral, negative,
    scored_vader, scored_fandom, scored_emoji"""
# The counters store_matched_posts keeps, computed in one pass over the stored mentions.
BUCKETS_SQL = f"SELECT topic_id, bucket_start, {COUNTERS} FROM mentions GROUP BY 1, 2"
HOURS_SQL = (
    f"SELECT topic_id, date_trunc('hour', bucket_start), {COUNTERS} FROM mentions GROUP BY 1, 2"
)
# The naive read: the same statistics grouped straight from the mention rows.
NAIVE_SQL = f"""SELECT floor(extract(epoch FROM published_at) / :width)::bigint, {COUNTERS}
FROM mentions
WHERE topic_id = :topic AND published_at >= :start AND published_at < :end
GROUP BY 1 ORDER BY 1"""

# One row per post: when, in which language, by whom. Times follow a day rhythm (65 % of
# posts around 19:00 UTC, the rest spread over the day), grow over the year (more posts late),
# and 3 % fall into one of six two-hour spikes of the post's main topic (see MENTIONS_SQL).
POSTS_SQL = """
INSERT INTO posts (network, external_id, author, text, lang, published_at, fetched_at)
SELECT network, 'gen-' || i, author, 'generated post ' || i, lang, published_at,
       published_at + interval '1 minute'
FROM (
    SELECT i,
           (ARRAY['rss', 'mastodon', 'bluesky', 'reddit'])[1 + i % 4] AS network,
           'fan' || (i * 7919 % 250000) AS author,
           CASE WHEN r.l < 0.80 THEN 'en' WHEN r.l < 0.88 THEN 'ko' WHEN r.l < 0.93 THEN 'ja'
                WHEN r.l < 0.97 THEN 'pt' ELSE 'es' END AS lang,
           CASE WHEN r.s < 0.03 THEN
                    timestamp '2025-01-01'
                    + ((CASE WHEN i % 5 < 3 THEN 41 ELSE 70 END + floor(r.s / 0.03 * 6) * 53)
                       * interval '1 day')
                    + interval '19 hours' + power(r.a, 2) * interval '2 hours'
                ELSE
                    timestamp '2025-01-01'
                    + floor(365 * power(r.d, 0.8)) * interval '1 day'
                    + CASE WHEN r.p < 0.65 THEN
                          mod(((19 + 3.5 * (r.a + r.b + r.c + r.e - 2)) * 3600)::numeric + 172800,
                              86400)::float8 * interval '1 second'
                      ELSE r.a * interval '1 day' END
           END AS published_at
    FROM generate_series(1::bigint, :posts) AS i,
         LATERAL (SELECT random() AS l, random() AS s, random() AS a, random() AS b,
                         random() AS c, random() AS d, random() AS e, random() AS p,
                         i AS dep) AS r
) AS generated
ORDER BY published_at
"""

# One mention per post for its main topic (post number i: 60 % alpha, 40 % beta, each with its
# own spike days), and the other topic too for every 11th post. Sentiment per mention: English
# mostly scored by VADER with the fandom layer, other languages unscored unless they carry
# emoji.
MENTIONS_SQL = """
INSERT INTO mentions (post_id, topic_id, bucket_start, published_at, terms, compound, pos, neu,
                      neg, label, method)
SELECT id, topic_id,
       timestamp '1970-01-01' + floor(extract(epoch FROM published_at) / 300) * interval '5 min',
       published_at, terms, compound,
       CASE WHEN compound IS NULL THEN NULL ELSE greatest(compound, 0) / 2 END,
       CASE WHEN compound IS NULL THEN NULL ELSE 1 - abs(compound) / 2 END,
       CASE WHEN compound IS NULL THEN NULL ELSE greatest(-compound, 0) / 2 END,
       CASE WHEN compound IS NULL THEN 'unscored' WHEN compound >= 0.05 THEN 'positive'
            WHEN compound <= -0.05 THEN 'negative' ELSE 'neutral' END,
       method
FROM (
    SELECT id, topic_id, published_at, terms, method, mean,
           CASE WHEN method = 'unscored' THEN NULL
                ELSE round(greatest(-1, least(1,
                    mean + 0.9 * (r.a + r.b + r.c - 1.5)))::numeric, 4)::float8 END AS compound
    FROM (
        SELECT p.id, t.topic_id, p.published_at, t.terms, t.mean,
               CASE WHEN p.lang = 'en' THEN
                        CASE WHEN r0.m < 0.60 THEN 'vader+fandom' WHEN r0.m < 0.95 THEN 'vader'
                             ELSE 'emoji-only' END
                    WHEN r0.m < 0.30 THEN 'emoji-only' ELSE 'unscored' END AS method
        FROM (SELECT id, published_at, lang, substr(external_id, 5)::bigint AS i FROM posts) p
        JOIN LATERAL (
            SELECT CASE WHEN (p.i % 5 < 3) = main THEN :alpha ELSE :beta END AS topic_id,
                   CASE WHEN (p.i % 5 < 3) = main THEN 'alpha' ELSE 'beta' END AS terms,
                   CASE WHEN (p.i % 5 < 3) = main THEN 0.25 ELSE 0.05 END AS mean
            FROM (VALUES (true), (false)) AS v(main)
            WHERE main OR (p.i % 11 = 0 AND p.i < :below)
        ) AS t ON true,
        LATERAL (SELECT random() AS m, p.id AS dep) AS r0
        ORDER BY p.id, t.topic_id
    ) AS chosen,
    LATERAL (SELECT random() AS a, random() AS b, random() AS c, chosen.id AS dep) AS r
) AS scored
"""


def percentile(samples: list[float], share: float) -> float:
    """Return the nearest-rank percentile of `samples`."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def timed(call: Callable[[], Any], runs: int) -> tuple[list[float], Any]:
    """Return the run times in ms of `runs` calls and the last call's result."""
    samples, result = [], None
    for _ in range(runs):
        begin = time.perf_counter()
        result = call()
        samples.append((time.perf_counter() - begin) * 1000)
    return samples, result


def create_database(admin_url: str, name: str) -> str:
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name}")
    return f"{admin_url.rsplit('/', 1)[0]}/{name}"


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def sample_posts(rng: random.Random, count: int) -> list[MatchedPost]:
    """Posts over three days with every method, both topics and unscored mentions."""
    out = []
    for number in range(count):
        published = YEAR_START + timedelta(seconds=rng.randrange(3 * 86400))
        topics = rng.choice([("alpha",), ("beta",), ("alpha", "beta")])
        scores = {}
        for topic in topics:
            method = rng.choice(["vader", "vader+fandom", "emoji-only", "unscored"])
            compound = round(rng.uniform(-1, 1), 4)
            sentiment = None if method == "unscored" else Sentiment(compound, 0.1, 0.8, 0.1)
            scores[topic] = Scored("en", method, sentiment)
        post = Post(
            network="rss",
            external_id=f"check-{number}",
            text=f"post {number}",
            published_at=published,
            author=f"fan{number % 37}",
        )
        out.append(MatchedPost(post, {t: (t,) for t in topics}, None, scores))
    return out


def cross_check(sessions: Any) -> int:
    """Store sample posts through the real write path (with overlapping re-polls) and assert
    that BUCKETS_SQL and HOURS_SQL reproduce the rows it wrote; return the mentions stored."""
    rng = random.Random(7)
    posts = sample_posts(rng, 400)
    for batch in (posts[:250], posts[150:], posts[100:300]):  # re-polls overlap
        with session_scope(sessions) as session:
            store_matched_posts(
                session, feed_id=None, matched=batch, bucket_width=WIDTH, fetched_at=YEAR_START
            )
    with session_scope(sessions) as session:
        for table, sql in (("timeline_buckets", BUCKETS_SQL), ("timeline_hourly", HOURS_SQL)):
            written = {
                row[:2]: row[2:] for row in session.execute(text(f"SELECT {COLUMNS} FROM {table}"))
            }
            derived = {row[:2]: row[2:] for row in session.execute(text(sql))}
            if set(written) != set(derived):
                raise SystemExit(f"cross-check FAILED: {table} keys differ from the aggregate")
            for key, counters in derived.items():
                mine = written[key]
                same = mine[0] == counters[0] and mine[2:] == counters[2:]
                if not same or not math.isclose(mine[1], counters[1], abs_tol=1e-9):
                    raise SystemExit(f"cross-check FAILED: {table} {key}: {mine} != {counters}")
        mentions = session.scalar(text("SELECT count(*) FROM mentions"))
        session.execute(
            text("TRUNCATE posts, mentions, timeline_buckets, timeline_hourly RESTART IDENTITY")
        )
    return int(mentions)


def generate(engine: Any, mentions: int) -> dict[str, float]:
    """Fill the database with `mentions` mentions; return seconds per step."""
    # Every 11th post mentions both topics: find the number of posts giving `mentions`.
    posts = mentions * 11 // 12
    while posts + posts // 11 < mentions:
        posts += 1
    # One too many when the last post is an 11th: that one then mentions only its main topic.
    both_below = posts if posts + posts // 11 > mentions else posts + 1
    steps: dict[str, float] = {}
    with engine.begin() as connection:
        connection.execute(text("SET LOCAL synchronous_commit = off"))
        connection.execute(text("SET LOCAL work_mem = '256MB'"))
        connection.execute(text("SELECT setseed(0.42)"))
        ids = dict(connection.execute(text("SELECT name, id FROM topics")).all())
        for name, statement, params in (
            ("posts", POSTS_SQL, {"posts": posts}),
            (
                "mentions",
                MENTIONS_SQL,
                {"alpha": ids["alpha"], "beta": ids["beta"], "below": both_below},
            ),
            ("buckets", f"INSERT INTO timeline_buckets ({COLUMNS}) {BUCKETS_SQL}", {}),
            ("hours", f"INSERT INTO timeline_hourly ({COLUMNS}) {HOURS_SQL}", {}),
        ):
            begin = time.perf_counter()
            connection.execute(text(statement), params)
            steps[name] = time.perf_counter() - begin
    begin = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(
            text("VACUUM ANALYZE posts, mentions, timeline_buckets, timeline_hourly")
        )
    steps["vacuum analyze"] = time.perf_counter() - begin
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT count(*) FROM mentions")).scalar_one()
        if stored != mentions:
            raise SystemExit(f"generated {stored} mentions, wanted {mentions}")
    return steps


def naive_history(
    engine: Any, topic: str, topic_id: int, *, start: datetime, until: datetime, width: timedelta
) -> dict[str, Any]:
    """Return the history document `monitor history` gives, computed with a GROUP BY over the
    mention rows instead of the rollups (the same document code after the query)."""
    seconds = int(width.total_seconds())
    with engine.connect() as connection:
        rows = connection.execute(
            text(NAIVE_SQL),
            {
                "width": seconds,
                "topic": topic_id,
                "start": start.replace(tzinfo=None),
                "end": until.replace(tzinfo=None),
            },
        ).all()
    epoch = datetime(1970, 1, 1)  # naive UTC, as reports.history_document takes them
    counters = [(epoch + timedelta(seconds=row[0] * seconds), *row[1:]) for row in rows]
    return reports.history_document(topic, counters, start=start, until=until, width=width)


def differences(rollups: dict[str, Any], naive: dict[str, Any]) -> list[str]:
    """Return how two history documents differ: every field of every bucket must be equal,
    but the mean compound, rounded to 4 places from float sums added in another order, may
    differ by one in the last place."""
    problems = []
    if len(rollups["buckets"]) != len(naive["buckets"]) or rollups["total"] != naive["total"]:
        problems.append(
            f"{len(rollups['buckets'])} buckets, {rollups['total']} mentions != "
            f"{len(naive['buckets'])} buckets, {naive['total']} mentions"
        )
    for mine, theirs in zip(rollups["buckets"], naive["buckets"], strict=False):
        a, b = mine.pop("mean_compound"), theirs.pop("mean_compound")
        if mine != theirs or (a is None) != (b is None) or abs((a or 0) - (b or 0)) > 1.01e-4:
            problems.append(f"{mine} (mean {a}) != {theirs} (mean {b})")
        mine["mean_compound"], theirs["mean_compound"] = a, b
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mentions", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=30, help="runs of each history read")
    parser.add_argument("--naive-runs", type=int, default=5, help="runs of each naive query")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--database", default=DATABASE, help="name of the throwaway database")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--reuse", action="store_true", help="measure the database an earlier --keep run left"
    )
    args = parser.parse_args()

    if args.reuse:
        url = f"{args.admin_url.rsplit('/', 1)[0]}/{args.database}"
    else:
        url = create_database(args.admin_url, args.database)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    failed = False
    try:
        if not args.reuse:
            upgrade(engine)
            with session_scope(sessions) as session:
                sync_config(session, CONFIG)
            checked = cross_check(sessions)
            print(
                f"cross-check: {checked} mentions through store_matched_posts (3 overlapping "
                "polls) = the SQL aggregates, for every 5-minute bucket and hour"
            )
            begin = time.perf_counter()
            steps = generate(engine, args.mentions)
            total = time.perf_counter() - begin
            detail = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in steps.items())
            print(f"generation: {total:.0f} s ({detail})")
        with engine.connect() as connection:
            size = connection.execute(
                text("SELECT pg_database_size(current_database())")
            ).scalar_one()
            per_topic = dict(
                connection.execute(
                    text(
                        "SELECT t.name, count(*) FROM mentions m JOIN topics t "
                        "ON t.id = m.topic_id GROUP BY t.name"
                    )
                ).all()
            )
            rows = {
                table: connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                for table in ("posts", "timeline_buckets", "timeline_hourly")
            }
        split = ", ".join(f"{name} {count:,}" for name, count in sorted(per_topic.items()))
        print(
            f"database: {sum(per_topic.values()):,} mentions ({split}), {rows['posts']:,} posts, "
            f"{rows['timeline_buckets']:,} 5-minute buckets, {rows['timeline_hourly']:,} hours; "
            f"database {size / 1e9:.1f} GB"
        )

        cases = [
            ("1y@1h", timedelta(days=365), timedelta(hours=1)),
            ("7d@5m", timedelta(days=7), timedelta(minutes=5)),
        ]
        table = []
        for label, span, width in cases:
            for topic in TOPICS:
                since = NOW - span
                until = NOW + width  # as `monitor history` asks: up to the current bucket

                def read(
                    topic: str = topic,
                    since: datetime = since,
                    until: datetime = until,
                    width: timedelta = width,
                ) -> dict[str, Any]:
                    # A session per read, as each CLI run or API request has.
                    with sessions() as session:
                        return reports.history(
                            session, topic, since=since, until=until, width=width, base_width=WIDTH
                        )

                read()  # warm: the connection pool and the statement caches
                fast, data = timed(read, args.runs)
                with sessions() as session:
                    topic_id = queries.get_topic_id(session, topic)
                start = bucket_start(since, width)

                def naive(
                    topic: str = topic,
                    topic_id: int = topic_id,
                    start: datetime = start,
                    until: datetime = until,
                    width: timedelta = width,
                ) -> dict[str, Any]:
                    return naive_history(
                        engine, topic, topic_id, start=start, until=until, width=width
                    )

                slow, expected = timed(naive, args.naive_runs)
                problems = differences(data, expected)
                if problems:
                    failed = True
                    print(f"MISMATCH {label} {topic}: " + "; ".join(problems[:3]))
                fast50, slow50 = statistics.median(fast), statistics.median(slow)
                ratio = slow50 / fast50
                table.append(
                    (
                        f"{label} {topic}",
                        f"{len(data['buckets']):,}",
                        f"{data['total']:,}",
                        f"{fast50:.1f} / {percentile(fast, 0.95):.1f}",
                        f"{slow50:.0f} / {percentile(slow, 0.95):.0f}",
                        f"{ratio:.0f}×",
                        "yes" if ratio >= TARGET_RATIO else "no",
                        "yes" if fast50 < TARGET_P50_MS else "no",
                        "yes" if not problems else "NO",
                    )
                )
        header = (
            "case",
            "buckets",
            "mentions",
            "rollup p50 / p95 ms",
            "naive GROUP BY p50 / p95 ms",
            "naive / rollup (p50)",
            f"≥ {TARGET_RATIO:.0f}×?",
            f"p50 < {TARGET_P50_MS:.0f} ms?",
            "same document",
        )
        print()
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for row in table:
            print("| " + " | ".join(row) + " |")
        load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
        print(
            f"\nload average at the end (1, 5, 15 min; {os.cpu_count()} cores): {load}. "
            f"{args.runs} rollup runs and {args.naive_runs} naive runs per row; "
            f"'now' = {NOW:%Y-%m-%d}, since = now - span, until = now + one bucket."
        )
        # What the hourly rollup buys: the same year read the way history did before migration
        # 0007 (every 5-minute bucket, rolled up and zero-filled in Python).
        for topic in TOPICS:

            def five_minute(topic: str = topic) -> int:
                width, start = timedelta(hours=1), NOW - timedelta(days=365)
                with sessions() as session:
                    topic_id = queries.get_topic_id(session, topic)
                    stored = queries.load_buckets(session, topic_id, start=start, end=NOW + width)
                buckets = zero_filled(
                    rollup(stored, width), start=start, end=NOW + width, width=width
                )
                return sum(reports.history_record(bucket)["count"] for bucket in buckets)

            samples, count = timed(five_minute, 5)
            print(
                f"1y@1h {topic} from the 5-minute buckets (history before migration 0007): "
                f"{count:,} mentions, p50 {statistics.median(samples):.0f} ms over 5 runs"
            )
        # The HTTP API's history also returns unique authors and confidence intervals, which
        # no counter holds: it reads the mention rows. Measured for comparison, not a target.
        for topic in TOPICS:
            with sessions() as session:
                topic_id = session.scalar(
                    text("SELECT id FROM topics WHERE name = :n"), {"n": topic}
                )

            def api(topic_id: int = topic_id) -> int:
                with sessions() as session:
                    buckets = reads.history_buckets(
                        session,
                        topic_id,
                        start=NOW - timedelta(days=7),
                        end=NOW + WIDTH,
                        width=WIDTH,
                        group_by=None,
                    )
                return sum(bucket.total.count for bucket in buckets)

            samples, count = timed(api, 3)
            print(
                f"API history (reads.history_buckets, per mention) 7d@5m {topic}: "
                f"{count:,} mentions, p50 {statistics.median(samples):.0f} ms over 3 runs"
            )
            # Who talked (GET /api/audience, the line under the dashboard chart): three
            # aggregates over the window's mention rows; the week must count what the
            # per-mention history above counted.
            for days in (1, 7):

                def audience(topic_id: int = topic_id, days: int = days) -> dict[str, Any]:
                    with sessions() as session:
                        return reads.audience(
                            session, topic_id, start=NOW - timedelta(days=days), end=NOW + WIDTH
                        )

                samples, who = timed(audience, 3)
                if days == 7 and who["mentions"] != count:
                    failed = True
                    print(f"MISMATCH: audience counts {who['mentions']:,}, history {count:,}")
                print(
                    f"API audience (reads.audience) {days}d {topic}: {who['mentions']:,} "
                    f"mentions, {who['authors']:,} authors, {len(who['languages'])} languages "
                    f"shown, p50 {statistics.median(samples):.0f} ms over 3 runs"
                )
    finally:
        engine.dispose()
        if args.keep:
            print(f"kept database {args.database}")
        else:
            drop_database(args.admin_url, args.database)
    if failed:
        raise SystemExit("FAILED: the rollup and the naive query disagree")


if __name__ == "__main__":
    main()
