"""The migrations create exactly the schema ingot's tables describe."""

from __future__ import annotations

import pathlib

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from ingot.db import migrate
from ingot.db.engine import Database
from ingot.db.models import POSTGRESQL_ONLY_INDEXES, UNDESCRIBED_TABLE_PREFIX, metadata
from tests.conftest import database_url


def test_migrations_match_models(backend: str, tmp_path: pathlib.Path) -> None:
    with database_url(backend, tmp_path) as url:
        db = Database(url)
        migrate.upgrade(db)
        assert migrate.current_revision(db) == migrate.head_revision()
        with db.read() as conn:
            skipped = POSTGRESQL_ONLY_INDEXES if db.is_sqlite else frozenset()
            context = MigrationContext.configure(conn, opts={
                "include_object": lambda _object, name, kind, _reflected, _compare_to:
                    _described(name, kind, skipped)})
            differences = compare_metadata(context, metadata)
        db.dispose()
    assert differences == []


def _described(name: str | None, kind: str, skipped: frozenset[str]) -> bool:
    """Whether the comparison covers this table or index: not SQLite's FTS5 tables, which
    the metadata does not describe, nor the indexes of another database."""
    if kind == "table":
        return not (name or "").startswith(UNDESCRIBED_TABLE_PREFIX)
    return not (kind == "index" and name in skipped)


def test_upgrade_is_idempotent(tmp_path: pathlib.Path) -> None:
    db = Database(f"sqlite:///{tmp_path}/twice.sqlite")
    migrate.upgrade(db)
    migrate.upgrade(db)
    assert migrate.current_revision(db) == migrate.head_revision()
    db.dispose()


def test_newest_revision_read_from_the_files_is_alembics_head() -> None:
    # upgrade() skips Alembic when the database holds this revision.
    assert migrate.newest_revision() == migrate.head_revision()


def test_upgrade_from_an_older_revision_reaches_the_head(tmp_path: pathlib.Path) -> None:
    db = Database(f"sqlite:///{tmp_path}/older.sqlite")
    migrate.upgrade(db, "0001")
    assert migrate.current_revision(db) == "0001"
    migrate.upgrade(db)
    assert migrate.current_revision(db) == migrate.head_revision()
    db.dispose()
