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
    field = _nul_field(value)
    if field is not None:
        raise BadRequest(f"{field} contains a NUL character (\\u0000), which cannot be "
                         f"stored.")
    return value


async def read_object(request: Request, limit: int, max_depth: int = 25) -> dict[str, Any]:
    value = await read_json(request, limit, max_depth)
    if not isinstance(value, dict):
        raise BadRequest(f"Expected a JSON object as request body, got "
                         f"{type(value).__name__}.")
    return value


def _nul_field(value: Any) -> str | None:
    """Where the first string (key or value) holding a NUL character is, if any:
    ``driver_info.x``, or the ``path`` of a JSON patch operation."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return where or "The request body"
        elif isinstance(item, dict):
            for key, child in item.items():
                if "\x00" in key:
                    return f"A key of {where or 'the request body'}"
                stack.append((child, f"{where}.{key}" if where else key))
        elif isinstance(item, list):
            for index, child in enumerate(item):
                op_path = child.get("path") if isinstance(child, dict) else None
                if not where and isinstance(op_path, str) and "\x00" not in op_path:
                    # A JSON patch operation: name the field it changes.
                    stack.extend((part, op_path) for part in child.values())
                else:
                    stack.append((child, f"{where}[{index}]"))
    return None


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
