"""JSON patch (RFC 6902) on API resources, restricted as Ironic restricts it."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

import jsonpatch
import jsonpointer

from ingot.api.errors import BadRequest
from ingot.api.fields import MISSING

_OPS = ("add", "replace", "remove")


def parse(body: Any) -> list[dict[str, Any]]:
    if not isinstance(body, list) or not body:
        raise BadRequest("A PATCH body must be a non-empty JSON list of patch operations.")
    operations = []
    for index, op in enumerate(body):
        if not isinstance(op, dict):
            raise BadRequest(f"Patch operation {index} is not an object.")
        if op.get("op") not in _OPS:
            raise BadRequest(f"Patch operation {index}: op must be one of "
                             f"{', '.join(_OPS)}, got {op.get('op')!r}.")
        unknown = set(op) - {"op", "path", "value"}
        if unknown:
            raise BadRequest(f"Patch operation {index} has unknown key(s): "
                             f"{', '.join(sorted(unknown))}.")
        path = op.get("path")
        if not isinstance(path, str) or not path.startswith("/") or path == "/":
            raise BadRequest(f"Patch operation {index}: invalid path {path!r}; a path names "
                             f"a field, e.g. '/driver_info/ipmi_address'.")
        if op["op"] != "remove" and "value" not in op:
            raise BadRequest(f"Patch operation {index} ({op['op']} {path}) needs a value.")
        operations.append(op)
    return operations


def root_field(path: str) -> str:
    return path.split("/")[1].replace("~1", "/").replace("~0", "~")


def apply(current: Mapping[str, Any], operations: list[dict[str, Any]],
          check: Callable[[str, Any], Any]) -> dict[str, Any]:
    """Apply operations to current (top-level field -> value).

    Returns the changed fields with checked values; check(field, raw) validates one
    field's new value (MISSING when the patch removed it).
    """
    roots = {root_field(op["path"]) for op in operations}
    document = {field: copy.deepcopy(current[field]) for field in roots if field in current}
    for field in roots:
        # Unknown or read-only fields fail here, with a message naming them.
        if field not in current:
            check(field, MISSING)
    try:
        patched = jsonpatch.apply_patch(document, operations)
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
        raise BadRequest(f"Invalid patch: {exc}.") from None
    changes: dict[str, Any] = {}
    for field in roots:
        value = check(field, patched.get(field, MISSING))
        if value != current.get(field):
            changes[field] = value
    return changes
