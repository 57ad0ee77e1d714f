"""The README's demo command, run as a user would: it must find the spike and exit 0, and the
CLI must read its results afterwards."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.integration


def monitor(
    *args: str, cwd: Path, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_demo_detects_the_spike_and_leaves_readable_results(tmp_path: Path) -> None:
    shutil.copytree(REPO / "config", tmp_path / "config")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env["PYTHONPATH"] = str(REPO)
    demo = monitor("demo", "--timeout", "150", cwd=tmp_path, env=env, timeout=240)
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    # It reports the alert as it opens, then the episode once the whole burst is in.
    assert "Spike alert opened on love-letter" in demo.stdout
    assert "Spike detected on love-letter" in demo.stdout
    assert demo.stdout.index("Spike alert opened") < demo.stdout.index("Spike detected")
    assert "Rising terms" in demo.stdout and "Sentiment" in demo.stdout  # the explanation
    assert (tmp_path / "var" / "monitor.db").exists()

    alerts = monitor("alerts", "--format", "json", cwd=tmp_path, env=env)
    assert alerts.returncode == 0, alerts.stderr
    records = json.loads(alerts.stdout)
    spike = next(r for r in records if r["topic"] == "love-letter")
    assert spike["kind"] == "spike" and spike["peak_count"] >= 10
    assert spike["samples"], "the alert carries sample posts"
    assert spike["explanation"]["rising_terms"], "the alert explains what rose"

    history = monitor(
        "history",
        "love-letter",
        "--since",
        "30d",
        "--bucket",
        "1h",
        "--format",
        "json",
        cwd=tmp_path,
        env=env,
    )
    assert history.returncode == 0, history.stderr
    data = json.loads(history.stdout)
    assert data["topic"] == "love-letter" and data["bucket"] == "1h"
    assert data["total"] > 50
    peak = max(data["buckets"], key=lambda b: b["count"])
    assert peak["count"] >= spike["peak_count"]
    # The demo stopped the worker and beat it started (its beat names this run's folder).
    leftover = subprocess.run(
        ["pgrep", "-f", f"{tmp_path}/var/demo-celerybeat-schedule"], capture_output=True
    )
    assert leftover.returncode == 1, leftover.stdout
