"""Version discovery through the proxy: GET / and GET /v1, in Ironic's shapes, with the
range every answering site supports."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ingot.api.root import resource_links, version_document
from ingot.proxy.context import context
from ingot.proxy.relay import base_url, json_response, version


def _version(request: Request) -> dict[str, Any]:
    supported = context(request).versions.current()
    assert supported is not None  # the middleware answered 503 otherwise
    return version_document(base_url(request), supported)


async def root(request: Request) -> Response:
    current = _version(request)
    return json_response({
        "name": "ingot Bare Metal proxy",
        "description": "One Bare Metal API v1 endpoint in front of several ingot and "
                       "Ironic sites.",
        "default_version": current,
        "versions": [current],
    })


async def v1(request: Request) -> Response:
    base = base_url(request)
    body: dict[str, Any] = {
        "id": "v1",
        "links": [{"href": f"{base}/v1/", "rel": "self"}],
        "media_types": {"base": "application/json",
                        "type": "application/vnd.openstack.ironic.v1+json"},
        "nodes": resource_links(base, "nodes"),
        "ports": resource_links(base, "ports"),
        "drivers": resource_links(base, "drivers"),
        "version": _version(request),
    }
    if version(request).minor >= 49:
        body["conductors"] = resource_links(base, "conductors")
    return json_response(body)
