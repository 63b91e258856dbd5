"""List, show, create, patch and delete for the small resources (chassis, portgroups,
volume connectors and targets, deploy templates, runbooks): a `Kind` names the field
table, the store and the rules particular to the resource; the handlers here do the
rest as Ironic does.
"""

from __future__ import annotations

import dataclasses
import uuid as uuidlib
from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import Response

from ingot.api import listing, patch, validation
from ingot.api.body import read_json, read_object
from ingot.api.context import base_url, context, version
from ingot.api.errors import BadRequest, Conflict, MethodNotAllowed, NotAcceptable, NotFound
from ingot.api.fields import Resource, links
from ingot.api.lookup import find_node, json_suffix_taken, locked, until_idle
from ingot.api.responses import json_response
from ingot.db import nodes, records
from ingot.db.models import Node

# (conn, checked values, the record being patched or None) -> values to store.
Prepare = Callable[[sa.Connection, dict[str, Any], Any], dict[str, Any]]
# (conn, record) before it goes.
BeforeDelete = Callable[[sa.Connection, Any], None]
# The list's query parameters -> extra WHERE clauses (conn to resolve names).
Filters = Callable[[sa.Connection, Mapping[str, str], int], list[sa.ColumnElement[bool]]]
# Rules that depend on who asks or with which version: (request, minor, checked
# values, the record being patched or None) -> values to store.
Admit = Callable[[Request, int, dict[str, Any], Any], dict[str, Any]]
# (request, record, write): raise when the requester may not see (or change) it.
Access = Callable[[Request, Any, bool], None]
# (request) -> WHERE clauses limiting a list to what the requester may see.
Visible = Callable[[Request], list[sa.ColumnElement[bool]]]


def _no_filters(conn: sa.Connection, params: Mapping[str, str],
                minor: int) -> list[sa.ColumnElement[bool]]:
    return []


def _keep(conn: sa.Connection, values: dict[str, Any], current: Any) -> dict[str, Any]:
    return values


def _nothing(conn: sa.Connection, record: Any) -> None:
    return None


def _admit_all(request: Request, minor: int, values: dict[str, Any],
               current: Any) -> dict[str, Any]:
    return values


def _open(request: Request, record: Any, write: bool) -> None:
    return None


def _everything(request: Request) -> list[sa.ColumnElement[bool]]:
    return []


@dataclasses.dataclass(frozen=True)
class Kind:
    fields: Resource
    store: records.Store[Any]
    path: str                    # below /v1: "chassis", "volume/connectors"
    key: str                     # the list's key: "chassis", "connectors"
    title: str                   # in messages: "Chassis", "Volume connector"
    since: int = 1               # older requests get 404, as from Ironic
    # Ironic answers older writes to some resources 405 (reads still 404), saying
    # "The API version does not allow <gate_name>".
    gate_name: str | None = None
    by_name: bool = False        # may be named by name as well as UUID
    ident_name: str = "uuid"     # the path identifier's name in Ironic's 400 for a bad one
    detail_since: int = 43       # the list's detail parameter
    sublinks: Mapping[str, int] = dataclasses.field(default_factory=dict)  # name -> since
    # Fields a list's sort_key may not name before their version (406), as Ironic checks.
    sort_since: Mapping[str, int] = dataclasses.field(default_factory=dict)
    # Column tuples that are unique, and the 409 message for a clash.
    unique: tuple[tuple[tuple[str, ...], str], ...] = ()
    filters: Filters = _no_filters
    prepare: Prepare = _keep
    before_delete: BeforeDelete = _nothing
    # Node-owned records change only when the node may change (volume: powered off);
    # called with the node and e.g. "volume connector update".
    node_rule: Callable[[Node, str], None] | None = None
    admit: Admit = _admit_all
    access: Access = _open
    visible: Visible = _everything

    def gate(self, request: Request) -> int:
        minor = version(request).minor
        if minor < self.since:
            if self.gate_name is None:
                raise NotFound(f"The resource could not be found: {request.url.path}")
            message = f"The API version does not allow {self.gate_name}."
            if request.method == "GET":
                raise NotFound(message)
            raise MethodNotAllowed(message)
        return minor

    def find_for(self, conn: sa.Connection, request: Request, param: str, minor: int,
                 *, write: bool) -> Any:
        """The record the request names, if the requester may see (write: change) it."""
        ident: str = request.path_params[param]
        try:
            record = self.find(conn, ident)
        except NotFound:
            if not (self.by_name and json_suffix_taken(request)):
                raise
            record = self.find(conn, f"{ident}.json")
        self.access(request, record, write)
        return record

    def view(self, record: Any, minor: int, base: str,
             names: tuple[str, ...] | None = None, detail: bool = True) -> dict[str, Any]:
        out = self.fields.view(record, self.fields.names_at(minor, detail)
                               if names is None else names)
        out["links"] = links(base, self.path, record.uuid)
        if names is None and detail:
            for name, since in self.sublinks.items():
                if minor >= since:
                    out[name] = links(base, self.path, record.uuid, f"/{name}")
        return out

    def find(self, conn: sa.Connection, ident: str) -> Any:
        if self.by_name:
            validation.uuid_or_name_ident(self.ident_name, ident)
        else:
            validation.uuid_ident(self.ident_name, ident)
        found = (self.store.get(conn, uuid=ident.lower()) if validation.looks_like_uuid(ident)
                 else self.store.get(conn, name=ident))
        if found is None:
            raise NotFound(f"{self.title} {ident} could not be found.")
        return found

    def check_unique(self, conn: sa.Connection, values: Mapping[str, Any],
                     record_id: int | None) -> None:
        for columns, message in self.unique:
            if any(values.get(column) is None for column in columns):
                continue
            clash = self.store.get(conn, **{column: values[column] for column in columns})
            if clash is not None and clash.id != record_id:
                raise Conflict(message.format(**values))


def node_owner(conn: sa.Connection, values: dict[str, Any]) -> Node:
    """The node node_uuid names (values' node_uuid becomes node_id); 409 when locked."""
    node = find_node(conn, values.pop("node_uuid"))
    if node.reservation:
        raise locked(node)
    values["node_id"] = node.id
    return node


def list_handler(kind: Kind, *, detail: bool = False,
                 scope: Callable[[sa.Connection, Request], list[sa.ColumnElement[bool]]]
                 | None = None) -> Callable[[Request], Any]:
    async def handler(request: Request) -> Response:
        minor = kind.gate(request)
        ctx = context(request)
        params = request.query_params
        wants_detail = detail
        if "detail" in params:
            if detail:
                raise BadRequest(f"The detail parameter cannot be used on "
                                 f"{request.url.path}.")
            if minor < kind.detail_since:
                raise NotAcceptable(f"The detail parameter needs API version "
                                    f"1.{kind.detail_since} or later.")
            wants_detail = validation.bool_value("detail", params["detail"])
        names = kind.fields.parse_fields(params.get("fields"), minor)
        if names is not None and wants_detail:
            raise BadRequest("Can't fetch a subset of fields with 'detail' set.")
        page = listing.page_params(request, ctx.settings.max_limit, kind.store.sortable,
                                   since=kind.sort_since)
        with ctx.db.read() as conn:
            clauses = kind.filters(conn, params, minor) + kind.visible(request)
            if scope is not None:
                clauses += scope(conn, request)
            try:
                found = kind.store.list(conn, clauses, sort_key=page.sort_key,
                                        sort_dir=page.sort_dir, limit=page.limit,
                                        marker=page.marker)
            except records.StaleMarker:
                raise NotFound(f"{kind.title} {page.marker} could not be found.") from None
        base = base_url(request)
        body: dict[str, Any] = {kind.key: [kind.view(r, minor, base, names, wants_detail)
                                           for r in found]}
        nxt = listing.next_link(base, request.url.path.rstrip("/"), page, len(found),
                                found[-1].uuid if found else None, params)
        if nxt:
            body["next"] = nxt
        return json_response(body)
    return handler


def show_handler(kind: Kind, param: str) -> Callable[[Request], Any]:
    async def handler(request: Request) -> Response:
        minor = kind.gate(request)
        ctx = context(request)
        names = kind.fields.parse_fields(request.query_params.get("fields"), minor)
        with ctx.db.read() as conn:
            record = kind.find_for(conn, request, param, minor, write=False)
        return json_response(kind.view(record, minor, base_url(request), names))
    return handler


async def _until_node_idle(kind: Kind, request: Request, param: str, minor: int) -> None:
    """A change to a node's record (a volume connector) waits for the node's work."""
    if not kind.store.owned:
        return
    ctx = context(request)

    def read() -> Node | None:
        with ctx.db.read() as conn:
            record = kind.find_for(conn, request, param, minor, write=True)
            return nodes.get_by_id(conn, record.node_id)
    await until_idle(read)


def _node_allows(kind: Kind, conn: sa.Connection, node_id: int, action: str) -> None:
    node = nodes.get_by_id(conn, node_id)
    if node is None:
        return
    if node.reservation:
        raise locked(node)
    if kind.node_rule is not None:
        kind.node_rule(node, f"{kind.title.lower()} {action}")


def create_handler(kind: Kind) -> Callable[[Request], Any]:
    async def handler(request: Request) -> Response:
        minor = kind.gate(request)
        ctx = context(request)
        body = await read_object(request, ctx.settings.max_body, ctx.settings.max_body_depth)
        values = {**kind.fields.defaults(), **kind.fields.creation_values(body, minor)}
        values["uuid"] = values.get("uuid") or str(uuidlib.uuid4())
        values = kind.admit(request, minor, values, None)
        try:
            with ctx.db.write() as conn:
                values = kind.prepare(conn, values, None)
                kind.check_unique(conn, values, None)
                kind.store.insert(conn, values)
                record = kind.store.get(conn, uuid=values["uuid"])
        except sa.exc.IntegrityError:
            # Lost a race with a concurrent create: say which value clashed.
            with ctx.db.read() as conn:
                kind.check_unique(conn, values, None)
            raise
        assert record is not None
        base = base_url(request)
        return json_response(kind.view(record, minor, base), status=201,
                             headers={"Location": f"{base}/v1/{kind.path}/{record.uuid}"})
    return handler


def patch_handler(kind: Kind, param: str) -> Callable[[Request], Any]:
    async def handler(request: Request) -> Response:
        minor = kind.gate(request)
        ctx = context(request)
        operations = patch.parse(await read_json(request, ctx.settings.max_body,
                                                 ctx.settings.max_body_depth))
        await _until_node_idle(kind, request, param, minor)
        try:
            with ctx.db.write() as conn:
                record = kind.find_for(conn, request, param, minor, write=True)
                current = {name: getattr(record, name) for name in kind.fields.patchable()}
                changes = patch.apply(current, operations,
                                      lambda field, raw: kind.fields.patched(field, raw,
                                                                             minor))
                if changes:
                    changes = kind.admit(request, minor, changes, record)
                    if kind.store.owned:
                        _node_allows(kind, conn, record.node_id, "update")
                    changes = kind.prepare(conn, changes, record)
                    owner = {"node_id": record.node_id} if kind.store.owned else {}
                    kind.check_unique(conn, {**owner, **current, **changes}, record.id)
                    kind.store.update(conn, record.id, changes)
                    record = kind.find(conn, record.uuid)
        except sa.exc.IntegrityError:
            raise Conflict(f"{kind.title} {request.path_params[param]} clashes with "
                           f"another one changed at the same time; retry.") from None
        return json_response(kind.view(record, minor, base_url(request)))
    return handler


def delete_handler(kind: Kind, param: str) -> Callable[[Request], Any]:
    async def handler(request: Request) -> Response:
        minor = kind.gate(request)
        ctx = context(request)
        await _until_node_idle(kind, request, param, minor)
        with ctx.db.write() as conn:
            record = kind.find_for(conn, request, param, minor, write=True)
            if kind.store.owned:
                _node_allows(kind, conn, record.node_id, "deletion")
            kind.before_delete(conn, record)
            kind.store.delete(conn, record.id)
        return Response(status_code=204)
    return handler
