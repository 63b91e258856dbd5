"""Lists by description through its indexes (migration 0017) answer as the unindexed
queries did: description_contains through the trigram index (an FTS5 table on SQLite,
pg_trgm on PostgreSQL) finds what LIKE finds, for values the index cannot serve (under
three characters), with LIKE's wildcards and its escape character, in any case and
script; sorting by description pages through every node in (first 512 characters, id)
order. And the migration indexes the nodes of a database that already has some."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from ingot.db import migrate
from ingot.db import nodes as node_queries
from ingot.db.engine import Database
from ingot.db.models import DESCRIPTION_PREFIX, nodes
from tests.conftest import database_url
from tests.db.conftest import _row

LONG = "x" * DESCRIPTION_PREFIX
DESCRIPTIONS: list[str | None] = [
    "50% off", "100%", "a_b", "axb", "under_score", "slash/path", "back\\slash", 'quote"d',
    "Ünïcödé", "ünïcödé", "ÉCOLE", "école", "MiXeD CaSe", "mixed case", "日本語のノード",
    "emoji 🚀 rocket", "ab", "a", "", None, "straße", "STRASSE", "\u212a kelvin", "k",
    "tab\there", "  spaces  ", "x" * 4096, LONG + "b", LONG + "a", LONG, "x" * 511 + "A",
    LONG + "b", None, "ab", "%_/", "//%%__",
]
VALUES = [
    "%", "_", "50%", "0%", "a_b", "_b", "/", "//", "\\", '"', "quote\"d", "ü", "Ü", "ünï",
    "ÜNÏ", "école", "ÉCOLE", "mixed", "MIXED", "CaSe", "日本語", "🚀", "🚀 r", "ab", "AB",
    "a", "", " ", "   ", "x" * 600, "xxx", "xA", "straße", "ss", "\u212a", "k", "K kel",
    "kelvin", "\t", "%_/", "/%%", "o", "no such text",
]


def _fill(db: Database, descriptions: list[str | None]) -> None:
    with db.write() as conn:
        conn.execute(sa.insert(nodes), [dict(_row(i), description=description,
                                              chassis_uuid=None)
                                        for i, description in enumerate(descriptions, 1)])


@pytest.fixture(scope="module")
def described(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    workdir: pathlib.Path = tmp_path_factory.mktemp(f"described-{backend}")
    with database_url(backend, workdir) as url:
        db = Database(url)
        migrate.upgrade(db)
        _fill(db, DESCRIPTIONS)
        try:
            yield db
        finally:
            db.dispose()


def _pages(db: Database, limit: int, **kwargs: Any) -> list[int]:
    """Every node of a list, a page of limit at a time."""
    sort_key = kwargs.pop("sort_key", "id")
    sort_dir = kwargs.pop("sort_dir", "asc")
    seen: list[int] = []
    marker = None
    while True:
        with db.read() as conn:
            page = node_queries.list_nodes(conn, node_queries.NodeFilters(**kwargs),
                                           sort_key=sort_key, sort_dir=sort_dir,
                                           limit=limit, marker=marker)
        seen.extend(n.id for n in page)
        if len(page) < limit:
            return seen
        marker = page[-1].uuid


def _unindexed(db: Database, value: str) -> list[int]:
    """The nodes LIKE finds without any index: a concatenation no index holds."""
    pattern = "%" + value.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"
    query = sa.text("SELECT id FROM nodes WHERE (description || '') LIKE :pattern ESCAPE '/' "
                    "AND parent_node IS NULL ORDER BY id")
    with db.read() as conn:
        return list(conn.scalars(query, {"pattern": pattern}))


def _ascii_lower(text: str) -> str:
    return "".join(c.lower() if c.isascii() else c for c in text)


def _documented(db: Database, value: str) -> list[int]:
    """docs/api.md: a substring, case-insensitive for ASCII letters on SQLite (LIKE there),
    case-sensitive on PostgreSQL (LIKE there); % and _ are plain characters."""
    fold = _ascii_lower if db.is_sqlite else (lambda text: text)
    return [i for i, description in enumerate(DESCRIPTIONS, 1)
            if description is not None and fold(value) in fold(description)]


@pytest.mark.parametrize("value", VALUES)
def test_description_contains_finds_what_like_finds(described: Database, value: str) -> None:
    expected = _unindexed(described, value)
    assert expected == _documented(described, value)
    assert _pages(described, 3, description_contains=value) == expected
    assert _pages(described, 2, description_contains=value,
                  sort_dir="desc") == expected[::-1]


@pytest.mark.parametrize("few", [True, False])
@pytest.mark.parametrize("sort_key", ["name", "description"])
@pytest.mark.parametrize("value", ["ab", "xxx", "ünï", "%_/"])
def test_description_contains_in_another_order(described: Database, value: str,
                                               sort_key: str, few: bool,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Not in id order, the same nodes: on SQLite whether the trigram index's matches
    are few (read as a set) or not (the sort column's walk checks LIKE)."""
    if not few:
        monkeypatch.setattr(node_queries, "FEW_MATCHES", 0)
    expected = set(_unindexed(described, value))
    got = _pages(described, 2, description_contains=value, sort_key=sort_key)
    assert sorted(got) == sorted(expected) and len(got) == len(expected)


@pytest.mark.parametrize("sort_dir", ["asc", "desc"])
def test_description_pages_in_prefix_then_id_order(described: Database, sort_dir: str) -> None:
    """NULLs first ascending, last descending; descriptions that share their first 512
    characters in id order, as MySQL orders a TEXT column by its first bytes."""
    def key(item: tuple[int, str | None]) -> tuple[Any, ...]:
        i, description = item
        if description is None:
            return (False, "", i)
        return (True, description[:DESCRIPTION_PREFIX], i)

    expected = [i for i, _ in sorted(enumerate(DESCRIPTIONS, 1), key=key,
                                     reverse=sort_dir == "desc")]
    for limit in (1, 4, 50):
        assert _pages(described, limit, sort_key="description", sort_dir=sort_dir) == expected


def test_project_pages_by_description_merge_both_walks(described: Database) -> None:
    """The project filter's two walks (owner, lessee) merge in the same prefix order."""
    with described.read() as conn:
        every = node_queries.list_nodes(conn, node_queries.NodeFilters())
    project = every[3].owner
    assert project is not None
    expected = [n.id for n in sorted(
        (n for n in every if project in (n.owner, n.lessee)),
        key=lambda n: (n.description is not None, (n.description or "")[:DESCRIPTION_PREFIX],
                       n.id))]
    assert _pages(described, 1, project=project, sort_key="description") == expected


def test_upgrade_indexes_existing_nodes(backend: str, tmp_path: pathlib.Path) -> None:
    """A database with nodes from before 0017 finds them through the new indexes, and
    the SQLite index follows later inserts, description changes and deletions."""
    with database_url(backend, tmp_path) as url:
        db = Database(url)
        try:
            migrate.upgrade(db, "0016")
            _fill(db, ["first rack", "second Rack", None, "rack%7"])
            migrate.upgrade(db)
            assert migrate.current_revision(db) == migrate.head_revision()
            rack = [1, 2, 4] if db.is_sqlite else [1, 4]
            assert _pages(db, 2, description_contains="rack") == rack
            assert _pages(db, 2, sort_key="description") == [3, 1, 4, 2]
            with db.write() as conn:
                conn.execute(sa.update(nodes).where(nodes.c.id == 1)
                             .values(description="moved"))
                conn.execute(sa.insert(nodes), [dict(_row(5), description="new rack",
                                                        chassis_uuid=None)])
                conn.execute(sa.delete(nodes).where(nodes.c.id == 4))
                # Not the description: the index is left as it is.
                conn.execute(sa.update(nodes).where(nodes.c.id == 2).values(owner="o"))
            assert _pages(db, 2, description_contains="rack") == ([2, 5] if db.is_sqlite
                                                                  else [5])
            assert _pages(db, 2, description_contains="moved") == [1]
            assert _pages(db, 2, description_contains="rack%") == []
        finally:
            db.dispose()
