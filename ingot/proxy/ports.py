"""/v1/ports through the proxy: created and filtered by their node's site, listed across
sites, and ``/v1/ports/{port}`` routed by the port-to-site cache."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ingot.api.body import read_bytes
from ingot.api.errors import BadRequest
from ingot.proxy.context import context
from ingot.proxy.listing import PORTS, merged_listing
from ingot.proxy.nodes import parse_object
from ingot.proxy.relay import relay
from ingot.proxy.routing import NODE, PORT, forward, locate, remember, send


async def list_ports(request: Request) -> Response:
    detail = request.url.path.endswith("/detail")
    params = request.query_params
    node = params.get("node") or params.get("node_uuid")
    if node is None:
        return await merged_listing(request, PORTS, request.url.path, detail=detail)
    # A node's ports live at its site, and that site's own next links stay valid.
    located, reply = await forward(request, NODE, node, content=None, same_path=True)
    body = reply.json() if reply.ok else None
    for port in body.get(PORTS.key, []) if isinstance(body, dict) else []:
        remember(context(request), PORT, located.site, port)
    return relay(reply, located.site, request)


async def create_port(request: Request) -> Response:
    ctx = context(request)
    raw = await read_bytes(request, ctx.settings.max_body)
    node = parse_object(raw, "port").get("node_uuid")
    if not isinstance(node, str) or not node:
        raise BadRequest("Missing required field node_uuid: the proxy places a port at "
                         "its node's site.")
    located = await locate(request, NODE, node)
    reply = await send(request, located.site, "POST", "/v1/ports", query=request.url.query,
                       content=raw)
    if reply.status == 201:
        remember(ctx, PORT, located.site, reply.json())
    return relay(reply, located.site, request)


async def _check_node_move(request: Request, ident: str, raw: bytes) -> None:
    try:
        operations = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return  # the site answers with its own message
    for operation in operations if isinstance(operations, list) else []:
        if not isinstance(operation, dict) or operation.get("path") != "/node_uuid" or \
                operation.get("op") not in ("add", "replace"):
            continue
        target = await locate(request, NODE, str(operation.get("value")))
        port = await locate(request, PORT, ident)
        if target.site is not port.site:
            raise BadRequest(f"Port {ident} is at site {port.site.name} and node "
                             f"{operation.get('value')} at site {target.site.name}; ports "
                             f"cannot move between sites.")


async def port_request(request: Request) -> Response:
    ctx = context(request)
    ident = request.path_params["port"]
    content = await read_bytes(request, ctx.settings.max_body) \
        if request.method in ("POST", "PUT", "PATCH") else b""
    if request.method == "PATCH":
        await _check_node_move(request, ident, content)
    located, reply = await forward(request, PORT, ident, content=content or None)
    if reply.ok and reply.content:
        remember(ctx, PORT, located.site, reply.json())
    elif reply.ok and request.method == "DELETE":
        ctx.ports.forget(located.uuid)
    return relay(reply, located.site, request)
