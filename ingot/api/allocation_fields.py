"""The allocation's field table (Ironic's fields; owner since 1.60) and its checks.

The resource itself needs 1.52 (api/allocations.py gates it); ``node``, the backfill
target (1.58), is a create parameter, not a field, so it is not in the table.
"""

from __future__ import annotations

from typing import Any

from ingot.api import validation as v
from ingot.api.errors import BadRequest
from ingot.api.fields import Field, Resource

_TEXT = {"type": "string", "nullable": True}
_STRINGS = {"type": "array", "nullable": True, "items": {"type": "string"}}


def _optional(max_length: int) -> Any:
    def check(field: str, value: Any) -> str | None:
        return None if value is None else v.string_value(field, value, max_length=max_length)
    return check


def _strings(field: str, value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise BadRequest(f"Expected a list of strings for {field}, got {value!r}.")
    return list(value)


def _traits(field: str, value: Any) -> list[str]:
    return list(dict.fromkeys(v.trait_value(trait) for trait in _strings(field, value)))


def _uuid(field: str, value: Any) -> str | None:
    return None if value is None else v.uuid_value(field, value)


ALLOCATION = Resource("allocation", (
    Field("uuid", 1, _uuid, patch=False, schema={**_TEXT, "format": "uuid"}),
    Field("created_at"), Field("updated_at"),
    Field("candidate_nodes", 1, _strings, patch=False, default=[], schema=_STRINGS),
    Field("extra", 1, v.dict_value, default={}, schema={"type": "object", "nullable": True}),
    Field("last_error"),
    Field("name", 1, v.name_value, schema={**_TEXT, "maxLength": 255}),
    Field("node_uuid"),
    Field("owner", 60, _optional(255), patch=False, schema={**_TEXT, "maxLength": 255}),
    Field("resource_class", 1, _optional(80), patch=False, schema={**_TEXT, "maxLength": 80}),
    Field("state"),
    Field("traits", 1, _traits, patch=False, default=[], schema=_STRINGS),
), ("uuid", "candidate_nodes", "extra", "last_error", "name", "node_uuid", "owner",
    "resource_class", "state", "traits", "created_at", "updated_at"), fields_param_since=1)
