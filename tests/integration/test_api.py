"""The HTTP API over a real uvicorn server on 127.0.0.1, on seeded SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from typer.testing import CliRunner

from monitor.api import create_app
from monitor.api.db import make_read_engine
from monitor.cli import app as cli
from monitor.errors import ConfigError
from monitor.settings import load_settings
from monitor.storage.engine import make_engine, make_session_factory, session_scope
from monitor.storage.task_stats import record_task_run
from monitor.timeline import bucket_start
from tests.conftest import free_port
from tests.integration.api_seed import (
    CONFIG,
    FETCHED_NOT_MATCHED,
    HOSTILE,
    Seeded,
    seed,
    serve_in_thread,
)

pytestmark = pytest.mark.integration

TOKEN = "test-token-8d1f0c"


@pytest.fixture
def seeded(tmp_path: Path, database_url: str) -> Seeded:
    return seed(tmp_path, database_url, now=datetime.now(UTC))


@pytest.fixture
def api(seeded: Seeded) -> Iterator[httpx.Client]:
    app = create_app(seeded.settings, seeded.config, api_token=TOKEN)
    with serve_in_thread(app) as base_url, httpx.Client(base_url=base_url, timeout=30) as client:
        yield client


def test_topics_and_alerts(api: httpx.Client, seeded: Seeded) -> None:
    topics = {t["name"]: t for t in api.get("/api/topics").json()["topics"]}
    assert topics["love-letter"]["volume_24h"] == seeded.history_posts + seeded.burst_posts
    assert topics["love-letter"]["open_alerts"] == 1
    assert topics["quiet-topic"] == {
        "name": "quiet-topic",
        "volume_24h": 0,
        "scored_24h": 0,
        "mean_compound_24h": None,
        "open_alerts": 0,
    }
    alerts = api.get("/api/alerts").json()["alerts"]
    assert [a["id"] for a in alerts] == [seeded.alert_id]
    assert alerts[0]["samples"] and alerts[0]["observed"] == seeded.burst_posts
    assert api.get("/api/alerts", params={"topic": "quiet-topic"}).json()["alerts"] == []
    assert api.get("/api/alerts", params={"status": "resolved"}).json()["alerts"] == []
    future = (seeded.now + timedelta(days=1)).isoformat()
    assert api.get("/api/alerts", params={"since": future}).json()["alerts"] == []
    assert (
        len(api.get("/api/alerts", params={"since": "1d", "status": "open"}).json()["alerts"]) == 1
    )

    detail = api.get(f"/api/alerts/{seeded.alert_id}").json()
    evidence = detail["evidence"]
    assert (evidence["observed"], evidence["expected"], evidence["ratio"]) == (20, 0.5, 40.0)
    during, before = evidence["sentiment_during"], evidence["sentiment_before"]
    # 4 of the 20 burst posts score +0.3, 16 score -0.6; the 12 earlier posts +0.4.
    assert during["mentions"] == 20 and during["mean_compound"] == pytest.approx(-0.42)
    assert during["net_sentiment"] == pytest.approx(-0.6)
    assert before["mentions"] == 12 and before["mean_compound"] == pytest.approx(0.4)
    terms = {t["term"]: t["count"] for t in evidence["top_terms"]}
    assert terms == {"Love Letter": 20, "leak": 20}
    assert detail["explanation"] is None  # nothing stored by detection in this fixture
    assert any(sample["text"] == HOSTILE for sample in detail["samples"])


def test_history_statistics_and_csv(api: httpx.Client, seeded: Seeded) -> None:
    before = datetime.now(UTC)
    day = api.get("/api/history/love-letter", params={"since": "1d", "bucket": "1h"}).json()
    after = datetime.now(UTC)
    assert day["total"] == 32 and day["bucket"] == "1h"
    # Up to the hour still filling, and no hour that has not begun (it would read as silence).
    hours = {bucket_start(moment, timedelta(hours=1)) for moment in (before, after)}
    last = datetime.fromisoformat(day["buckets"][-1]["start"])
    assert last in hours
    assert datetime.fromisoformat(day["until"]) == last + timedelta(hours=1)
    fine = api.get(
        "/api/history/love-letter", params={"since": "7h", "bucket": "5m", "group_by": "lang"}
    ).json()
    by_start = {row["start"]: row for row in fine["buckets"]}
    burst = by_start[seeded.burst_bucket.isoformat().replace("+00:00", "Z")]
    assert (burst["count"], burst["unique_authors"], burst["scored"]) == (20, 7, 20)
    assert burst["mean_compound"] == pytest.approx(-0.42)
    assert burst["mean_compound_ci_low"] < -0.42 < burst["mean_compound_ci_high"]
    assert burst["mean_compound_ci_high"] - burst["mean_compound_ci_low"] < 0.5
    assert (burst["positive_share"], burst["negative_share"]) == (0.2, 0.8)
    assert burst["net_sentiment"] == pytest.approx(-0.6)
    assert {k: v["count"] for k, v in burst["groups"].items()} == {"en": 15, "ko": 5}
    # One post in a bucket: the interval is the whole range, not a confident +0.4.
    single = next(row for row in fine["buckets"] if row["count"] == 1)
    assert (single["mean_compound"], single["mean_compound_ci_low"]) == (0.4, -1.0)
    assert single["mean_compound_ci_high"] == 1.0

    response = api.get(
        "/api/history/love-letter.csv", params={"since": "7h", "bucket": "1h", "group_by": "source"}
    )
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert {row["group"] for row in rows} == {"fans"}
    assert sum(int(row["count"]) for row in rows) == 32
    plain = api.get("/api/history/love-letter.csv", params={"since": "7h", "bucket": "1h"})
    plain_rows = list(csv.DictReader(io.StringIO(plain.text)))
    assert all(row["group"] == "" for row in plain_rows)
    assert sum(int(row["count"]) for row in plain_rows) == 32


def test_audience_counts_authors_sources_and_languages(api: httpx.Client) -> None:
    who = api.get("/api/audience/love-letter").json()
    # 12 quiet posts by two fans in English, 20 burst posts by seven authors, 5 in Korean.
    assert (who["topic"], who["mentions"], who["authors"]) == ("love-letter", 32, 9)
    assert who["sources"] == [{"name": "fans", "mentions": 32, "share": 1.0}]
    assert who["languages"] == [
        {"name": "en", "mentions": 27, "share": 0.8438},
        {"name": "ko", "mentions": 5, "share": 0.1562},
    ]
    recent = api.get("/api/audience/love-letter", params={"since": "1h"}).json()
    assert (recent["mentions"], recent["authors"]) == (21, 8)  # the burst and one fan's post
    assert api.get("/api/audience/quiet-topic").json()["mentions"] == 0
    assert api.get("/api/audience/nope").status_code == 404
    backwards = api.get("/api/audience/love-letter", params={"since": "1h", "until": "2h"})
    assert backwards.status_code == 400


def test_cli_topics_matches_the_api(api: httpx.Client, seeded: Seeded) -> None:
    env = {
        "MONITOR_CONFIG": str(seeded.settings.config_path),
        "MONITOR_DATABASE_URL": seeded.settings.database_url,
        "MONITOR_DATA_DIR": str(seeded.settings.config_path.parent / "var"),
    }
    shown = CliRunner().invoke(cli, ["topics", "--format", "json"], env=env)
    assert shown.exit_code == 0, shown.output
    records = {record["name"]: record for record in json.loads(shown.stdout)}
    for topic in api.get("/api/topics").json()["topics"]:
        record = records[topic["name"]]
        assert {key: record[key] for key in topic} == topic
    assert records["love-letter"]["authors_24h"] == 9
    assert records["love-letter"]["languages_24h"][0] == {
        "name": "en",
        "mentions": 27,
        "share": 0.8438,
    }
    assert records["quiet-topic"]["sources_24h"] == []
    table = CliRunner().invoke(cli, ["topics"], env=env)
    assert table.exit_code == 0 and "en 84%, ko 16%" in table.stdout


def test_mentions_paging_and_filters(api: httpx.Client) -> None:
    seen: list[dict] = []
    cursor = None
    for _ in range(10):
        params = {"topic": "love-letter", "limit": 7} | ({"cursor": cursor} if cursor else {})
        page = api.get("/api/mentions", params=params).json()
        seen.extend(page["mentions"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 32 and len({m["id"] for m in seen}) == 32
    stamps = [(m["published_at"], m["id"]) for m in seen]
    assert stamps == sorted(stamps, reverse=True)

    def count(**params: object) -> int:
        return len(api.get("/api/mentions", params={"limit": 50, **params}).json()["mentions"])

    assert count(sentiment="neg") == 16
    assert count(sentiment="pos") == 16
    assert count(q="LEAK") == 19  # every burst post but the hostile one
    assert count(q="%") == 0 and count(q="_") == 0  # LIKE wildcards are literal
    assert count(since="1h") == 21  # the burst and one earlier post
    # huge limits are clamped to [api] max_page_size (50 in the fixture config)
    assert count(limit=10**9) == 32
    assert api.get("/api/mentions", params={"limit": 10**9}).status_code == 200


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/api/alerts", {"since": "yesterday"}, 400),
        ("/api/history/love-letter", {"since": "soon"}, 400),
        ("/api/history/love-letter", {"bucket": "5 minutes"}, 400),
        ("/api/history/love-letter", {"since": "1h", "until": "2h"}, 400),
        ("/api/history/love-letter", {"since": "3650d", "bucket": "1m"}, 400),
        ("/api/history/no-such-topic", {}, 404),
        ("/api/history/no-such-topic.csv", {}, 404),
        ("/api/mentions", {"topic": "' OR 1=1 --"}, 404),
        ("/api/mentions", {"cursor": "not-a-cursor"}, 400),
        ("/api/mentions", {"limit": 0}, 422),
        ("/api/mentions", {"sentiment": "angry"}, 422),
        ("/api/alerts/999999", {}, 404),
        ("/api/alerts/abc", {}, 422),
    ],
)
def test_errors_are_json_with_a_message(
    api: httpx.Client, path: str, params: dict, status: int
) -> None:
    response = api.get(path, params=params)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status and isinstance(body["error"], str) and body["error"]


def test_acknowledge_needs_the_token(api: httpx.Client, seeded: Seeded) -> None:
    path = f"/api/alerts/{seeded.alert_id}/ack"
    missing = api.post(path)
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert api.post(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert api.post(path, params={"token": TOKEN}).status_code == 401
    assert api.post(path, headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
    assert api.get(f"/api/alerts/{seeded.alert_id}").json()["status"] == "open"
    done = api.post(path, headers={"Authorization": f"Bearer {TOKEN}"})
    assert done.status_code == 200 and done.json()["status"] == "acknowledged"
    assert TOKEN not in done.text
    again = api.post(path, headers={"Authorization": f"Bearer {TOKEN}"})
    assert again.json()["acked_at"] == done.json()["acked_at"]
    assert api.get(f"/api/alerts/{seeded.alert_id}").json()["acked_at"] is not None
    unknown = api.post("/api/alerts/424242/ack", headers={"Authorization": f"Bearer {TOKEN}"})
    assert unknown.status_code == 404
    # still counted as open (unresolved) on the topic
    topics = {t["name"]: t for t in api.get("/api/topics").json()["topics"]}
    assert topics["love-letter"]["open_alerts"] == 1


def test_without_a_token_acknowledging_is_disabled(seeded: Seeded) -> None:
    app = create_app(seeded.settings, seeded.config, api_token="")
    with serve_in_thread(app) as base_url:
        response = httpx.post(
            f"{base_url}/api/alerts/{seeded.alert_id}/ack",
            headers={"Authorization": "Bearer anything"},
        )
    assert response.status_code == 403 and "MONITOR_API_TOKEN" in response.json()["error"]


def test_reads_can_require_the_token(tmp_path: Path, sqlite_url: str) -> None:
    text_ = CONFIG.replace("[api]\n", "[api]\nread_requires_token = true\n")
    seeded = seed(tmp_path, sqlite_url, now=datetime.now(UTC), config_text=text_)
    with pytest.raises(ConfigError, match="MONITOR_API_TOKEN"):
        create_app(seeded.settings, seeded.config, api_token="")
    app = create_app(seeded.settings, seeded.config, api_token=TOKEN)
    with serve_in_thread(app) as base_url, httpx.Client(base_url=base_url) as client:
        for path in ("/api/topics", "/api/mentions", "/", "/metrics"):
            assert client.get(path).status_code == 401, path
            authorized = client.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
            assert authorized.status_code == 200, path
        assert client.get("/healthz").status_code == 200


def test_database_down_is_503(tmp_path: Path) -> None:
    from monitor.config import parse_config

    port = free_port()
    for url in (
        f"postgresql+psycopg://monitor:hunter2@127.0.0.1:{port}/monitor",
        f"sqlite:///{tmp_path / 'missing' / 'monitor.db'}",
    ):
        settings = load_settings(
            {
                "MONITOR_DATABASE_URL": url,
                "MONITOR_DATA_DIR": str(tmp_path),
                "MONITOR_BROKER_URL": "memory://",
            }
        )
        app = create_app(settings, parse_config(CONFIG), api_token=TOKEN)
        with serve_in_thread(app) as base_url, httpx.Client(base_url=base_url) as client:
            for path in ("/api/topics", "/api/alerts", "/api/history/love-letter", "/"):
                response = client.get(path)
                assert response.status_code == 503, (url, path, response.text)
                assert "hunter2" not in response.text and str(port) not in response.text
                assert "database" in response.json()["error"]
            health = client.get("/healthz")
            assert health.status_code == 503 and health.json()["database"] == "unreachable"
            metrics = client.get("/metrics")
            assert metrics.status_code == 200 and "monitor_database_up 0.0" in metrics.text


def test_healthz_reports_the_broker(seeded: Seeded, redis_url: str, tmp_path: Path) -> None:
    from dataclasses import replace

    for broker, expected in ((redis_url, 200), (f"redis://127.0.0.1:{free_port()}/0", 503)):
        settings = replace(seeded.settings, broker_url=broker)
        app = create_app(settings, seeded.config, api_token=TOKEN)
        with serve_in_thread(app) as base_url:
            response = httpx.get(f"{base_url}/healthz")
        assert response.status_code == expected, response.text
        assert response.json()["database"] == "ok"
        assert response.json()["broker"] == ("ok" if expected == 200 else "unreachable")


def test_read_engine_cannot_write(seeded: Seeded) -> None:
    engine = make_read_engine(seeded.settings.database_url)
    try:
        with engine.connect() as connection, pytest.raises(Exception) as caught:
            connection.execute(text("INSERT INTO topics (name) VALUES ('written')"))
            connection.commit()
        assert "read" in str(caught.value).lower()  # readonly database / read-only transaction
    finally:
        engine.dispose()


def test_metrics_are_scrapeable(api: httpx.Client, seeded: Seeded) -> None:
    engine = make_engine(seeded.settings.database_url)
    with session_scope(make_session_factory(engine)) as session:
        for seconds, failed in ((0.5, False), (1.5, True), (0.25, False)):
            record_task_run(
                session, "monitor.poll_feed", seconds=seconds, failed=failed, now=seeded.now
            )
    engine.dispose()
    assert api.get("/api/topics").status_code == 200
    response = api.get("/metrics")
    assert response.status_code == 200
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }
    assert samples[("monitor_database_up", ())] == 1
    assert samples[("monitor_open_alerts", (("kind", "spike"), ("topic", "love-letter")))] == 1
    assert samples[("monitor_feed_posts_stored_total", (("feed", "fans"),))] == 32
    fetched = samples[("monitor_feed_posts_fetched_total", (("feed", "fans"),))]
    assert fetched == 32 + FETCHED_NOT_MATCHED
    assert samples[("monitor_feed_consecutive_failures", (("feed", "fans"),))] == 0
    assert samples[("monitor_feed_last_success_age_seconds", (("feed", "fans"),))] >= 59
    assert samples[("monitor_topic_mentions_24h", (("topic", "love-letter"),))] == 32
    assert samples[("monitor_api_request_duration_seconds_count", (("route", "/api/topics"),))] == 1
    task = (("task", "monitor.poll_feed"),)
    assert samples[("monitor_task_runs_total", task)] == 3
    assert samples[("monitor_task_failures_total", task)] == 1
    assert samples[("monitor_task_duration_seconds_total", task)] == pytest.approx(2.25)
    assert samples[("monitor_task_last_duration_seconds", task)] == pytest.approx(0.25)


def test_dashboard_escapes_posts_and_sets_csp(api: httpx.Client, seeded: Seeded) -> None:
    response = api.get("/", params={"topic": "love-letter"})
    assert response.status_code == 200
    page = response.text
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "object-src 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert "javascript:" not in page  # the hostile post's link is dropped, not linked
    assert 'rel="noopener noreferrer nofollow"' in page
    assert 'id="timeline-chart"' in page and 'class="alert-episode"' in page
    assert page.count('class="volume-bar"') >= 10
    assert f'id="alert-{seeded.alert_id}"' in page
    assert "cdn" not in page.lower() and "https://" not in page.split("<main>")[0]
    other = api.get("/", params={"topic": "quiet-topic"}).text
    assert "No alerts for quiet-topic." in other


def test_no_cors_and_offline_docs(api: httpx.Client) -> None:
    response = api.get("/api/topics", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers
    preflight = api.options(
        "/api/alerts/1/ack",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers
    docs = api.get("/docs")
    assert docs.status_code == 200 and "/static/swagger-ui/swagger-ui-bundle.js" in docs.text
    bundle = api.get("/static/swagger-ui/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and len(bundle.content) > 100_000
    schema = api.get("/openapi.json").json()
    assert {"/api/topics", "/api/alerts/{alert_id}/ack", "/api/history/{topic}.csv"} <= set(
        schema["paths"]
    )
