"""drivers/ramdisk_exit.py on a real database: a ramdisk process that died fails its
node, and the failure's history event keeps the node within [conductor]
node_history_max_entries like the conductor's own records."""

from __future__ import annotations

from ingot.db import history, nodes
from ingot.db.engine import Database
from ingot.drivers import ramdisk_exit
from tests.factories import node_row


def test_the_failure_event_prunes_history_to_the_cap(db: Database) -> None:
    with db.write() as conn:
        node = nodes.insert(conn, node_row(provision_state="wait call-back",
                                           target_provision_state="active",
                                           agent_token="token-1"))
        earlier = [history.record(conn, node, f"event {i}") for i in range(3)]
    message = ramdisk_exit.exit_message("The agent process", 2, "")
    assert ramdisk_exit.fail_waiting_node(db, node.id, "token-1", message,
                                          history_max_entries=2, settle_timeout=0)
    with db.read() as conn:
        failed = nodes.get_by_id(conn, node.id)
        events = history.list_events(conn, node.id)
    assert failed is not None and failed.provision_state == "deploy failed"
    assert failed.last_error == message
    # The cap holds at once, not only after the conductor's next record.
    assert [(e.uuid, e.severity) for e in events[:-1]] == [(earlier[-1], "INFO")]
    assert (events[-1].event, events[-1].severity) == (message, "ERROR")


def test_no_cap_keeps_every_event(db: Database) -> None:
    with db.write() as conn:
        node = nodes.insert(conn, node_row(provision_state="clean wait",
                                           target_provision_state="available",
                                           agent_token="token-2"))
        for i in range(3):
            history.record(conn, node, f"event {i}")
    assert ramdisk_exit.fail_waiting_node(db, node.id, "token-2", "gone",
                                          history_max_entries=0, settle_timeout=0)
    with db.read() as conn:
        assert len(history.list_events(conn, node.id)) == 4
