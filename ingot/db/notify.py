"""PostgreSQL LISTEN for node work (migration 0010's trigger notifies ``ingot_pending``
when a node has work no conductor holds): separate conductor processes wake on it
instead of polling the table."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from ingot.db.engine import Database

LOG = logging.getLogger(__name__)
CHANNEL = "ingot_pending"


async def listen(db: Database, on_notify: Callable[[], None], *,
                 retry_interval: float = 1.0) -> None:
    """Call on_notify for every notification, until cancelled; reconnects after a lost
    connection, calling on_notify once then for whatever arrived unheard."""
    import psycopg  # noqa: PLC0415 - PostgreSQL only: 10 MB an SQLite service does without

    conninfo = db.url.set(drivername="postgresql").render_as_string(hide_password=False)
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(conninfo,
                                                             autocommit=True) as conn:
                await conn.execute(f"LISTEN {CHANNEL}")
                on_notify()
                async for _notice in conn.notifies():
                    on_notify()
        except psycopg.Error as exc:
            LOG.warning("Listening for node work failed (%s); retrying in %s s",
                        exc.__class__.__name__, retry_interval)
        await asyncio.sleep(retry_interval)
