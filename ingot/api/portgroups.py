"""/v1/portgroups, /v1/portgroups/{portgroup}/ports and /v1/nodes/{node}/portgroups
(API 1.23; mode and properties 1.26, physical_network 1.102, category 1.103,
dynamic_portgroup 1.111)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from starlette.requests import Request

from ingot.api import crud
from ingot.api import validation as v
from ingot.api.context import version
from ingot.api.errors import BadRequest, Conflict, NotAcceptable, NotFound
from ingot.api.fields import Field, Resource
from ingot.api.lookup import find_node
from ingot.db import records
from ingot.db.models import Portgroup, nodes, portgroups, ports

_OBJECT = {"type": "object"}
# Ironic's [DEFAULT] default_portgroup_mode.
DEFAULT_MODE = "active-backup"


def _optional_mac(field: str, value: Any) -> str | None:
    return None if value is None else v.mac_value(field, value)


FIELDS = Resource("portgroup", (
    Field("uuid", 1, v.uuid_value, patch=False, schema={"type": "string", "format": "uuid"}),
    Field("created_at"), Field("updated_at"),
    Field("address", 1, _optional_mac, schema={"type": "string", "nullable": True}),
    Field("extra", 1, v.dict_value, default={}, schema=_OBJECT),
    Field("internal_info", default={}),
    Field("mode", 26, lambda f, x: v.string_value(f, x, max_length=255),
          default=DEFAULT_MODE, schema={"type": "string", "nullable": True}),
    Field("name", 1, v.name_value, schema={"type": "string", "nullable": True}),
    Field("properties", 26, v.dict_value, default={}, schema=_OBJECT),
    Field("standalone_ports_supported", 1, v.bool_value, default=True,
          schema={"type": "boolean"}),
    Field("node_uuid", 1, v.uuid_value, required=True,
          schema={"type": "string", "format": "uuid"}),
    Field("physical_network", 102, lambda f, x: v.string_value(f, x, max_length=64),
          schema={"type": "string", "nullable": True, "maxLength": 64}),
    Field("category", 103, lambda f, x: v.string_value(f, x, max_length=80),
          schema={"type": "string", "nullable": True, "maxLength": 80}),
    # Shown from 1.111; no request writes it in Ironic 39 (not in its create schema nor
    # its patchable fields).
    Field("dynamic_portgroup", 111, default=False),
), ("uuid", "address", "name"), extra_shown=("ports",))


def _listed(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


def _filters(conn: sa.Connection, params: Mapping[str, str],
             minor: int) -> list[sa.ColumnElement[bool]]:
    if "shard" in params and minor < 106:
        raise NotAcceptable("Request not acceptable. The minimal required API version "
                            "should be 1.106")
    # Ironic answers one of these at a time (conductor_groups: API 1.99, accepted at
    # every version as Ironic does).
    if sum(1 for name in ("node", "address", "shard", "conductor_groups")
           if params.get(name)) > 1:
        raise BadRequest("Filtering by node, address, or shard simultaneously is not "
                         "supported.")
    clauses: list[sa.ColumnElement[bool]] = []
    if "node" in params:
        clauses.append(portgroups.c.node_id == find_node(conn, params["node"]).id)
    if "address" in params:
        clauses.append(portgroups.c.address == v.mac_value("address", params["address"]))
    if params.get("shard"):
        clauses.append(portgroups.c.node_id.in_(
            sa.select(nodes.c.id).where(nodes.c.shard.in_(_listed(params["shard"])))))
    if params.get("conductor_groups"):
        groups = [group.lower() for group in _listed(params["conductor_groups"])]
        clauses.append(portgroups.c.node_id.in_(
            sa.select(nodes.c.id).where(nodes.c.conductor_group.in_(groups))))
    return clauses


def _prepare(conn: sa.Connection, values: dict[str, Any], current: Any) -> dict[str, Any]:
    if "node_uuid" in values:
        crud.node_owner(conn, values)
        if current is not None and values["node_id"] != current.node_id and \
                conn.execute(sa.select(ports.c.id)
                             .where(ports.c.portgroup_uuid == current.uuid)).first():
            raise BadRequest(f"Portgroup {current.uuid} has ports: it cannot move to "
                             f"another node.")
    return values


def _not_empty(conn: sa.Connection, record: Any) -> None:
    if conn.execute(sa.select(ports.c.id).where(ports.c.portgroup_uuid == record.uuid)
                    .limit(1)).first():
        raise BadRequest(f"Cannot complete the requested action because portgroup "
                         f"{record.uuid} contains ports.")


def check_member(conn: sa.Connection, portgroup_uuid: str | None, node_id: int) -> None:
    """A port may join only an existing portgroup of its own node (400 otherwise)."""
    if portgroup_uuid is None:
        return
    group = KIND.store.get(conn, uuid=portgroup_uuid)
    if group is None:
        raise BadRequest(f"Portgroup {portgroup_uuid} could not be found.")
    if group.node_id != node_id:
        raise BadRequest("Port can not be added to a portgroup belonging to a different "
                         "node.")


def check_physnet(conn: sa.Connection, portgroup_uuid: str | None, port_uuid: str,
                  physical_network: str | None) -> None:
    """A port joins a portgroup only on the physical network its other members (or,
    with none, the portgroup itself) are on; 409 otherwise, as Ironic's conductor."""
    if portgroup_uuid is None:
        return
    members = {row.physical_network for row in conn.execute(
        sa.select(ports.c.physical_network).where(ports.c.portgroup_uuid == portgroup_uuid,
                                                  ports.c.uuid != port_uuid))}
    if not members:
        group = KIND.store.get(conn, uuid=portgroup_uuid)
        if group is None or group.physical_network is None:
            return
        members = {group.physical_network}
    group_physnet = members.pop()
    if physical_network != group_physnet:
        raise Conflict(f"Port with physical network {physical_network} cannot become a "
                       f"member of port group {portgroup_uuid} which has ports in physical "
                       f"network {group_physnet}.")


KIND = crud.Kind(
    FIELDS, records.Store(portgroups, Portgroup), path="portgroups", key="portgroups",
    title="Portgroup", since=23, by_name=True, ident_name="portgroup_ident",
    sublinks={"ports": 24},
    # Ironic checks these three only (physical_network and category sort at any version).
    sort_since={name: FIELDS.since(name) for name in ("mode", "properties",
                                                      "dynamic_portgroup")},
    unique=((("uuid",), "A portgroup with UUID {uuid} already exists."),
            (("name",), "A portgroup with name {name} already exists."),
            (("address",), "A portgroup with MAC address {address} already exists.")),
    filters=_filters, prepare=_prepare, before_delete=_not_empty)


def _of_node(conn: sa.Connection, request: Request) -> list[sa.ColumnElement[bool]]:
    if version(request).minor < 24:
        raise NotFound(f"The resource could not be found: {request.url.path}")
    return [portgroups.c.node_id == find_node(conn, request.path_params["node"]).id]


list_portgroups = crud.list_handler(KIND)
list_portgroups_detail = crud.list_handler(KIND, detail=True)
list_node_portgroups = crud.list_handler(KIND, scope=_of_node)
list_node_portgroups_detail = crud.list_handler(KIND, detail=True, scope=_of_node)
show_portgroup = crud.show_handler(KIND, "portgroup")
create_portgroup = crud.create_handler(KIND)
patch_portgroup = crud.patch_handler(KIND, "portgroup")
delete_portgroup = crud.delete_handler(KIND, "portgroup")
