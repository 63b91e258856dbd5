"""Indexes for the last two node list queries that read every node: the sort by
description and the description_contains filter.

The sort: an index on (the first 512 characters of description, id), the order lists
use (models.DESCRIPTION_PREFIX: a whole description may be longer than a PostgreSQL
B-tree entry can hold).

The substring filter: trigrams. PostgreSQL: a GIN index with pg_trgm's operator class,
which serves LIKE '%value%' (pg_trgm is a trusted extension since PostgreSQL 13: the
database's owner may create it; before that, a superuser). SQLite: an FTS5 table with
the trigram tokenizer (SQLite 3.34 or later) over nodes.description, kept in step by
triggers and filled here from the existing nodes.

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"

_PREFIX = "substr(description, 1, 512)"
_FTS = "nodes_description_fts"
# External content: the FTS table holds only the index; a 'delete' must be given the
# indexed value, which the triggers have as old.description.
_SQLITE = (
    f"CREATE VIRTUAL TABLE {_FTS} USING fts5(description, content='nodes', "
    "content_rowid='id', tokenize='trigram')",
    f"CREATE TRIGGER {_FTS}_insert AFTER INSERT ON nodes BEGIN "
    f"INSERT INTO {_FTS}(rowid, description) VALUES (new.id, new.description); END",
    f"CREATE TRIGGER {_FTS}_delete AFTER DELETE ON nodes BEGIN "
    f"INSERT INTO {_FTS}({_FTS}, rowid, description) "
    "VALUES ('delete', old.id, old.description); END",
    f"CREATE TRIGGER {_FTS}_update AFTER UPDATE OF description ON nodes BEGIN "
    f"INSERT INTO {_FTS}({_FTS}, rowid, description) "
    "VALUES ('delete', old.id, old.description); "
    f"INSERT INTO {_FTS}(rowid, description) VALUES (new.id, new.description); END",
    f"INSERT INTO {_FTS}({_FTS}) VALUES ('rebuild')",
)


def upgrade() -> None:
    op.create_index("nodes_description_id_idx", "nodes", [sa.text(_PREFIX), "id"])
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        version = tuple(int(part) for part in
                        bind.exec_driver_sql("SELECT sqlite_version()").scalar_one().split("."))
        if version < (3, 34):
            raise RuntimeError(f"SQLite {'.'.join(map(str, version))} has no trigram "
                               "tokenizer: ingot needs SQLite 3.34 or later")
        for statement in _SQLITE:
            op.execute(statement)
        return
    _create_pg_trgm(bind)
    # No pending list (fastupdate): every search would read it whole, and the
    # conductors' UPDATEs (a new row version, so new index entries) keep it full.
    op.create_index("nodes_description_trgm_idx", "nodes", ["description"],
                    postgresql_using="gin", postgresql_ops={"description": "gin_trgm_ops"},
                    postgresql_with={"fastupdate": "off"})


def _create_pg_trgm(bind: sa.Connection) -> None:
    """pg_trgm in this database, or an error saying who can add it."""
    row = bind.execute(sa.text("SELECT installed_version FROM pg_available_extensions "
                               "WHERE name = 'pg_trgm'")).first()
    if row is None:
        raise RuntimeError("PostgreSQL's pg_trgm extension is not installed on the database "
                           "server (it ships with PostgreSQL's contrib modules): ingot's "
                           "migration 0017 indexes node descriptions with it")
    if row[0] is not None:
        return
    try:
        bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError as exc:
        raise RuntimeError(
            f"cannot create PostgreSQL's pg_trgm extension ({exc.orig}): ingot's migration "
            "0017 indexes node descriptions with it. The database's owner (PostgreSQL 13 "
            "or later, pg_trgm being a trusted extension) or a superuser can run "
            "'CREATE EXTENSION pg_trgm' in this database; then start ingot again") from None


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER {_FTS}_{trigger}")
        op.execute(f"DROP TABLE {_FTS}")
    else:
        op.drop_index("nodes_description_trgm_idx", table_name="nodes")
    op.drop_index("nodes_description_id_idx", table_name="nodes")
