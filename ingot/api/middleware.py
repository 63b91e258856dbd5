"""The outermost layer of the API: request ids, microversions, and errors.

Written as plain ASGI (no BaseHTTPMiddleware) because it wraps every request and
its cost shows up directly in the node GET rate.
"""

from __future__ import annotations

import logging
import os
import re
import time
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ingot.api import microversion
from ingot.api.errors import ApiError, BadRequest, NotFound, error_body

LOG = logging.getLogger("ingot.api")

_REQUEST_ID = re.compile(r"^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def request_id_of(scope: Scope) -> str:
    """The caller's X-OpenStack-Request-Id if well formed (proxies forward it), or new."""
    incoming = header(scope, b"x-openstack-request-id")
    return incoming if incoming and _REQUEST_ID.match(incoming) else new_request_id()


def new_request_id() -> str:
    """req- and a random (version 4) UUID, as Ironic's; written from the random bytes
    directly, at a third of uuid.uuid4()'s cost, which every request pays."""
    h = os.urandom(16).hex()
    variant = "89ab"[int(h[16], 16) & 3]
    return f"req-{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{h[20:]}"


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


# The supported range, on every response.
_RANGE_HEADERS = microversion.INGOT.headers()


class ApiMiddleware:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_of(scope)
        common = [(b"x-openstack-request-id", request_id.encode()),
                  (b"openstack-request-id", request_id.encode()),
                  *_RANGE_HEADERS]
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        status_seen = 0

        try:
            version = microversion.parse(header(scope, b"x-openstack-ironic-api-version"),
                                         header(scope, b"openstack-api-version"))
        except ApiError as exc:
            await send_error(send, exc.status, exc.message, common)
            log_request(scope, exc.status, started, request_id)
            return
        state["version"] = version
        scope = routed(scope, version)
        extra = common + microversion.version_headers(version)
        refused = refuse_nul(scope)
        if refused is not None:
            await send_error(send, refused.status, refused.message, extra)
            log_request(scope, refused.status, started, request_id)
            return

        async def send_with_headers(message: Message) -> None:
            nonlocal status_seen
            if message["type"] == "http.response.start":
                status_seen = message["status"]
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except ApiError as exc:
            status_seen = exc.status
            await send_error(send, exc.status, exc.message, extra,
                              [(k.lower().encode(), v.encode()) for k, v in exc.headers.items()],
                              faultcode=exc.faultcode)
        except Exception:
            LOG.exception("Unexpected error in %s %s (%s)", scope["method"], scope["path"],
                          request_id)
            status_seen = 500
            await send_error(send, 500, "An internal error occurred; the service log has "
                              f"the details under request id {request_id}.", extra,
                              faultcode="Server")
        log_request(scope, status_seen, started, request_id)


# The request state's flag that routed() took a ".json" off the path.
JSON_SUFFIX = "json_suffix"
# ingot's own document, which Ironic does not have: its suffix is its name.
OPENAPI_PATH = "/v1/openapi.json"


# The first path segments that are not v1's resources: v1 itself and the dashboard.
OWN_ROOTS = ("v1", "ui")


def versioned_path(path: str) -> str:
    """The path as /v1 routes it. Ironic sends a path that does not start with a
    version to v1 (tempest's client asks for //nodes/{node}/allocation and
    drivers/{driver}/properties), and ignores empty leading segments."""
    rest = path.lstrip("/")
    if not rest or rest.split("/", 1)[0] in OWN_ROOTS:
        return "/" + rest
    return "/v1/" + rest


def routed(scope: Scope, version: microversion.Version) -> Scope:
    """The scope with the path ingot's routes match: versioned, and, for a request that
    names a version older than 1.91, without a trailing ".json" (Ironic's relic of
    format suffixes: /v1/nodes/{node}.json is the node)."""
    path = versioned_path(scope["path"])
    explicit = (header(scope, b"x-openstack-ironic-api-version") is not None
                or header(scope, b"openstack-api-version") is not None)
    if explicit and version.minor < microversion.NO_JSON_SUFFIX_MINOR:
        trimmed = path.rstrip("/")
        if trimmed.endswith(".json") and trimmed != OPENAPI_PATH:
            path = trimmed.removesuffix(".json")
            scope["state"][JSON_SUFFIX] = True
    if path == scope["path"]:
        return scope
    return {**scope, "path": path}


def refuse_nul(scope: Scope) -> ApiError | None:
    """NUL characters in the path or the query string, which no database can store or
    match (PostgreSQL refuses them): a path holding one names nothing (404), a query
    parameter is a 400 naming it. The same answer on every database."""
    if "\x00" in scope["path"]:
        return NotFound(f"The resource could not be found: {scope['path']!r}")
    query = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:
        for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            if "\x00" in name or "\x00" in value:
                return BadRequest(f"Query parameter {name!r} contains a NUL character.")
    return None


async def send_error(send: Send, status: int, message: str, headers: list[tuple[bytes, bytes]],
                     more: list[tuple[bytes, bytes]] | None = None,
                     faultcode: str = "Client") -> None:
    body = error_body(message, faultcode)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            *headers, *(more or [])]})
    await send({"type": "http.response.body", "body": body})


def log_request(scope: Scope, status: int, started: float, request_id: str,
                log: logging.Logger = LOG) -> None:
    if log.isEnabledFor(logging.DEBUG):
        # Only the path: query strings can carry markers but never secrets, bodies are
        # never logged.
        log.debug("%s %s -> %s in %.1f ms (%s)", scope["method"], scope["path"], status,
                  (time.perf_counter() - started) * 1000, request_id)
