"""Schema creation and upgrades with Alembic, run on every service start.

A schema already at the newest revision (every start but the first after an upgrade)
is recognised without Alembic: loading it (with Mako and every SQLAlchemy dialect) costs
a running service 20 MB for nothing.
"""

from __future__ import annotations

import ast
import functools
import pathlib
from typing import TYPE_CHECKING

import sqlalchemy as sa

from ingot.db.engine import Database

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = pathlib.Path(__file__).parent / "migrations"
# Serialises concurrent upgrades of one PostgreSQL database by several ingot processes.
_PG_LOCK_KEY = 0x1A607


def _config() -> Config:
    from alembic.config import Config  # noqa: PLC0415 - only when migrating

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def upgrade(db: Database, revision: str = "head") -> None:
    if revision == "head" and _stamped(db) == [newest_revision()]:
        return
    from alembic import command  # noqa: PLC0415 - only when migrating

    config = _config()
    with db.write() as connection:
        if not db.is_sqlite:
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"),
                               {"key": _PG_LOCK_KEY})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def _stamped(db: Database) -> list[str]:
    """The revisions in Alembic's version table, none for a database without one."""
    with db.read() as connection:
        if not sa.inspect(connection).has_table("alembic_version"):
            return []
        return list(connection.scalars(sa.text("SELECT version_num FROM alembic_version")))


@functools.cache
def newest_revision() -> str | None:
    """The head of the migration files' one chain, read from their ``revision`` and
    ``down_revision`` assignments (None if they do not make one chain: Alembic decides)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) \
                    and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                value = node.value.value
                if node.targets[0].id == "revision" and isinstance(value, str):
                    revisions.add(value)
                elif node.targets[0].id == "down_revision" and isinstance(value, str):
                    parents.add(value)
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def current_revision(db: Database) -> str | None:
    from alembic.runtime.migration import MigrationContext  # noqa: PLC0415

    with db.read() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory  # noqa: PLC0415

    return ScriptDirectory.from_config(_config()).get_current_head()
