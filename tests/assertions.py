"""Checks shared by API tests: Ironic's error message, and the database left unchanged."""

from __future__ import annotations

import json
from typing import Any

import httpx
import sqlalchemy as sa

from tests.servers.ingot import IngotServer


def fault(response: httpx.Response) -> str:
    """The message clients print: faultstring inside Ironic's error_message string."""
    inner = json.loads(response.json()["error_message"])
    assert inner["faultcode"] in ("Client", "Server")
    return str(inner["faultstring"])


def snapshot(server: IngotServer) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the node and port tables, straight from the database."""
    engine = sa.create_engine(server.db_url)
    try:
        with engine.connect() as conn:
            return {table: [tuple(row) for row in conn.execute(
                        sa.text(f"SELECT * FROM {table} ORDER BY id"))]
                    for table in ("nodes", "ports")}
    finally:
        engine.dispose()
