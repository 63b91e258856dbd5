"""The keyset condition of lists that sort NULLs in SQL (ports, node history)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa


def after(column: sa.ColumnElement[Any], value: Any, id_column: sa.ColumnElement[int],
          row_id: int, ascending: bool) -> sa.ColumnElement[bool]:
    """Keyset condition for rows strictly after (value, row_id) in list order: NULLs
    first ascending, last descending, ties broken by id."""
    if isinstance(column.type, sa.Boolean):
        # Booleans are not ordered in SQL (PostgreSQL refuses "maintenance > true").
        column = sa.cast(column, sa.Integer)
        value = None if value is None else int(value)
    if ascending:
        if value is None:
            return sa.or_(sa.and_(column.is_(None), id_column > row_id), column.is_not(None))
        return sa.and_(column.is_not(None),
                       sa.or_(column > value, sa.and_(column == value, id_column > row_id)))
    if value is None:
        return sa.and_(column.is_(None), id_column < row_id)
    return sa.or_(column.is_(None),
                  sa.and_(column.is_not(None),
                          sa.or_(column < value, sa.and_(column == value,
                                                         id_column < row_id))))
