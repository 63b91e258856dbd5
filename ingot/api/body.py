"""Reading JSON request bodies within size and nesting limits."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from ingot.api.errors import BadRequest, PayloadTooLarge


async def read_bytes(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it is known to exceed limit."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise PayloadTooLarge(f"Request body of {length} bytes exceeds the limit of "
                              f"{limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"Request body exceeds the limit of {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request, limit: int, max_depth: int = 25) -> Any:
    raw = await read_bytes(request, limit)
    if not raw.strip():
        raise BadRequest("The request needs a JSON body.")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"Malformed JSON body: {exc}.") from None
    if _depth(value) > max_depth:
        raise BadRequest(f"JSON body nests deeper than {max_depth} levels.")
    return value


async def read_object(request: Request, limit: int, max_depth: int = 25) -> dict[str, Any]:
    value = await read_json(request, limit, max_depth)
    if not isinstance(value, dict):
        raise BadRequest(f"Expected a JSON object as request body, got "
                         f"{type(value).__name__}.")
    return value


def _depth(value: Any) -> int:
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in item)
    return deepest
