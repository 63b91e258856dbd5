"""API errors and Ironic's error body.

Ironic answers errors with ``{"error_message": "<JSON string>"}`` whose inner
object holds ``faultstring``; openstacksdk and the baremetal CLI print that string,
so every ingot error uses the same shape.
"""

from __future__ import annotations

import orjson
from starlette.responses import Response


class ApiError(Exception):
    status = 400
    faultcode = "Client"

    def __init__(self, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.headers = headers or {}


class BadRequest(ApiError):
    status = 400


class Unauthorized(ApiError):
    status = 401


class Forbidden(ApiError):
    status = 403


class NotFound(ApiError):
    status = 404


class MethodNotAllowed(ApiError):
    status = 405


class NotAcceptable(ApiError):
    status = 406


class Conflict(ApiError):
    status = 409


class PayloadTooLarge(ApiError):
    status = 413


class ServiceUnavailable(ApiError):
    status = 503
    faultcode = "Server"


def error_body(message: str, faultcode: str = "Client") -> bytes:
    inner = orjson.dumps({"faultcode": faultcode, "faultstring": message, "debuginfo": None})
    return orjson.dumps({"error_message": inner.decode()})


def error_response(status: int, message: str, faultcode: str = "Client",
                   headers: dict[str, str] | None = None) -> Response:
    return Response(error_body(message, faultcode), status_code=status, headers=headers,
                    media_type="application/json")

