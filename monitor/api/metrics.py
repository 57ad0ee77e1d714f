"""Prometheus metrics, computed from the database at scrape time: the numbers are the same
whichever of several worker processes did the work."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session, sessionmaker

from monitor.storage import queries, reads
from monitor.storage.task_stats import task_stats


class DatabaseCollector(Collector):
    """Feed health, stored posts, open alerts, mention volume and notification deliveries."""

    def __init__(
        self, sessions: Callable[[], sessionmaker[Session]], clock: Callable[[], datetime]
    ) -> None:
        self._sessions = sessions
        self._clock = clock

    def describe(self) -> list[Metric]:
        return []  # collected on demand; nothing to register up front

    def collect(self) -> Iterator[Metric]:
        now = self._clock()
        up = GaugeMetricFamily("monitor_database_up", "1 if the database answered this scrape")
        try:
            with self._sessions()() as session:
                metrics = list(self._from_database(session, now))
        except Exception:  # a down database is a value of the metric, not a failed scrape
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from metrics

    def _from_database(self, session: Session, now: datetime) -> Iterator[Metric]:
        stored = CounterMetricFamily(
            "monitor_feed_posts_stored", "Posts stored from each feed", labels=["feed"]
        )
        fetched = CounterMetricFamily(
            "monitor_feed_posts_fetched",
            "Posts fetched from each feed (every post a successful poll parsed, new or not)",
            labels=["feed"],
        )
        recent = GaugeMetricFamily(
            "monitor_feed_posts_24h",
            "New posts stored from each feed in the last 24 h",
            labels=["feed"],
        )
        failures = GaugeMetricFamily(
            "monitor_feed_consecutive_failures",
            "Poll failures of each feed since its last success",
            labels=["feed"],
        )
        age = GaugeMetricFamily(
            "monitor_feed_last_success_age_seconds",
            "Seconds since each feed's last successful poll (absent: never)",
            labels=["feed"],
        )
        duration = GaugeMetricFamily(
            "monitor_feed_last_poll_duration_seconds",
            "Duration of each feed's last successful poll task",
            labels=["feed"],
        )
        for feed in queries.list_feeds(session):
            if not feed.enabled:
                continue
            stored.add_metric([feed.name], feed.posts_stored)
            fetched.add_metric([feed.name], feed.posts_fetched)
            recent.add_metric(
                [feed.name], queries.mentions_since(session, feed.id, now - timedelta(days=1))
            )
            failures.add_metric([feed.name], feed.consecutive_failures)
            if feed.last_success_at is not None:
                age.add_metric([feed.name], max(0.0, (now - feed.last_success_at).total_seconds()))
                if feed.last_polled_at and feed.last_success_at >= feed.last_polled_at:
                    duration.add_metric(
                        [feed.name], (feed.last_success_at - feed.last_polled_at).total_seconds()
                    )
        yield from (stored, fetched, recent, failures, age, duration)
        open_alerts = GaugeMetricFamily(
            "monitor_open_alerts", "Unresolved alerts", labels=["topic", "kind"]
        )
        for topic, kind, count in reads.open_alert_counts(session):
            open_alerts.add_metric([topic, kind], count)
        yield open_alerts
        volume = GaugeMetricFamily(
            "monitor_topic_mentions_24h", "Mentions of each topic in 24 h", labels=["topic"]
        )
        for topic in reads.topic_overview(session, now=now):
            volume.add_metric([topic["name"]], topic["volume_24h"])
        yield volume
        deliveries = GaugeMetricFamily(
            "monitor_notification_deliveries",
            "Notification deliveries by sink and status",
            labels=["sink", "status"],
        )
        for sink, status, count in reads.deliveries_summary(session):
            deliveries.add_metric([sink, status], count)
        yield deliveries
        runs = CounterMetricFamily("monitor_task_runs", "Celery task runs", labels=["task"])
        failures_total = CounterMetricFamily(
            "monitor_task_failures", "Celery task runs that raised", labels=["task"]
        )
        seconds = CounterMetricFamily(
            "monitor_task_duration_seconds", "Time spent in each Celery task", labels=["task"]
        )
        last = GaugeMetricFamily(
            "monitor_task_last_duration_seconds",
            "Duration of each Celery task's latest run",
            labels=["task"],
        )
        for row in task_stats(session):
            runs.add_metric([row.task], row.runs)
            failures_total.add_metric([row.task], row.failures)
            seconds.add_metric([row.task], row.total_seconds)
            last.add_metric([row.task], row.last_seconds)
        yield from (runs, failures_total, seconds, last)
