"""Detection benchmark on the NAB Twitter-volume files, scored with NAB's rules.

Run from the repository root: `.venv/bin/python benchmarks/detection.py [--data DIR]`
(default DIR: ../shared/data/nab). Prints one table: NAB standard / low-FP / low-FN scores,
windows hit, labelled spikes alerted within ±1 h, false alert rows per stream-day, median
delay from the labelled spike to the alert, and run time relative to the first detector.

Every detector's discrete alerts are scored as they are (the `alert` column of
`monitor backtest`): no threshold sweep, one parameter set for every file.

The scorer follows SCORING.md of that folder (NAB's scaled sigmoid, windows, probation,
profiles, normalisation), written from its description.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor.backtest import read_series_csv, replay, verdicts_for
from monitor.detectors import DETECTORS, SHIFT_MINUTES, detector_from_preset
from monitor.detectors.base import Detector
from monitor.episodes import EpisodePolicy

PROFILES = {
    "standard": (1.0, 0.11, 1.0),
    "low-FP": (1.0, 0.22, 1.0),
    "low-FN": (1.0, 0.11, 2.0),
}
WIDTH = timedelta(minutes=5)
# The alert kinds of one contender, each a detector with its episode rules: a row alerts
# when any kind alerts there, as a user watching all of them would see it.
Kinds = tuple[tuple[Detector, EpisodePolicy], ...]
PUBLISHED = [
    ("ARTime (best published)", "84.4", "75.4", "89.6", "16/16", "13/17", "0.11"),
    ("numenta HTM", "77.0", "70.8", "80.5", "14/16", "13/17", "0.07"),
    ("twitterADVec (Twitter's S-H-ESD)", "58.5", "34.1", "68.2", "14/16", "15/17", "0.27"),
    ("Huginn PeakDetector rule (published run)", "52.2", "–", "–", "13/16", "6/17", "0.29"),
    ("robust z (published run)", "60.1", "–", "–", "15/16", "7/17", "0.34"),
]


def sigmoid(y: float) -> float:
    """Return NAB's scaled sigmoid S(y) = 2/(1+exp(5y)) - 1 (exactly -1 beyond y = 3)."""
    if y > 3:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


@dataclass
class FileResult:
    raw: dict[str, float]
    windows: int
    hits: int
    false_rows: int
    stream_days: float
    spikes: int
    spikes_within_hour: int
    delays_minutes: list[float]


def probation_rows(rows: int) -> int:
    """Return how many rows of a file NAB's probation period covers (15 %, at most 750)."""
    return min(math.floor(0.15 * rows), 750)


def score_file(alerts: list[bool], windows: list[tuple[int, int]], labels: list[int]) -> FileResult:
    """Return the NAB raw scores and the latency figures of one file's alert rows."""
    n = len(alerts)
    probation = probation_rows(n)
    detections = [i for i, flag in enumerate(alerts) if flag and i >= probation]
    windows = [(lo, hi) for lo, hi in sorted(windows) if hi >= probation]
    raw = {}
    for profile, (a_tp, a_fp, a_fn) in PROFILES.items():
        total = 0.0
        for lo, hi in windows:
            width = hi - lo + 1
            inside = [i for i in detections if max(lo, probation) <= i <= hi]
            if inside:
                first = inside[0]
                total += a_tp * sigmoid(-(hi - first + 1) / width) / sigmoid(-1.0)
            else:
                total -= a_fn
        for i in detections:
            if any(lo <= i <= hi for lo, hi in windows):
                continue
            ended = [(lo, hi) for lo, hi in windows if hi < i]
            if ended:
                lo, hi = ended[-1]
                total += a_fp * sigmoid((i - hi) / (hi - lo))
            else:
                total -= a_fp
        raw[profile] = total
    hits = sum(1 for lo, hi in windows if any(max(lo, probation) <= i <= hi for i in detections))
    false_rows = sum(1 for i in detections if not any(lo <= i <= hi for lo, hi in windows))
    hour = round(timedelta(hours=1) / WIDTH)
    within = 0
    delays: list[float] = []
    for label in labels:
        window = next(((lo, hi) for lo, hi in windows if lo <= label <= hi), (label, label))
        later = [i for i in detections if label - hour <= i <= window[1]]
        if later:
            delays.append((later[0] - label) * WIDTH.total_seconds() / 60)
            if later[0] <= label + hour:
                within += 1
    return FileResult(
        raw=raw,
        windows=len(windows),
        hits=hits,
        false_rows=false_rows,
        stream_days=(n - probation) * WIDTH / timedelta(days=1),
        spikes=len(labels),
        spikes_within_hour=within,
        delays_minutes=delays,
    )


def load_corpus(root: Path) -> list[tuple[str, list[datetime], list[int], list, list]]:
    """Return (name, starts, values, windows as row ranges, label rows) for each file."""
    windows = json.loads((root / "labels" / "combined_windows.json").read_text())
    labels = json.loads((root / "labels" / "combined_labels.json").read_text())
    corpus = []
    for name in sorted(labels):
        series = read_series_csv(root / "data" / name, WIDTH)
        if series.missing:
            raise SystemExit(f"{name}: {len(series.missing)} buckets missing (NAB files have none)")
        starts, values = series.starts, series.values
        index = {start: i for i, start in enumerate(starts)}

        def row(text: str, index: dict = index) -> int:
            return index[read_time(text)]

        corpus.append(
            (
                name,
                starts,
                values,
                [(row(lo), row(hi)) for lo, hi in windows.get(name, [])],
                [row(text) for text in labels[name]],
            )
        )
    return corpus


def read_time(text: str) -> datetime:
    from monitor.timeline import as_utc

    return as_utc(datetime.fromisoformat(text))


def alert_rows(kinds: Kinds, values: list[int], starts: list[datetime]) -> list[bool]:
    """Return, per row, whether any of the kinds' episodes alerts there."""
    flags = [False] * len(values)
    for detector, policy in kinds:
        rows, _ = replay(verdicts_for(detector, values, starts, WIDTH), policy, width=WIDTH)
        flags = [flag or row.alert for flag, row in zip(flags, rows, strict=True)]
    return flags


def run(kinds: Kinds, corpus) -> tuple[list[FileResult], float]:
    """Return the per-file results of one contender and its run time in seconds."""
    began = time.perf_counter()
    results = []
    for _file, starts, values, windows, labels in corpus:
        results.append(score_file(alert_rows(kinds, values, starts), windows, labels))
    return results, time.perf_counter() - began


def summarize(results: list[FileResult]) -> dict[str, str]:
    """Return the table cells of one detector over the corpus."""
    windows = sum(r.windows for r in results)
    cells = {}
    for profile, (_a_tp, _a_fp, a_fn) in PROFILES.items():
        raw = sum(r.raw[profile] for r in results)
        null = -a_fn * windows
        cells[profile] = f"{100 * (raw - null) / (windows - null):.2f}"
    delays = [d for r in results for d in r.delays_minutes]
    cells["windows"] = f"{sum(r.hits for r in results)}/{windows}"
    spikes = sum(r.spikes for r in results)
    cells["hour"] = f"{sum(r.spikes_within_hour for r in results)}/{spikes}"
    cells["fp"] = f"{sum(r.false_rows for r in results) / sum(r.stream_days for r in results):.2f}"
    cells["delay"] = f"{statistics.median(delays):+.0f} min" if delays else "–"
    return cells


def seasonal(**options: object) -> tuple[Detector, EpisodePolicy]:
    """Return the balanced seasonal detector with `options`, and its episode rules."""
    detector = detector_from_preset("balanced", **options)
    return detector, EpisodePolicy(max_p_value=detector.max_p_value)


def rule(kind: str) -> tuple[Detector, EpisodePolicy]:
    """Return a rule baseline with its defaults; each alert row is its own episode."""
    detector = DETECTORS[kind]
    return detector(), EpisodePolicy(
        cooldown_minutes=detector.default_cooldown_minutes, single_bucket=True
    )


def default_and_baselines() -> list[tuple[str, Kinds]]:
    """Return the contenders the benchmarks compare: the default (the spike kind), the
    default with the level kind beside it, and two rule baselines, each detector with the
    episode policy it is scored with."""
    return [
        ("seasonal (this project's default, balanced)", (seasonal(),)),
        (
            "seasonal, spike and level kinds",
            (seasonal(), seasonal(shift_minutes=SHIFT_MINUTES)),
        ),
        ("Huginn PeakDetector rule, defaults", (rule("peak"),)),
        ("robust z (median/MAD of 24 h, k = 10)", (rule("robust-z"),)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "nab"
    parser.add_argument("--data", type=Path, default=default)
    parser.add_argument("--per-file", action="store_true", help="also print per-file rows")
    args = parser.parse_args()
    corpus = load_corpus(args.data)
    contenders = default_and_baselines()
    header = (
        "detector | standard | low-FP | low-FN | windows hit | spikes alerted within ±1 h "
        "| false alert rows per stream-day | median delay | run time"
    )
    print("| " + header + " |")
    print("|" + "---|" * (header.count("|") + 1))
    baseline_seconds = None
    for name, kinds in contenders:
        results, seconds = run(kinds, corpus)
        baseline_seconds = baseline_seconds or seconds
        c = summarize(results)
        print(
            f"| {name} | {c['standard']} | {c['low-FP']} | {c['low-FN']} | {c['windows']} | "
            f"{c['hour']} | {c['fp']} | {c['delay']} | {seconds:.1f} s "
            f"(×{seconds / baseline_seconds:.2f}) |"
        )
        if args.per_file:
            for (file, *_), r in zip(corpus, results, strict=True):
                print(
                    f"|   {file} | {r.raw['standard']:.2f} raw | | | {r.hits}/{r.windows} | "
                    f"{r.spikes_within_hour}/{r.spikes} | {r.false_rows} rows | "
                    f"{r.delays_minutes} | |"
                )
    for row in PUBLISHED:
        print("| " + " | ".join(row) + " | – | – |")


if __name__ == "__main__":
    main()
