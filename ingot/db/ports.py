"""Queries on ports."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from ingot.db.keyset import after
from ingot.db.models import Port, nodes, ports, utcnow

SORTABLE = frozenset(
    column.name for column in ports.columns if not isinstance(column.type, sa.JSON)
) - {"node_id"}


class StaleMarker(LookupError):
    """The pagination marker names a port that does not exist."""


@dataclasses.dataclass(slots=True)
class PortFilters:
    node_id: int | None = None
    address: str | None = None
    portgroup_uuid: str | None = None
    conductor_groups: list[str] | None = None


_SELECT = sa.select(ports, nodes.c.uuid.label("node_uuid")).join(
    nodes, nodes.c.id == ports.c.node_id)


def _record(row: sa.Row[Any]) -> Port:
    # The row holds the record's fields in order; mypy cannot count a Row's columns.
    return Port(*row)  # type: ignore[call-arg]


def get_by_uuid(conn: sa.Connection, uuid: str) -> Port | None:
    row = conn.execute(_SELECT.where(ports.c.uuid == uuid.lower())).first()
    return _record(row) if row else None


def get_by_address(conn: sa.Connection, address: str) -> Port | None:
    row = conn.execute(_SELECT.where(ports.c.address == address)).first()
    return _record(row) if row else None


def get_by_name(conn: sa.Connection, name: str) -> Port | None:
    row = conn.execute(_SELECT.where(ports.c.name == name)).first()
    return _record(row) if row else None


def list_ports(conn: sa.Connection, filters: PortFilters, *, sort_key: str = "id",
               sort_dir: str = "asc", limit: int | None = None,
               marker: str | None = None) -> list[Port]:
    column = ports.c[sort_key]
    clauses: list[sa.ColumnElement[bool]] = []
    if filters.node_id is not None:
        clauses.append(ports.c.node_id == filters.node_id)
    if filters.address is not None:
        clauses.append(ports.c.address == filters.address)
    if filters.portgroup_uuid is not None:
        clauses.append(ports.c.portgroup_uuid == filters.portgroup_uuid)
    if filters.conductor_groups is not None:
        clauses.append(nodes.c.conductor_group.in_(filters.conductor_groups))
    if marker is not None:
        anchor = conn.execute(sa.select(column, ports.c.id)
                              .where(ports.c.uuid == marker.lower())).first()
        if anchor is None:
            raise StaleMarker(marker)
        clauses.append(after(column, anchor[0], ports.c.id, anchor[1], sort_dir == "asc"))
    query = _SELECT.where(*clauses)
    if sort_dir == "asc":
        query = query.order_by(column.is_not(None), column, ports.c.id)
    else:
        query = query.order_by(column.is_not(None).desc(), column.desc(), ports.c.id.desc())
    if limit is not None:
        query = query.limit(limit)
    return [_record(row) for row in conn.execute(query)]


def pxe_macs(conn: sa.Connection, node_id: int) -> list[str]:
    query = (sa.select(ports.c.address)
             .where(ports.c.node_id == node_id, ports.c.pxe_enabled.is_(True))
             .order_by(ports.c.id))
    return list(conn.execute(query).scalars())


def macs(conn: sa.Connection, node_id: int) -> list[str]:
    query = sa.select(ports.c.address).where(ports.c.node_id == node_id).order_by(ports.c.id)
    return list(conn.execute(query).scalars())


def insert(conn: sa.Connection, values: Mapping[str, Any]) -> int:
    return int(conn.execute(sa.insert(ports).values(**values).returning(ports.c.id)).scalar_one())


def update(conn: sa.Connection, port_id: int, values: Mapping[str, Any]) -> bool:
    values = {"updated_at": utcnow(), **values}
    result = conn.execute(sa.update(ports).where(ports.c.id == port_id).values(**values))
    return result.rowcount == 1


def delete(conn: sa.Connection, port_id: int) -> bool:
    return conn.execute(sa.delete(ports).where(ports.c.id == port_id)).rowcount == 1
