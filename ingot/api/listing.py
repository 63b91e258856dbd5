"""Pagination and sorting parameters of list requests, and their ``next`` links."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from urllib.parse import urlencode

from starlette.requests import Request

from ingot.api import validation
from ingot.api.context import version
from ingot.api.errors import BadRequest, NotAcceptable


@dataclasses.dataclass(frozen=True, slots=True)
class Page:
    limit: int
    marker: str | None
    sort_key: str
    sort_dir: str


def page_params(request: Request, max_limit: int, sortable: Collection[str], *,
                default_sort_key: str = "id", since: Mapping[str, int] | None = None
                ) -> Page:
    """since: the microversion that introduced each field the list's sort_key is checked
    against; naming one that does not exist yet at the request's version is a 406, as
    from Ironic, before any other parameter is looked at (a field that cannot be sorted
    by is then a 400)."""
    params = request.query_params
    requested = params.get("sort_key")
    if since and requested is not None and since.get(requested, 1) > version(request).minor:
        raise NotAcceptable(f"The sort_key value \"{requested}\" needs API version "
                            f"1.{since[requested]} or later.")
    limit = validation.int_param("limit", params.get("limit"), minimum=None)
    if limit is not None and limit <= 0:
        raise BadRequest("Limit must be positive.")
    marker = params.get("marker")
    if marker is not None and not validation.looks_like_uuid(marker):
        raise BadRequest(f"Invalid marker {marker!r}: expected the UUID of the last item of "
                         f"the previous page.")
    sort_key = params.get("sort_key", default_sort_key)
    if sort_key not in sortable:
        raise BadRequest(f"The sort_key value \"{sort_key}\" is an invalid field for sorting.")
    sort_dir = params.get("sort_dir", "asc")
    if sort_dir not in ("asc", "desc"):
        raise BadRequest(f"Invalid sort direction: {sort_dir}. Acceptable values are 'asc' "
                         f"or 'desc'.")
    return Page(min(limit or max_limit, max_limit), marker, sort_key, sort_dir)


PAGING = ("limit", "marker", "sort_key", "sort_dir")


def next_link(base: str, path: str, page: Page, count: int, last_uuid: str | None,
              params: Mapping[str, str]) -> str | None:
    """The link to the following page, when this page was full; it keeps the
    request's other parameters (filters, fields, detail)."""
    if count < page.limit or last_uuid is None:
        return None
    carried = {key: value for key, value in params.items() if key not in PAGING}
    query = {**carried, "sort_key": page.sort_key, "sort_dir": page.sort_dir,
             "limit": str(page.limit), "marker": last_uuid}
    return f"{base}{path}?{urlencode(query)}"
