"""The proxy's ASGI application: routes, middleware, and the discovery task."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ingot.api.auth import AuthMiddleware, basic_authenticator, keystone_authenticator, noauth
from ingot.api.errors import error_response
from ingot.api.responses import http_exception_handler
from ingot.proxy import catalog, events, nodes, ports, resources, root
from ingot.proxy.config import ProxyConfig
from ingot.proxy.context import ProxyContext
from ingot.proxy.middleware import ProxyMiddleware
from ingot.ui import multisite as dashboard

_ANY = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def _routes() -> list[BaseRoute]:
    node = "/v1/nodes/{node}"
    routes: list[BaseRoute] = [
        Route("/", root.root, methods=["GET"]),
        Route("/v1", root.v1, methods=["GET"]),
        Route("/v1/nodes", nodes.list_nodes, methods=["GET"]),
        Route("/v1/nodes", nodes.create_node, methods=["POST"]),
        Route("/v1/nodes/detail", nodes.list_nodes_detail, methods=["GET"]),
        Route(node, nodes.node_request, methods=["GET", "PATCH", "DELETE"]),
        Route(node + "/{rest:path}", nodes.node_request, methods=_ANY),
        Route("/v1/ports", ports.list_ports, methods=["GET"]),
        Route("/v1/ports", ports.create_port, methods=["POST"]),
        Route("/v1/ports/detail", ports.list_ports, methods=["GET"]),
        Route("/v1/ports/{port}", ports.port_request, methods=["GET", "PATCH", "DELETE"]),
        *_collection("/v1/portgroups", "portgroup", resources.list_portgroups,
                     resources.list_portgroups_detail, resources.create_portgroup,
                     resources.portgroup_request),
        *_collection("/v1/chassis", "chassis", resources.list_chassis,
                     resources.list_chassis_detail, resources.create_chassis,
                     resources.chassis_request),
        Route("/v1/volume", root.volume, methods=["GET"]),
        *_collection("/v1/volume/connectors", "connector", resources.list_connectors, None,
                     resources.create_connector, resources.connector_request),
        *_collection("/v1/volume/targets", "target", resources.list_targets, None,
                     resources.create_target, resources.target_request),
        *_collection("/v1/allocations", "allocation", resources.list_allocations, None,
                     resources.create_allocation, resources.allocation_request),
        *_collection("/v1/deploy_templates", "template", resources.list_deploy_templates,
                     None, resources.create_deploy_template,
                     resources.deploy_template_request),
        *_collection("/v1/runbooks", "runbook", resources.list_runbooks, None,
                     resources.create_runbook, resources.runbook_request,
                     sub_methods=["GET", "PUT", "DELETE"]),
        Route("/v1/drivers", catalog.list_drivers, methods=["GET"]),
        Route("/v1/drivers/{driver}", catalog.show_driver, methods=["GET"]),
        Route("/v1/drivers/{driver}/{rest:path}", catalog.driver_subresource,
              methods=["GET"]),
        Route("/v1/conductors", catalog.list_conductors, methods=["GET"]),
        Route("/v1/conductors/{hostname}", catalog.show_conductor, methods=["GET"]),
        Route("/v1/shards", catalog.list_shards, methods=["GET"]),
        *_collection("/v1/inspection_rules", "rule", resources.list_inspection_rules, None,
                     resources.create_inspection_rule, resources.inspection_rule_request),
        Route("/v1/inspection_rules", resources.delete_inspection_rules, methods=["DELETE"]),
        Route("/v1/events", events.post_events, methods=["POST"]),
    ]
    for name in root.NOT_ROUTED:
        for path in (f"/v1/{name}", f"/v1/{name}/{{rest:path}}"):
            routes.append(Route(path, _not_routed(name), methods=_ANY))
    return routes


def _collection(base: str, param: str, listed: Callable[[Request], Any],
                detail: Callable[[Request], Any] | None, create: Callable[[Request], Any],
                item: Callable[[Request], Any], sub_methods: list[str] | None = None
                ) -> list[BaseRoute]:
    routes: list[BaseRoute] = [Route(base, listed, methods=["GET"]),
                               Route(base, create, methods=["POST"])]
    if detail is not None:
        routes.append(Route(f"{base}/detail", detail, methods=["GET"]))
    return [*routes, Route(f"{base}/{{{param}}}", item, methods=["GET", "PATCH", "DELETE"]),
            Route(f"{base}/{{{param}}}/{{rest:path}}", item, methods=sub_methods or ["GET"])]


def _not_routed(name: str) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        return error_response(404, f"The ingot proxy does not route the {name} resource.")
    return endpoint


def authenticator(config: ProxyConfig) -> Callable[[dict[bytes, bytes]], Any]:
    strategy = config.settings.auth_strategy
    if strategy == "http_basic":
        return basic_authenticator(config.conf.http_basic_auth_user_file)
    if strategy == "keystone":
        return keystone_authenticator(config.conf)
    return noauth


def _tune_garbage_collector() -> None:
    """A merged listing parses thousands of site items into tens of thousands of
    short-lived objects; with the default thresholds the cyclic collector runs many
    times per listing and costs as much as the parsing (measured: a 500-node answer
    parses in 0.8 ms by default, 0.35 ms like this). Parsed JSON holds no cycles:
    reference counting frees it. What startup loaded is frozen out of every scan."""
    gc.freeze()
    gc.set_threshold(50_000, 10, 10)


def create_app(config: ProxyConfig) -> Starlette:
    ctx = ProxyContext.from_config(config)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        # One discovery before serving, so the first requests know the range; a site
        # that does not answer in time starts as down and is probed again shortly.
        await ctx.versions.refresh()
        _tune_garbage_collector()
        refresher = asyncio.create_task(ctx.versions.run())
        try:
            yield
        finally:
            refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await refresher
            for site in ctx.sites:
                await site.aclose()

    auth = authenticator(config)
    app = Starlette(
        routes=[*_routes(), *dashboard.routes(auth)],
        middleware=[Middleware(ProxyMiddleware, versions=ctx.versions),
                    Middleware(AuthMiddleware, authenticate=auth)],
        exception_handlers={HTTPException: http_exception_handler},
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    return app
