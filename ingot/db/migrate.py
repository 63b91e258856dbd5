"""Schema creation and upgrades with Alembic, run on every service start."""

from __future__ import annotations

import pathlib

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from ingot.db.engine import Database

MIGRATIONS_DIR = pathlib.Path(__file__).parent / "migrations"
# Serialises concurrent upgrades of one PostgreSQL database by several ingot processes.
_PG_LOCK_KEY = 0x1A607


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def upgrade(db: Database, revision: str = "head") -> None:
    config = _config()
    with db.write() as connection:
        if not db.is_sqlite:
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"),
                               {"key": _PG_LOCK_KEY})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(db: Database) -> str | None:
    with db.read() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()
