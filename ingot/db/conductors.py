"""The conductors table: who is alive, which groups and hardware types it serves."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from ingot.db.models import Conductor, conductors, utcnow


def _record(row: sa.Row[Any]) -> Conductor:
    # The row holds the record's fields in order; mypy cannot count a Row's columns.
    return Conductor(*row)  # type: ignore[call-arg]


def register(conn: sa.Connection, hostname: str, group: str, groups: Sequence[str],
             hardware_types: Sequence[str]) -> None:
    """Create or refresh this conductor's row and mark it online."""
    now = utcnow()
    values = {"conductor_group": group, "groups": list(groups),
              "hardware_types": list(hardware_types), "online": True, "updated_at": now}
    updated = conn.execute(sa.update(conductors)
                           .where(conductors.c.hostname == hostname).values(**values))
    if updated.rowcount == 0:
        conn.execute(sa.insert(conductors).values(hostname=hostname, created_at=now, **values))


def touch(conn: sa.Connection, hostname: str) -> None:
    conn.execute(sa.update(conductors).where(conductors.c.hostname == hostname)
                 .values(updated_at=utcnow(), online=True))


def unregister(conn: sa.Connection, hostname: str) -> None:
    conn.execute(sa.update(conductors).where(conductors.c.hostname == hostname)
                 .values(online=False, updated_at=utcnow()))


def list_conductors(conn: sa.Connection) -> list[Conductor]:
    query = sa.select(conductors).order_by(conductors.c.hostname)
    return [_record(row) for row in conn.execute(query)]


def get(conn: sa.Connection, hostname: str) -> Conductor | None:
    row = conn.execute(sa.select(conductors).where(conductors.c.hostname == hostname)).first()
    return _record(row) if row else None


def is_alive(conductor: Conductor, timeout: int, now: datetime.datetime | None = None) -> bool:
    now = now or utcnow()
    seen = conductor.updated_at or conductor.created_at
    return conductor.online and (now - seen).total_seconds() <= timeout


def dead_hostnames(conn: sa.Connection, timeout: int) -> list[str]:
    now = utcnow()
    return [c.hostname for c in list_conductors(conn) if not is_alive(c, timeout, now)]
