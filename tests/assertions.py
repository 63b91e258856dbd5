"""Checks shared by API tests: Ironic's error message, and the database left unchanged."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import sqlalchemy as sa

from ingot.db.models import metadata, nodes
from tests.servers.ingot import IngotServer

RESOURCE_TABLES = tuple(table for table in metadata.sorted_tables
                        if table.name not in ("conductors", "temp_url_cache"))
# How long a snapshot waits for the server's own work to end before it reads anyway.
SETTLE_SECONDS = 15.0


def fault(response: httpx.Response) -> str:
    """The message clients print: faultstring inside Ironic's error_message string."""
    inner = json.loads(response.json()["error_message"])
    assert inner["faultcode"] in ("Client", "Server")
    return str(inner["faultstring"])


def created_body(response: httpx.Response) -> dict[str, Any]:
    """The body of a 201 Created answer."""
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def snapshot(server: IngotServer) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the API's resource tables, straight from the database (conductor
    heartbeats and the temp URL cache change on their own), once the server is settled:
    the session's shared server may still be finishing what an earlier test queued (a
    power action, a clean), which would otherwise show up as a change this test made."""
    engine = sa.create_engine(server.db_url)
    busy = sa.select(sa.func.count()).select_from(nodes).where(
        sa.or_(nodes.c.reservation.is_not(None), nodes.c.pending_action.is_not(None)))
    try:
        deadline = time.monotonic() + SETTLE_SECONDS
        previous: dict[str, list[tuple[Any, ...]]] | None = None
        while True:
            with engine.connect() as conn:
                idle = conn.execute(busy).scalar_one() == 0
                rows = {table.name: [tuple(row) for row in conn.execute(
                            sa.select(table).order_by(*table.primary_key.columns))]
                        for table in RESOURCE_TABLES}
            if (idle and rows == previous) or time.monotonic() > deadline:
                return rows
            previous = rows
            time.sleep(0.05)
    finally:
        engine.dispose()
