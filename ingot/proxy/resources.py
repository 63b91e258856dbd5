"""Portgroups, chassis, volume connectors/targets, allocations, deploy templates,
runbooks and inspection rules through the proxy.

Node-owned ones (portgroups, volume connectors and targets) are created at their node's
site and listed there when a node filter names it; chassis, deploy templates, runbooks
and inspection rules belong to no node, so a new one goes to the site of the default
conductor group (400 naming the mapped groups when there is none); an allocation goes
where its nodes are (at_allocation_site). Every list without a node is merged across
sites, and an item is routed to the site that holds it, found as nodes and ports are.
Deleting every inspection rule is asked of every site.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ingot.api.body import read_bytes
from ingot.api.errors import BadRequest, ServiceUnavailable
from ingot.proxy.context import context
from ingot.proxy.fanout import fan_out
from ingot.proxy.listing import (
    ALLOCATIONS,
    CHASSIS_LIST,
    CONNECTORS,
    DEPLOY_TEMPLATES,
    INSPECTION_RULES,
    PORTGROUPS,
    RUNBOOKS,
    TARGETS,
    Collection,
    merged_listing,
)
from ingot.proxy.nodes import parse_object, site_for_group
from ingot.proxy.relay import fault, outgoing_headers, relay, site_error
from ingot.proxy.routing import (
    ALLOCATION,
    CHASSIS,
    CONNECTOR,
    DEPLOY_TEMPLATE,
    INSPECTION_RULE,
    NODE,
    PORTGROUP,
    RUNBOOK,
    TARGET,
    Kind,
    forward,
    locate,
    locator,
    remember,
    send,
)
from ingot.proxy.sites import Site, SiteReply

Handler = Callable[[Request], Any]


def list_handler(collection: Collection, kind: Kind, *, detail: bool = False,
                 node_filter: bool = True) -> Handler:
    """A merged list; with node_filter, a ``node`` filter sends it to that node's site."""
    async def handler(request: Request) -> Response:
        path = request.url.path.rstrip("/")
        node = request.query_params.get("node") if node_filter else None
        if node is None:
            return await merged_listing(request, collection, path, detail=detail)
        # A node's items live at its site, whose own next links stay valid.
        located, reply = await forward(request, NODE, node, content=None, same_path=True)
        body = reply.json() if reply.ok else None
        for item in body.get(collection.key, []) if isinstance(body, dict) else []:
            remember(context(request), kind, located.site, item)
        return relay(reply, located.site, request)
    return handler


# Where a new item goes, from the request and its parsed body.
Placement = Callable[[Request, dict[str, Any]], Awaitable[Site]]


async def at_default_group(request: Request, body: dict[str, Any]) -> Site:
    """An item that belongs to no node goes to the default conductor group's site (a
    400 naming the mapped groups when none is mapped)."""
    return site_for_group(context(request), None)


def at_node(kind: Kind) -> Placement:
    async def place(request: Request, body: dict[str, Any]) -> Site:
        node = body.get("node_uuid")
        if not isinstance(node, str) or not node:
            raise BadRequest(f"Missing required field node_uuid: the proxy places a "
                             f"{kind.label.lower()} at its node's site.")
        return (await locate(request, NODE, node)).site
    return place


async def at_allocation_site(request: Request, body: dict[str, Any]) -> Site:
    """A backfill (``node``) goes to its node's site; candidate nodes to the one site
    that holds them all, since a site can only allocate its own nodes; any other
    allocation to the default group's site, which picks among its own nodes only."""
    node = body.get("node")
    if node is not None:
        if not isinstance(node, str) or not node:
            raise BadRequest(f"Invalid node {node!r}: expected a node UUID or name.")
        return (await locate(request, NODE, node)).site
    candidates = body.get("candidate_nodes")
    if not candidates:
        return await at_default_group(request, body)
    if not isinstance(candidates, list) or \
            not all(isinstance(c, str) and c for c in candidates):
        raise BadRequest("Invalid candidate_nodes: expected a list of node UUIDs or names.")
    found = {c: (await locate(request, NODE, c)).site for c in candidates}
    if len({site.name for site in found.values()}) > 1:
        raise BadRequest("The candidate_nodes are at several sites (" + ", ".join(
            f"{c} at {site.name}" for c, site in found.items()) + "); an allocation is "
            "made at one site: name candidates of one site only.")
    return next(iter(found.values()))


def create_handler(kind: Kind, place: Placement) -> Handler:
    async def handler(request: Request) -> Response:
        ctx = context(request)
        raw = await read_bytes(request, ctx.settings.max_body)
        site = await place(request, parse_object(raw, kind.label.lower()))
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


def item_handler(kind: Kind, param: str, *, on_node: bool = False) -> Handler:
    """GET/PATCH/DELETE of one item, and its sub-paths (a chassis' or portgroup's
    nodes or ports, a runbook's traits), at the site that holds it. An item on_node
    cannot be patched onto a node of another site."""
    async def handler(request: Request) -> Response:
        ctx = context(request)
        ident = request.path_params[param]
        rest = request.path_params.get("rest", "").strip("/")
        content = await read_bytes(request, ctx.settings.max_body) \
            if request.method in ("POST", "PUT", "PATCH") else b""
        if request.method == "PATCH" and on_node:
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
create_portgroup = create_handler(PORTGROUP, at_node(PORTGROUP))
portgroup_request = item_handler(PORTGROUP, "portgroup", on_node=True)
list_chassis = list_handler(CHASSIS_LIST, CHASSIS, node_filter=False)
list_chassis_detail = list_handler(CHASSIS_LIST, CHASSIS, detail=True, node_filter=False)
create_chassis = create_handler(CHASSIS, at_default_group)
chassis_request = item_handler(CHASSIS, "chassis")
list_connectors = list_handler(CONNECTORS, CONNECTOR)
create_connector = create_handler(CONNECTOR, at_node(CONNECTOR))
connector_request = item_handler(CONNECTOR, "connector", on_node=True)
list_targets = list_handler(TARGETS, TARGET)
create_target = create_handler(TARGET, at_node(TARGET))
target_request = item_handler(TARGET, "target", on_node=True)
list_allocations = list_handler(ALLOCATIONS, ALLOCATION)
create_allocation = create_handler(ALLOCATION, at_allocation_site)
allocation_request = item_handler(ALLOCATION, "allocation")
list_deploy_templates = list_handler(DEPLOY_TEMPLATES, DEPLOY_TEMPLATE, node_filter=False)
create_deploy_template = create_handler(DEPLOY_TEMPLATE, at_default_group)
deploy_template_request = item_handler(DEPLOY_TEMPLATE, "template")
list_runbooks = list_handler(RUNBOOKS, RUNBOOK, node_filter=False)
create_runbook = create_handler(RUNBOOK, at_default_group)
runbook_request = item_handler(RUNBOOK, "runbook")
list_inspection_rules = list_handler(INSPECTION_RULES, INSPECTION_RULE, node_filter=False)
create_inspection_rule = create_handler(INSPECTION_RULE, at_default_group)
inspection_rule_request = item_handler(INSPECTION_RULE, "rule")


async def delete_inspection_rules(request: Request) -> Response:
    """DELETE /v1/inspection_rules at every site, each removing its own operator rules:
    204 once all did; a site's refusal (the same request at every site, so the first
    one's) as it gave it; else a 503 naming the sites that did not (the others' rules
    stay deleted)."""
    ctx = context(request)
    headers = outgoing_headers(request)

    async def delete(site: Site) -> SiteReply:
        return await site.request("DELETE", INSPECTION_RULES.path, params=request.url.query,
                                  headers=headers)
    fan = await fan_out(ctx.sites, delete, ctx.versions, "DELETE /v1/inspection_rules")
    refused = [reply for reply in fan.results.values() if 400 <= reply.status < 500]
    if refused:
        raise site_error(refused[0])
    failed = dict(fan.failures)
    failed.update((name, f"answered {reply.status}: {fault(reply) or 'no Ironic error'}")
                  for name, reply in fan.results.items() if reply.status >= 300)
    if failed:
        done = [name for name in fan.results if name not in failed]
        raise ServiceUnavailable(
            "Inspection rules were not deleted at site(s) " + "; ".join(
                f"{name} ({why})" for name, why in failed.items())
            + f"; deleted at: {', '.join(done) or 'none'}.", headers=fan.headers())
    return Response(status_code=204)
