"""Version discovery: GET / and GET /v1, in Ironic's shapes."""

from __future__ import annotations

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


def v1_document(base: str, minor: int, supported: microversion.VersionRange,
                *, agent_endpoints: bool, shards: bool = True) -> dict[str, Any]:
    """GET /v1 in Ironic's shape; the proxy serves it too, without the agent endpoints."""
    body: dict[str, Any] = {
        "id": "v1",
        "links": [{"href": f"{base}/v1/", "rel": "self"}],
        "media_types": {"base": "application/json",
                        "type": "application/vnd.openstack.ironic.v1+json"},
        "nodes": resource_links(base, "nodes"),
        "ports": resource_links(base, "ports"),
        "drivers": resource_links(base, "drivers"),
        "version": version_document(base, supported),
    }
    if agent_endpoints and minor >= 22:
        body["lookup"] = resource_links(base, "lookup")
        body["heartbeat"] = resource_links(base, "heartbeat")
    if minor >= 49:
        body["conductors"] = resource_links(base, "conductors")
    if shards and minor >= 82:
        body["shards"] = resource_links(base, "shards")
    return body


async def v1(request: Request) -> Response:
    minor = request.scope["state"]["version"].minor
    return json_response(v1_document(base_url(request), minor, microversion.INGOT,
                                      agent_endpoints=True))
