"""What goes to a site with a request, and what comes back to the caller from a site.

The caller's microversion and request id go to the site; the caller's credentials do
not (each site has its own, from its [group:SITE] section). Links in answers are made
to point at the proxy, and a site's error keeps Ironic's shape so clients print it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response

from ingot.api.errors import ApiError, error_response
from ingot.api.microversion import Version
from ingot.proxy.sites import Site, SiteReply

# Headers of a site's answer that reach the caller. Version and request id headers are
# the proxy's own (its middleware sets them); a site's 401 concerns the proxy's
# credentials, never the caller's, so its challenge is not relayed either.
_RELAYED = ("content-type", "location", "retry-after")


def version(request: Request) -> Version:
    value: Version = request.scope["state"]["version"]
    return value


def outgoing_headers(request: Request, *, body: bool = False) -> dict[str, str]:
    state = request.scope["state"]
    value = str(state["version"])
    headers = {"X-OpenStack-Ironic-API-Version": value,
               "OpenStack-API-Version": f"baremetal {value}",
               "X-OpenStack-Request-Id": state["request_id"],
               "Accept": "application/json", "User-Agent": "ingot-proxy"}
    if body:
        headers["Content-Type"] = request.headers.get("content-type", "application/json")
    return headers


def base_url(request: Request) -> str:
    public: str | None = request.app.state.ctx.settings.public_endpoint
    if public:
        return public.rstrip("/")
    return str(request.base_url).rstrip("/")


def fault(reply: SiteReply) -> str | None:
    """The faultstring of a site's Ironic-shaped error body, if it is one."""
    try:
        body = reply.json()
        inner = body["error_message"]
        if isinstance(inner, str):
            inner = orjson.loads(inner)
        return str(inner["faultstring"])
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None


def site_error(reply: SiteReply) -> ApiError:
    """A site's error answer as an ApiError with the same status and message."""
    message = fault(reply) or f"Site {reply.site} answered {reply.status}: " \
        f"{reply.content[:200].decode(errors='replace')}"
    error = ApiError(message)
    error.status = reply.status
    if reply.status >= 500:
        error.faultcode = "Server"
    return error


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None,
                  background: BackgroundTask | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, headers=dict(headers or {}),
                    media_type="application/json", background=background)


def relay(reply: SiteReply, site: Site, request: Request,
          headers: Mapping[str, str] | None = None) -> Response:
    """The site's answer for the caller, its links pointing at the proxy."""
    base = base_url(request)
    out = {name: reply.headers[name] for name in _RELAYED if name in reply.headers}
    if "location" in out:
        out["location"] = site.public_href(out["location"], base)
    out.update(headers or {})
    if reply.status >= 400 and fault(reply) is None:
        # Not Ironic's shape (a load balancer's page, say): clients could not print it.
        error = site_error(reply)
        out.pop("content-type", None)
        return error_response(reply.status, error.message, error.faultcode, out)
    content = reply.content
    if content and out.get("content-type", "").startswith("application/json"):
        content = site.public_json(content, base)
    return Response(content, status_code=reply.status, headers=out)
