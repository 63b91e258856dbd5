"""Portgroups, chassis and volume connectors/targets through the proxy.

Node-owned ones (portgroups, volume connectors and targets) are created at their node's
site and listed there when a node filter names it; chassis belong to no node, so a new
chassis goes to the site of the default conductor group (400 naming the mapped groups
when there is none). Every list without a node is merged across sites, and an item is
routed to the site that holds it, found as nodes and ports are.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ingot.api.body import read_bytes
from ingot.api.errors import BadRequest
from ingot.proxy.context import context
from ingot.proxy.listing import (
    CHASSIS_LIST,
    CONNECTORS,
    PORTGROUPS,
    TARGETS,
    Collection,
    merged_listing,
)
from ingot.proxy.nodes import parse_object, site_for_group
from ingot.proxy.relay import relay
from ingot.proxy.routing import (
    CHASSIS,
    CONNECTOR,
    NODE,
    PORTGROUP,
    TARGET,
    Kind,
    forward,
    locate,
    locator,
    remember,
    send,
)

Handler = Callable[[Request], Any]


def list_handler(collection: Collection, kind: Kind, *, detail: bool = False) -> Handler:
    async def handler(request: Request) -> Response:
        path = request.url.path.rstrip("/")
        node = request.query_params.get("node") if kind is not CHASSIS else None
        if node is None:
            return await merged_listing(request, collection, path, detail=detail)
        # A node's items live at its site, whose own next links stay valid.
        located, reply = await forward(request, NODE, node, content=None, same_path=True)
        body = reply.json() if reply.ok else None
        for item in body.get(collection.key, []) if isinstance(body, dict) else []:
            remember(context(request), kind, located.site, item)
        return relay(reply, located.site, request)
    return handler


def create_handler(kind: Kind) -> Handler:
    async def handler(request: Request) -> Response:
        ctx = context(request)
        raw = await read_bytes(request, ctx.settings.max_body)
        body = parse_object(raw, kind.label.lower())
        if kind is CHASSIS:
            # No node and no conductor group: the default group's site, if mapped.
            site = site_for_group(ctx, None)
        else:
            node = body.get("node_uuid")
            if not isinstance(node, str) or not node:
                raise BadRequest(f"Missing required field node_uuid: the proxy places a "
                                 f"{kind.label.lower()} at its node's site.")
            site = (await locate(request, NODE, node)).site
        reply = await send(request, site, "POST", kind.path, query=request.url.query,
                           content=raw)
        if reply.status == 201:
            remember(ctx, kind, site, reply.json())
        return relay(reply, site, request)
    return handler


async def _check_node_move(request: Request, kind: Kind, ident: str, raw: bytes) -> None:
    try:
        operations = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return  # the site answers with its own message
    for operation in operations if isinstance(operations, list) else []:
        if not isinstance(operation, dict) or operation.get("path") != "/node_uuid" or \
                operation.get("op") not in ("add", "replace"):
            continue
        target = await locate(request, NODE, str(operation.get("value")))
        here = await locate(request, kind, ident)
        if target.site is not here.site:
            raise BadRequest(f"{kind.label} {ident} is at site {here.site.name} and node "
                             f"{operation.get('value')} at site {target.site.name}; "
                             f"{kind.label.lower()}s cannot move between sites.")


def item_handler(kind: Kind, param: str) -> Handler:
    """GET/PATCH/DELETE of one item, and its sub-paths (a chassis' or portgroup's
    nodes or ports), at the site that holds it."""
    async def handler(request: Request) -> Response:
        ctx = context(request)
        ident = request.path_params[param]
        rest = request.path_params.get("rest", "").strip("/")
        content = await read_bytes(request, ctx.settings.max_body) \
            if request.method in ("POST", "PUT", "PATCH") else b""
        if request.method == "PATCH" and kind is not CHASSIS:
            await _check_node_move(request, kind, ident, content)
        located, reply = await forward(request, kind, ident, f"/{rest}" if rest else "",
                                       content=content or None)
        if reply.ok and reply.content and not rest:
            remember(ctx, kind, located.site, reply.json())
        elif reply.ok and not rest and request.method == "DELETE":
            locator(ctx, kind).forget(located.uuid)
        return relay(reply, located.site, request)
    return handler


list_portgroups = list_handler(PORTGROUPS, PORTGROUP)
list_portgroups_detail = list_handler(PORTGROUPS, PORTGROUP, detail=True)
create_portgroup = create_handler(PORTGROUP)
portgroup_request = item_handler(PORTGROUP, "portgroup")
list_chassis = list_handler(CHASSIS_LIST, CHASSIS)
list_chassis_detail = list_handler(CHASSIS_LIST, CHASSIS, detail=True)
create_chassis = create_handler(CHASSIS)
chassis_request = item_handler(CHASSIS, "chassis")
list_connectors = list_handler(CONNECTORS, CONNECTOR)
create_connector = create_handler(CONNECTOR)
connector_request = item_handler(CONNECTOR, "connector")
list_targets = list_handler(TARGETS, TARGET)
create_target = create_handler(TARGET)
target_request = item_handler(TARGET, "target")
