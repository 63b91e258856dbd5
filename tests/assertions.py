"""Checks shared by API tests: Ironic's error message, and the database left unchanged."""

from __future__ import annotations

import json
from typing import Any

import httpx
import sqlalchemy as sa

from ingot.db.models import metadata
from tests.servers.ingot import IngotServer

RESOURCE_TABLES = tuple(table for table in metadata.sorted_tables
                        if table.name not in ("conductors", "temp_url_cache"))


def fault(response: httpx.Response) -> str:
    """The message clients print: faultstring inside Ironic's error_message string."""
    inner = json.loads(response.json()["error_message"])
    assert inner["faultcode"] in ("Client", "Server")
    return str(inner["faultstring"])


def snapshot(server: IngotServer) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the API's resource tables, straight from the database (conductor
    heartbeats and the temp URL cache change on their own)."""
    engine = sa.create_engine(server.db_url)
    try:
        with engine.connect() as conn:
            return {table.name: [tuple(row) for row in conn.execute(
                        sa.select(table).order_by(*table.primary_key.columns))]
                    for table in RESOURCE_TABLES}
    finally:
        engine.dispose()
