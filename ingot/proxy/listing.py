"""Listings across sites: one request per distinct site, in parallel, merged in order.

``limit`` and ``marker`` work across sites. The ``next`` link carries one marker per
site (ingot.proxy.continuation); a plain UUID marker is placed by its item's sort value:
its own site continues after it, every other site is read from the start, skipping what
sorts before it (reading on in pages of max_limit when needed). A site that fails is
left out and named in a header, or fails the listing when partial_listings is off.
"""

from __future__ import annotations

import collections
import dataclasses
import operator
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, urlencode

import msgspec
import orjson
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response

from ingot.api import validation
from ingot.api.errors import BadRequest, ServiceUnavailable
from ingot.proxy import continuation, merge, splice
from ingot.proxy.context import ProxyContext, context
from ingot.proxy.continuation import Cursors
from ingot.proxy.fanout import fan_out
from ingot.proxy.relay import (
    base_url,
    json_response,
    outgoing_headers,
    site_error,
    version,
)
from ingot.proxy.routing import (
    ALLOCATION,
    CHASSIS,
    CONNECTOR,
    DEPLOY_TEMPLATE,
    INSPECTION_RULE,
    NODE,
    PORT,
    PORTGROUP,
    RUNBOOK,
    TARGET,
    locate,
    locator,
)
from ingot.proxy.sites import Site, SiteFailure, SiteReply

_PAGING = ("limit", "marker", "sort_key", "sort_dir", "fields")


@dataclasses.dataclass(frozen=True, slots=True)
class Collection:
    key: str  # JSON key of the items
    path: str
    marker_field: str  # what sites take as marker
    list_fields: tuple[str, ...]  # what a listing shows without detail
    fields_since: int  # microversion of the fields parameter
    field_versions: tuple[tuple[str, int], ...] = ()
    detail_path: bool = True  # /detail exists; conductors take ?detail=True instead


NODES = Collection("nodes", "/v1/nodes", "uuid",
                   ("uuid", "instance_uuid", "maintenance", "power_state", "provision_state",
                    "name"), 8, (("name", 5),))
PORTS = Collection("ports", "/v1/ports", "uuid", ("uuid", "address"), 8)
PORTGROUPS = Collection("portgroups", "/v1/portgroups", "uuid", ("uuid", "address", "name"), 8)
CHASSIS_LIST = Collection("chassis", "/v1/chassis", "uuid", ("uuid", "description"), 8)
CONNECTORS = Collection("connectors", "/v1/volume/connectors", "uuid",
                        ("uuid", "node_uuid", "type", "connector_id"), 8, detail_path=False)
TARGETS = Collection("targets", "/v1/volume/targets", "uuid",
                     ("uuid", "node_uuid", "volume_type", "boot_index", "volume_id"), 8,
                     detail_path=False)
# No /detail and no detail parameter: a listing shows every field.
ALLOCATIONS = Collection("allocations", "/v1/allocations", "uuid",
                         ("uuid", "candidate_nodes", "extra", "last_error", "name", "node_uuid",
                          "owner", "resource_class", "state", "traits", "created_at",
                          "updated_at"), 8, (("owner", 60),), detail_path=False)
DEPLOY_TEMPLATES = Collection("deploy_templates", "/v1/deploy_templates", "uuid",
                              ("uuid", "name"), 8, detail_path=False)
RUNBOOKS = Collection("runbooks", "/v1/runbooks", "uuid", ("uuid", "name"), 8,
                      detail_path=False)
# Ironic's default fields (ingot's summary adds sensitive).
INSPECTION_RULES = Collection("inspection_rules", "/v1/inspection_rules", "uuid",
                              ("uuid", "priority", "phase", "description"), 96,
                              detail_path=False)
CONDUCTORS = Collection("conductors", "/v1/conductors", "hostname",
                        ("hostname", "conductor_group", "alive"), 49, detail_path=False)


# The kind of item each collection's markers and locator cache are about.
_KINDS = {kind.path: kind for kind in (NODE, PORT, PORTGROUP, CHASSIS, CONNECTOR, TARGET,
                                       ALLOCATION, DEPLOY_TEMPLATE, RUNBOOK,
                                       INSPECTION_RULE)}


@dataclasses.dataclass(frozen=True, slots=True)
class Query:
    filters: tuple[tuple[str, str], ...]  # passed to the sites as they are
    given: tuple[tuple[str, str], ...]  # sort_key, sort_dir, fields as the caller sent them
    limit: int
    marker: str | None
    sort_key: str | None  # None: the sites' own order (id), concatenated by site
    descending: bool
    fields: tuple[str, ...] | None
    detail: bool

    @property
    def sort(self) -> str:
        return f"{self.sort_key or 'id'}:{'desc' if self.descending else 'asc'}"


@dataclasses.dataclass(frozen=True, slots=True)
class SitePlan:
    """How each site is asked: path, fields, and what to take off the items after."""

    path: str
    fields: tuple[str, ...] | None
    strip: tuple[str, ...]  # added to fields for the proxy's sake
    project: tuple[str, ...] | None  # keys of a detailed item the caller asked for
    extra: tuple[tuple[str, str], ...]  # more query parameters


@dataclasses.dataclass(frozen=True, slots=True)
class Boundary:
    value: Any
    rank: int


def parse_query(request: Request, collection: Collection, detail: bool,
                max_limit: int) -> Query:
    params = request.query_params
    raw_limit = params.get("limit")
    limit = validation.int_param("limit", raw_limit, minimum=None) if raw_limit else None
    if limit is not None and limit <= 0:
        raise BadRequest("Limit must be positive.")
    sort_dir = params.get("sort_dir", "asc")
    if sort_dir not in ("asc", "desc"):
        raise BadRequest(f"Invalid sort direction: {sort_dir}. Acceptable values are 'asc' "
                         f"or 'desc'.")
    sort_key = params.get("sort_key")
    raw_fields = params.get("fields")
    fields = tuple(dict.fromkeys(f.strip() for f in raw_fields.split(",") if f.strip())) \
        if raw_fields else None
    if "detail" in params:
        detail = detail or validation.bool_value("detail", params["detail"])
    return Query(
        filters=tuple((k, v) for k, v in params.multi_items() if k not in _PAGING),
        given=tuple((k, v) for k, v in params.multi_items()
                    if k in ("sort_key", "sort_dir", "fields")),
        limit=min(limit or max_limit, max_limit), marker=params.get("marker") or None,
        sort_key=None if sort_key in (None, "", "id") else sort_key,
        descending=sort_dir == "desc", fields=fields, detail=detail)


def _plan(collection: Collection, query: Query, minor: int, path: str) -> SitePlan:
    """Sites must return the marker field and the sort value of every item, which the
    caller's view may lack. The marker field is always accepted in ``fields``; a sort
    key is not (Ironic refuses created_at there), so then the detailed view is asked
    for and cut down to what the caller would have seen."""
    sort_key = query.sort_key
    if query.fields is not None:
        if sort_key and sort_key not in query.fields:
            return _detailed(collection, path, (*query.fields, "links"))
        if collection.marker_field in query.fields:
            return SitePlan(path, query.fields, (), None, ())
        return SitePlan(path, (*query.fields, collection.marker_field),
                        (collection.marker_field,), None, ())
    if query.detail or not sort_key:
        return SitePlan(path, None, (), None, ())
    since = dict(collection.field_versions)
    shown = tuple(name for name in collection.list_fields if since.get(name, 1) <= minor)
    if sort_key in shown:
        return SitePlan(path, None, (), None, ())
    return _detailed(collection, path, (*shown, "links"))


def _detailed(collection: Collection, path: str, project: tuple[str, ...]) -> SitePlan:
    if collection.detail_path:
        return SitePlan(f"{collection.path}/detail", None, (), project, ())
    return SitePlan(path, None, (), project, (("detail", "True"),))


class _ClientError(Exception):
    """A site refused the listing itself (400, 406, a stale marker...): the caller's
    request is at fault, so its answer is relayed instead of merging."""

    def __init__(self, reply: SiteReply):
        super().__init__(reply.status)
        self.reply = reply


async def _fetch(site: Site, request: Request, plan: SitePlan, query: Query, limit: int,
                 marker: str | None, base: str) -> dict[str, Any]:
    return _parse(site, await _get(site, request, plan, query, limit, marker, base))


async def _get(site: Site, request: Request, plan: SitePlan, query: Query, limit: int,
               marker: str | None, base: str) -> bytes:
    """The site's listing answer, its items' links pointing at the proxy."""
    params = list(query.filters) + [(k, v) for k, v in query.given if k != "fields"]
    params += plan.extra
    if plan.fields is not None:
        params.append(("fields", ",".join(plan.fields)))
    params.append(("limit", str(limit)))
    if marker:
        params.append(("marker", marker))
    reply = await site.request("GET", plan.path, params=params,
                               headers=outgoing_headers(request))
    if reply.status >= 500:
        raise SiteFailure(site.name, f"answered {reply.status}", unreachable=False)
    if reply.status != 200:
        raise _ClientError(reply)
    # The site's own next link is not passed on: only the items' links matter.
    return site.public_json(reply.content, base, keys=(b'"href',))


def _parse(site: Site, content: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError:
        raise SiteFailure(site.name, "answered a listing that is not JSON",
                          unreachable=False) from None
    if not isinstance(body, dict):
        raise SiteFailure(site.name, "answered a listing that is not an object",
                          unreachable=False)
    return body


class Listing:
    """One merged list request."""

    def __init__(self, request: Request, collection: Collection, query: Query, path: str):
        self.request = request
        self.ctx: ProxyContext = context(request)
        self.collection = collection
        self.query = query
        self.path = path
        self.minor = version(request).minor
        self.plan = _plan(collection, query, self.minor, path)
        self.base = base_url(request)
        self.kind = _KINDS.get(collection.path)
        self._seen: list[tuple[Site, list[dict[str, Any]]]] = []
        # Items passed on as the sites sent them are spliced, not parsed and rewritten.
        self.splicing = self.kind is not None and not self.plan.strip \
            and self.plan.project is None
        self._raw: dict[str, list[msgspec.Raw]] = {}  # site -> its items' JSON
        # What identifies "the same listing" for RecentPages.
        self.identity = "|".join([path, query.sort, urlencode(sorted(query.filters)),
                                  ",".join(query.fields or ())])

    def _items(self, site: Site, body: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
        items = body.get(self.collection.key)
        if not isinstance(items, list):
            raise SiteFailure(site.name, f"answered without {self.collection.key}",
                              unreachable=False)
        return self._seen_items(site, items), bool(body.get("next")) and bool(items)

    def _seen_items(self, site: Site, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if self.kind is not None:
            self._seen.append((site, items))
        return items

    async def _remember_seen(self) -> None:
        """Fill the locator from every item the sites sent: run after the answer is
        sent, so a large listing does not wait for it (in the event loop: a thread
        would cost more than the work)."""
        kind = self.kind
        assert kind is not None
        cache = locator(self.ctx, kind)
        for site, items in self._seen:
            cache.remember_listed(site.name, items, kind.named)

    async def _page(self, site: Site, cursors: Cursors, boundary: Boundary | None
                    ) -> merge.SitePage:
        after = cursors.after.get(site.name)
        if after is not None or boundary is None:
            try:
                content = await _get(site, self.request, self.plan, self.query,
                                     self.query.limit, after, self.base)
            except _ClientError as exc:
                if not (exc.reply.status == 404 and after and boundary):
                    raise
                # The site's marker item was deleted since: place the site by value.
                return await self._scan(site, boundary)
            parts = splice.split(content, self.collection.key, self.query.sort_key) \
                if self.splicing else None
            if parts is not None:
                self._raw[site.name] = parts.raw
                items = self._seen_items(site, parts.items)
                more = parts.more and bool(items)
            else:
                items, more = self._items(site, _parse(site, content))
            return merge.SitePage(site.name, site.rank, items, more, after)
        return await self._scan(site, boundary)

    async def _scan(self, site: Site, boundary: Boundary) -> merge.SitePage:
        """The site's items that sort after boundary, reading it from the start."""
        assert self.query.sort_key is not None
        sort_key, descending = self.query.sort_key, self.query.descending
        edge = merge.order_key(boundary.value, boundary.rank, descending)
        kept: list[dict[str, Any]] = []
        skipped: str | None = None
        marker: str | None = None
        # Usually the first items already sort after the boundary (a site that gave
        # nothing yet); only when they do not is it worth reading in big pages.
        step = self.query.limit
        while True:
            body = await _fetch(site, self.request, self.plan, self.query, step, marker,
                                self.base)
            step = max(self.query.limit, self.ctx.settings.max_limit)
            items, more = self._items(site, body)
            for item in items:
                if kept or merge.order_key(item.get(sort_key), site.rank, descending) > edge:
                    kept.append(item)
                else:
                    skipped = str(item[self.collection.marker_field])
            if not items:
                more = False
            else:
                marker = str(items[-1][self.collection.marker_field])
            if len(kept) >= self.query.limit or not more:
                return merge.SitePage(site.name, site.rank, kept, more, skipped)

    async def _place_marker(self, marker: str) -> tuple[Cursors, Boundary | None]:
        """Cursors for a plain marker: the UUID (or hostname) of an item."""
        recent = self.ctx.pages.find(self.identity, marker.lower())
        if recent is not None:
            return recent, self._token_boundary(recent)
        collection = self.collection
        if collection is CONDUCTORS:
            site, item = await self._find_conductor(marker)
        else:
            located = await locate(self.request, _KINDS[collection.path], marker)
            site, item = located.site, None
            marker = located.uuid
        sort = self.query.sort
        if self.query.sort_key is None:
            done = frozenset(s.name for s in self.ctx.sites if s.rank < site.rank)
            return Cursors(sort, {site.name: marker}, done), None
        if item is None or self.query.sort_key not in item:
            item = await self._get_item(site, marker)
        return (Cursors(sort, {site.name: marker}),
                Boundary(item.get(self.query.sort_key), site.rank))

    async def _get_item(self, site: Site, marker: str) -> dict[str, Any]:
        params = []
        if self.minor >= self.collection.fields_since:
            params.append(("fields", f"{self.collection.marker_field},{self.query.sort_key}"))
        try:
            reply = await site.request(
                "GET", f"{self.collection.path}/{quote(marker, safe='')}", params=params,
                headers=outgoing_headers(self.request))
        except SiteFailure as exc:
            raise ServiceUnavailable(f"Site {site.name} did not answer: {exc.reason}.") \
                from None
        if reply.status != 200:
            raise site_error(reply)
        body = reply.json()
        return body if isinstance(body, dict) else {}

    async def _find_conductor(self, hostname: str) -> tuple[Site, dict[str, Any]]:
        for site in self.ctx.sites:
            if not site.up:
                continue
            try:
                reply = await site.request(
                    "GET", f"/v1/conductors/{quote(hostname, safe='')}",
                    headers=outgoing_headers(self.request))
            except SiteFailure:
                continue
            if reply.status == 200:
                return site, reply.json()
        raise BadRequest(f"Invalid marker {hostname!r}: no site has that conductor.")

    async def run(self, sites: Sequence[Site]) -> Response:
        ctx, query = self.ctx, self.query
        boundary: Boundary | None = None
        if query.marker is None:
            cursors = Cursors(query.sort)
        elif continuation.is_token(query.marker):
            cursors = continuation.decode(query.marker, query.sort)
            boundary = self._token_boundary(cursors)
        else:
            cursors, boundary = await self._place_marker(query.marker)
        asked = [site for site in sites if site.name not in cursors.done]

        async def page(site: Site) -> merge.SitePage:
            return await self._page(site, cursors, boundary)

        try:
            fan = await fan_out(asked, page, ctx.versions,
                                f"GET {self.path} ({len(asked)} sites)")
        except _ClientError as exc:
            raise site_error(exc.reply) from None
        if fan.failures and (not ctx.settings.partial_listings or not fan.results):
            raise ServiceUnavailable(f"The listing would be incomplete: site(s) "
                                     f"{', '.join(fan.failures)} did not answer "
                                     f"({fan.describe_failures()}).",
                                     headers=fan.headers())
        pages = [fan.results[site.name] for site in asked if site.name in fan.results]
        if query.sort_key is None:
            merged = merge.concatenate(pages, query.limit, self.collection.marker_field)
        else:
            merged = merge.merge_sorted(pages, query.limit, query.sort_key, query.descending,
                                        self.collection.marker_field)
        following = cursors
        if merged.items:
            following = self._following(cursors, merged)
            last = str(merged.items[-1][1][self.collection.marker_field]).lower()
            ctx.pages.remember(self.identity, last, following)
        background = BackgroundTask(self._remember_seen) if self._seen else None
        next_link = self._next_link(following) if merged.more else None
        if self._raw:
            return Response(self._spliced(pages, merged, next_link), headers=fan.headers(),
                            media_type="application/json", background=background)
        body: dict[str, Any] = {self.collection.key: self._finish(merged.items)}
        if next_link is not None:
            body["next"] = next_link
        return json_response(body, headers=fan.headers(), background=background)

    def _spliced(self, pages: list[merge.SitePage], merged: merge.Merged,
                 next_link: str | None) -> bytes:
        """The merged answer from the items' JSON as the sites sent it (a site whose
        answer was parsed instead has its items written out)."""
        items: list[bytes | msgspec.Raw] = []
        if self.query.sort_key is None:
            # Concatenated: each site's items taken are the first of its page.
            taken = collections.Counter(map(operator.itemgetter(0), merged.items))
            for page in pages:
                count = taken[page.site]
                raw = self._raw.get(page.site)
                if raw is not None:
                    items += raw[:count]
                else:
                    items += map(orjson.dumps, page.items[:count])
        else:
            # Merged: each item's JSON found by the item (alive in its page meanwhile).
            raw_of: dict[int, msgspec.Raw] = {}
            for page in pages:
                raw = self._raw.get(page.site)
                if raw is not None:
                    raw_of.update(zip(map(id, page.items), raw, strict=True))
            chosen = map(operator.itemgetter(1), merged.items)
            if len(raw_of) == sum(len(page.items) for page in pages):
                items += map(raw_of.__getitem__, map(id, chosen))
            else:
                items += [orjson.dumps(item) if (one := raw_of.get(id(item))) is None else one
                          for item in chosen]
        return splice.join(self.collection.key, items,
                           None if next_link is None else orjson.dumps(next_link))

    def _token_boundary(self, cursors: Cursors) -> Boundary | None:
        if self.query.sort_key is None or cursors.boundary is None:
            return None
        value, site_name = cursors.boundary
        site = self.ctx.site(site_name)
        return Boundary(value, site.rank if site else -1)

    def _following(self, cursors: Cursors, merged: merge.Merged) -> Cursors:
        after = {**cursors.after, **merged.after}
        done = cursors.done | merged.exhausted if self.query.sort_key is None \
            else frozenset()
        boundary = None
        if self.query.sort_key is not None:
            site_name, item = merged.items[-1]
            boundary = (item.get(self.query.sort_key), site_name)
        return Cursors(cursors.sort, after, done, boundary)

    def _finish(self, merged: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
        """The merged items as the caller asked for them (links were rewritten on
        arrival)."""
        plan = self.plan
        if not plan.strip and plan.project is None:
            return [item for _, item in merged]
        # New dicts, not popped keys: the locator still needs the UUIDs afterwards.
        if plan.project is not None:
            return [{k: v for k, v in item.items() if k in plan.project}
                    for _, item in merged]
        return [{k: v for k, v in item.items() if k not in plan.strip} for _, item in merged]

    def _next_link(self, cursors: Cursors) -> str:
        query = [*self.query.filters, *self.query.given, ("limit", str(self.query.limit)),
                 ("marker", continuation.encode(cursors))]
        return f"{self.base}{self.path}?{urlencode(query)}"


async def merged_listing(request: Request, collection: Collection, path: str, *,
                         detail: bool = False, sites: Sequence[Site] | None = None
                         ) -> Response:
    ctx = context(request)
    query = parse_query(request, collection, detail, ctx.settings.max_limit)
    return await Listing(request, collection, query, path).run(
        ctx.sites if sites is None else sites)
