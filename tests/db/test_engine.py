"""db/engine.py on PostgreSQL: a connection is pinged only after sitting idle in the
pool, and one the server dropped meanwhile is replaced, not handed out; guarded_write's
statements commit on their own."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from ingot.db import engine
from ingot.db.engine import Database
from tests.conftest import database_url

pytestmark = pytest.mark.postgres


@pytest.fixture
def db(tmp_path: pathlib.Path) -> Iterator[Database]:
    with database_url("postgresql", tmp_path) as url:
        database = Database(url, pool_size=1)
        yield database
        database.dispose()


def _backend_pid(db: Database) -> int:
    with db.read() as conn:
        return int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())


def test_a_connection_dropped_while_idle_is_replaced(db: Database,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    first = _backend_pid(db)
    _kill(db, first)
    monkeypatch.setattr(engine, "_PING_AFTER_IDLE", 0.0)  # as if idle long enough
    assert _backend_pid(db) != first


def _kill(db: Database, pid: int) -> None:
    killer = sa.create_engine(db.url, poolclass=sa.NullPool)
    with killer.connect() as conn:
        assert conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"),
                            {"pid": pid}).scalar_one()
    killer.dispose()


def test_a_connection_dropped_just_after_use_fails_one_statement(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """The price of not pinging a connection in use: the one statement that finds it
    dropped fails (as any statement would if the server went away while it ran), and
    the pool replaces it for the next."""
    first = _backend_pid(db)
    _kill(db, first)
    monkeypatch.setattr(engine, "_PING_AFTER_IDLE", 3600.0)
    with pytest.raises(sa.exc.DBAPIError) as failed:
        _backend_pid(db)
    assert failed.value.connection_invalidated
    assert _backend_pid(db) != first


def test_guarded_write_commits_each_statement_on_its_own(db: Database) -> None:
    with db.write() as conn:
        conn.exec_driver_sql("CREATE TABLE guarded (id integer PRIMARY KEY)")
    with pytest.raises(sa.exc.IntegrityError), db.guarded_write() as conn:
        conn.exec_driver_sql("INSERT INTO guarded VALUES (1)")
        conn.exec_driver_sql("INSERT INTO guarded VALUES (1)")
    with db.read() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM guarded").scalar_one() == 1
