"""A database filled with nodes whose listed columns have known, rare values."""

from __future__ import annotations

import pathlib
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from ingot.db import migrate
from ingot.db.engine import Database
from ingot.db.models import chassis, nodes, utcnow
from tests.conftest import database_url

ROWS = 2000
# Each value of a listed column is rare (1 row in POOL), as is NULL (1 in 50): a filter
# on one value must seek it, not walk the table hoping to meet it.
POOL = 100
RARE = "v7"

def _value(i: int) -> str | None:
    return None if i % 50 == 0 else f"v{i % POOL}"


def _chassis(i: int) -> str:
    return f"00000000-0000-4000-8000-{i:012d}"


def _row(i: int) -> dict[str, Any]:
    now = utcnow()
    stamp = None if i % 50 == 0 else now
    return {
        "uuid": str(uuid.UUID(int=i)), "name": None if i % 50 == 0 else f"node-{i}",
        "driver": f"v{i % POOL}", "provision_state": f"v{i % POOL}",
        "conductor_group": f"v{i % POOL}",
        # Two common values and no NULL, as in a fleet: SQLite's statistics then reckon
        # the NULL run as long as a value's, and a page must still walk the index.
        "power_state": "power off" if i % 2 else "power on",
        "target_provision_state": _value(i), "resource_class": _value(i),
        "owner": _value(i), "lessee": _value(i + 1), "fault": _value(i),
        "conductor_affinity": _value(i), "instance_name": _value(i),
        "chassis_uuid": None if i % 50 == 0 else _chassis(i % 100),
        "shard": f"v{i % 300}" if i % 100 == 7 else None,  # few sites shard
        # Children are rare, and lists leave them out unless asked.
        "parent_node": None if i % 100 else f"v{i % 300}",
        "instance_uuid": None if i % 50 == 1 else f"00000000-0000-4000-8000-{i:012d}",
        "maintenance": i % 100 == 3, "retired": i % 100 == 4, "protected": i % 100 == 5,
        "console_enabled": False, "provision_updated_at": stamp, "updated_at": stamp,
        "created_at": now, "description": f"node {i}", "revision": 0,
        "driver_info": {}, "driver_internal_info": {}, "instance_info": {},
        "properties": {}, "extra": {}, "network_data": {}, "traits": [],
        "clean_step": {}, "deploy_step": {}, "raid_config": {}, "target_raid_config": {},
    }


@pytest.fixture(scope="session")
def filled(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    workdir: pathlib.Path = tmp_path_factory.mktemp(f"plans-{backend}")
    with database_url(backend, workdir) as url:
        db = Database(url)
        migrate.upgrade(db)
        with db.write() as conn:
            conn.execute(sa.insert(chassis), [{"uuid": _chassis(i), "extra": {},
                                               "created_at": utcnow()} for i in range(100)])
            conn.execute(sa.insert(nodes), [_row(i) for i in range(1, ROWS + 1)])
            conn.execute(sa.text("ANALYZE" if db.is_sqlite else "ANALYZE nodes"))
        # SQLite loads statistics when a connection opens: pooled connections opened
        # before ANALYZE (by the migration) would plan without them, so which plan a test
        # saw depended on which connection the pool handed out.
        db.engine.dispose()
        try:
            yield db
        finally:
            db.dispose()


