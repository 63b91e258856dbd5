"""The conductor service on a real database: claiming, recovery, timeouts."""

from __future__ import annotations

import asyncio
import datetime
import logging
import re
import threading
from typing import Any

import pytest

from ingot.common import states
from ingot.conductor.service import ConductorService
from ingot.conductor.settings import ConductorSettings
from ingot.db import conductors, history, models, nodes
from ingot.db.engine import Database
from ingot.db.models import Node, utcnow
from ingot.drivers.services import Services
from ingot.drivers.settings import DriverSettings
from tests.factories import node_row


def settings(host: str = "c1", **overrides: object) -> ConductorSettings:
    values: dict[str, object] = {"host": host, "group": "", "groups": ("",),
                                 "hardware_types": ("fake-hardware",), "poll_interval": 0.05,
                                 "check_interval": 0.1, "heartbeat_interval": 0.1}
    values.update(overrides)
    return ConductorSettings(**values)  # type: ignore[arg-type]


def conductor(db: Database, **overrides: Any) -> ConductorService:
    """A conductor whose drivers (fake-hardware) need only the default settings."""
    return ConductorService(db, settings(**overrides), Services(DriverSettings(), db))


def add(db: Database, **values: object) -> Node:
    with db.write() as conn:
        return nodes.insert(conn, node_row(**values))


def reload(db: Database, node: Node) -> Node:
    with db.read() as conn:
        found = nodes.get_by_id(conn, node.id)
    assert found is not None
    return found


def errors(db: Database, node: Node) -> list[tuple[str | None, str | None, str | None]]:
    """The node's history as (severity, event_type, event), oldest first."""
    with db.read() as conn:
        return [(e.severity, e.event_type, e.event) for e in history.list_events(conn, node.id)]


async def run_until(service: ConductorService, check: object, timeout: float = 10) -> None:
    await service.start()
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while not check():  # type: ignore[operator]
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError("condition not reached")
            await asyncio.sleep(0.05)
    finally:
        await service.stop()


def test_pending_work_is_carried_out(db: Database) -> None:
    node = add(db, provision_state=states.DEPLOYING, target_provision_state=states.ACTIVE,
               pending_action="deploy", pending_args={})
    service = conductor(db)
    asyncio.run(run_until(service, lambda: reload(db, node).provision_state == states.ACTIVE))
    done = reload(db, node)
    assert (done.reservation, done.pending_action, done.target_provision_state) == (
        None, None, None)
    assert done.conductor_affinity == "c1"


def test_each_run_is_logged_once_per_node_with_its_action(
        db: Database, caplog: pytest.LogCaptureFixture) -> None:
    deploys = [add(db, provision_state=states.DEPLOYING, target_provision_state=states.ACTIVE,
                   pending_action="deploy", pending_args={}) for _ in range(3)]
    verify = add(db, provision_state=states.VERIFYING, target_provision_state=states.MANAGEABLE,
                 pending_action="verify", pending_args={})
    service = conductor(db)
    with caplog.at_level(logging.INFO, logger="ingot.conductor.service"):
        asyncio.run(run_until(service, lambda: all(
            reload(db, node).pending_action is None for node in [*deploys, verify])))
    runs: dict[str, list[str]] = {}
    for record in caplog.records:
        found = re.fullmatch(r"Conductor c1 runs (\S+) for (\d+) node\(s\): (.*)",
                             record.getMessage())
        if found:
            uuids = found[3].split()
            assert len(uuids) == int(found[2])
            runs.setdefault(found[1], []).extend(uuids)
    assert sorted(runs["deploy"]) == sorted(node.uuid for node in deploys)
    assert runs["verify"] == [verify.uuid] and set(runs) == {"deploy", "verify"}


def test_restart_fails_what_this_conductor_was_doing(db: Database) -> None:
    deploying = add(db, provision_state=states.DEPLOYING, reservation="c1",
                    pending_action="deploy", pending_args={})
    waiting = add(db, provision_state=states.DEPLOYWAIT, reservation="c1",
                  pending_action="heartbeat", pending_args={})
    other = add(db, provision_state=states.CLEANING, reservation="c2",
                pending_action="clean", pending_args={})
    service = conductor(db)
    asyncio.run(run_until(service, lambda: True))
    failed = reload(db, deploying)
    assert failed.provision_state == states.DEPLOYFAIL
    assert failed.reservation is None and failed.pending_action is None
    assert "Conductor c1 restarted while the operation ran" in (failed.last_error or "")
    # Recorded as Ironic records a takeover error: in the history, with last_error.
    assert errors(db, deploying) == [("ERROR", "conductor", failed.last_error)]
    # A node waiting for its agent keeps waiting; its next heartbeat continues it.
    still_waiting = reload(db, waiting)
    assert (still_waiting.provision_state, still_waiting.reservation) == (states.DEPLOYWAIT,
                                                                          None)
    assert reload(db, other).reservation == "c2"  # c2 is not known dead


def test_dead_conductor_reservations_are_taken_over(db: Database) -> None:
    with db.write() as conn:
        conductors.register(conn, "ghost", "", [""], ["fake-hardware"])
        conn.execute(models.conductors.update().values(
            updated_at=utcnow() - datetime.timedelta(minutes=10)))
    stuck = add(db, provision_state=states.CLEANING, target_provision_state=states.AVAILABLE,
                reservation="ghost", pending_action="clean", pending_args={})
    service = conductor(db, heartbeat_timeout=60)
    asyncio.run(run_until(service, lambda: reload(db, stuck).reservation is None))
    node = reload(db, stuck)
    assert node.provision_state == states.CLEANFAIL
    assert "went offline" in (node.last_error or "")
    assert errors(db, stuck) == [("ERROR", "conductor", node.last_error)]


def test_agent_that_never_calls_back_times_out(db: Database) -> None:
    old = utcnow() - datetime.timedelta(seconds=30)
    waiting = add(db, provision_state=states.DEPLOYWAIT, target_provision_state=states.ACTIVE,
                  provision_updated_at=old)
    fresh = add(db, provision_state=states.DEPLOYWAIT, target_provision_state=states.ACTIVE,
                provision_updated_at=utcnow())
    service = conductor(db, deploy_callback_timeout=10)
    asyncio.run(run_until(service,
                          lambda: reload(db, waiting).provision_state == states.DEPLOYFAIL))
    assert "Timeout reached while waiting for callback" in (reload(db, waiting).last_error or "")
    assert reload(db, fresh).provision_state == states.DEPLOYWAIT
    assert errors(db, waiting) == [("ERROR", states.DEPLOYWAIT,
                                    reload(db, waiting).last_error)]
    assert errors(db, fresh) == []


def test_failing_action_moves_node_to_failure_state(db: Database) -> None:
    # fake-hardware cannot validate a driver that is not enabled for this conductor's
    # hardware types; an unknown interface name makes the driver fail to load.
    broken = add(db, provision_state=states.DEPLOYING, pending_action="deploy",
                 pending_args={}, deploy_interface="no-such-interface")
    service = conductor(db)
    asyncio.run(run_until(service,
                          lambda: reload(db, broken).provision_state == states.DEPLOYFAIL))
    node = reload(db, broken)
    assert 'Interface "no-such-interface" is not supported' in (node.last_error or "")
    assert node.reservation is None
    assert errors(db, broken) == [("ERROR", states.DEPLOYING, node.last_error)]


def test_concurrent_claims_give_each_node_to_one_conductor(db: Database) -> None:
    pending = [add(db, provision_state=states.DEPLOYING, pending_action="deploy",
                   pending_args={}).id for _ in range(60)]
    claimed: dict[str, list[int]] = {}
    barrier = threading.Barrier(4)

    def claim(host: str) -> None:
        barrier.wait()
        mine: list[int] = []
        for _ in range(20):
            with db.write() as conn:
                mine += [n.id for n in nodes.claim_pending(conn, host, [""],
                                                           ["fake-hardware"], 5)]
        claimed[host] = mine

    threads = [threading.Thread(target=claim, args=(f"h{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    everything = [node_id for ids in claimed.values() for node_id in ids]
    assert sorted(everything) == sorted(pending)  # every node once, none twice
    with db.read() as conn:
        owners = {nodes.get_by_id(conn, node_id).reservation for node_id in pending}  # type: ignore[union-attr]
    assert owners <= {"h0", "h1", "h2", "h3"}
