"""Ingest and memory benchmark: real Celery workers ingest 100,000 fan posts from local
Mastodon hashtag timelines, next to raw VADER on the same texts in the same run.

Usage (from the repository root, a Redis and PostgreSQL of your own on loopback):

    .venv/bin/python benchmarks/ingest.py [--posts 100000] [--workers 1,2,4]
        [--databases postgresql[,sqlite]] [--redis redis://127.0.0.1:6379/0]
        [--postgres postgresql://postgres@127.0.0.1:5432/test] [--no-memory] [--rounds 1]
    .venv/bin/python benchmarks/ingest.py --profile 5   # cProfile of pipeline.poll_feed

What it does:

1. Starts the fixture server (benchmarks/ingest_fixture.py) in a subprocess: 50 Mastodon
   hashtag timelines (10 instances x 5 hashtags) of 2,000 posts each, 40 a page.
2. Raw VADER: `SentimentIntensityAnalyzer().polarity_scores` over the same 100,000 texts,
   in this process, before and after the worker runs, timed in CPU seconds (the machine may
   be shared); the faster pass is the baseline.
3. For each database and worker count: a fresh database (PostgreSQL: a throwaway database
   created and dropped here; SQLite: a temporary file), migrated, the feeds synced; N
   `celery -A workers.app worker --concurrency 1` processes (the default worker command,
   no -Q, so every queue); one `monitor.dispatch_due_feeds` sent, the clock started; the
   database polled until every feed has recorded its poll. Each feed is one poll of 50
   pages (backfill_posts 2,000). Peak RSS (VmHWM) of every worker process is read at the end,
   and the CPU seconds of the workers (start-up excluded) and of their PostgreSQL backends.
   With --rounds R the worker counts are run R times, interleaved; the table shows the best
   round of each (every round is printed as it ends).
4. Memory under a 2 GiB response: a fresh single worker polls one warm-up timeline, its peak
   RSS is reset (/proc/PID/clear_refs), then it polls a timeline that streams 2 GiB; the
   growth of its peak RSS is reported and the feed must record the size-cap error.

Prints one table: case, value, unit, ratio, target, met?
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import os
import pstats
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import psycopg  # noqa: E402
from sqlalchemy import event, func, select, text, update  # noqa: E402
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer  # noqa: E402

from benchmarks.ingest_fixture import Layout, feed_posts, post_text  # noqa: E402
from monitor.settings import load_settings  # noqa: E402
from monitor.storage.engine import make_engine, make_session_factory, session_scope  # noqa: E402
from monitor.storage.migrate import upgrade  # noqa: E402
from monitor.storage.tables import Feed, MentionRow, PostRow, TimelineBucket  # noqa: E402

CELERY = [sys.executable, "-m", "celery", "-A", "workers.app"]


# --- configuration -----------------------------------------------------------------------


def write_config(path: Path, layout: Layout, base_url: str, *, huge: bool = False) -> Path:
    """Write the shipped topics and settings with one mastodon feed per fixture timeline
    (or, with `huge`, a warm-up timeline and the endless one)."""
    base = (ROOT / "config" / "monitor.toml").read_text(encoding="utf-8")
    base = base[: base.index("[[feeds]]")]
    per_feed = max(layout.feed_posts(i) for i in range(layout.feeds))
    fetch = {
        # The fixture server listens on the loopback, which the config must allow.
        "allow_networks": '["127.0.0.0/8"]',
        # One poll takes a whole timeline: 2,000 posts over 50 pages.
        "max_entries_per_poll": str(max(per_feed, 1000)),
    }
    lines = [line for line in base.splitlines() if line.split("=")[0].strip() not in fetch]
    at = lines.index("[fetch]") + 1
    lines[at:at] = [f"{key} = {value}" for key, value in fetch.items()]
    pages = -(-per_feed // layout.page_size)
    feeds = []
    indices = [0] if huge else range(layout.feeds)
    for index in indices:
        feeds.append(
            {
                "name": f"bench-{index:03d}",
                "instance": base_url + layout.instance(index),
                "hashtag": layout.hashtag(index),
            }
        )
    if huge:
        feeds.append({"name": "huge", "instance": base_url + "/huge", "hashtag": "kpop"})
    for feed in feeds:
        lines += [
            "[[feeds]]",
            f'name = "{feed["name"]}"',
            'kind = "mastodon"',
            f'instance = "{feed["instance"]}"',
            f'hashtag = "{feed["hashtag"]}"',
            "interval_seconds = 86400",  # one poll per feed in the run
            f"page_size = {layout.page_size}",
            f"max_pages_per_poll = {min(max(pages, 1), 100)}",
            f"backfill_posts = {min(max(per_feed, 1), 10_000)}",
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@contextlib.contextmanager
def database(kind: str, postgres_admin: str, tmp: Path) -> Iterator[str]:
    """Yield the URL of a fresh, empty database; drop it afterwards."""
    if kind == "sqlite":
        path = tmp / f"bench-{uuid.uuid4().hex[:8]}.db"
        yield f"sqlite:///{path}"
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                Path(f"{path}{suffix}").unlink()
        return
    name = f"monitor_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_admin, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = postgres_admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(postgres_admin, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def prepare(url: str, config: Path, tmp: Path) -> dict[str, str]:
    """Migrate the database, sync the config's topics and feeds; return the workers' env."""
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    env = dict(os.environ)
    env.update(
        MONITOR_CONFIG=str(config),
        MONITOR_DATA_DIR=str(tmp / "var"),
        MONITOR_DATABASE_URL=url,
        MONITOR_LOG_LEVEL="INFO",
        PYTHONPATH=str(ROOT),
    )
    from monitor.runtime import Runtime

    Runtime.start(load_settings(env)).close()  # creates the topic and feed rows
    return env


# --- processes and memory -------------------------------------------------------------------


def start_worker(env: dict[str, str], log: Path, name: str) -> subprocess.Popen[bytes]:
    """Start one worker as compose runs it, with one pool process."""
    command = [
        *CELERY,
        "worker",
        "--loglevel=INFO",
        "--concurrency=1",
        "--without-mingle",
        "--without-gossip",
        "-n",
        f"{name}@%h",
    ]
    return subprocess.Popen(
        command,
        env=env,
        cwd=ROOT,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a worker and its pool (its own session), by its recorded PID."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def children(pid: int) -> list[int]:
    """Return the child PIDs of `pid`."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


def status_kib(pid: int, key: str) -> int | None:
    """Return a `VmRSS`/`VmHWM` line of /proc/PID/status in KiB, or None if it has gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


@dataclass
class MemorySampler:
    """Samples VmRSS of worker processes and their children; keeps VmHWM at the end."""

    roots: list[int]
    peak_rss: dict[int, int] = field(default_factory=dict)  # pid -> KiB
    role: dict[int, str] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _tick(self) -> None:
        for root in self.roots:
            for pid, role in [(root, "main"), *((c, "pool") for c in children(root))]:
                rss = status_kib(pid, "VmRSS")
                if rss is not None:
                    self.role[pid] = role
                    self.peak_rss[pid] = max(self.peak_rss.get(pid, 0), rss)

    def start(self) -> None:
        def run() -> None:
            while not self._stop.wait(0.2):
                self._tick()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def finish(self) -> dict[str, int]:
        """Stop sampling; return the peak (KiB) of pool processes and of main processes, from
        VmHWM (exact) where the process still exists, else the sampled VmRSS."""
        self._stop.set()
        if self._thread:
            self._thread.join()
        self._tick()
        peaks = {"pool": 0, "main": 0}
        for pid, sampled in self.peak_rss.items():
            hwm = status_kib(pid, "VmHWM") or sampled
            peaks[self.role[pid]] = max(peaks[self.role[pid]], hwm)
        return peaks


def celery_app(broker: str, config: Path) -> Any:
    """Return the workers' own Celery app (its routes apply to what we send)."""
    os.environ.update(MONITOR_BROKER_URL=broker, MONITOR_CONFIG=str(config))
    from workers.app import app

    return app


def wait_ready(app: Any, names: Sequence[str], processes: Sequence[Any], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                raise SystemExit(f"worker exited with {process.returncode}; see its log")
        replies = app.control.ping(timeout=0.5) or []
        seen = {name for reply in replies for name in reply}
        if all(any(s.startswith(n + "@") for s in seen) for n in names):
            return
    raise SystemExit("workers did not answer a ping in time")


# --- measurements ---------------------------------------------------------------------------


@dataclass
class IngestRun:
    database: str
    workers: int
    seconds: float
    posts: int
    stored_posts: int
    mentions: int
    bucket_total: int
    failed_feeds: int
    peak_pool_kib: int
    peak_main_kib: int
    worker_cpu: float  # CPU seconds of the worker processes (main and pool) in the run
    database_cpu: float  # CPU seconds of the PostgreSQL backends serving the workers

    @property
    def rate(self) -> float:
        return self.posts / self.seconds


def count_done(sessions: Any) -> tuple[int, int]:
    with session_scope(sessions) as session:
        done = session.scalar(select(func.count(Feed.id)).where(Feed.last_success_at.is_not(None)))
        failed = session.scalar(select(func.count(Feed.id)).where(Feed.last_error.is_not(None)))
    return done or 0, failed or 0


def ingest(
    *,
    kind: str,
    workers: int,
    layout: Layout,
    base_url: str,
    args: argparse.Namespace,
    tmp: Path,
) -> IngestRun:
    """Ingest every timeline with `workers` worker processes into a fresh database."""
    config = write_config(tmp / "ingest.toml", layout, base_url)
    app = celery_app(args.redis, config)
    with database(kind, args.postgres, tmp) as url:
        env = prepare(url, config, tmp)
        env["MONITOR_BROKER_URL"] = args.redis
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        app.control.purge()
        names = [f"bench{i}-{os.getpid()}" for i in range(workers)]
        processes = [start_worker(env, tmp / f"worker-{n}.log", n) for n in names]
        try:
            wait_ready(app, names, processes, timeout=120)
            sampler = MemorySampler([p.pid for p in processes])
            sampler.start()
            # CPU spent starting up (imports, Celery) is not the ingest's.
            idle = [p.pid for p in processes] + [c for p in processes for c in children(p.pid)]
            cpu_before = {pid: cpu_seconds(pid) for pid in idle}
            started = time.monotonic()
            app.send_task("monitor.dispatch_due_feeds")
            deadline = started + args.timeout
            while True:
                done, failed = count_done(sessions)
                if done + failed >= layout.feeds:
                    break
                if time.monotonic() > deadline:
                    raise SystemExit(f"timed out: {done}/{layout.feeds} feeds polled")
                for process in processes:
                    if process.poll() is not None:
                        raise SystemExit("a worker exited during the run; see its log")
                time.sleep(0.1)
            seconds = time.monotonic() - started
            peaks = sampler.finish()
            worker_cpu = sum(
                cpu_seconds(pid) - cpu_before.get(pid, 0.0) for pid in sampler.peak_rss
            )
            database_cpu = backend_cpu(sessions) if kind == "postgresql" else 0.0
        finally:
            for process in processes:
                stop(process)
        with session_scope(sessions) as session:
            stored = session.scalar(select(func.count(PostRow.id))) or 0
            mentions = session.scalar(select(func.count(MentionRow.id))) or 0
            buckets = session.scalar(select(func.sum(TimelineBucket.count))) or 0
        engine.dispose()
    return IngestRun(
        database=kind,
        workers=workers,
        seconds=seconds,
        posts=layout.posts,
        stored_posts=stored,
        mentions=mentions,
        bucket_total=int(buckets),
        failed_feeds=failed,
        peak_pool_kib=peaks["pool"],
        peak_main_kib=peaks["main"],
        worker_cpu=worker_cpu,
        database_cpu=database_cpu,
    )


@dataclass
class HugeRun:
    growth_kib: int
    before_kib: int
    error: str | None
    served_bytes: int
    seconds: float


def huge_response(*, layout: Layout, base_url: str, args: argparse.Namespace, tmp: Path) -> HugeRun:
    """One worker polls a warm-up timeline, then the 2 GiB one; return its peak RSS growth."""
    config = write_config(tmp / "huge.toml", layout, base_url, huge=True)
    app = celery_app(args.redis, config)
    with database("postgresql", args.postgres, tmp) as url:
        env = prepare(url, config, tmp)
        env["MONITOR_BROKER_URL"] = args.redis
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        far = datetime.now(UTC) + timedelta(days=30)

        def schedule(name: str, when: datetime | None) -> None:
            with session_scope(sessions) as session:
                session.execute(update(Feed).where(Feed.name == name).values(next_poll_at=when))

        def row(name: str) -> Feed:
            with session_scope(sessions) as session:
                feed = session.scalar(select(Feed).where(Feed.name == name))
                session.expunge(feed)
                return feed

        app.control.purge()
        name = f"benchhuge-{os.getpid()}"
        process = start_worker(env, tmp / "worker-huge.log", name)
        try:
            wait_ready(app, [name], [process], timeout=120)
            schedule("huge", far)
            app.send_task("monitor.dispatch_due_feeds")
            warm_deadline = time.monotonic() + 300
            while row("bench-000").last_success_at is None:
                if time.monotonic() > warm_deadline or process.poll() is not None:
                    raise SystemExit("the warm-up poll did not finish; see the worker log")
                time.sleep(0.1)
            pool = children(process.pid)
            if len(pool) != 1:
                raise SystemExit(f"expected one pool process, found {pool}")
            # Settle, then restart the high-water mark from the current RSS.
            time.sleep(1.0)
            before = status_kib(pool[0], "VmRSS") or 0
            Path(f"/proc/{pool[0]}/clear_refs").write_text("5")
            schedule("huge", None)
            started = time.monotonic()
            app.send_task("monitor.dispatch_due_feeds")
            while row("huge").last_error is None and row("huge").last_success_at is None:
                if time.monotonic() > started + 300:
                    raise SystemExit("the huge poll did not finish in 300 s")
                time.sleep(0.1)
            seconds = time.monotonic() - started
            peak = status_kib(pool[0], "VmHWM") or 0
            served = httpx.get(base_url + "/stats").json()["huge_sent"]
        finally:
            stop(process)
        error = row("huge").last_error
        engine.dispose()
    return HugeRun(
        growth_kib=peak - before,
        before_kib=before,
        error=error,
        served_bytes=served,
        seconds=seconds,
    )


def cpu_seconds(pid: int) -> float:
    """Return the user + system CPU seconds `pid` has used (0 if it has gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def backend_cpu(sessions: Any) -> float:
    """Return the CPU seconds of the other PostgreSQL backends on this database (the
    workers' connections; the server runs on this machine)."""
    with session_scope(sessions) as session:
        pids = session.scalars(
            text(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).all()
    return sum(cpu_seconds(pid) for pid in pids)


def raw_vader(texts: Sequence[str]) -> float:
    """Return raw VADER's posts/s over `texts` (one pass, this process, one core)."""
    analyzer = SentimentIntensityAnalyzer()
    # CPU time: on a shared machine it is what this pass cost, whatever else runs.
    started = time.process_time()
    for item in texts:
        analyzer.polarity_scores(item)
    return len(texts) / (time.process_time() - started)


# --- fixture server and profile -------------------------------------------------------------


@contextlib.contextmanager
def fixture_server(layout: Layout, anchor: datetime, huge_bytes: int) -> Iterator[str]:
    """Run benchmarks/ingest_fixture.py in a subprocess; yield its base URL."""
    process = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "ingest_fixture.py"),
            "--posts",
            str(layout.posts),
            "--instances",
            str(layout.instances),
            "--anchor",
            anchor.isoformat(),
            "--huge-bytes",
            str(huge_bytes),
        ],
        stdout=subprocess.PIPE,
        cwd=ROOT,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().decode().strip()
        if not base_url.startswith("http://"):
            raise SystemExit("the fixture server did not start")
        yield base_url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait()


def profile(layout: Layout, base_url: str, feeds: int, args: argparse.Namespace, tmp: Path) -> None:
    """cProfile `pipeline.poll_feed` on the first `feeds` timelines, in this process."""
    from monitor import pipeline
    from monitor.runtime import Runtime

    config = write_config(tmp / "profile.toml", layout, base_url)
    kind = args.databases.split(",")[0]
    with database(kind, args.postgres, tmp) as url:
        env = prepare(url, config, tmp)
        runtime = Runtime.start(load_settings(env))
        runtime.scorer  # noqa: B018  (built before the clock, as a worker's first task does)
        runtime.matcher  # noqa: B018
        with session_scope(runtime.sessions) as session:
            ids = list(session.scalars(select(Feed.id).order_by(Feed.name).limit(feeds)))
        statements: Counter[str] = Counter()

        @event.listens_for(runtime.engine, "before_cursor_execute")
        def _count(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
            statements[" ".join(statement.split())[:90]] += 1

        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        for feed_id in ids:
            pipeline.poll_feed(runtime, feed_id, now=datetime.now(UTC))
        profiler.disable()
        seconds = time.perf_counter() - started
        posts = sum(layout.feed_posts(i) for i in range(feeds))
        print(f"{posts} posts in {seconds:.2f} s: {posts / seconds:,.0f} posts/s (profiled)")
        profiler.dump_stats(tmp.parent / "bench-ingest.prof")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(35)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        print("SQL statements sent (first 90 characters):")
        for statement, count in statements.most_common(15):
            print(f"{count:8d}  {statement}")
        runtime.close()


# --- table ----------------------------------------------------------------------------------


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Return a Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--instances", type=int, default=10, help="x 5 hashtags = feeds")
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--databases", default="postgresql", help="postgresql,sqlite")
    parser.add_argument(
        "--redis", default=os.environ.get("MONITOR_TEST_REDIS", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--huge-bytes", type=int, default=2 * 1024**3)
    parser.add_argument("--no-memory", action="store_true", help="skip the 2 GiB response")
    parser.add_argument("--rounds", type=int, default=1, help="best of R interleaved rounds")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--profile", type=int, metavar="FEEDS", help="profile, then exit")
    args = parser.parse_args()

    layout = Layout(posts=args.posts, instances=args.instances)
    anchor = datetime.now(UTC).replace(second=0, microsecond=0)
    tmp = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    texts: list[str] = []
    matching = mentions = 0
    for index in range(layout.feeds):
        for post in feed_posts(layout, index, anchor=anchor):
            texts.append(post_text(post, layout.hashtag(index)))
            matching += bool(post.topics)
            mentions += len(post.topics)
    print(
        f"{layout.posts:,} posts on {layout.feeds} timelines, {matching:,} "
        f"({matching / layout.posts:.1%}) mention a topic, {mentions:,} mentions; "
        f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    try:
        with fixture_server(layout, anchor, args.huge_bytes) as base_url:
            if args.profile:
                profile(layout, base_url, args.profile, args, tmp)
                return
            vader = [raw_vader(texts)]
            print(f"raw VADER: {vader[0]:,.0f} posts/s", flush=True)
            runs: list[IngestRun] = []
            for kind in args.databases.split(","):
                counts = [int(n) for n in args.workers.split(",")]
                # Rounds interleave the worker counts: the shared machine's load drifts.
                for workers in counts * args.rounds:
                    run = ingest(
                        kind=kind,
                        workers=workers,
                        layout=layout,
                        base_url=base_url,
                        args=args,
                        tmp=tmp,
                    )
                    print(
                        f"{kind} x{workers}: {run.seconds:.1f} s, {run.rate:,.0f} posts/s, "
                        f"stored {run.stored_posts:,} posts / {run.mentions:,} mentions "
                        f"(timeline {run.bucket_total:,}), failed feeds {run.failed_feeds}, "
                        f"peak pool RSS {run.peak_pool_kib / 1024:.0f} MiB, "
                        f"main {run.peak_main_kib / 1024:.0f} MiB; CPU: workers "
                        f"{run.worker_cpu:.1f} s, PostgreSQL {run.database_cpu:.1f} s; "
                        f"load average {os.getloadavg()[0]:.2f}",
                        flush=True,
                    )
                    runs.append(run)
            huge = None
            if not args.no_memory:
                huge = huge_response(layout=layout, base_url=base_url, args=args, tmp=tmp)
                print(f"huge: {huge}", flush=True)
            vader.append(raw_vader(texts))
            print(
                f"raw VADER again: {vader[1]:,.0f} posts/s; load average {os.getloadavg()[0]:.2f}",
                flush=True,
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    baseline = max(vader)
    rows: list[list[object]] = [
        [
            "raw VADER polarity_scores, same texts, per CPU-second (best of 2)",
            f"{baseline:,.0f}",
            "posts/s",
            "1.00x",
            "",
            "",
        ],
    ]
    for kind in args.databases.split(","):
        # The best round of each worker count (all rounds are printed above).
        best: dict[int, IngestRun] = {}
        for run in runs:
            if run.database == kind and (
                run.workers not in best or run.rate > best[run.workers].rate
            ):
                best[run.workers] = run
        mine = [best[n] for n in sorted(best)]
        one = next((run for run in mine if run.workers == 1), None)
        for run in mine:
            correct = all(
                r.stored_posts == matching
                and r.mentions == mentions
                and r.bucket_total == mentions
                and r.failed_feeds == 0
                for r in runs
                if r.database == kind
            ) and (
                run.stored_posts == matching
                and run.mentions == mentions
                and run.bucket_total == mentions
                and run.failed_feeds == 0
            )
            check = "" if correct else " (counts WRONG)"
            if args.rounds > 1:
                check += f", best of {args.rounds} rounds"
            if run.workers == 1:
                ratio = run.rate / baseline
                rows.append(
                    [
                        f"end-to-end, 1 worker process, {kind}{check}",
                        f"{run.rate:,.0f}",
                        "posts/s",
                        f"{ratio:.2f}x raw VADER",
                        ">= 0.5x",
                        met(ratio >= 0.5),
                    ]
                )
                # CPU time does not depend on what else the shared machine runs.
                per_cpu = run.posts / run.worker_cpu
                rows.append(
                    [
                        f"same run, posts per CPU-second of the worker processes, {kind}",
                        f"{per_cpu:,.0f}",
                        "posts/CPU-s",
                        f"{per_cpu / baseline:.2f}x raw VADER",
                        "",
                        "",
                    ]
                )
                if run.database_cpu:
                    rows.append(
                        [
                            f"same run, CPU of the PostgreSQL backends per 1,000 posts, {kind}",
                            f"{run.database_cpu / run.posts * 1000:.3f}",
                            "CPU-s",
                            f"{run.database_cpu / run.worker_cpu:.2f}x the workers' CPU",
                            "",
                            "",
                        ]
                    )
            else:
                ratio = run.rate / one.rate if one else float("nan")
                target = ">= 1.8x" if run.workers == 2 else ""
                rows.append(
                    [
                        f"end-to-end, {run.workers} worker processes, {kind}{check}",
                        f"{run.rate:,.0f}",
                        "posts/s",
                        f"{ratio:.2f}x 1 worker",
                        target,
                        met(ratio >= 1.8) if run.workers == 2 else "",
                    ]
                )
        for run in mine:
            # The highest peak of any round with this many workers.
            peak = max(
                r.peak_pool_kib for r in runs if (r.database, r.workers) == (kind, run.workers)
            )
            mb = peak * 1024 / 1e6
            rows.append(
                [
                    f"peak RSS of a worker's pool process, {run.workers} worker(s), {kind}",
                    f"{mb:.0f}",
                    "MB",
                    "",
                    "<= 200 MB",
                    met(mb <= 200),
                ]
            )
        for run in mine[:1]:
            rows.append(
                [
                    f"peak RSS of a worker's main process, {kind}",
                    f"{run.peak_main_kib * 1024 / 1e6:.0f}",
                    "MB",
                    "",
                    "",
                    "",
                ]
            )
    if huge is not None:
        capped = huge.error is not None and "cap" in huge.error
        rows.append(
            [
                f"peak RSS growth of the pool process while a {args.huge_bytes / 1024**3:g} GiB "
                "response is cut at the 10 MiB cap (size-cap error recorded: "
                + ("yes" if capped else "NO")
                + ")",
                f"{huge.growth_kib * 1024 / 1e6:.0f}",
                "MB",
                "",
                "bounded (< 100 MB)",
                met(capped and huge.growth_kib * 1024 < 100e6),
            ]
        )
        rows.append(
            [
                "bytes the server sent before the worker hung up",
                f"{huge.served_bytes / 1e6:.0f}",
                "MB",
                "",
                "",
                "",
            ]
        )
    print()
    print(table(["case", "value", "unit", "ratio", "target", "met?"], rows))


if __name__ == "__main__":
    main()
