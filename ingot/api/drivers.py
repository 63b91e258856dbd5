"""/v1/drivers and /v1/conductors."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ingot.api import validation
from ingot.api.context import base_url, context, version
from ingot.api.errors import BadRequest, NotAcceptable, NotFound
from ingot.api.fields import links, timestamp
from ingot.api.responses import json_response
from ingot.db import conductors
from ingot.db.models import Conductor
from ingot.drivers import hardware
from ingot.drivers.interfaces import INTERFACE_KINDS
from ingot.drivers.settings import InterfaceSettings

# Interface kinds a driver's detail shows only from a version on (Ironic's
# hide_fields_in_newer_versions).
_KIND_VERSIONS = {"storage": 33, "rescue": 38, "bios": 40, "firmware": 86}


def _driver_view(name: str, hosts: list[str], minor: int, base: str, detail: bool,
                 interfaces: InterfaceSettings,
                 fields: tuple[str, ...] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "hosts": sorted(hosts),
                           "links": links(base, "drivers", name)}
    if minor >= 14:
        out["properties"] = links(base, "drivers", name, "/properties")
    if minor >= 30:
        out["type"] = "dynamic"
        if detail:
            hardware_type = hardware.known()[name]
            for kind in INTERFACE_KINDS:
                if _KIND_VERSIONS.get(kind, 1) > minor:
                    continue
                out[f"default_{kind}_interface"] = hardware_type.default(kind, interfaces)
                out[f"enabled_{kind}_interfaces"] = list(hardware_type.enabled(kind,
                                                                               interfaces))
    if fields is not None:
        invalid = sorted(set(fields) - set(out))
        if invalid:
            raise BadRequest(f"Field(s) \"{', '.join(invalid)}\" are not valid")
        out = {key: value for key, value in out.items() if key in fields or key == "links"}
    return out


def _fields(request: Request) -> tuple[str, ...] | None:
    raw = request.query_params.get("fields")
    if raw is None:
        return None
    if version(request).minor < 77:
        raise NotAcceptable("The fields parameter of drivers needs API version 1.77 or "
                            "later.")
    return tuple(name.strip() for name in raw.split(",") if name.strip())


def _available(request: Request) -> dict[str, list[str]]:
    ctx = context(request)
    served = ctx.directory.hardware_types()
    return {name: hosts for name, hosts in served.items() if name in hardware.known()}


async def list_drivers(request: Request) -> Response:
    minor = version(request).minor
    params = request.query_params
    driver_type = params.get("type")
    if driver_type not in (None, "classic", "dynamic"):
        raise BadRequest(f"Invalid driver type {driver_type!r}; use classic or dynamic.")
    detail = validation.bool_value("detail", params["detail"]) if "detail" in params else False
    fields = _fields(request)
    if fields is not None and detail:
        raise BadRequest("Can not specify ?detail=True and fields in the same request.")
    interfaces = context(request).drivers.interfaces
    drivers = [] if driver_type == "classic" else [
        _driver_view(name, hosts, minor, base_url(request), detail, interfaces, fields)
        for name, hosts in sorted(_available(request).items())]
    return json_response({"drivers": drivers})


async def show_driver(request: Request) -> Response:
    name = request.path_params["driver"]
    fields = _fields(request)
    hosts = _available(request).get(name)
    if hosts is None:
        raise NotFound(f"Driver {name} could not be found.")
    return json_response(_driver_view(name, hosts, version(request).minor,
                                      base_url(request), True,
                                      context(request).drivers.interfaces, fields))


async def driver_properties(request: Request) -> Response:
    name = request.path_params["driver"]
    if name not in _available(request):
        raise NotFound(f"Driver {name} could not be found.")
    return json_response(hardware.known()[name].properties())


def _conductor_view(conductor: Conductor, alive: bool, base: str,
                    detail: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"hostname": conductor.hostname,
                           "conductor_group": conductor.conductor_group,
                           "alive": alive, "links": links(base, "conductors", conductor.hostname)}
    if detail:
        out.update(drivers=sorted(conductor.hardware_types),
                   created_at=timestamp(conductor.created_at),
                   updated_at=timestamp(conductor.updated_at))
    return out


def _need_conductors(request: Request) -> None:
    if version(request).minor < 49:
        raise NotFound("The conductors resource needs API version 1.49 or later.")


async def list_conductors(request: Request) -> Response:
    _need_conductors(request)
    ctx = context(request)
    params = request.query_params
    detail = validation.bool_value("detail", params["detail"]) if "detail" in params else False
    limit = validation.int_param("limit", params.get("limit"), minimum=1)
    marker = params.get("marker")
    with ctx.db.read() as conn:
        rows = conductors.list_conductors(conn)
    if marker is not None:
        rows = [c for c in rows if c.hostname > marker]
    limit = min(limit or ctx.settings.max_limit, ctx.settings.max_limit)
    page = rows[:limit]
    timeout = ctx.settings.conductor_heartbeat_timeout
    base = base_url(request)
    body: dict[str, Any] = {"conductors": [
        _conductor_view(c, conductors.is_alive(c, timeout), base, detail) for c in page]}
    if len(page) == limit and len(rows) > limit:
        body["next"] = f"{base}/v1/conductors?limit={limit}&marker={page[-1].hostname}"
    return json_response(body)


async def show_conductor(request: Request) -> Response:
    _need_conductors(request)
    ctx = context(request)
    hostname = request.path_params["hostname"]
    with ctx.db.read() as conn:
        conductor = conductors.get(conn, hostname)
    if conductor is None:
        raise NotFound(f"Conductor {hostname} could not be found.")
    alive = conductors.is_alive(conductor, ctx.settings.conductor_heartbeat_timeout)
    return json_response(_conductor_view(conductor, alive, base_url(request), True))
