"""Alert state changes -> notifications: route to sinks, claim once, send with retries.

Each (alert, event, sink) is claimed in the `deliveries` table before it is sent, so running
the same notification twice (a redelivered task, two detectors) sends it at most once. An
escalation or surge is claimed by the severity or count it raised the alert to, so each
re-alert of an episode is announced once, and a second one is not lost behind the first. Each
sink is tried on its own: one that fails or is misconfigured is recorded and skipped, never
blocking the others or detection.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, get_args

from sqlalchemy.orm import Session, sessionmaker

from monitor.config import MonitorConfig, NoticeEvent
from monitor.errors import NotifyError
from monitor.notifiers import AlertNotice, make_notifier
from monitor.reports import alert_record
from monitor.storage import queries
from monitor.storage.deliveries import claim_deliveries, finish_deliveries
from monitor.storage.engine import session_scope
from monitor.storage.tables import AlertRow

log = logging.getLogger(__name__)

# Detection actions that are announced: the events a sink can ask for (an "update" tells a
# reader nothing new).
EVENTS = get_args(NoticeEvent)
MAX_BACKOFF_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class SinkOutcome:
    """What one sink did with one batch."""

    sink: str
    sent: int
    failed: int
    attempts: int
    error: str | None = None


def routed(sink: Any, notice: AlertNotice) -> bool:
    """Return True when `sink`'s routing (topics, alert kinds, events) takes `notice`."""
    return (
        (sink.topics is None or notice.topic in sink.topics)
        and notice.kind in sink.alert_kinds
        and notice.event in sink.events
    )


def backoff_seconds(base: float, attempt: int) -> float:
    """Return the wait after failed attempt number `attempt` (1-based): base, 2×, 4×, capped."""
    return min(MAX_BACKOFF_SECONDS, base * 2 ** (attempt - 1))


def load_notices(session: Session, changes: Sequence[tuple[int, str]]) -> list[AlertNotice]:
    """Return a notice per announced (alert id, action), with the alert as stored now."""
    wanted = [(alert_id, action) for alert_id, action in changes if action in EVENTS]
    if not wanted:
        return []
    rows = session.execute(
        queries.alerts_query().where(AlertRow.id.in_([alert_id for alert_id, _ in wanted]))
    )
    records = {alert.id: alert_record(alert, topic, feed) for alert, topic, feed in rows}
    seen: set[tuple[int, str]] = set()
    notices = []
    for alert_id, event in wanted:
        if alert_id not in records:
            continue
        notice = AlertNotice(alert_id, event, records[alert_id])
        if (alert_id, notice.delivery_key) not in seen:
            seen.add((alert_id, notice.delivery_key))
            notices.append(notice)
    return notices


def notify_changes(
    sessions: sessionmaker[Session],
    config: MonitorConfig,
    changes: Sequence[tuple[int, str]],
    *,
    environ: Mapping[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> list[SinkOutcome]:
    """Announce the (alert id, action) changes of one detection run to every routed sink;
    return one outcome per sink that had something to send."""
    if not config.notifiers:
        return []
    env = os.environ if environ is None else environ
    with session_scope(sessions) as session:
        notices = load_notices(session, changes)
    outcomes = []
    for sink_config in config.notifiers:
        batch = [notice for notice in notices if routed(sink_config, notice)]
        if not batch:
            continue
        try:
            outcome = _deliver(sessions, sink_config, batch, env, sleep=sleep, now=now)
        except Exception as exc:  # a broken sink must not stop the others
            log.exception("notifier %s failed unexpectedly", sink_config.name)
            outcome = SinkOutcome(sink_config.name, 0, len(batch), 0, type(exc).__name__)
        if outcome is not None:
            outcomes.append(outcome)
    return outcomes


def _deliver(
    sessions: sessionmaker[Session],
    sink_config: Any,
    batch: Sequence[AlertNotice],
    environ: Mapping[str, str],
    *,
    sleep: Callable[[float], None],
    now: Callable[[], datetime],
) -> SinkOutcome | None:
    with session_scope(sessions) as session:
        claimed = claim_deliveries(
            session, sink_config.name, [(n.alert_id, n.delivery_key) for n in batch], now=now()
        )
    batch = [notice for notice in batch if (notice.alert_id, notice.delivery_key) in claimed]
    if not batch:
        return None  # another run already took every one of them
    messages = [batch] if sink_config.digest else [[notice] for notice in batch]
    sent = failed = attempts_total = 0
    last_error: str | None = None
    for message in messages:
        ids = [claimed[(n.alert_id, n.delivery_key)] for n in message]
        ok, attempts, error = _send_with_retries(sink_config, message, ids, environ, sleep)
        attempts_total += attempts
        with session_scope(sessions) as session:
            finish_deliveries(session, ids, sent=ok, attempts=attempts, error=error, now=now())
        if ok:
            sent += len(message)
        else:
            failed += len(message)
            last_error = error
            log.warning(
                "notification failed sink=%s alerts=%s attempts=%d error=%s",
                sink_config.name,
                [n.alert_id for n in message],
                attempts,
                error,
            )
    return SinkOutcome(sink_config.name, sent, failed, attempts_total, last_error)


def _send_with_retries(
    sink_config: Any,
    message: Sequence[AlertNotice],
    ids: Sequence[int],
    environ: Mapping[str, str],
    sleep: Callable[[float], None],
) -> tuple[bool, int, str | None]:
    try:
        notifier = make_notifier(sink_config, environ)
    except NotifyError as exc:
        return False, 0, str(exc)  # misconfigured: retrying cannot help
    error: str | None = None
    for attempt in range(1, sink_config.max_attempts + 1):
        try:
            notifier.send(message, delivery_ids=ids)
            return True, attempt, None
        except NotifyError as exc:
            error = str(exc)
        if attempt < sink_config.max_attempts:
            sleep(backoff_seconds(sink_config.retry_backoff_seconds, attempt))
    return False, sink_config.max_attempts, error
