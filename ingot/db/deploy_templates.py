"""Queries on deploy templates."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import sqlalchemy as sa

from ingot.db.keyset import after
from ingot.db.models import DeployTemplate, deploy_templates, utcnow

SORTABLE = frozenset(
    column.name for column in deploy_templates.columns
    if not isinstance(column.type, sa.JSON))


class StaleMarker(LookupError):
    """The pagination marker names a template that does not exist."""


def _record(row: sa.Row[Any]) -> DeployTemplate:
    # The row holds the record's fields in order; mypy cannot count a Row's columns.
    return DeployTemplate(*row)  # type: ignore[call-arg]


def _one(conn: sa.Connection, clause: sa.ColumnElement[bool]) -> DeployTemplate | None:
    row = conn.execute(sa.select(deploy_templates).where(clause)).first()
    return _record(row) if row else None


def get_by_uuid(conn: sa.Connection, uuid: str) -> DeployTemplate | None:
    return _one(conn, deploy_templates.c.uuid == uuid.lower())


def get_by_name(conn: sa.Connection, name: str) -> DeployTemplate | None:
    return _one(conn, deploy_templates.c.name == name)


def with_names(conn: sa.Connection, names: Collection[str]) -> list[DeployTemplate]:
    query = sa.select(deploy_templates).where(deploy_templates.c.name.in_(list(names)))
    return [_record(row) for row in conn.execute(query.order_by(deploy_templates.c.id))]


def list_templates(conn: sa.Connection, *, sort_key: str = "id", sort_dir: str = "asc",
                   limit: int | None = None, marker: str | None = None
                   ) -> list[DeployTemplate]:
    column = deploy_templates.c[sort_key]
    clauses: list[sa.ColumnElement[bool]] = []
    if marker is not None:
        anchor = conn.execute(sa.select(column, deploy_templates.c.id)
                              .where(deploy_templates.c.uuid == marker.lower())).first()
        if anchor is None:
            raise StaleMarker(marker)
        clauses.append(after(column, anchor[0], deploy_templates.c.id, anchor[1],
                             sort_dir == "asc"))
    query = sa.select(deploy_templates).where(*clauses)
    if sort_dir == "asc":
        query = query.order_by(column.is_not(None), column, deploy_templates.c.id)
    else:
        query = query.order_by(column.is_not(None).desc(), column.desc(),
                               deploy_templates.c.id.desc())
    if limit is not None:
        query = query.limit(limit)
    return [_record(row) for row in conn.execute(query)]


def insert(conn: sa.Connection, values: Mapping[str, Any]) -> None:
    conn.execute(sa.insert(deploy_templates).values(**values))


def update(conn: sa.Connection, template_id: int, values: Mapping[str, Any]) -> None:
    conn.execute(sa.update(deploy_templates).where(deploy_templates.c.id == template_id)
                 .values(updated_at=utcnow(), **values))


def delete(conn: sa.Connection, template_id: int) -> None:
    conn.execute(sa.delete(deploy_templates).where(deploy_templates.c.id == template_id))
