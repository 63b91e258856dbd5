"""What API handlers share: the database, settings, and a way to wake conductors."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.requests import Request

from ingot.api.microversion import Version

if TYPE_CHECKING:
    # Types only: the proxy uses base_url and version without the database's code.
    from oslo_config import cfg

    from ingot.api.conductor_directory import ConductorDirectory
    from ingot.db.engine import Database
    from ingot.drivers.settings import DriverSettings
    from ingot.inspection.settings import InspectionSettings


@dataclasses.dataclass(frozen=True, slots=True)
class ApiSettings:
    max_limit: int = 1000
    public_endpoint: str | None = None
    restrict_lookup: bool = True
    # Lookups also in the stable states a fast-track agent stays up in.
    fast_track: bool = False
    heartbeat_timeout: int = 300
    max_body: int = 1048576
    max_provision_body: int = 67108864
    max_body_depth: int = 25
    default_conductor_group: str = ""
    default_resource_class: str | None = None
    conductor_heartbeat_timeout: int = 60
    enabled_hardware_types: tuple[str, ...] = ("fake-hardware",)

    @classmethod
    def from_conf(cls, conf: cfg.ConfigOpts) -> ApiSettings:
        return cls(
            max_limit=conf.api.max_limit,
            public_endpoint=conf.api.public_endpoint,
            restrict_lookup=conf.api.restrict_lookup,
            fast_track=conf.deploy.fast_track,
            heartbeat_timeout=conf.api.ramdisk_heartbeat_timeout,
            max_body=conf.api.max_json_body_size,
            max_provision_body=conf.api.max_json_body_size_provision,
            max_body_depth=conf.api.max_json_body_depth,
            default_conductor_group=conf.default_conductor_group,
            default_resource_class=conf.default_resource_class,
            conductor_heartbeat_timeout=conf.conductor.heartbeat_timeout,
            enabled_hardware_types=tuple(conf.enabled_hardware_types),
        )


@dataclasses.dataclass(slots=True)
class ApiContext:
    db: Database
    settings: ApiSettings
    directory: ConductorDirectory
    # What the drivers' validate needs of the configuration.
    drivers: DriverSettings
    inspection: InspectionSettings
    # Called after work was recorded for conductors; wakes an in-process conductor.
    notify: Callable[[], None] = lambda: None


def context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


def version(request: Request) -> Version:
    value: Version = request.scope["state"]["version"]
    return value


# Base URLs by what Starlette builds them from: building one from the scope each time
# is a tenth of a node GET. Bounded, as the Host header is the client's.
_BASE_URLS: dict[tuple[object, ...], str] = {}


def base_url(request: Request) -> str:
    public = context(request).settings.public_endpoint
    if public:
        return public.rstrip("/")
    scope = request.scope
    host = next((value for key, value in scope["headers"] if key == b"host"), None)
    key = (scope.get("scheme"), scope.get("server"), host,
           scope.get("app_root_path", scope.get("root_path", "")))
    found = _BASE_URLS.get(key)
    if found is None:
        if len(_BASE_URLS) >= 64:
            _BASE_URLS.clear()
        found = _BASE_URLS[key] = str(request.base_url).rstrip("/")
    return found
