"""A node's management endpoints, as Ironic's: boot device, boot mode and secure boot,
inject NMI, console and target RAID configuration.

The boot device and NMI are answered here, synchronously as in Ironic: from the node
for drivers that record the device on it, from the BMC (in a worker thread) for the
redfish and ipmi types. What takes longer (boot mode, secure boot) is recorded for a
conductor like a power request, and a driver that cannot do it leaves last_error.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ingot.api import validation
from ingot.api.body import read_object
from ingot.api.context import base_url, context, version
from ingot.api.errors import (
    BadRequest,
    Conflict,
    NotAcceptable,
    NotFound,
    ServiceUnavailable,
)
from ingot.api.lookup import busy, find_node, locked
from ingot.api.responses import json_response
from ingot.common import states
from ingot.db import nodes
from ingot.db.models import Node
from ingot.drivers.hardware import driver_for
from ingot.drivers.interfaces import (
    ConsoleInterface,
    DriverError,
    InvalidParameter,
    RaidInterface,
    Unsupported,
)

_BOOT_MODES = ("bios", "uefi")


def _node(request: Request) -> Node:
    with context(request).db.read() as conn:
        return find_node(conn, request.path_params["node"])


def _driver_call(call: Any, *args: Any) -> Any:
    try:
        return call(*args)
    except InvalidParameter as exc:
        raise BadRequest(str(exc)) from None


async def bmc_call(call: Any, *args: Any) -> Any:
    """A management call that may talk to the BMC: off the event loop, its failure
    (BMC down, credentials refused) a 503 carrying the driver's message."""
    try:
        return await asyncio.to_thread(call, *args)
    except InvalidParameter as exc:
        raise BadRequest(str(exc)) from None
    except DriverError as exc:
        raise ServiceUnavailable(str(exc)) from None


async def get_boot_device(request: Request) -> Response:
    node = _node(request)
    management = driver_for(node).management
    return json_response(await bmc_call(management.boot_device, node,
                                         context(request).drivers))


async def supported_boot_devices(request: Request) -> Response:
    node = _node(request)
    devices = _driver_call(driver_for(node).management.supported_boot_devices, node)
    return json_response({"supported_boot_devices": list(devices)})


async def set_boot_device(request: Request) -> Response:
    ctx = context(request)
    body = await read_object(request, ctx.settings.max_body, ctx.settings.max_body_depth)
    unknown = set(body) - {"boot_device", "persistent"}
    if unknown:
        raise BadRequest(f"Unknown field(s) in boot device request: "
                         f"{', '.join(sorted(unknown))}.")
    device = body.get("boot_device")
    if not isinstance(device, str) or not device:
        raise BadRequest("boot_device is required: a string such as \"pxe\" or \"disk\".")
    persistent = validation.bool_value("persistent", body.get("persistent", False))
    node = _node(request)
    if node.reservation:
        raise locked(node)
    # Outside a transaction: a BMC may take seconds to answer.
    record = await bmc_call(driver_for(node).management.change_boot_device, node,
                             ctx.drivers, device, persistent)
    if record:
        with ctx.db.write() as conn:
            if not nodes.update(
                    conn, node.id,
                    {"driver_internal_info": {**node.driver_internal_info, **record}},
                    revision=node.revision, reservation=None):
                raise Conflict(f"Node {node.uuid} changed while its boot device was set; "
                               f"retry.")
    return Response(status_code=204)


async def inject_nmi(request: Request) -> Response:
    if version(request).minor < 29:
        raise NotFound("Injecting an NMI needs API version 1.29 or later.")
    node = _node(request)
    if node.reservation:
        raise locked(node)
    await bmc_call(driver_for(node).management.inject_nmi, node, context(request).drivers)
    return Response(status_code=204)


def _states_location(request: Request, node: Node, suffix: str = "") -> dict[str, str]:
    return {"Location": f"{base_url(request)}/v1/nodes/{node.uuid}/states{suffix}"}


async def _record(request: Request, action: str, args: dict[str, Any]) -> Response:
    """Leave a boot mode or secure boot change for a conductor, as power requests are."""
    ctx = context(request)
    with ctx.db.write() as conn:
        node = find_node(conn, request.path_params["node"])
        if node.provision_state not in states.STABLE_STATES:
            raise Conflict(f"Node is in {node.provision_state} state. Since node is "
                           f"transitioning, the boot mode will not be set as this may "
                           f"interfere with ongoing changes and result in erroneous "
                           f"modification. Try again later.")
        if node.reservation or node.pending_action:
            raise busy(node)
        if not nodes.update(conn, node.id, {"pending_action": action, "pending_args": args},
                            revision=node.revision, reservation=None, pending_action=None):
            raise Conflict(f"Node {node.uuid} changed while the request was recorded; retry.")
    ctx.notify()
    return Response(status_code=202, headers=_states_location(request, node))


async def set_boot_mode(request: Request) -> Response:
    if version(request).minor < 76:
        raise NotFound("This endpoint is supported starting with the API version 1.76.")
    ctx = context(request)
    body = await read_object(request, ctx.settings.max_body, ctx.settings.max_body_depth)
    target = body.get("target")
    if set(body) != {"target"} or target not in _BOOT_MODES:
        raise BadRequest(f"Invalid boot mode {target!r} requested for node. Allowed boot "
                         f"modes are: {', '.join(_BOOT_MODES)}.")
    return await _record(request, "boot_mode", {"target": target})


async def set_secure_boot(request: Request) -> Response:
    if version(request).minor < 76:
        raise NotFound("This endpoint is supported starting with the API version 1.76.")
    ctx = context(request)
    body = await read_object(request, ctx.settings.max_body, ctx.settings.max_body_depth)
    if set(body) != {"target"}:
        raise BadRequest("Invalid secure_boot request: the body is {\"target\": true|false}.")
    try:
        target = validation.bool_value("target", body["target"])
    except BadRequest:
        raise BadRequest(f"Invalid secure_boot {body['target']!r} requested for node. "
                         f"Allowed secure_boot states are: True, False.") from None
    return await _record(request, "secure_boot", {"target": target})


def _console(node: Node) -> ConsoleInterface:
    console = driver_for(node).others["console"]
    assert isinstance(console, ConsoleInterface)
    return console


async def get_console(request: Request) -> Response:
    node = _node(request)
    console = _console(node)
    _driver_call(console.check_console, node)
    return json_response({"console_enabled": node.console_enabled,
                          "console_info": console.console_info(node)
                          if node.console_enabled else None})


async def set_console(request: Request) -> Response:
    ctx = context(request)
    body = await read_object(request, ctx.settings.max_body, ctx.settings.max_body_depth)
    if set(body) != {"enabled"}:
        raise BadRequest("The console request is {\"enabled\": true|false}.")
    enabled = validation.bool_value("enabled", body["enabled"])
    with ctx.db.write() as conn:
        node = find_node(conn, request.path_params["node"])
        if node.reservation:
            raise locked(node)
        _driver_call(_console(node).check_console, node)
        if node.console_enabled != enabled and not nodes.update(
                conn, node.id, {"console_enabled": enabled}, revision=node.revision,
                reservation=None):
            raise Conflict(f"Node {node.uuid} changed while its console was set; retry.")
    return Response(status_code=202, headers=_states_location(request, node, "/console"))


def raid_interface(node: Node) -> RaidInterface:
    raid = driver_for(node).others["raid"]
    assert isinstance(raid, RaidInterface)
    return raid


async def set_target_raid_config(request: Request) -> Response:
    if version(request).minor < 12:
        raise NotAcceptable("RAID configuration needs API version 1.12 or later.")
    ctx = context(request)
    config = await read_object(request, ctx.settings.max_body, ctx.settings.max_body_depth)
    with ctx.db.write() as conn:
        node = find_node(conn, request.path_params["node"])
        if node.reservation:
            raise locked(node)
        try:
            raid_interface(node).check_raid_config(node, config)
        except Unsupported as exc:
            raise NotFound(str(exc)) from None  # as Ironic: no RAID is a 404 here
        except InvalidParameter as exc:
            raise BadRequest(str(exc)) from None
        if not nodes.update(conn, node.id, {"target_raid_config": config},
                            revision=node.revision, reservation=None):
            raise Conflict(f"Node {node.uuid} changed while its RAID target was set; retry.")
    return Response(status_code=204)
