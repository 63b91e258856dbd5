"""/v1/nodes through the proxy: create by conductor group, list across sites, and every
``/v1/nodes/{node}[/...]`` request routed to the node's site."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ingot.api.body import read_bytes
from ingot.api.errors import BadRequest
from ingot.proxy.context import ProxyContext, context
from ingot.proxy.listing import NODES, PORTS, merged_listing
from ingot.proxy.relay import relay
from ingot.proxy.routing import NODE, PORT, forward, locate, remember, send
from ingot.proxy.sites import Site

_WITH_BODY = ("POST", "PUT", "PATCH")


def parse_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        body = orjson.loads(raw) if raw.strip() else None
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"Malformed JSON body: {exc}.") from None
    if not isinstance(body, dict):
        raise BadRequest(f"Expected a JSON object describing the {what}.")
    return body


def site_for_group(ctx: ProxyContext, group: Any) -> Site:
    if group is None:
        group = ""
    if not isinstance(group, str):
        raise BadRequest(f"Invalid conductor_group {group!r}: expected a string.")
    site = ctx.groups.get(group.lower())
    if site is None:
        shown = f'"{group}"' if group else 'the default conductor group ("")'
        raise BadRequest(f"Conductor group {shown} is not mapped to any site by this proxy; "
                         f"mapped groups: {ctx.mapped_groups()} (_ is the default group).")
    return site


def _sites_for_filter(request: Request) -> list[Site] | None:
    """A conductor_group filter lives at one site only: ask just that one."""
    group = request.query_params.get("conductor_group")
    if group is None:
        return None
    site = context(request).groups.get(group.lower())
    return [site] if site else []


async def list_nodes(request: Request) -> Response:
    return await merged_listing(request, NODES, "/v1/nodes", sites=_sites_for_filter(request))


async def list_nodes_detail(request: Request) -> Response:
    return await merged_listing(request, NODES, "/v1/nodes/detail", detail=True,
                                sites=_sites_for_filter(request))


async def create_node(request: Request) -> Response:
    ctx = context(request)
    raw = await read_bytes(request, ctx.settings.max_body)
    body = parse_object(raw, "node")
    site = site_for_group(ctx, body.get("conductor_group"))
    reply = await send(request, site, "POST", "/v1/nodes", query=request.url.query,
                       content=raw)
    if reply.status == 201:
        remember(ctx, NODE, site, reply.json())
    return relay(reply, site, request)


async def _check_group_move(request: Request, ident: str, raw: bytes) -> None:
    """Refuse a conductor_group change that would need the node at another site."""
    try:
        operations = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return  # the site answers with its own message
    if not isinstance(operations, list):
        return
    for operation in operations:
        if not isinstance(operation, dict) or \
                str(operation.get("path", "")).rstrip("/") != "/conductor_group":
            continue
        group = operation.get("value") if operation.get("op") in ("add", "replace") else ""
        target = site_for_group(context(request), group)
        located = await locate(request, NODE, ident)
        if target is not located.site:
            raise BadRequest(f"Node {ident} is at site {located.site.name}; conductor group "
                             f"\"{group}\" belongs to site {target.name}, and nodes cannot "
                             f"move between sites.")


async def node_request(request: Request) -> Response:
    ctx = context(request)
    ident = request.path_params["node"]
    rest = request.path_params.get("rest", "").strip("/")
    content = await read_bytes(request, ctx.settings.max_body) \
        if request.method in _WITH_BODY else b""
    if request.method == "PATCH" and not rest:
        await _check_group_move(request, ident, content)
    located, reply = await forward(request, NODE, ident, f"/{rest}" if rest else "",
                                   content=content or None)
    if reply.ok and reply.content and not rest:
        remember(ctx, NODE, located.site, reply.json())
    elif reply.ok and not rest and request.method == "DELETE":
        ctx.nodes.forget(located.uuid)
    elif reply.ok and request.method == "GET" and rest in ("ports", "ports/detail"):
        body = reply.json()
        for port in body.get(PORTS.key, []) if isinstance(body, dict) else []:
            remember(ctx, PORT, located.site, port)
    return relay(reply, located.site, request)
