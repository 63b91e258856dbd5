"""Every node list order and filter is served by an index, on SQLite and PostgreSQL.

The queries list_nodes sends are captured and handed to the database's own planner
(SQLite EXPLAIN QUERY PLAN, PostgreSQL EXPLAIN) over a table whose statistics are
known (ANALYZE): a plan that reads the table, sorts, or filters rows a page does not
return is what makes a page cost more with every node added. A new sort key or filter
without its index fails here.

PostgreSQL prices a bitmap scan plus a sort of a few rows below an ordered index walk
on a table this small (it picks the walk at fleet sizes, as bench/list_scale.py shows),
so its plans are asked for with scans and sorts priced out: the question is whether an
index serves the query, not which plan wins on 2000 rows.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import event

from ingot.db import nodes
from ingot.db.engine import Database
from tests.db.conftest import RARE, ROWS

# Indexes holding only the rows of a filter (ingot/db/models.py).
PARTIAL = {"associated", "unassociated", "sharded", "parent_node"}
# Filters, each with a value that few nodes have, and the column its index starts with.
FILTERS: list[tuple[str, Any, str]] = [
    ("driver", RARE, "driver"), ("provision_state", RARE, "provision_state"),
    ("maintenance", True, "maintenance"), ("associated", False, "instance_uuid|unassociated"),
    ("retired", True, "retired"), ("conductor_group", RARE, "conductor_group"),
    ("resource_class", RARE, "resource_class"), ("owner", RARE, "owner"),
    ("lessee", RARE, "lessee"), ("project", RARE, "owner|lessee"),
    ("fault", RARE, "fault"), ("conductor", RARE, "conductor_affinity"),
    ("instance_uuid", "00000000-0000-4000-8000-000000000007", "instance_uuid"),
    ("shard", [RARE], "shard|sharded"), ("sharded", True, "sharded"),
    ("instance_name", RARE, "instance_name"), ("parent_node", "v100", "parent_node"),
    ("chassis_uuid", "00000000-0000-4000-8000-000000000007", "chassis_uuid"),
]
# A substring: served by a trigram index (a GIN index on PostgreSQL, an FTS5 table on
# SQLite), checked by test_description_contains_uses_the_trigram_index.
TRIGRAM_FILTERS = {"description_contains"}
# A value that two nodes' descriptions hold ("node 777", "node 1777"): its trigrams are rare.
RARE_SUBSTRING = "777"
# Not a filter of its own: without it lists leave children out (parent_node IS NULL),
# a condition nearly every node meets, checked with every plan above.
FLAGS = {"include_children"}
# Most nodes are associated: walking the id order and skipping the few others is the
# cheapest plan, and the planner may take it.
COMMON_FILTERS: list[tuple[str, Any]] = [("associated", True)]


def _plans(db: Database, filters: nodes.NodeFilters, sort_key: str, sort_dir: str,
           marker: str | None, bitmaps: bool = False) -> list[str]:
    """The plan of every page query list_nodes sends for these parameters. On
    PostgreSQL, with bitmap scans and sorts priced out; with bitmaps, the ordered index
    walks instead: a GIN index is read by a bitmap only, in no order, and on this small
    table walking the ids to the end costs less."""
    sent: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any,
                _many: bool) -> None:
        if statement.lstrip().startswith("SELECT nodes.id, nodes.uuid, nodes.name"):
            sent.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        with db.read() as conn:
            nodes.list_nodes(conn, filters, sort_key=sort_key, sort_dir=sort_dir,
                                     limit=50, marker=marker)
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    assert sent
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        plans = []
        for statement, parameters in sent:
            if db.is_sqlite:
                cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
                plans.append("\n".join(str(row[3]) for row in cursor.fetchall()))
            else:
                # Incremental sort is off for every connection ingot opens (db/engine.py).
                for switch in ("enable_seqscan", "enable_indexscan") if bitmaps else (
                        "enable_seqscan", "enable_bitmapscan", "enable_sort"):
                    cursor.execute(f"SET {switch} = off")
                cursor.execute("EXPLAIN " + statement, parameters)
                plans.append("\n".join(str(row[0]) for row in cursor.fetchall()))
        return plans
    finally:
        raw.close()


def _walks_in_order(plan: str, is_sqlite: bool) -> bool:
    """The plan reads rows in list order from an index, neither sorting nor scanning."""
    if is_sqlite:
        return "TEMP B-TREE" not in plan
    return not any(word in plan for word in ("Seq Scan", "Sort", "Bitmap"))


def _seeks(plan: str, columns: str, is_sqlite: bool) -> bool:
    """The plan seeks the filter's values in an index instead of checking every row."""
    names = columns.split("|")
    if is_sqlite:
        return any(
            (plan.startswith("SEARCH") and (f"({name}=" in plan
                                            or f"nodes_{name}_id_idx" in plan))
            # A partial index holds only the rows of its filter: walking it is seeking.
            or (name in PARTIAL and f"USING INDEX nodes_{name}_id_idx" in plan)
            for name in names)
    return any(f"Index Cond: ({name} " in plan or f"Index Cond: (({name})" in plan
               or f"nodes_{name}_id_idx" in plan for name in names)


# Columns whose values are common (half the nodes each, tests/db/conftest.py). PostgreSQL
# knows it from its statistics and may read the rest of a marker's value by walking the
# ids and skipping the other half: two rows read per row returned, at any fleet size.
COMMON_SORT_VALUES = {"power_state"}


def _walks_common_value(plan: str, sort_key: str, is_sqlite: bool) -> bool:
    return (not is_sqlite and sort_key in COMMON_SORT_VALUES
            and "using nodes_pkey" in plan and f"(({sort_key})::text = " in plan)


MARKER = str(uuid.UUID(int=ROWS // 2 + 1))  # a node with values in every column
NULL_MARKER = str(uuid.UUID(int=ROWS // 2))  # a node with NULL in every nullable column


@pytest.mark.parametrize("sort_dir", ["asc", "desc"])
@pytest.mark.parametrize("sort_key", nodes.SORTABLE)
def test_every_sort_order_walks_an_index(filled: Database, sort_key: str,
                                         sort_dir: str) -> None:
    for marker in (None, MARKER, NULL_MARKER):
        for plan in _plans(filled, nodes.NodeFilters(), sort_key, sort_dir, marker):
            assert _walks_in_order(plan, filled.is_sqlite), (sort_key, sort_dir, marker, plan)
            if sort_key != "id":
                # The rest of the marker's own value may come from a unique index.
                assert (f"nodes_{sort_key}_id_idx" in plan or f"({sort_key}=?" in plan
                        or _walks_common_value(plan, sort_key, filled.is_sqlite)), (
                    sort_key, marker, plan)
            elif filled.is_sqlite:
                assert plan.startswith("SCAN nodes") or "rowid" in plan, plan


@pytest.mark.parametrize("sort_dir", ["asc", "desc"])
@pytest.mark.parametrize(("name", "value", "columns"), FILTERS)
def test_every_filter_seeks_an_index(filled: Database, name: str, value: Any, columns: str,
                                     sort_dir: str) -> None:
    for marker in (None, MARKER):
        for plan in _plans(filled, nodes.NodeFilters(**{name: value}), "id", sort_dir, marker):
            assert _walks_in_order(plan, filled.is_sqlite), (name, marker, plan)
            assert _seeks(plan, columns, filled.is_sqlite), (name, marker, plan)


@pytest.mark.parametrize(("name", "value"), COMMON_FILTERS)
def test_common_filters_walk_in_order(filled: Database, name: str, value: Any) -> None:
    for plan in _plans(filled, nodes.NodeFilters(**{name: value}), "id", "asc", MARKER):
        assert _walks_in_order(plan, filled.is_sqlite), (name, plan)


@pytest.mark.parametrize("sort_dir", ["asc", "desc"])
def test_description_contains_uses_the_trigram_index(filled: Database, sort_dir: str) -> None:
    """SQLite: the FTS5 table's matches drive the walk in id order (no sort); PostgreSQL:
    the GIN index's bitmap of matches, sorted (a page sorts the matches, not the
    fleet: the planner walks the ids instead when most nodes match)."""
    filters = nodes.NodeFilters(description_contains=RARE_SUBSTRING)
    for marker in (None, MARKER):
        for plan in _plans(filled, filters, "id", sort_dir, marker, bitmaps=True):
            if filled.is_sqlite:
                assert plan.startswith("SCAN nodes_description_fts VIRTUAL TABLE INDEX"), plan
                assert "TEMP B-TREE" not in plan and "SCAN nodes\n" not in plan, plan
            else:
                assert "Bitmap Index Scan on nodes_description_trgm_idx" in plan, plan
                assert "Seq Scan" not in plan, plan


@pytest.mark.parametrize("sort_key", ["name", "provision_state"])
def test_rare_description_contains_in_another_order_reads_its_matches(
        filled: Database, sort_key: str) -> None:
    """Sorted by another key, a value few nodes hold is read from the trigram index as
    a set (and its few rows sorted), not met along the sort key's walk of every node."""
    filters = nodes.NodeFilters(description_contains=RARE_SUBSTRING)
    for marker in (None, MARKER):
        for plan in _plans(filled, filters, sort_key, "asc", marker, bitmaps=True):
            if filled.is_sqlite:
                assert "nodes_description_fts VIRTUAL TABLE INDEX" in plan, plan
            else:
                # The rest of the marker's own value may come from its index.
                assert ("Bitmap Index Scan on nodes_description_trgm_idx" in plan
                        or f"Index Cond: (({sort_key})::text = " in plan
                        or f"AND (({sort_key})::text = " in plan), plan
                assert "Seq Scan" not in plan, plan


def test_short_description_contains_walks_in_order(filled: Database) -> None:
    """A value under three characters has no trigram: the page walks the ids in order
    until it is full, as before the index (docs/api.md)."""
    filters = nodes.NodeFilters(description_contains="7")
    for plan in _plans(filled, filters, "id", "asc", MARKER):
        assert _walks_in_order(plan, filled.is_sqlite), plan
        assert "nodes_description_fts" not in plan and "trgm" not in plan, plan


def test_every_filter_is_checked() -> None:
    """A filter added to NodeFilters must be added here, with the index serving it."""
    checked = {name for name, _value, _columns in FILTERS} | TRIGRAM_FILTERS | FLAGS
    assert set(nodes.NodeFilters.__slots__) == checked
