"""SELECTs (and UPDATEs with RETURNING) run straight on the driver's cursor of a
SQLAlchemy connection.

A node GET is one indexed row, and SQLAlchemy's execution around it (cache key,
execution context, events, result metadata) costs five times the query itself. A
Prepared statement is compiled once per dialect; each run hands its SQL to the cursor
of the connection the caller holds (so it reads inside the caller's transaction, or
outside any, as that connection does) and converts the values with the same result
processors SQLAlchemy would use, so the records are the same.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

Processor = Callable[[Any], Any] | None


@dataclasses.dataclass(slots=True)
class _Compiled:
    sql: str
    # The bind names in the order of a positional paramstyle's markers (SQLite's ?),
    # None for a named one (psycopg's %(name)s).
    order: tuple[str, ...] | None
    # The values of the binds the statement carries (a literal, a bindparam given
    # its value), which a run's params may not name.
    fixed: dict[str, Any]
    # Per column, filled from the first result's description (the driver's types).
    processors: list[Processor] | None = None


class Prepared:
    """One SELECT, or UPDATE with RETURNING, whose binds take their values as they are
    (strings, integers): no bind processing is applied, and types that need it are
    refused at compile time."""

    def __init__(self, statement: sa.Select[Any] | sa.Update):
        self.statement = statement
        self._columns = list(statement.exported_columns)
        self._compiled: dict[str, _Compiled] = {}

    def _compile(self, dialect: sa.Dialect) -> _Compiled:
        compiled = self.statement.compile(dialect=dialect)
        for bind in compiled.binds.values():
            if bind.type.dialect_impl(dialect).bind_processor(dialect) is not None:
                raise TypeError(f"bind {bind.key} of type {bind.type} needs processing")
        order = tuple(compiled.positiontup or ()) if dialect.positional else None
        fixed = {name: bind.value for bind, name in compiled.bind_names.items()
                 if not bind.required}
        found = self._compiled[dialect.name] = _Compiled(compiled.string, order, fixed)
        return found

    def rows(self, conn: sa.Connection, params: Mapping[str, Any]) -> list[Sequence[Any]]:
        dialect = conn.dialect
        compiled = self._compiled.get(dialect.name) or self._compile(dialect)
        if compiled.fixed:
            params = {**compiled.fixed, **params}
        bound: Any = params if compiled.order is None else tuple(
            params[name] for name in compiled.order)
        cursor = driver_cursor(conn)
        try:
            execute(conn, cursor, compiled.sql, bound)
            raw = cursor.fetchall()
            processors = compiled.processors
            if processors is None:
                processors = compiled.processors = [
                    column.type.dialect_impl(dialect).result_processor(dialect, described[1])
                    for column, described in zip(self._columns, cursor.description,
                                                 strict=True)]
        finally:
            cursor.close()
        active = [(i, process) for i, process in enumerate(processors) if process is not None]
        if not active:
            return list(raw)
        converted: list[Sequence[Any]] = []
        for row in raw:
            values = list(row)
            for i, process in active:
                values[i] = process(values[i])
            converted.append(values)
        return converted


def driver_cursor(conn: sa.Connection) -> Any:
    """A cursor of the driver's connection conn holds."""
    driver_connection = conn.connection.dbapi_connection
    assert driver_connection is not None, "the caller's connection is checked out"
    return driver_connection.cursor()


def execute(conn: sa.Connection, cursor: Any, sql: str, bound: Any) -> None:
    """cursor.execute, its driver errors raised as SQLAlchemy raises them
    (sa.exc.IntegrityError for a unique name taken, ...): callers catch those."""
    dialect = conn.dialect
    try:
        cursor.execute(sql, bound)
    except dialect.loaded_dbapi.Error as exc:
        raise sa.exc.DBAPIError.instance(
            sql, bound, exc, dialect.loaded_dbapi.Error,
            hide_parameters=conn.engine.hide_parameters, dialect=dialect) from exc
