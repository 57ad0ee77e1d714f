"""Thin tasks: ids in, one call into monitor.pipeline, done."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from celery.signals import worker_process_init

from monitor import pipeline
from monitor.runtime import Runtime
from workers.app import app, settings

log = logging.getLogger("monitor.tasks")
_runtime: Runtime | None = None


def runtime() -> Runtime:
    """Return this process's runtime, built on first use (after any fork)."""
    global _runtime
    if _runtime is None:
        _runtime = Runtime.start(settings)
    return _runtime


@worker_process_init.connect
def _after_fork(**_: Any) -> None:
    if _runtime is not None:
        _runtime.after_fork()


def utcnow() -> datetime:
    return datetime.now(UTC)


@app.task(name="monitor.dispatch_due_feeds", acks_late=True, ignore_result=True)
def dispatch_due_feeds() -> int:
    """Enqueue one poll per due feed (after the commit that marked them dispatched)."""
    feed_ids = pipeline.dispatch_due_feeds(runtime(), now=utcnow())
    for feed_id in feed_ids:
        poll_feed.delay(feed_id)
    return len(feed_ids)


@app.task(name="monitor.poll_feed", acks_late=True, ignore_result=True)
def poll_feed(feed_id: int) -> dict[str, Any]:
    """Poll one feed; its failures are recorded on the feed, not raised."""
    outcome = pipeline.poll_feed(runtime(), feed_id, now=utcnow())
    log.info(
        "polled feed=%s status=%s fetched=%d new_posts=%d new_mentions=%d error=%s",
        outcome.feed_name,
        outcome.status,
        outcome.fetched,
        outcome.new_posts,
        outcome.new_mentions,
        outcome.error,
    )
    return {"status": outcome.status, "new_mentions": outcome.new_mentions}


@app.task(name="monitor.detect_spikes", acks_late=True, ignore_result=True)
def detect_spikes() -> int:
    """Judge every topic's latest buckets; open, update or resolve spike alerts."""
    changes = pipeline.detect_spikes(runtime(), now=utcnow())
    # Source alerts ride on the same tick: a silent or failing feed is an alert too.
    for feed, action in pipeline.check_source_health(runtime(), now=utcnow()).items():
        log.warning("source alert %s feed=%s", action, feed)
    for change in changes:
        log.warning(
            "alert %s topic=%s id=%d observed=%d expected=%.1f",
            change.action,
            change.topic,
            change.alert_id,
            change.observed,
            change.expected,
        )
    return len(changes)
