"""The long-lived objects of one process, built once from Settings and the config file."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property

import httpx
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from monitor.config import MonitorConfig, load_config
from monitor.detectors import Detector, make_detector
from monitor.matching import Matcher
from monitor.scoring import Scorer
from monitor.settings import Settings
from monitor.sources.fetch import make_client
from monitor.storage.engine import make_engine, make_session_factory, session_scope
from monitor.storage.migrate import require_current_schema
from monitor.storage.queries import sync_config


@dataclass
class Runtime:
    """Config, database, matcher, detector and HTTP client of one process."""

    settings: Settings
    config: MonitorConfig
    engine: Engine
    _client: httpx.Client | None = field(default=None, repr=False)

    @classmethod
    def start(cls, settings: Settings, *, sync: bool = True) -> Runtime:
        """Return a runtime on a migrated database with the config's topics and feeds synced."""
        config = load_config(settings.config_path)
        engine = make_engine(settings.database_url)
        require_current_schema(engine)
        runtime = cls(settings=settings, config=config, engine=engine)
        if sync:
            with session_scope(runtime.sessions) as session:
                sync_config(session, config)
        return runtime

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return make_session_factory(self.engine)

    @cached_property
    def matcher(self) -> Matcher:
        return Matcher.compile(self.config.topics)

    @cached_property
    def scorer(self) -> Scorer:
        return Scorer.from_config(self.config)

    @cached_property
    def detector(self) -> Detector:
        return make_detector(self.config.detection)

    @property
    def bucket_width(self) -> timedelta:
        return timedelta(minutes=self.config.timeline.bucket_minutes)

    @property
    def http(self) -> httpx.Client:
        if self._client is None:
            self._client = make_client(self.config.fetch)
        return self._client

    def after_fork(self) -> None:
        """Drop connections inherited from a parent process (Celery prefork children)."""
        self.engine.dispose(close=False)
        self._client = None

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        self.engine.dispose()
