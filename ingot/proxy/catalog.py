"""/v1/drivers, /v1/conductors and /v1/shards through the proxy: what every site has,
merged.

A driver's hosts are the union of the sites' conductors running it; a conductor is
shown by the first site (in name order) that has one of that hostname; a shard's count
is the sum of the sites' counts for that name (a shard name may be used at several
sites).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ingot.api.errors import NotFound, ServiceUnavailable
from ingot.proxy.context import context
from ingot.proxy.fanout import FanOut, fan_out
from ingot.proxy.listing import CONDUCTORS, merged_listing
from ingot.proxy.relay import (
    base_url,
    json_response,
    outgoing_headers,
    relay,
    site_error,
    version,
)
from ingot.proxy.sites import Site, SiteFailure, SiteReply

SHARDS_MINOR = 82


def _getter(request: Request, path: str) -> Callable[[Site], Awaitable[SiteReply]]:
    headers = outgoing_headers(request)
    query = request.url.query

    async def get(site: Site) -> SiteReply:
        reply = await site.request("GET", path, params=query, headers=headers)
        if reply.status >= 500:
            raise SiteFailure(site.name, f"answered {reply.status}", unreachable=False)
        return reply
    return get


async def _ask_all(request: Request, path: str) -> FanOut[SiteReply]:
    ctx = context(request)
    fan = await fan_out(ctx.sites, _getter(request, path), ctx.versions,
                        f"GET {request.url.path}")
    if fan.failures and (not ctx.settings.partial_listings or not fan.results):
        raise ServiceUnavailable(f"The answer would be incomplete: site(s) "
                                 f"{', '.join(fan.failures)} did not answer "
                                 f"({fan.describe_failures()}).", headers=fan.headers())
    return fan


def _ok(fan: FanOut[SiteReply], request: Request) -> list[tuple[Site, SiteReply]]:
    ctx = context(request)
    return [(site, fan.results[site.name]) for site in ctx.sites
            if site.name in fan.results and fan.results[site.name].status == 200]


def _refused(fan: FanOut[SiteReply], found: str) -> Exception:
    """The error when no site has it: a site's own refusal, or a 404."""
    errors = [reply for reply in fan.results.values() if reply.status not in (200, 404)]
    return site_error(errors[0]) if errors else NotFound(f"{found} could not be found.")


def _merge_driver(into: dict[str, Any] | None, driver: dict[str, Any]) -> dict[str, Any]:
    if into is None:
        return driver
    into["hosts"] = sorted(set(into.get("hosts", [])) | set(driver.get("hosts", [])))
    return into


async def list_drivers(request: Request) -> Response:
    fan = await _ask_all(request, "/v1/drivers")
    answered = _ok(fan, request)
    if not answered and fan.results:
        raise _refused(fan, "Drivers")
    base = base_url(request)
    drivers: dict[str, dict[str, Any]] = {}
    for site, reply in answered:
        for driver in orjson.loads(site.public_json(reply.content, base)).get("drivers", []):
            drivers[driver["name"]] = _merge_driver(drivers.get(driver["name"]), driver)
    return json_response({"drivers": [drivers[name] for name in sorted(drivers)]},
                         headers=fan.headers())


async def show_driver(request: Request) -> Response:
    name = request.path_params["driver"]
    fan = await _ask_all(request, f"/v1/drivers/{quote(name, safe='')}")
    merged: dict[str, Any] | None = None
    base = base_url(request)
    for site, reply in _ok(fan, request):
        merged = _merge_driver(merged, orjson.loads(site.public_json(reply.content, base)))
    if merged is None:
        raise _refused(fan, f"Driver {name}")
    return json_response(merged, headers=fan.headers())


async def _first(request: Request, path: str, found: str) -> Response:
    fan = await _ask_all(request, path)
    answered = _ok(fan, request)
    if not answered:
        raise _refused(fan, found)
    site, reply = answered[0]
    return relay(reply, site, request, headers=fan.headers())


async def driver_subresource(request: Request) -> Response:
    name = request.path_params["driver"]
    rest = request.path_params["rest"].strip("/")
    return await _first(request, f"/v1/drivers/{quote(name, safe='')}/{rest}",
                        f"Driver {name}")


async def list_conductors(request: Request) -> Response:
    return await merged_listing(request, CONDUCTORS, "/v1/conductors")


async def show_conductor(request: Request) -> Response:
    hostname = request.path_params["hostname"]
    return await _first(request, f"/v1/conductors/{quote(hostname, safe='')}",
                        f"Conductor {hostname}")


async def list_shards(request: Request) -> Response:
    if version(request).minor < SHARDS_MINOR:
        raise NotFound("The API version does not allow shards.")
    fan = await _ask_all(request, "/v1/shards")
    answered = _ok(fan, request)
    if not answered and fan.results:
        raise _refused(fan, "Shards")
    counts: dict[str, int] = {}
    for _, reply in answered:
        body = reply.json()
        for shard in body.get("shards", []) if isinstance(body, dict) else []:
            name = str(shard.get("name"))
            counts[name] = counts.get(name, 0) + int(shard.get("count") or 0)
    return json_response({"shards": [{"name": name, "count": counts[name]}
                                     for name in sorted(counts)]}, headers=fan.headers())
