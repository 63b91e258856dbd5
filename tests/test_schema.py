"""The migrations create exactly the schema ingot's tables describe."""

from __future__ import annotations

import pathlib

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from ingot.db import migrate
from ingot.db.engine import Database
from ingot.db.models import metadata
from tests.conftest import database_url


def test_migrations_match_models(backend: str, tmp_path: pathlib.Path) -> None:
    with database_url(backend, tmp_path) as url:
        db = Database(url)
        migrate.upgrade(db)
        assert migrate.current_revision(db) == migrate.head_revision()
        with db.read() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), metadata)
        db.dispose()
    assert differences == []


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
