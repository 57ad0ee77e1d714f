"""Services the fault tests may break: a Redis server and a PostgreSQL cluster of their own,
on their own loopback ports, started and stopped by the test (never the shared ones)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from tests.conftest import free_port

# Short task limits so a killed or cut-off poll is retried within seconds (production:
# 90 s / 120 s / 900 s; the invariant soft < hard < visibility timeout is the same).
FAST_WORKER_LIMITS = """
[worker]
soft_time_limit_seconds = 4
time_limit_seconds = 6
visibility_timeout_seconds = 8
"""

PG_BIN = (
    Path("/usr/lib/postgresql")
    / sorted(p.name for p in Path("/usr/lib/postgresql").iterdir())[-1]
    / "bin"
)


@dataclass
class OwnRedis:
    """A redis-server on its own port that keeps nothing on disk (a restart empties it)."""

    port: int
    folder: Path

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        subprocess.run(
            [
                "redis-server", "--daemonize", "yes", "--bind", "127.0.0.1",
                "--port", str(self.port), "--save", "", "--appendonly", "no",
                "--dir", str(self.folder), "--logfile", str(self.folder / "redis.log"),
                "--pidfile", str(self.folder / "redis.pid"),
            ],
            check=True,
        )  # fmt: skip
        client = redis.Redis(port=self.port, socket_timeout=1)
        deadline = time.monotonic() + 15
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def crash(self) -> None:
        """Stop the server without saving: every queued message is gone."""
        subprocess.run(
            ["redis-cli", "-p", str(self.port), "shutdown", "nosave"], capture_output=True
        )
        client = redis.Redis(port=self.port, socket_timeout=1)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                client.ping()
            except redis.ConnectionError:
                return
            time.sleep(0.1)
        raise AssertionError("redis-server did not stop")


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(port=free_port(), folder=tmp_path / "redis")
    server.folder.mkdir()
    server.start()
    yield server
    server.crash()


def as_postgres(program: str, *args: str, check: bool = True) -> None:
    """Run one of PostgreSQL's programs as the postgres user (it refuses to run as root)."""
    result = subprocess.run(
        ["runuser", "-u", "postgres", "--", str(PG_BIN / program), *args],
        capture_output=True,
        text=True,
    )
    if check and result.returncode:
        raise AssertionError(f"{program} {' '.join(args)} failed: {result.stderr or result.stdout}")


@dataclass
class OwnPostgres:
    """A throwaway PostgreSQL cluster (initdb, trust auth) on its own port."""

    port: int
    folder: Path

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _pg_ctl(self, *args: str, check: bool = True) -> None:
        as_postgres("pg_ctl", "-D", str(self.folder / "data"), *args, check=check)

    def init(self) -> None:
        self.folder.mkdir(parents=True)
        shutil.chown(self.folder, "postgres", "postgres")
        as_postgres("initdb", "-D", str(self.folder / "data"), "-A", "trust", "-U", "postgres")

    def start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder}"
        self._pg_ctl("-l", str(self.folder / "log"), "-w", "-o", options, "start")

    def crash(self) -> None:
        """Stop at once, as a power cut would: no checkpoint, clients cut off."""
        self._pg_ctl("-m", "immediate", "-w", "stop")


@pytest.fixture
def own_postgres() -> Iterator[OwnPostgres]:
    # Not under pytest's temporary folders: pytest keeps those private to root, and the
    # postgres user must be able to reach its data directory.
    folder = Path(tempfile.mkdtemp(prefix="monitor-pg-"))
    folder.chmod(0o755)
    cluster = OwnPostgres(port=free_port(), folder=folder / "cluster")
    cluster.init()
    cluster.start()
    yield cluster
    cluster._pg_ctl("-m", "immediate", "stop", check=False)
    shutil.rmtree(folder, ignore_errors=True)
