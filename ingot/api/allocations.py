"""/v1/allocations and /v1/nodes/{node}/allocation: API 1.52, PATCH of name and extra
1.57, backfilling a deployed node 1.58, owner 1.60.

A new allocation is recorded as allocating and a conductor finds it a node
(conductor/allocations.py); a backfill links the named active node at once.
"""

from __future__ import annotations

import uuid as uuidlib
from typing import Any

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import Response

from ingot.api import listing, patch, validation
from ingot.api.allocation_fields import ALLOCATION
from ingot.api.body import read_json, read_object
from ingot.api.context import base_url, context, version
from ingot.api.errors import ApiError, BadRequest, Conflict, MethodNotAllowed, NotFound
from ingot.api.fields import links
from ingot.api.lookup import find_node, json_suffix_taken
from ingot.api.responses import json_response
from ingot.common import states
from ingot.db import allocations, nodes
from ingot.db.models import Allocation, Node, utcnow

MIN_MINOR, UPDATE_MINOR, BACKFILL_MINOR = 52, 57, 58


def allocation_view(allocation: Allocation, minor: int, base: str,
                    fields: tuple[str, ...] | None = None) -> dict[str, Any]:
    out = ALLOCATION.view(allocation, ALLOCATION.names_at(minor) if fields is None
                          else fields)
    out["links"] = links(base, "allocations", allocation.uuid)
    return out


def _need_allocations(request: Request) -> int:
    """The request's minor version; allocations are newer than 1.52: reads of them
    answer 404 before it, writes 405, as Ironic's do."""
    minor = version(request).minor
    if minor < MIN_MINOR:
        message = "The API version does not allow allocations."
        if request.method == "GET":
            raise NotFound(message)
        raise MethodNotAllowed(message)
    return minor


def _find(conn: sa.Connection, ident: str, request: Request | None = None) -> Allocation:
    """The allocation by UUID or name; with the request, also by the name with the
    ".json" its path lost, as Ironic looks again."""
    found = (allocations.get_by_uuid(conn, ident) if validation.looks_like_uuid(ident)
             else allocations.get_by_name(conn, ident))
    if found is None and request is not None and json_suffix_taken(request):
        found = allocations.get_by_name(conn, f"{ident}.json")
    if found is None:
        raise NotFound(f"Allocation {ident} could not be found.")
    return found


def _checked_body(body: dict[str, Any], minor: int) -> dict[str, Any]:
    """The create body's values, checked (4xx naming the field), defaults filled in."""
    body = dict(body)
    node = body.pop("node", None)
    if node is not None:
        if minor < BACKFILL_MINOR:
            raise BadRequest(f"Cannot set node when creating an allocation before API "
                             f"version 1.{BACKFILL_MINOR}.")
        node = validation.string_value("node", node, max_length=255)
    values = {**ALLOCATION.defaults(), "uuid": None, "name": None, "resource_class": None,
              "owner": None, **ALLOCATION.creation_values(body, minor)}
    values["node"] = node
    return values


def _candidate(conn: sa.Connection, ident: str) -> str:
    try:
        return find_node(conn, ident).uuid
    except NotFound:
        raise BadRequest(f"Candidate node {ident} could not be found.") from None


def _check_unique(conn: sa.Connection, uuid: str, name: str | None) -> None:
    if allocations.get_by_uuid(conn, uuid) is not None:
        raise Conflict(f"An allocation with UUID {uuid} already exists.")
    if name is not None and allocations.get_by_name(conn, name) is not None:
        raise Conflict(f"An allocation with name {name} already exists.")


def _backfill_errors(node: Node, values: dict[str, Any]) -> list[str]:
    errors = []
    if node.provision_state != states.ACTIVE:
        errors.append(f"Node must be in the \"active\" state, but the current state is "
                      f"\"{node.provision_state}\"")
    if values["resource_class"] and node.resource_class != values["resource_class"]:
        errors.append(f"Resource class {node.resource_class} does not match the requested "
                      f"resource class {values['resource_class']}")
    if not set(values["traits"]) <= set(node.traits):
        errors.append(f"List of traits {node.traits} does not match the requested traits "
                      f"{values['traits']}")
    if values["candidate_nodes"] and node.uuid not in values["candidate_nodes"]:
        errors.append(f"Candidate nodes must be empty or contain the target node, but got "
                      f"{values['candidate_nodes']}")
    return errors


async def create_allocation(request: Request) -> Response:
    ctx = context(request)
    minor = _need_allocations(request)
    body = await read_object(request, ctx.settings.max_body, ctx.settings.max_body_depth)
    values = _checked_body(body, minor)
    node_ident = values.pop("node")
    try:
        with ctx.db.write() as conn:
            node = None
            if node_ident is not None:
                try:
                    node = find_node(conn, node_ident)
                except NotFound:
                    raise BadRequest(f"Node {node_ident} could not be found.") from None
                values["resource_class"] = values["resource_class"] or node.resource_class
            if not values["resource_class"]:
                raise BadRequest("The resource_class field is mandatory when not "
                                 "backfilling.")
            values["candidate_nodes"] = [_candidate(conn, ident)
                                         for ident in values["candidate_nodes"]]
            values["uuid"] = values["uuid"] or (node.instance_uuid if node else None) \
                or str(uuidlib.uuid4())
            _check_unique(conn, values["uuid"], values["name"])
            holder = nodes.exists(conn, "instance_uuid", values["uuid"])
            if holder and not (node is not None and node.instance_uuid == values["uuid"]):
                raise Conflict(f"Instance {values['uuid']} is already associated with a "
                               f"node.")
            allocations.insert(conn, {
                **values, "state": allocations.ALLOCATING, "created_at": utcnow()})
            allocation = allocations.get_by_uuid(conn, values["uuid"])
            assert allocation is not None
            if node is not None:
                _backfill(conn, allocation, node, values)
                allocation = allocations.get_by_uuid(conn, values["uuid"])
                assert allocation is not None
    except sa.exc.IntegrityError:
        # Lost a race with a concurrent create of the same UUID or name.
        with ctx.db.read() as conn:
            _check_unique(conn, str(values["uuid"]), values["name"])
        raise
    if node_ident is None:
        ctx.notify()
    base = base_url(request)
    return json_response(allocation_view(allocation, minor, base), status=201,
                         headers={"Location": f"{base}/v1/allocations/{allocation.uuid}"})


def _backfill(conn: sa.Connection, allocation: Allocation, node: Node,
              values: dict[str, Any]) -> None:
    errors = _backfill_errors(node, values)
    if errors:
        raise BadRequest(f"Cannot backfill an allocation for node {node.uuid}: "
                         f"{'; '.join(errors)}.")
    if node.allocation_uuid is not None:
        raise Conflict(f"Node {node.uuid} already has allocation {node.allocation_uuid}.")
    if node.instance_uuid not in (None, allocation.uuid):
        raise Conflict(f"Node {node.uuid} is associated with instance "
                       f"{node.instance_uuid}.")
    if not allocations.link(conn, allocation, node, node_state=states.ACTIVE):
        raise Conflict(f"Node {node.uuid} changed while the allocation was backfilled; "
                       f"retry.")


async def list_allocations(request: Request) -> Response:
    ctx = context(request)
    minor = _need_allocations(request)
    params = request.query_params
    fields = ALLOCATION.parse_fields(params.get("fields"), minor)
    if "owner" in params:
        ALLOCATION.check_version("owner", minor)
    page = listing.page_params(request, ctx.settings.max_limit, allocations.SORTABLE)
    filters = allocations.AllocationFilters(resource_class=params.get("resource_class"),
                                            state=params.get("state"),
                                            owner=params.get("owner"))
    with ctx.db.read() as conn:
        if params.get("node"):
            try:
                filters.node_id = find_node(conn, params["node"]).id
            except NotFound as exc:
                raise BadRequest(exc.message) from None
        try:
            found = allocations.list_allocations(conn, filters, sort_key=page.sort_key,
                                                 sort_dir=page.sort_dir, limit=page.limit,
                                                 marker=page.marker)
        except allocations.StaleMarker:
            raise NotFound(f"Allocation {page.marker} could not be found.") from None
    base = base_url(request)
    body: dict[str, Any] = {"allocations": [allocation_view(a, minor, base, fields)
                                            for a in found]}
    nxt = listing.next_link(base, "/v1/allocations", page, len(found),
                            found[-1].uuid if found else None, params)
    if nxt:
        body["next"] = nxt
    return json_response(body)


async def show_allocation(request: Request) -> Response:
    ctx = context(request)
    minor = _need_allocations(request)
    fields = ALLOCATION.parse_fields(request.query_params.get("fields"), minor)
    with ctx.db.read() as conn:
        allocation = _find(conn, request.path_params["allocation"], request)
    return json_response(allocation_view(allocation, minor, base_url(request), fields))


async def patch_allocation(request: Request) -> Response:
    ctx = context(request)
    minor = _need_allocations(request)
    if minor < UPDATE_MINOR:
        raise MethodNotAllowed(f"Updating allocations needs API version 1.{UPDATE_MINOR} "
                               f"or later.")
    operations = patch.parse(await read_json(request, ctx.settings.max_body,
                                             ctx.settings.max_body_depth))

    def check(field: str, raw: Any) -> Any:
        return ALLOCATION.patched(field, raw, minor)

    with ctx.db.write() as conn:
        allocation = _find(conn, request.path_params["allocation"], request)
        current = {name: getattr(allocation, name) for name in ALLOCATION.patchable()}
        changes = patch.apply(current, operations, check)
        if changes.get("name") and allocations.get_by_name(conn, changes["name"]):
            raise Conflict(f"An allocation with name {changes['name']} already exists.")
        if changes:
            allocations.update(conn, allocation.id, changes)
        allocation = _find(conn, allocation.uuid)
    return json_response(allocation_view(allocation, minor, base_url(request)))


def _check_deletable(conn: sa.Connection, allocation: Allocation) -> None:
    """Ironic's rule: a node in maintenance always lets go; otherwise not while it is
    active or in a transition where updates are not allowed."""
    node = None if allocation.node_id is None else nodes.get_by_id(conn, allocation.node_id)
    if node is None or node.maintenance:
        return
    if node.target_provision_state and \
            node.provision_state not in states.UPDATE_ALLOWED_STATES:
        raise Conflict(f"Cannot remove allocation {allocation.uuid} for node {node.uuid}, "
                       f"because the node is in state {node.provision_state} where updates "
                       f"are not allowed (and maintenance mode is off).")
    if node.provision_state == states.ACTIVE:
        raise Conflict(f"Cannot remove allocation {allocation.uuid} for node {node.uuid}, "
                       f"because the node is active (and maintenance mode is off).")


async def delete_allocation(request: Request) -> Response:
    ctx = context(request)
    _need_allocations(request)
    with ctx.db.write() as conn:
        allocation = _find(conn, request.path_params["allocation"], request)
        _check_deletable(conn, allocation)
        allocations.delete(conn, allocation)
    return Response(status_code=204)


def _node_allocation(conn: sa.Connection, ident: str,
                     missing_node: type[ApiError] = NotFound) -> Allocation:
    """The node's allocation. Ironic reads one as a filter of the allocation list, where
    a missing node is a bad request; deleting one answers 404."""
    try:
        node = find_node(conn, ident)
    except NotFound as exc:
        raise missing_node(exc.message) from None
    allocation = allocations.get_by_node(conn, node.id)
    if allocation is None:
        raise NotFound(f"Allocation for node {ident} was not found.")
    return allocation


async def show_node_allocation(request: Request) -> Response:
    ctx = context(request)
    minor = _need_allocations(request)
    fields = ALLOCATION.parse_fields(request.query_params.get("fields"), minor)
    with ctx.db.read() as conn:
        allocation = _node_allocation(conn, request.path_params["node"],
                                      missing_node=BadRequest)
    return json_response(allocation_view(allocation, minor, base_url(request), fields))


async def delete_node_allocation(request: Request) -> Response:
    ctx = context(request)
    _need_allocations(request)
    with ctx.db.write() as conn:
        allocation = _node_allocation(conn, request.path_params["node"])
        _check_deletable(conn, allocation)
        allocations.delete(conn, allocation)
    return Response(status_code=204)
