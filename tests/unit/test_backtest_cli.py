"""`monitor backtest --input` on generated NAB-format files, in process."""

from __future__ import annotations

import json
import math
import random
from datetime import datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from monitor.cli import app

START = datetime(2026, 3, 2, 0, 0, 0)


def write_series(path: Path, *, days: int, spike_at: int, seed: int = 11) -> list[int]:
    rng = random.Random(seed)
    values = []
    for index in range(days * 288):
        hour = index * 5 / 60 % 24
        mean = 20 + 15 * math.sin(hour / 24 * 2 * math.pi)
        values.append(max(0, round(rng.gauss(mean, math.sqrt(mean)))))
    values[spike_at] = 400
    lines = ["timestamp,value"] + [
        f"{START + timedelta(minutes=5 * i):%Y-%m-%d %H:%M:%S},{v}" for i, v in enumerate(values)
    ]
    path.write_text("\n".join(lines) + "\n")
    return values


def test_jsonl_has_one_object_per_row_and_flags_the_spike(tmp_path: Path) -> None:
    csv_path = tmp_path / "series.csv"
    spike = 3 * 288 + 100
    values = write_series(csv_path, days=4, spike_at=spike)
    result = CliRunner().invoke(app, ["backtest", "--input", str(csv_path), "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == len(values)
    assert [row["value"] for row in rows] == values
    assert rows[spike]["timestamp"] == f"{START + timedelta(minutes=5 * spike):%Y-%m-%d %H:%M:%S}"
    assert [i for i, row in enumerate(rows) if row["alert"]] == [spike]
    assert rows[spike]["score"] > 0.5 and all(0 <= row["score"] <= 1 for row in rows)
    assert rows[spike]["event"] == "open"


def test_table_lists_the_alerts_and_other_detectors_run(tmp_path: Path) -> None:
    csv_path = tmp_path / "series.csv"
    write_series(csv_path, days=3, spike_at=2 * 288 + 50)
    table = CliRunner().invoke(app, ["backtest", "--input", str(csv_path)])
    assert table.exit_code == 0, table.output
    assert "2026-03-04 04:10" in table.stdout and "1 alerts" in table.stdout
    peak = CliRunner().invoke(app, ["backtest", "--input", str(csv_path), "--detector", "peak"])
    assert peak.exit_code == 0 and "(peak)" in peak.stdout


def test_bad_input_exits_2_with_a_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("time,count\n2026-01-01 00:00:00,1\n")
    result = CliRunner().invoke(app, ["backtest", "--input", str(bad)])
    assert result.exit_code == 2
    assert "timestamp,value" in result.output
    unknown = CliRunner().invoke(app, ["backtest", "--input", str(bad), "--detector", "x"])
    assert unknown.exit_code == 2 and "unknown detector" in unknown.output
    until = CliRunner().invoke(app, ["backtest", "--input", str(bad), "--until", "1d"])
    assert until.exit_code == 2 and "--until goes with --topic" in until.output
