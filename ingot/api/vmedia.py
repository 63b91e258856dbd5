"""/v1/nodes/{node}/vmedia: attach and detach virtual media (API 1.89), list it (1.93).

The node's management interface says up front whether it has virtual media (a 400 if
not, or if its driver_info is unusable, before anything is recorded); attaching and
detaching are left for a conductor like a power request, and a failure there is the
node's last_error, as in Ironic. As Ironic's conductor, a node in maintenance for a
power failure (its BMC stopped answering) takes neither: 503, retry once it is back.
Listing asks the BMC here, like the boot device: an unreachable BMC is a 503 saying so.
Image URLs show redacted. What a conductor serves a node's BMC goes with the node.
"""

from __future__ import annotations

import asyncio
import urllib.parse
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ingot.api.body import read_object
from ingot.api.context import ApiContext, context, version
from ingot.api.errors import (
    BadRequest,
    Conflict,
    MethodNotAllowed,
    NotFound,
    ServiceUnavailable,
)
from ingot.api.lookup import busy, find_node
from ingot.api.management import bmc_call
from ingot.api.responses import json_response
from ingot.common import faults, states
from ingot.common.redaction import redact
from ingot.db import nodes
from ingot.db.models import Node
from ingot.drivers import vmedia_images
from ingot.drivers.hardware import driver_for
from ingot.drivers.interfaces import InvalidParameter, ManagementInterface
from ingot.drivers.settings import DriverSettings

ATTACH_MINOR, GET_MINOR = 89, 93
DEVICES = ManagementInterface.VMEDIA_DEVICES
DOWNLOAD_SOURCES = ("http", "local", "swift")
# What a BMC can fetch itself (Ironic's VMEDIA_SUPPORTED_URL_SCHEMES); a conductor
# downloads (image_download_source local) only the first two.
URL_SCHEMES = ("http", "https", "nfs", "cifs", "smb")
DOWNLOADABLE = ("http", "https")


async def refuse(request: Request) -> Response:
    """PUT or PATCH: as Ironic, no such resource before 1.89 (404), then 405."""
    _gate(request, ATTACH_MINOR)
    raise MethodNotAllowed(f"{request.method} is not a method of {request.url.path}; attach "
                           f"with POST.")


def _gate(request: Request, since: int) -> None:
    if version(request).minor < since:
        raise NotFound(f"The resource could not be found: {request.url.path}")


def _management(node: Node, settings: DriverSettings) -> ManagementInterface:
    try:
        management = driver_for(node).management
        management.check_vmedia(node, settings)
    except InvalidParameter as exc:
        raise BadRequest(str(exc)) from None
    return management


def _attach_args(body: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(body) - {"device_type", "image_url", "image_download_source"})
    if unknown:
        raise BadRequest(f"Unknown field(s) in virtual media request: {', '.join(unknown)}.")
    device = body.get("device_type")
    if device not in DEVICES:
        raise BadRequest(f"device_type must be one of {', '.join(DEVICES)}, got {device!r}.")
    url = body.get("image_url")
    if not isinstance(url, str) or not url:
        raise BadRequest("image_url is required: the URL of the image to attach.")
    scheme = urllib.parse.urlparse(url).scheme
    if scheme not in URL_SCHEMES:
        raise BadRequest(f"Unsupported or missing URL scheme in image_url: {scheme!r} "
                         f"(supported: {', '.join(URL_SCHEMES)}).")
    source = body.get("image_download_source", "local")
    if source not in DOWNLOAD_SOURCES:
        raise BadRequest(f"image_download_source must be one of "
                         f"{', '.join(DOWNLOAD_SOURCES)}, got {source!r}.")
    if source == "local" and scheme not in DOWNLOADABLE:
        # Ironic finds this out in the conductor; it is plain from the request.
        raise BadRequest(f"image_download_source local has the conductor download the "
                         f"image, which it cannot over {scheme}://; set "
                         f"image_download_source to http for the BMC to fetch it.")
    return {"device_type": device, "image_url": url, "image_download_source": source}


def _detach_args(request: Request) -> dict[str, Any]:
    raw = request.query_params.get("device_types")
    if raw is None:
        return {"detach": None}
    wanted = [item.strip() for item in raw.split(",") if item.strip()]
    invalid = [item for item in wanted if item not in DEVICES]
    if invalid:
        raise BadRequest(f"Invalid device type(s) {', '.join(invalid)} (valid are "
                         f"{', '.join(DEVICES)}).")
    return {"detach": wanted}


async def _record(request: Request, args: dict[str, Any]) -> Response:
    ctx = context(request)
    with ctx.db.write() as conn:
        node = find_node(conn, request.path_params["node"])
        _management(node, ctx.drivers)
        if node.maintenance and node.fault == faults.POWER_FAILURE:
            verb = "attach" if "attach" in args else "detach"
            raise ServiceUnavailable(f"Unable to {verb} virtual media for node {node.uuid} "
                                     f"due to power failure state")
        if node.provision_state not in states.STABLE_STATES:
            raise Conflict(f"Node {node.uuid} is in state {node.provision_state}; virtual "
                           f"media can change once it is in a stable state.")
        if node.reservation or node.pending_action:
            raise busy(node)
        if not nodes.update(conn, node.id, {"pending_action": "vmedia", "pending_args": args,
                                            "last_error": None},
                            revision=node.revision, reservation=None, pending_action=None):
            raise Conflict(f"Node {node.uuid} changed while the request was recorded; retry.")
    ctx.notify()
    return Response(status_code=204)


async def attach(request: Request) -> Response:
    _gate(request, ATTACH_MINOR)
    ctx = context(request)
    body = await read_object(request, ctx.settings.max_body, ctx.settings.max_body_depth)
    return await _record(request, {"attach": _attach_args(body)})


async def detach(request: Request) -> Response:
    _gate(request, ATTACH_MINOR)
    return await _record(request, _detach_args(request))


async def show(request: Request) -> Response:
    _gate(request, GET_MINOR)
    ctx = context(request)
    with ctx.db.read() as conn:
        node = find_node(conn, request.path_params["node"])
    management = _management(node, ctx.drivers)
    return json_response(redact(await bmc_call(management.virtual_media, node, ctx.drivers)))


async def forget_node(ctx: ApiContext, node_uuid: str) -> None:
    """A deleted node's images served for its BMC (image_download_source local) go with
    it, detached or not."""
    await asyncio.to_thread(vmedia_images.unpublish, node_uuid, ctx.drivers, None)
