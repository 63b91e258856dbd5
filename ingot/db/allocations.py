"""Queries on allocations, and the node/allocation link.

The link has two sides, ``allocations.node_id`` and ``nodes.allocation_uuid``, both
unique; they are set in one transaction by conditional UPDATEs (the node's only if it
is still free and unchanged since it was read), and cleared together.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from ingot.db.keyset import after
from ingot.db.models import Allocation, Node, allocations, nodes, utcnow
from ingot.db.prepared import Prepared

ALLOCATING, ACTIVE, ERROR = "allocating", "active", "error"
SORTABLE = frozenset(
    column.name for column in allocations.columns if not isinstance(column.type, sa.JSON)
) - {"node_id"}


class StaleMarker(LookupError):
    """The pagination marker names an allocation that does not exist."""


class Finished(RuntimeError):
    """The allocation stopped allocating (another process finished or deleted it)
    while a node was being linked: the caller's transaction must roll back."""


@dataclasses.dataclass(slots=True)
class AllocationFilters:
    node_id: int | None = None
    resource_class: str | None = None
    state: str | None = None
    owner: str | None = None


_SELECT = sa.select(allocations, nodes.c.uuid.label("node_uuid")).outerjoin(
    nodes, nodes.c.id == allocations.c.node_id)


def _record(row: sa.Row[Any]) -> Allocation:
    # The row holds the record's fields in order; mypy cannot count a Row's columns.
    return Allocation(*row)  # type: ignore[call-arg]


def _one(conn: sa.Connection, clause: sa.ColumnElement[bool]) -> Allocation | None:
    row = conn.execute(_SELECT.where(clause)).first()
    return _record(row) if row else None


def get_by_uuid(conn: sa.Connection, uuid: str) -> Allocation | None:
    return _one(conn, allocations.c.uuid == uuid.lower())


def get_by_name(conn: sa.Connection, name: str) -> Allocation | None:
    return _one(conn, allocations.c.name == name)


def get_by_node(conn: sa.Connection, node_id: int) -> Allocation | None:
    return _one(conn, allocations.c.node_id == node_id)


def list_allocations(conn: sa.Connection, filters: AllocationFilters, *,
                     sort_key: str = "id", sort_dir: str = "asc", limit: int | None = None,
                     marker: str | None = None) -> list[Allocation]:
    column = allocations.c[sort_key]
    clauses: list[sa.ColumnElement[bool]] = [
        allocations.c[name] == value for name, value in dataclasses.asdict(filters).items()
        if value is not None]
    if marker is not None:
        anchor = conn.execute(sa.select(column, allocations.c.id)
                              .where(allocations.c.uuid == marker.lower())).first()
        if anchor is None:
            raise StaleMarker(marker)
        clauses.append(after(column, anchor[0], allocations.c.id, anchor[1],
                             sort_dir == "asc"))
    query = _SELECT.where(*clauses)
    if sort_dir == "asc":
        query = query.order_by(column.is_not(None), column, allocations.c.id)
    else:
        query = query.order_by(column.is_not(None).desc(), column.desc(),
                               allocations.c.id.desc())
    if limit is not None:
        query = query.limit(limit)
    return [_record(row) for row in conn.execute(query)]


def insert(conn: sa.Connection, values: Mapping[str, Any]) -> int:
    statement = sa.insert(allocations).values(**values).returning(allocations.c.id)
    return int(conn.execute(statement).scalar_one())


def update(conn: sa.Connection, allocation_id: int, values: Mapping[str, Any],
           **expected: Any) -> bool:
    """Apply values if the row still has every expected column value."""
    clauses = [allocations.c.id == allocation_id]
    clauses += [allocations.c[name] == value for name, value in expected.items()]
    result = conn.execute(sa.update(allocations).where(*clauses)
                          .values(updated_at=utcnow(), **values))
    return result.rowcount == 1


def hold(conn: sa.Connection, allocation_id: int) -> bool:
    """Lock the allocation's row for this transaction if it is still allocating, so
    that a second conductor processing it waits here and then skips it (on PostgreSQL;
    SQLite's write transactions already run one at a time)."""
    return update(conn, allocation_id, {}, state=ALLOCATING)


# Prepared once: a conductor asks after every claim pass, mostly to find nothing.
_PENDING = Prepared(_SELECT.where(allocations.c.state == sa.bindparam("state"))
                    .order_by(allocations.c.id)
                    .limit(sa.bindparam("limit", type_=sa.Integer))
                    # Named: SQLite's LIMIT otherwise renders an anonymous OFFSET bind.
                    .offset(sa.bindparam("offset", type_=sa.Integer)))


def pending(conn: sa.Connection, limit: int) -> list[Allocation]:
    return [Allocation(*row) for row in _PENDING.rows(conn, {"state": ALLOCATING,
                                                            "limit": limit, "offset": 0})]


def candidates(conn: sa.Connection, allocation: Allocation) -> list[Node]:
    """Nodes the allocation may take, before the traits and conductor checks: available,
    powered (a known power state), unassociated, out of maintenance, of the resource
    class, among the candidate nodes and the owner's (owner or lessee) if given."""
    c = nodes.c
    clauses = [c.provision_state == "available", c.power_state.is_not(None),
               c.instance_uuid.is_(None), c.allocation_uuid.is_(None),
               c.maintenance.is_(False), c.resource_class == allocation.resource_class]
    if allocation.candidate_nodes:
        clauses.append(c.uuid.in_(allocation.candidate_nodes))
    if allocation.owner:
        clauses.append(sa.or_(c.owner == allocation.owner, c.lessee == allocation.owner))
    query = sa.select(nodes).where(*clauses).order_by(c.id)
    return [Node(*row) for row in conn.execute(query)]


def link(conn: sa.Connection, allocation: Allocation, node: Node, *,
         node_state: str) -> bool:
    """Give node to allocation if the node did not change since it was read: still in
    node_state with the same revision, free and unreserved. False (nothing written) if
    another writer came first; Finished if the allocation is no longer allocating."""
    claimed = conn.execute(
        sa.update(nodes)
        .where(nodes.c.id == node.id, nodes.c.revision == node.revision,
               nodes.c.provision_state == node_state, nodes.c.reservation.is_(None),
               nodes.c.allocation_uuid.is_(None),
               sa.or_(nodes.c.instance_uuid.is_(None),
                      nodes.c.instance_uuid == allocation.uuid))
        .values(allocation_uuid=allocation.uuid, instance_uuid=allocation.uuid,
                updated_at=utcnow(), revision=nodes.c.revision + 1))
    if claimed.rowcount != 1:
        return False
    if not update(conn, allocation.id, {"node_id": node.id, "state": ACTIVE,
                                        "last_error": None}, state=ALLOCATING):
        raise Finished(allocation.uuid)
    return True


def unlink_node(conn: sa.Connection, node_id: int, allocation_uuid: str) -> None:
    """The node forgets the allocation, and the instance it stood for."""
    conn.execute(sa.update(nodes)
                 .where(nodes.c.id == node_id, nodes.c.allocation_uuid == allocation_uuid)
                 .values(allocation_uuid=None, instance_uuid=None, updated_at=utcnow(),
                         revision=nodes.c.revision + 1))


def delete(conn: sa.Connection, allocation: Allocation) -> bool:
    if allocation.node_id is not None:
        unlink_node(conn, allocation.node_id, allocation.uuid)
    return conn.execute(sa.delete(allocations)
                        .where(allocations.c.id == allocation.id)).rowcount == 1
