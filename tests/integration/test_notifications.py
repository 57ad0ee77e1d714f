"""Notifications to a local webhook receiver and a local SMTP server (aiosmtpd) on 127.0.0.1,
from alerts stored in real SQLite and PostgreSQL: signatures, retries, duplicate runs,
routing, digests and failing sinks."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import select

from monitor.health import source_alert_events, update_source_alert
from monitor.notify import notify_changes
from monitor.storage.engine import make_engine, make_session_factory, session_scope
from monitor.storage.queries import get_topic_id
from monitor.storage.tables import AlertRow, DeliveryRow, Feed
from tests.conftest import REPO, free_port
from tests.integration.api_seed import CONFIG, Seeded, seed
from tests.integration.receivers import Receiver, receiver_fixture  # noqa: F401 - fixture

pytestmark = pytest.mark.integration

SECRET = "whsec-5b2e"
SMTP_PASSWORD = "smtp-pass-77"


@dataclass
class Mailbox:
    port: int
    messages: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    logins: list[tuple[bytes, bytes]] = field(default_factory=list)


@pytest.fixture
def smtp_server() -> Iterator[Mailbox]:
    box = Mailbox(port=free_port())

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            box.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
            return "250 OK"

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        if isinstance(data, LoginPassword):
            box.logins.append((data.login, data.password))
            return AuthResult(success=data.password == SMTP_PASSWORD.encode())
        return AuthResult(success=False)

    controller = Controller(
        Handler(),
        hostname="127.0.0.1",
        port=box.port,
        authenticator=authenticate,
        auth_require_tls=False,  # loopback test server without a certificate
    )
    controller.start()
    yield box
    controller.stop()


def config_with(base: str, sinks: str) -> str:
    return base + "\n" + sinks


def sinks_toml(receiver: Receiver, smtp_port: int, extra: str = "") -> str:
    return f"""
[[notifiers]]
name = "ops-webhook"
kind = "webhook"
url = "{receiver.url("/hook")}"
secret_env = "TEST_WEBHOOK_SECRET"
events = ["open", "resolve"]
retry_backoff_seconds = 0.5

[[notifiers]]
name = "fans-slack"
kind = "slack"
url_env = "TEST_SLACK_URL"

[[notifiers]]
name = "mail"
kind = "email"
smtp_host = "127.0.0.1"
smtp_port = {smtp_port}
starttls = false
username = "monitor"
password_env = "TEST_SMTP_PASSWORD"
from_addr = "monitor@example.org"
to_addrs = ["team@example.org"]
{extra}
"""


def environ(receiver: Receiver) -> dict[str, str]:
    return {
        "TEST_WEBHOOK_SECRET": SECRET,
        "TEST_SLACK_URL": receiver.url("/slack"),
        "TEST_SMTP_PASSWORD": SMTP_PASSWORD,
    }


def seeded_with(tmp_path: Path, database_url: str, sinks: str) -> tuple[Seeded, Any]:
    seeded = seed(tmp_path, database_url, now=datetime.now(UTC), config_text=CONFIG + sinks)
    return seeded, make_session_factory(make_engine(database_url))


def deliveries(sessions: Any) -> list[DeliveryRow]:
    with sessions() as session:
        return list(session.scalars(select(DeliveryRow).order_by(DeliveryRow.id)))


def test_every_sink_gets_the_open_alert_once(
    tmp_path: Path, database_url: str, receiver: Receiver, smtp_server: Mailbox
) -> None:
    seeded, sessions = seeded_with(tmp_path, database_url, sinks_toml(receiver, smtp_server.port))
    sleeps: list[float] = []
    env = environ(receiver)
    changes = [(seeded.alert_id, "open")]
    outcomes = notify_changes(sessions, seeded.config, changes, environ=env, sleep=sleeps.append)
    assert {(o.sink, o.sent, o.failed) for o in outcomes} == {
        ("ops-webhook", 1, 0),
        ("fans-slack", 1, 0),
        ("mail", 1, 0),
    }
    # The same detection run delivered again (a redelivered task): nothing is sent twice.
    again = notify_changes(sessions, seeded.config, changes, environ=env, sleep=sleeps.append)
    assert again == []
    assert sleeps == []

    [(headers, payload)] = receiver.posts("/hook")
    body = next(b for h, b in receiver.requests if h["x-path"] == "/hook")
    expected = hmac.new(
        SECRET.encode(), headers["x-monitor-timestamp"].encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    assert headers["x-monitor-signature"] == f"sha256={expected}"
    assert headers["x-monitor-event"] == "open"
    assert payload["event"] == "open" and payload["digest"] is False
    [alert] = payload["alerts"]
    assert (alert["id"], alert["topic"], alert["observed"]) == (seeded.alert_id, "love-letter", 20)
    assert SECRET not in body.decode()

    [(_, slack)] = receiver.posts("/slack")
    assert "love-letter" in slack["text"]
    blocks = json.dumps(slack["blocks"])
    assert "<script>" not in blocks and "&lt;script&gt;" in blocks

    [(mail_from, rcpt, raw)] = smtp_server.messages
    assert (mail_from, rcpt) == ("monitor@example.org", ["team@example.org"])
    assert smtp_server.logins == [(b"monitor", SMTP_PASSWORD.encode())]
    message = message_from_bytes(raw)
    assert message["Subject"] == "[monitor] spike alert opened: love-letter"
    assert "20 mentions" in message.get_payload(decode=True).decode()

    rows = deliveries(sessions)
    assert sorted((r.sink, r.event, r.status, r.attempts) for r in rows) == [
        ("fans-slack", "open", "sent", 1),
        ("mail", "open", "sent", 1),
        ("ops-webhook", "open", "sent", 1),
    ]


def test_mail_and_slack_say_why_from_the_stored_explanation(
    tmp_path: Path, sqlite_url: str, receiver: Receiver, smtp_server: Mailbox
) -> None:
    seeded, sessions = seeded_with(tmp_path, sqlite_url, sinks_toml(receiver, smtp_server.port))
    with session_scope(sessions) as session:
        # What detection stores with an alert (monitor.explain), cut to what messages read.
        session.get(AlertRow, seeded.alert_id).explanation = {
            "rising_terms": [{"term": "leak", "during": 19, "before": 0, "z": 4.1}],
            "sources": {"fans": 1.0},
            "languages": {"en": 0.75, "ko": 0.25},
            "first_post": {
                "text": "<!channel> Love Letter leak?!",
                "source": "fans",
                "published_at": "2026-05-04T12:00:00Z",
            },
            "sentiment": {
                "during": {"mean_compound": -0.42, "negative_share": 0.8},
                "before": {"mean_compound": 0.4, "negative_share": 0.0},
            },
        }
    outcomes = notify_changes(
        sessions, seeded.config, [(seeded.alert_id, "open")], environ=environ(receiver)
    )
    assert {(o.sink, o.sent) for o in outcomes} >= {("fans-slack", 1), ("mail", 1)}
    [(_, slack)] = receiver.posts("/slack")
    blocks = json.dumps(slack["blocks"])
    assert "Rising terms: leak" in blocks and "languages: en 75%, ko 25%" in blocks
    assert "<!channel>" not in blocks and "&lt;!channel&gt; Love Letter leak" in blocks
    [(_, _, raw)] = smtp_server.messages
    body = message_from_bytes(raw).get_payload(decode=True).decode()
    assert "Rising terms: leak" in body
    assert "First post (2026-05-04T12:00:00Z, fans): <!channel> Love Letter leak?!" in body
    assert "Sentiment -0.42 during vs +0.40 before (negative 80% vs 0%)" in body


def test_a_failing_receiver_is_retried_with_backoff_and_others_still_get_theirs(
    tmp_path: Path, database_url: str, receiver: Receiver, smtp_server: Mailbox
) -> None:
    extra = f"""
[[notifiers]]
name = "flaky"
kind = "webhook"
url = "{receiver.url("/flaky")}"
max_attempts = 3
retry_backoff_seconds = 0.25

[[notifiers]]
name = "down"
kind = "webhook"
url = "http://127.0.0.1:{free_port()}/nothing-listens"
max_attempts = 2
timeout_seconds = 2

[[notifiers]]
name = "no-secret"
kind = "webhook"
url = "{receiver.url("/never")}"
secret_env = "TEST_UNSET_SECRET"
"""
    seeded, sessions = seeded_with(
        tmp_path, database_url, sinks_toml(receiver, smtp_server.port, extra)
    )
    receiver.fail_first = 1
    sleeps: list[float] = []
    outcomes = {
        o.sink: o
        for o in notify_changes(
            sessions,
            seeded.config,
            [(seeded.alert_id, "open")],
            environ=environ(receiver),
            sleep=sleeps.append,
        )
    }
    assert (outcomes["flaky"].sent, outcomes["flaky"].attempts) == (1, 2)
    assert (outcomes["down"].failed, outcomes["down"].attempts) == (1, 2)
    assert outcomes["no-secret"].failed == 1 and "TEST_UNSET_SECRET" in outcomes["no-secret"].error
    for sink in ("ops-webhook", "fans-slack", "mail"):
        assert outcomes[sink].sent == 1, sink
    # backoff: flaky waited 0.25 s once; down waited 1.0 s (the default) once
    assert sorted(sleeps) == [0.25, 1.0]
    flaky = receiver.posts("/flaky")
    assert len(flaky) == 2
    assert flaky[0][0]["x-monitor-delivery"] == flaky[1][0]["x-monitor-delivery"]
    assert receiver.posts("/never") == []
    rows = {r.sink: r for r in deliveries(sessions)}
    assert (rows["flaky"].status, rows["flaky"].attempts) == ("sent", 2)
    assert (rows["down"].status, rows["down"].attempts) == ("failed", 2)
    assert "nothing-listens" not in (rows["down"].last_error or "")
    assert rows["no-secret"].status == "failed"
    # A failed delivery is not retried by a second run: at most once per change and sink.
    receiver.requests.clear()
    notify_changes(sessions, seeded.config, [(seeded.alert_id, "open")], environ=environ(receiver))
    assert receiver.requests == []


def test_routing_events_and_digest(
    tmp_path: Path, sqlite_url: str, receiver: Receiver, smtp_server: Mailbox
) -> None:
    sinks = f"""
[[notifiers]]
name = "quiet-only"
kind = "webhook"
url = "{receiver.url("/quiet")}"
topics = ["quiet-topic"]

[[notifiers]]
name = "source-alerts"
kind = "webhook"
url = "{receiver.url("/source")}"
alert_kinds = ["source"]

[[notifiers]]
name = "resolved-only"
kind = "webhook"
url = "{receiver.url("/resolved")}"
events = ["resolve"]

[[notifiers]]
name = "each"
kind = "webhook"
url = "{receiver.url("/each")}"

[[notifiers]]
name = "batch"
kind = "webhook"
url = "{receiver.url("/digest")}"
digest = true
"""
    seeded, sessions = seeded_with(tmp_path, sqlite_url, sinks)
    with session_scope(sessions) as session:
        first = session.get(AlertRow, seeded.alert_id)
        assert first is not None
        second = AlertRow(
            **{
                column: getattr(first, column)
                for column in (c.name for c in AlertRow.__table__.columns)
                if column not in ("id", "topic_id")
            },
            topic_id=get_topic_id(session, "quiet-topic"),
        )
        session.add(second)
        session.flush()
        second_id = second.id
    changes = [(seeded.alert_id, "open"), (second_id, "open"), (seeded.alert_id, "update")]
    notify_changes(sessions, seeded.config, changes, environ={})
    assert [p["alerts"][0]["id"] for _, p in receiver.posts("/quiet")] == [second_id]
    assert receiver.posts("/source") == []
    assert receiver.posts("/resolved") == []
    assert sorted(p["alerts"][0]["id"] for _, p in receiver.posts("/each")) == sorted(
        [seeded.alert_id, second_id]
    )
    [(headers, digest)] = receiver.posts("/digest")
    assert digest["digest"] is True and headers["x-monitor-event"] == "digest"
    assert sorted(a["id"] for a in digest["alerts"]) == sorted([seeded.alert_id, second_id])
    assert len(headers["x-monitor-delivery"].split(",")) == 2

    notify_changes(sessions, seeded.config, [(seeded.alert_id, "resolve")], environ={})
    [(_, resolved)] = receiver.posts("/resolved")
    assert resolved["event"] == "resolve" and resolved["alerts"][0]["id"] == seeded.alert_id
    assert len(receiver.posts("/each")) == 2  # "each" announces openings only


def test_secrets_stay_out_of_logs_and_delivery_records(
    tmp_path: Path, sqlite_url: str, smtp_server: Mailbox, caplog: pytest.LogCaptureFixture
) -> None:
    closed = free_port()
    secret_url = f"http://127.0.0.1:{closed}/services/T000/B000/very-secret-path"
    sinks = f"""
[[notifiers]]
name = "slack-down"
kind = "slack"
url_env = "TEST_SLACK_URL"
max_attempts = 2

[[notifiers]]
name = "mail-wrong-password"
kind = "email"
smtp_host = "127.0.0.1"
smtp_port = {smtp_server.port}
starttls = false
username = "monitor"
password_env = "TEST_SMTP_PASSWORD"
from_addr = "monitor@example.org"
to_addrs = ["team@example.org"]
max_attempts = 1
timeout_seconds = 1  # aiosmtpd goes quiet after smtplib's second AUTH mechanism fails
"""
    seeded, sessions = seeded_with(tmp_path, sqlite_url, sinks)
    wrong_password = "wrong-pass-1234"
    env = {"TEST_SLACK_URL": secret_url, "TEST_SMTP_PASSWORD": wrong_password}
    with caplog.at_level("DEBUG"):
        outcomes = notify_changes(
            sessions, seeded.config, [(seeded.alert_id, "open")], environ=env, sleep=lambda _: None
        )
    assert {o.sink: o.failed for o in outcomes} == {"slack-down": 1, "mail-wrong-password": 1}
    assert smtp_server.messages == [] and smtp_server.logins  # it tried, and was refused
    recorded = " ".join(f"{r.sink} {r.last_error}" for r in deliveries(sessions))
    for text in (caplog.text, recorded, " ".join(str(o) for o in outcomes)):
        assert "very-secret-path" not in text and wrong_password not in text
    assert "slack slack-down: ConnectError" in recorded
    assert "email mail-wrong-password: SMTP" in recorded


def test_source_alerts_are_announced_once_whichever_process_changed_them(
    tmp_path: Path, database_url: str, receiver: Receiver
) -> None:
    sinks = f"""
[[notifiers]]
name = "source-alerts"
kind = "webhook"
url = "{receiver.url("/source")}"
alert_kinds = ["source"]
events = ["open", "resolve"]
"""
    seeded, sessions = seeded_with(tmp_path, database_url, sinks)
    feed_config = seeded.config.feeds[0]
    now = datetime.now(UTC)

    def fail_and_announce(failures: int) -> list[tuple[int, str]]:
        # A poll records the feed's health; the next detection tick announces what changed.
        with session_scope(sessions) as session:
            feed = session.scalar(select(Feed))
            feed.consecutive_failures = failures
            update_source_alert(session, feed.id, feed_config, now=now)
        with session_scope(sessions) as session:
            events = source_alert_events(session, since=now - timedelta(days=1))
        notify_changes(sessions, seeded.config, events, environ={})
        return events

    assert fail_and_announce(0) == []
    [(alert_id, event)] = fail_and_announce(feed_config.alert_after_failures)
    assert event == "open"
    fail_and_announce(feed_config.alert_after_failures + 1)  # still failing: nothing new
    assert fail_and_announce(0) == [(alert_id, "open"), (alert_id, "resolve")]
    fail_and_announce(0)
    posts = receiver.posts("/source")
    assert [(p["event"], p["alerts"][0]["id"], p["alerts"][0]["kind"]) for _, p in posts] == [
        ("open", alert_id, "source"),
        ("resolve", alert_id, "source"),
    ]
    assert posts[0][1]["alerts"][0]["feed"] == feed_config.name


def test_cli_shows_a_source_alert_with_its_feed(tmp_path: Path, sqlite_url: str) -> None:
    # A source alert has a feed and no topic; `alerts show` reads it like `alerts` lists it.
    seeded, sessions = seeded_with(tmp_path, sqlite_url, "")
    feed_config = seeded.config.feeds[0]
    with session_scope(sessions) as session:
        feed = session.scalar(select(Feed))
        feed.consecutive_failures = feed_config.alert_after_failures
        assert update_source_alert(session, feed.id, feed_config, now=datetime.now(UTC)) == "open"
    with sessions() as session:
        alert_id = session.scalar(select(AlertRow.id).where(AlertRow.kind == "source"))
    env = {
        "MONITOR_CONFIG": str(seeded.settings.config_path),
        "MONITOR_DATA_DIR": str(tmp_path / "var"),
        "MONITOR_DATABASE_URL": sqlite_url,
        "PATH": "/usr/bin:/bin",
    }
    shown = subprocess.run(
        [sys.executable, "-m", "monitor", "alerts", "show", str(alert_id), "--format", "json"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    record = json.loads(shown.stdout)
    assert (record["id"], record["kind"], record["feed"]) == (alert_id, "source", feed_config.name)
