"""Real processes for integration and fault tests: Celery workers and beats started from the
same command lines the compose file uses, stopped or killed by recorded PID, never by name."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from tests.conftest import REPO

CELERY = [sys.executable, "-m", "celery", "-A", "workers.app"]


def processes_env(
    tmp_path: Path, config: Path, database_url: str, broker_url: str
) -> dict[str, str]:
    """Return the environment of a monitor process using `config`, the database and broker."""
    env = dict(os.environ)
    env.update(
        MONITOR_CONFIG=str(config),
        MONITOR_DATA_DIR=str(tmp_path / "var"),
        MONITOR_DATABASE_URL=database_url,
        MONITOR_BROKER_URL=broker_url,
        PYTHONPATH=str(REPO),
    )
    return env


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start `command` in a session of its own (so its children can be signalled with it)."""
    return subprocess.Popen(
        command,
        env=env,
        cwd=REPO,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def start_worker(
    env: dict[str, str], log: Path, *, name: str, concurrency: int = 2
) -> subprocess.Popen[bytes]:
    """Start a Celery worker (prefork pool) as the compose `worker` service runs it."""
    return start(
        [
            *CELERY,
            "worker",
            "--loglevel=INFO",
            f"--concurrency={concurrency}",
            "--without-mingle",
            "--without-gossip",
            "-n",
            f"{name}-{os.getpid()}@%h",
        ],
        env,
        log,
    )


def start_beat(env: dict[str, str], log: Path, schedule: Path) -> subprocess.Popen[bytes]:
    """Start Celery beat as the compose `beat` service runs it."""
    return start([*CELERY, "beat", "--loglevel=INFO", "--schedule", str(schedule)], env, log)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a process and its children: SIGTERM, then SIGKILL after 20 s."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def kill_hard(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL a process and everything in its session: a crash, with no cleanup at all."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def kill_pid(pid: int) -> None:
    """SIGKILL one process, if it still exists."""
    with contextlib.suppress(ProcessLookupError):  # it may have ended on its own
        os.kill(pid, signal.SIGKILL)


def children(pid: int) -> list[int]:
    """Return the PIDs of the direct children of `pid` (read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces; the parent PID is the 2nd field after it.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def wait_for(
    predicate: Callable[[], object],
    *,
    timeout: float,
    processes: Sequence[subprocess.Popen[bytes]] = (),
    interval: float = 0.5,
) -> bool:
    """Return True once `predicate()` is truthy, False after `timeout` seconds; fail at once
    if one of `processes` exits meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in processes:
            assert process.poll() is None, f"{process.args} exited with {process.returncode}"
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
