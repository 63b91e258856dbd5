"""/v1/ports and /v1/nodes/{node}/ports."""

from __future__ import annotations

import uuid as uuidlib
from typing import Any

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import Response

from ingot.api import listing, patch, portgroups, validation
from ingot.api.body import read_json, read_object
from ingot.api.context import ApiContext, base_url, context, version
from ingot.api.errors import BadRequest, Conflict, NotAcceptable, NotFound
from ingot.api.fields import links
from ingot.api.lookup import find_node, locked
from ingot.api.port_fields import PORT
from ingot.api.responses import json_response
from ingot.db import nodes, ports
from ingot.db.models import Node, Port, utcnow

# Ironic checks a port list's sort_key against its versioned fields but internal_info
# (not sortable: a 400 at every version).
_SORT_SINCE = PORT.versioned(leave_out={"internal_info"})

def port_view(port: Port, minor: int, base: str, fields: tuple[str, ...] | None = None,
              detail: bool = True) -> dict[str, Any]:
    out = PORT.view(port, PORT.names_at(minor, detail) if fields is None else fields)
    out["links"] = links(base, "ports", port.uuid)
    return out


def _find_port(conn: sa.Connection, ident: str, *, by_name: bool = True) -> Port:
    """A port by UUID, or by its name (API 1.88 names ports; a name is never a UUID).
    Anything else is a 400, as in Ironic; deleting takes a UUID only."""
    if by_name:
        validation.uuid_or_name_ident("port_ident", ident)
    else:
        validation.uuid_ident("port_uuid", ident)
    port = ports.get_by_uuid(conn, ident) if validation.looks_like_uuid(ident) \
        else ports.get_by_name(conn, ident)
    if port is None:
        raise NotFound(f"Port {ident} could not be found.")
    return port


async def list_ports(request: Request) -> Response:
    return _list(request, node_ident=request.path_params.get("node"),
                 detail=request.url.path.rstrip("/").endswith("/detail"))


async def list_portgroup_ports(request: Request) -> Response:
    """/v1/portgroups/{portgroup}/ports[/detail] (API 1.24)."""
    return _list(request, node_ident=None,
                 detail=request.url.path.rstrip("/").endswith("/detail"),
                 portgroup_ident=request.path_params["portgroup"])


def _list(request: Request, node_ident: str | None, detail: bool,
          portgroup_ident: str | None = None) -> Response:
    ctx = context(request)
    minor = version(request).minor
    params = request.query_params
    if not detail and "detail" in params:
        detail = validation.bool_value("detail", params["detail"])
    fields = PORT.parse_fields(params.get("fields"), minor)
    page = listing.page_params(request, ctx.settings.max_limit, ports.SORTABLE,
                               since=_SORT_SINCE)
    filters = ports.PortFilters()
    ident = node_ident or params.get("node") or params.get("node_uuid")
    if "conductor_groups" in params:
        # API 1.99; Ironic accepts the parameter at every version.
        if ident or portgroup_ident or params.get("portgroup") or "address" in params:
            raise BadRequest("Filtering by conductor_groups cannot be combined with "
                             "node_ident, portgroup_ident, or node address filters.")
        filters.conductor_groups = [group.strip().lower() for group in
                                    params["conductor_groups"].split(",") if group.strip()]
    with ctx.db.read() as conn:
        if ident:
            filters.node_id = find_node(conn, ident).id
        if "address" in params:
            filters.address = validation.mac_value("address", params["address"])
        group = portgroup_ident or params.get("portgroup")
        if group:
            # Before 1.24 the sub-resource does not exist (404) and the filter is
            # refused (406), as Ironic does.
            if minor < 24 and portgroup_ident:
                raise NotFound(f"The resource could not be found: {request.url.path}")
            if minor < 24:
                raise NotAcceptable("Filtering ports by portgroup needs API version 1.24 "
                                    "or later.")
            filters.portgroup_uuid = portgroups.KIND.find(conn, group).uuid
        try:
            found = ports.list_ports(conn, filters, sort_key=page.sort_key,
                                     sort_dir=page.sort_dir, limit=page.limit,
                                     marker=page.marker)
        except ports.StaleMarker:
            raise NotFound(f"Port {page.marker} could not be found.") from None
    base = base_url(request)
    body: dict[str, Any] = {"ports": [port_view(p, minor, base, fields, detail) for p in found]}
    nxt = listing.next_link(base, request.url.path.rstrip("/"), page, len(found),
                            found[-1].uuid if found else None, params)
    if nxt:
        body["next"] = nxt
    return json_response(body)


async def show_port(request: Request) -> Response:
    ctx = context(request)
    minor = version(request).minor
    fields = PORT.parse_fields(request.query_params.get("fields"), minor)
    with ctx.db.read() as conn:
        port = _find_port(conn, request.path_params["port"])
    return json_response(port_view(port, minor, base_url(request), fields))


async def create_port(request: Request) -> Response:
    ctx = context(request)
    minor = version(request).minor
    body = await read_object(request, ctx.settings.max_body, ctx.settings.max_body_depth)
    if "node_ident" in body:
        body["node_uuid"] = _node_by_ident(ctx, body, minor)
    values = PORT.creation_values(body, minor)
    port_uuid = values.pop("uuid", None) or str(uuidlib.uuid4())
    now = utcnow()
    try:
        with ctx.db.write() as conn:
            node = _linked_node(conn, values.pop("node_uuid"))
            if node.reservation:
                raise locked(node)
            _check_unique(conn, values["address"], port_uuid, values.get("name"))
            portgroups.check_member(conn, values.get("portgroup_uuid"), node.id)
            portgroups.check_physnet(conn, values.get("portgroup_uuid"), port_uuid,
                                     values.get("physical_network"))
            row = {**PORT.defaults(), "uuid": port_uuid, "node_id": node.id,
                   "created_at": now, **values}
            ports.insert(conn, row)
            port = ports.get_by_uuid(conn, port_uuid)
    except sa.exc.IntegrityError:
        with ctx.db.read() as conn:
            _check_unique(conn, values["address"], port_uuid, values.get("name"))
        raise
    assert port is not None
    base = base_url(request)
    return json_response(port_view(port, minor, base), status=201,
                         headers={"Location": f"{base}/v1/ports/{port.uuid}"})


def _node_by_ident(ctx: ApiContext, body: dict[str, Any], minor: int) -> str:
    """The UUID of the node a create body names by node_ident (API 1.94: a name or a
    UUID), which then stands in for node_uuid."""
    if minor < 94:
        raise NotAcceptable("Request not acceptable.")
    ident = body.pop("node_ident")
    if "node_uuid" in body:
        raise BadRequest("A port names its node by node_ident or node_uuid, not both.")
    if not isinstance(ident, str):
        raise BadRequest(f"Expected a string for node_ident, got {ident!r}.")
    validation.uuid_or_name_ident("node_ident", ident)
    with ctx.db.read() as conn:
        return _linked_node(conn, ident).uuid


def _linked_node(conn: sa.Connection, ident: str) -> Node:
    """The node a port is to belong to; a missing one is the request's fault (400)."""
    try:
        return find_node(conn, ident)
    except NotFound as exc:
        raise BadRequest(exc.message) from None


def _check_unique(conn: sa.Connection, address: str, port_uuid: str,
                  name: str | None) -> None:
    if ports.get_by_address(conn, address) is not None:
        raise Conflict(f"A port with MAC address {address} already exists.")
    if ports.get_by_uuid(conn, port_uuid) is not None:
        raise Conflict(f"A port with UUID {port_uuid} already exists.")
    if name and ports.get_by_name(conn, name) is not None:
        raise Conflict(f"A port with name {name} already exists.")


async def patch_port(request: Request) -> Response:
    ctx = context(request)
    minor = version(request).minor
    operations = patch.parse(await read_json(request, ctx.settings.max_body,
                                             ctx.settings.max_body_depth))
    with ctx.db.write() as conn:
        port = _find_port(conn, request.path_params["port"])
        current = {name: getattr(port, name) for name in PORT.patchable()}

        def check(field: str, raw: Any) -> Any:
            return PORT.patched(field, raw, minor)

        changes = patch.apply(current, operations, check)
        if "address" in changes and ports.get_by_address(conn, changes["address"]):
            raise Conflict(f"A port with MAC address {changes['address']} already exists.")
        if changes.get("name") and changes["name"] != port.name \
                and ports.get_by_name(conn, changes["name"]):
            raise Conflict(f"A port with name {changes['name']} already exists.")
        if "node_uuid" in changes:
            changes["node_id"] = _linked_node(conn, changes.pop("node_uuid")).id
        node = nodes.get_by_id(conn, changes.get("node_id", port.node_id))
        if node is not None and node.reservation:
            raise locked(node)
        if {"node_id", "portgroup_uuid"} & set(changes):
            portgroups.check_member(conn, changes.get("portgroup_uuid", port.portgroup_uuid),
                                    changes.get("node_id", port.node_id))
        if {"portgroup_uuid", "physical_network"} & set(changes):
            portgroups.check_physnet(
                conn, changes.get("portgroup_uuid", port.portgroup_uuid), port.uuid,
                changes.get("physical_network", port.physical_network))
        if changes:
            ports.update(conn, port.id, changes)
        port = _find_port(conn, port.uuid)
    return json_response(port_view(port, minor, base_url(request)))


async def delete_port(request: Request) -> Response:
    ctx = context(request)
    with ctx.db.write() as conn:
        port = _find_port(conn, request.path_params["port"], by_name=False)
        node = nodes.get_by_id(conn, port.node_id)
        if node is not None and node.reservation:
            raise locked(node)
        ports.delete(conn, port.id)
    return Response(status_code=204)
