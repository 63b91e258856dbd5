"""/v1/nodes/{node}/history (API 1.78): the events conductors recorded about a node."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ingot.api import listing, validation
from ingot.api.context import base_url, context, version
from ingot.api.errors import NotFound
from ingot.api.fields import Field, Resource
from ingot.api.lookup import find_node
from ingot.api.responses import json_response
from ingot.db import history
from ingot.db.models import HistoryEvent

_SINCE = 78
# Ironic shortens events in the list without detail.
_SHORT_EVENT = 255

EVENT = Resource("history event", (
    Field("uuid"), Field("created_at"), Field("severity"), Field("event_type"),
    Field("event", secret=True), Field("conductor"), Field("user"), Field("project", 113),
    Field("state", 115), Field("target_provision_state", 115), Field("duration_seconds", 115),
), ("uuid", "created_at", "severity", "event"))


def _need_history(request: Request) -> int:
    minor = version(request).minor
    if minor < _SINCE:
        raise NotFound(f"The resource could not be found: {request.url.path}")
    return minor


def _event_view(event: HistoryEvent, node_uuid: str, minor: int, base: str,
                detail: bool) -> dict[str, Any]:
    out = EVENT.view(event, EVENT.names_at(minor, detail))
    text = out.get("event")
    if not detail and isinstance(text, str) and len(text) > _SHORT_EVENT:
        out["event"] = text[:_SHORT_EVENT - 4] + "..."
    out["links"] = [{"href": f"{base}/v1/nodes/{node_uuid}/history/{event.uuid}",
                     "rel": "self"}]
    return out


async def list_history(request: Request) -> Response:
    minor = _need_history(request)
    ctx = context(request)
    params = request.query_params
    detail = validation.bool_value("detail", params["detail"]) if "detail" in params \
        else False
    page = listing.page_params(request, ctx.settings.max_limit, history.SORTABLE,
                               default_sort_key="created_at")
    with ctx.db.read() as conn:
        node = find_node(conn, request.path_params["node"])
        try:
            found = history.list_events(conn, node.id, sort_key=page.sort_key,
                                        sort_dir=page.sort_dir, limit=page.limit,
                                        marker=page.marker)
        except history.StaleMarker:
            raise NotFound(f"Node history record {page.marker} could not be found.") \
                from None
    base = base_url(request)
    body: dict[str, Any] = {"history": [_event_view(e, node.uuid, minor, base, detail)
                                        for e in found]}
    nxt = listing.next_link(base, request.url.path.rstrip("/"), page, len(found),
                            found[-1].uuid if found else None, params)
    if nxt:
        body["next"] = nxt
    return json_response(body)


async def show_event(request: Request) -> Response:
    minor = _need_history(request)
    ctx = context(request)
    ident = request.path_params["event"]
    with ctx.db.read() as conn:
        node = find_node(conn, request.path_params["node"])
        event = history.get(conn, node.id, ident) if validation.looks_like_uuid(ident) \
            else None
    if event is None:
        raise NotFound(f"Node history record {ident} could not be found.")
    return json_response(_event_view(event, node.uuid, minor, base_url(request), True))
