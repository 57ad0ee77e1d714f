"""Thin tasks: ids in, one call into monitor.pipeline, done."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from celery.signals import task_postrun, task_prerun, worker_process_init
from sqlalchemy.exc import OperationalError

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


@contextmanager
def database_outage_logged(what: str) -> Iterator[None]:
    """Turn a lost database into one log line: nothing was committed, and beat dispatches
    the work again once the database is back (its state there is the truth)."""
    try:
        yield
    except OperationalError as exc:
        reason = str(exc.orig or exc).strip().splitlines()[0]
        log.error("database unavailable, %s not done (retried by beat): %s", what, reason)


_started: dict[str, float] = {}


@task_prerun.connect
def _task_started(task_id: str | None = None, **_: Any) -> None:
    if task_id:
        _started[task_id] = time.monotonic()


@task_postrun.connect
def _task_finished(
    task_id: str | None = None, task: Any = None, state: str | None = None, **_: Any
) -> None:
    # Durations go to the database, so /metrics sums every worker process and container.
    started = _started.pop(task_id or "", None)
    if started is None or task is None:
        return
    try:
        from monitor.storage.engine import session_scope
        from monitor.storage.task_stats import record_task_run

        with session_scope(runtime().sessions) as session:
            record_task_run(
                session,
                task.name,
                seconds=time.monotonic() - started,
                failed=state not in (None, "SUCCESS"),
                now=utcnow(),
            )
    except OperationalError:
        pass  # the database is down: the task itself has said so already
    except Exception:  # statistics must never fail or retry a task
        log.exception("could not record the run of task %s", getattr(task, "name", task))


@app.task(name="monitor.dispatch_due_feeds", acks_late=True, ignore_result=True)
def dispatch_due_feeds() -> int:
    """Enqueue one poll per due feed (after the commit that marked them dispatched)."""
    feed_ids: list[int] = []
    with database_outage_logged("dispatch"):
        feed_ids = pipeline.dispatch_due_feeds(runtime(), now=utcnow())
    for feed_id in feed_ids:
        poll_feed.delay(feed_id)
    return len(feed_ids)


@app.task(name="monitor.poll_feed", acks_late=True, ignore_result=True)
def poll_feed(feed_id: int) -> dict[str, Any]:
    """Fetch one feed and hand its matched posts to the storing queue; failures are recorded
    on the feed, not raised."""
    with database_outage_logged(f"poll of feed {feed_id}"):
        fetched = pipeline.fetch_poll(runtime(), feed_id, now=utcnow())
        if isinstance(fetched, pipeline.PollOutcome):
            log_poll(fetched)
            return {"status": fetched.status, "new_mentions": 0}
        # Published before this task is acknowledged: a worker lost from here on leaves the
        # poll to be redelivered, and storing the same posts twice changes nothing.
        store_poll.delay(fetched.to_message())
        return {"status": "fetched", "matched": len(fetched.matches)}
    return {"status": "database-unavailable", "new_mentions": 0}


@app.task(name="monitor.store_poll", acks_late=True, ignore_result=True)
def store_poll(message: dict[str, Any]) -> dict[str, Any]:
    """Score and store one fetched poll with its cursor, all or nothing."""
    poll = pipeline.FetchedPoll.from_message(message)
    with database_outage_logged(f"storing a poll of feed {poll.feed_name}"):
        # Left uncommitted on an outage: the feed's lease runs out and it is polled again
        # from the cursor it had, so nothing is skipped.
        outcome = pipeline.store_poll(runtime(), poll)
        log_poll(outcome)
        return {"status": outcome.status, "new_mentions": outcome.new_mentions}
    return {"status": "database-unavailable", "new_mentions": 0}


def log_poll(outcome: pipeline.PollOutcome) -> None:
    log.info(
        "polled feed=%s status=%s fetched=%d new_posts=%d new_mentions=%d error=%s",
        outcome.feed_name,
        outcome.status,
        outcome.fetched,
        outcome.new_posts,
        outcome.new_mentions,
        outcome.error,
    )


@app.task(name="monitor.detect_spikes", acks_late=True, ignore_result=True)
def detect_spikes() -> int:
    """Judge every topic's latest buckets; open, update or resolve spike alerts."""
    with database_outage_logged("spike detection"):
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
        if runtime().config.notifiers:
            events = pipeline.notification_events(runtime(), changes, now=utcnow())
            if events:
                # Enqueued after detection committed; a slow or failing sink never delays it.
                notify_alert_changes.delay([list(event) for event in events])
        return len(changes)
    return 0


@app.task(name="monitor.notify_alert_changes", acks_late=True, ignore_result=True)
def notify_alert_changes(changes: list[list[Any]]) -> int:
    """Send the notifications of one detection run's alert changes ([alert id, action])."""
    from monitor.notify import notify_changes

    rt = runtime()
    outcomes = notify_changes(
        rt.sessions, rt.config, [(int(alert_id), str(action)) for alert_id, action in changes]
    )
    return sum(outcome.sent for outcome in outcomes)
