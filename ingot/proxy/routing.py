"""Finding the site that holds a node, port or other routed item, and sending a request there.

The locator cache answers first; on a miss every site is asked at once. A site that
answers 404 for a cached entry (the resource was deleted or re-created elsewhere
behind the proxy's back) has the entry dropped, and the lookup is done again.
"""

from __future__ import annotations

import dataclasses
import logging
from urllib.parse import quote

from starlette.requests import Request

from ingot.api.errors import Conflict, NotFound, ServiceUnavailable
from ingot.api.validation import looks_like_uuid
from ingot.proxy.context import ProxyContext, context
from ingot.proxy.fanout import fan_out
from ingot.proxy.locator import Locator
from ingot.proxy.relay import outgoing_headers, site_error, version
from ingot.proxy.sites import Site, SiteFailure, SiteReply

LOG = logging.getLogger("ingot.proxy")


@dataclasses.dataclass(frozen=True, slots=True)
class Kind:
    label: str  # as in messages: "Node"
    path: str  # collection path: "/v1/nodes"
    named: bool  # can be addressed by name


NODE = Kind("Node", "/v1/nodes", True)
PORT = Kind("Port", "/v1/ports", False)
PORTGROUP = Kind("Portgroup", "/v1/portgroups", True)
CHASSIS = Kind("Chassis", "/v1/chassis", False)
CONNECTOR = Kind("Volume connector", "/v1/volume/connectors", False)
TARGET = Kind("Volume target", "/v1/volume/targets", False)
ALLOCATION = Kind("Allocation", "/v1/allocations", True)
DEPLOY_TEMPLATE = Kind("Deploy template", "/v1/deploy_templates", True)
RUNBOOK = Kind("Runbook", "/v1/runbooks", True)
INSPECTION_RULE = Kind("Inspection rule", "/v1/inspection_rules", False)


@dataclasses.dataclass(frozen=True, slots=True)
class Located:
    site: Site
    uuid: str
    cached: bool


def locator(ctx: ProxyContext, kind: Kind) -> Locator:
    if kind is NODE:
        return ctx.nodes
    return ctx.ports if kind is PORT else ctx.others[kind.path]


def remember(ctx: ProxyContext, kind: Kind, site: Site, item: object) -> None:
    if isinstance(item, dict) and isinstance(item.get("uuid"), str):
        name = item.get("name") if kind.named else None
        locator(ctx, kind).remember(item["uuid"], site.name,
                                    name if isinstance(name, str) else None)


async def locate(request: Request, kind: Kind, ident: str, *,
                 use_cache: bool = True) -> Located:
    ctx = context(request)
    if use_cache:
        cache = locator(ctx, kind)
        site_name, uuid = cache.site_of(ident), cache.uuid_of(ident)
        site = ctx.site(site_name) if site_name else None
        if site is not None and uuid is not None:
            return Located(site, uuid, cached=True)
    return await _poll(request, kind, ident)


async def _poll(request: Request, kind: Kind, ident: str) -> Located:
    ctx = context(request)
    fields = "uuid,name" if kind.named else "uuid"
    params = [("fields", fields)] if version(request).minor >= 8 else []
    path = f"{kind.path}/{quote(ident, safe='')}"
    headers = outgoing_headers(request)

    async def ask(site: Site) -> SiteReply:
        reply = await site.request("GET", path, params=params, headers=headers)
        if reply.status >= 500:
            raise SiteFailure(site.name, f"answered {reply.status}", unreachable=False)
        return reply

    fan = await fan_out(ctx.sites, ask, ctx.versions, f"Looking up {kind.label} {ident}")
    found = [(name, reply) for name, reply in fan.results.items() if reply.status == 200]
    if len(found) > 1 and not looks_like_uuid(ident):
        raise Conflict(f"{kind.label} name {ident} is used at several sites "
                       f"({', '.join(name for name, _ in found)}); use the UUID.")
    if found:
        name, reply = found[0]
        site = ctx.site(name)
        body = reply.json()
        assert site is not None
        if not isinstance(body, dict) or not isinstance(body.get("uuid"), str):
            raise ServiceUnavailable(f"Site {name} answered a {kind.label.lower()} lookup "
                                     f"without a UUID.")
        remember(ctx, kind, site, body)
        return Located(site, body["uuid"].lower(), cached=False)
    errors = [reply for reply in fan.results.values() if reply.status != 404]
    if errors:
        raise site_error(errors[0])
    if fan.failures:
        raise ServiceUnavailable(
            f"{kind.label} {ident} was not found at the sites that answered, and site(s) "
            f"{', '.join(fan.failures)} did not ({fan.describe_failures()}); retry once "
            f"they are back.")
    raise NotFound(f"{kind.label} {ident} could not be found.")


async def send(request: Request, site: Site, method: str, path: str, *, query: str = "",
               content: bytes | None = None) -> SiteReply:
    """One request to one site; a site that does not answer is a 503 naming it."""
    ctx = context(request)
    if not site.up:
        raise ServiceUnavailable(f"Site {site.name} is down ({site.down_reason}); retry "
                                 f"once it answers again.")
    try:
        return await site.request(method, path, params=query,
                                  headers=outgoing_headers(request, body=content is not None),
                                  content=content)
    except SiteFailure as exc:
        if exc.unreachable:
            ctx.versions.mark_down(site, exc.reason)
        raise ServiceUnavailable(f"Site {site.name} did not answer: {exc.reason}.") from None


async def forward(request: Request, kind: Kind, ident: str, suffix: str = "", *,
                  content: bytes | None, same_path: bool = False) -> tuple[Located, SiteReply]:
    """Send the request to the site holding ident, re-locating it once if a cached site
    answers 404. The path names the resource by UUID (Ironic resolves names in some
    sub-paths only), or stays the caller's with same_path (a filter names it)."""
    located = await locate(request, kind, ident)
    query = request.url.query

    def path(target: Located) -> str:
        if same_path:
            return request.url.path
        return f"{kind.path}/{quote(target.uuid, safe='')}{suffix}"

    reply = await send(request, located.site, request.method, path(located), query=query,
                       content=content)
    if reply.status == 404 and located.cached:
        locator(context(request), kind).forget(located.uuid)
        LOG.info("Site %s answered 404 for %s %s: cache entry dropped, looking it up again",
                 located.site.name, kind.label.lower(), located.uuid)
        fresh = await _poll(request, kind, ident)
        if fresh.site is not located.site or fresh.uuid != located.uuid:
            reply = await send(request, fresh.site, request.method, path(fresh), query=query,
                               content=content)
        located = fresh
    return located, reply
