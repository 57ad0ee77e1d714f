"""`monitor demo`: the simulator, a real Celery worker and beat, until the spike alert appears.

The demo runs the production path end to end (beat dispatches, the worker polls, scores,
stores and detects); only the feeds are simulated. It writes to the configured database (by
default the embedded SQLite file), so `monitor history` and `monitor alerts` show its data
afterwards.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console

from monitor.config import parse_config
from monitor.errors import ConfigError
from monitor.reports import alert_record, alert_records, history
from monitor.settings import Settings
from monitor.storage.engine import make_engine, make_session_factory, session_scope
from monitor.storage.migrate import upgrade
from monitor.storage.queries import sync_config
from monitor.storage.reads import alert_with_topic

DEMO_DETECTION_INTERVAL_SECONDS = 10
DEMO_TOPIC = "love-letter"
# The burst: 60 posts in 30 s, so it is over (and in the alert) soon after the alert opens.
DEMO_BURST_SECONDS = 30
DEMO_BURST_POSTS_PER_MINUTE = 120
# After the burst ends: a poll of every feed (10 s apart) and a detection run, with margin.
DEMO_SETTLE_SECONDS = 25


def demo_config_text(base_config: str, simulator: object) -> str:
    """Return the demo's config: the base config's topics and settings, the simulator's feeds,
    detection every DEMO_DETECTION_INTERVAL_SECONDS so the demo is quick, and the loopback
    allowed as a feed address (the simulator listens there; the shipped config refuses it)."""
    from monitor.simulate import demo_config_toml

    text = demo_config_toml(simulator, base_config=base_config)  # type: ignore[arg-type]
    text = with_table_setting(
        text, "detection", f"interval_seconds = {DEMO_DETECTION_INTERVAL_SECONDS}"
    )
    return with_table_setting(text, "fetch", 'allow_networks = ["127.0.0.0/8", "::1/128"]')


def with_table_setting(text: str, table: str, setting: str) -> str:
    """Return TOML `text` with `setting` (a `key = value` line) in `[table]`, replacing that
    key if the table has it and creating the table before the first array table if needed."""
    key = setting.split("=", 1)[0].strip()
    found = re.search(rf"(?ms)^\[{re.escape(table)}\]\n(.*?)(?=^\[|\Z)", text)
    if found is None:
        return text.replace("[[", f"[{table}]\n{setting}\n\n[[", 1)
    body = re.sub(rf"(?m)^{re.escape(key)}\s*=.*\n", "", found.group(1))
    return text[: found.start(1)] + f"{setting}\n{body}" + text[found.end(1) :]


def _start(command: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    log = log_path.open("wb")
    return subprocess.Popen(
        command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


def run_demo(settings: Settings, *, timeout_seconds: float, console: Console) -> int:
    """Run the demo and return the exit code: 0 once the spike alert is printed."""
    from monitor.cli import render_alerts, render_history, render_samples
    from monitor.simulate import Simulator

    base_path = settings.config_path
    try:
        base_config = base_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{base_path}: cannot read the base config of the demo: {exc}") from exc
    data_dir = settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    if settings.embedded_broker:
        # Messages a previous run left in the embedded broker would only replay old polls.
        shutil.rmtree(settings.broker_folder, ignore_errors=True)

    simulator = Simulator(
        burst_duration_seconds=DEMO_BURST_SECONDS,
        burst_posts_per_minute=DEMO_BURST_POSTS_PER_MINUTE,
    )
    simulator.start()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        config_text = demo_config_text(base_config, simulator)
        config = parse_config(config_text, source="demo config")
        demo_config = data_dir / "demo.toml"
        demo_config.write_text(config_text, encoding="utf-8")
        engine = make_engine(settings.database_url)
        upgrade(engine)
        with session_scope(make_session_factory(engine)) as session:
            sync_config(session, config)
        console.print(
            f"[bold]Simulator[/] serving {len(config.feeds)} feeds at "
            f"{simulator.base_url}; the burst starts at "
            f"{simulator.burst_start:%H:%M:%S} UTC"
        )

        env = dict(os.environ)
        env.update(
            MONITOR_CONFIG=str(demo_config),
            MONITOR_DATA_DIR=str(data_dir),
            MONITOR_DATABASE_URL=settings.database_url,
            MONITOR_BROKER_URL="" if settings.embedded_broker else settings.broker_url,
        )
        celery = [sys.executable, "-m", "celery", "-A", "workers.app"]
        processes.append(
            _start(
                [
                    *celery,
                    "worker",
                    "--loglevel=INFO",
                    "--concurrency=2",
                    "--without-mingle",
                    "--without-gossip",
                    "-n",
                    f"demo-{os.getpid()}@%h",
                ],
                env,
                data_dir / "demo-worker.log",
            )
        )
        processes.append(
            _start(
                [
                    *celery,
                    "beat",
                    "--loglevel=INFO",
                    "--schedule",
                    str((data_dir / "demo-celerybeat-schedule").resolve()),
                ],
                env,
                data_dir / "demo-beat.log",
            )
        )
        console.print(
            f"[bold]Worker and beat[/] started (logs in {data_dir}/demo-*.log); "
            f"waiting up to {timeout_seconds:.0f} s for a spike alert on {DEMO_TOPIC}"
        )

        sessions = make_session_factory(engine)
        burst_bucket = simulator.burst_start - timedelta(minutes=config.timeline.bucket_minutes)
        deadline = time.monotonic() + timeout_seconds
        found: dict | None = None
        while time.monotonic() < deadline:
            for process in processes:
                if process.poll() is not None:
                    console.print(
                        f"[red]a demo process exited with {process.returncode}; "
                        f"see {data_dir}/demo-*.log[/]"
                    )
                    return 1
            with sessions() as session:
                records = alert_records(session, topic=DEMO_TOPIC, since=burst_bucket)
            if records:
                found = records[0]
                break
            time.sleep(2)
        if found is None:
            console.print(
                f"[red]no spike alert within {timeout_seconds:.0f} s; "
                f"see `monitor feeds` and {data_dir}/demo-*.log[/]"
            )
            return 1
        console.print(
            f"[bold green]Spike alert opened[/] on {DEMO_TOPIC} on "
            f"{found['peak_count']} mentions so far; following it until the burst is in"
        )
        # The alert opens while its bucket is still filling; its peak and explanation grow
        # with each poll, so show the episode once the whole burst has been polled and judged.
        burst_end = simulator.burst_start + timedelta(seconds=simulator.burst_duration_seconds)
        settle = burst_end + timedelta(seconds=DEMO_SETTLE_SECONDS) - datetime.now(UTC)
        time.sleep(max(0.0, min(settle.total_seconds(), deadline - time.monotonic())))
        with sessions() as session:
            latest = alert_with_topic(session, found["id"])
            found = alert_record(*latest) if latest is not None else found
        console.print(
            f"[bold green]Spike detected[/] on {DEMO_TOPIC}: "
            f"{found['peak_count']} mentions in one bucket, "
            f"{found['expected']:.1f} expected (p = {found['score']:.1e})"
        )
        console.print(render_alerts([found]))
        console.print(render_samples(found))
        from monitor.alert_views import render_explanation

        for renderable in render_explanation(found):
            console.print(renderable)
        now = datetime.now(UTC)
        with sessions() as session:
            data = history(
                session,
                DEMO_TOPIC,
                since=now - timedelta(hours=12),
                until=now,
                width=timedelta(hours=1),
                base_width=timedelta(minutes=config.timeline.bucket_minutes),
            )
        console.print(render_history(data))
        console.print(
            "Next: `monitor topics`, `monitor alerts`, `monitor history love-letter "
            "--since 2d --bucket 1h --group-by lang`, `monitor feeds`, `monitor serve`"
        )
        engine.dispose()
        return 0
    finally:
        for process in processes:
            _stop(process)
        simulator.stop()
