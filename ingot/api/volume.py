"""/v1/volume: connectors and targets of a node's volumes (API 1.32), also below
/v1/nodes/{node}/volume."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import Response

from ingot.api import crud
from ingot.api import validation as v
from ingot.api.context import base_url, context
from ingot.api.errors import BadRequest
from ingot.api.fields import Field, Resource, links
from ingot.api.lookup import find_node
from ingot.api.responses import json_response
from ingot.common import power, states
from ingot.db import records
from ingot.db.models import Node, VolumeConnector, VolumeTarget, volume_connectors, volume_targets

_SINCE = 32
_UUID = {"type": "string", "format": "uuid"}
_OBJECT = {"type": "object"}


def _text(max_length: int) -> Any:
    return lambda f, x: v.string_value(f, x, max_length=max_length, nullable=False)


def _integer(field: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"Expected an integer for {field}, got {value!r}.")
    return value


CONNECTOR_FIELDS = Resource("volume connector", (
    Field("uuid", 1, v.uuid_value, patch=False, schema=_UUID),
    Field("created_at"), Field("updated_at"),
    Field("connector_id", 1, _text(255), required=True, schema={"type": "string"}),
    Field("extra", 1, v.dict_value, default={}, schema=_OBJECT),
    Field("type", 1, _text(32), required=True, schema={"type": "string"}),
    Field("node_uuid", 1, v.uuid_value, required=True, schema=_UUID),
), ("uuid", "node_uuid", "type", "connector_id"))

TARGET_FIELDS = Resource("volume target", (
    Field("uuid", 1, v.uuid_value, patch=False, schema=_UUID),
    Field("created_at"), Field("updated_at"),
    Field("boot_index", 1, _integer, required=True, schema={"type": "integer"}),
    Field("extra", 1, v.dict_value, default={}, schema=_OBJECT),
    Field("node_uuid", 1, v.uuid_value, required=True, schema=_UUID),
    Field("properties", 1, v.dict_value, default={}, schema=_OBJECT),
    Field("volume_id", 1, _text(36), required=True, schema={"type": "string"}),
    Field("volume_type", 1, _text(64), required=True, schema={"type": "string"}),
), ("uuid", "node_uuid", "volume_type", "boot_index", "volume_id"))


# Ironic's own DELETE_ALLOWED_STATES: unlike a node, a volume record does not go with the
# node's `available`.
_VOLUME_DELETE_STATES = states.DELETE_ALLOWED_STATES - {states.AVAILABLE}


def _powered_off(node: Node, action: str) -> None:
    """Ironic updates a node's volume only while the node is off, and deletes it also in
    the states a node may be deleted in."""
    if node.power_state == power.POWER_OFF or (
            action.endswith("deletion")
            and node.provision_state in _VOLUME_DELETE_STATES):
        return
    raise BadRequest(f"The requested action \"{action}\" can not be performed on node "
                     f"\"{node.uuid}\" while it is in state \"{node.power_state}\".")


def _node_filter(table: sa.Table) -> crud.Filters:
    def filters(conn: sa.Connection, params: Mapping[str, str],
                minor: int) -> list[sa.ColumnElement[bool]]:
        if "node" in params:
            return [table.c.node_id == find_node(conn, params["node"]).id]
        return []
    return filters


def _prepare(title: str) -> crud.Prepare:
    def prepare(conn: sa.Connection, values: dict[str, Any], current: Any) -> dict[str, Any]:
        if "node_uuid" in values:
            node = crud.node_owner(conn, values)
            if current is not None:  # moving to another node: it must allow it too
                _powered_off(node, f"{title} update")
        return values
    return prepare


CONNECTORS = crud.Kind(
    CONNECTOR_FIELDS, records.Store(volume_connectors, VolumeConnector),
    path="volume/connectors", key="connectors", title="Volume connector", since=_SINCE,
    detail_since=_SINCE, ident_name="connector_uuid",
    unique=((("uuid",), "A volume connector with UUID {uuid} already exists."),
            (("type", "connector_id"), "A volume connector with type {type} and connector "
                                       "ID {connector_id} already exists.")),
    filters=_node_filter(volume_connectors), prepare=_prepare("volume connector"),
    node_rule=_powered_off)

TARGETS = crud.Kind(
    TARGET_FIELDS, records.Store(volume_targets, VolumeTarget),
    path="volume/targets", key="targets", title="Volume target", since=_SINCE,
    detail_since=_SINCE, ident_name="target_uuid",
    unique=((("uuid",), "A volume target with UUID {uuid} already exists."),
            (("node_id", "boot_index"), "A volume target with boot index '{boot_index}' "
                                        "for the same node already exists.")),
    filters=_node_filter(volume_targets), prepare=_prepare("volume target"),
    node_rule=_powered_off)


def _of_node(table: sa.Table) -> Any:
    def scope(conn: sa.Connection, request: Request) -> list[sa.ColumnElement[bool]]:
        return [table.c.node_id == find_node(conn, request.path_params["node"]).id]
    return scope


async def volume_root(request: Request) -> Response:
    """/v1/volume and /v1/nodes/{node}/volume: links to connectors and targets."""
    CONNECTORS.gate(request)
    base = base_url(request)
    node = request.path_params.get("node")
    kind, prefix = ("nodes", f"{node}/volume/") if node else ("volume", "")
    if node:
        with context(request).db.read() as conn:
            find_node(conn, node)
    return json_response({
        "links": links(base, kind, prefix),
        "connectors": links(base, kind, f"{prefix}connectors"),
        "targets": links(base, kind, f"{prefix}targets"),
    })


list_connectors = crud.list_handler(CONNECTORS)
list_node_connectors = crud.list_handler(CONNECTORS, scope=_of_node(volume_connectors))
show_connector = crud.show_handler(CONNECTORS, "connector")
create_connector = crud.create_handler(CONNECTORS)
patch_connector = crud.patch_handler(CONNECTORS, "connector")
delete_connector = crud.delete_handler(CONNECTORS, "connector")
list_targets = crud.list_handler(TARGETS)
list_node_targets = crud.list_handler(TARGETS, scope=_of_node(volume_targets))
show_target = crud.show_handler(TARGETS, "target")
create_target = crud.create_handler(TARGETS)
patch_target = crud.patch_handler(TARGETS, "target")
delete_target = crud.delete_handler(TARGETS, "target")
