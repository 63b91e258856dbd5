"""Generic queries on the tables of small API resources (chassis, portgroups, volume
connectors and targets): get, keyset-paged list, insert, update, delete.

Records are built positionally from the table's columns, plus the owning node's UUID
for tables with a node_id (models.py checks the field order).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

from ingot.db.keyset import after
from ingot.db.models import nodes, utcnow

R = TypeVar("R")


class StaleMarker(LookupError):
    """The pagination marker names a record that does not exist."""


class Store(Generic[R]):
    def __init__(self, table: sa.Table, record: Callable[..., R]):
        self.table = table
        self._record = record
        self.owned = "node_id" in table.c
        self._select = (sa.select(table, nodes.c.uuid.label("node_uuid"))
                        .join(nodes, nodes.c.id == table.c.node_id)
                        if self.owned else sa.select(table))
        self.sortable = frozenset(
            column.name for column in table.columns if not isinstance(column.type, sa.JSON)
        ) - {"node_id"}

    def get(self, conn: sa.Connection, **where: Any) -> R | None:
        row = conn.execute(self._select.where(
            *(self.table.c[name] == value for name, value in where.items()))).first()
        return self._record(*row) if row else None

    def list(self, conn: sa.Connection, clauses: Sequence[sa.ColumnElement[bool]] = (), *,
             sort_key: str = "id", sort_dir: str = "asc", limit: int | None = None,
             marker: str | None = None) -> list[R]:
        table = self.table
        column = table.c[sort_key]
        where = list(clauses)
        if marker is not None:
            anchor = conn.execute(sa.select(column, table.c.id)
                                  .where(table.c.uuid == marker.lower())).first()
            if anchor is None:
                raise StaleMarker(marker)
            where.append(after(column, anchor[0], table.c.id, anchor[1], sort_dir == "asc"))
        query = self._select.where(*where)
        if sort_dir == "asc":
            query = query.order_by(column.is_not(None), column, table.c.id)
        else:
            query = query.order_by(column.is_not(None).desc(), column.desc(),
                                   table.c.id.desc())
        if limit is not None:
            query = query.limit(limit)
        return [self._record(*row) for row in conn.execute(query)]

    def count(self, conn: sa.Connection, **where: Any) -> int:
        return int(conn.execute(sa.select(sa.func.count()).select_from(self.table).where(
            *(self.table.c[name] == value for name, value in where.items()))).scalar_one())

    def insert(self, conn: sa.Connection, values: Mapping[str, Any]) -> None:
        conn.execute(sa.insert(self.table).values(created_at=utcnow(), **values))

    def update(self, conn: sa.Connection, record_id: int, values: Mapping[str, Any]) -> None:
        conn.execute(sa.update(self.table).where(self.table.c.id == record_id)
                     .values(updated_at=utcnow(), **values))

    def delete(self, conn: sa.Connection, record_id: int) -> None:
        conn.execute(sa.delete(self.table).where(self.table.c.id == record_id))
