"""The port's field table (Ironic's order and microversions) and its value checks."""

from __future__ import annotations

from typing import Any

from ingot.api import validation as v
from ingot.api.errors import BadRequest
from ingot.api.fields import Field, Resource

_LLC_KEYS = {"switch_id", "port_id", "switch_info", "hostname", "network_type"}
_OBJECT = {"type": "object"}
_BOOL = {"type": "boolean"}


def _local_link(field: str, value: Any) -> dict[str, Any]:
    result = v.dict_value(field, value)
    if set(result) - _LLC_KEYS:
        raise BadRequest(f"Unknown key(s) in {field}: "
                         f"{', '.join(sorted(set(result) - _LLC_KEYS))}.")
    return result


PORT = Resource("port", (
    Field("uuid", 1, v.uuid_value, patch=False, schema={"type": "string", "format": "uuid"}),
    Field("created_at"), Field("updated_at"),
    Field("address", 1, v.mac_value, required=True, schema={"type": "string"}),
    Field("extra", 1, v.dict_value, default={}, schema=_OBJECT),
    Field("internal_info", 18, default={}),
    Field("is_smartnic", 53, v.bool_value, default=False, schema=_BOOL),
    Field("local_link_connection", 19, _local_link, default={}, schema=_OBJECT),
    Field("physical_network", 34, lambda f, x: v.string_value(f, x, max_length=64),
          schema={"type": "string", "nullable": True, "maxLength": 64}),
    Field("pxe_enabled", 19, v.bool_value, default=True, schema=_BOOL),
    Field("node_uuid", 1, v.uuid_value, required=True,
          schema={"type": "string", "format": "uuid"}),
    Field("portgroup_uuid", 24, lambda f, x: None if x is None else v.uuid_value(f, x),
          schema={"type": "string", "format": "uuid", "nullable": True}),
    Field("name", 88, v.name_value, schema={"type": "string", "nullable": True,
                                            "maxLength": 255}),
    Field("description", 97, lambda f, x: v.string_value(f, x, max_length=255),
          schema={"type": "string", "nullable": True, "maxLength": 255}),
    Field("vendor", 100, lambda f, x: v.string_value(f, x, max_length=32),
          schema={"type": "string", "nullable": True, "maxLength": 32}),
    Field("category", 101, lambda f, x: v.string_value(f, x, max_length=80),
          schema={"type": "string", "nullable": True, "maxLength": 80}),
    Field("available_for_dynamic_portgroup", 111, v.bool_value, default=True,
          schema=_BOOL),
), ("uuid", "address"))
