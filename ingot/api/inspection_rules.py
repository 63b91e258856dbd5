"""/v1/inspection_rules (API 1.96): the operator's inspection rules, as Ironic's.

Rules are checked whole (rules.check_rule: every condition and action, its arguments
and the node fields it may change) before they are stored. A sensitive rule's
conditions and actions are never shown again: they may hold credentials.
"""

from __future__ import annotations

import uuid as uuidlib
from typing import Any

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import Response

from ingot.api import patch, validation
from ingot.api.body import read_json, read_object
from ingot.api.context import base_url, context, version
from ingot.api.errors import BadRequest, Conflict, NotFound
from ingot.api.fields import MISSING, links, timestamp
from ingot.api.responses import json_response
from ingot.db import inspection as stored
from ingot.db.models import InspectionRule
from ingot.inspection.rules import InvalidRule, check_rule

RULES_MINOR = 96
_SUMMARY = ("uuid", "description", "priority", "sensitive", "phase")


def _need_rules(request: Request) -> None:
    if version(request).minor < RULES_MINOR:
        raise NotFound(f"Inspection rules need API version 1.{RULES_MINOR} or later.")


_FIELDS = (*_SUMMARY, "conditions", "actions", "created_at", "updated_at")


def _fields(request: Request) -> tuple[str, ...] | None:
    raw = request.query_params.get("fields")
    if raw is None:
        return None
    names = tuple(name.strip() for name in raw.split(",") if name.strip())
    unknown = sorted(set(names) - set(_FIELDS) - {"links"})
    if unknown:
        raise BadRequest(f"Field(s) \"{', '.join(unknown)}\" are not valid.")
    return names


def _view(rule: InspectionRule, base: str, *, detail: bool = True,
          fields: tuple[str, ...] | None = None) -> dict[str, Any]:
    full: dict[str, Any] = {name: getattr(rule, name) for name in _SUMMARY}
    if detail or fields is not None:
        full["conditions"] = None if rule.sensitive else rule.conditions
        full["actions"] = None if rule.sensitive else rule.actions
        full["created_at"] = timestamp(rule.created_at)
        full["updated_at"] = timestamp(rule.updated_at)
    full["links"] = links(base, "inspection_rules", rule.uuid)
    if fields is None:
        return full
    return {name: full[name] for name in (*fields, "links") if name in full}


def _find(conn: sa.Connection, ident: str) -> InspectionRule:
    if not validation.looks_like_uuid(ident):
        raise BadRequest(f"Expected a UUID for inspection rule, got {ident!r}.")
    rule = stored.get_rule(conn, str(uuidlib.UUID(ident)))
    if rule is None:
        raise NotFound(f"Inspection rule {ident} could not be found.")
    return rule


def _row(raw: dict[str, Any]) -> dict[str, Any]:
    """The rule's columns, checked; conditions and actions stored as given (as Ironic
    shows them back), process.py normalizes them when rules run."""
    try:
        rule = check_rule(raw)
    except InvalidRule as exc:
        raise BadRequest(str(exc)) from None
    return {"description": rule.description, "priority": rule.priority,
            "sensitive": rule.sensitive, "phase": raw.get("phase", "main"),
            "conditions": raw.get("conditions") or [], "actions": raw["actions"]}


async def list_rules(request: Request) -> Response:
    _need_rules(request)
    ctx = context(request)
    detail = validation.bool_value("detail", request.query_params.get("detail", "false"))
    fields = _fields(request)
    with ctx.db.read() as conn:
        rules = stored.list_rules(conn)
    base = base_url(request)
    return json_response({"inspection_rules": [_view(rule, base, detail=detail,
                                                     fields=fields)
                                               for rule in rules]})


async def show_rule(request: Request) -> Response:
    _need_rules(request)
    ctx = context(request)
    fields = _fields(request)
    with ctx.db.read() as conn:
        rule = _find(conn, request.path_params["rule"])
    return json_response(_view(rule, base_url(request), fields=fields))


async def create_rule(request: Request) -> Response:
    _need_rules(request)
    ctx = context(request)
    body = await read_object(request, ctx.settings.max_body, ctx.settings.max_body_depth)
    row = _row(body)
    rule_uuid = validation.uuid_value("uuid", body["uuid"]) if body.get("uuid") \
        else str(uuidlib.uuid4())
    with ctx.db.write() as conn:
        if stored.get_rule(conn, rule_uuid) is not None:
            raise Conflict(f"An inspection rule with UUID {rule_uuid} already exists.")
        rule = stored.insert_rule(conn, {"uuid": rule_uuid, **row})
    base = base_url(request)
    return json_response(_view(rule, base), status=201,
                         headers={"Location": f"{base}/v1/inspection_rules/{rule.uuid}"})


async def patch_rule(request: Request) -> Response:
    _need_rules(request)
    ctx = context(request)
    operations = patch.parse(await read_json(request, ctx.settings.max_body,
                                             ctx.settings.max_body_depth))
    with ctx.db.write() as conn:
        rule = _find(conn, request.path_params["rule"])
        current = {name: getattr(rule, name) for name in
                   ("description", "priority", "sensitive", "phase", "conditions",
                    "actions")}

        def check(field: str, raw: Any) -> Any:
            if field not in current:
                raise BadRequest(f"Cannot patch field {field!r} of an inspection rule.")
            return None if raw is MISSING else raw

        changes = patch.apply(current, operations, check)
        if rule.sensitive and changes.get("sensitive") is False:
            raise BadRequest("A sensitive rule cannot be made non-sensitive.")
        row = _row({**current, **changes})
        stored.update_rule(conn, rule.id, row)
        rule = _find(conn, rule.uuid)
    return json_response(_view(rule, base_url(request)))


async def delete_rule(request: Request) -> Response:
    _need_rules(request)
    ctx = context(request)
    with ctx.db.write() as conn:
        stored.delete_rule(conn, _find(conn, request.path_params["rule"]).id)
    return Response(status_code=204)


async def delete_all(request: Request) -> Response:
    _need_rules(request)
    with context(request).db.write() as conn:
        stored.delete_all_rules(conn)
    return Response(status_code=204)
