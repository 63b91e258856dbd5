"""/v1/nodes/{node}/children (API 1.83): the UUIDs of the nodes whose parent it is."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ingot.api.context import base_url, context, version
from ingot.api.errors import NotFound
from ingot.api.lookup import find_node
from ingot.api.responses import json_response
from ingot.db import nodes


async def list_children(request: Request) -> Response:
    if version(request).minor < 83:
        raise NotFound("Child nodes need API version 1.83 or later.")
    with context(request).db.read() as conn:
        parent = find_node(conn, request.path_params["node"])
        children = nodes.children(conn, parent.uuid)
    base = base_url(request)
    return json_response({
        "children": children,
        "links": [{"href": f"{base}/v1/nodes/?parent_node={parent.uuid}", "rel": "children"}],
    })
