"""/v1/chassis and /v1/chassis/{chassis}/nodes (API 1.1)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ingot.api import crud
from ingot.api import validation as v
from ingot.api.errors import BadRequest
from ingot.api.fields import Field, Resource
from ingot.db import records
from ingot.db.models import Chassis, chassis, nodes

FIELDS = Resource("chassis", (
    Field("uuid", 1, v.uuid_value, patch=False, schema={"type": "string", "format": "uuid"}),
    Field("created_at"), Field("updated_at"),
    Field("description", 1, lambda f, x: v.string_value(f, x, max_length=255),
          schema={"type": "string", "nullable": True, "maxLength": 255}),
    Field("extra", 1, v.dict_value, default={}, schema={"type": "object"}),
), ("uuid", "description"), extra_shown=("nodes",))


def _not_empty(conn: sa.Connection, record: Any) -> None:
    if conn.execute(sa.select(nodes.c.id).where(nodes.c.chassis_uuid == record.uuid)
                    .limit(1)).first():
        raise BadRequest(f"Cannot complete the requested action because chassis "
                         f"{record.uuid} contains nodes.")


KIND = crud.Kind(FIELDS, records.Store(chassis, Chassis), path="chassis", key="chassis",
                 title="Chassis", ident_name="chassis_uuid", sublinks={"nodes": 1},
                 unique=(((("uuid",), "Chassis {uuid} already exists."),)),
                 before_delete=_not_empty)

list_chassis = crud.list_handler(KIND)
list_chassis_detail = crud.list_handler(KIND, detail=True)
show_chassis = crud.show_handler(KIND, "chassis")
create_chassis = crud.create_handler(KIND)
patch_chassis = crud.patch_handler(KIND, "chassis")
delete_chassis = crud.delete_handler(KIND, "chassis")


def check_exists(conn: sa.Connection, chassis_uuid: str | None) -> None:
    """A node may name only an existing chassis: 400 (not 404: the request is on a node)."""
    if chassis_uuid is not None and KIND.store.get(conn, uuid=chassis_uuid) is None:
        raise BadRequest(f"Chassis {chassis_uuid} could not be found.")
