"""/v1/runbooks (API 1.92; description and /traits 1.112) and running one on a node.

A runbook is a named list of clean or service steps. A node runs it through its
provision state (target clean or service, ``runbook`` instead of the steps) when its
traits approve it: before API 1.112 the runbook's name must be one of the node's
traits, from 1.112 the node must share a trait with the runbook's own traits.

Owners as Ironic's: a project-scoped requester creates runbooks owned by its project,
never public ones, and sees its own and the public ones; system-scoped (and noauth)
requesters see and change all of them.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import Response

from ingot.api import crud
from ingot.api import validation as v
from ingot.api.body import read_bytes, read_object
from ingot.api.context import base_url, context
from ingot.api.errors import BadRequest, Forbidden, NotFound
from ingot.api.fields import Field, Resource
from ingot.api.node_fields import NODE
from ingot.api.responses import json_response
from ingot.common.redaction import redact
from ingot.db import records
from ingot.db.models import Node, Runbook, runbooks

MIN_MINOR = 92
TRAITS_MINOR = 112
# Ironic's cleaning interfaces: a runbook's steps are clean (or service) steps.
STEP_INTERFACES = ("vendor", "power", "management", "firmware", "deploy", "bios", "raid")
_STEP_KEYS = ("interface", "step", "args", "order")


def _requester_project(request: Request) -> str | None:
    """The project of a project-scoped requester; None for system scope and noauth."""
    identity = request.scope.get("state", {}).get("identity") or {}
    if identity.get("system"):
        return None
    project = identity.get("project")
    return str(project) if project else None


def _order(where: str, value: Any) -> int:
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadRequest(f"{where}.order must be an integer of 0 or more.")
    return value


def _step(index: int, step: Any) -> dict[str, Any]:
    where = f"steps[{index}]"
    if not isinstance(step, dict):
        raise BadRequest(f"{where} must be an object with interface, step, order and "
                         f"optionally args.")
    missing = [key for key in ("interface", "step", "order") if key not in step]
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
    args = step.get("args", {})
    if not isinstance(args, dict):
        raise BadRequest(f"{where}.args must be an object.")
    return {"interface": step["interface"], "step": step["step"], "args": args,
            "order": _order(where, step["order"])}


def check_steps(field: str, value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not value:
        raise BadRequest(f"No steps specified in {field}: a runbook must have at least "
                         f"one step.")
    return v.unique_steps(
        [_step(index, step) for index, step in enumerate(value)],
        f"Duplicate steps in {field}: a runbook cannot have interface {{interface}}, "
        f"step {{step}} more than once.")


def _shown_steps(runbook: Runbook) -> list[dict[str, Any]]:
    return [{**step, "args": redact(step["args"])} for step in runbook.steps]


def _flag(field: str, value: Any) -> bool:
    # Ironic's schema lets null through; the stored flag is then false.
    return False if value is None else v.bool_value(field, value)


def _name(field: str, value: Any) -> str:
    # From 1.112 any logical name; _admit holds older requests to a trait.
    name = v.name_value(field, value)
    if name is None:
        raise BadRequest(f"{field} is required.")
    return name


_STEP_SCHEMA = {"type": "object", "required": ["interface", "step", "order"],
                "properties": {"interface": {"type": "string", "enum": list(STEP_INTERFACES)},
                               "step": {"type": "string"}, "args": {"type": "object"},
                               "order": {"type": "integer", "minimum": 0}}}

FIELDS = Resource("runbook", (
    Field("uuid", 1, v.uuid_value, patch=False, schema={"type": "string", "format": "uuid"}),
    Field("created_at"), Field("updated_at"),
    Field("name", 1, _name, required=True, schema={"type": "string", "maxLength": 255}),
    Field("steps", 1, check_steps, required=True, show=_shown_steps,
          schema={"type": "array", "minItems": 1, "items": _STEP_SCHEMA}),
    Field("disable_ramdisk", 1, _flag, default=False, schema={"type": "boolean"}),
    Field("public", 1, _flag, default=False, schema={"type": "boolean"}),
    Field("owner", 1, lambda f, x: v.string_value(f, x, max_length=255),
          schema={"type": "string", "nullable": True, "maxLength": 255}),
    Field("description", TRAITS_MINOR, lambda f, x: v.string_value(f, x, max_length=255),
          schema={"type": "string", "nullable": True, "maxLength": 255}),
    Field("traits", TRAITS_MINOR, default=[]),
    Field("extra", 1, v.dict_value, default={}, schema={"type": "object"}),
), ("uuid", "name"), fields_param_since=1)


def _admit(request: Request, minor: int, values: dict[str, Any],
           current: Runbook | None) -> dict[str, Any]:
    if current is None and minor < TRAITS_MINOR:
        try:
            v.trait_value(values["name"])
        except BadRequest as exc:
            raise BadRequest(f"Runbook name must be a valid trait before API version "
                             f"1.{TRAITS_MINOR}: {exc.message}") from None
    project = _requester_project(request)
    if current is None:
        if project is not None:
            if values.get("owner") not in (None, project):
                raise BadRequest("Cannot create a runbook as a project scoped admin with an "
                                 "owner other than your own project.")
            if values.get("public"):
                raise BadRequest("Cannot create a public runbook as a project scoped admin.")
            values["owner"] = project
        if values.get("public") and values.get("owner"):
            raise BadRequest("There cannot be an owner for a public runbook.")
        return values
    if project is not None and ({"owner", "public"} & set(values)):
        raise Forbidden("Only a system-scoped requester may change a runbook's owner or "
                        "public flag.")
    public = values.get("public", current.public)
    if "public" in values and "owner" not in values:
        values["owner"] = None  # making a runbook public (or private) drops its owner
    if public and values.get("owner"):
        raise BadRequest("There cannot be an owner for a public runbook.")
    return values


def _access(request: Request, runbook: Runbook, write: bool) -> None:
    project = _requester_project(request)
    if project is None or runbook.owner == project or (runbook.public and not write):
        return
    raise Forbidden(f"Access to runbook {runbook.uuid} is not allowed for project "
                    f"{project}.")


def _visible(request: Request) -> list[sa.ColumnElement[bool]]:
    project = _requester_project(request)
    if project is None:
        return []
    return [sa.or_(runbooks.c.owner == project, runbooks.c.public.is_(True))]


KIND = crud.Kind(FIELDS, records.Store(runbooks, Runbook), path="runbooks", key="runbooks",
                 title="Runbook", since=MIN_MINOR, gate_name="runbooks", by_name=True,
                 ident_name="runbook_ident",
                 detail_since=MIN_MINOR, sublinks={},
                 # Ironic checks this list's sort_key against the node's versioned fields.
                 sort_since=NODE.versioned(),
                 unique=((("uuid",), "A runbook with UUID {uuid} already exists."),
                         (("name",), "A runbook with name {name} already exists.")),
                 admit=_admit, access=_access, visible=_visible)

list_runbooks = crud.list_handler(KIND)
show_runbook = crud.show_handler(KIND, "runbook")
create_runbook = crud.create_handler(KIND)
patch_runbook = crud.patch_handler(KIND, "runbook")
delete_runbook = crud.delete_handler(KIND, "runbook")


# --- /v1/runbooks/{runbook}/traits (API 1.112) ------------------------------------------

def _traits_gate(request: Request) -> int:
    minor = KIND.gate(request)
    if minor < TRAITS_MINOR:
        raise NotFound("The API version does not allow runbook traits.")
    return minor


async def get_traits(request: Request) -> Response:
    minor = _traits_gate(request)
    with context(request).db.read() as conn:
        runbook = KIND.find_for(conn, request, "runbook", minor, write=False)
    return json_response({"traits": runbook.traits})


async def set_traits(request: Request) -> Response:
    """PUT .../traits/{trait} adds one (no body); PUT .../traits replaces them all."""
    minor = _traits_gate(request)
    ctx = context(request)
    trait = request.path_params.get("trait")
    if trait is not None:
        raw = (await read_bytes(request, ctx.settings.max_body)).strip()
        if raw not in (b"", b"null", b"{}"):
            raise BadRequest("No body should be provided when adding a trait.")
        added = v.trait_value(trait)
    else:
        body = await read_object(request, ctx.settings.max_body, ctx.settings.max_body_depth)
        if set(body) != {"traits"} or not isinstance(body["traits"], list):
            raise BadRequest("A single runbook trait may be added via PUT /v1/runbooks/"
                             "<runbook>/traits/<trait> with no body, or all runbook traits "
                             "replaced via PUT /v1/runbooks/<runbook>/traits with the body "
                             "{\"traits\": [...]}.")
        replaced = sorted({v.trait_value(t) for t in body["traits"]})
    with ctx.db.write() as conn:
        runbook = KIND.find_for(conn, request, "runbook", minor, write=True)
        new = sorted(set(runbook.traits) | {added}) if trait is not None else replaced
        KIND.store.update(conn, runbook.id, {"traits": new})
    headers = ({"Location": f"{base_url(request)}/v1/runbooks/{runbook.uuid}/traits/{trait}"}
               if trait is not None else {})
    return Response(status_code=204, headers=headers)


async def delete_traits(request: Request) -> Response:
    """Removing a trait the runbook does not have changes nothing, as in Ironic."""
    minor = _traits_gate(request)
    trait = request.path_params.get("trait")
    with context(request).db.write() as conn:
        runbook = KIND.find_for(conn, request, "runbook", minor, write=True)
        kept = [t for t in runbook.traits if trait is not None and t != trait]
        if kept != runbook.traits:
            KIND.store.update(conn, runbook.id, {"traits": kept})
    return Response(status_code=204)


# --- running a runbook on a node ---------------------------------------------------------

def approved(conn: sa.Connection, request: Request, ident: Any, node: Node,
              minor: int) -> Runbook:
    """The runbook a provision request names, once the node's traits approve it."""
    if not isinstance(ident, str) or not ident:
        raise BadRequest("\"runbook\" must be the UUID or name of a runbook.")
    runbook: Runbook = KIND.find(conn, ident)
    KIND.access(request, runbook, False)
    if minor >= TRAITS_MINOR:
        if not runbook.traits:
            raise BadRequest(f"Runbook {runbook.uuid} has no traits configured. Please ask "
                             f"an administrator to add traits to the runbook.")
        if not set(runbook.traits) & set(node.traits):
            raise BadRequest(f"This runbook has not been approved for use on this node "
                             f"{node.uuid}. The node does not have any of the runbook's "
                             f"traits {sorted(runbook.traits)}. Please ask an administrator "
                             f"to add a matching trait to your node.")
    elif runbook.name not in node.traits:
        raise BadRequest(f"This runbook has not been approved for use on this node "
                         f"{node.uuid}. Please ask an administrator to add it to your node "
                         f"traits.")
    return runbook
