"""The session's shared `ingot serve` changes nothing by itself: many tests compare its
whole database before and after their requests (tests.assertions.snapshot), so a node
another test left behind must not be changed by the conductor's timers meanwhile.

test_a_portgroup_keeps_one_physical_network failed once on PostgreSQL that way: the
power state sync (every 60 s) recorded "power off" for a node an earlier test of the
worker had made available without a power state, between its two snapshots."""

from __future__ import annotations

import datetime
import time
from typing import Any

import pytest
import sqlalchemy as sa

from ingot.db.models import nodes, utcnow
from tests.servers.ingot import IngotServer

# One power state sync (60 s by default) and two provision state checks (30 s) pass.
WATCH_SECONDS = 65


def _rows(ingot: IngotServer, uuids: list[str]) -> list[tuple[Any, ...]]:
    engine = sa.create_engine(ingot.db_url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(
                sa.select(nodes).where(nodes.c.uuid.in_(uuids)).order_by(nodes.c.id))]
    finally:
        engine.dispose()


@pytest.mark.slow
def test_nodes_left_behind_stay_as_they_are(ingot: IngotServer) -> None:
    with ingot.client() as api:
        made = [api.post("/v1/nodes", json={"driver": "fake-hardware"}).json()["uuid"]
                for _ in range(2)]
        unsynced, waiting = made
        # As test_partition_images_are_a_400_naming_the_field leaves one: available,
        # its power state never read.
        ingot.set_node(unsynced, provision_state="available")
        # As tests/api/test_ramdisk.py's leave theirs, long enough ago for the default
        # agent callback timeout (1800 s) to have passed.
        ingot.set_node(waiting, provision_state="wait call-back",
                 target_provision_state="active",
                 provision_updated_at=utcnow() - datetime.timedelta(hours=2))
        try:
            before = _rows(ingot, made)
            deadline = time.monotonic() + WATCH_SECONDS
            while time.monotonic() < deadline:
                assert _rows(ingot, made) == before
                time.sleep(1)
        finally:
            for node in made:
                api.put(f"/v1/nodes/{node}/maintenance")
                api.delete(f"/v1/nodes/{node}")
