"""Task statistics: one row per Celery task name, added to after every run by any worker."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from monitor.storage.tables import TaskStatsRow


def record_task_run(
    session: Session, task: str, *, seconds: float, failed: bool, now: datetime
) -> None:
    """Add one run of `task` that took `seconds` (and failed, if `failed`) to its totals."""
    table = TaskStatsRow.__table__
    dialect = session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    statement = insert.values(
        task=task[:64],
        runs=1,
        failures=int(failed),
        total_seconds=seconds,
        last_seconds=seconds,
        last_finished_at=now,
    )
    excluded = statement.excluded
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["task"],
            set_={
                "runs": table.c.runs + 1,
                "failures": table.c.failures + excluded.failures,
                "total_seconds": table.c.total_seconds + excluded.total_seconds,
                "last_seconds": excluded.last_seconds,
                "last_finished_at": excluded.last_finished_at,
            },
        )
    )


def task_stats(session: Session) -> list[TaskStatsRow]:
    """Return every task's totals, by name."""
    return list(session.scalars(select(TaskStatsRow).order_by(TaskStatsRow.task)))
