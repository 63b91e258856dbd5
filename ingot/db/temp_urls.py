"""Queries on the temporary URL cache: look up, insert-or-keep, conditional renew, purge.

Concurrent conductors settle on one row per cache_key without locks of their own: the
insert does nothing on conflict (SQLite and PostgreSQL both have ON CONFLICT DO
NOTHING), a renewal applies only if the row still has the expiry the caller saw, and
the caller then reads back whichever row won.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ingot.db.models import TempURLEntry, temp_url_cache, utcnow

_BY_KEY = sa.select(temp_url_cache).where(temp_url_cache.c.cache_key == sa.bindparam("key"))


def get(conn: sa.Connection, cache_key: str) -> TempURLEntry | None:
    row = conn.execute(_BY_KEY, {"key": cache_key}).first()
    return TempURLEntry(*row) if row else None


def insert_if_absent(conn: sa.Connection, values: Mapping[str, Any]) -> bool:
    """Insert a row unless one with the same cache_key exists; True if inserted."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = (dialect.insert(temp_url_cache)
                 .values(created_at=utcnow(), **values)
                 .on_conflict_do_nothing(index_elements=["cache_key"]))
    return conn.execute(statement).rowcount == 1


def renew(conn: sa.Connection, cache_key: str, *, seen_expires_at: int,
          expires_at: int) -> bool:
    """Move a row to a new expiry if it still has the one the caller read."""
    statement = (sa.update(temp_url_cache)
                 .where(temp_url_cache.c.cache_key == cache_key,
                        temp_url_cache.c.expires_at == seen_expires_at)
                 .values(expires_at=expires_at, created_at=utcnow()))
    return conn.execute(statement).rowcount == 1


def purge_expired(conn: sa.Connection, now: int) -> int:
    """Delete rows whose URL has expired (Unix time ``now``); the number deleted."""
    statement = sa.delete(temp_url_cache).where(temp_url_cache.c.expires_at < now)
    return conn.execute(statement).rowcount


def list_entries(conn: sa.Connection) -> list[TempURLEntry]:
    query = sa.select(temp_url_cache).order_by(temp_url_cache.c.id)
    return [TempURLEntry(*row) for row in conn.execute(query)]
