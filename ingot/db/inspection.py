"""Queries on inspection data: the stored inventories and the inspection rules."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from ingot.db.models import InspectionRule, inspection_rules, node_inventory, utcnow
from ingot.db.records import Store


def get_inventory(conn: sa.Connection, node_id: int
                  ) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(inventory, plugin_data) of the node's last inspection, or None."""
    row = conn.execute(sa.select(node_inventory.c.inventory, node_inventory.c.plugin_data)
                       .where(node_inventory.c.node_id == node_id)).first()
    return (row[0], row[1]) if row else None


def store_inventory(conn: sa.Connection, node_id: int, inventory: Mapping[str, Any],
                    plugin_data: Mapping[str, Any]) -> None:
    """Replace the node's stored inventory (one row per node)."""
    now = utcnow()
    updated = conn.execute(sa.update(node_inventory)
                           .where(node_inventory.c.node_id == node_id)
                           .values(inventory=dict(inventory), plugin_data=dict(plugin_data),
                                   updated_at=now)).rowcount
    if not updated:
        conn.execute(sa.insert(node_inventory).values(
            node_id=node_id, inventory=dict(inventory), plugin_data=dict(plugin_data),
            created_at=now))


def _rule(row: sa.Row[Any]) -> InspectionRule:
    return InspectionRule(*row)  # type: ignore[call-arg]


def list_rules(conn: sa.Connection) -> list[InspectionRule]:
    """Every operator rule, in the order they run: highest priority first."""
    query = sa.select(inspection_rules).order_by(inspection_rules.c.priority.desc(),
                                                 inspection_rules.c.id)
    return [_rule(row) for row in conn.execute(query)]


_LISTED = Store(inspection_rules, InspectionRule)
SORTABLE = _LISTED.sortable  # every column but the JSON ones, as Ironic


def page_rules(conn: sa.Connection, *, sort_key: str, sort_dir: str, limit: int,
               marker: str | None) -> list[InspectionRule]:
    """A page of rules as the API lists them: by sort_key, then id; records.StaleMarker
    when no rule has the marker's UUID."""
    return _LISTED.list(conn, sort_key=sort_key, sort_dir=sort_dir, limit=limit,
                        marker=marker)


def get_rule(conn: sa.Connection, uuid: str) -> InspectionRule | None:
    row = conn.execute(sa.select(inspection_rules)
                       .where(inspection_rules.c.uuid == uuid.lower())).first()
    return _rule(row) if row else None


def insert_rule(conn: sa.Connection, values: Mapping[str, Any]) -> InspectionRule:
    row = conn.execute(sa.insert(inspection_rules)
                       .values(**values, created_at=utcnow())
                       .returning(inspection_rules)).one()
    return _rule(row)


def update_rule(conn: sa.Connection, rule_id: int, values: Mapping[str, Any]) -> bool:
    return conn.execute(sa.update(inspection_rules)
                        .where(inspection_rules.c.id == rule_id)
                        .values(**values, updated_at=utcnow())).rowcount == 1


def delete_rule(conn: sa.Connection, rule_id: int) -> bool:
    return conn.execute(sa.delete(inspection_rules)
                        .where(inspection_rules.c.id == rule_id)).rowcount == 1


def delete_all_rules(conn: sa.Connection) -> None:
    conn.execute(sa.delete(inspection_rules))
