"""The locator learns from listings: new items, renamed ones, and items that moved site,
for kinds addressed by name (nodes) and by UUID only (ports)."""

from __future__ import annotations

from ingot.proxy.locator import Locator


def test_listing_fills_and_refreshes_named_entries() -> None:
    cache = Locator(3)
    cache.remember_listed("loc1", [{"uuid": "A", "name": "a"}, {"uuid": "b", "name": None}],
                          named=True)
    assert (cache.site_of("a"), cache.site_of("A"), cache.uuid_of("a")) == ("loc1", "loc1", "a")
    cache.remember("c", "loc2")
    # Listed again (b renamed, a moved): recency refreshed, so c is the oldest entry.
    cache.remember_listed("loc3", [{"uuid": "a", "name": "a"}], named=True)
    cache.remember_listed("loc1", [{"uuid": "b", "name": "bee"}], named=True)
    assert (cache.site_of("a"), cache.uuid_of("bee")) == ("loc3", "b")
    cache.remember("d", "loc2")
    assert cache.site_of("c") is None and len(cache) == 3
    assert cache.site_of("b") == "loc1"


def test_listing_fills_unnamed_entries() -> None:
    cache = Locator(100)
    ports = [{"uuid": f"p{i}", "name": "ignored", "address": "x"} for i in range(5)]
    cache.remember_listed("loc2", ports, named=False)
    cache.remember_listed("loc2", ports, named=False)
    assert len(cache) == 5 and cache.site_of("p4") == "loc2"
    assert cache.uuid_of("ignored") is None
    # Items without a usable UUID are skipped.
    cache.remember_listed("loc2", [{"address": "y"}, {"uuid": None}], named=False)
    assert len(cache) == 5


def test_a_repeated_listing_still_finds_every_node_and_sees_changes() -> None:
    cache = Locator(4)
    listing = [{"uuid": "a", "name": "x"}, {"uuid": "B", "name": "y"}]
    for _ in range(3):  # the second and third take the repeated-listing path
        cache.remember_listed("loc1", [dict(item) for item in listing], named=True)
        assert (cache.site_of("x"), cache.site_of("b"), cache.uuid_of("y")) == \
            ("loc1", "loc1", "b")
    cache.remember("c", "loc2")
    cache.remember("d", "loc2")
    # Listed again: a and b are the most recent, so c goes first.
    cache.remember_listed("loc1", listing, named=True)
    cache.remember("e", "loc2")
    assert cache.site_of("c") is None and cache.site_of("d") == "loc2"
    # A change in between (a forgotten, b renamed) is not hidden by the repeat.
    cache.remember_listed("loc1", listing, named=True)
    cache.forget("a")
    cache.remember_listed("loc1", listing, named=True)
    assert cache.site_of("a") == "loc1"
    cache.remember("b", "loc1", "z")
    cache.remember_listed("loc1", listing, named=True)
    assert (cache.uuid_of("y"), cache.uuid_of("z")) == ("b", None)
    # A listing larger than the cache is never taken as remembered whole.
    big = [{"uuid": f"n{i}", "name": None} for i in range(6)]
    for _ in range(2):
        cache.remember_listed("loc3", big, named=True)
        found = [cache.site_of(f"n{i}") for i in range(6)]
        assert len(cache) == 4 and found.count("loc3") == 4 and found.count(None) == 2
