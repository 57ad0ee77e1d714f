"""The API's database access: a read-only engine for reads, a normal one only for writes."""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from monitor.storage.engine import make_engine


def make_read_engine(url: str) -> Engine:
    """Return an engine that cannot write: SQLite opened with mode=ro, PostgreSQL sessions
    with default_transaction_read_only (give the API a SELECT-only role for real protection)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:") or database.startswith("file:"):
            return make_engine(url)
        path = database

        def connect() -> sqlite3.Connection:
            connection = sqlite3.connect(
                f"file:{path}?mode=ro", uri=True, timeout=30, check_same_thread=False
            )
            connection.execute("PRAGMA busy_timeout=30000")
            connection.execute("PRAGMA query_only=ON")
            return connection

        engine = create_engine("sqlite://", creator=connect)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _on_begin(connection: Any) -> None:
            connection.exec_driver_sql("BEGIN")

        return engine
    return make_engine(
        url, connect_args={"options": "-c default_transaction_read_only=on", "connect_timeout": 5}
    )
