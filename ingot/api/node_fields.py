"""The node's field table (Ironic's order and microversions) and its value checks."""

from __future__ import annotations

import re
from typing import Any

from ingot.api import validation as v
from ingot.api.errors import BadRequest
from ingot.api.fields import Field, Resource, timestamp
from ingot.common.redaction import MASK, redact
from ingot.db.models import Node, nodes
from ingot.drivers.interfaces import INTERFACE_KINDS

_GROUP = re.compile(r"^[a-zA-Z0-9_\-.:]*$")
_OBJECT = {"type": "object"}
_BOOL = {"type": "boolean"}
_TEXT = {"type": "string", "nullable": True}


def _group(field: str, value: Any) -> str:
    text = v.string_value(field, value, max_length=255) or ""
    if not _GROUP.match(text):
        raise BadRequest(f"Invalid {field} {text!r}: use letters, digits, '_', '-', '.' "
                         f"and ':'.")
    return text.lower()


def _string(max_length: int | None = None) -> Any:
    return lambda field, value: v.string_value(field, value, max_length=max_length)


def _optional_uuid(field: str, value: Any) -> str | None:
    return None if value is None else v.uuid_value(field, value)


def _instance_name(field: str, value: Any) -> str | None:
    text = v.string_value(field, value, max_length=255)
    if text == "":
        raise BadRequest(f"{field} must not be empty: use null to unset it.")
    return text


def _disable_power_off(field: str, value: Any) -> bool:
    return False if value is None else v.bool_value(field, value)


def internal_info_view(node: Node) -> dict[str, Any]:
    info: dict[str, Any] = redact(node.driver_internal_info) if node.driver_internal_info \
        else {}
    if node.agent_url:
        info["agent_url"] = node.agent_url
    if node.agent_version:
        info["agent_version"] = node.agent_version
    if node.agent_last_heartbeat:
        info["agent_last_heartbeat"] = timestamp(node.agent_last_heartbeat)
    if node.agent_token:
        info["agent_secret_token"] = MASK
    if node.agent_progress:
        info["agent_progress"] = redact(node.agent_progress)
    return info


def _interface(kind: str, since: int) -> Field:
    return Field(f"{kind}_interface", since, _string(255),
                 schema={"type": "string", "nullable": True, "maxLength": 255})


NODE = Resource("node", (
    Field("uuid", 1, v.uuid_value, patch=False, schema={"type": "string", "format": "uuid"}),
    Field("created_at"), Field("updated_at"),
    Field("automated_clean", 47, v.optional_bool, schema={"type": "boolean",
                                                          "nullable": True}),
    _interface("bios", 40), _interface("boot", 31),
    # Set by the driver once the node exists; a create may say what the machine has.
    Field("boot_mode", 75, _string(16), patch=False, schema={**_TEXT, "maxLength": 16}),
    Field("clean_step", 7),
    Field("conductor_group", 46, _group, default="",
          schema={"type": "string", "maxLength": 255}),
    Field("console_enabled", 1, v.bool_value, patch=False, default=False, schema=_BOOL),
    _interface("console", 31), _interface("deploy", 31),
    Field("deploy_step", 44, secret=True),  # its args may hold a password
    Field("description", 51, _string(4096), schema={**_TEXT, "maxLength": 4096}),
    Field("disable_power_off", 95, _disable_power_off, default=False,
          schema={"type": "boolean", "nullable": True}),
    Field("driver", 1, lambda f, x: v.string_value(f, x, max_length=255, nullable=False),
          required=True, schema={"type": "string", "maxLength": 255}),
    Field("driver_info", 1, v.dict_value, default={}, secret=True, schema=_OBJECT),
    Field("driver_internal_info", 3, show=internal_info_view,
          reads=("driver_internal_info", "agent_url", "agent_version", "agent_last_heartbeat",
                 "agent_token", "agent_progress")),
    Field("extra", 1, v.dict_value, default={}, schema=_OBJECT),
    Field("fault", 42),
    _interface("firmware", 86),
    Field("health", 109),
    Field("inspection_finished_at", 6), Field("inspection_started_at", 6),
    _interface("inspect", 31),
    Field("instance_info", 1, v.dict_value, default={}, secret=True, schema=_OBJECT),
    Field("instance_name", 104, _instance_name,
          schema={**_TEXT, "minLength": 1, "maxLength": 255}),
    Field("instance_uuid", 1, _optional_uuid,
          schema={"type": "string", "format": "uuid", "nullable": True}),
    Field("last_error", secret=True),
    Field("lessee", 65, _string(255), schema={**_TEXT, "maxLength": 255}),
    Field("maintenance", 1, v.bool_value, default=False, schema=_BOOL),
    Field("maintenance_reason", secret=True),
    _interface("management", 31),
    Field("name", 5, v.name_value, schema={**_TEXT, "maxLength": 255}),
    Field("network_data", 66, v.dict_value, default={}, schema=_OBJECT),
    _interface("network", 20),
    Field("owner", 50, _string(255), schema={**_TEXT, "maxLength": 255}),
    # A UUID or a name; nodes.py stores the parent's UUID.
    Field("parent_node", 83, _string(36), schema={**_TEXT, "maxLength": 36}),
    _interface("power", 31),
    Field("power_state"),
    Field("properties", 1, v.dict_value, default={}, schema=_OBJECT),
    Field("protected", 48, v.bool_value, create=False, default=False, schema=_BOOL),
    Field("protected_reason", 48, _string(), create=False, schema=_TEXT),
    Field("provision_state"), Field("provision_updated_at"),
    Field("raid_config", 12), _interface("raid", 31), _interface("rescue", 38),
    Field("reservation"),
    Field("resource_class", 21, _string(80), schema={**_TEXT, "maxLength": 80}),
    Field("retired", 61, v.bool_value, default=False, schema=_BOOL),
    Field("retired_reason", 61, _string(), schema=_TEXT),
    Field("secure_boot", 75, v.optional_bool, patch=False,
          schema={"type": "boolean", "nullable": True}),
    Field("service_step", 87, show=lambda node: node.service_step or {}),
    Field("shard", 82, _string(255), schema={**_TEXT, "maxLength": 255}),
    _interface("storage", 33),
    Field("target_power_state"), Field("target_provision_state"),
    Field("target_raid_config", 12),
    Field("traits", 37, show=lambda node: list(node.traits)),
    _interface("vendor", 31),
    # Shown from elsewhere: node_view fills in the conductor the directory picks by these.
    Field("conductor", 49, show=lambda node: None,
          reads=("conductor_group", "driver", "conductor_affinity")),
    Field("allocation_uuid", 52),
    Field("chassis_uuid", 1, _optional_uuid,
          schema={"type": "string", "format": "uuid", "nullable": True}),
), ("uuid", "instance_uuid", "maintenance", "power_state", "provision_state", "name"),
    extra_shown=("ports", "states", "portgroups", "volume"))

assert {f"{kind}_interface" for kind in INTERFACE_KINDS} <= set(NODE.by_name)
# Every field but the conductor (the directory's) shows the node's columns.
assert NODE.reads(NODE.by_name) <= set(nodes.c.keys())
