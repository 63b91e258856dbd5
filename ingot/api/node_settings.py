"""/v1/nodes/{node}/bios[/{setting}] (API 1.40; registry fields, detail and fields 1.74)
and /v1/nodes/{node}/firmware (API 1.86; vendor, model, serial_number 1.114)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ingot.api import validation
from ingot.api.context import base_url, context, version
from ingot.api.errors import BadRequest, NotFound
from ingot.api.fields import Field, Resource
from ingot.api.lookup import find_node
from ingot.api.responses import json_response
from ingot.db import node_settings

_BIOS_SINCE = 40
_REGISTRY_SINCE = 74
_FIRMWARE_SINCE = 86

BIOS = Resource("BIOS setting", (
    Field("created_at"), Field("updated_at"), Field("name"), Field("value"),
    *(Field(name, _REGISTRY_SINCE) for name in (
        "attribute_type", "allowable_values", "lower_bound", "max_length", "min_length",
        "read_only", "reset_required", "unique", "upper_bound")),
), ("created_at", "updated_at", "name", "value"), fields_param_since=_REGISTRY_SINCE)

FIRMWARE = Resource("firmware component", (
    Field("created_at"), Field("updated_at"), Field("component"), Field("initial_version"),
    Field("current_version"), Field("last_version_flashed"), Field("vendor", 114),
    Field("model", 114), Field("serial_number", 114),
), ())


def _gate(request: Request, since: int) -> int:
    minor = version(request).minor
    if minor < since:
        raise NotFound(f"The resource could not be found: {request.url.path}")
    return minor


def _detail(request: Request, minor: int) -> bool:
    raw = request.query_params.get("detail")
    if raw is None:
        return False
    if minor < _REGISTRY_SINCE:
        raise BadRequest(f"Invalid query parameter ?detail={raw} received.")
    return validation.bool_value("detail", raw)


def _bios_view(setting: Any, node_uuid: str, names: tuple[str, ...],
               base: str) -> dict[str, Any]:
    out = BIOS.view(setting, ("created_at", "updated_at", *names))
    suffix = f"{node_uuid}/bios/{setting.name}"
    out["links"] = [{"href": f"{base}/v1/nodes/{suffix}", "rel": "self"},
                    {"href": f"{base}/nodes/{suffix}", "rel": "bookmark"}]
    return out


async def list_bios(request: Request) -> Response:
    minor = _gate(request, _BIOS_SINCE)
    detail = _detail(request, minor)
    fields = BIOS.parse_fields(request.query_params.get("fields"), minor)
    if fields is not None and detail:
        raise BadRequest("Can't fetch a subset of fields with 'detail' set.")
    names = fields or (BIOS.names_at(minor)[2:] if detail else ("name", "value"))
    with context(request).db.read() as conn:
        node = find_node(conn, request.path_params["node"])
        settings = node_settings.bios(conn, node.id)
    base = base_url(request)
    return json_response({"bios": [_bios_view(s, node.uuid, tuple(names), base)
                                   for s in settings]})


async def show_bios(request: Request) -> Response:
    minor = _gate(request, _BIOS_SINCE)
    name = request.path_params["setting"]
    with context(request).db.read() as conn:
        node = find_node(conn, request.path_params["node"])
        found = node_settings.bios(conn, node.id, name)
    if not found:
        raise NotFound(f"Node {node.uuid} doesn't have a BIOS setting '{name}'")
    return json_response({name: _bios_view(found[0], node.uuid, BIOS.names_at(minor)[2:],
                                           base_url(request))})


async def list_firmware(request: Request) -> Response:
    minor = _gate(request, _FIRMWARE_SINCE)
    fields = FIRMWARE.parse_fields(request.query_params.get("fields"), minor)
    names = fields or FIRMWARE.names_at(minor)
    with context(request).db.read() as conn:
        node = find_node(conn, request.path_params["node"])
        components = node_settings.firmware(conn, node.id)
    return json_response({"firmware": [FIRMWARE.view(c, names) for c in components]})
