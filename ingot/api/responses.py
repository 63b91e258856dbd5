"""How the API and the proxy answer: JSON bodies and Starlette's own HTTP errors.

A leaf: it imports nothing beyond api/errors.py, so `ingot proxy` can use it without
loading the database, drivers or config drive code.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ingot.api.errors import error_response


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None
                  ) -> Response:
    return Response(orjson.dumps(body), status_code=status, headers=headers,
                    media_type="application/json")


async def http_exception_handler(request: Request, exc: Exception) -> Response:
    """Starlette's 404/405 (no route, wrong method) in Ironic's error body."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message = f"The resource could not be found: {request.url.path}"
    elif exc.status_code == 405:
        message = f"Method {request.method} is not allowed on {request.url.path}."
    else:
        message = str(exc.detail)
    return error_response(exc.status_code, message,
                          headers=dict(exc.headers) if exc.headers else None)
