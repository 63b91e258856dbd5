"""The dashboard of `ingot proxy`: the same pages across sites, which sites answer, and
the fleet's counts summed over the sites that give them.

Tables come from the proxy's own merged listings; a node's site is the one its conductor
group maps to. Counts come from each site's /ui/api/summary (an ingot site; an Ironic
site has none and is shown without counts).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ingot.ui import pages

if TYPE_CHECKING:
    from ingot.proxy.context import ProxyContext
    from ingot.proxy.sites import Site

LOG = logging.getLogger(__name__)


def _ctx(request: Request) -> ProxyContext:
    ctx: ProxyContext = request.app.state.ctx
    return ctx


async def _sites(request: Request) -> Response:
    """Every site, asked now whether it answers, and the groups each serves."""
    ctx = _ctx(request)
    await ctx.versions.refresh()
    groups: dict[str, list[str]] = {site.name: [] for site in ctx.sites}
    for group, site in sorted(ctx.groups.items()):
        groups[site.name].append(group)
    return JSONResponse({
        "sites": [{"name": site.name, "up": site.up, "reason": site.down_reason,
                   "groups": groups[site.name]} for site in ctx.sites],
        "groups": {group: site.name for group, site in ctx.groups.items()}},
        headers={"Cache-Control": "no-store"})


async def _site_summary(site: Site) -> dict[str, Any] | None:
    try:
        async with asyncio.timeout(site.timeout):
            reply = await site.request("GET", "/ui/api/summary")
        body = reply.json() if reply.ok else None
    except Exception as exc:
        # Counts are a best effort per site: a site that cannot give them shows none,
        # and the sites endpoint says whether it answers at all.
        LOG.info("Site %s gave no node counts: %s", site.name, exc.__class__.__name__)
        return None
    return body if isinstance(body, dict) else None


async def _summary(request: Request) -> Response:
    ctx = _ctx(request)
    live = [site for site in ctx.sites if site.up]
    found = dict(zip((site.name for site in live),
                     await asyncio.gather(*(_site_summary(site) for site in live)),
                     strict=True))
    total: dict[str, Any] = {"total": 0, "maintenance": 0, "provision_state": Counter(),
                             "power_state": Counter()}
    for body in found.values():
        if body is None:
            continue
        total["total"] += int(body.get("total", 0))
        total["maintenance"] += int(body.get("maintenance", 0))
        for key in ("provision_state", "power_state"):
            total[key].update(body.get(key) or {})
    total["sites"] = {site.name: (found.get(site.name) or {}).get("total")
                      for site in ctx.sites}
    return JSONResponse(total, headers={"Cache-Control": "no-store"})


def routes(auth: pages.Authenticate) -> list[BaseRoute]:
    return pages.routes(auth, [
        Route("/summary", pages.guarded(auth, _summary), methods=["GET"]),
        Route("/sites", pages.guarded(auth, _sites), methods=["GET"]),
    ], multisite=True)
