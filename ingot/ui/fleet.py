"""What the dashboard reads from the database itself: the fleet's counts, and the nodes
changed since a moment. Node pages and tables read the Bare Metal API instead.

Both are index walks: counts group the (provision_state, id) and (power_state, id)
indexes, changes walk (updated_at, id) from the cursor, whatever the fleet's size.
"""

from __future__ import annotations

import datetime
from typing import Any

import sqlalchemy as sa

from ingot.common.redaction import redact, redact_text
from ingot.db.engine import Database
from ingot.db.models import nodes
from ingot.ui.events import Change

# What a table row or a node page updates from an event.
_CHANGED = (nodes.c.uuid, nodes.c.name, nodes.c.revision, nodes.c.provision_state,
            nodes.c.target_provision_state, nodes.c.power_state, nodes.c.maintenance,
            nodes.c.last_error, nodes.c.agent_progress, nodes.c.updated_at,
            nodes.c.provision_updated_at)


def summary(db: Database) -> dict[str, Any]:
    """Node counts by provision state and by power state, and in maintenance."""
    with db.read() as conn:
        provision = conn.execute(sa.select(nodes.c.provision_state, sa.func.count())
                                 .group_by(nodes.c.provision_state)).all()
        power = conn.execute(sa.select(nodes.c.power_state, sa.func.count())
                             .group_by(nodes.c.power_state)).all()
        maintenance = conn.execute(sa.select(sa.func.count())
                                   .where(nodes.c.maintenance.is_(True))).scalar_one()
    return {"total": sum(count for _state, count in provision),
            "provision_state": {str(state): count for state, count in provision},
            "power_state": {str(state or "none"): count for state, count in power},
            "maintenance": maintenance}


def latest_change(db: Database) -> datetime.datetime | None:
    with db.read() as conn:
        value: datetime.datetime | None = conn.execute(
            sa.select(sa.func.max(nodes.c.updated_at))).scalar_one()
    return value


def changes_since(db: Database, since: datetime.datetime, limit: int) -> list[Change]:
    """Nodes updated at or after since, oldest first (at most limit)."""
    with db.read() as conn:
        rows = conn.execute(sa.select(*_CHANGED).where(nodes.c.updated_at >= since)
                            .order_by(nodes.c.updated_at, nodes.c.id).limit(limit)).all()
    return [Change(row.uuid, row.revision, row.updated_at, _event(row)) for row in rows]


def _event(row: Any) -> dict[str, Any]:
    return {"uuid": row.uuid, "name": row.name, "provision_state": row.provision_state,
            "target_provision_state": row.target_provision_state,
            "power_state": row.power_state, "maintenance": row.maintenance,
            "last_error": None if row.last_error is None else redact_text(row.last_error),
            "agent_progress": None if row.agent_progress is None
            else redact(row.agent_progress),
            "updated_at": _iso(row.updated_at),
            "provision_updated_at": _iso(row.provision_updated_at)}


def _iso(value: datetime.datetime | None) -> str | None:
    return None if value is None else value.isoformat() + "+00:00"
