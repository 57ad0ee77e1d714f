"""Notification deliveries: claim (alert, event, sink) once, then record how sending went."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from monitor.storage.tables import DeliveryRow


def claim_deliveries(
    session: Session, sink: str, keys: Sequence[tuple[int, str]], *, now: datetime
) -> dict[tuple[int, str], int]:
    """Insert a delivery row per (alert_id, event) not yet claimed for `sink`; return
    {(alert_id, event): delivery id} for exactly the rows this call inserted."""
    if not keys:
        return {}
    dialect = session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(
        DeliveryRow.__table__
    )
    table = DeliveryRow.__table__
    inserted = session.execute(
        insert.values(
            [
                {
                    "alert_id": alert_id,
                    "event": event,
                    "sink": sink,
                    "status": "sending",
                    "attempts": 0,
                    "created_at": now,
                }
                for alert_id, event in keys
            ]
        )
        .on_conflict_do_nothing(index_elements=["alert_id", "event", "sink"])
        .returning(table.c.id, table.c.alert_id, table.c.event)
    )
    return {(alert_id, event): id_ for id_, alert_id, event in inserted}


def finish_deliveries(
    session: Session,
    ids: Sequence[int],
    *,
    sent: bool,
    attempts: int,
    error: str | None,
    now: datetime,
) -> None:
    """Record the outcome of sending the deliveries `ids`."""
    session.execute(
        update(DeliveryRow)
        .where(DeliveryRow.id.in_(list(ids)))
        .values(
            status="sent" if sent else "failed",
            attempts=attempts,
            last_error=None if error is None else error[:2000],
            finished_at=now,
        )
    )


def deliveries_of(session: Session, alert_id: int) -> list[DeliveryRow]:
    """Return the delivery rows of one alert, oldest first."""
    return list(
        session.scalars(
            select(DeliveryRow).where(DeliveryRow.alert_id == alert_id).order_by(DeliveryRow.id)
        )
    )
