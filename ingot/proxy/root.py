"""Version discovery through the proxy: GET / and GET /v1, in Ironic's shapes, with the
range every answering site supports."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ingot.api.errors import NotFound
from ingot.api.root import v1_document, version_document
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


# Resources of a site the proxy does not route: agents talk to their own site's lookup,
# heartbeat and inspection endpoints, never to the hub.
NOT_ROUTED = ("lookup", "heartbeat", "continue_inspection")


async def v1(request: Request) -> Response:
    supported = context(request).versions.current()
    assert supported is not None  # the middleware answered 503 otherwise
    # No links to the resources it does not route.
    return json_response(v1_document(base_url(request), version(request).minor, supported,
                                      agent_endpoints=False, omit=NOT_ROUTED))


async def volume(request: Request) -> Response:
    """/v1/volume (API 1.32): links to the merged connector and target lists."""
    if version(request).minor < 32:
        raise NotFound(f"The resource could not be found: {request.url.path}")
    base = base_url(request)

    def links(suffix: str) -> list[dict[str, str]]:
        return [{"href": f"{base}/v1/volume/{suffix}", "rel": "self"},
                {"href": f"{base}/volume/{suffix}", "rel": "bookmark"}]

    return json_response({"links": links(""), "connectors": links("connectors"),
                          "targets": links("targets")})
