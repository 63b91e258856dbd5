"""Connections to SQLite or PostgreSQL.

SQLite runs in WAL mode so readers never wait for the writer, and every write
transaction starts with ``BEGIN IMMEDIATE``: a deferred transaction that reads and
then writes can fail at once with "database is locked" when another process wrote
in between, which is where Ironic's all-in-one loses seconds per request. Taking the
write lock up front makes writers queue on ``busy_timeout`` instead.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import event

_WRITE = "ingot_write"
_READ = "ingot_read"
# A PostgreSQL connection back in use within this many seconds is not pinged first.
_PING_AFTER_IDLE = 1.0
_IDLE_SINCE = "ingot_idle_since"


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


class Database:
    """An engine plus the two ways ingot uses it: read and write transactions."""

    def __init__(self, url: str, *, pool_size: int = 5, sqlite_busy_timeout: int = 5000):
        self.url = sa.make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        kwargs: dict[str, Any] = {
            "json_serializer": _json_dumps,
            "json_deserializer": orjson.loads,
        }
        if self.is_sqlite:
            database = self.url.database
            if database and database != ":memory:":
                os.makedirs(os.path.dirname(os.path.abspath(database)), exist_ok=True)
            kwargs["pool_size"] = pool_size
        else:
            # Pages are walks of a (column, id) index. Incremental sort let PostgreSQL read
            # every NULL of a unique column from its UNIQUE index (no id order) and sort
            # them: sort_key=name cost 0.1 ms at 1k nodes, 4.6 ms at 100k (2% unnamed).
            kwargs.update(pool_size=pool_size, max_overflow=pool_size,
                          connect_args={"options": "-c enable_incremental_sort=off"})
        self.engine = sa.create_engine(self.url, **kwargs)
        if self.is_sqlite:
            self._configure_sqlite(sqlite_busy_timeout)
            # The driver autocommits (isolation_level None); _on_begin skips the BEGIN.
            self._reader = self.engine.execution_options(**{_READ: True})
        else:
            self._configure_ping()
            self._reader = self.engine.execution_options(isolation_level="AUTOCOMMIT")

    def _configure_ping(self) -> None:
        """Ping a connection before use only when it sat idle in the pool (the server may
        have restarted meanwhile): pool_pre_ping's round trip on every checkout was a
        sixth of a provision request's, and a busy server's connections are never idle."""
        @event.listens_for(self.engine, "checkin")
        def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
            record.info[_IDLE_SINCE] = time.monotonic()

        @event.listens_for(self.engine, "checkout")
        def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
            if time.monotonic() - record.info.get(_IDLE_SINCE, 0.0) < _PING_AFTER_IDLE:
                return
            try:
                dbapi_connection.execute("SELECT 1")
                dbapi_connection.rollback()  # the ping's transaction, if not autocommit
            except Exception as exc:
                # The pool replaces the connection and tries again.
                raise sa.exc.DisconnectionError(str(exc)) from exc

    def _configure_sqlite(self, busy_timeout: int) -> None:
        @event.listens_for(self.engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # The driver must not issue its own BEGIN: _on_begin decides the kind.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout)}")
            cursor.close()

        @event.listens_for(self.engine, "begin")
        def _on_begin(connection: sa.Connection) -> None:
            options = connection.get_execution_options()
            if options.get(_READ, False):
                return
            connection.exec_driver_sql("BEGIN IMMEDIATE" if options.get(_WRITE, False)
                                       else "BEGIN")

    @contextlib.contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """Reads outside any transaction: each statement sees the latest commit. A page or
        a node is one statement, and BEGIN/COMMIT cost a fifth of a node GET."""
        with self._reader.connect() as connection:
            yield connection

    @contextlib.contextmanager
    def write(self) -> Iterator[sa.Connection]:
        """A transaction that commits on success and rolls back on any exception."""
        with self.engine.connect() as connection:
            connection = connection.execution_options(**{_WRITE: True})
            with connection.begin():
                yield connection

    @contextlib.contextmanager
    def guarded_write(self) -> Iterator[sa.Connection]:
        """For reads followed by one write whose own statement checks that what was read
        still holds (a revision, a reservation): on PostgreSQL each statement commits on
        its own, saving the BEGIN and COMMIT round trips of a transaction; on SQLite a
        write transaction, whose write lock taken up front keeps the write from failing
        on a commit made after the reads."""
        if self.is_sqlite:
            with self.write() as connection:
                yield connection
        else:
            with self._reader.connect() as connection:
                yield connection

    def dispose(self) -> None:
        self.engine.dispose()


def lands_alone(conn: sa.Connection) -> bool:
    """Whether a statement run on the driver's cursor of conn lands as SQLAlchemy's own
    run of it would: inside the transaction SQLAlchemy began (db.write()), or committed
    on its own where SQLAlchemy's would be too (a PostgreSQL AUTOCOMMIT connection, an
    SQLite read connection, which never sends BEGIN). Elsewhere SQLAlchemy would begin
    a transaction the driver's cursor knows nothing of."""
    if conn.in_transaction():
        return True
    options = conn.get_execution_options()
    return options.get("isolation_level") == "AUTOCOMMIT" or bool(options.get(_READ))


def default_url(state_path: str) -> str:
    return "sqlite:///" + os.path.join(os.path.expanduser(state_path), "ingot.sqlite")
