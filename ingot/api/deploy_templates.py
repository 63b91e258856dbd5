"""/v1/deploy_templates (API 1.55): stored and validated as Ironic's; a deployment
whose instance_info traits name templates runs their steps (conductor side)."""

from __future__ import annotations

import uuid as uuidlib
from typing import Any

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import Response

from ingot.api import listing, patch, validation
from ingot.api.body import read_json, read_object
from ingot.api.context import base_url, context, version
from ingot.api.deploy_template_fields import DEPLOY_TEMPLATE
from ingot.api.errors import Conflict, MethodNotAllowed, NotFound
from ingot.api.fields import links
from ingot.api.lookup import without_json_suffix
from ingot.api.responses import json_response
from ingot.db import deploy_templates
from ingot.db.models import DeployTemplate, utcnow

MIN_MINOR = 55


def template_view(template: DeployTemplate, minor: int, base: str,
                  fields: tuple[str, ...] | None = None, detail: bool = True
                  ) -> dict[str, Any]:
    names = DEPLOY_TEMPLATE.names_at(minor, detail) if fields is None else fields
    out = DEPLOY_TEMPLATE.view(template, names)
    out["links"] = links(base, "deploy_templates", template.uuid)
    return out


def _need_templates(request: Request) -> int:
    """Deploy templates are newer than 1.55: reads answer 404 before it, writes 405."""
    minor = version(request).minor
    if minor < MIN_MINOR:
        message = "The API version does not allow deploy templates."
        if request.method == "GET":
            raise NotFound(message)
        raise MethodNotAllowed(message)
    return minor


def _find(conn: sa.Connection, ident: str, minor: int | None = None) -> DeployTemplate:
    if minor is not None:
        ident = without_json_suffix(ident, minor)
    found = (deploy_templates.get_by_uuid(conn, ident) if validation.looks_like_uuid(ident)
             else deploy_templates.get_by_name(conn, ident))
    if found is None:
        raise NotFound(f"Deploy template {ident} could not be found.")
    return found


def _check_unique(conn: sa.Connection, template_id: int | None, uuid: str | None,
                  name: str | None) -> None:
    if uuid is not None and deploy_templates.get_by_uuid(conn, uuid) is not None:
        raise Conflict(f"A deploy template with UUID {uuid} already exists.")
    if name is not None:
        holder = deploy_templates.get_by_name(conn, name)
        if holder is not None and holder.id != template_id:
            raise Conflict(f"A deploy template with name {name} already exists.")


async def list_templates(request: Request) -> Response:
    ctx = context(request)
    minor = _need_templates(request)
    params = request.query_params
    detail = validation.bool_value("detail", params["detail"]) if "detail" in params \
        else False
    fields = DEPLOY_TEMPLATE.parse_fields(params.get("fields"), minor)
    page = listing.page_params(request, ctx.settings.max_limit, deploy_templates.SORTABLE)
    with ctx.db.read() as conn:
        try:
            found = deploy_templates.list_templates(conn, sort_key=page.sort_key,
                                                    sort_dir=page.sort_dir, limit=page.limit,
                                                    marker=page.marker)
        except deploy_templates.StaleMarker:
            raise NotFound(f"Deploy template {page.marker} could not be found.") from None
    base = base_url(request)
    body: dict[str, Any] = {"deploy_templates": [
        template_view(t, minor, base, fields, detail) for t in found]}
    nxt = listing.next_link(base, "/v1/deploy_templates", page, len(found),
                            found[-1].uuid if found else None, params)
    if nxt:
        body["next"] = nxt
    return json_response(body)


async def show_template(request: Request) -> Response:
    ctx = context(request)
    minor = _need_templates(request)
    fields = DEPLOY_TEMPLATE.parse_fields(request.query_params.get("fields"), minor)
    with ctx.db.read() as conn:
        template = _find(conn, request.path_params["template"], minor)
    return json_response(template_view(template, minor, base_url(request), fields))


async def create_template(request: Request) -> Response:
    ctx = context(request)
    minor = _need_templates(request)
    body = await read_object(request, ctx.settings.max_body, ctx.settings.max_body_depth)
    values = {**DEPLOY_TEMPLATE.defaults(), **DEPLOY_TEMPLATE.creation_values(body, minor)}
    values["uuid"] = values.get("uuid") or str(uuidlib.uuid4())
    try:
        with ctx.db.write() as conn:
            _check_unique(conn, None, values["uuid"], values["name"])
            deploy_templates.insert(conn, {**values, "created_at": utcnow()})
            template = _find(conn, values["uuid"])
    except sa.exc.IntegrityError:
        # Lost a race with a concurrent create of the same UUID or name.
        with ctx.db.read() as conn:
            _check_unique(conn, None, values["uuid"], values["name"])
        raise
    base = base_url(request)
    return json_response(template_view(template, minor, base), status=201,
                         headers={"Location": f"{base}/v1/deploy_templates/{template.uuid}"})


async def patch_template(request: Request) -> Response:
    ctx = context(request)
    minor = _need_templates(request)
    operations = patch.parse(await read_json(request, ctx.settings.max_body,
                                             ctx.settings.max_body_depth))

    def check(field: str, raw: Any) -> Any:
        return DEPLOY_TEMPLATE.patched(field, raw, minor)

    with ctx.db.write() as conn:
        template = _find(conn, request.path_params["template"], minor)
        current = {name: getattr(template, name) for name in DEPLOY_TEMPLATE.patchable()}
        changes = patch.apply(current, operations, check)
        _check_unique(conn, template.id, None, changes.get("name"))
        if changes:
            deploy_templates.update(conn, template.id, changes)
        template = _find(conn, template.uuid)
    return json_response(template_view(template, minor, base_url(request)))


async def delete_template(request: Request) -> Response:
    ctx = context(request)
    minor = _need_templates(request)
    with ctx.db.write() as conn:
        template = _find(conn, request.path_params["template"], minor)
        deploy_templates.delete(conn, template.id)
    return Response(status_code=204)
