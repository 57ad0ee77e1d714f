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


def write_rows(path: Path, rows: list[tuple[str, str]], *, prefix: str = "") -> Path:
    path.write_text(prefix + "timestamp,value\n" + "".join(f"{t},{v}\n" for t, v in rows))
    return path


def backtest(*args: str):
    return CliRunner().invoke(app, ["backtest", "--input", *args])


def test_rows_out_of_order_or_repeated_are_refused_naming_the_line(tmp_path: Path) -> None:
    repeated = write_rows(
        tmp_path / "repeated.csv", [("2026-01-01 00:00:00", "1"), ("2026-01-01 00:00:00", "2")]
    )
    result = backtest(str(repeated))
    assert result.exit_code == 2
    assert "repeated.csv:3: 2026-01-01 00:00:00 is not after the row before" in result.output
    # An offset makes this row earlier than the one before it, though its digits are later.
    shifted = write_rows(
        tmp_path / "shifted.csv",
        [("2026-01-01 00:00:00", "1"), ("2026-01-01T00:05:00+09:00", "2")],
    )
    result = backtest(str(shifted))
    assert result.exit_code == 2 and "shifted.csv:3:" in result.output


def test_rows_off_the_bucket_grid_or_wider_than_the_bucket_are_refused(tmp_path: Path) -> None:
    off_grid = write_rows(
        tmp_path / "off.csv",
        [("2026-01-01 00:00:00", "1"), ("2026-01-01 00:05:00", "1"), ("2026-01-01 00:07:00", "1")],
    )
    result = backtest(str(off_grid))
    assert result.exit_code == 2
    assert "off.csv:4: 2026-01-01 00:07:00 is 2m after the row before" in result.output
    hourly_rows = [(f"2026-01-01 {h:02d}:00:00", "3") for h in range(6)]
    hourly = write_rows(tmp_path / "hourly.csv", hourly_rows)
    result = backtest(str(hourly))
    assert result.exit_code == 2
    assert "no two rows are 5m apart (the closest are 1h)" in result.output
    assert backtest(str(hourly), "--bucket", "1h").exit_code == 0
    stray = write_rows(
        tmp_path / "stray.csv",
        [("2026-01-01 00:00:00", "1"), ("2026-01-01 00:05:00", "1"), ("2099-01-01 00:00:00", "1")],
    )
    result = backtest(str(stray), "--bucket", "5m")
    assert result.exit_code == 2 and "at most 2,000,000" in result.output


def test_values_that_are_not_counts_are_refused(tmp_path: Path) -> None:
    for value in ("-3", "inf", "nan", "1e400", "many"):
        path = write_rows(tmp_path / "values.csv", [("2026-01-01 00:00:00", value)])
        result = backtest(str(path))
        assert result.exit_code == 2, value
        assert f"values.csv:2: value '{value}' is not a count" in result.output
    not_utf8 = tmp_path / "latin1.csv"
    not_utf8.write_bytes(b"timestamp,value\n2026-01-01 00:00:00,1 \xe9\n")
    result = backtest(str(not_utf8))
    assert result.exit_code == 2 and "latin1.csv: not UTF-8 text" in result.output


def test_a_byte_order_mark_and_quoted_timestamps_are_read_as_written(tmp_path: Path) -> None:
    path = write_rows(
        tmp_path / "excel.csv",
        [('"2026-01-01 00:00:00"', "1"), ('"2026-01-01 00:05:00"', "2.4")],
        prefix="\ufeff",
    )
    result = backtest(str(path), "--format", "jsonl")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["timestamp"], r["value"]) for r in rows] == [
        ("2026-01-01 00:00:00", 1),
        ("2026-01-01 00:05:00", 2),
    ]


def test_a_gap_is_unknown_by_default_and_quiet_with_missing_zero(tmp_path: Path) -> None:
    """A spike after a day with no rows: as unknown, the day is no baseline and there is no
    history to judge the spike by; as zeros, the day is a quiet baseline and the spike
    alerts. Either way, one output row per input row."""
    csv_path = tmp_path / "series.csv"
    values = write_series(csv_path, days=3, spike_at=2 * 288 + 100)
    lines = csv_path.read_text().splitlines()
    # Drop the second day's rows except its first, so the file has a day-long gap.
    kept = [lines[0], *lines[1 : 288 + 2], *lines[2 * 288 + 1 :]]
    gapped = tmp_path / "gapped.csv"
    gapped.write_text("\n".join(kept) + "\n")
    given = len(kept) - 1
    unknown = backtest(str(gapped), "--format", "jsonl")
    assert unknown.exit_code == 0, unknown.output
    rows = [json.loads(line) for line in unknown.stdout.splitlines()]
    assert len(rows) == given
    assert [r["value"] for r in rows] == values[: 288 + 1] + values[2 * 288 :]
    assert "287 buckets missing from the file, replayed as unknown" in unknown.stderr
    table = backtest(str(gapped))
    assert "287 buckets missing from the file, replayed as unknown" in table.stdout
    zero = backtest(str(gapped), "--missing", "zero", "--format", "jsonl")
    assert zero.exit_code == 0, zero.output
    zero_rows = [json.loads(line) for line in zero.stdout.splitlines()]
    assert len(zero_rows) == given
    # Same rows, different baselines: the quiet day lowers what the last day is judged by.
    spike_row = 288 + 1 + 100
    assert zero_rows[spike_row]["value"] == 400
    assert zero_rows[spike_row]["expected"] != rows[spike_row]["expected"]
