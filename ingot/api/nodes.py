"""/v1/nodes: create, show, list, update, delete, maintenance and traits."""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import Response

from ingot.api import chassis, listing, patch, validation, vmedia
from ingot.api.body import read_json, read_object
from ingot.api.context import ApiContext, base_url, context, version
from ingot.api.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    MethodNotAllowed,
    NotAcceptable,
    NotFound,
)
from ingot.api.lookup import find_node, locked
from ingot.api.node_fields import NODE
from ingot.api.node_view import node_view
from ingot.api.responses import json_response
from ingot.common import faults, states
from ingot.db import nodes
from ingot.db.models import INTERFACE_COLUMNS, Node, PartialNode, utcnow
from ingot.drivers import hardware
from ingot.drivers.interfaces import INTERFACE_KINDS, InvalidParameter

# Filters by the API version that introduced them.
_FILTER_VERSIONS = {
    "provision_state": 9, "driver": 16, "resource_class": 21, "fault": 42,
    "conductor_group": 46, "conductor": 49, "owner": 50, "description_contains": 51,
    "retired": 61, "lessee": 65, "project": 65, "shard": 82, "sharded": 82,
    "include_children": 83, "parent_node": 83, "instance_name": 104,
}
_STRING_FILTERS = ("driver", "provision_state", "resource_class", "fault", "owner",
                   "lessee", "project", "description_contains", "conductor",
                   "parent_node", "instance_name")
_BOOL_FILTERS = ("maintenance", "associated", "retired", "sharded", "include_children")
# Ironic checks a node list's sort_key against every versioned node field.
_SORT_SINCE = NODE.versioned()


def _filters(request: Request, minor: int) -> nodes.NodeFilters:
    params = request.query_params
    filters = nodes.NodeFilters()
    for name in _STRING_FILTERS + _BOOL_FILTERS + ("conductor_group", "instance_uuid",
                                                   "shard", "chassis_uuid"):
        raw = params.get(name)
        if raw is None:
            continue
        if _FILTER_VERSIONS.get(name, 1) > minor:
            raise NotAcceptable(f"Filtering by {name} needs API version "
                                f"1.{_FILTER_VERSIONS[name]} or later.")
        value: Any = raw
        if name in _BOOL_FILTERS:
            value = validation.bool_value(name, raw)
        elif name == "conductor_group":
            value = raw.lower()
        elif name in ("instance_uuid", "chassis_uuid"):
            value = validation.uuid_value(name, raw)
        elif name == "shard":
            value = [part.strip() for part in raw.split(",") if part.strip()]
        elif name == "parent_node" and validation.looks_like_uuid(raw):
            value = raw.lower()
        elif name == "provision_state" and raw not in states.ALL_STATES:
            raise BadRequest(f"Provision state \"{raw}\" is not valid.")
        elif name == "fault" and raw not in faults.VALID_FAULTS:
            raise BadRequest(f"Unrecognized fault \"{raw}\" is specified, allowed faults "
                             f"are {', '.join(faults.VALID_FAULTS)}")
        setattr(filters, name, value)
    return filters


async def list_nodes(request: Request) -> Response:
    return _list(request, detail=None)


async def list_nodes_detail(request: Request) -> Response:
    if "detail" in request.query_params:
        raise BadRequest("The detail parameter cannot be used on /v1/nodes/detail.")
    return _list(request, detail=True)


async def list_chassis_nodes(request: Request) -> Response:
    """/v1/chassis/{chassis}/nodes[/detail]: the nodes in one chassis."""
    detail = request.url.path.rstrip("/").endswith("/detail")
    with context(request).db.read() as conn:
        chassis_uuid = chassis.KIND.find(conn, request.path_params["chassis"]).uuid
    return _list(request, detail=True if detail else None, chassis_uuid=chassis_uuid)


def _list(request: Request, detail: bool | None, chassis_uuid: str | None = None) -> Response:
    ctx = context(request)
    minor = version(request).minor
    params = request.query_params
    if detail is None and "detail" in params:
        if minor < 43:
            raise NotAcceptable("The detail parameter needs API version 1.43 or later.")
        detail = validation.bool_value("detail", params["detail"])
    fields = NODE.parse_fields(params.get("fields"), minor)
    if fields is not None and detail:
        raise BadRequest("The fields parameter cannot be combined with detail.")
    page = listing.page_params(request, ctx.settings.max_limit, nodes.SORTABLE,
                               since=_SORT_SINCE)
    filters = _filters(request, minor)
    if chassis_uuid is not None:
        filters.chassis_uuid = chassis_uuid
    # A node's conductor is the one the directory picks (its affinity only while that
    # conductor lives); Ironic, too, filters the page it read by it.
    conductor, filters.conductor = filters.conductor, None
    with ctx.db.read() as conn:
        try:
            found: Sequence[Node | PartialNode]
            if fields is None and detail:
                found = nodes.list_nodes(conn, filters, sort_key=page.sort_key,
                                         sort_dir=page.sort_dir, limit=page.limit,
                                         marker=page.marker)
            else:
                # Only the columns the shown fields read: the default fields are no JSON.
                columns = NODE.reads((*(fields or NODE.names_at(minor, False)), "uuid",
                                      *(("conductor",) if conductor is not None else ())))
                found = nodes.list_partial(conn, filters, columns, sort_key=page.sort_key,
                                           sort_dir=page.sort_dir, limit=page.limit,
                                           marker=page.marker)
        except nodes.StaleMarker:
            raise NotFound(f"Node {page.marker} could not be found.") from None
    last = found[-1].uuid if found else None
    if conductor is not None:
        found = [node for node in found if ctx.directory.conductor_for(node) == conductor]
    base = base_url(request)
    wants_conductor = (detail and minor >= 49) or (fields is not None and "conductor" in fields)
    body: dict[str, Any] = {"nodes": [
        node_view(node, minor, base, fields, detail=bool(detail),
                  conductor=ctx.directory.conductor_for(node) if wants_conductor else None)
        for node in found]}
    nxt = listing.next_link(base, request.url.path.rstrip("/"), page, len(found), last,
                            params)
    if nxt:
        body["next"] = nxt
    return json_response(body)


async def show_node(request: Request) -> Response:
    ctx = context(request)
    minor = version(request).minor
    fields = NODE.parse_fields(request.query_params.get("fields"), minor)
    with ctx.db.read() as conn:
        node = find_node(conn, request.path_params["node"])
    return json_response(node_view(node, minor, base_url(request), fields,
                                   conductor=ctx.directory.conductor_for(node)))


def _check_interfaces(values: dict[str, Any], driver_name: str,
                      ctx: ApiContext) -> dict[str, Any]:
    """Default every unset interface and refuse ones the hardware type lacks or the
    configuration does not enable."""
    enabled = ctx.settings.enabled_hardware_types
    if driver_name not in enabled:
        raise BadRequest(f"Driver {driver_name} is not enabled; enabled hardware types: "
                         f"{', '.join(enabled)}.")
    hardware_type = hardware.known().get(driver_name)
    if hardware_type is None:
        raise BadRequest(f"Cannot load specified driver {driver_name}.")
    result = {}
    for kind in INTERFACE_KINDS:
        field = f"{kind}_interface"
        try:
            implementation = hardware_type.implementation(kind, values.get(field),
                                                          ctx.drivers.interfaces)
        except InvalidParameter as exc:
            raise BadRequest(str(exc)) from None
        result[field] = implementation.name
    return result


async def create_node(request: Request) -> Response:
    ctx = context(request)
    minor = version(request).minor
    body = await read_object(request, ctx.settings.max_body, ctx.settings.max_body_depth)
    values = NODE.creation_values(body, minor)
    values.setdefault("conductor_group", ctx.settings.default_conductor_group)
    values.setdefault("resource_class", ctx.settings.default_resource_class)
    values.update(_check_interfaces(values, values["driver"], ctx))
    if not ctx.directory.serving(values["conductor_group"], values["driver"]):
        ctx.directory.invalidate()
        if not ctx.directory.serving(values["conductor_group"], values["driver"]):
            raise BadRequest(
                f"No valid host was found. Reason: No conductor service registered which "
                f"supports driver {values['driver']} for conductor group "
                f"\"{values['conductor_group']}\".")
    now = utcnow()
    chosen = values.pop("uuid", None)
    row = {
        "uuid": chosen or str(uuidlib.uuid4()),
        "driver_info": {}, "driver_internal_info": {}, "instance_info": {},
        "properties": {}, "extra": {}, "network_data": {}, "traits": [],
        "provision_state": states.ENROLL if minor >= 11 else states.AVAILABLE,
        "maintenance": False, "console_enabled": False, "clean_step": {},
        "deploy_step": {}, "raid_config": {}, "target_raid_config": {},
        "protected": False, "retired": False, "disable_power_off": False,
        "revision": 0, "created_at": now,
        **values,
    }
    try:
        # The checks and the insert share one connection: a checkout and its reset cost
        # as much as a query. A UUID ingot drew itself is new (random, 122 bits): only
        # the client's is looked up; a collision would still be the unique index's 409.
        with ctx.db.write() as conn:
            _check_unique(conn, row, check_uuid=bool(chosen))
            if row.get("parent_node"):
                row["parent_node"] = _linked_parent(conn, row.get("owner"),
                                                    row["parent_node"])
            node = nodes.insert(conn, row)
    except sa.exc.IntegrityError:
        # Lost a race with a concurrent create of the same name or UUID.
        with ctx.db.read() as conn:
            _check_unique(conn, row)
        raise
    base = base_url(request)
    return json_response(node_view(node, minor, base,
                                   conductor=ctx.directory.conductor_for(node)),
                         status=201, headers={"Location": f"{base}/v1/nodes/{node.uuid}"})


def _linked_parent(conn: sa.Connection, owner: str | None, ident: str) -> str:
    """The UUID of the parent named by ident. As Ironic, a missing node and one of
    another owner get the same answer, so the API does not tell which nodes exist."""
    try:
        parent = find_node(conn, ident)
    except NotFound:
        parent = None
    if parent is None or parent.owner != owner:
        raise BadRequest(f"Unable to apply the requested parent_node '{ident}'. Requested "
                         f"value was invalid.")
    return parent.uuid


def _check_unique(conn: sa.Connection, row: dict[str, Any], check_uuid: bool = True) -> None:
    chassis.check_exists(conn, row.get("chassis_uuid"))
    if check_uuid and nodes.exists(conn, "uuid", row["uuid"]):
        raise Conflict(f"A node with UUID {row['uuid']} already exists.")
    if row.get("name") and nodes.exists(conn, "name", row["name"]):
        raise Conflict(f"A node with name {row['name']} already exists.")
    if row.get("instance_uuid") and nodes.exists(conn, "instance_uuid", row["instance_uuid"]):
        raise Conflict(f"Instance {row['instance_uuid']} is already associated with a node.")


_PATCHABLE_CURRENT = NODE.patchable()


async def patch_node(request: Request) -> Response:
    ctx = context(request)
    minor = version(request).minor
    operations = patch.parse(await read_json(request, ctx.settings.max_body,
                                             ctx.settings.max_body_depth))
    ident = request.path_params["node"]
    reset_interfaces = None
    if "reset_interfaces" in request.query_params:
        if minor < 45:
            raise NotAcceptable("The reset_interfaces parameter needs API version 1.45 or "
                                "later.")
        reset_interfaces = validation.bool_value("reset_interfaces",
                                                 request.query_params["reset_interfaces"])

    def check(field: str, raw: Any) -> Any:
        return NODE.patched(field, raw, minor)

    # Optimistic concurrency: apply to what was read, write only if the node's revision
    # is unchanged, otherwise read again and re-apply.
    for _attempt in range(5):
        with ctx.db.read() as conn:
            node = find_node(conn, ident)
        current = {name: getattr(node, name, None) for name in _PATCHABLE_CURRENT}
        changes = patch.apply(current, operations, check)
        if reset_interfaces and "driver" not in changes:
            raise BadRequest("The reset_interfaces parameter can only be used when changing "
                             "the node's driver.")
        _check_patch_allowed(node, changes, ctx, bool(reset_interfaces))
        # Nova names instances in instance_info; Ironic copies it to instance_name
        # (API 1.104) unless that is set.
        display_name = changes.get("instance_info", {}).get("display_name")
        if display_name and not node.instance_name and "instance_name" not in changes \
                and isinstance(display_name, str):
            changes["instance_name"] = display_name[:255]
        if changes.get("parent_node"):
            with ctx.db.read() as conn:
                changes["parent_node"] = _linked_parent(
                    conn, changes.get("owner", node.owner), changes["parent_node"])
        if changes:
            try:
                with ctx.db.write() as conn:
                    if {"name", "instance_uuid", "chassis_uuid"} & set(changes):
                        _check_unique_update(conn, node, changes)
                    if not nodes.update(conn, node.id, changes, revision=node.revision,
                                        reservation=None):
                        continue
            except sa.exc.IntegrityError:
                with ctx.db.read() as conn:
                    _check_unique_update(conn, node, changes)
                raise
        with ctx.db.read() as conn:
            node = find_node(conn, node.uuid)
        return json_response(node_view(node, minor, base_url(request),
                                       conductor=ctx.directory.conductor_for(node)))
    raise Conflict(f"Node {ident} kept changing while the patch was applied; retry.")


def _check_unique_update(conn: sa.Connection, node: Node, changes: dict[str, Any]) -> None:
    chassis.check_exists(conn, changes.get("chassis_uuid"))
    name = changes.get("name")
    if name and name != node.name and nodes.exists(conn, "name", name):
        raise Conflict(f"A node with name {name} already exists.")
    instance = changes.get("instance_uuid")
    if instance and nodes.exists(conn, "instance_uuid", instance):
        raise Conflict(f"Instance {instance} is already associated with a node.")


def _check_patch_allowed(node: Node, changes: dict[str, Any], ctx: ApiContext,
                         reset_interfaces: bool) -> None:
    if node.reservation:
        raise locked(node)
    only_maintenance = set(changes) <= {"maintenance"}
    if (not only_maintenance and node.provision_state not in states.STABLE_STATES
            and node.provision_state not in states.UPDATE_ALLOWED_STATES):
        raise Conflict(f"Node {node.uuid} can not be updated while a state transition is in "
                       f"progress (state {node.provision_state}).")
    if "instance_uuid" in changes and node.instance_uuid and changes["instance_uuid"]:
        raise Conflict(f"Node {node.uuid} is associated with instance {node.instance_uuid}.")
    if changes.get("protected") and node.provision_state not in (states.ACTIVE,
                                                                  states.RESCUE):
        raise Conflict(f"Node {node.uuid} can only be made protected in provision states "
                       f"'active' or 'rescue', the current state is "
                       f"'{node.provision_state}'")
    if "protected" in changes and not changes["protected"]:
        changes["protected_reason"] = None  # Ironic forgets the reason with the protection
    elif "protected_reason" in changes and changes["protected_reason"] and not (
            changes.get("protected", node.protected)):
        raise BadRequest("The protected_reason field can only be set when protected is True")
    if changes.get("retired") and node.provision_state == states.AVAILABLE:
        raise Conflict(f"Node {node.uuid} can not have 'retired' set in provision state "
                       f"\"available\"; move it to \"manageable\" first.")
    if "retired" in changes and not changes["retired"]:
        changes["retired_reason"] = None  # Ironic forgets the reason when a node unretires
    if "maintenance" in changes and not changes["maintenance"]:
        changes.setdefault("maintenance_reason", None)
        changes.setdefault("fault", None)
    if "driver" in changes or any(f in changes for f in INTERFACE_COLUMNS):
        driver = changes.get("driver", node.driver)
        # As Ironic's conductor: a new hardware type keeps the node's interfaces (and
        # refuses one it lacks) unless asked to reset those the patch does not set; a
        # removed interface takes the type's default.
        requested = {f: changes[f] if f in changes
                     else None if reset_interfaces else getattr(node, f)
                     for f in INTERFACE_COLUMNS}
        resolved = _check_interfaces(requested, driver, ctx)
        changes.update({f: value for f, value in resolved.items()
                        if f in changes or value != getattr(node, f)})


async def delete_node(request: Request) -> Response:
    ctx = context(request)
    ident = request.path_params["node"]
    with ctx.db.write() as conn:
        node = find_node(conn, ident)
        if node.reservation:
            raise locked(node)
        if not node.maintenance and node.instance_uuid:
            raise Conflict(f"Node {node.uuid} is associated with instance "
                           f"{node.instance_uuid}.")
        if node.protected:
            raise Forbidden(f"Node {node.uuid} is protected and cannot be undeployed, "
                            f"rebuilt or deleted")
        # As Ironic: maintenance lets a node in any state go (a hopelessly broken one).
        if node.provision_state not in states.DELETE_ALLOWED_STATES and not node.maintenance:
            raise Conflict(f"Node {node.uuid} can not be deleted in provision state "
                           f"\"{node.provision_state}\"; allowed in: "
                           f"{', '.join(sorted(states.DELETE_ALLOWED_STATES))}, or in "
                           f"maintenance.")
        if not nodes.delete(conn, node.id, revision=node.revision, reservation=None):
            raise Conflict(f"Node {node.uuid} changed while being deleted; retry.")
    await vmedia.forget_node(ctx, node.uuid)
    return Response(status_code=204)


async def set_maintenance(request: Request) -> Response:
    ctx = context(request)
    reason = None
    if request.headers.get("content-length", "0") != "0":
        body = await read_json(request, ctx.settings.max_body, ctx.settings.max_body_depth)
        if body is not None:
            if not isinstance(body, dict) or set(body) - {"reason"}:
                raise BadRequest("The maintenance body may only contain \"reason\".")
            reason = validation.string_value("reason", body.get("reason"))
    _update_unreserved(ctx, request.path_params["node"],
                       {"maintenance": True, "maintenance_reason": reason})
    return Response(status_code=202)


async def unset_maintenance(request: Request) -> Response:
    ctx = context(request)
    _update_unreserved(ctx, request.path_params["node"],
                       {"maintenance": False, "maintenance_reason": None, "fault": None})
    return Response(status_code=202)


def _update_unreserved(ctx: Any, ident: str, values: dict[str, Any]) -> None:
    with ctx.db.write() as conn:
        node = find_node(conn, ident)
        if not nodes.update(conn, node.id, values, reservation=None):
            raise locked(node)


# --- traits (API 1.37) ------------------------------------------------------------------

_MAX_TRAITS = 50


def _need_traits(request: Request) -> None:
    """Before 1.37 Ironic has no traits endpoint and answers as its generic node routes
    do: a read asks for a field the version lacks (406), PUT is not a method of a node
    (405) and DELETE finds nothing (404)."""
    if version(request).minor >= 37:
        return
    if request.method == "GET":
        raise NotAcceptable("Request not acceptable.")
    if request.method == "PUT":
        raise MethodNotAllowed("Traits need API version 1.37 or later.")
    raise NotFound("Traits need API version 1.37 or later.")


def _at_most_max_traits(node: Node, traits: list[str]) -> list[str]:
    if len(traits) > _MAX_TRAITS:
        raise BadRequest(f"Could not modify traits for node {node.uuid} as it would exceed "
                         f"the maximum number of traits per node ({len(traits)} vs. "
                         f"{_MAX_TRAITS})")
    return traits


async def get_traits(request: Request) -> Response:
    _need_traits(request)
    with context(request).db.read() as conn:
        node = find_node(conn, request.path_params["node"])
    return json_response({"traits": node.traits})


async def set_traits(request: Request) -> Response:
    _need_traits(request)
    ctx = context(request)
    trait = request.path_params.get("trait")
    if trait is not None:
        new = [validation.trait_value(trait)]
    else:
        body = await read_object(request, ctx.settings.max_body, ctx.settings.max_body_depth)
        if set(body) != {"traits"} or not isinstance(body["traits"], list):
            raise BadRequest("Expected a body of the form {\"traits\": [...]}.")
        new = [validation.trait_value(t) for t in body["traits"]]
    _update_traits(ctx, request.path_params["node"],
                   lambda node: _at_most_max_traits(
                       node, sorted(set(node.traits) | set(new)) if trait else sorted(set(new))))
    return Response(status_code=204)


async def delete_traits(request: Request) -> Response:
    _need_traits(request)
    ctx = context(request)
    trait = request.path_params.get("trait")

    def remove(node: Node) -> list[str]:
        if trait is None:
            return []
        if trait not in node.traits:
            raise NotFound(f"Node does not have trait {trait}.")
        return [t for t in node.traits if t != trait]

    _update_traits(ctx, request.path_params["node"], remove)
    return Response(status_code=204)


def _update_traits(ctx: Any, ident: str, change: Callable[[Node], list[str]]) -> None:
    with ctx.db.write() as conn:
        node = find_node(conn, ident)
        if node.reservation:
            raise locked(node)
        if not nodes.update(conn, node.id, {"traits": change(node)},
                            revision=node.revision):
            raise Conflict(f"Node {node.uuid} changed while its traits were updated; retry.")
