"""The seasonal detector, the episode rules and the replay on generated series."""

from __future__ import annotations

import math
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from monitor.backtest import replay, verdicts_for
from monitor.detectors import detector_from_preset
from monitor.detectors.counts import nb_log10_upper, nb_lower, nb_upper, poisson_upper
from monitor.detectors.seasonal import burst_surprises
from monitor.episodes import (
    Episode,
    EpisodePolicy,
    EpisodeState,
    decide_alert,
    severity_level,
    step_episode,
)
from monitor.explain import explain_episode, rising_terms, tokens
from monitor.model import BucketCount, Verdict
from tests.series import bursty_series, poisson

HOUR = timedelta(hours=1)
FIVE = timedelta(minutes=5)
T0 = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday, midnight


def daily_series(days: int, *, seed: int, width: timedelta = HOUR) -> list[int]:
    """Counts with a strong daily rhythm: 4 at night, 60 in the evening peak."""
    rng = random.Random(seed)
    per_day = round(timedelta(days=1) / width)
    values = []
    for index in range(days * per_day):
        hour = (index % per_day) * width / HOUR
        mean = 4 + 56 * math.exp(-(((hour - 20) / 2.0) ** 2))
        values.append(poisson(rng, mean))
    return values


def starts_of(values: list[int], width: timedelta = HOUR) -> list[datetime]:
    return [T0 + i * width for i in range(len(values))]


def alerts_of(values: list[int], width: timedelta = HOUR, **options) -> list[int]:
    detector = detector_from_preset("balanced", **options)
    verdicts = verdicts_for(detector, values, starts_of(values, width), width)
    rows, _ = replay(verdicts, EpisodePolicy(), width=width)
    return [i for i, row in enumerate(rows) if row.action == "open"]


# --- count tails ----------------------------------------------------------------------------


def test_negative_binomial_tails_match_their_definitions() -> None:
    # Dispersion 0 is Poisson; P(X >= 0) is 1; the two tails of one point sum to 1 + P(X = x).
    assert nb_upper(5, 2.0, 0.0) == pytest.approx(poisson_upper(5, 2.0))
    assert poisson_upper(5, 2.0) == pytest.approx(
        1 - sum(math.exp(-2) * 2**k / math.factorial(k) for k in range(5))
    )
    assert nb_upper(0, 3.0, 0.5) == 1.0
    size, mu = 2.0, 3.0
    p = size / (size + mu)
    point = math.comb(4 + 1, 4) * p**size * (1 - p) ** 4  # P(X = 4) for size 2
    assert nb_upper(4, mu, 1 / size) + nb_lower(4, mu, 1 / size) == pytest.approx(1 + point)
    # Over-dispersion makes a large count less surprising.
    assert nb_upper(30, 5.0, 0.5) > nb_upper(30, 5.0, 0.0)


def test_log_tail_stays_finite_and_ordered_where_the_tail_underflows() -> None:
    assert nb_upper(5000, 10.0, 0.01) == 0.0
    assert math.isfinite(nb_log10_upper(5000, 10.0, 0.01))
    assert nb_log10_upper(9000, 10.0, 0.01) < nb_log10_upper(5000, 10.0, 0.01) < -300


# --- the detector ---------------------------------------------------------------------------


def test_a_daily_peak_that_happens_every_day_does_not_alert() -> None:
    values = daily_series(10, seed=1)
    # After the first day (no same-hour history yet) the evening peak is expected.
    assert [i for i in alerts_of(values) if i >= 24] == []
    assert max(values[20::24]) > 5 * min(values[4::24]) + 20  # the rhythm is strong


def test_a_spike_at_a_quiet_hour_alerts_on_its_own_bucket() -> None:
    values = daily_series(10, seed=2)
    spike = 8 * 24 + 4  # 04:00 on day 9, when about 4 are expected
    values[spike] = 60  # as much as the usual evening peak
    assert alerts_of(values) == [spike] or alerts_of(values)[-1] == spike
    assert spike in alerts_of(values)


def test_low_counts_do_not_alert_on_three_but_do_on_a_real_jump() -> None:
    rng = random.Random(3)
    values = [poisson(rng, 1.0) for _ in range(24 * 12)]
    detector = detector_from_preset()
    history = [*values]
    three = detector.evaluate(history, 3, bucket_start=T0, width=HOUR, complete=True)
    jump = detector.evaluate(history, 25, bucket_start=T0, width=HOUR, complete=True)
    assert not three.anomalous and three.score > 1e-3
    assert jump.anomalous and jump.expected <= 2


def test_a_raised_level_alerts_even_when_no_single_bucket_would() -> None:
    rng = random.Random(4)
    width = FIVE
    values = [poisson(rng, 40) for _ in range(288 * 8)]
    detector = detector_from_preset()
    starts = starts_of(values, width)
    start = len(values) - 12
    for index in range(start, len(values)):
        values[index] = 68  # +70 % for an hour: each bucket is within a burst's reach
    single = detector_from_preset(sustain_buckets=1)
    verdicts = verdicts_for(detector, values, starts, width)
    single_verdicts = verdicts_for(single, values, starts, width)
    assert any(v.anomalous for v in verdicts[start:])
    assert not any(v.anomalous for v in single_verdicts[start:])


def test_a_raised_level_lasting_hours_is_not_absorbed_into_its_own_baseline() -> None:
    # Three hours at twice the usual level. The level the expectation follows is read over
    # a day, so the raised buckets stay anomalous to the end; read over an hour, the raised
    # level became its own baseline within the hour.
    rng = random.Random(12)
    # Over 14 days of history, so the calibration bar is the full window's second burst.
    values = [poisson(rng, 30) for _ in range(288 * 15)]
    start = len(values) - 36
    values[start:] = [poisson(rng, 60) for _ in range(36)]
    starts = starts_of(values, FIVE)
    daily = verdicts_for(detector_from_preset(), values, starts, FIVE)
    hourly = verdicts_for(detector_from_preset(level_minutes=60), values, starts, FIVE)
    assert all(v.anomalous for v in daily[-24:])  # the last two hours
    assert not any(v.anomalous for v in hourly[-12:])  # the last hour


def test_calibration_counts_a_long_burst_once() -> None:
    # Buckets beyond the floor in a row are one burst, kept at its most surprising bucket.
    assert burst_surprises([1.0, 9.0, 12.0, 8.0, 2.0, 7.0, 1.0, 6.0], 6.0) == [
        1.0,
        12.0,
        2.0,
        7.0,
        1.0,
        6.0,
    ]
    # So an hour-long spike sets the bar once: a new burst must top the topic's second
    # biggest burst, not the spike's second most surprising bucket.
    detector = detector_from_preset()
    past = [0.5] * 200 + [50.0] * 12 + [0.5] * 200 + [8.0] + [0.5] * 100
    two_weeks = 14 * 288
    candidate = verdict(0, 40, 5, 1e-20, True)
    calibrated = detector._calibrated(candidate, past, T0, known_buckets=two_weeks, width=FIVE)
    assert calibrated.anomalous  # tops the 8.0 burst
    smaller = verdict(0, 12, 5, 1e-7, True)
    calibrated = detector._calibrated(smaller, past, T0, known_buckets=two_weeks, width=FIVE)
    assert not calibrated.anomalous  # 7 < 8.0


def test_calibration_rank_follows_the_known_history() -> None:
    # Rank 2 per 14 days is an alert rate of about once a week; with a shorter history the
    # rank shrinks with it (never below 1), so a new topic does not alert twice as often.
    detector = detector_from_preset()
    per_day = 288
    ranks = [detector.calibration_rank_for(days * per_day, FIVE) for days in (0, 3, 10, 11, 14)]
    assert ranks == [1, 1, 1, 2, 2]
    assert detector.calibration_rank_for(14 * 24, HOUR) == 2  # in days, whatever the width
    assert detector_from_preset("sensitive").calibration_rank_for(7 * per_day, FIVE) == 2
    # With five days known the bar is the largest burst: the 50.0 one holds back a 20.
    past = [0.5] * 200 + [50.0] * 12 + [0.5] * 200 + [8.0] + [0.5] * 100
    candidate = verdict(0, 40, 5, 1e-20, True)
    short = detector._calibrated(candidate, past, T0, known_buckets=5 * per_day, width=FIVE)
    assert not short.anomalous
    # Unknown buckets (before a topic's first post, outages) are not history: with only
    # two days known, a spike smaller than the first one is not news (rank 1); with all 15
    # days known it tops the second largest burst (rank 2) and alerts.
    rng = random.Random(8)
    values = [poisson(rng, 30) for _ in range(288 * 15)]
    first, second = 288 * 13 + 100, 288 * 14 + 100
    values[first], values[second] = 200, 160
    starts = starts_of(values, FIVE)
    assert verdicts_for(detector, values, starts, FIVE)[second].anomalous
    unknown = list(range(288 * 13))
    scanned = verdicts_for(detector, values, starts, FIVE, excluded=unknown)
    assert scanned[first].anomalous and not scanned[second].anomalous


def test_an_ongoing_burst_is_not_part_of_its_own_calibration() -> None:
    # With five days known the bar is the largest burst. A bucket that continues a burst
    # (the one before it was beyond the floor too) is judged against the bursts before it,
    # not against the burst's own peak so far; once the burst has ended, its peak is history.
    detector = detector_from_preset()
    known = 5 * 288
    ongoing = [0.5] * 600 + [8.0] + [0.5] * 100 + [30.0, 45.0, 40.0]
    after_the_peak = verdict(0, 40, 5, 1e-35, True)
    assert detector._calibrated(
        after_the_peak, ongoing, T0, known_buckets=known, width=FIVE
    ).anomalous
    ended = [*ongoing, 0.5]
    assert not detector._calibrated(
        after_the_peak, ended, T0, known_buckets=known, width=FIVE
    ).anomalous
    # So on a young topic a raised level stays anomalous for as long as it lasts: four hours
    # at three times the rate, after nine calm days, flag every bucket from the first flag on.
    rng = random.Random(0)
    values = [poisson(rng, 20) for _ in range(9 * 288)] + [poisson(rng, 60) for _ in range(48)]
    levels = verdicts_for(
        detector_from_preset(shift_minutes=120), values, starts_of(values, FIVE), FIVE
    )
    flags = [v.anomalous for v in levels[-48:]]
    assert True in flags[:12]
    assert all(flags[flags.index(True) :])


def test_a_dip_inside_a_raised_level_does_not_split_it_into_two_bursts() -> None:
    # Four hours at three times the rate after nine calm days, with one quiet bucket two and
    # a half hours in: the level kind's statistic is the two-hour window's, so the dip keeps
    # its surprise (not anomalous itself, since its own count is low), the level stays one
    # burst of the record, and every raised bucket after the dip is still flagged instead of
    # having to top the level's first part.
    rng = random.Random(0)
    values = [poisson(rng, 20) for _ in range(9 * 288)] + [poisson(rng, 60) for _ in range(48)]
    level_from, dip = 9 * 288, 9 * 288 + 30
    values[dip] = 8
    detector = detector_from_preset(shift_minutes=120)
    levels = verdicts_for(detector, values, starts_of(values, FIVE), FIVE)
    floor = -math.log10(detector.max_p_value)
    assert not levels[dip].anomalous and levels[dip].log_surprise >= floor
    record = burst_surprises([v.log_surprise for v in levels[level_from:]], floor)
    assert sum(1 for surprise in record if surprise >= floor) == 1
    flags = [v.anomalous for v in levels[level_from:]]
    first = flags.index(True)
    assert first <= 12
    assert all(flag for i, flag in enumerate(flags) if i >= first and level_from + i != dip)


def test_a_short_raised_run_is_scored_as_one_episode() -> None:
    # Three buckets at about 1.9x: no single one reaches the threshold, the whole window of
    # the sustained test is never raised, but the run's cumulative excess is improbable
    # from its second bucket on.
    rng = random.Random(4)
    values = [poisson(rng, 40) for _ in range(288 * 8)]
    start = len(values) - 3
    values[start:] = [76, 76, 76]
    starts = starts_of(values, FIVE)
    scan = verdicts_for(detector_from_preset(), values, starts, FIVE)
    fixed = verdicts_for(detector_from_preset(sustain_scan=False), values, starts, FIVE)
    single = verdicts_for(detector_from_preset(sustain_buckets=1), values, starts, FIVE)
    assert [v.anomalous for v in scan[start:]] == [False, True, True]
    assert not any(v.anomalous for v in fixed[start:] + single[start:])
    # The run only adds evidence: the scan is never less surprised than the fixed window.
    assert all(a.log_surprise >= b.log_surprise for a, b in zip(scan, fixed, strict=True))


def test_a_drop_detector_flags_a_topic_going_quiet() -> None:
    values = daily_series(10, seed=5)
    quiet_from = 9 * 24 + 18  # the evening peak of day 10 does not come
    for index in range(quiet_from, quiet_from + 4):
        values[index] = 0
    drops = alerts_of(values, direction="down")
    assert drops and quiet_from <= drops[-1] < quiet_from + 4
    assert [i for i in drops if 24 <= i < quiet_from] == []


def test_no_alert_during_warm_up() -> None:
    detector = detector_from_preset(warmup_minutes=180)
    early = detector.evaluate([1, 0], 500, bucket_start=T0, width=HOUR, complete=True)
    later = detector.evaluate([1, 0, 1], 500, bucket_start=T0, width=HOUR, complete=True)
    assert not early.anomalous and later.anomalous


def test_an_outage_excluded_from_the_baseline_is_neither_a_drop_nor_a_recovery_spike() -> None:
    values = daily_series(10, seed=6)
    outage = list(range(8 * 24 + 12, 8 * 24 + 22))  # ten hours with the source failing
    for index in outage:
        values[index] = 0
    detector = detector_from_preset(direction="down")
    starts = starts_of(values)
    seen = verdicts_for(detector, values, starts, HOUR)
    excluded = verdicts_for(detector, values, starts, HOUR, excluded=outage)
    rows, _ = replay(excluded, EpisodePolicy(), width=HOUR, excluded=outage)
    assert any(v.anomalous for v in seen[outage[0] : outage[-1] + 1])  # it looks like a drop
    assert not any(row.alert for row in rows[outage[0] :])
    spikes = verdicts_for(detector_from_preset(), values, starts, HOUR, excluded=outage)
    assert not any(v.anomalous for v in spikes[outage[-1] + 1 :])


def test_same_series_same_verdicts_and_live_equals_replay() -> None:
    values = daily_series(9, seed=7)
    values[-3] = 90
    detector = detector_from_preset(calibration_days=2, days=3)
    starts = starts_of(values)
    outage = [100, 101]
    first = verdicts_for(detector, values, starts, HOUR, excluded=outage)
    assert verdicts_for(detector, values, starts, HOUR, excluded=outage) == first
    known = [None if i in outage else v for i, v in enumerate(values)]
    for index in [*range(3, len(values), 7), len(values) - 3]:
        live = detector.evaluate(
            known[:index], values[index], bucket_start=starts[index], width=HOUR, complete=True
        )
        assert live == first[index], index


# --- episodes -------------------------------------------------------------------------------


def verdict(minutes: int, observed: int, expected: float, score: float, anomalous: bool) -> Verdict:
    return Verdict(T0 + timedelta(minutes=minutes), observed, expected, score, anomalous, True)


def test_episode_opens_updates_and_resolves_after_calm_buckets() -> None:
    policy = EpisodePolicy(resolve_after_buckets=2, cooldown_minutes=60)
    sequence = [
        verdict(0, 12, 5, 1e-8, True),  # minor
        verdict(5, 50, 5, 1e-20, True),  # 8x: escalates to major
        verdict(10, 20, 5, 1e-3, False),  # still elevated
        verdict(15, 6, 5, 0.4, False),
        verdict(20, 5, 5, 0.5, False),
        verdict(25, 45, 5, 1e-20, True),  # in the cooldown, major and under the peak of 50
        verdict(30, 55, 5, 1e-22, True),  # in the cooldown, major too, but above that peak
        verdict(35, 5, 5, 0.5, False),
        verdict(40, 5, 5, 0.5, False),
        verdict(110, 60, 5, 1e-20, True),  # after the cooldown
    ]
    state, actions = EpisodeState(), []
    for item in sequence:
        state, action = step_episode(state, item, policy, width=FIVE)
        actions.append(action)
    assert actions == [
        "open",
        "escalate",
        "update",
        "hold",
        "resolve",
        "suppressed",
        "open",
        "hold",
        "resolve",
        "open",
    ]


def test_replay_counts_one_episode_with_its_peak_and_excess() -> None:
    sequence = [verdict(5 * i, 5, 5, 0.5, False) for i in range(3)]
    sequence += [verdict(15, 40, 5, 1e-12, True), verdict(20, 30, 5, 1e-9, True)]
    sequence += [verdict(25 + 5 * i, 5, 5, 0.5, False) for i in range(13)]
    rows, alerts = replay(sequence, EpisodePolicy(), width=FIVE)
    assert [row.alert for row in rows].count(True) == 1
    assert len(alerts) == 1
    assert alerts[0].peak == 40 and alerts[0].excess == 60
    # By default an episode resolves after an hour of calm 5-minute buckets (the 12th).
    assert alerts[0].resolved == T0 + timedelta(minutes=80)


def test_an_open_episode_surges_when_its_count_doubles_the_one_it_alerted_on() -> None:
    policy = EpisodePolicy(resolve_after_buckets=3)
    sequence = [
        verdict(0, 100, 5, 1e-30, True),  # 20x: opens critical, raised at 100
        verdict(5, 150, 5, 1e-40, True),  # bigger, not twice: an update
        verdict(10, 30, 5, 1e-3, False),  # still elevated
        verdict(15, 210, 5, 1e-50, True),  # at least twice 100: a surge, raised at 210
        verdict(20, 400, 5, 1e-60, True),  # under twice 210
        verdict(25, 420, 5, 1e-60, True),  # twice 210
    ]
    state, actions = EpisodeState(), []
    for item in sequence:
        state, action = step_episode(state, item, policy, width=FIVE)
        actions.append(action)
    assert actions == ["open", "update", "update", "surge", "update", "surge"]
    rows, alerts = replay(sequence, policy, width=FIVE)
    assert [row.alert for row in rows] == [True, False, False, True, False, True]
    assert len(alerts) == 1 and alerts[0].alert_rows == 3 and alerts[0].peak == 420
    # Off with a ratio of 0; and a drop deepening (counts below expectation) never surges.
    off, state, quiet = replace(policy, surge_ratio=0), EpisodeState(), []
    for item in sequence:
        state, action = step_episode(state, item, off, width=FIVE)
        quiet.append(action)
    assert quiet == ["open", "update", "update", "update", "update", "update"]
    drop = [verdict(0, 1, 40, 1e-9, True), verdict(5, 2, 40, 1e-8, True)]
    state, first = step_episode(EpisodeState(), drop[0], policy, width=FIVE)
    assert first == "open" and step_episode(state, drop[1], policy, width=FIVE)[1] == "update"


def test_a_rise_alerts_again_only_when_beyond_chance_of_the_count_already_reported() -> None:
    # A near-empty topic (0.2 expected): 3 posts open the episode (minor); 4 and 9 cross
    # into the major band (9 is also three times 3), but neither is improbable next to 3,
    # so both only update it. 40 is: it escalates to critical.
    policy = EpisodePolicy()
    sequence = [
        verdict(0, 3, 0.2, 1e-17, True),
        verdict(5, 4, 0.2, 1e-19, True),
        verdict(10, 9, 0.2, 1e-25, True),
        verdict(15, 40, 0.2, 1e-60, True),
    ]
    assert [severity_level(v) for v in sequence] == [1, 2, 2, 3]
    state, actions = EpisodeState(), []
    for item in sequence:
        state, action = step_episode(state, item, policy, width=FIVE)
        actions.append(action)
    assert actions == ["open", "update", "update", "escalate"]
    # The live decision applies the same rule to the stored raised count.
    episode = Episode(T0, T0, 3, severity=1, raised_count=3)
    for bucket, expected in ((sequence[1], "update"), (sequence[3], "escalate")):
        change = decide_alert(episode, [bucket], policy, width=FIVE, resolved_bucket=None)
        assert change is not None and change.action == expected
    # On busy topics a doubling is far beyond chance: 100 -> 210 surges (above).
    busy = Episode(T0, T0, 100, severity=3, raised_count=100)
    surge = decide_alert(
        busy, [verdict(5, 210, 5, 1e-50, True)], policy, width=FIVE, resolved_bucket=None
    )
    assert surge is not None and surge.action == "surge"


def test_severity_grows_with_the_size_of_the_change() -> None:
    assert severity_level(verdict(0, 12, 5, 1e-9, True)) == 1
    assert severity_level(verdict(0, 40, 5, 1e-9, True)) == 2
    assert severity_level(verdict(0, 400, 5, 1e-9, True)) == 3
    assert severity_level(verdict(0, 0, 40, 1e-9, True)) == 3  # a drop to nothing


def test_live_decision_honours_cooldown_and_resolves_when_calm() -> None:
    policy = EpisodePolicy(resolve_after_buckets=3, cooldown_minutes=60)
    spike = [verdict(30, 50, 5, 1e-20, True)]  # major
    assert (
        decide_alert(None, spike, policy, width=FIVE, resolved_bucket=T0, resolved_severity=2)
        is None
    )
    # A bigger event than the one the cooldown follows is not held back.
    bigger = decide_alert(None, spike, policy, width=FIVE, resolved_bucket=T0, resolved_severity=1)
    assert bigger is not None and bigger.action == "open"
    # So is one of the same severity that tops the last episode's peak count, not one below.
    for last_peak, expected in ((49, "open"), (50, None)):
        change = decide_alert(
            None,
            spike,
            policy,
            width=FIVE,
            resolved_bucket=T0,
            resolved_severity=2,
            resolved_peak=last_peak,
        )
        assert (change.action if change else None) == expected
    opened = decide_alert(None, spike, policy, width=FIVE, resolved_bucket=T0 - HOUR)
    assert opened is not None and opened.action == "open"
    episode = Episode(T0, T0, 50, severity=2)
    calm = [verdict(15, 5, 5, 0.5, False)]
    assert decide_alert(episode, calm, policy, width=FIVE, resolved_bucket=None).action == (
        "resolve"
    )
    calm_soon = [verdict(10, 5, 5, 0.5, False)]
    assert decide_alert(episode, calm_soon, policy, width=FIVE, resolved_bucket=None) is None


def test_live_decision_surges_against_the_count_the_episode_last_alerted_on() -> None:
    policy = EpisodePolicy()
    burst = [verdict(60, 210, 5, 1e-50, True)]  # critical, as the episode already is
    for raised, expected in ((100, "surge"), (110, "update"), (None, "update")):
        # Without a stored raised count (rows from before it existed) the peak stands in.
        episode = Episode(T0, T0 + HOUR, 120, severity=3, raised_count=raised)
        change = decide_alert(episode, burst, policy, width=FIVE, resolved_bucket=None)
        assert change is not None and change.action == expected, raised


# --- explanations ---------------------------------------------------------------------------


def test_rising_terms_rank_the_burst_term_first() -> None:
    before = [f"love letter is lovely {i}" for i in range(200)]
    during = [f"love letter and the #LWAteaser drop {i}" for i in range(40)]
    terms = rising_terms(during, before)
    assert terms[0]["term"] in {"#lwateaser", "drop"}
    assert {"#lwateaser", "drop"} <= {t["term"] for t in terms[:3]}
    assert "love" not in [t["term"] for t in terms]  # as common before as during
    assert tokens("RT the https://x.y/z Love!") == {"love"}


def test_explanation_carries_posts_mix_and_sentiment() -> None:
    posts = [
        {
            "text": "teaser drop!!",
            "source": "fans",
            "lang": "en",
            "published_at": "t1",
            "likes": 3,
            "reposts": 1,
        },
        {
            "text": "teaser drop omg",
            "source": "news",
            "lang": "ko",
            "published_at": "t2",
            "likes": 30,
        },
    ]
    during = [BucketCount(T0, 2, sentiment_sum=-0.8, scored=2, negative=2)]
    before = [BucketCount(T0 - HOUR, 4, sentiment_sum=1.6, scored=4, positive=4)]
    result = explain_episode(
        observed=2,
        expected=0.5,
        tail=1e-7,
        episode_posts=posts,
        baseline_posts=[{"text": "calm day"}],
        during=during,
        before=before,
    )
    assert result["first_post"]["published_at"] == "t1"
    assert [p["engagement"] for p in result["most_engaged_posts"]] == [30, 4]
    assert result["sources"] == {"fans": 0.5, "news": 0.5}
    assert result["sentiment"]["during"]["negative_share"] == 1.0
    assert result["sentiment"]["before"]["mean_compound"] == 0.4
    no_engagement = explain_episode(
        observed=1,
        expected=0.5,
        tail=0.1,
        episode_posts=[{"text": "x"}],
        baseline_posts=[],
        during=[],
        before=[],
    )
    assert no_engagement["most_engaged_posts"] == [] and not no_engagement["engagement_reported"]


def test_a_slow_climb_alerts_as_a_climb_though_no_bucket_jumps() -> None:
    rng = random.Random(8)
    width = FIVE
    values = [poisson(rng, 30) for _ in range(288 * 4)]
    climb_from = len(values) - 144  # twelve hours rising steadily from 30 to 60
    for step, index in enumerate(range(climb_from, len(values))):
        values[index] = poisson(rng, 30 + 30 * step / 144)
    starts = starts_of(values, width)
    one_bucket = verdicts_for(detector_from_preset(sustain_buckets=1), values, starts, width)
    climbs = verdicts_for(detector_from_preset(climb_minutes=180), values, starts, width)
    assert not any(v.anomalous for v in one_bucket[climb_from:])  # no bucket jumps
    assert any(v.anomalous for v in climbs[climb_from:])
    assert not any(v.anomalous for v in climbs[288 : climb_from - 36])  # flat: no climb


def share_buckets(negatives: list[int], scored: int) -> list[BucketCount]:
    return [
        BucketCount(T0 + i * FIVE, scored, scored=scored, negative=n, positive=scored - n)
        for i, n in enumerate(negatives)
    ]


def test_a_sour_turn_of_sentiment_alerts_but_ordinary_variation_does_not() -> None:
    from monitor.detectors.sour import NegativeShareDetector, binomial_upper

    assert binomial_upper(0, 10, 0.3) == 1.0
    assert binomial_upper(10, 10, 0.5) == pytest.approx(0.5**10)
    rng = random.Random(9)
    history = share_buckets([sum(rng.random() < 0.1 for _ in range(10)) for _ in range(600)], 10)
    detector = NegativeShareDetector()
    calm = detector.evaluate_share(history[:-1], history[-1], complete=True)
    assert not calm.anomalous
    sour = share_buckets([6] * 6, 10)
    verdicts = [
        detector.evaluate_share([*history, *sour[:i]], sour[i], complete=True) for i in range(6)
    ]
    assert verdicts[-1].anomalous and verdicts[-1].observed == 36
    assert verdicts[-1].expected == pytest.approx(60 * 0.1, abs=1.5)
    few = share_buckets([1], 1)[0]  # one negative of one scored: too few to judge
    assert not detector.evaluate_share(history, few, complete=True).anomalous


def test_a_raised_level_below_the_bursts_alerts_as_a_level_not_as_a_spike() -> None:
    values = bursty_series(17, seed=3)
    level_from = 16 * 288  # four hours at three times the usual rate
    for index in range(level_from, level_from + 48):
        values[index] = poisson(random.Random(index), 60.0)
    starts = starts_of(values, FIVE)
    spikes = verdicts_for(detector_from_preset(), values, starts, FIVE)
    levels = verdicts_for(detector_from_preset(shift_minutes=120), values, starts, FIVE)
    raised = slice(level_from, level_from + 48)
    assert not any(v.anomalous for v in spikes[raised])  # the bursts set the spike bar higher
    first = next(i for i, v in enumerate(levels) if i >= level_from and v.anomalous)
    assert first - level_from <= 30  # named within two and a half hours
    assert not any(v.anomalous for v in levels[15 * 288 : level_from])  # a day of bursts alone


def test_a_level_caps_each_bucket_so_one_huge_burst_is_not_a_raised_level() -> None:
    rng = random.Random(4)
    values = [poisson(rng, 20.0) for _ in range(288 * 3)]
    burst = len(values) - 24
    values[burst] = 3000
    starts = starts_of(values, FIVE)
    capped = verdicts_for(detector_from_preset(shift_minutes=120), values, starts, FIVE)
    uncapped = verdicts_for(
        detector_from_preset(shift_minutes=120, shift_cap=1e9), values, starts, FIVE
    )
    assert any(v.anomalous for v in uncapped[burst:])  # the test the cap is for can fail
    assert not any(v.anomalous for v in capped[burst:])
