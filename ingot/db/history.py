"""Node history (API 1.78): what conductors record about a node, errors among them."""

from __future__ import annotations

import uuid as uuidlib
from typing import Any

import sqlalchemy as sa

from ingot.db.keyset import after
from ingot.db.models import HistoryEvent, Node, node_history, utcnow

SORTABLE = frozenset({"created_at", "id", "uuid", "severity", "event_type", "conductor"})
INFO = "INFO"
ERROR = "ERROR"


class StaleMarker(LookupError):
    """The pagination marker names an event that does not exist."""


def record(conn: sa.Connection, node: Node, event: str, *, event_type: str | None = None,
           error: bool = False, conductor: str | None = None, user: str | None = None,
           project: str | None = None, max_entries: int = 0) -> str:
    """Add an event about node (as it is now: its state is recorded); returns its UUID.

    Errors are recorded with severity ERROR; the caller also sets the node's
    last_error, as Ironic does, in the same transaction. With max_entries (the
    conductor's node_history_max_entries) the node keeps only that many newest events;
    0 keeps them all.
    """
    now = utcnow()
    duration = None
    if node.provision_updated_at is not None:
        duration = max(0, int((now - node.provision_updated_at).total_seconds()))
    event_uuid = str(uuidlib.uuid4())
    conn.execute(sa.insert(node_history).values(
        uuid=event_uuid, node_id=node.id, conductor=conductor,
        event_type=event_type or "UNKNOWN", severity=ERROR if error else INFO, event=event,
        user=user, project=project, state=node.provision_state,
        target_provision_state=node.target_provision_state, duration_seconds=duration,
        created_at=now))
    if max_entries > 0:
        _prune(conn, node.id, max_entries)
    return event_uuid


def _prune(conn: sa.Connection, node_id: int, keep: int) -> None:
    # Pruned as events are recorded, through the node_id index, rather than by Ironic's
    # daily sweep of every node: events are few, and a node is back under the cap after
    # each conductor record. Ids grow with insertion: they order events where
    # created_at ties.
    newest = (sa.select(node_history.c.id).where(node_history.c.node_id == node_id)
              .order_by(node_history.c.id.desc()).limit(keep))
    conn.execute(sa.delete(node_history).where(node_history.c.node_id == node_id,
                                               node_history.c.id.not_in(newest)))


def _record(row: sa.Row[Any]) -> HistoryEvent:
    return HistoryEvent(*row)  # type: ignore[call-arg]


def get(conn: sa.Connection, node_id: int, event_uuid: str) -> HistoryEvent | None:
    row = conn.execute(sa.select(node_history).where(
        node_history.c.node_id == node_id,
        node_history.c.uuid == event_uuid.lower())).first()
    return _record(row) if row else None


def list_events(conn: sa.Connection, node_id: int, *, sort_key: str = "created_at",
                sort_dir: str = "asc", limit: int | None = None,
                marker: str | None = None) -> list[HistoryEvent]:
    column = node_history.c[sort_key]
    clauses: list[sa.ColumnElement[bool]] = [node_history.c.node_id == node_id]
    if marker is not None:
        anchor = conn.execute(sa.select(column, node_history.c.id)
                              .where(node_history.c.uuid == marker.lower())).first()
        if anchor is None:
            raise StaleMarker(marker)
        clauses.append(after(column, anchor[0], node_history.c.id, anchor[1],
                             sort_dir == "asc"))
    query = sa.select(node_history).where(*clauses)
    if sort_dir == "asc":
        query = query.order_by(column.is_not(None), column, node_history.c.id)
    else:
        query = query.order_by(column.is_not(None).desc(), column.desc(),
                               node_history.c.id.desc())
    if limit is not None:
        query = query.limit(limit)
    return [_record(row) for row in conn.execute(query)]
