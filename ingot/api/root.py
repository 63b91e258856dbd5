"""Version discovery: GET / and GET /v1, in Ironic's shapes."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ingot.api import microversion
from ingot.api.context import base_url
from ingot.api.nodes import json_response


def _version(base: str) -> dict[str, Any]:
    return {"id": "v1", "links": [{"href": f"{base}/v1/", "rel": "self"}],
            "status": "CURRENT", "min_version": str(microversion.MIN),
            "version": str(microversion.MAX)}


async def root(request: Request) -> Response:
    base = base_url(request)
    return json_response({
        "name": "ingot Bare Metal API",
        "description": "ingot provisions bare metal machines and speaks the OpenStack Bare "
                       "Metal API v1.",
        "default_version": _version(base),
        "versions": [_version(base)],
    })


def _resource(base: str, name: str) -> list[dict[str, str]]:
    return [{"href": f"{base}/v1/{name}/", "rel": "self"},
            {"href": f"{base}/{name}/", "rel": "bookmark"}]


async def v1(request: Request) -> Response:
    base = base_url(request)
    minor = request.scope["state"]["version"].minor
    body: dict[str, Any] = {
        "id": "v1",
        "links": [{"href": f"{base}/v1/", "rel": "self"}],
        "media_types": {"base": "application/json",
                        "type": "application/vnd.openstack.ironic.v1+json"},
        "nodes": _resource(base, "nodes"),
        "ports": _resource(base, "ports"),
        "drivers": _resource(base, "drivers"),
        "version": _version(base),
    }
    if minor >= 22:
        body["lookup"] = _resource(base, "lookup")
        body["heartbeat"] = _resource(base, "heartbeat")
    if minor >= 49:
        body["conductors"] = _resource(base, "conductors")
    return json_response(body)
