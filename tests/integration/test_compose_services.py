"""Each app service of docker-compose.yml, started with its own command and environment as a
local process, the service hostnames pointed at loopback Redis and PostgreSQL, completes a
poll -> score -> store -> alert cycle. (No Docker engine runs here; the file itself is
validated in test_compose_file.py.)"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
import pytest
import yaml
from sqlalchemy import func, select

from monitor.storage.engine import make_engine, make_session_factory
from monitor.storage.tables import AlertRow, MentionRow
from tests.conftest import POSTGRES_ADMIN_URL, REPO, FeedServer, Route, free_port, write_config
from tests.integration.receivers import Receiver, receiver_fixture  # noqa: F401 - fixture
from tests.integration.test_worker import spike_feed
from tests.processes import start, stop, wait_for

pytestmark = pytest.mark.integration


def compose_services() -> dict[str, dict]:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]


def local_environment(
    service: dict, *, database: str, redis_db_url: str, config: Path
) -> dict[str, str]:
    """The service's compose environment with service hostnames mapped to loopback."""
    env = dict(os.environ)
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    env["PYTHONPATH"] = str(REPO)
    compose_env = {k: str(v) for k, v in service["environment"].items()}
    for key, value in compose_env.items():
        value = re.sub(
            r"\$\{(\w+):-([^}]*)\}", lambda m: os.environ.get(m.group(1), m.group(2)), value
        )
        env[key] = value
    env["MONITOR_DATABASE_URL"] = re.sub(
        r"@postgres:5432/monitor$", f"@127.0.0.1:5432/{database}", env["MONITOR_DATABASE_URL"]
    )
    env["MONITOR_BROKER_URL"] = env["MONITOR_BROKER_URL"].replace(
        "redis://redis:6379/0", redis_db_url
    )
    assert env["MONITOR_CONFIG"] == "/app/config/monitor.toml"
    env["MONITOR_CONFIG"] = str(config)  # the compose file mounts ./config there
    return env


@pytest.fixture
def compose_database() -> str:
    """A database owned by the compose file's `monitor` role (trust auth on loopback)."""
    name = f"monitor_compose_{datetime.now(UTC):%H%M%S%f}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_roles WHERE rolname = 'monitor'").fetchone()
        if not exists:
            admin.execute("CREATE ROLE monitor LOGIN PASSWORD 'monitor'")
        admin.execute(f'CREATE DATABASE "{name}" OWNER monitor')
    yield name
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_compose_commands_complete_a_cycle(
    tmp_path: Path,
    compose_database: str,
    redis_url: str,
    feed_server: FeedServer,
    receiver: Receiver,
) -> None:
    services = compose_services()
    now = datetime.now(UTC)
    body, expected = spike_feed(now)
    feed_server.routes["/fans.xml"] = Route(body=body)
    # The worker's detection enqueues the notification task, which signs and POSTs the alert.
    sink = (
        f'[[notifiers]]\nname = "hook"\nkind = "webhook"\nurl = "{receiver.url("/hook")}"\n'
        'secret_env = "MONITOR_TEST_HOOK_SECRET"\n'
    )
    config = write_config(
        tmp_path / "monitor.toml",
        extra=sink,
        feeds=[
            {
                "name": "fans",
                "kind": "rss",
                "url": feed_server.url("/fans.xml"),
                "interval_seconds": 10,
            }
        ],
    )
    config.write_text(
        config.read_text().replace("interval_seconds = 60 ", "interval_seconds = 5 ", 1)
    )

    def env_of(name: str) -> dict[str, str]:
        return local_environment(
            services[name], database=compose_database, redis_db_url=redis_url, config=config
        )

    migrate = subprocess.run(
        services["migrate"]["command"],
        env=env_of("migrate"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert migrate.returncode == 0, migrate.stderr
    assert "at revision" in migrate.stdout

    worker_command = list(services["worker"]["command"])
    detector_command = list(services["detector"]["command"])
    beat_command = [
        str(tmp_path / "beat-schedule") if arg == "/tmp/celerybeat-schedule" else arg
        for arg in services["beat"]["command"]
    ]
    assert beat_command != services["beat"]["command"], "beat's --schedule path changed in compose"
    # The api listens on all interfaces of its container; here, loopback and a free port.
    api_port = free_port()
    api_command = [
        {"0.0.0.0": "127.0.0.1", "8000": str(api_port)}.get(arg, arg)
        for arg in services["api"]["command"]
    ]
    assert "127.0.0.1" in api_command and str(api_port) in api_command
    worker_env = env_of("worker") | {"MONITOR_TEST_HOOK_SECRET": "s3"}
    worker = start(worker_command, worker_env, tmp_path / "worker.log")
    # The alert and its notification come from the detector service's queue only.
    detector_env = env_of("detector") | {"MONITOR_TEST_HOOK_SECRET": "s3"}
    detector = start(detector_command, detector_env, tmp_path / "detector.log")
    beat = start(beat_command, env_of("beat"), tmp_path / "beat.log")
    api = start(api_command, env_of("api") | {"MONITOR_API_TOKEN": "t"}, tmp_path / "api.log")
    engine = make_engine(env_of("worker")["MONITOR_DATABASE_URL"])
    sessions = make_session_factory(engine)
    try:

        def mentions() -> int:
            with sessions() as session:
                return session.scalar(select(func.count(MentionRow.id))) or 0

        def alerts() -> int:
            with sessions() as session:
                return session.scalar(select(func.count(AlertRow.id))) or 0

        log = tmp_path / "worker.log"
        detector_log = tmp_path / "detector.log"
        assert wait_for(lambda: mentions() == expected, timeout=90, processes=[worker, beat]), (
            log.read_text()[-3000:]
        )
        assert wait_for(lambda: alerts() == 1, timeout=40, processes=[detector, beat]), (
            detector_log.read_text()[-3000:]
        )

        def api_alerts() -> list[dict]:
            try:
                response = httpx.get(f"http://127.0.0.1:{api_port}/api/alerts", timeout=5)
            except httpx.TransportError:
                return []
            return response.json()["alerts"] if response.status_code == 200 else []

        assert wait_for(lambda: len(api_alerts()) == 1, timeout=30, processes=[api]), (
            tmp_path / "api.log"
        ).read_text()[-3000:]
        assert api_alerts()[0]["topic"] == "love-letter"
        health = httpx.get(f"http://127.0.0.1:{api_port}/healthz", timeout=10)
        assert health.status_code == 200, health.text
        assert wait_for(
            lambda: len(receiver.posts("/hook")) == 1, timeout=30, processes=[detector]
        ), detector_log.read_text()[-3000:]
        [(headers, payload)] = receiver.posts("/hook")
        assert payload["event"] == "open" and payload["alerts"][0]["topic"] == "love-letter"
        assert headers["x-monitor-signature"].startswith("sha256=")
        # Task durations recorded by the worker processes are scraped from the api.
        metrics = httpx.get(f"http://127.0.0.1:{api_port}/metrics", timeout=10).text
        runs = re.search(
            r'^monitor_task_runs_total\{task="monitor.poll_feed"\} (\S+)$', metrics, re.M
        )
        assert runs and float(runs.group(1)) >= 1, metrics[-2000:]
        assert 'monitor_task_duration_seconds_total{task="monitor.detect_spikes"}' in metrics
        assert 'monitor_task_runs_total{task="monitor.store_poll"}' in metrics
        # Each task ran where its queue sends it.
        assert "monitor.detect_spikes[" in detector_log.read_text()
        assert "monitor.detect_spikes[" not in log.read_text()
        assert "monitor.store_poll[" in log.read_text()
        assert "monitor.poll_feed[" not in detector_log.read_text()
    finally:
        stop(api)
        stop(beat)
        stop(worker)
        stop(detector)
        engine.dispose()
