"""The HTTP API and dashboard (`monitor serve`): the process edge for HTTP.

Reads go through a read-only database engine; only acknowledging an alert writes. Errors are
JSON objects `{"error": "...", "status": N}`: 400 for a bad parameter value, 401 without a
valid bearer token, 403 when a write is disabled, 404 for an unknown topic or alert, 422 for
a parameter of the wrong type, 503 when the database is unreachable or not migrated.
"""

import hashlib
import hmac
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DataError, DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import HTTPException

from monitor.api.dashboard import dashboard_context, make_templates
from monitor.api.db import make_read_engine
from monitor.api.metrics import DatabaseCollector
from monitor.api.openapi30 import downgrade_schema
from monitor.api.payloads import (
    MAX_HISTORY_BUCKETS,
    alert_detail,
    history_csv,
    history_payload,
)
from monitor.config import MonitorConfig
from monitor.errors import ConfigError, SchemaNotReadyError, UnknownTopicError
from monitor.reports import alert_record, feed_records
from monitor.settings import Settings
from monitor.storage import queries, reads
from monitor.storage.engine import make_engine, make_session_factory, session_scope
from monitor.storage.tables import AlertRow
from monitor.timeline import current_bucket_end, parse_since, parse_width

STATIC = Path(__file__).with_name("static")
MAX_ID = 2**31 - 1  # ids are 32-bit integers on PostgreSQL
CSP = (
    "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
# Swagger UI's stylesheet draws its icons as data: images.
DOCS_CSP = CSP + "; img-src 'self' data:"

Text64 = Annotated[str, Query(max_length=64)]


class ApiError(HTTPException):
    """An error answered as JSON with a clear message."""


class ApiState:
    """The app's database engines (read-only for reads), token and clock."""

    def __init__(
        self,
        settings: Settings,
        config: MonitorConfig,
        *,
        api_token: str,
        clock: Callable[[], datetime],
    ) -> None:
        self.settings = settings
        self.config = config
        self.clock = clock
        # Only a digest of the token is kept in memory, compared in constant time.
        self.token_digest = hashlib.sha256(api_token.encode()).digest() if api_token else None
        self.base_width = timedelta(minutes=config.timeline.bucket_minutes)

    @cached_property
    def read_engine(self) -> Engine:
        return make_read_engine(self.settings.database_url)

    @cached_property
    def read_sessions(self) -> sessionmaker[Session]:
        return make_session_factory(self.read_engine)

    @cached_property
    def write_engine(self) -> Engine:
        return make_engine(self.settings.database_url)

    def token_matches(self, presented: str) -> bool:
        if self.token_digest is None:
            return False
        return hmac.compare_digest(hashlib.sha256(presented.encode()).digest(), self.token_digest)

    def close(self) -> None:
        for name in ("read_engine", "write_engine"):
            engine = self.__dict__.pop(name, None)
            if engine is not None:
                engine.dispose()


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status_code=status, headers=headers)


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def create_app(
    settings: Settings,
    config: MonitorConfig,
    *,
    api_token: str | None = None,
    clock: Callable[[], datetime] | None = None,
) -> FastAPI:
    """Return the API and dashboard app over the database `settings` names."""
    token = os.environ.get("MONITOR_API_TOKEN", "") if api_token is None else api_token
    if config.api.read_requires_token and not token:
        raise ConfigError(
            "[api] read_requires_token is true but MONITOR_API_TOKEN is not set: set it, or "
            "set read_requires_token = false"
        )
    state = ApiState(settings, config, api_token=token, clock=clock or (lambda: datetime.now(UTC)))
    templates = make_templates()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(lambda: state.read_sessions, state.clock))
    request_seconds = Histogram(
        "monitor_api_request_duration_seconds",
        "Time to answer API and dashboard requests",
        ["route"],
        registry=registry,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        state.close()

    app = FastAPI(
        lifespan=lifespan,
        title="Fan-reaction monitor API",
        version="0.1.0",
        description="Topics, spike alerts, sentiment history, mentions and feed health. "
        "Acknowledging needs `Authorization: Bearer $MONITOR_API_TOKEN`.",
        docs_url=None,
        redoc_url=None,
    )
    app.state.monitor = state
    app.mount("/static/swagger-ui", StaticFiles(directory=_swagger_ui_dir()), name="swagger-ui")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        started = time.perf_counter()
        response: Response = await call_next(request)
        route = request.scope.get("route")
        request_seconds.labels(getattr(route, "path", "unmatched")).observe(
            time.perf_counter() - started
        )
        docs = request.url.path.startswith(("/docs", "/static/swagger-ui"))
        response.headers["Content-Security-Policy"] = DOCS_CSP if docs else CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        return response

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for problem in exc.errors():
            where = ".".join(str(part) for part in problem.get("loc", ()) if part != "query")
            problems.append(f"{where}: {problem.get('msg', 'invalid')}")
        return _error(422, "invalid request: " + "; ".join(problems))

    @app.exception_handler(UnknownTopicError)
    async def unknown_topic(_: Request, exc: UnknownTopicError) -> JSONResponse:
        return _error(404, str(exc))

    @app.exception_handler(DataError)
    async def bad_value(_: Request, exc: DataError) -> JSONResponse:
        # The database refused a value (e.g. a NUL character on PostgreSQL): the request's fault.
        return _error(400, "a parameter holds a value the database cannot store or compare")

    @app.exception_handler(SQLAlchemyError)
    async def database_down(_: Request, exc: SQLAlchemyError) -> JSONResponse:
        # The driver's message may hold the URL; say only what the operator must check.
        return _error(503, "database unavailable or not migrated (run `monitor db upgrade`)")

    def require_read(request: Request) -> None:
        if config.api.read_requires_token:
            require_token(request)

    def require_token(request: Request) -> None:
        if state.token_digest is None:
            raise ApiError(403, "acknowledging is disabled: set MONITOR_API_TOKEN on the server")
        presented = _bearer(request)
        if presented is None or not state.token_matches(presented):
            raise ApiError(
                401,
                "missing or wrong bearer token (send Authorization: Bearer <MONITOR_API_TOKEN>)",
                headers={"WWW-Authenticate": "Bearer"},
            )

    def read_session() -> Iterator[Session]:
        with state.read_sessions() as session:
            yield session

    def since_value(text_value: str | None, name: str = "since") -> datetime | None:
        if text_value is None or text_value == "":
            return None
        try:
            return parse_since(text_value, now=state.clock())
        except (ValueError, OverflowError) as exc:
            raise ApiError(400, f"{name}: {exc}") from None

    def known_topic(session: Session, name: str) -> int:
        topic_id = reads.topic_id_or_none(session, name)
        if topic_id is None:
            raise ApiError(404, f"unknown topic {name!r}")
        return topic_id

    Reader = Annotated[Session, Depends(read_session)]
    reader_deps = [Depends(require_read)]

    @app.get("/api/topics", dependencies=reader_deps, tags=["topics"])
    def list_topics(session: Reader) -> dict[str, Any]:
        """Topics with their last-24-hours volume, mean sentiment and open alert count."""
        now = state.clock()
        return {"generated_at": reads.iso(now), "topics": reads.topic_overview(session, now=now)}

    @app.get("/api/alerts", dependencies=reader_deps, tags=["alerts"])
    def list_alerts(
        session: Reader,
        topic: Text64 | None = None,
        status: Literal["open", "acknowledged", "resolved"] | None = None,
        since: Text64 | None = None,
        limit: Annotated[int, Query(ge=1)] = 100,
    ) -> dict[str, Any]:
        """Alerts, newest first; `since` is a duration (7d, 12h, 30m) or an ISO time."""
        moment = since_value(since)
        topic_id = known_topic(session, topic) if topic else None
        query = queries.alerts_query(topic_id=topic_id, since=moment, status=status)
        rows = session.execute(query.limit(min(limit, config.api.max_page_size)))
        return {"alerts": [alert_record(*row) for row in rows]}

    @app.get("/api/alerts/{alert_id}", dependencies=reader_deps, tags=["alerts"])
    def get_alert(
        session: Reader, alert_id: Annotated[int, PathParam(ge=1, le=MAX_ID)]
    ) -> dict[str, Any]:
        """One alert with its explanation: observed vs expected, sample posts, top terms and
        sentiment during vs the 24 hours before."""
        found = reads.alert_with_topic(session, alert_id)
        if found is None:
            raise ApiError(404, f"no alert {alert_id}")
        return alert_detail(session, *found, width=state.base_width)

    @app.post(
        "/api/alerts/{alert_id}/ack",
        tags=["alerts"],
        responses={401: {"description": "no or wrong bearer token"}, 403: {"description": ""}},
    )
    def acknowledge_alert(
        request: Request, alert_id: Annotated[int, PathParam(ge=1, le=MAX_ID)]
    ) -> dict[str, Any]:
        """Acknowledge an alert (needs the bearer token); acknowledging twice changes nothing."""
        require_token(request)
        with session_scope(make_session_factory(state.write_engine)) as session:
            alert = session.get(AlertRow, alert_id)
            if alert is None:
                raise ApiError(404, f"no alert {alert_id}")
            if alert.acked_at is None:
                alert.acked_at = state.clock()
                if alert.status == "open":
                    alert.status = "acknowledged"
            found = reads.alert_with_topic(session, alert_id)
            assert found is not None
            return alert_record(*found)

    def history_data(
        session: Session,
        topic: str,
        since: str | None,
        until: str | None,
        bucket: str,
        group_by: str | None,
    ) -> dict[str, Any]:
        topic_id = known_topic(session, topic)
        now = state.clock()
        try:
            width = parse_width(bucket)
        except ValueError as exc:
            raise ApiError(400, f"bucket: {exc}") from None
        start = since_value(since or "7d")
        end = since_value(until, "until") or current_bucket_end(now, width)
        assert start is not None
        if width < timedelta(minutes=1):
            raise ApiError(400, "bucket: at least 1m")
        if end <= start:
            raise ApiError(400, "until: must be after since")
        if (end - start) / width > MAX_HISTORY_BUCKETS:
            raise ApiError(
                400, f"bucket: at most {MAX_HISTORY_BUCKETS} buckets; use a wider bucket"
            )
        buckets = reads.history_buckets(
            session, topic_id, start=start, end=end, width=width, group_by=group_by
        )
        return history_payload(
            buckets, topic=topic, start=start, end=end, width=width, group_by=group_by
        )

    GroupBy = Literal["source", "lang"] | None
    Bucket = Annotated[str, Query(max_length=16, description="5m, 1h, 1d, ...")]

    @app.get(
        "/api/history/{topic}.csv",
        dependencies=reader_deps,
        tags=["history"],
        response_class=PlainTextResponse,
    )
    def topic_history_csv(
        session: Reader,
        topic: Annotated[str, PathParam(max_length=64)],
        since: Text64 | None = None,
        until: Text64 | None = None,
        bucket: Bucket = "1h",
        group_by: GroupBy = None,
    ) -> Response:
        """The history as CSV (one row per bucket, or per bucket and group)."""
        data = history_data(session, topic, since, until, bucket, group_by)
        return Response(
            history_csv(data),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{topic}-history.csv"'},
        )

    @app.get("/api/history/{topic}", dependencies=reader_deps, tags=["history"])
    def topic_history(
        session: Reader,
        topic: Annotated[str, PathParam(max_length=64)],
        since: Text64 | None = None,
        until: Text64 | None = None,
        bucket: Bucket = "1h",
        group_by: GroupBy = None,
    ) -> dict[str, Any]:
        """Per bucket: count, unique authors, scored count, mean compound with a 95 %
        confidence interval, positive/neutral/negative shares and net sentiment."""
        return history_data(session, topic, since, until, bucket, group_by)

    @app.get("/api/audience/{topic}", dependencies=reader_deps, tags=["history"])
    def topic_audience(
        session: Reader,
        topic: Annotated[str, PathParam(max_length=64)],
        since: Text64 | None = None,
        until: Text64 | None = None,
    ) -> dict[str, Any]:
        """Who talked about the topic in the window (default: the last 24 hours): mentions,
        distinct authors, and the largest sources and languages with their counts."""
        topic_id = known_topic(session, topic)
        now = state.clock()
        start = since_value(since or "24h")
        end = since_value(until, "until") or now
        assert start is not None
        if end <= start:
            raise ApiError(400, "until: must be after since")
        who = reads.audience(session, topic_id, start=start, end=end)
        return {"topic": topic, "since": reads.iso(start), "until": reads.iso(end), **who}

    @app.get("/api/mentions", dependencies=reader_deps, tags=["mentions"])
    def list_mentions(
        session: Reader,
        topic: Text64 | None = None,
        q: Annotated[str | None, Query(max_length=200)] = None,
        sentiment: Literal["pos", "neu", "neg"] | None = None,
        since: Text64 | None = None,
        limit: Annotated[int, Query(ge=1)] = 50,
        cursor: Annotated[str | None, Query(max_length=200)] = None,
    ) -> dict[str, Any]:
        """Mentions, newest first, a page at a time: pass `next_cursor` back as `cursor`."""
        topic_id = known_topic(session, topic) if topic else None
        after = None
        if cursor:
            try:
                after = reads.decode_cursor(cursor)
            except ValueError as exc:
                raise ApiError(400, str(exc)) from None
        page, next_cursor = reads.mention_page(
            session,
            topic_id=topic_id,
            q=q,
            label=reads.LABELS[sentiment] if sentiment else None,
            since=since_value(since),
            limit=min(limit, config.api.max_page_size),
            after=after,
        )
        return {"mentions": page, "next_cursor": next_cursor}

    @app.get("/api/feeds", dependencies=reader_deps, tags=["feeds"])
    def list_feeds(session: Reader) -> dict[str, Any]:
        """Each feed's health: last success, last error, failures, next poll, recent posts."""
        now = state.clock()
        feeds = feed_records(session, now=now)
        for feed in feeds:
            last = feed["last_success_at"]
            feed["last_success_age_seconds"] = (
                None
                if last is None
                else round((now - datetime.fromisoformat(last)).total_seconds(), 1)
            )
        return {"feeds": feeds}

    @app.get("/healthz", tags=["health"])
    def health() -> JSONResponse:
        """200 when the database (migrated) and the broker answer, else 503 naming which."""
        checks = {"database": _check_database(state), "broker": _check_broker(state.settings)}
        ok = all(value == "ok" for value in checks.values())
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", **checks}, status_code=200 if ok else 503
        )

    @app.get("/metrics", dependencies=reader_deps, tags=["health"])
    def metrics() -> Response:
        """Prometheus metrics (text exposition format)."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        page = templates.get_template("docs.html").render(openapi_url="/docs/openapi-3.0.json")
        return HTMLResponse(page)

    @app.get("/docs/openapi-3.0.json", include_in_schema=False)
    def docs_schema() -> JSONResponse:
        # The packaged Swagger UI 4 reads OpenAPI 3.0; /openapi.json stays the 3.1 original.
        return JSONResponse(downgrade_schema(app.openapi()))

    @app.get("/", dependencies=reader_deps, include_in_schema=False)
    def dashboard(
        session: Reader,
        topic: Text64 | None = None,
        since: Text64 | None = None,
        bucket: Annotated[str | None, Query(max_length=16)] = None,
    ) -> HTMLResponse:
        now = state.clock()
        start = since_value(since or "24h")
        assert start is not None
        try:
            width = parse_width(bucket) if bucket else state.base_width
        except ValueError as exc:
            raise ApiError(400, f"bucket: {exc}") from None
        if width < state.base_width or width % state.base_width:
            width = state.base_width
        if (now - start) / width > 2000:
            raise ApiError(400, "bucket: too many buckets for this window; use a wider bucket")
        context = dashboard_context(
            session, topic=topic, now=now, since=start, width=width, base_width=state.base_width
        )
        return HTMLResponse(templates.get_template("dashboard.html").render(**context))

    return app


def _swagger_ui_dir() -> Path:
    from swagger_ui_bundle import swagger_ui_path

    return Path(str(swagger_ui_path))


def _check_database(state: ApiState) -> str:
    from monitor.storage.migrate import require_current_schema

    try:
        with state.read_engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        require_current_schema(state.read_engine)
    except SchemaNotReadyError:
        return "not migrated"
    except (DBAPIError, SQLAlchemyError, OSError):
        return "unreachable"
    return "ok"


def _check_broker(settings: Settings) -> str:
    if settings.embedded_broker:
        return "ok" if settings.broker_folder.is_dir() else "no broker folder (start a worker)"
    if settings.broker_url.startswith("memory://"):
        return "ok"
    import redis

    client = redis.Redis.from_url(settings.broker_url, socket_timeout=2, socket_connect_timeout=2)
    try:
        return "ok" if client.ping() else "unreachable"
    except (redis.RedisError, OSError):
        return "unreachable"
    finally:
        client.close()
