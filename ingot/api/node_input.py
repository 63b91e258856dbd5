"""Validation of node fields written through the API (create and JSON patch).

One table describes every writable field: the version that introduced it, whether
create and/or patch may set it, and how its value is checked and normalised. Errors
name the field.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any

from ingot.api import validation as v
from ingot.api.errors import BadRequest, NotAcceptable
from ingot.api.node_view import FIELD_VERSIONS
from ingot.drivers.interfaces import INTERFACE_KINDS

_GROUP = re.compile(r"^[a-zA-Z0-9_\-.:]*$")

Check = Callable[[str, Any], Any]


def _group(field: str, value: Any) -> str:
    text = v.string_value(field, value, max_length=255) or ""
    if not _GROUP.match(text):
        raise BadRequest(f"Invalid {field} {text!r}: use letters, digits, '_', '-', '.' "
                         f"and ':'.")
    return text.lower()


def _interface(field: str, value: Any) -> str | None:
    return v.string_value(field, value, max_length=255)


def _chassis(field: str, value: Any) -> None:
    if value is not None:
        raise BadRequest("chassis_uuid cannot be set: ingot has no chassis resource.")
    return None


@dataclasses.dataclass(frozen=True, slots=True)
class FieldSpec:
    check: Check
    create: bool = True
    patch: bool = True
    default: Any = None


SPECS: dict[str, FieldSpec] = {
    "uuid": FieldSpec(v.uuid_value, patch=False),
    "name": FieldSpec(v.name_value),
    "driver": FieldSpec(lambda f, x: v.string_value(f, x, max_length=255, nullable=False)),
    "driver_info": FieldSpec(v.dict_value, default={}),
    "instance_info": FieldSpec(v.dict_value, default={}),
    "properties": FieldSpec(v.dict_value, default={}),
    "extra": FieldSpec(v.dict_value, default={}),
    "network_data": FieldSpec(v.dict_value, default={}),
    "instance_uuid": FieldSpec(lambda f, x: None if x is None else v.uuid_value(f, x)),
    "chassis_uuid": FieldSpec(_chassis),
    "maintenance": FieldSpec(v.bool_value, default=False),
    "console_enabled": FieldSpec(v.bool_value, patch=False, default=False),
    "resource_class": FieldSpec(lambda f, x: v.string_value(f, x, max_length=80)),
    "conductor_group": FieldSpec(_group, default=""),
    "automated_clean": FieldSpec(v.optional_bool),
    "protected": FieldSpec(v.bool_value, create=False, default=False),
    "protected_reason": FieldSpec(lambda f, x: v.string_value(f, x), create=False),
    "owner": FieldSpec(lambda f, x: v.string_value(f, x, max_length=255)),
    "lessee": FieldSpec(lambda f, x: v.string_value(f, x, max_length=255)),
    "description": FieldSpec(lambda f, x: v.string_value(f, x, max_length=4096)),
    "retired": FieldSpec(v.bool_value, default=False),
    "retired_reason": FieldSpec(lambda f, x: v.string_value(f, x)),
    **{f"{kind}_interface": FieldSpec(_interface) for kind in INTERFACE_KINDS},
}

# Fields the API shows but no request may write.
READ_ONLY = frozenset({
    "created_at", "updated_at", "driver_internal_info", "power_state", "target_power_state",
    "provision_state", "target_provision_state", "provision_updated_at", "last_error",
    "maintenance_reason", "fault", "inspection_started_at", "inspection_finished_at",
    "clean_step", "deploy_step", "raid_config", "target_raid_config", "reservation",
    "traits", "conductor", "allocation_uuid", "links", "ports", "states", "portgroups",
    "volume",
})


def _check_version(field: str, minor: int) -> None:
    if FIELD_VERSIONS.get(field, 1) > minor:
        raise NotAcceptable(f"Field \"{field}\" needs API version "
                            f"1.{FIELD_VERSIONS[field]} or later; this request uses 1.{minor}.")


def creation_values(body: dict[str, Any], minor: int) -> dict[str, Any]:
    """Checked column values from a node create body."""
    unknown = [key for key in body if key not in SPECS or not SPECS[key].create]
    if unknown:
        read_only = [key for key in unknown if key in READ_ONLY or key in SPECS]
        if read_only:
            raise BadRequest(f"Cannot set {', '.join(read_only)} when creating a node: "
                             f"read-only field.")
        raise BadRequest(f"Unknown field(s) in node: {', '.join(sorted(unknown))}.")
    if "driver" not in body:
        raise BadRequest("Missing required field driver.")
    values: dict[str, Any] = {}
    for field, raw in body.items():
        _check_version(field, minor)
        values[field] = SPECS[field].check(field, raw)
    return values


def patched_field(field: str, raw: Any, minor: int) -> Any:
    """The checked value of one top-level field after a patch (raw is MISSING if removed)."""
    spec = SPECS.get(field)
    if spec is None or not spec.patch:
        if field in READ_ONLY or field in SPECS:
            raise BadRequest(f"'/{field}' is an internal attribute and can not be updated.")
        raise BadRequest(f"'/{field}' is not a node field.")
    _check_version(field, minor)
    if raw is MISSING:
        default = spec.default
        return dict(default) if isinstance(default, dict) else default
    return spec.check(field, raw)


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
