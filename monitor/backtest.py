"""Replay a series through a detector and the episode rules: what would have alerted, when.

`alert` on a row is true when an alert episode opens on that bucket, or the bucket is
anomalous while the episode is still open. Buckets in the cooldown after an episode, and
buckets that are only "still elevated" (keeping an episode open without being anomalous),
are not alerts. This is the definition the benchmark scores and `monitor backtest` prints.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from monitor.detectors.base import Detector
from monitor.detectors.seasonal import score_of
from monitor.episodes import EpisodePolicy, EpisodeState, step_episode
from monitor.model import Verdict
from monitor.timeline import as_utc


@dataclass(frozen=True, slots=True)
class BacktestRow:
    """One bucket of a replay: the verdict, the 0-1 score and whether it is an alert row."""

    start: datetime
    value: int
    expected: float
    tail: float
    score: float
    alert: bool
    action: str | None  # "open", "update", "resolve" or None


@dataclass(frozen=True, slots=True)
class ReplayedAlert:
    """An alert episode found by a replay."""

    opened: datetime
    resolved: datetime | None
    peak_bucket: datetime
    peak: int
    expected_at_peak: float
    tail: float
    excess: float
    alert_rows: int


def read_series_csv(path: str | Path) -> tuple[list[datetime], list[int]]:
    """Return the (timestamps, values) of a `timestamp,value` CSV (the NAB format)."""
    starts: list[datetime] = []
    values: list[int] = []
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or [h.strip().lower() for h in header[:2]] != ["timestamp", "value"]:
            raise ValueError(f"{path}: the first line must be the header timestamp,value")
        for line_no, row in enumerate(reader, start=2):
            if not row:
                continue
            try:
                starts.append(as_utc(datetime.fromisoformat(row[0].strip())))
                values.append(round(float(row[1])))
            except (ValueError, IndexError) as exc:
                raise ValueError(f"{path}:{line_no}: expected timestamp,value: {exc}") from None
    return starts, values


def verdicts_for(
    detector: Detector,
    values: Sequence[int],
    starts: Sequence[datetime],
    width: timedelta,
    *,
    excluded: Iterable[int] = (),
) -> list[Verdict]:
    """Return the detector's verdict on every bucket, each using only the buckets before it
    (rows in `excluded`, e.g. source outages, are unknown to later baselines)."""
    skip = set(excluded)
    scan = getattr(detector, "scan", None)
    if scan is not None and not skip:
        return list(scan(values, starts, width))
    known: list[int | None] = [None if i in skip else v for i, v in enumerate(values)]
    size = detector.history_buckets(width)
    return [
        detector.evaluate(
            known[max(0, index - size) : index],
            value,
            bucket_start=start,
            width=width,
            complete=True,
        )
        for index, (value, start) in enumerate(zip(values, starts, strict=True))
    ]


def replay(
    verdicts: Sequence[Verdict],
    policy: EpisodePolicy,
    *,
    max_p_value: float,
    width: timedelta,
    excluded: Iterable[int] = (),
) -> tuple[list[BacktestRow], list[ReplayedAlert]]:
    """Return the per-bucket rows and the alert episodes the verdicts produce."""
    skip = set(excluded)
    state = EpisodeState()
    rows: list[BacktestRow] = []
    alerts: list[ReplayedAlert] = []
    current: dict[str, object] | None = None
    for index, verdict in enumerate(verdicts):
        if index in skip:
            verdict = Verdict(
                verdict.bucket_start,
                verdict.observed,
                verdict.expected,
                1.0,
                False,
                verdict.complete,
            )
        state, action = step_episode(state, verdict, policy, width=width)
        alert = action == "open" or (action == "update" and verdict.anomalous)
        if action == "open":
            current = {"opened": verdict.bucket_start, "peak": verdict, "excess": 0.0, "rows": 0}
        if current is not None and action in ("open", "update", "hold"):
            current["excess"] = float(current["excess"]) + max(
                0.0, verdict.observed - verdict.expected
            )  # type: ignore[arg-type]
            peak = current["peak"]
            assert isinstance(peak, Verdict)
            if verdict.observed > peak.observed:
                current["peak"] = verdict
            current["rows"] = int(current["rows"]) + int(alert)  # type: ignore[call-overload]
        if action == "resolve" and current is not None:
            alerts.append(_finish(current, verdict.bucket_start))
            current = None
        rows.append(
            BacktestRow(
                start=verdict.bucket_start,
                value=verdict.observed,
                expected=verdict.expected,
                tail=verdict.score,
                score=round(score_of(verdict.score, max_p_value), 6),
                alert=alert,
                action=action if action != "hold" else None,
            )
        )
    if current is not None:
        alerts.append(_finish(current, None))
    return rows, alerts


def _finish(current: dict[str, object], resolved: datetime | None) -> ReplayedAlert:
    peak = current["peak"]
    assert isinstance(peak, Verdict)
    return ReplayedAlert(
        opened=current["opened"],  # type: ignore[arg-type]
        resolved=resolved,
        peak_bucket=peak.bucket_start,
        peak=peak.observed,
        expected_at_peak=peak.expected,
        tail=peak.score,
        excess=round(float(current["excess"]), 2),  # type: ignore[arg-type]
        alert_rows=int(current["rows"]),  # type: ignore[call-overload]
    )
