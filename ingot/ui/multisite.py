"""The dashboard of `ingot proxy`: the same pages across sites, which sites answer, and
the fleet's counts summed over the sites that give them.

Tables come from the proxy's own merged listings; a node's site is the one its conductor
group maps to. Counts come from each site's /ui/api/summary and live updates from each
site's /ui/api/events, relayed (an ingot site; an Ironic site has neither and is shown
without counts or live rows).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from ingot.ui import events, pages

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


class SiteEvents(events.Broadcast):
    """Every site's own event stream (an ingot site's /ui/api/events), one connection
    per site for all of this process's viewers, relayed with the site's name."""

    def __init__(self, sites: Sequence[Site], *, retry: float = 2.0, absent: float = 60.0):
        super().__init__()
        self.sites = sites
        self.retry = retry
        self.absent = absent  # a site without a dashboard (Ironic) is asked again after

    async def _run(self) -> None:
        followers = [asyncio.create_task(self._follow(site)) for site in self.sites]
        try:
            while self._queues:
                await asyncio.sleep(self.retry)
        finally:
            for follower in followers:
                follower.cancel()
            await asyncio.gather(*followers, return_exceptions=True)

    async def _follow(self, site: Site) -> None:
        while True:
            wait = self.retry
            try:
                async with site.stream("/ui/api/events") as response:
                    if response.status_code != 200:
                        wait = self.absent
                    else:
                        await self._relay(site.name, response.aiter_text())
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Down or gone: the sites endpoint says so; the stream is tried again.
                LOG.debug("Event stream of site %s ended: %s", site.name,
                          exc.__class__.__name__)
            await asyncio.sleep(wait)

    async def _relay(self, site: str, chunks: AsyncIterator[str]) -> None:
        buffer = ""
        async for chunk in chunks:
            buffer += chunk
            while "\n\n" in buffer:
                block, buffer = buffer.split("\n\n", 1)
                name, data = _parse(block)
                if name == "node" and isinstance(data, dict):
                    self.publish("node", {**data, "site": site})
                elif name == "reload":
                    self.publish("reload", {"site": site})


def _parse(block: str) -> tuple[str, Any]:
    name, data = "message", ""
    for line in block.split("\n"):
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data += line[5:].strip()
    try:
        return name, orjson.loads(data) if data else None
    except orjson.JSONDecodeError:
        return name, None


def _site_events(request: Request) -> SiteEvents:
    state = request.app.state
    relay: SiteEvents | None = getattr(state, "ui_site_events", None)
    if relay is None:
        relay = SiteEvents(_ctx(request).sites)
        state.ui_site_events = relay
    return relay


async def _events(request: Request) -> Response:
    return StreamingResponse(events.stream(_site_events(request)),
                             media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def routes(auth: pages.Authenticate) -> list[BaseRoute]:
    return pages.routes(auth, [
        Route("/summary", pages.guarded(auth, _summary), methods=["GET"]),
        Route("/sites", pages.guarded(auth, _sites), methods=["GET"]),
        Route("/events", pages.guarded(auth, _events), methods=["GET"]),
    ], multisite=True)
