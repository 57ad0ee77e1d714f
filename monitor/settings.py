"""Process settings from the environment: service URLs, file locations, secrets.

One table lists every variable, its default and what it is for; the TOML config holds
everything else. Build `Settings` once at start-up and pass it down.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from monitor.errors import ConfigError

# name, default, description; the README's environment table is this table.
ENVIRONMENT: tuple[tuple[str, str, str], ...] = (
    ("MONITOR_CONFIG", "config/monitor.toml", "path of the TOML configuration file"),
    ("MONITOR_DATA_DIR", "var", "directory for the embedded SQLite database and broker"),
    ("MONITOR_DATABASE_URL", "", "SQLAlchemy URL; empty: sqlite file in MONITOR_DATA_DIR"),
    ("MONITOR_BROKER_URL", "", "Celery broker URL (redis://...); empty: embedded broker"),
    ("MONITOR_LOG_LEVEL", "INFO", "log level of workers and CLI"),
    ("MONITOR_API_TOKEN", "", "bearer token of the HTTP API; empty: acknowledging is disabled"),
)


@dataclass(frozen=True, slots=True)
class Settings:
    """Where the config, the database and the broker are."""

    config_path: Path
    data_dir: Path
    database_url: str
    broker_url: str
    log_level: str

    @property
    def embedded_broker(self) -> bool:
        return self.broker_url.startswith("filesystem://")

    @property
    def broker_folder(self) -> Path:
        return self.data_dir / "broker"


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Return settings from `environ` (default: os.environ) with the table's defaults."""
    env = os.environ if environ is None else environ
    value = {name: env.get(name, "") or default for name, default, _ in ENVIRONMENT}
    data_dir = Path(value["MONITOR_DATA_DIR"])
    database_url = value["MONITOR_DATABASE_URL"] or f"sqlite:///{data_dir / 'monitor.db'}"
    broker_url = value["MONITOR_BROKER_URL"] or "filesystem://"
    if not broker_url.startswith(("redis://", "rediss://", "filesystem://", "memory://")):
        raise ConfigError(
            f"MONITOR_BROKER_URL: unsupported scheme in {broker_url.split('://')[0]!r}; "
            "use redis://host:6379/0 (or leave it empty for the embedded broker)"
        )
    level = value["MONITOR_LOG_LEVEL"].upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError("MONITOR_LOG_LEVEL: must be DEBUG, INFO, WARNING or ERROR")
    return Settings(
        config_path=Path(value["MONITOR_CONFIG"]),
        data_dir=data_dir,
        database_url=database_url,
        broker_url=broker_url,
        log_level=level,
    )
