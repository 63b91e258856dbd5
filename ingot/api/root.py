"""Version discovery: GET / and GET /v1, in Ironic's shapes."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ingot.api import microversion
from ingot.api.context import base_url
from ingot.api.responses import json_response


def version_document(base: str, supported: microversion.VersionRange = microversion.INGOT
                     ) -> dict[str, Any]:
    return {"id": "v1", "links": [{"href": f"{base}/v1/", "rel": "self"}],
            "status": "CURRENT", "min_version": str(supported.low),
            "version": str(supported.high)}


async def root(request: Request) -> Response:
    base = base_url(request)
    return json_response({
        "name": "ingot Bare Metal API",
        "description": "ingot provisions bare metal machines and speaks the OpenStack Bare "
                       "Metal API v1.",
        "default_version": version_document(base),
        "versions": [version_document(base)],
    })


def resource_links(base: str, name: str) -> list[dict[str, str]]:
    return [{"href": f"{base}/v1/{name}/", "rel": "self"},
            {"href": f"{base}/{name}/", "rel": "bookmark"}]


# What GET /v1 links, each from the version that introduced it, as Ironic's does.
RESOURCES = (("chassis", 1), ("nodes", 1), ("ports", 1), ("drivers", 1), ("portgroups", 23),
             ("volume", 32), ("conductors", 49), ("allocations", 52),
             ("deploy_templates", 55), ("shards", 82), ("inspection_rules", 96))
# The ramdisk's endpoints (continue_inspection exists since 1.1 for old agents, but
# Ironic links it only from 1.84).
AGENT_RESOURCES = (("lookup", 22), ("heartbeat", 22), ("continue_inspection", 84))


def v1_document(base: str, minor: int, supported: microversion.VersionRange,
                *, agent_endpoints: bool, omit: Collection[str] = ()) -> dict[str, Any]:
    """GET /v1 in Ironic's shape; the proxy serves it too, without the agent endpoints
    and the resources it does not route (omit)."""
    body: dict[str, Any] = {
        "id": "v1",
        "links": [{"href": f"{base}/v1/", "rel": "self"}],
        "media_types": {"base": "application/json",
                        "type": "application/vnd.openstack.ironic.v1+json"},
        "version": version_document(base, supported),
    }
    linked = RESOURCES + (AGENT_RESOURCES if agent_endpoints else ())
    for name, since in linked:
        if minor >= since and name not in omit:
            body[name] = resource_links(base, name)
    return body


async def v1(request: Request) -> Response:
    minor = request.scope["state"]["version"].minor
    return json_response(v1_document(base_url(request), minor, microversion.INGOT,
                                      agent_endpoints=True))
