"""A redfish node's driver_info, checked without I/O: Ironic's redfish_* fields."""

from __future__ import annotations

import dataclasses
import os
import urllib.parse

from ingot.db.models import Node
from ingot.drivers.interfaces import InvalidParameter, MissingParameter
from ingot.drivers.settings import DriverSettings

AUTH_TYPES = ("basic", "session", "auto")

PROPERTIES = {
    "redfish_address": "The URL of the Redfish controller (https:// if no scheme is "
                       "given). Required.",
    "redfish_system_id": "The canonical path of the System resource, e.g. "
                         "/redfish/v1/Systems/1. Optional when the BMC has one system.",
    "redfish_username": "User name for the BMC. Optional.",
    "redfish_password": "Password for the BMC. Optional.",
    "redfish_verify_ca": "true or false to verify the BMC's TLS certificate (default "
                         "true), or the path of a CA bundle file or directory. Optional.",
    "redfish_auth_type": "basic, session or auto (session, falling back to basic); "
                         "default [redfish] auth_type. Optional.",
}

_TRUE = ("1", "t", "true", "on", "y", "yes")
_FALSE = ("0", "f", "false", "off", "n", "no")


@dataclasses.dataclass(frozen=True, slots=True)
class RedfishInfo:
    address: str
    system_id: str | None
    username: str | None
    password: str | None
    verify: bool | str
    auth_type: str


def parse(node: Node, settings: DriverSettings) -> RedfishInfo:
    """The node's Redfish connection; InvalidParameter names the bad field."""
    info = node.driver_info
    address = info.get("redfish_address")
    if not address:
        raise MissingParameter("driver_info is missing redfish_address.")
    if not isinstance(address, str):
        raise InvalidParameter("driver_info redfish_address must be a string.")
    if "://" not in address:
        address = f"https://{address}"
    parsed = urllib.parse.urlsplit(address)
    try:
        parsed.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise InvalidParameter("driver_info redfish_address has an invalid port.") from None
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise InvalidParameter("driver_info redfish_address must be an http(s) URL with a "
                               "host.")
    if parsed.username is not None or parsed.password is not None:
        raise InvalidParameter("driver_info redfish_address must not carry credentials: "
                               "use redfish_username and redfish_password.")
    system_id = info.get("redfish_system_id")
    if system_id is not None and (not isinstance(system_id, str) or not system_id.strip()):
        raise InvalidParameter("driver_info redfish_system_id must be a non-empty string.")
    for field in ("redfish_username", "redfish_password"):
        if info.get(field) is not None and not isinstance(info[field], str):
            raise InvalidParameter(f"driver_info {field} must be a string.")
    auth_type = info.get("redfish_auth_type") or settings.bmc.auth_type
    if auth_type not in AUTH_TYPES:
        raise InvalidParameter(f"driver_info redfish_auth_type must be one of "
                               f"{', '.join(AUTH_TYPES)}, not {auth_type!r}.")
    return RedfishInfo(address=address.rstrip("/"), system_id=system_id,
                       username=info.get("redfish_username"),
                       password=info.get("redfish_password"),
                       verify=_verify(info.get("redfish_verify_ca", True)),
                       auth_type=str(auth_type))


def _verify(value: object) -> bool | str:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        if os.path.isabs(value) and os.path.exists(value):
            return value
    raise InvalidParameter(f"driver_info redfish_verify_ca must be a boolean or the path of "
                           f"an existing CA bundle file or directory, not {value!r}.")
