"""A node UPDATE run as compiled SQL on the driver's cursor writes what SQLAlchemy's
own execution of it writes (JSON, timestamps, booleans, NULLs), checks the same
expectations, and stays inside the transaction of the connection it was given."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from ingot.db import nodes
from ingot.db.engine import Database
from ingot.db.models import Node, utcnow
from tests.factories import node_row


def _add(db: Database, **values: object) -> Node:
    with db.write() as conn:
        return nodes.insert(conn, node_row(**values))


def _get(db: Database, node_id: int) -> Node:
    with db.read() as conn:
        found = nodes.get_by_id(conn, node_id)
    assert found is not None
    return found


def _comparable(node: Node) -> dict[str, Any]:
    fields = {name: getattr(node, name) for name in Node.__dataclass_fields__}
    for name in ("id", "uuid", "updated_at", "created_at"):
        fields.pop(name)
    return fields


WRITES: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({"provision_state": "deploying", "target_provision_state": "active",
      "provision_updated_at": utcnow().replace(microsecond=654321),
      "pending_action": "deploy", "pending_args": {"steps": [{"a": [1.5, None]}], "é": "ü"},
      "instance_info": {"image_source": "x", "nested": {"k": True}}},
     {"reservation": None, "pending_action": None}),
    ({"maintenance": True, "maintenance_reason": None, "traits": ["CUSTOM_A"],
      "automated_clean": False, "secure_boot": None, "deploy_step": {}},
     {"provision_state": "enroll"}),
    ({"reservation": None, "pending_args": None, "driver_internal_info": {}}, {}),
]


@pytest.mark.parametrize("write", range(len(WRITES)), ids=["transition", "columns", "clear"])
def test_prepared_update_writes_what_sqlalchemy_writes(db: Database, write: int) -> None:
    values, expected = WRITES[write]
    prepared, alike = _add(db), _add(db)
    with db.write() as conn:  # in a transaction: the driver's cursor
        assert nodes.update(conn, prepared.id, values, revision=prepared.revision, **expected)
    with db.engine.connect() as conn:  # SQLAlchemy's autobegun transaction: its own run
        assert nodes.update(conn, alike.id, values, revision=alike.revision, **expected)
        conn.commit()
    written, reference = _get(db, prepared.id), _get(db, alike.id)
    assert _comparable(written) == _comparable(reference)
    assert written.revision == prepared.revision + 1
    assert written.updated_at is not None and written.updated_at >= prepared.created_at
    for name, value in values.items():
        assert getattr(written, name) == value, name


def test_prepared_update_checks_expectations(db: Database) -> None:
    node = _add(db, reservation="c1", provision_state="deploying")
    for expected in ({"reservation": "c2"}, {"reservation": None},
                     {"revision": node.revision + 1}, {"provision_state": "active"}):
        with db.write() as conn:
            assert not nodes.update(conn, node.id, {"last_error": "x"}, **expected)
    assert _get(db, node.id) == node
    with db.guarded_write() as conn:
        assert nodes.update(conn, node.id, {"last_error": "y"}, reservation="c1",
                            revision=node.revision, provision_state="deploying")
    assert _get(db, node.id).last_error == "y"


def test_update_stays_in_the_callers_transaction(db: Database) -> None:
    """Rolled back with it, whether the transaction was begun or autobegun."""
    node = _add(db)
    with db.engine.connect() as conn:
        assert nodes.update(conn, node.id, {"last_error": "autobegun"})
        conn.rollback()
    with db.engine.connect() as conn, conn.begin() as transaction:
        assert nodes.update(conn, node.id, {"last_error": "begun"})
        assert conn.execute(sa.text("SELECT last_error FROM nodes WHERE id = :id"),
                            {"id": node.id}).scalar_one() == "begun"
        transaction.rollback()
    assert _get(db, node.id) == node


def test_prepared_update_raises_what_sqlalchemy_raises(db: Database) -> None:
    """A name taken is SQLAlchemy's IntegrityError (the API answers 409 on it), and the
    transaction is rolled back."""
    _add(db, name="taken")
    node = _add(db, name="mine")
    with pytest.raises(sa.exc.IntegrityError, match="name"), db.write() as conn:
        nodes.update(conn, node.id, {"name": "taken", "last_error": "x"})
    assert _get(db, node.id) == node


def test_held_writes_in_one_statement_write_what_update_writes(db: Database) -> None:
    """update_held's UPDATE from a VALUES list (PostgreSQL; SQLite runs update() per
    write) writes what update() writes, and only the nodes the host still holds."""
    values, _expected = WRITES[0]
    batched = [_add(db, reservation="c1") for _ in range(3)]
    alone, other = _add(db, reservation="c1"), _add(db, reservation="c2")
    with db.write() as conn:
        done = nodes.update_held(conn, [(node.id, "c1", values) for node in batched]
                                 + [(other.id, "c1", values)])
        assert nodes.update(conn, alone.id, values, reservation="c1")
    assert done == {node.id for node in batched}
    reference = _comparable(_get(db, alone.id))
    assert all(_comparable(_get(db, node.id)) == reference for node in batched)
    assert _get(db, other.id) == other
