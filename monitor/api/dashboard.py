"""The dashboard page: per topic a timeline chart, its alerts with their evidence, the latest
mentions and feed health. Templates always autoescape; post text is never marked safe."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup
from sqlalchemy.orm import Session

from monitor.api.chart import ChartBucket, ChartEpisode, timeline_svg
from monitor.api.payloads import alert_detail
from monitor.reports import feed_records
from monitor.storage import queries, reads
from monitor.timeline import bucket_start, current_bucket_end, rollup, zero_filled

ALERTS_SHOWN = 10
MENTIONS_SHOWN = 25


def safe_url(url: object) -> str | None:
    """Return `url` if it is an absolute http(s) URL, else None (no javascript:, data:...)."""
    if not isinstance(url, str) or len(url) > 2000:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url.strip()


def make_templates() -> Environment:
    """Return the Jinja environment; autoescape is forced on for every template name."""
    env = Environment(
        loader=PackageLoader("monitor.api", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["safe_url"] = safe_url
    env.filters["signed"] = lambda v: "—" if v is None else f"{v:+.2f}"
    env.filters["pct"] = lambda v: "—" if v is None else f"{v:.0%}"
    return env


def dashboard_context(
    session: Session,
    *,
    topic: str | None,
    now: datetime,
    since: datetime,
    width: timedelta,
    base_width: timedelta,
) -> dict[str, Any]:
    """Return everything the dashboard template shows for `topic` (default: the first)."""
    topics = reads.topic_overview(session, now=now)
    names = [t["name"] for t in topics]
    selected = topic if topic in names else (names[0] if names else None)
    context: dict[str, Any] = {
        "topics": topics,
        "selected": selected,
        "now": reads.iso(now),
        "feeds": feed_records(session, now=now),
        "alerts": [],
        "mentions": [],
        "chart": Markup(""),
        "audience": None,
        "bucket": width,
    }
    if selected is None:
        return context
    topic_id = queries.get_topic_id(session, selected)
    start = bucket_start(since, width)
    end = current_bucket_end(now, width)
    stored = queries.load_buckets(session, topic_id, start=start, end=end)
    buckets = zero_filled(rollup(stored, width), start=start, end=end, width=width)
    rows = session.execute(queries.alerts_query(topic_id=topic_id).limit(ALERTS_SHOWN)).all()
    alerts = [alert_detail(session, *row, width=base_width) for row in rows]
    episodes = [
        ChartEpisode(
            alert_id=alert.id,
            start=alert.opened_bucket,
            end=alert.last_bucket + base_width,
            label=f"alert {alert.id}: {alert.kind} ({alert.status}), peak {alert.peak_count}",
        )
        for alert, *_ in rows
        if alert.last_bucket + base_width > start and alert.opened_bucket < end
    ]
    svg = timeline_svg(
        [ChartBucket(b.start, b.count, b.mean_compound) for b in buckets],
        episodes,
        width=width,
        title=f"{selected}: mentions and mean sentiment per {int(width.total_seconds() // 60)} min",
    )
    mentions, _ = reads.mention_page(
        session, topic_id=topic_id, q=None, label=None, since=None, limit=MENTIONS_SHOWN, after=None
    )
    who = reads.audience(session, topic_id, start=start, end=end)
    # The chart is built by monitor.api.chart, which escapes every text it writes.
    context.update(chart=Markup(svg), alerts=alerts, mentions=mentions, audience=who)
    return context
