"""Replay a series through a detector and the episode rules: what would have alerted, when.

`alert` on a row is true on the bucket where an alert episode opens, on a bucket where the
open episode escalates to a higher severity (minor -> major -> critical), and on a bucket
where it surges (an anomalous count at least `surge_ratio` times the one it last alerted
on): the buckets on which a user is told something new. The rest of an episode (anomalous
or still elevated buckets that change nothing but its peak and excess), buckets in the
cooldown after an episode, and calm buckets are not alert rows. This is the definition the
benchmark scores and `monitor backtest` prints.
"""

from __future__ import annotations

import csv
import inspect
import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path

from monitor.config import ExpectedEvent
from monitor.detectors.base import Detector
from monitor.detectors.seasonal import score_of
from monitor.episodes import (
    ALERT_ACTIONS,
    SEVERITIES,
    EpisodePolicy,
    EpisodeState,
    step_episode,
)
from monitor.model import BucketCount, Verdict
from monitor.timeline import as_utc, bucket_start, width_text, zero_filled


@dataclass(frozen=True, slots=True)
class BacktestRow:
    """One bucket of a replay: the verdict, the 0-1 score and whether it is an alert row."""

    start: datetime
    value: int
    expected: float
    tail: float
    score: float
    alert: bool
    action: str | None  # "open", "escalate", "surge", "update", "resolve", "suppressed" or None


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
    severity: str
    expected_events: tuple[str, ...] = ()  # names of the calendar events it opened during


# A file whose rows span more buckets than this (gaps included) is refused: it is more likely
# a wrong --bucket or a stray timestamp than a series (19 years of 5-minute buckets).
MAX_CSV_BUCKETS = 2_000_000


@dataclass(frozen=True, slots=True)
class CsvSeries:
    """A `timestamp,value` file laid on its bucket grid: `starts` and `values` cover every
    bucket from the first row to the last, `rows` is each input row's bucket index and
    `texts` its timestamp as written, `missing` the buckets no row gave (their value is 0)."""

    texts: list[str]
    rows: list[int]
    starts: list[datetime]
    values: list[int]
    missing: list[int]


def read_series_csv(path: str | Path, width: timedelta = timedelta(minutes=5)) -> CsvSeries:
    """Return the series of a `timestamp,value` CSV (the NAB format) with `width`-wide rows.

    Timestamps are ISO 8601 (UTC unless they carry an offset) and must rise from row to row
    by whole buckets; a gap leaves buckets missing. Values are counts: finite, at least 0,
    rounded to whole numbers. Anything else is a ValueError naming the file and line."""
    texts: list[str] = []
    starts: list[datetime] = []
    values: list[int] = []
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None or [h.strip().lower() for h in header[:2]] != ["timestamp", "value"]:
                raise ValueError(f"{path}: the first line must be the header timestamp,value")
            for row in reader:
                if not row or not "".join(row).strip():
                    continue
                line = reader.line_num
                text, start, value = _csv_row(row, f"{path}:{line}")
                if starts:
                    _check_step(starts[-1], start, width, f"{path}:{line}: {text}", texts[-1])
                texts.append(text)
                starts.append(start)
                values.append(value)
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if len(starts) > 1:
        closest = min(b - a for a, b in pairwise(starts))
        if closest > width:
            raise ValueError(
                f"{path}: no two rows are {width_text(width)} apart (the closest are "
                f"{width_text(closest)}): pass the file's spacing as --bucket"
            )
    return _on_grid(texts, starts, values, width, path)


def _csv_row(row: list[str], where: str) -> tuple[str, datetime, int]:
    if len(row) < 2:
        raise ValueError(f"{where}: expected timestamp,value")
    text, raw = row[0].strip(), row[1].strip()
    try:
        start = as_utc(datetime.fromisoformat(text))
    except ValueError:
        raise ValueError(f"{where}: {text!r} is not an ISO 8601 timestamp") from None
    try:
        number = float(raw)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"{where}: value {raw!r} is not a count (a finite number, at least 0)")
    return text, start, round(number)


def _check_step(before: datetime, start: datetime, width: timedelta, where: str, prev: str) -> None:
    step = start - before
    if step <= timedelta(0):
        raise ValueError(f"{where} is not after the row before ({prev}): rows must rise in time")
    if step % width:
        raise ValueError(
            f"{where} is {width_text(step)} after the row before, not a whole number of "
            f"{width_text(width)} buckets: pass the file's spacing as --bucket"
        )


def _on_grid(
    texts: list[str], starts: list[datetime], values: list[int], width: timedelta, path: object
) -> CsvSeries:
    if not starts:
        return CsvSeries([], [], [], [], [])
    rows = [(start - starts[0]) // width for start in starts]
    size = rows[-1] + 1
    if size > MAX_CSV_BUCKETS:
        raise ValueError(
            f"{path}: its rows span {size:,} buckets of {width_text(width)} "
            f"(at most {MAX_CSV_BUCKETS:,}): is --bucket the file's spacing?"
        )
    grid_values = [0] * size
    for index, value in zip(rows, values, strict=True):
        grid_values[index] = value
    given = set(rows)
    return CsvSeries(
        texts=texts,
        rows=rows,
        starts=[starts[0] + width * i for i in range(size)],
        values=grid_values,
        missing=[i for i in range(size) if i not in given],
    )


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
    if scan is not None and "excluded" in inspect.signature(scan).parameters:
        return list(scan(values, starts, width, excluded=sorted(skip)))
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


@dataclass(slots=True)
class _Open:
    opened: datetime
    peak: Verdict
    excess: float = 0.0
    alert_rows: int = 0
    severity: int = 0
    expected_events: tuple[str, ...] = ()


def replay(
    verdicts: Sequence[Verdict],
    policy: EpisodePolicy,
    *,
    width: timedelta,
    excluded: Iterable[int] = (),
    events: Sequence[ExpectedEvent] = (),
    topic: str = "",
) -> tuple[list[BacktestRow], list[ReplayedAlert]]:
    """Return the per-bucket rows and the alert episodes the verdicts produce (rows in
    `excluded` are never anomalous: a source was failing). As live, an episode that would
    open during an expected event of `topic` with action "suppress" does not (the row's
    action is "suppressed"), and an episode opened during one is annotated with its name."""
    skip = set(excluded)
    state = EpisodeState()
    rows: list[BacktestRow] = []
    alerts: list[ReplayedAlert] = []
    current: _Open | None = None
    for index, verdict in enumerate(verdicts):
        if index in skip:
            verdict = replace(verdict, score=1.0, anomalous=False)
        next_state, action = step_episode(state, verdict, policy, width=width)
        if action == "open" and any(
            event.action == "suppress" and event.covers(topic, verdict.bucket_start)
            for event in events
        ):
            action = "suppressed"  # live detection does not raise it: nothing changes
        else:
            state = next_state
        alert = action in ALERT_ACTIONS
        if action == "open":
            names = tuple(e.name for e in events if e.covers(topic, verdict.bucket_start))
            current = _Open(verdict.bucket_start, verdict, expected_events=names)
        if current is not None and action in (*ALERT_ACTIONS, "update", "hold"):
            current.excess += max(0.0, verdict.observed - verdict.expected)
            if verdict.observed > current.peak.observed:
                current.peak = verdict
            current.alert_rows += alert
            current.severity = max(current.severity, state.severity)
        if action == "open" and policy.single_bucket and current is not None:
            alerts.append(_finish(current, verdict.bucket_start))  # a peak is its own episode
            current = None
        if action == "resolve" and current is not None:
            alerts.append(_finish(current, verdict.bucket_start))
            current = None
        rows.append(
            BacktestRow(
                start=verdict.bucket_start,
                value=verdict.observed,
                expected=verdict.expected,
                tail=verdict.score,
                score=round(score_of(verdict.score, policy.max_p_value), 6),
                alert=alert,
                action=action if action != "hold" else None,
            )
        )
    if current is not None:
        alerts.append(_finish(current, None))
    return rows, alerts


def _finish(current: _Open, resolved: datetime | None) -> ReplayedAlert:
    return ReplayedAlert(
        opened=current.opened,
        resolved=resolved,
        peak_bucket=current.peak.bucket_start,
        peak=current.peak.observed,
        expected_at_peak=current.peak.expected,
        tail=current.peak.score,
        excess=round(current.excess, 2),
        alert_rows=current.alert_rows,
        severity=SEVERITIES[max(current.severity, 1) - 1],
        expected_events=current.expected_events,
    )


def replay_stored(
    buckets: Sequence[BucketCount],
    *,
    detector: Detector,
    policy: EpisodePolicy,
    width: timedelta,
    first_bucket: datetime | None,
    start: datetime,
    end: datetime,
    outages: Collection[datetime] = (),
    events: Sequence[ExpectedEvent] = (),
    topic: str = "",
) -> tuple[list[BacktestRow], list[ReplayedAlert]]:
    """Return the rows and alerts of a stored timeline replayed from `start` to `end` (the
    detector also reads its history window before `start`; buckets before the topic's
    first mention and in `outages` are unknown; `events` of `topic` suppress or annotate
    alerts as in `replay`)."""
    if first_bucket is None:
        return [], []
    history_start = start - width * detector.history_buckets(width)
    series = zero_filled(buckets, start=history_start, end=end, width=width)
    unknown = [
        i
        for i, bucket in enumerate(series)
        if bucket.start < first_bucket or bucket.start in outages
    ]
    values = [bucket.count for bucket in series]
    starts = [bucket.start for bucket in series]
    verdicts = verdicts_for(detector, values, starts, width, excluded=unknown)
    rows, alerts = replay(
        verdicts, policy, width=width, excluded=unknown, events=events, topic=topic
    )
    begin = bucket_start(start, width)
    return (
        [row for row in rows if row.start >= begin],
        [alert for alert in alerts if alert.opened >= begin],
    )
