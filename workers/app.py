"""The Celery app, configured from monitor.settings and the config file.

Settings and why (see README "Reliability settings"):
- `task_acks_late` + `task_reject_on_worker_lost`: a task whose worker dies is delivered
  again; safe because every task is idempotent (posts and mentions are unique, counters
  move only for rows actually inserted).
- `worker_prefetch_multiplier = 1`: with late acks, no message waits reserved behind a
  long poll and ages towards the visibility timeout.
- `task_soft_time_limit` < `task_time_limit` < broker `visibility_timeout`: a hung poll is
  stopped long before Redis would hand its message to another worker.
- JSON only: a pickled message is refused, never executed.

Queues (see README "Queues and scaling out"): `polling` (dispatch ticks and fetches: waits
on the network), `storing` (scoring and storing: CPU and database) and `detection` (spike
detection, source health, notifications). A worker started without `-Q` consumes all three;
giving detection its own worker means a slow network never delays an alert.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import Any

from celery import Celery
from celery.signals import worker_init
from kombu import Queue

from monitor.config import MonitorConfig, load_config
from monitor.settings import Settings, load_settings

POLLING_QUEUE = "polling"
STORING_QUEUE = "storing"
DETECTION_QUEUE = "detection"
QUEUES = (POLLING_QUEUE, STORING_QUEUE, DETECTION_QUEUE)
TASK_ROUTES = {
    "monitor.dispatch_due_feeds": {"queue": POLLING_QUEUE},
    "monitor.poll_feed": {"queue": POLLING_QUEUE},
    "monitor.store_poll": {"queue": STORING_QUEUE},
    "monitor.detect_spikes": {"queue": DETECTION_QUEUE},
    "monitor.notify_alert_changes": {"queue": DETECTION_QUEUE},
}


def beat_schedule(config: MonitorConfig) -> dict[str, dict[str, Any]]:
    """Return beat's schedule for `config`: a dispatch tick fine enough for the shortest feed
    interval (each feed is then polled at its own interval, tracked in the database), and a
    detection run at least once per timeline bucket."""
    shortest = min((feed.interval_seconds for feed in config.feeds), default=60)
    tick_seconds = max(5, min(60, shortest // 2))
    detect_seconds = min(config.detection.interval_seconds, config.timeline.bucket_minutes * 60)
    return {
        "dispatch-due-feeds": {
            "task": "monitor.dispatch_due_feeds",
            "schedule": timedelta(seconds=tick_seconds),
            "options": {"expires": tick_seconds * 2},
        },
        "detect-spikes": {
            "task": "monitor.detect_spikes",
            "schedule": timedelta(seconds=detect_seconds),
            "options": {"expires": detect_seconds * 2},
        },
    }


def broker_options(settings: Settings, config: MonitorConfig) -> dict[str, Any]:
    """Return the broker transport options (the embedded broker keeps its files on disk)."""
    if settings.embedded_broker:
        folders = {
            "data_folder_in": settings.broker_folder / "queue",
            "data_folder_out": settings.broker_folder / "queue",
            "control_folder": settings.broker_folder / "control",
        }
        for folder in folders.values():
            folder.mkdir(parents=True, exist_ok=True)
        return {key: str(path) for key, path in folders.items()} | {"store_processed": False}
    visibility_timeout = config.worker.visibility_timeout_seconds
    return {
        "visibility_timeout": visibility_timeout,
        # Look for unacked messages of dead workers about ten times per visibility timeout
        # (kombu's default sweep is ~100 s whatever the timeout).
        "unacked_restore_interval": max(1, visibility_timeout // 10),
        "unacked_restore_throttle": 1,
        # Without a socket timeout a publish to a broker that has gone can wait forever.
        "socket_timeout": 10,
        "socket_connect_timeout": 5,
    }


def make_app(settings: Settings, config: MonitorConfig) -> Celery:
    """Return the configured Celery app."""
    celery = Celery("monitor", broker=settings.broker_url, include=["workers.tasks"])
    schedule = beat_schedule(config)
    celery.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        task_queues=[Queue(name, routing_key=name) for name in QUEUES],
        task_default_queue=POLLING_QUEUE,
        task_routes=TASK_ROUTES,
        task_soft_time_limit=config.worker.soft_time_limit_seconds,
        task_time_limit=config.worker.time_limit_seconds,
        broker_transport_options=broker_options(settings, config),
        broker_connection_retry_on_startup=True,
        worker_cancel_long_running_tasks_on_connection_loss=True,
        beat_schedule=schedule,
        # One leader among beats; the lock lives three loop intervals (see workers/beat.py).
        beat_scheduler="workers.beat:LockedScheduler",
        beat_max_loop_interval=min(
            entry["schedule"].total_seconds() for entry in schedule.values()
        ),
        timezone="UTC",
        enable_utc=True,
    )
    if not settings.embedded_broker:
        # Celery reads it here too; the shortest value among apps on one broker wins.
        celery.conf.visibility_timeout = config.worker.visibility_timeout_seconds
    return celery


settings = load_settings()
app = make_app(settings, load_config(settings.config_path))


@worker_init.connect
def _refuse_unmigrated_database(**_: Any) -> None:
    # Fail at start-up with the fix, not at the first task with a missing-table error.
    from monitor.errors import SchemaNotReadyError
    from monitor.storage.engine import make_engine
    from monitor.storage.migrate import require_current_schema

    engine = make_engine(settings.database_url)
    try:
        require_current_schema(engine)
    except SchemaNotReadyError as exc:
        # Celery logs and swallows ordinary exceptions from signal handlers; exit instead.
        sys.stderr.write(f"error: {exc}\n")
        raise SystemExit(1) from exc
    finally:
        engine.dispose()
