"""The proxy's outermost layer: request ids, microversions against the sites' common
range, trailing slashes, and Ironic-shaped errors.

Plain ASGI, like ingot.api.middleware, whose version parsing is bound to ingot's own
fixed range; here the range is whatever the answering sites share right now.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ingot.api import microversion
from ingot.api.errors import ApiError
from ingot.api.middleware import (
    header,
    log_request,
    request_id_of,
    send_error,
    versioned_path,
)
from ingot.proxy.versions import VersionBook

LOG = logging.getLogger("ingot.proxy")


class ProxyMiddleware:
    def __init__(self, app: ASGIApp, versions: VersionBook):
        self.app = app
        self.versions = versions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path = versioned_path(scope["path"])
        if len(path) > 1 and path.endswith("/"):
            # The baremetal CLI asks for /v1/nodes/?limit=N: answer it, do not redirect.
            path = path.rstrip("/") or "/"
        if path != scope["path"]:
            scope = {**scope, "path": path}
        request_id = request_id_of(scope)
        headers = [(b"x-openstack-request-id", request_id.encode()),
                   (b"openstack-request-id", request_id.encode())]
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        status = 0
        supported = self.versions.current()
        try:
            if supported is None:
                raise ApiError("No site behind this proxy has answered version discovery "
                               "yet (or their microversion ranges do not overlap); retry "
                               "shortly.")
            headers += supported.headers()
            try:
                version = microversion.parse(
                    header(scope, b"x-openstack-ironic-api-version"),
                    header(scope, b"openstack-api-version"), supported,
                    who="every site behind this proxy")
            except ApiError:
                if scope["path"] != "/":
                    raise
                # As in Ironic, the root document answers whatever version is asked:
                # it is how a client learns the range.
                version = supported.low
        except ApiError as exc:
            status = 503 if supported is None else exc.status
            await send_error(send, status, exc.message, headers,
                             faultcode="Server" if status >= 500 else "Client")
            log_request(scope, status, started, request_id, LOG)
            return
        state["version"] = version
        headers += microversion.version_headers(version)

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = list(message.get("headers", [])) + headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except ApiError as exc:
            status = exc.status
            await send_error(send, exc.status, exc.message, headers,
                             [(k.lower().encode(), v.encode()) for k, v in exc.headers.items()],
                             faultcode=exc.faultcode)
        except Exception:
            LOG.exception("Unexpected error in %s %s (%s)", scope["method"], scope["path"],
                          request_id)
            status = 500
            await send_error(send, 500, "An internal error occurred in the proxy; its log "
                             f"has the details under request id {request_id}.", headers,
                             faultcode="Server")
        log_request(scope, status, started, request_id, LOG)
