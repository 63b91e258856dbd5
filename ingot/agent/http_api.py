"""The agent's command API, in ironic-python-agent's shapes.

``GET /v1/status`` and the version documents are open; listing, reading and running
commands need the agent token in the ``agent_token`` query parameter, as IPA 13 checks
it (and Ironic sends it). Errors are ``{"faultcode", "faultstring"}`` as in IPA.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ingot.agent.commands import CommandError, CommandRunner

LOG = logging.getLogger(__name__)

MEDIA_TYPE = "application/vnd.openstack.ironic-python-agent.v1+json"
MAX_BODY = 128 << 20  # a config drive may be up to 64 MiB, base64-encoded


def fault(status: int, text: str) -> JSONResponse:
    return JSONResponse({"faultcode": "Server" if status >= 500 else "Client",
                         "faultstring": text}, status_code=status)


def _links(base: str, name: str) -> list[dict[str, str]]:
    return [{"href": f"{base}/v1/{name}", "rel": "self"},
            {"href": f"{base}/{name}", "rel": "bookmark"}]


def create_app(runner: CommandRunner, token: str, status: Callable[[], dict[str, Any]]
               ) -> Starlette:
    def authorized(request: Request) -> bool:
        given = request.query_params.get("agent_token") or ""
        return bool(given) and hmac.compare_digest(given.encode(), token.encode())

    def guarded(handler: Callable[[Request], Awaitable[Response]]
                ) -> Callable[[Request], Awaitable[Response]]:
        async def wrapper(request: Request) -> Response:
            if not authorized(request):
                return fault(401, "401 Unauthorized: Token invalid.")
            try:
                return await handler(request)
            except CommandError as exc:
                return fault(exc.code, str(exc))
            except Exception:
                LOG.exception("Command API request failed")
                return fault(500, "Internal server error")
        return wrapper

    def wait_requested(request: Request) -> bool:
        return (request.query_params.get("wait") or "").lower() == "true"

    async def root(request: Request) -> Response:
        base = str(request.base_url).rstrip("/")
        version = {"id": "v1", "links": [{"href": f"{base}/v1/", "rel": "self"}]}
        return JSONResponse({"name": "ingot agent (ironic-python-agent API)",
                             "description": "ingot's provisioning agent",
                             "versions": [version], "default_version": version})

    async def v1(request: Request) -> Response:
        base = str(request.base_url).rstrip("/")
        return JSONResponse({"id": "v1", "links": [{"href": f"{base}/v1/", "rel": "self"}],
                             "commands": _links(base, "commands"),
                             "status": _links(base, "status"),
                             "media_types": [{"base": "application/json",
                                              "type": MEDIA_TYPE}]})

    async def get_status(request: Request) -> Response:
        return JSONResponse(status())

    async def list_commands(request: Request) -> Response:
        return JSONResponse({"commands": [r.serialize() for r in runner.list()]})

    async def get_command(request: Request) -> Response:
        result = runner.get(request.path_params["command_id"])
        if wait_requested(request):
            await run_in_threadpool(result.join)
        return JSONResponse(result.serialize())

    async def run_command(request: Request) -> Response:
        raw = await request.body()
        if len(raw) > MAX_BODY:
            return fault(413, "Request body too large")
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            return fault(400, "400 Bad Request: Missing or invalid name or params")
        if not isinstance(body, dict) or not isinstance(body.get("name"), str) \
                or not isinstance(body.get("params"), dict):
            return fault(400, "400 Bad Request: Missing or invalid name or params")
        result = await run_in_threadpool(runner.execute, body["name"], body["params"])
        if wait_requested(request):
            await run_in_threadpool(result.join)
        return JSONResponse(result.serialize())

    routes = []
    for prefix in ("/v1", ""):
        routes += [
            Route(f"{prefix}/status", get_status, methods=["GET"]),
            Route(f"{prefix}/commands/", guarded(list_commands), methods=["GET"]),
            Route(f"{prefix}/commands/", guarded(run_command), methods=["POST"]),
            Route(f"{prefix}/commands/{{command_id}}", guarded(get_command),
                  methods=["GET"]),
        ]
    routes += [Route("/", root, methods=["GET"]), Route("/v1/", v1, methods=["GET"]),
               Route("/v1", v1, methods=["GET"])]
    return Starlette(routes=routes)
