"""POST /v1/events through the proxy: each event to the site of the port it is about.

Networking reports port events with the port's MAC address; the site holding a port
of that address (every site is asked, one filtered listing each) gets the event. A
request whose events concern ports at several sites is split, one request per site.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ingot.api.body import read_bytes
from ingot.api.errors import ApiError, BadRequest, NotFound, ServiceUnavailable
from ingot.proxy.context import context
from ingot.proxy.fanout import fan_out
from ingot.proxy.nodes import parse_object
from ingot.proxy.relay import outgoing_headers, relay, site_error, version
from ingot.proxy.routing import send
from ingot.proxy.sites import Site, SiteFailure

EVENTS_MINOR = 54


def _events(body: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    """The events with the MAC address each is routed by."""
    events = body.get("events")
    if not isinstance(events, list) or not events:
        raise BadRequest("Expected events: a non-empty list of events.")
    routed = []
    for index, event in enumerate(events):
        if not isinstance(event, dict):
            raise BadRequest(f"Event {index} is not an object.")
        mac = event.get("mac_address")
        if not isinstance(mac, str) or not mac:
            raise BadRequest(f"Event {index} has no mac_address: the proxy sends an event "
                             f"to the site of the port with that address.")
        routed.append((event, mac.lower()))
    return routed


async def _site_of(request: Request, mac: str) -> Site:
    ctx = context(request)
    params = [("address", mac), ("fields", "uuid")]
    headers = outgoing_headers(request)

    async def holds(site: Site) -> bool:
        reply = await site.request("GET", "/v1/ports", params=params, headers=headers)
        if reply.status >= 500:
            raise SiteFailure(site.name, f"answered {reply.status}", unreachable=False)
        if reply.status != 200:
            raise site_error(reply)
        body = reply.json()
        return isinstance(body, dict) and bool(body.get("ports"))

    fan = await fan_out(ctx.sites, holds, ctx.versions, f"Looking up the port of {mac}")
    found = [site for site in ctx.sites if fan.results.get(site.name)]
    if len(found) > 1:
        raise BadRequest(f"Ports with MAC address {mac} are at several sites "
                         f"({', '.join(site.name for site in found)}); the event cannot "
                         f"be routed.")
    if found:
        return found[0]
    if fan.failures:
        raise ServiceUnavailable(f"No site that answered has a port with MAC address {mac}, "
                                 f"and site(s) {', '.join(fan.failures)} did not answer "
                                 f"({fan.describe_failures()}); retry once they are back.",
                                 headers=fan.headers())
    raise BadRequest(f"No site has a port with MAC address {mac}: the proxy sends an event "
                     f"to the site of its port.")


async def post_events(request: Request) -> Response:
    if version(request).minor < EVENTS_MINOR:
        raise NotFound(f"The resource could not be found: {request.url.path}")
    ctx = context(request)
    raw = await read_bytes(request, ctx.settings.max_body)
    events = _events(parse_object(raw, "events"))
    macs = list(dict.fromkeys(mac for _, mac in events))
    sites = dict(zip(macs, await asyncio.gather(*(_site_of(request, mac) for mac in macs)),
                     strict=True))
    by_site: dict[str, list[dict[str, Any]]] = {}
    for event, mac in events:
        by_site.setdefault(sites[mac].name, []).append(event)
    if len(by_site) == 1:
        site = next(iter(sites.values()))
        reply = await send(request, site, "POST", "/v1/events", content=raw)
        return relay(reply, site, request)
    delivered: list[str] = []
    for name, part in by_site.items():
        target = ctx.site(name)
        assert target is not None
        reply = await send(request, target, "POST", "/v1/events",
                           content=orjson.dumps({"events": part}))
        if not reply.ok:
            refused = site_error(reply)
            error = ApiError(f"Site {name} refused its events: {refused.message}" + (
                f" (the events for site(s) {', '.join(delivered)} were delivered)"
                if delivered else ""))
            error.status, error.faultcode = refused.status, refused.faultcode
            raise error
        delivered.append(name)
    return Response(status_code=204)
