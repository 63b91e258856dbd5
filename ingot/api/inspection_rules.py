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

from ingot.api import listing, patch, validation
from ingot.api.body import read_json, read_object
from ingot.api.context import base_url, context, version
from ingot.api.errors import BadRequest, Conflict, MethodNotAllowed, NotFound
from ingot.api.fields import MISSING, links, timestamp
from ingot.api.responses import json_response
from ingot.db import inspection as stored
from ingot.db import records
from ingot.db.models import InspectionRule
from ingot.inspection.rules import InvalidRule, check_rule

RULES_MINOR = 96
_SUMMARY = ("uuid", "description", "priority", "sensitive", "phase")
# What Ironic's list shows without ?detail or ?fields (its DEFAULT_RETURN_FIELDS).
_LIST_DEFAULT = ("uuid", "priority", "phase", "description")


def _need_rules(request: Request, *, write: bool = False) -> None:
    """Before 1.96 Ironic has no such resource: 404, and 405 to the methods that change
    rules."""
    if version(request).minor < RULES_MINOR:
        error = MethodNotAllowed if write else NotFound
        raise error(f"Inspection rules need API version 1.{RULES_MINOR} or later.")


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


_LIST_PARAMS = ("detail", "fields", "limit", "marker", "phase", "sort_dir", "sort_key")
# Ironic's query schema refuses these before its database would.
_UNSORTABLE = ("actions", "conditions")


def _page(request: Request, max_limit: int) -> listing.Page:
    """limit, marker, sort_key and sort_dir, refused with Ironic's messages (its query
    schema's for sort_dir and the JSON columns)."""
    params = request.query_params
    raw_limit = params.get("limit")
    limit = None
    if raw_limit is not None:
        try:
            limit = int(raw_limit)
        except ValueError:
            raise BadRequest(f"Expected an integer for limit: {raw_limit}") from None
    sort_dir = params.get("sort_dir", "asc")
    if sort_dir not in ("asc", "desc"):
        raise BadRequest(f"Schema error: {sort_dir!r} is not one of ['asc', 'desc']")
    sort_key = params.get("sort_key", "id")
    if sort_key in _UNSORTABLE:
        raise BadRequest(f"Schema error: {sort_key!r} should not be valid under "
                         f"{{'type': 'string', 'enum': ['actions', 'conditions']}}")
    if limit is not None and limit <= 0:
        raise BadRequest("Limit must be positive")
    if sort_key not in stored.SORTABLE:
        raise BadRequest(f'The sort_key value "{sort_key}" is an invalid field for sorting')
    return listing.Page(min(limit or max_limit, max_limit), params.get("marker"), sort_key,
                        sort_dir)


async def list_rules(request: Request) -> Response:
    """As Ironic's: by id unless sort_key says otherwise, paged by limit and marker (a
    rule's UUID; an unknown one is a 404). phase is accepted and, as in Ironic, does not
    filter."""
    _need_rules(request)
    ctx = context(request)
    params = request.query_params
    unexpected = [name for name in params if name not in _LIST_PARAMS]
    if unexpected:
        raise BadRequest(f"Unexpected arguments: {', '.join(unexpected)}")
    detail = validation.bool_value("detail", params.get("detail", "false"))
    fields = _fields(request)
    page = _page(request, ctx.settings.max_limit)
    if fields is not None and detail:
        raise BadRequest("Can not specify ?detail=True and fields in the same request.")
    with ctx.db.read() as conn:
        try:
            rules = stored.page_rules(conn, sort_key=page.sort_key, sort_dir=page.sort_dir,
                                      limit=page.limit, marker=page.marker)
        except records.StaleMarker:
            raise NotFound(f"Rule {page.marker} could not be found.") from None
    base = base_url(request)
    if fields is None and not detail:
        fields = _LIST_DEFAULT
    body: dict[str, Any] = {"inspection_rules": [_view(rule, base, detail=detail,
                                                       fields=fields) for rule in rules]}
    nxt = listing.next_link(base, "/v1/inspection_rules", page, len(rules),
                            rules[-1].uuid if rules else None, params)
    if nxt:
        body["next"] = nxt
    return json_response(body)


async def show_rule(request: Request) -> Response:
    _need_rules(request)
    ctx = context(request)
    fields = _fields(request)
    with ctx.db.read() as conn:
        rule = _find(conn, request.path_params["rule"])
    return json_response(_view(rule, base_url(request), fields=fields))


async def create_rule(request: Request) -> Response:
    _need_rules(request, write=True)
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
    _need_rules(request, write=True)
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
    _need_rules(request, write=True)
    ctx = context(request)
    with ctx.db.write() as conn:
        stored.delete_rule(conn, _find(conn, request.path_params["rule"]).id)
    return Response(status_code=204)


async def delete_all(request: Request) -> Response:
    """Every operator rule goes; built-in ones ([inspection_rules] built_in_rules) are
    not stored and stay. (Ironic 39 documents this but answers 500.)"""
    _need_rules(request, write=True)
    with context(request).db.write() as conn:
        stored.delete_all_rules(conn)
    return Response(status_code=204)
