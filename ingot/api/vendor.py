"""Vendor passthru on nodes and drivers, and a driver's RAID logical disk properties.

Passthru methods run in the API process: the ones ingot's drivers have need nothing
but their arguments. An asynchronous one answers 202 without a body, as in Ironic.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ingot.api.body import read_json
from ingot.api.context import context, version
from ingot.api.errors import BadRequest, NotAcceptable, NotFound
from ingot.api.lookup import find_node
from ingot.api.responses import json_response
from ingot.db.models import Node
from ingot.drivers import hardware
from ingot.drivers.interfaces import (
    InvalidParameter,
    PassthruMethod,
    RaidInterface,
    VendorInterface,
)


def _describe(methods: dict[str, PassthruMethod]) -> dict[str, Any]:
    return {name: method.describe() for name, method in methods.items()}


def _node_vendor(request: Request) -> tuple[Node, VendorInterface]:
    with context(request).db.read() as conn:
        node = find_node(conn, request.path_params["node"])
    vendor = hardware.driver_for(node).others["vendor"]
    assert isinstance(vendor, VendorInterface)
    return node, vendor


def _driver_vendor(request: Request) -> VendorInterface:
    """The driver's default vendor interface, as Ironic uses for driver passthru."""
    name = request.path_params["driver"]
    try:
        vendor = _driver(request, name).implementation("vendor", None,
                                                       context(request).drivers.interfaces)
    except InvalidParameter as exc:
        raise BadRequest(str(exc)) from None
    instance = vendor()
    assert isinstance(instance, VendorInterface)
    return instance


def _driver(request: Request, name: str) -> hardware.HardwareType:
    if name not in context(request).directory.hardware_types() \
            or name not in hardware.known():
        raise NotFound(f"Driver {name} could not be found.")
    return hardware.known()[name]


async def _call(request: Request, methods: dict[str, PassthruMethod],
                node: Node | None) -> Response:
    name = request.query_params.get("method")
    if not name:
        raise BadRequest("Method not specified")
    method = methods.get(name)
    if method is None:
        raise BadRequest(f"No handler for method {name}")
    if request.method not in method.http_methods:
        raise BadRequest(f"The method {name} does not support HTTP {request.method}")
    ctx = context(request)
    body = await read_json(request, ctx.settings.max_body, ctx.settings.max_body_depth) \
        if request.headers.get("content-length", "0") != "0" else None
    if body is not None and not isinstance(body, dict):
        raise BadRequest("The vendor passthru arguments are a JSON object.")
    try:
        result = method.run(node, body or {})
    except InvalidParameter as exc:
        raise BadRequest(str(exc)) from None
    if method.is_async:
        return Response(status_code=202)
    return json_response(result)


async def node_passthru(request: Request) -> Response:
    node, vendor = _node_vendor(request)
    return await _call(request, vendor.node_methods, node)


async def node_passthru_methods(request: Request) -> Response:
    _node, vendor = _node_vendor(request)
    return json_response(_describe(vendor.node_methods))


async def driver_passthru(request: Request) -> Response:
    return await _call(request, _driver_vendor(request).driver_methods, None)


async def driver_passthru_methods(request: Request) -> Response:
    return json_response(_describe(_driver_vendor(request).driver_methods))


async def logical_disk_properties(request: Request) -> Response:
    if version(request).minor < 12:
        raise NotAcceptable("RAID needs API version 1.12 or later.")
    name = request.path_params["driver"]
    try:
        raid = _driver(request, name).implementation("raid", None,
                                                     context(request).drivers.interfaces)
    except InvalidParameter as exc:
        raise BadRequest(str(exc)) from None
    assert issubclass(raid, RaidInterface)
    if not raid.logical_disk_properties:
        raise NotFound(f"Driver {name} does not support RAID (disabled or not "
                       f"implemented).")
    return json_response(dict(raid.logical_disk_properties))
