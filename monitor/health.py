"""Source alerts: a feed that keeps failing or has gone silent is an alert of its own kind
("source"), so a dead source never looks like a quiet fandom. A good poll clears it."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from monitor.config import FeedConfig, MonitorConfig
from monitor.storage.tables import AlertRow, Feed

SOURCE_ALERT = "source"


def source_problem(feed: Feed, config: FeedConfig | None, *, now: datetime) -> str | None:
    """Return why `feed` deserves a source alert (failing N times, silent too long), or None."""
    failures_limit = config.alert_after_failures if config else 5
    if feed.consecutive_failures >= failures_limit:
        return (
            f"{feed.consecutive_failures} failed polls in a row; last error: "
            f"{(feed.last_error or 'unknown')[:300]}"
        )
    if config is not None and config.alert_after_silent_hours is not None:
        since = feed.last_post_at or feed.last_success_at
        limit = timedelta(hours=config.alert_after_silent_hours)
        if since is not None and now - since > limit:
            hours = (now - since).total_seconds() / 3600
            return (
                f"no new posts for {hours:.1f} h (alert after {config.alert_after_silent_hours} h)"
            )
    return None


def open_source_alert(session: Session, feed_id: int) -> AlertRow | None:
    """Return the open source alert of a feed, if any."""
    return session.scalar(
        select(AlertRow)
        .where(AlertRow.feed_id == feed_id, AlertRow.kind == SOURCE_ALERT)
        .where(AlertRow.status.in_(("open", "acknowledged")))
        .order_by(AlertRow.id.desc())
        .limit(1)
    )


def update_source_alert(
    session: Session, feed_id: int, config: FeedConfig | None, *, now: datetime
) -> str | None:
    """Open, update or resolve the feed's source alert from its stored health; return the
    action taken ("open", "update", "resolve") or None."""
    feed = session.get(Feed, feed_id, populate_existing=True)
    if feed is None:
        return None
    problem = source_problem(feed, config, now=now)
    alert = open_source_alert(session, feed_id)
    if problem is None:
        if alert is None:
            return None
        alert.status, alert.resolved_at, alert.updated_at = "resolved", now, now
        return "resolve"
    if alert is not None:
        alert.reason, alert.updated_at, alert.last_bucket = problem, now, now
        alert.observed = feed.consecutive_failures
        return "update"
    session.add(
        AlertRow(
            topic_id=None,
            feed_id=feed_id,
            kind=SOURCE_ALERT,
            status="open",
            opened_bucket=now,
            last_bucket=now,
            peak_bucket=now,
            observed=feed.consecutive_failures,
            expected=0.0,
            score=0.0,
            peak_count=0,
            excess_mentions=0.0,
            quiet_buckets=0,
            samples=[],
            opened_at=now,
            updated_at=now,
            reason=problem,
        )
    )
    session.flush()
    return "open"


def check_sources(session: Session, config: MonitorConfig, *, now: datetime) -> dict[str, str]:
    """Re-judge every enabled feed (silence grows without polls); return {feed: action}."""
    by_name = {feed.name: feed for feed in config.feeds}
    actions: dict[str, str] = {}
    for feed in session.scalars(select(Feed).where(Feed.enabled == 1)):
        action = update_source_alert(session, feed.id, by_name.get(feed.name), now=now)
        if action:
            actions[feed.name] = action
    return actions


def source_alert_events(session: Session, *, since: datetime) -> list[tuple[int, str]]:
    """Return (alert id, "open" or "resolve") for every source alert open now or resolved
    since `since`, whichever process changed it (a poll or the detection tick). Notifiers
    claim each (alert, event, sink) before sending, so repeating an event sends nothing."""
    rows = session.execute(
        select(AlertRow.id, AlertRow.resolved_at).where(
            AlertRow.kind == SOURCE_ALERT,
            or_(AlertRow.status != "resolved", AlertRow.resolved_at >= since),
        )
    )
    events: list[tuple[int, str]] = []
    for alert_id, resolved_at in rows:
        events.append((alert_id, "open"))
        if resolved_at is not None:
            events.append((alert_id, "resolve"))
    return events
