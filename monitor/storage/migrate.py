"""Alembic migrations run from the installed package (`monitor db upgrade`)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from monitor.errors import SchemaNotReadyError
from monitor.storage.engine import sqlite_file

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(engine: Engine) -> Config:
    """Return an Alembic config that runs this package's migrations on `engine`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database behind `engine` to `revision`."""
    command.upgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    """Return the database's migration revision, or None if it was never migrated."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    """Return the newest revision this package ships."""
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def require_current_schema(engine: Engine) -> None:
    """Raise SchemaNotReadyError unless the database is at the newest revision."""
    path = sqlite_file(engine.url)
    if path is not None and not path.exists():
        # Checking by connecting would leave an empty database file behind.
        raise SchemaNotReadyError(
            f"database {engine.url.render_as_string(hide_password=True)} does not exist: "
            "run `monitor db upgrade`"
        )
    current, head = current_revision(engine), head_revision(engine)
    if current != head:
        raise SchemaNotReadyError(
            f"database {engine.url.render_as_string(hide_password=True)} is at revision "
            f"{current or 'none'}, expected {head}: run `monitor db upgrade`"
        )
