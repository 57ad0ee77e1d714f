"""The Celery configuration's invariants, checked without a broker."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from monitor.config import parse_config
from monitor.settings import load_settings
from workers.app import beat_schedule, make_app

CONFIG = """
[detection]
interval_seconds = 30
[[topics]]
name = "love-letter"
phrases = ["Love Letter"]
[[feeds]]
name = "a"
kind = "rss"
url = "https://example.org/a.xml"
interval_seconds = 600
[[feeds]]
name = "b"
kind = "rss"
url = "https://example.org/b.xml"
interval_seconds = 40
"""


def test_time_limits_fit_inside_the_visibility_timeout(tmp_path: Path) -> None:
    settings = load_settings(
        {"MONITOR_BROKER_URL": "redis://127.0.0.1:6379/0", "MONITOR_DATA_DIR": str(tmp_path)}
    )
    conf = make_app(settings, parse_config(CONFIG)).conf
    visibility = conf.broker_transport_options["visibility_timeout"]
    assert conf.task_soft_time_limit < conf.task_time_limit < visibility
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert list(conf.accept_content) == ["json"] and conf.task_serializer == "json"
    assert conf.broker_connection_retry_on_startup


def test_embedded_broker_keeps_its_folders_in_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings({"MONITOR_DATA_DIR": str(tmp_path)})
    conf = make_app(settings, parse_config(CONFIG)).conf
    assert conf.broker_url == "filesystem://"
    assert conf.broker_transport_options["data_folder_in"].startswith(str(tmp_path))
    assert (tmp_path / "broker" / "queue").is_dir()


def test_beat_schedule_follows_the_config() -> None:
    schedule = beat_schedule(parse_config(CONFIG))
    # Ticks fine enough for the 40 s feed; detection at the configured 30 s.
    assert schedule["dispatch-due-feeds"]["schedule"] == timedelta(seconds=20)
    assert schedule["detect-spikes"]["schedule"] == timedelta(seconds=30)
    assert {entry["task"] for entry in schedule.values()} == {
        "monitor.dispatch_due_feeds",
        "monitor.detect_spikes",
    }


def test_detection_runs_at_least_once_per_bucket() -> None:
    config = parse_config(
        CONFIG.replace("interval_seconds = 30", "interval_seconds = 3600")
        + "\n[timeline]\nbucket_minutes = 5\n"
    )
    assert beat_schedule(config)["detect-spikes"]["schedule"] == timedelta(minutes=5)


def test_worker_limits_come_from_the_config(tmp_path: Path) -> None:
    settings = load_settings(
        {"MONITOR_BROKER_URL": "redis://127.0.0.1:6379/0", "MONITOR_DATA_DIR": str(tmp_path)}
    )
    config = parse_config(
        CONFIG
        + "\n[worker]\nsoft_time_limit_seconds = 5\ntime_limit_seconds = 8\n"
        + "visibility_timeout_seconds = 10\n"
    )
    conf = make_app(settings, config).conf
    assert (conf.task_soft_time_limit, conf.task_time_limit) == (5, 8)
    options = conf.broker_transport_options
    assert options["visibility_timeout"] == 10 == conf.visibility_timeout
    # Dead workers' messages are looked for often enough to come back within ~the timeout.
    assert options["unacked_restore_interval"] * options["unacked_restore_throttle"] <= 10
    # A poll's lease outlives the hard limit, so a running poll is never polled twice.
    assert config.worker.poll_lease_seconds > conf.task_time_limit


def test_no_task_is_delayed_by_the_broker() -> None:
    # Long ETA/countdown messages run "again, and again" on Redis after the visibility
    # timeout; delays belong in the feeds' next_poll_at instead.
    sources = list((Path(__file__).resolve().parents[2] / "workers").glob("*.py"))
    sources += list((Path(__file__).resolve().parents[2] / "monitor").rglob("*.py"))
    offenders = [
        str(path)
        for path in sources
        for word in ("countdown=", "eta=")
        if word in path.read_text(encoding="utf-8")
    ]
    assert sources and offenders == []
