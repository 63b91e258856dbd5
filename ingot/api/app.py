"""The ASGI application: routes, middleware, and what it is built from."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ingot.api import (
    allocations,
    chassis,
    deploy_templates,
    drivers,
    history,
    inspection,
    inspection_rules,
    management,
    node_children,
    node_settings,
    node_states,
    nodes,
    openapi,
    portgroups,
    ports,
    ramdisk,
    root,
    runbooks,
    shards,
    vendor,
    vifs,
    vmedia,
    volume,
)
from ingot.api.auth import AuthMiddleware
from ingot.api.conductor_directory import ConductorDirectory
from ingot.api.context import ApiContext, ApiSettings
from ingot.api.dispatch import PrefixRouter
from ingot.api.errors import error_response
from ingot.api.middleware import OPENAPI_PATH, ApiMiddleware
from ingot.api.responses import http_exception_handler
from ingot.db.engine import Database
from ingot.drivers.settings import DriverSettings
from ingot.inspection.settings import InspectionSettings
from ingot.ui import service as dashboard

_UNSUPPORTED = openapi.UNSUPPORTED
_ANY = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def _routes() -> list[BaseRoute]:
    node = "/v1/nodes/{node}"
    routes: list[BaseRoute] = [
        Route("/", root.root, methods=["GET"]),
        Route("/v1", root.v1, methods=["GET"]),
        Route("/v1/", root.v1, methods=["GET"]),
        Route(OPENAPI_PATH, openapi.openapi, methods=["GET"]),
        Route("/v1/nodes", nodes.list_nodes, methods=["GET"]),
        Route("/v1/nodes", nodes.create_node, methods=["POST"]),
        Route("/v1/nodes/detail", nodes.list_nodes_detail, methods=["GET"]),
        Route(node, nodes.show_node, methods=["GET"]),
        Route(node, nodes.patch_node, methods=["PATCH"]),
        Route(node, nodes.delete_node, methods=["DELETE"]),
        Route(f"{node}/maintenance", nodes.set_maintenance, methods=["PUT"]),
        Route(f"{node}/maintenance", nodes.unset_maintenance, methods=["DELETE"]),
        Route(f"{node}/traits", nodes.get_traits, methods=["GET"]),
        Route(f"{node}/traits", nodes.set_traits, methods=["PUT"]),
        Route(f"{node}/traits", nodes.delete_traits, methods=["DELETE"]),
        Route(f"{node}/traits/{{trait}}", nodes.set_traits, methods=["PUT"]),
        Route(f"{node}/traits/{{trait}}", nodes.delete_traits, methods=["DELETE"]),
        Route(f"{node}/states", node_states.get_states, methods=["GET"]),
        Route(f"{node}/states/power", node_states.set_power_state, methods=["PUT"]),
        Route(f"{node}/states/provision", node_states.set_provision_state, methods=["PUT"]),
        Route(f"{node}/validate", node_states.validate_node, methods=["GET"]),
        Route(f"{node}/history", history.list_history, methods=["GET"]),
        Route(f"{node}/history/{{event}}", history.show_event, methods=["GET"]),
        Route(f"{node}/children", node_children.list_children, methods=["GET"]),
        Route(f"{node}/management/boot_device", management.get_boot_device, methods=["GET"]),
        Route(f"{node}/management/boot_device", management.set_boot_device, methods=["PUT"]),
        Route(f"{node}/management/boot_device/supported", management.supported_boot_devices,
              methods=["GET"]),
        Route(f"{node}/management/inject_nmi", management.inject_nmi, methods=["PUT"]),
        Route(f"{node}/states/boot_mode", management.set_boot_mode, methods=["PUT"]),
        Route(f"{node}/states/secure_boot", management.set_secure_boot, methods=["PUT"]),
        Route(f"{node}/states/console", management.get_console, methods=["GET"]),
        # Ironic's object routing also reaches a node's console as
        # /v1/nodes/states/console/{node}; tempest's client asks for it so.
        Route("/v1/nodes/states/console/{node}", management.get_console, methods=["GET"]),
        Route(f"{node}/states/console", management.set_console, methods=["PUT"]),
        Route(f"{node}/states/raid", management.set_target_raid_config, methods=["PUT"]),
        Route(f"{node}/vendor_passthru", vendor.node_passthru, methods=_ANY),
        Route(f"{node}/vendor_passthru/methods", vendor.node_passthru_methods,
              methods=["GET"]),
        Route("/v1/drivers/{driver}/vendor_passthru", vendor.driver_passthru, methods=_ANY),
        Route("/v1/drivers/{driver}/vendor_passthru/methods", vendor.driver_passthru_methods,
              methods=["GET"]),
        Route("/v1/drivers/{driver}/raid/logical_disk_properties",
              vendor.logical_disk_properties, methods=["GET"]),
        Route("/v1/shards", shards.list_shards, methods=["GET"]),
        Route(f"{node}/ports", ports.list_ports, methods=["GET"]),
        Route(f"{node}/ports/detail", ports.list_ports, methods=["GET"]),
        Route("/v1/ports", ports.list_ports, methods=["GET"]),
        Route("/v1/ports", ports.create_port, methods=["POST"]),
        Route("/v1/ports/detail", ports.list_ports, methods=["GET"]),
        Route("/v1/ports/{port}", ports.show_port, methods=["GET"]),
        Route("/v1/ports/{port}", ports.patch_port, methods=["PATCH"]),
        Route("/v1/ports/{port}", ports.delete_port, methods=["DELETE"]),
        *_crud("/v1/chassis", "chassis", chassis.list_chassis, chassis.list_chassis_detail,
               chassis.show_chassis, chassis.create_chassis, chassis.patch_chassis,
               chassis.delete_chassis),
        Route("/v1/chassis/{chassis}/nodes", nodes.list_chassis_nodes, methods=["GET"]),
        Route("/v1/chassis/{chassis}/nodes/detail", nodes.list_chassis_nodes,
              methods=["GET"]),
        *_crud("/v1/portgroups", "portgroup", portgroups.list_portgroups,
               portgroups.list_portgroups_detail, portgroups.show_portgroup,
               portgroups.create_portgroup, portgroups.patch_portgroup,
               portgroups.delete_portgroup),
        Route("/v1/portgroups/{portgroup}/ports", ports.list_portgroup_ports,
              methods=["GET"]),
        Route("/v1/portgroups/{portgroup}/ports/detail", ports.list_portgroup_ports,
              methods=["GET"]),
        Route(f"{node}/portgroups", portgroups.list_node_portgroups, methods=["GET"]),
        Route(f"{node}/portgroups/detail", portgroups.list_node_portgroups_detail,
              methods=["GET"]),
        Route(f"{node}/bios", node_settings.list_bios, methods=["GET"]),
        Route(f"{node}/bios/{{setting}}", node_settings.show_bios, methods=["GET"]),
        Route(f"{node}/firmware", node_settings.list_firmware, methods=["GET"]),
        Route(f"{node}/vmedia", vmedia.show, methods=["GET"]),
        Route(f"{node}/vmedia", vmedia.attach, methods=["POST"]),
        Route(f"{node}/vmedia", vmedia.detach, methods=["DELETE"]),
        Route(f"{node}/vmedia", vmedia.refuse, methods=["PUT", "PATCH"]),
        Route(f"{node}/vifs", vifs.list_vifs, methods=["GET"]),
        Route(f"{node}/vifs", vifs.attach_vif, methods=["POST"]),
        Route(f"{node}/vifs/{{vif}}", vifs.detach_vif, methods=["DELETE"]),
        Route("/v1/volume", volume.volume_root, methods=["GET"]),
        Route(f"{node}/volume", volume.volume_root, methods=["GET"]),
        *_crud("/v1/volume/connectors", "connector", volume.list_connectors, None,
               volume.show_connector, volume.create_connector, volume.patch_connector,
               volume.delete_connector),
        *_crud("/v1/volume/targets", "target", volume.list_targets, None,
               volume.show_target, volume.create_target, volume.patch_target,
               volume.delete_target),
        Route(f"{node}/volume/connectors", volume.list_node_connectors, methods=["GET"]),
        Route(f"{node}/volume/targets", volume.list_node_targets, methods=["GET"]),
        Route(f"{node}/allocation", allocations.show_node_allocation, methods=["GET"]),
        Route(f"{node}/allocation", allocations.delete_node_allocation, methods=["DELETE"]),
        Route("/v1/allocations", allocations.list_allocations, methods=["GET"]),
        Route("/v1/allocations", allocations.create_allocation, methods=["POST"]),
        Route("/v1/allocations/{allocation}", allocations.show_allocation, methods=["GET"]),
        Route("/v1/allocations/{allocation}", allocations.patch_allocation,
              methods=["PATCH"]),
        Route("/v1/allocations/{allocation}", allocations.delete_allocation,
              methods=["DELETE"]),
        *_crud("/v1/deploy_templates", "template", deploy_templates.list_templates, None,
               deploy_templates.show_template, deploy_templates.create_template,
               deploy_templates.patch_template, deploy_templates.delete_template),
        *_crud("/v1/runbooks", "runbook", runbooks.list_runbooks, None,
               runbooks.show_runbook, runbooks.create_runbook, runbooks.patch_runbook,
               runbooks.delete_runbook),
        Route("/v1/runbooks/{runbook}/traits", runbooks.get_traits, methods=["GET"]),
        Route("/v1/runbooks/{runbook}/traits", runbooks.set_traits, methods=["PUT"]),
        Route("/v1/runbooks/{runbook}/traits", runbooks.delete_traits, methods=["DELETE"]),
        Route("/v1/runbooks/{runbook}/traits/{trait}", runbooks.set_traits, methods=["PUT"]),
        Route("/v1/runbooks/{runbook}/traits/{trait}", runbooks.delete_traits,
              methods=["DELETE"]),
        Route("/v1/drivers", drivers.list_drivers, methods=["GET"]),
        Route("/v1/drivers/{driver}", drivers.show_driver, methods=["GET"]),
        Route("/v1/drivers/{driver}/properties", drivers.driver_properties, methods=["GET"]),
        Route("/v1/conductors", drivers.list_conductors, methods=["GET"]),
        Route("/v1/conductors/{hostname}", drivers.show_conductor, methods=["GET"]),
        Route("/v1/lookup", ramdisk.lookup, methods=["GET"]),
        Route("/v1/heartbeat/{node}", ramdisk.heartbeat, methods=["POST"]),
        Route("/v1/heartbeat", ramdisk.heartbeat, methods=["POST"]),
        Route("/v1/continue_inspection", inspection.continue_inspection, methods=["POST"]),
        Route(f"{node}/inventory", inspection.get_inventory, methods=["GET"]),
        Route("/v1/inspection_rules", inspection_rules.list_rules, methods=["GET"]),
        Route("/v1/inspection_rules", inspection_rules.create_rule, methods=["POST"]),
        Route("/v1/inspection_rules", inspection_rules.delete_all, methods=["DELETE"]),
        Route("/v1/inspection_rules/{rule}", inspection_rules.show_rule, methods=["GET"]),
        Route("/v1/inspection_rules/{rule}", inspection_rules.patch_rule, methods=["PATCH"]),
        Route("/v1/inspection_rules/{rule}", inspection_rules.delete_rule,
              methods=["DELETE"]),
    ]
    for name in _UNSUPPORTED:
        routes.append(Route(f"/v1/{name}", _unsupported(name),
                            methods=["GET", "POST", "PUT", "PATCH", "DELETE"]))
        routes.append(Route(f"/v1/{name}/{{rest:path}}", _unsupported(name),
                            methods=["GET", "POST", "PUT", "PATCH", "DELETE"]))
    return routes


Handler = Callable[[Request], Any]


def _crud(base: str, param: str, listed: Handler, detail: Handler | None, show: Handler,
          create: Handler, update: Handler, delete: Handler) -> list[BaseRoute]:
    """The routes of a collection: list (and /detail), create, show, patch, delete."""
    one = f"{base}/{{{param}}}"
    routes: list[BaseRoute] = [Route(base, listed, methods=["GET"]),
                               Route(base, create, methods=["POST"])]
    if detail is not None:
        routes.append(Route(f"{base}/detail", detail, methods=["GET"]))
    return [*routes, Route(one, show, methods=["GET"]), Route(one, update, methods=["PATCH"]),
            Route(one, delete, methods=["DELETE"])]


def _unsupported(name: str) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        return error_response(404, f"ingot does not implement the {name} resource.")
    return endpoint


def create_app(db: Database, settings: ApiSettings,
               authenticate: Callable[[dict[bytes, bytes]], Any],
               *, drivers: DriverSettings, notify: Callable[[], None] = lambda: None,
               inspection: InspectionSettings | None = None,
               on_startup: Sequence[Callable[[], Any]] = (),
               on_shutdown: Sequence[Callable[[], Any]] = ()) -> Starlette:
    """Build the API app; on_startup/on_shutdown run in its lifespan (the conductor)."""
    ctx = ApiContext(db=db, settings=settings,
                     directory=ConductorDirectory(db, settings.conductor_heartbeat_timeout),
                     drivers=drivers, inspection=inspection or InspectionSettings(),
                     notify=notify)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        for hook in on_startup:
            result = hook()
            if hasattr(result, "__await__"):
                await result
        try:
            yield
        finally:
            for hook in on_shutdown:
                result = hook()
                if hasattr(result, "__await__"):
                    await result

    app = Starlette(
        middleware=[Middleware(ApiMiddleware), Middleware(AuthMiddleware,
                                                          authenticate=authenticate)],
        exception_handlers={HTTPException: http_exception_handler},
    )
    app.router = PrefixRouter([*_routes(), *dashboard.routes(authenticate)], lifespan=lifespan)
    app.state.ctx = ctx
    return app
