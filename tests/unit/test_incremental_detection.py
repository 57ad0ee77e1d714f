"""The seasonal detector judged incrementally: the same verdicts as `evaluate` on the full
history, while a steady run computes one record (the bucket that just completed)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from monitor.detectors import incremental
from monitor.detectors.seasonal import SeasonalDetector

WIDTH = timedelta(minutes=5)
T0 = datetime(2026, 1, 1, tzinfo=UTC)
# A short level window keeps the full recomputation this test compares against quick.
DETECTOR = SeasonalDetector(days=2, calibration_days=1, level_minutes=120)


def full_verdicts(
    values: list[int | None], now: int, filling: int, detector: SeasonalDetector = DETECTOR
) -> list[object]:
    """`evaluate` on the complete bucket now - 1 and the filling bucket `now`."""
    size = detector.history_buckets(WIDTH)
    verdicts = []
    for index, observed, complete in ((now - 1, values[now - 1], True), (now, filling, False)):
        history = values[max(0, index - size) : index]
        history = [None] * (size - len(history)) + history
        verdicts.append(
            detector.evaluate(
                history,
                observed or 0,
                bucket_start=T0 + index * WIDTH,
                width=WIDTH,
                complete=complete,
            )
        )
    return verdicts


def test_incremental_verdicts_equal_evaluate_and_reuse_the_state() -> None:
    rng = random.Random(3)
    span = incremental.span_buckets(DETECTOR, WIDTH)
    values: list[int | None] = [
        rng.randint(0, 8) + (45 if i % 97 == 0 else 0) for i in range(span + 250)
    ]
    values[:30] = [None] * 30  # before the topic's first mention
    state = None
    computed_runs = []
    for now in range(span + 1, span + 250):
        if now % 17 == 0:
            late = now - rng.randint(1, 400)  # a late post, recent or days old
            values[late] = (values[late] or 0) + 20
        start = now - span
        window = values[start : now + 1]
        counts = [v or 0 for v in window]
        counts[-1] //= 2  # the filling bucket has half its posts so far
        unknown = {i for i, v in enumerate(window) if v is None}
        verdicts, state, computed = incremental.judge(
            DETECTOR, state, counts, unknown, start=T0 + start * WIDTH, width=WIDTH
        )
        state = incremental.ScanState.decode(state.encode())  # as stored between runs
        assert verdicts == full_verdicts(values, now, counts[-1]), now
        computed_runs.append((now, computed))
    first_run = computed_runs[0][1]
    assert first_run == incremental.record_buckets(DETECTOR, WIDTH)
    steady = [c for now, c in computed_runs[1:] if now % 17]
    after_late = [c for now, c in computed_runs[1:] if now % 17 == 0]
    assert set(steady) == {1}
    assert max(after_late) > 1


def test_a_state_of_other_settings_or_from_the_future_is_not_reused() -> None:
    other = SeasonalDetector(days=2, calibration_days=1, level_minutes=120, max_p_value=1e-4)
    assert incremental.fingerprint(other, WIDTH) != incremental.fingerprint(DETECTOR, WIDTH)
    span = incremental.span_buckets(DETECTOR, WIDTH)
    counts = [5] * (span + 1)
    _, state, _ = incremental.judge(DETECTOR, None, counts, set(), start=T0, width=WIDTH)
    # Judged again an hour earlier (a replayed clock): everything is recomputed.
    _, _, computed = incremental.judge(
        DETECTOR, state, counts, set(), start=T0 - 12 * WIDTH, width=WIDTH
    )
    assert computed == incremental.record_buckets(DETECTOR, WIDTH)


def test_a_raised_level_detector_judged_incrementally_equals_evaluate() -> None:
    shift = SeasonalDetector(days=2, calibration_days=1, level_minutes=120, shift_minutes=30)
    assert incremental.fingerprint(shift, WIDTH) != incremental.fingerprint(DETECTOR, WIDTH)
    rng = random.Random(5)
    span = incremental.span_buckets(shift, WIDTH)
    values: list[int | None] = [rng.randint(0, 8) for _ in range(span + 60)]
    for i in range(span + 20, span + 60):
        values[i] = (values[i] or 0) + 12  # a raised level
    state = None
    anomalous = False
    for now in range(span + 1, span + 60):
        start = now - span
        counts = [v or 0 for v in values[start : now + 1]]
        verdicts, state, _ = incremental.judge(
            shift, state, counts, set(), start=T0 + start * WIDTH, width=WIDTH
        )
        assert verdicts == full_verdicts(values, now, counts[-1], shift), now
        anomalous = anomalous or any(v.anomalous for v in verdicts)
    assert anomalous  # the comparison covered anomalous verdicts too
