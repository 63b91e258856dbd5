"""/v1/nodes/{node}/vifs (API 1.28): attach, list and detach a node's virtual interfaces.

As Ironic's network interfaces do: "noop" accepts and forgets them; "flat" records
the VIF in the internal_info (tenant_vif_port_id) of a free portgroup or port of the
node, portgroups first, then PXE-enabled ports, and 400s when none is free.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import Response

from ingot.api import validation
from ingot.api.body import read_object
from ingot.api.context import context, version
from ingot.api.errors import BadRequest, Conflict, NotAcceptable, NotFound
from ingot.api.lookup import find_node, locked
from ingot.api.responses import json_response
from ingot.db.models import Node, portgroups, ports, utcnow

VIF_KEY = "tenant_vif_port_id"
_SINCE = 28
_BY_UUID = 67  # port_uuid / portgroup_uuid in the attach body
_RECORDING = frozenset({"flat"})


def _gate(request: Request) -> int:
    minor = version(request).minor
    if minor < _SINCE:
        raise NotFound(f"The resource could not be found: {request.url.path}")
    return minor


def _port_likes(conn: sa.Connection, node: Node) -> list[dict[str, Any]]:
    """The node's portgroups and ports: kind, row id, uuid, vif, and what picks one."""
    found: list[dict[str, Any]] = []
    members: dict[str, int] = {}
    for row in conn.execute(sa.select(ports.c.id, ports.c.uuid, ports.c.internal_info,
                                      ports.c.pxe_enabled, ports.c.portgroup_uuid)
                            .where(ports.c.node_id == node.id).order_by(ports.c.id)):
        if row.portgroup_uuid:
            members[row.portgroup_uuid] = members.get(row.portgroup_uuid, 0) + 1
        found.append({"table": ports, "kind": "port", "id": row.id, "uuid": row.uuid,
                      "info": row.internal_info, "pxe": row.pxe_enabled,
                      "group": row.portgroup_uuid})
    for group in conn.execute(sa.select(portgroups.c.id, portgroups.c.uuid,
                                        portgroups.c.internal_info)
                              .where(portgroups.c.node_id == node.id)
                              .order_by(portgroups.c.id)):
        found.append({"table": portgroups, "kind": "portgroup", "id": group.id,
                      "uuid": group.uuid, "info": group.internal_info, "pxe": True,
                      "group": None, "members": members.get(group.uuid, 0)})
    return found


def _save(conn: sa.Connection, item: dict[str, Any], vif: str | None) -> None:
    info = {key: value for key, value in item["info"].items() if key != VIF_KEY}
    if vif is not None:
        info[VIF_KEY] = vif
    table: sa.Table = item["table"]
    conn.execute(sa.update(table).where(table.c.id == item["id"])
                 .values(internal_info=info, updated_at=utcnow()))


async def list_vifs(request: Request) -> Response:
    _gate(request)
    with context(request).db.read() as conn:
        node = find_node(conn, request.path_params["node"])
        items = _port_likes(conn, node) if node.network_interface in _RECORDING else []
    return json_response({"vifs": [{"id": item["info"][VIF_KEY]} for item in items
                                   if item["info"].get(VIF_KEY)]})


def _attach_body(body: dict[str, Any], minor: int) -> tuple[str, str | None, str | None]:
    if "id" not in body:
        raise BadRequest("Missing required field id: the VIF to attach.")
    vif = validation.string_value("id", body["id"], max_length=255, nullable=False)
    assert vif is not None
    chosen = {key: body[key] for key in ("port_uuid", "portgroup_uuid") if key in body}
    if chosen and minor < _BY_UUID:
        raise NotAcceptable(f"port_uuid and portgroup_uuid need API version 1.{_BY_UUID} "
                            f"or later.")
    if len(chosen) > 1:
        raise BadRequest("Cannot specify both port_uuid and portgroup_uuid.")
    port = validation.uuid_value("port_uuid", chosen["port_uuid"]) \
        if "port_uuid" in chosen else None
    group = validation.uuid_value("portgroup_uuid", chosen["portgroup_uuid"]) \
        if "portgroup_uuid" in chosen else None
    return vif, port, group


async def attach_vif(request: Request) -> Response:
    minor = _gate(request)
    ctx = context(request)
    body = await read_object(request, ctx.settings.max_body, ctx.settings.max_body_depth)
    vif, port_uuid, group_uuid = _attach_body(body, minor)
    with ctx.db.write() as conn:
        node = find_node(conn, request.path_params["node"])
        if node.reservation:
            raise locked(node)
        if node.network_interface not in _RECORDING:
            return Response(status_code=204)
        items = _port_likes(conn, node)
        for item in items:
            if item["info"].get(VIF_KEY) == vif:
                raise Conflict(f"Unable to attach VIF because VIF {vif} is already attached "
                               f"to Ironic {item['kind']} {item['uuid']}")
        free = [item for item in items if not item["info"].get(VIF_KEY) and (
            (item["kind"] == "port" and port_uuid == item["uuid"]) if port_uuid else
            (item["kind"] == "portgroup" and group_uuid == item["uuid"]
             and item["members"]) if group_uuid else
            (item["kind"] == "portgroup" and item["members"])
            or (item["kind"] == "port" and not item["group"]))]
        if not free:
            raise BadRequest(f"Unable to attach VIF {vif}, not enough free physical ports.")
        free.sort(key=lambda item: (item["kind"] == "portgroup", item["pxe"]), reverse=True)
        _save(conn, free[0], vif)
    return Response(status_code=204)


async def detach_vif(request: Request) -> Response:
    _gate(request)
    ctx = context(request)
    vif = request.path_params["vif"]
    with ctx.db.write() as conn:
        node = find_node(conn, request.path_params["node"])
        if node.reservation:
            raise locked(node)
        if node.network_interface not in _RECORDING:
            return Response(status_code=204)
        attached = [item for item in _port_likes(conn, node)
                    if item["info"].get(VIF_KEY) == vif]
        if not attached:
            raise BadRequest(f"Unable to detach VIF {vif} from node {node.uuid} because it "
                             f"is not attached to it.")
        for item in attached:
            _save(conn, item, None)
    return Response(status_code=204)
