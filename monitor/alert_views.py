"""What `monitor alerts show` and `monitor backtest` print: explanations and replays."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console, RenderableType
from rich.table import Table

from monitor.backtest import read_series_csv, replay, replay_stored, verdicts_for
from monitor.config import DetectionConfig
from monitor.detectors import DETECTORS, PRESETS, make_detector, topic_detectors, topic_policy
from monitor.timeline import parse_since, parse_width


def render_explanation(record: dict[str, Any]) -> Iterator[RenderableType]:
    """Yield the tables that explain one alert record (nothing if it has no explanation)."""
    explanation = record.get("explanation")
    if not explanation:
        yield "no explanation stored with this alert"
        return
    yield (
        f"[bold]{record['kind']}[/] on [bold]{record['topic']}[/] ({record['severity']}): "
        f"observed {explanation['observed']} vs expected {explanation['expected']:.1f} "
        f"(tail probability {explanation['tail_probability']:.1e}); "
        f"excess {record['excess_mentions']:.0f} mentions"
    )
    for event in explanation.get("expected_events", []):
        yield f"During the expected event {event['name']} ({event['start']} to {event['end']})"
    terms = Table("term", "posts during", "posts before", "z (log-odds)", title="Rising terms")
    for item in explanation["rising_terms"]:
        terms.add_row(item["term"], str(item["during"]), str(item["before"]), f"{item['z']:.1f}")
    yield terms
    first = explanation.get("first_post")
    if first:
        yield f"First post: [{first.get('published_at')}] {first.get('text', '')[:200]}"
    if explanation["most_engaged_posts"]:
        engaged = Table("engagement", "source", "text", title="Most-engaged posts")
        for post in explanation["most_engaged_posts"]:
            engaged.add_row(str(post["engagement"]), str(post.get("source")), post["text"][:140])
        yield engaged
    else:
        yield "Most-engaged posts: the episode's sources report no engagement"
    mix = Table("sources", "languages", title="Where it came from")
    mix.add_row(_shares(explanation["sources"]), _shares(explanation["languages"]))
    yield mix
    mood = Table(
        "period", "mentions", "scored", "mean compound", "pos", "neu", "neg", title="Sentiment"
    )
    for period in ("before", "during"):
        row = explanation["sentiment"][period]
        mood.add_row(
            period,
            str(row["mentions"]),
            str(row["scored"]),
            _num(row["mean_compound"], "+.3f"),
            _num(row["positive_share"], ".0%"),
            _num(row["neutral_share"], ".0%"),
            _num(row["negative_share"], ".0%"),
        )
    yield mood


def _shares(shares: dict[str, float]) -> str:
    return ", ".join(f"{key} {value:.0%}" for key, value in list(shares.items())[:5]) or "—"


def _num(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def run_backtest(
    *,
    input: Path | None,
    topic: str | None,
    since: str,
    until: str | None,
    bucket: str,
    detector: str | None,
    preset: str | None,
    jsonl: bool,
    now: datetime,
    missing: str = "unknown",
    settings_loader: Callable[[], Any],
    out: Console,
) -> None:
    """Replay a CSV file or a stored topic and print the rows (jsonl) or the alerts (table);
    ValueError on bad arguments."""
    # Detectors of counts; the negative-share detector judges sentiment, not a CSV of counts.
    counting = [name for name, cls in DETECTORS.items() if hasattr(cls, "evaluate")]
    if detector is not None and detector not in counting:
        raise ValueError(f"unknown detector {detector!r} (known: {', '.join(counting)})")
    if preset is not None and preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r} (known: {', '.join(PRESETS)})")
    overrides: dict[str, Any] = {}
    if detector:
        overrides["detector"] = detector
    if preset:
        overrides["preset"] = preset
    if missing not in ("unknown", "zero"):
        raise ValueError(f"--missing is unknown or zero, not {missing!r}")
    gaps = ""
    if input is not None and until is not None:
        raise ValueError("--until goes with --topic (a CSV is replayed whole)")
    if input is not None:
        width = parse_width(bucket)
        if not input.exists():
            raise ValueError(f"{input}: no such file")
        series = read_series_csv(input, width)
        settings = DetectionConfig(**overrides)
        chosen = make_detector(settings)
        from monitor.episodes import EpisodePolicy

        policy = EpisodePolicy(
            resolve_after_buckets=settings.resolve_after_buckets,
            cooldown_minutes=getattr(chosen, "default_cooldown_minutes", settings.cooldown_minutes),
            surge_ratio=settings.surge_ratio,
            max_p_value=getattr(chosen, "max_p_value", 1e-6),
            single_bucket=chosen.kind in ("peak", "robust-z"),
        )
        # Buckets no row gave: unknown (left out of baselines, as in an outage) or quiet.
        unknown = series.missing if missing == "unknown" else []
        verdicts = verdicts_for(chosen, series.values, series.starts, width, excluded=unknown)
        grid_rows, alerts = replay(verdicts, policy, width=width, excluded=unknown)
        rows = [grid_rows[index] for index in series.rows]
        texts = series.texts
        label = str(input)
        if series.missing:
            how = "replayed as unknown (--missing zero: as 0)" if unknown else "counted as 0"
            gaps = f"{len(series.missing)} buckets missing from the file, {how}"
    else:
        assert topic is not None
        from monitor.config import load_config
        from monitor.storage import alert_queries, queries
        from monitor.storage.engine import make_engine, make_session_factory
        from monitor.storage.migrate import require_current_schema

        settings_env = settings_loader()
        config = load_config(settings_env.config_path)
        topic_config = config.topic(topic) if topic in {t.name for t in config.topics} else None
        if topic_config is None:
            raise ValueError(
                f"unknown topic {topic!r} (known: {', '.join(t.name for t in config.topics)})"
            )
        settings = config.detection.model_copy(update=overrides)
        chosen = topic_detectors(settings, topic_config).get("spike") or make_detector(settings)
        policy = topic_policy(settings, topic_config, chosen)
        width = parse_width(f"{config.timeline.bucket_minutes}m")
        start = parse_since(since, now=now)
        # Not past now: the buckets after it have not happened, they are not quiet ones.
        end = min(now, parse_since(until, now=now, option="until")) if until else now
        if end <= start:
            raise ValueError(
                f"--until ({end:%Y-%m-%d %H:%M} UTC) must be after --since "
                f"({start:%Y-%m-%d %H:%M} UTC)"
            )
        engine = make_engine(settings_env.database_url)
        try:
            require_current_schema(engine)
            with make_session_factory(engine)() as session:
                topic_id = queries.get_topic_id(session, topic)
                history_start = start - width * (chosen.history_buckets(width) + 1)
                buckets = queries.load_buckets(session, topic_id, start=history_start, end=end)
                first = queries.first_bucket(session, topic_id)
                feed_ids = {feed.name: feed.id for feed in queries.list_feeds(session)}
                serving = [
                    feed_ids[feed.name]
                    for feed in config.feeds
                    if feed.name in feed_ids and (feed.topics is None or topic in feed.topics)
                ]
                outages = alert_queries.outage_buckets(
                    session, serving, start=history_start, end=end
                )
        finally:
            engine.dispose()
        rows, alerts = replay_stored(
            buckets,
            detector=chosen,
            policy=policy,
            width=width,
            first_bucket=first,
            start=start,
            end=end,
            outages=outages,
            events=config.expected_events,
            topic=topic,
        )
        texts = [row.start.isoformat().replace("+00:00", "Z") for row in rows]
        label = f"topic {topic} since {start:%Y-%m-%d %H:%M} UTC"
        if until:
            label += f" until {end:%Y-%m-%d %H:%M} UTC"
    if jsonl:
        if gaps:
            print(f"note: {gaps}", file=sys.stderr)
        write = sys.stdout.write
        for text, row in zip(texts, rows, strict=True):
            write(
                json.dumps(
                    {
                        "timestamp": text,
                        "value": row.value,
                        "expected": row.expected,
                        "score": row.score,
                        "alert": row.alert,
                        "event": row.action,
                    }
                )
                + "\n"
            )
        return
    table = Table(
        "opened (UTC)",
        "resolved",
        "peak bucket",
        "peak",
        "expected",
        "tail p",
        "excess",
        "severity",
        "expected event",
        title=f"Alerts that would have fired: {label} ({chosen.kind})",
    )
    for alert in alerts:
        table.add_row(
            f"{alert.opened:%Y-%m-%d %H:%M}",
            f"{alert.resolved:%Y-%m-%d %H:%M}" if alert.resolved else "open",
            f"{alert.peak_bucket:%Y-%m-%d %H:%M}",
            str(alert.peak),
            f"{alert.expected_at_peak:.1f}",
            f"{alert.tail:.1e}",
            f"{alert.excess:.0f}",
            alert.severity,
            ", ".join(alert.expected_events),
        )
    out.print(table)
    out.print(
        f"{len(rows)} buckets replayed, {len(alerts)} alerts, "
        f"{sum(row.alert for row in rows)} alert rows" + (f"; {gaps}" if gaps else "")
    )
