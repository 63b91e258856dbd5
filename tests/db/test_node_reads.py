"""The node reads that skip SQLAlchemy's row handling return what it would: a node
read by the driver's cursor equals the record of SQLAlchemy's own SELECT (JSON,
timestamps and booleans converted alike), and a partial list holds the same values
in the columns it read."""

from __future__ import annotations

import datetime

import pytest
import sqlalchemy as sa

from ingot.db import nodes
from ingot.db.engine import Database
from ingot.db.models import Node, utcnow
from ingot.db.models import nodes as table


def _by_sqlalchemy(conn: sa.Connection, uuid: str) -> Node:
    row = conn.execute(sa.select(table).where(table.c.uuid == uuid)).one()
    return Node(*row)


def test_prepared_reads_equal_sqlalchemy_records(filled: Database) -> None:
    with filled.read() as conn:
        for i in (1, 50, 777):
            expected = _by_sqlalchemy(conn, f"00000000-0000-0000-0000-{i:012x}")
            assert nodes.get_by_uuid(conn, expected.uuid) == expected
            assert nodes.get_by_id(conn, expected.id) == expected
            if expected.name is not None:
                assert nodes.get_by_name(conn, expected.name) == expected
        assert nodes.get_by_uuid(conn, "00000000-0000-0000-0000-ffffffffffff") is None


def test_prepared_read_sees_the_callers_transaction(filled: Database) -> None:
    """Every column kind filled in: JSON objects and lists, a timestamp with
    microseconds, booleans; read back inside the transaction that wrote it."""
    uuid = "00000000-0000-4000-9000-000000000001"
    stamp = utcnow().replace(microsecond=123456)
    with filled.engine.connect() as conn, conn.begin() as transaction:
        conn.execute(sa.insert(table).values(
            uuid=uuid, name="prepared-read", driver="fake-hardware", provision_state="active",
            conductor_group="", maintenance=True, console_enabled=False, protected=False,
            retired=False, revision=3, created_at=stamp, updated_at=stamp,
            provision_updated_at=None, automated_clean=None, secure_boot=True,
            driver_info={"ipmi_password": "p", "nested": {"a": [1, 2.5, None]}},
            driver_internal_info={}, instance_info={"image_source": "x"},
            properties={"cpus": 8}, extra={"é": "ü"}, network_data={}, traits=["CUSTOM_A"],
            clean_step={}, deploy_step={"step": "deploy", "args": {}}, raid_config={},
            target_raid_config={}, service_step=None, pending_args={"k": True},
            agent_progress=None))
        node = nodes.get_by_uuid(conn, uuid)
        assert node is not None and node == _by_sqlalchemy(conn, uuid)
        assert node.created_at == stamp and isinstance(node.created_at, datetime.datetime)
        assert node.maintenance is True and node.secure_boot is True
        assert node.automated_clean is None and node.provision_updated_at is None
        assert node.driver_info == {"ipmi_password": "p", "nested": {"a": [1, 2.5, None]}}
        assert node.traits == ["CUSTOM_A"] and node.extra == {"é": "ü"}
        assert node.pending_args == {"k": True} and node.service_step is None
        transaction.rollback()
    with filled.read() as conn:
        assert nodes.get_by_uuid(conn, uuid) is None


@pytest.mark.parametrize("sort_key", ["id", "name", "updated_at"])
def test_partial_list_holds_the_same_values(filled: Database, sort_key: str) -> None:
    columns = ("uuid", "name", "instance_uuid", "power_state", "maintenance")
    with filled.read() as conn:
        whole = nodes.list_nodes(conn, nodes.NodeFilters(), sort_key=sort_key, limit=60)
        partial = nodes.list_partial(conn, nodes.NodeFilters(), columns, sort_key=sort_key,
                                     limit=60)
    assert len(partial) == len(whole) == 60
    for record, node in zip(partial, whole, strict=True):
        for name in (*columns, "id", sort_key):
            assert getattr(record, name) == getattr(node, name)
        with pytest.raises(AttributeError, match="driver_info"):
            _ = record.driver_info
