"""The `monitor` command: the process edge for argv, stdout and exit codes."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from monitor.config import STREAM_KINDS, load_config
from monitor.errors import ConfigError, MonitorError, UnknownTopicError
from monitor.settings import Settings, load_settings

app = typer.Typer(
    help="Fan-reaction monitor: poll feeds for topic mentions, score sentiment, flag spikes.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema commands.", no_args_is_help=True)
app.add_typer(db_app, name="db")

# Rich assumes 80 columns when output is not a terminal; tables would lose their columns.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else 160)


class TableOrJson(StrEnum):
    table = "table"
    json = "json"


class HistoryFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


class HistoryGroup(StrEnum):
    source = "source"
    lang = "lang"


def utcnow() -> datetime:
    return datetime.now(UTC)


def fail(message: str, *, code: int = 1) -> typer.Exit:
    """Print `message` on stderr and return the Exit to raise."""
    err.print(f"[bold red]error:[/] {message}", highlight=False, markup=True)
    return typer.Exit(code)


@contextmanager
def reporting_errors() -> Iterator[None]:
    """Turn the monitor's own errors into a clear message and a non-zero exit."""
    try:
        yield
    except (ConfigError, UnknownTopicError) as exc:  # the user's input: exit 2, as documented
        raise fail(str(exc), code=2) from None
    except MonitorError as exc:
        raise fail(str(exc)) from None


def settings_or_exit() -> Settings:
    with reporting_errors():
        return load_settings()


@contextmanager
def read_session(settings: Settings) -> Iterator[Session]:
    """Yield a session on a migrated database (no config needed)."""
    from monitor.storage.engine import make_engine, make_session_factory
    from monitor.storage.migrate import require_current_schema

    engine = make_engine(settings.database_url)
    try:
        with reporting_errors():
            require_current_schema(engine)
        session = make_session_factory(engine)()
        try:
            with reporting_errors():
                yield session
        finally:
            session.close()
    finally:
        engine.dispose()


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


@app.command("check-config")
def check_config(
    file: Annotated[
        Path | None, typer.Argument(help="config file (default: $MONITOR_CONFIG)")
    ] = None,
) -> None:
    """Validate a configuration file; name the field and exit 2 if it is wrong."""
    path = file or settings_or_exit().config_path
    with reporting_errors():
        config = load_config(path)
    out.print(f"{path}: ok ({len(config.topics)} topics, {len(config.feeds)} feeds)")


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="target revision")] = "head",
) -> None:
    """Create or migrate the database schema (SQLite file or PostgreSQL by URL)."""
    from monitor.storage.engine import make_engine
    from monitor.storage.migrate import current_revision, upgrade

    settings = settings_or_exit()
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine, revision)
        url = engine.url.render_as_string(hide_password=True)
        out.print(f"database {url} at revision {current_revision(engine)}")
    finally:
        engine.dispose()


@app.command("poll")
def poll(
    once: Annotated[
        bool, typer.Option("--once", help="poll every feed now, in this process")
    ] = False,
    detect: Annotated[bool, typer.Option(help="run spike detection after polling")] = True,
) -> None:
    """Poll every enabled feed in-process (no broker), then detect: for cron and debugging."""
    from monitor import pipeline
    from monitor.runtime import Runtime

    if not once:
        raise fail("only `monitor poll --once` exists; the workers poll continuously", code=2)
    settings = settings_or_exit()
    with reporting_errors():
        runtime = Runtime.start(settings)
    try:
        table = Table("feed", "status", "fetched", "matched", "new posts", "new mentions", "error")
        for feed_id in pipeline.all_feed_ids(runtime):
            outcome = pipeline.poll_feed(runtime, feed_id, now=utcnow())
            table.add_row(
                outcome.feed_name,
                outcome.status,
                str(outcome.fetched),
                str(outcome.matched),
                str(outcome.new_posts),
                str(outcome.new_mentions),
                outcome.error or "",
            )
        out.print(table)
        if detect:
            changes = pipeline.detect_spikes(runtime, now=utcnow())
            for change in changes:
                out.print(
                    f"alert {change.action}: {change.topic} (id {change.alert_id}) "
                    f"observed {change.observed}, expected {change.expected:.1f}"
                )
            _notify(runtime, changes)
    finally:
        runtime.close()


@app.command("detect")
def detect() -> None:
    """Run spike detection once over every topic, in this process."""
    from monitor import pipeline
    from monitor.runtime import Runtime

    with reporting_errors():
        runtime = Runtime.start(settings_or_exit())
    try:
        changes = pipeline.detect_spikes(runtime, now=utcnow())
        for change in changes:
            out.print(f"alert {change.action}: {change.topic} (id {change.alert_id})")
        if not changes:
            out.print("no alert changes")
        _notify(runtime, changes)
    finally:
        runtime.close()


def _notify(runtime: Any, changes: list[Any]) -> None:
    """Send the notifications of in-process detection, as the worker's task would."""
    if not runtime.config.notifiers:
        return
    from monitor import pipeline
    from monitor.notify import notify_changes

    events = pipeline.notification_events(runtime, changes, now=utcnow())
    for outcome in notify_changes(runtime.sessions, runtime.config, events):
        out.print(
            f"notified {outcome.sink}: {outcome.sent} sent, {outcome.failed} failed"
            + (f" ({outcome.error})" if outcome.error else "")
        )


def _since(text: str | None) -> datetime | None:
    from monitor.timeline import parse_since

    if text is None:
        return None
    try:
        return parse_since(text, now=utcnow())
    except ValueError as exc:
        raise fail(str(exc), code=2) from None


def render_alerts(records: list[dict[str, Any]]) -> Table:
    """Return a rich table of alert records."""
    table = Table(
        "id",
        "topic",
        "kind",
        "status",
        "opened bucket (UTC)",
        "last bucket",
        "peak",
        "expected",
        "p",
        "excess",
        title="Alerts",
    )
    for record in records:
        table.add_row(
            str(record["id"]),
            record["topic"] or f"feed {record['feed']}",
            record["kind"],
            record["status"],
            record["opened_bucket"],
            record["last_bucket"],
            str(record["peak_count"]),
            f"{record['expected']:.1f}",
            f"{record['score']:.1e}",
            f"{record['excess_mentions']:.0f}",
        )
    return table


def render_samples(record: dict[str, Any]) -> Table:
    table = Table("published", "sentiment", "text", title=f"Sample posts of alert {record['id']}")
    for sample in record["samples"]:
        compound = sample.get("compound")
        table.add_row(
            sample["published_at"],
            "—" if compound is None else f"{compound:+.2f}",
            sample["text"][:140],
        )
    return table


alerts_app = typer.Typer(
    help="List alerts; `show ID` explains one, `ack ID` acknowledges one.",
    invoke_without_command=True,
)
app.add_typer(alerts_app, name="alerts")


class AlertStatus(StrEnum):
    open = "open"
    acknowledged = "acknowledged"
    resolved = "resolved"


@alerts_app.callback()
def alerts(
    ctx: typer.Context,
    topic: Annotated[str | None, typer.Option(help="only this topic")] = None,
    since: Annotated[str | None, typer.Option(help="e.g. 7d, 12h or an ISO time")] = "7d",
    status: Annotated[AlertStatus | None, typer.Option(help="only alerts in this state")] = None,
    format: Annotated[
        TableOrJson, typer.Option("--format", help="output format")
    ] = TableOrJson.table,
) -> None:
    """List alerts (spikes, drops), newest first."""
    if ctx.invoked_subcommand is not None:
        return
    from monitor.reports import alert_records

    moment = _since(since)
    with read_session(settings_or_exit()) as session:
        records = alert_records(
            session, topic=topic, since=moment, status=status.value if status else None
        )
    if format is TableOrJson.json:
        print_json(records)
        return
    if not records:
        out.print("no alerts")
        return
    out.print(render_alerts(records))
    for record in records[:3]:
        if record["samples"]:
            out.print(render_samples(record))


@alerts_app.command("show")
def alerts_show(
    alert_id: Annotated[int, typer.Argument(help="the alert's id (see `monitor alerts`)")],
    format: Annotated[
        TableOrJson, typer.Option("--format", help="output format")
    ] = TableOrJson.table,
) -> None:
    """Show one alert with its explanation: why it fired, what rose, who posted first."""
    from monitor.reports import alert_record
    from monitor.storage.reads import alert_with_topic

    with read_session(settings_or_exit()) as session:
        found = alert_with_topic(session, alert_id)
        if found is None:
            raise fail(f"no alert with id {alert_id}")
        record = alert_record(*found)
    if format is TableOrJson.json:
        print_json(record)
        return
    from monitor.alert_views import render_explanation

    out.print(render_alerts([record]))
    for renderable in render_explanation(record):
        out.print(renderable)


@alerts_app.command("ack")
def alerts_ack(
    alert_id: Annotated[int, typer.Argument(help="the alert's id (see `monitor alerts`)")],
) -> None:
    """Acknowledge an alert: it stays open until the episode ends but shows as seen."""
    from monitor.storage.alert_queries import acknowledge
    from monitor.storage.engine import make_engine, make_session_factory, session_scope
    from monitor.storage.migrate import require_current_schema

    settings = settings_or_exit()
    with reporting_errors():
        engine = make_engine(settings.database_url)
        try:
            require_current_schema(engine)
            with session_scope(make_session_factory(engine)) as session:
                row = acknowledge(session, alert_id, now=utcnow())
                status = None if row is None else row.status
        finally:
            engine.dispose()
    if status is None:
        raise fail(f"no alert with id {alert_id}")
    out.print(f"alert {alert_id} acknowledged (status: {status})")


class BacktestFormat(StrEnum):
    table = "table"
    jsonl = "jsonl"


class MissingBuckets(StrEnum):
    unknown = "unknown"
    zero = "zero"


@app.command("backtest")
def backtest(
    input: Annotated[
        Path | None, typer.Option("--input", help="a timestamp,value CSV (the NAB format)")
    ] = None,
    topic: Annotated[str | None, typer.Option(help="replay this stored topic instead")] = None,
    since: Annotated[str, typer.Option(help="with --topic: e.g. 30d or an ISO time")] = "30d",
    until: Annotated[
        str | None,
        typer.Option(help="with --topic: where the replay ends, e.g. 1d or an ISO time (now)"),
    ] = None,
    bucket: Annotated[
        str, typer.Option(help="with --input: the width of one CSV row (5m, 1h ...)")
    ] = "5m",
    missing: Annotated[
        MissingBuckets,
        typer.Option(help="with --input: buckets no row gives are unknown, or zero counts"),
    ] = MissingBuckets.unknown,
    detector: Annotated[
        str | None, typer.Option(help="seasonal (default), poisson, peak or robust-z")
    ] = None,
    preset: Annotated[
        str | None, typer.Option(help="sensitive, balanced or strict (seasonal only)")
    ] = None,
    format: Annotated[
        BacktestFormat, typer.Option("--format", help="table: the alerts; jsonl: every row")
    ] = BacktestFormat.table,
) -> None:
    """Replay a series through the detector and the alert rules; show what would have fired.

    With --format jsonl, prints one JSON object per row of the file (or stored bucket):
    timestamp, value, expected, score (0-1; 0.5 at the alert threshold), alert (true where an
    alert opens, escalates or surges) and event (open, escalate, surge, update, resolve,
    suppressed or null). With --input, rows must rise by whole buckets; a gap's buckets are
    unknown (like an outage) or, with --missing zero, quiet."""
    from monitor.alert_views import run_backtest

    if (input is None) == (topic is None):
        raise fail("give exactly one of --input FILE.csv or --topic NAME", code=2)
    with reporting_errors():
        try:
            run_backtest(
                input=input,
                topic=topic,
                since=since,
                until=until,
                bucket=bucket,
                detector=detector,
                preset=preset,
                jsonl=format is BacktestFormat.jsonl,
                now=utcnow(),
                missing=missing.value,
                settings_loader=settings_or_exit,
                out=out,
            )
        except ValueError as exc:
            raise fail(str(exc), code=2) from None


def render_history(data: dict[str, Any]) -> Table:
    table = Table(
        "bucket start (UTC)",
        "mentions",
        "scored",
        "unscored",
        "by method",
        "mean compound",
        "positive",
        "neutral",
        "negative",
        title=(
            f"{data['topic']}: {data['total']} mentions since {data['since']}, "
            f"{data['bucket']} buckets"
        ),
    )

    for row in data["buckets"]:
        table.add_row(
            row["start"],
            str(row["count"]),
            str(row["scored"]),
            str(row["unscored"]),
            _methods_text(row),
            *_sentiment_cells(row),
        )
    return table


def _methods_text(row: dict[str, Any]) -> str:
    parts = [
        f"{name} {row[key]}"
        for name, key in (
            ("vader", "scored_vader"),
            ("fandom", "scored_fandom"),
            ("emoji", "scored_emoji"),
        )
        if row[key]
    ]
    return ", ".join(parts) or "—"


@app.command("history")
def history(
    topic: Annotated[str, typer.Argument(help="topic name, e.g. love-letter")],
    since: Annotated[str, typer.Option(help="e.g. 30d, 12h or an ISO time")] = "7d",
    bucket: Annotated[str, typer.Option(help="bucket width: 5m, 1h, 1d ...")] = "1h",
    format: Annotated[
        HistoryFormat, typer.Option("--format", help="output format")
    ] = HistoryFormat.table,
    skip_empty: Annotated[
        bool, typer.Option(help="table only: hide buckets with no mentions")
    ] = True,
    group_by: Annotated[
        HistoryGroup | None,
        typer.Option("--group-by", help="also split each bucket by feed (source) or language"),
    ] = None,
) -> None:
    """Show a topic's mention count and sentiment per bucket (event time, UTC)."""
    from monitor import reports
    from monitor.timeline import current_bucket_end, parse_width

    settings = settings_or_exit()
    try:
        width = parse_width(bucket)
    except ValueError as exc:
        raise fail(str(exc), code=2) from None
    start = _since(since)
    assert start is not None
    base_width = _stored_bucket_width(settings)
    now = utcnow()
    if group_by is not None:
        _grouped_history(
            settings,
            topic,
            start=start,
            end=current_bucket_end(now, width),
            width=width,
            base_width=base_width,
            group_by=group_by.value,
            format=format,
            skip_empty=skip_empty,
        )
        return
    with read_session(settings) as session:
        try:
            data = reports.history(
                session,
                topic,
                since=start,
                until=current_bucket_end(now, width),
                width=width,
                base_width=base_width,
            )
        except ValueError as exc:
            raise fail(str(exc), code=2) from None
    if format is HistoryFormat.json:
        print_json(data)
    elif format is HistoryFormat.csv:
        sys.stdout.write(reports.history_csv(data["buckets"]))
    else:
        if skip_empty:
            data = {**data, "buckets": [row for row in data["buckets"] if row["count"]]}
        out.print(render_history(data))


def _grouped_history(
    settings: Settings,
    topic: str,
    *,
    start: datetime,
    end: datetime,
    width: timedelta,
    base_width: timedelta,
    group_by: str,
    format: HistoryFormat,
    skip_empty: bool,
) -> None:
    """Print the history split by feed or language: the API's document, read from the stored
    mentions (the timeline keeps no per-group counts), so it also has unique authors."""
    from monitor.api.payloads import MAX_HISTORY_BUCKETS, history_csv, history_payload
    from monitor.reports import require_whole_buckets
    from monitor.storage import queries, reads
    from monitor.timeline import bucket_start

    try:
        require_whole_buckets(width, base_width)
    except ValueError as exc:
        raise fail(str(exc), code=2) from None
    if (end - bucket_start(start, width)) / width > MAX_HISTORY_BUCKETS:
        raise fail(
            f"at most {MAX_HISTORY_BUCKETS} buckets with --group-by: use a wider --bucket", code=2
        )
    with read_session(settings) as session:
        topic_id = queries.get_topic_id(session, topic)
        buckets = reads.history_buckets(
            session, topic_id, start=start, end=end, width=width, group_by=group_by
        )
    data = history_payload(
        buckets, topic=topic, start=start, end=end, width=width, group_by=group_by
    )
    if format is HistoryFormat.json:
        print_json(data)
        return
    if format is HistoryFormat.csv:
        sys.stdout.write(history_csv(data))
        return
    out.print(render_grouped_history(data, skip_empty=skip_empty))


def render_grouped_history(data: dict[str, Any], *, skip_empty: bool) -> Table:
    """Return a rich table of a grouped history document: per bucket, a row per group."""
    group_by = data["group_by"]
    table = Table(
        "bucket start (UTC)",
        "source" if group_by == "source" else "language",
        "mentions",
        "authors",
        "scored",
        "mean compound",
        "positive",
        "neutral",
        "negative",
        title=(
            f"{data['topic']}: {data['total']} mentions since {data['since']}, "
            f"{data['bucket']} buckets, by {'source' if group_by == 'source' else 'language'}"
        ),
    )
    for row in data["buckets"]:
        if skip_empty and not row["count"]:
            continue
        groups = sorted(row["groups"].items(), key=lambda item: -item[1]["count"])
        for index, (name, stats) in enumerate(groups):
            table.add_row(
                row["start"] if index == 0 else "",
                name,
                str(stats["count"]),
                str(stats["unique_authors"]),
                str(stats["scored"]),
                *_sentiment_cells(stats),
            )
    return table


def _sentiment_cells(stats: dict[str, Any]) -> tuple[str, str, str, str]:
    """Return the mean compound and the three label shares of a bucket or group as cells."""
    return (
        _dash(stats["mean_compound"], "+.3f"),
        _dash(stats["positive_share"], ".0%"),
        _dash(stats["neutral_share"], ".0%"),
        _dash(stats["negative_share"], ".0%"),
    )


def _dash(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


@app.command("sentiment")
def sentiment(
    text: Annotated[
        str | None, typer.Option("--text", help="score this text instead of reading stdin")
    ] = None,
    topic: Annotated[
        str | None,
        typer.Option(help="score as a mention of this topic (default: the config's first)"),
    ] = None,
    lang: Annotated[
        str | None, typer.Option(help="the posts' language, if known (default: detected)")
    ] = None,
) -> None:
    """Score posts (one per line on stdin, or --text) as the monitor would; print JSON lines."""
    from monitor.scoring import Scorer

    settings = settings_or_exit()
    with reporting_errors():
        config = load_config(settings.config_path)
    name = topic or config.topics[0].name
    if name not in {t.name for t in config.topics}:
        known = ", ".join(t.name for t in config.topics)
        raise fail(f"unknown topic {name!r} (known: {known})", code=2)
    scorer = Scorer.from_config(config).for_topic(name)
    lines = [text] if text is not None else (line.rstrip("\r\n") for line in sys.stdin)
    for line in lines:
        if text is None and not line.strip():
            continue
        scored = scorer.score(line, lang=lang)
        scores = scored.sentiment
        record = {
            "text": line,
            "lang": scored.lang,
            "method": scored.method,
            "compound": scores.compound if scores else None,
            "pos": scores.pos if scores else None,
            "neu": scores.neu if scores else None,
            "neg": scores.neg if scores else None,
            "label": scored.label,
        }
        sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")


@app.command("rescore")
def rescore(
    topic: Annotated[str, typer.Option(help="topic whose stored mentions are re-scored")],
    since: Annotated[
        str | None, typer.Option(help="only mentions published since, e.g. 7d or an ISO time")
    ] = None,
) -> None:
    """Re-score a topic's stored mentions with the current lexicon and config, and recompute
    the sentiment of the affected buckets exactly (mention counts do not change)."""
    from monitor.rescore import rescore_topic
    from monitor.runtime import Runtime
    from monitor.storage.engine import session_scope

    start = _since(since)
    with reporting_errors():
        runtime = Runtime.start(settings_or_exit())
    try:
        if topic not in {t.name for t in runtime.config.topics}:
            known = ", ".join(t.name for t in runtime.config.topics)
            raise fail(f"unknown topic {topic!r} (known: {known})", code=2)
        with reporting_errors(), session_scope(runtime.sessions) as session:
            result = rescore_topic(session, runtime.scorer, topic, since=start)
    finally:
        runtime.close()
    out.print(
        f"{result.topic}: re-scored {result.mentions} mentions ({result.changed} changed label "
        f"or method), recomputed {result.buckets} buckets"
    )


def _stored_bucket_width(settings: Settings) -> timedelta:
    try:
        minutes = load_config(settings.config_path).timeline.bucket_minutes
    except ConfigError:
        minutes = 5
    return timedelta(minutes=minutes)


@app.command("topics")
def topics(
    format: Annotated[
        TableOrJson, typer.Option("--format", help="output format")
    ] = TableOrJson.table,
) -> None:
    """Show each stored topic's last 24 hours: mentions, authors, mean sentiment, open
    alerts, and where and in which language it is being talked about."""
    from monitor.storage import queries, reads

    now = utcnow()
    with read_session(settings_or_exit()) as session:
        records = reads.topic_overview(session, now=now)
        ids = queries.topic_ids(session)
        for record in records:
            who = reads.audience(
                session, ids[record["name"]], start=now - timedelta(hours=24), end=now
            )
            record["authors_24h"] = who["authors"]
            record["sources_24h"] = who["sources"]
            record["languages_24h"] = who["languages"]
    if format is TableOrJson.json:
        print_json(records)
        return
    if not records:
        out.print("no topic is stored yet: the workers, or `monitor poll --once`, store them")
        return
    table = Table(
        "topic",
        "mentions 24h",
        "authors",
        "mean compound",
        "open alerts",
        "sources",
        "languages",
        title="Topics, last 24 hours",
    )

    def top(groups: list[dict[str, Any]]) -> str:
        return ", ".join(f"{g['name']} {g['share']:.0%}" for g in groups[:3]) or "—"

    for record in records:
        table.add_row(
            record["name"],
            str(record["volume_24h"]),
            str(record["authors_24h"]),
            _dash(record["mean_compound_24h"], "+.3f"),
            str(record["open_alerts"]),
            top(record["sources_24h"]),
            top(record["languages_24h"]),
        )
    out.print(table)


@app.command("feeds")
def feeds(
    format: Annotated[
        TableOrJson, typer.Option("--format", help="output format")
    ] = TableOrJson.table,
) -> None:
    """Show each feed's health: kind, target, last success and error, failures in a row,
    next poll, posts in 24 h, quota/cost used, and any open source alert."""
    from monitor.reports import feed_records

    settings = settings_or_exit()
    with read_session(settings) as session:
        records = feed_records(session, now=utcnow(), unit_prices=_unit_prices(settings))
    if format is TableOrJson.json:
        print_json(records)
        return
    table = Table(
        "feed",
        "kind",
        "target",
        "last success",
        "failures",
        "last error",
        "next poll",
        "posts 24h",
        "quota/cost",
        "alert",
        title="Feeds",
    )
    for record in records:
        metered = ""
        if record["metered_units"]:
            metered = str(record["metered_units"])
            if record["cost_usd"] is not None:
                metered += f" (${record['cost_usd']:.2f})"
        table.add_row(
            record["name"] + ("" if record["enabled"] else " (disabled)"),
            record["kind"],
            record["target"][:60],
            record["last_success_at"] or "never",
            str(record["consecutive_failures"]),
            (record["last_error"] or "")[:80],
            "streaming" if record["kind"] in STREAM_KINDS else record["next_poll_at"] or "now",
            str(record["posts_24h"]),
            metered,
            (record["source_alert"] or "")[:60],
        )
    out.print(table)


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
) -> None:
    """Serve the HTTP API (docs at /docs), the dashboard (/) and Prometheus metrics (/metrics)."""
    from monitor.api.serve import run_server

    settings = settings_or_exit()
    with reporting_errors():
        run_server(settings, host=host, port=port)


def _unit_prices(settings: Settings) -> dict[str, float]:
    try:
        config = load_config(settings.config_path)
    except ConfigError:
        return {}
    return {f.name: f.unit_price_usd for f in config.feeds if f.unit_price_usd is not None}


stream_app = typer.Typer(help="Long-running stream consumers.", no_args_is_help=True)
app.add_typer(stream_app, name="stream")


@stream_app.command("bluesky")
def stream_bluesky(
    feed: Annotated[
        str | None, typer.Option(help="name of the jetstream feed (default: the first one)")
    ] = None,
) -> None:
    """Consume Bluesky's Jetstream: match posts locally, store them with their cursor,
    reconnect with backoff after a drop. Runs until SIGTERM or Ctrl-C."""
    import signal
    import threading

    from monitor.runtime import Runtime
    from monitor.stream import run_jetstream

    with reporting_errors():
        runtime = Runtime.start(settings_or_exit())
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stats = run_jetstream(runtime, feed_name=feed, stop=stop)
    except LookupError as exc:
        raise fail(str(exc), code=2) from None
    except KeyboardInterrupt:
        stop.set()
        return
    finally:
        runtime.close()
    out.print(
        f"stopped: {stats.events} events, {stats.stored_posts} new posts, "
        f"{stats.new_mentions} new mentions, {stats.failures} reconnects"
    )


@app.command("simulate")
def simulate(
    host: Annotated[str, typer.Option(help="address to serve on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port (0: any free port)")] = 8765,
    seed: Annotated[int, typer.Option(help="seed of the simulated posts")] = 2024,
    burst_delay: Annotated[float, typer.Option(help="seconds until the burst starts")] = 15.0,
) -> None:
    """Serve simulated fan posts as RSS on 127.0.0.1: history, then a burst."""
    from monitor.simulate import run_simulator

    run_simulator(host=host, port=port, seed=seed, burst_delay_seconds=burst_delay)


@app.command("demo")
def demo(
    timeout: Annotated[float, typer.Option(help="seconds to wait for the spike alert")] = 150.0,
) -> None:
    """Run the whole monitor offline: simulator, a Celery worker and beat; wait for the spike."""
    from monitor.demo import run_demo

    settings = settings_or_exit()
    with reporting_errors():
        code = run_demo(settings, timeout_seconds=timeout, console=out)
    raise typer.Exit(code)


def main() -> None:
    """Entry point of the `monitor` console script."""
    app()
