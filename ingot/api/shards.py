"""/v1/shards (API 1.82): how many nodes each shard holds."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ingot.api.context import context, version
from ingot.api.errors import NotFound
from ingot.api.responses import json_response
from ingot.db import nodes


async def list_shards(request: Request) -> Response:
    if version(request).minor < 82:
        raise NotFound("The API version does not allow shards.")
    with context(request).db.read() as conn:
        counts = nodes.shards(conn)
    # Ironic names the nodes without a shard "None".
    return json_response({"shards": [{"name": str(name), "count": count}
                                     for name, count in counts]})
