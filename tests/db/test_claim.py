"""The claim run as prepared SQL on the driver's cursor reserves the nodes SQLAlchemy's
own run of the same UPDATE does, and returns the same records."""

from __future__ import annotations

import datetime

import pytest
import sqlalchemy as sa

from ingot.db import nodes
from ingot.db.engine import Database
from ingot.db.models import Node, utcnow
from ingot.db.models import nodes as table
from tests.factories import node_row


def _arrange(db: Database) -> None:
    """Pending work in order of updated_at, among nodes a claim must leave alone."""
    start = utcnow().replace(microsecond=0)
    rows = []
    for i in range(12):
        rows.append(node_row(
            updated_at=start + datetime.timedelta(seconds=12 - i),
            pending_action="deploy", pending_args={"i": i, "steps": [{"a": [1.5, None]}]},
            provision_state="deploying", driver_internal_info={"k": "é"},
            maintenance=i == 3, provision_updated_at=start,
            # Other groups, other hardware types, already reserved: not claimable here.
            conductor_group="other" if i == 4 else "g2" if i == 5 else "",
            driver="ipmi" if i == 6 else "fake-hardware",
            reservation="someone" if i == 7 else None))
    rows.append(node_row(pending_action=None))
    with db.write() as conn:
        for row in rows:
            nodes.insert(conn, row)


def _claimed(db: Database, prepared: bool, limit: int) -> tuple[list[Node], list[Node]]:
    """What one claim returns (by id), and every node as it left them; rolled back."""
    groups, types = ("", "g2"), ("fake-hardware",)
    with db.engine.connect() as conn, conn.begin() as transaction:
        if prepared:
            returned = nodes.claim_pending(conn, "c1", groups, types, limit)
        else:
            statement = nodes.claim_statement(groups, types)
            returned = [Node(*row) for row in conn.execute(statement,
                                                           {"host": "c1", "limit": limit})]
        after = [Node(*row) for row in conn.execute(sa.select(table).order_by(table.c.id))]
        transaction.rollback()
    return sorted(returned, key=lambda node: node.id), after


@pytest.mark.parametrize("limit", [1, 4, 50])
def test_prepared_claim_equals_sqlalchemy_run(db: Database, limit: int) -> None:
    _arrange(db)
    expected = _claimed(db, prepared=False, limit=limit)
    assert _claimed(db, prepared=True, limit=limit) == expected
    claimed, after = expected
    # The oldest pending first (the last inserted); other groups, types and
    # reservations left alone.
    claimable = [after[i] for i in (11, 10, 9, 8, 5, 3, 2, 1, 0)]
    assert [node.id for node in claimed] == sorted(node.id for node in claimable[:limit])
    assert all(node.reservation == "c1" and node.conductor_affinity == "c1"
               for node in claimed)
    assert sum(node.reservation == "c1" for node in after) == len(claimed)
    assert claimed[0].pending_args["steps"] == [{"a": [1.5, None]}]  # type: ignore[index]
    assert claimed[0].driver_internal_info == {"k": "é"}
    assert claimed[0].maintenance is (claimed[0].id == after[3].id)


def test_prepared_claim_commits_with_its_connection(db: Database) -> None:
    _arrange(db)
    with db.guarded_write() as conn:
        first = nodes.claim_pending(conn, "c1", ("",), ("fake-hardware",), 3)
    with db.guarded_write() as conn:
        second = nodes.claim_pending(conn, "c2", ("", "g2"), ("fake-hardware",), 100)
    assert len(first) == 3 and len(second) == 6
    assert not {node.id for node in first} & {node.id for node in second}
    with db.read() as conn:
        for node in first:
            found = nodes.get_by_id(conn, node.id)
            assert found is not None and found.reservation == "c1"
            assert found.conductor_affinity == "c1" and found.revision == node.revision
