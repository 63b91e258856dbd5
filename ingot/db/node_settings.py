"""A node's BIOS settings and firmware components: what its bios and firmware interfaces
last read from it (they replace the whole set), and what the API shows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from ingot.db.models import (
    BiosSetting,
    FirmwareComponent,
    bios_settings,
    firmware_components,
    utcnow,
)


def bios(conn: sa.Connection, node_id: int, name: str | None = None) -> list[BiosSetting]:
    query = sa.select(bios_settings).where(bios_settings.c.node_id == node_id)
    if name is not None:
        query = query.where(bios_settings.c.name == name)
    return [BiosSetting(*row) for row in
            conn.execute(query.order_by(bios_settings.c.name))]


def firmware(conn: sa.Connection, node_id: int) -> list[FirmwareComponent]:
    query = (sa.select(firmware_components).where(firmware_components.c.node_id == node_id)
             .order_by(firmware_components.c.component))
    return [FirmwareComponent(*row) for row in conn.execute(query)]


def _replace(conn: sa.Connection, table: sa.Table, node_id: int,
             rows: Sequence[Mapping[str, Any]]) -> None:
    conn.execute(sa.delete(table).where(table.c.node_id == node_id))
    if rows:
        # One executemany: every row names every column.
        blank = {column.name: None for column in table.columns if column.name != "id"}
        now = utcnow()
        conn.execute(sa.insert(table), [{**blank, **row, "node_id": node_id,
                                         "created_at": now} for row in rows])


def replace_bios(conn: sa.Connection, node_id: int,
                 settings: Sequence[Mapping[str, Any]]) -> None:
    """The node's BIOS settings become settings (each with name, value, registry keys)."""
    _replace(conn, bios_settings, node_id, settings)


def replace_firmware(conn: sa.Connection, node_id: int,
                     components: Sequence[Mapping[str, Any]]) -> None:
    """The node's firmware components become components (component, versions, ...)."""
    _replace(conn, firmware_components, node_id, components)
