"""Keyset pages walk every node exactly once, in (sort key, id) order with NULLs first
ascending and last descending, for every sort key, also across a NULL-valued marker
and through the two index walks of the project filter."""

from __future__ import annotations

from typing import Any

import pytest

from ingot.db import nodes
from ingot.db.engine import Database
from ingot.db.models import Node
from tests.db.conftest import RARE


def _pages(db: Database, filters: nodes.NodeFilters, sort_key: str, sort_dir: str,
           limit: int) -> list[Node]:
    seen: list[Node] = []
    marker = None
    while True:
        with db.read() as conn:
            page = nodes.list_nodes(conn, filters, sort_key=sort_key, sort_dir=sort_dir,
                                    limit=limit, marker=marker)
        assert len(page) <= limit
        seen.extend(page)
        if len(page) < limit:
            return seen
        marker = page[-1].uuid


@pytest.fixture(scope="module")
def every(filled: Database) -> list[Node]:
    with filled.read() as conn:
        return nodes.list_nodes(conn, nodes.NodeFilters())


def _expected(every: list[Node], sort_key: str, sort_dir: str, project: str | None = None
              ) -> list[int]:
    if project is not None:
        every = [n for n in every if project in (n.owner, n.lessee)]

    def key(node: Node) -> tuple[Any, ...]:
        value = getattr(node, sort_key)
        return (value is not None, value if value is not None else 0, node.id)

    return [n.id for n in sorted(every, key=key, reverse=sort_dir == "desc")]


@pytest.mark.parametrize("sort_dir", ["asc", "desc"])
# One key of each kind: the id, unique, nullable unique, nullable with repeats, boolean,
# nullable timestamp, repeated and never NULL.
@pytest.mark.parametrize("sort_key", ["id", "uuid", "name", "owner", "maintenance",
                                      "updated_at", "provision_state"])
def test_pages_cover_every_node_in_order(filled: Database, every: list[Node], sort_key: str,
                                         sort_dir: str) -> None:
    got = [n.id for n in _pages(filled, nodes.NodeFilters(), sort_key, sort_dir, 450)]
    assert got == _expected(every, sort_key, sort_dir)


@pytest.mark.parametrize("sort_key,sort_dir", [("id", "asc"), ("name", "desc"),
                                               ("owner", "asc")])
def test_project_pages_merge_owner_and_lessee(filled: Database, every: list[Node],
                                              sort_key: str, sort_dir: str) -> None:
    filters = nodes.NodeFilters(project=RARE)
    got = _pages(filled, filters, sort_key, sort_dir, 7)
    assert got and all(RARE in (n.owner, n.lessee) for n in got)
    assert [n.id for n in got] == _expected(every, sort_key, sort_dir, RARE)
    assert len({n.id for n in got}) == len(got)
