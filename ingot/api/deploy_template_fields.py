"""The deploy template's field table (API 1.55) and Ironic's rules for it: the name is
a trait, and the steps are at least one, each {interface, step, args, priority} with a
deploy-time interface, no (interface, step) twice."""

from __future__ import annotations

from typing import Any

from ingot.api import validation as v
from ingot.api.errors import BadRequest
from ingot.api.fields import Field, Resource
from ingot.common.redaction import redact
from ingot.db.models import DeployTemplate

# The interfaces whose steps may run while deploying (Ironic's deploy step interfaces).
STEP_INTERFACES = ("deploy", "bios", "raid", "firmware", "management", "power")
_STEP_KEYS = ("interface", "step", "args", "priority")


def _name(field: str, value: Any) -> str:
    try:
        return v.trait_value(value)
    except BadRequest as exc:
        raise BadRequest(f"Deploy template {field} must be a valid trait: "
                         f"{exc.message}") from None


def _step(index: int, step: Any) -> dict[str, Any]:
    where = f"steps[{index}]"
    if not isinstance(step, dict):
        raise BadRequest(f"{where} must be an object with {', '.join(_STEP_KEYS)}.")
    missing = [key for key in _STEP_KEYS if key not in step]
    unknown = sorted(set(step) - set(_STEP_KEYS))
    if missing or unknown:
        raise BadRequest(f"{where}: " + "; ".join(
            ([f"missing {', '.join(missing)}"] if missing else [])
            + ([f"unknown {', '.join(unknown)}"] if unknown else [])) + ".")
    if step["interface"] not in STEP_INTERFACES:
        raise BadRequest(f"{where}.interface must be one of {', '.join(STEP_INTERFACES)}, "
                         f"got {step['interface']!r}.")
    if not isinstance(step["step"], str) or not step["step"]:
        raise BadRequest(f"{where}.step must be a non-empty string.")
    if not isinstance(step["args"], dict):
        raise BadRequest(f"{where}.args must be an object.")
    priority = step["priority"]
    if isinstance(priority, bool) or not isinstance(priority, int) or priority < 0:
        raise BadRequest(f"{where}.priority must be an integer of 0 or more.")
    return {key: step[key] for key in _STEP_KEYS}


def check_steps(field: str, value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not value:
        raise BadRequest(f"No deploy steps specified in {field}. A deploy template must "
                         f"have at least one deploy step.")
    return v.unique_steps(
        [_step(index, step) for index, step in enumerate(value)],
        f"Duplicate deploy steps in {field}: a deploy template cannot have interface "
        f"{{interface}}, step {{step}} more than once.")


def _shown_steps(template: DeployTemplate) -> list[dict[str, Any]]:
    return [{**step, "args": redact(step["args"])} for step in template.steps]


_STEP_SCHEMA = {"type": "object", "required": list(_STEP_KEYS),
                "properties": {"interface": {"type": "string", "enum": list(STEP_INTERFACES)},
                               "step": {"type": "string"}, "args": {"type": "object"},
                               "priority": {"type": "integer", "minimum": 0}}}

DEPLOY_TEMPLATE = Resource("deploy template", (
    Field("uuid", 1, v.uuid_value, patch=False, schema={"type": "string", "format": "uuid"}),
    Field("created_at"), Field("updated_at"),
    Field("name", 1, _name, required=True, schema={"type": "string", "maxLength": 255}),
    Field("steps", 1, check_steps, required=True, show=_shown_steps,
          schema={"type": "array", "minItems": 1, "items": _STEP_SCHEMA}),
    Field("extra", 1, v.dict_value, default={}, schema={"type": "object"}),
), ("uuid", "name"), fields_param_since=1)
