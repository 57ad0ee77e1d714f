"""What several benchmarks share: a monitor runtime on a freshly migrated database."""

from __future__ import annotations

from pathlib import Path

from monitor.runtime import Runtime
from monitor.settings import load_settings
from monitor.storage.engine import make_engine
from monitor.storage.migrate import upgrade


def migrated_runtime(config_text: str, database_url: str, folder: Path) -> Runtime:
    """Write `config_text` to `folder`, migrate the database and start a runtime on both
    (the caller closes it)."""
    (folder / "monitor.toml").write_text(config_text)
    engine = make_engine(database_url)
    upgrade(engine)
    engine.dispose()
    settings = load_settings(
        {
            "MONITOR_CONFIG": str(folder / "monitor.toml"),
            "MONITOR_DATA_DIR": str(folder),
            "MONITOR_DATABASE_URL": database_url,
        }
    )
    return Runtime.start(settings)
