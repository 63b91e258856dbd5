"""Where a merged listing stopped in every site: the opaque marker of ``next`` links.

A site only understands markers of its own items, so the proxy's marker carries one
marker per site: the last item that site contributed (or that was skipped in it). The
next page asks each site for what follows its own marker, which can neither repeat nor
skip an item, whatever the sites' sort order. Clients follow ``next`` verbatim.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import orjson

from ingot.api.errors import BadRequest

# "~" cannot appear in a UUID or a hostname, the markers sites use.
PREFIX = "ingot~"


@dataclasses.dataclass(frozen=True, slots=True)
class Cursors:
    sort: str  # "sort_key:sort_dir" of the listing these continue
    after: Mapping[str, str] = dataclasses.field(default_factory=dict)
    done: frozenset[str] = frozenset()  # sites with nothing left (concatenated order)
    # Sort value and site of the last item served: places a site whose marker item
    # was deleted since, or that has no marker yet.
    boundary: tuple[Any, str] | None = None


def is_token(marker: str) -> bool:
    return marker.startswith(PREFIX)


def encode(cursors: Cursors) -> str:
    raw = orjson.dumps({"s": cursors.sort, "a": dict(cursors.after),
                        "d": sorted(cursors.done),
                        "b": list(cursors.boundary) if cursors.boundary else None})
    return PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(marker: str, sort: str) -> Cursors:
    """The cursors of a marker from one of our next links, for a listing sorted by sort."""
    encoded = marker[len(PREFIX):]
    try:
        data = orjson.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
        boundary = data.get("b")
        cursors = Cursors(sort=str(data["s"]),
                          after={str(k): str(v) for k, v in data["a"].items()},
                          done=frozenset(str(site) for site in data["d"]),
                          boundary=(boundary[0], str(boundary[1])) if boundary else None)
    except (binascii.Error, orjson.JSONDecodeError, KeyError, TypeError, AttributeError,
            IndexError, ValueError):
        raise BadRequest(f"Invalid marker {marker!r}: expected the UUID of the last item "
                         f"of the previous page or the marker of a next link.") from None
    if cursors.sort != sort:
        raise BadRequest(f"The marker continues a listing sorted by {cursors.sort}, not "
                         f"{sort}; follow the next link as it is.")
    return cursors


class RecentPages:
    """Cursors at the end of recently served pages, by the page's last item.

    openstacksdk, after a page without a next link, asks once more with the last
    item's UUID as marker; this answers that (and any client that builds markers the
    same way) without scanning the sites.
    """

    def __init__(self, size: int = 4096):
        self.size = size
        self._pages: OrderedDict[tuple[str, str], Cursors] = OrderedDict()

    def remember(self, listing: str, last: str, cursors: Cursors) -> None:
        self._pages[(listing, last)] = cursors
        self._pages.move_to_end((listing, last))
        while len(self._pages) > self.size:
            self._pages.popitem(last=False)

    def find(self, listing: str, last: str) -> Cursors | None:
        return self._pages.get((listing, last))
