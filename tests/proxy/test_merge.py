"""Merging sorted pages: the sort-based merge takes exactly the items, in exactly the
order, of a merge item by item (a heap over the sites' next items)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from ingot.proxy import merge

# Names, dates, numbers, NULLs and values of mixed types, as sites may return them.
_VALUES: dict[str, list[Any]] = {
    "names": [f"node-{i:03d}" for i in range(40)],
    "numbers": [i / 2 for i in range(30)],
    "nulls": [None, "a", "b", "c", "d"],
    "mixed": [None, True, 3, 2.5, "x", "y", {"k": 1}, ["l"]],
}


def _pages(rng: random.Random, values: list[Any], descending: bool) -> list[merge.SitePage]:
    pages = []
    for rank in rng.sample(range(4), rng.randint(1, 4)):
        picked = [rng.choice(values) for _ in range(rng.randint(0, 12))]
        picked.sort(key=merge._value_key, reverse=descending)
        items = [{"uuid": f"{rank}-{i}", "value": value} for i, value in enumerate(picked)]
        pages.append(merge.SitePage(f"site{rank}", rank, items, more=rng.random() < 0.3,
                                    start="before" if rng.random() < 0.2 else None))
    return pages


@pytest.mark.parametrize("kind", sorted(_VALUES))
@pytest.mark.parametrize("descending", [False, True], ids=["asc", "desc"])
def test_sort_merge_takes_what_an_item_by_item_merge_takes(kind: str,
                                                           descending: bool) -> None:
    rng = random.Random(f"{kind}-{descending}")
    for _ in range(300):
        pages = _pages(rng, _VALUES[kind], descending)
        limit = rng.randint(1, 30)
        fast = merge.merge_sorted(pages, limit, "value", descending, "uuid")
        slow = merge._merge_by_heap(pages, limit, "value", descending, "uuid")
        assert fast == slow, (pages, limit)


def test_a_site_in_its_own_order_keeps_it() -> None:
    """A site whose collation disagrees with the proxy's (case-insensitive here) keeps
    its own order; the other site's items are placed around it by value."""
    folded = merge.SitePage("a", 0, [{"uuid": "1", "name": "alpha"},
                                     {"uuid": "2", "name": "Beta"},
                                     {"uuid": "3", "name": "gamma"}], more=False)
    plain = merge.SitePage("b", 1, [{"uuid": "4", "name": "Zulu"},
                                    {"uuid": "5", "name": "delta"}], more=False)
    merged = merge.merge_sorted([folded, plain], 10, "name", False, "uuid")
    assert [item["uuid"] for _, item in merged.items] == ["4", "1", "2", "5", "3"]
    assert merged.after == {"a": "3", "b": "5"}
    assert merged.exhausted == {"a", "b"} and not merged.more
