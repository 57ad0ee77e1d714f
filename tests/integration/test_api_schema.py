"""Schemathesis generates requests from the app's own OpenAPI schema and sends them to a real
server over seeded SQLite and PostgreSQL: no request may produce a server error (5xx)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

from monitor.api import create_app
from tests.conftest import POSTGRES_ADMIN_URL
from tests.integration.api_seed import seed, serve_in_thread

pytestmark = pytest.mark.integration

TOKEN = "schema-token"
EXAMPLES_PER_OPERATION = 25


@pytest.fixture(params=["sqlite", "postgresql"])
def seeded_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    database = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'monitor.db'}"
    else:
        database = f"monitor_schema_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{database}"')
        base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace(
            "postgresql://", "postgresql+psycopg://"
        )
        url = f"{base}/{database}"
    seeded = seed(tmp_path, url, now=datetime.now(UTC))
    app = create_app(seeded.settings, seeded.config, api_token=TOKEN)
    try:
        with serve_in_thread(app) as base_url:
            yield base_url
    finally:
        if database:
            with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def test_no_generated_request_gets_a_server_error(seeded_server: str) -> None:
    schema = schemathesis.openapi.from_url(f"{seeded_server}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 9, [op.label for op in operations]
    failures: list[str] = []
    for operation in operations:

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def check(case: schemathesis.Case) -> None:
            response = case.call(
                base_url=seeded_server, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
            )
            if response.status_code >= 500:
                failures.append(f"{response.status_code} {case.as_curl_command()}: {response.text}")
            content_type = response.headers["content-type"]
            content_type = content_type[0] if isinstance(content_type, list) else content_type
            assert content_type.split(";")[0] in (
                "application/json",
                "text/csv",
                "text/plain",
            )

        check()
    assert not failures, "\n".join(failures[:10])
