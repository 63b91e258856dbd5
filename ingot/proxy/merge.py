"""Merging the pages several sites returned into one page: pure functions, no I/O.

Sorted listings are merged on (sort value, site rank): each site's own order is kept and
equal values are broken by site name, so the order is total and the same on every
page. Listings in the default order (``id``, which is site-local and not shown) are
concatenated by site instead. A site that holds more items than it returned stops the
page where its items run out: its next item might sort before the others.
"""

from __future__ import annotations

import collections
import dataclasses
import heapq
import itertools
import operator
from collections.abc import Callable, Sequence
from typing import Any

import orjson

Item = dict[str, Any]


@dataclasses.dataclass(frozen=True, slots=True)
class SitePage:
    site: str
    rank: int
    items: list[Item]
    more: bool  # the site holds items after these
    start: str | None = None  # the site's marker before these items, kept if none is taken


@dataclasses.dataclass(frozen=True, slots=True)
class Merged:
    items: list[tuple[str, Item]]  # (site, item) in merged order
    after: dict[str, str]  # site -> marker of its last item taken (or its start)
    exhausted: frozenset[str]  # sites with all items taken and nothing more
    more: bool  # items may follow this page


class _Descending:
    """Reverses the order of a key inside a tuple key, so ranks still break ties upwards."""

    __slots__ = ("key",)

    def __init__(self, key: tuple[Any, ...]):
        self.key = key

    def __lt__(self, other: _Descending) -> bool:
        return bool(other.key < self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Descending) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)


def _value_key(value: Any) -> tuple[Any, ...]:
    # NULLs first in ascending order, as Ironic (SQLite) and ingot sort them; types that
    # do not compare with each other get their own band instead of a TypeError.
    if value is None:
        return (0,)
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, int | float):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    return (3, orjson.dumps(value, option=orjson.OPT_SORT_KEYS))


def order_key(value: Any, rank: int, descending: bool) -> tuple[Any, ...]:
    key = _value_key(value)
    return (_Descending(key) if descending else key, rank)


def merge_sorted(pages: Sequence[SitePage], limit: int, sort_key: str, descending: bool,
                 marker_field: str) -> Merged:
    """The first ``limit`` items of all pages in (sort value, site rank) order, each
    site's items in its own order."""
    ordered = sorted(pages, key=lambda page: page.rank)
    values = [item.get(sort_key) for page in ordered for item in page.items]
    kinds = set(map(type, values))
    # One type that compares with itself (the usual case: names, dates) is its own key:
    # then the sort runs without a Python call per item.
    keys: list[Any] = values if len(kinds) == 1 and kinds <= {str, int, float} \
        else list(map(_value_key, values))
    offsets = list(itertools.accumulate((len(page.items) for page in ordered), initial=0))
    in_order: Callable[[Any, Any], bool] = operator.ge if descending else operator.le
    for start, end in itertools.pairwise(offsets):
        if not all(map(in_order, keys[start:end - 1], keys[start + 1:end])):
            # A site sorts differently from here (a collation): merge item by item,
            # keeping every site's own order.
            return _merge_by_heap(pages, limit, sort_key, descending, marker_field)
    # Pages one after another in rank order, then a stable sort by value alone: equal
    # values stay in (rank, position) order, as the heap merge would take them (a
    # reverse sort keeps equal items in their original order too).
    chosen = sorted(range(len(keys)), key=keys.__getitem__, reverse=descending)[:limit]
    # A site with more items than it sent stops the page at its last item sent.
    stops = {end - 1 for page, end in zip(ordered, offsets[1:], strict=True)
             if page.more and page.items}
    stalled = not stops.isdisjoint(chosen)
    if stalled:
        chosen = chosen[:next(position for position, index in enumerate(chosen)
                              if index in stops) + 1]
    owner = [index for index, page in enumerate(ordered) for _ in page.items]
    taken = collections.Counter(map(owner.__getitem__, chosen))
    items = [item for page in ordered for item in page.items]
    names = [page.site for page in ordered]
    out = list(zip(map(names.__getitem__, map(owner.__getitem__, chosen)),
                   map(items.__getitem__, chosen), strict=True))
    after = {page.site: page.start for page in pages if page.start}
    for index, count in taken.items():
        page = ordered[index]
        after[page.site] = str(page.items[count - 1][marker_field])
    exhausted = frozenset(page.site for index, page in enumerate(ordered)
                          if not page.more and taken[index] == len(page.items))
    more = stalled or len(chosen) < len(keys) or any(page.more for page in pages)
    return Merged(out, after, exhausted, more)


def _merge_by_heap(pages: Sequence[SitePage], limit: int, sort_key: str, descending: bool,
                   marker_field: str) -> Merged:
    heap: list[tuple[tuple[Any, ...], int]] = []
    taken = [0] * len(pages)
    for index, page in enumerate(pages):
        if page.items:
            heapq.heappush(heap, (order_key(page.items[0].get(sort_key), page.rank,
                                            descending), index))
    after = {page.site: page.start for page in pages if page.start}
    out: list[tuple[str, Item]] = []
    stalled = False
    while heap and len(out) < limit:
        _, index = heapq.heappop(heap)
        page = pages[index]
        item = page.items[taken[index]]
        taken[index] += 1
        out.append((page.site, item))
        after[page.site] = str(item[marker_field])
        if taken[index] < len(page.items):
            following = page.items[taken[index]]
            heapq.heappush(heap, (order_key(following.get(sort_key), page.rank,
                                            descending), index))
        elif page.more:
            stalled = True
            break
    exhausted = frozenset(page.site for index, page in enumerate(pages)
                          if not page.more and taken[index] == len(page.items))
    more = stalled or bool(heap) or any(page.more for page in pages)
    return Merged(out, after, exhausted, more)


def concatenate(pages: Sequence[SitePage], limit: int, marker_field: str) -> Merged:
    """Sites one after another (pages in rank order), each in its own order."""
    after = {page.site: page.start for page in pages if page.start}
    out: list[tuple[str, Item]] = []
    exhausted: set[str] = set()
    more = False
    for position, page in enumerate(pages):
        room = limit - len(out)
        take = page.items[:room]
        out.extend(zip(itertools.repeat(page.site), take))
        if take:
            after[page.site] = str(take[-1][marker_field])
        if len(take) < len(page.items) or page.more:
            more = True
            break
        exhausted.add(page.site)
        if len(out) == limit:
            more = any(later.items or later.more for later in pages[position + 1:])
            break
    return Merged(out, after, frozenset(exhausted), more)
