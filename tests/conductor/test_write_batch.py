"""conductor/write_batch.py on SQLite and PostgreSQL: the writes of many tasks made in
one event-loop tick are one transaction, every one of them lands as it would have alone,
a node taken away fails only its own task, and a batch that fails is retried write by
write, so that only the write that fails alone fails its task. With a batch in flight
(ingot serve's commit thread on PostgreSQL, here on both backends), what is written meanwhile lands
after it in order, and a write that failed in flight fails its node's later writes."""

from __future__ import annotations

import asyncio
import datetime
import threading
from typing import Any

import pytest
import sqlalchemy as sa

from ingot.common import states
from ingot.common.power import POWER_OFF
from ingot.conductor.settings import ConductorSettings
from ingot.conductor.task import LostReservation, NodeTask
from ingot.conductor.write_batch import WriteBatch
from ingot.db import nodes
from ingot.db.engine import Database
from ingot.db.models import Node
from ingot.drivers.services import Services
from ingot.drivers.settings import DriverSettings
from tests.factories import node_row

HOST = "batch-test"


def _commits(db: Database) -> list[int]:
    """A counter of the engine's committed transactions, from now on."""
    counted = [0]

    def count(_conn: sa.Connection) -> None:
        counted[0] += 1
    sa.event.listen(db.engine, "commit", count)
    return counted


def _tasks(db: Database, count: int, state: str = states.DEPLOYING, *,
           in_thread: bool = False) -> list[NodeTask]:
    settings = ConductorSettings(host=HOST, group="", groups=("",),
                                 hardware_types=("fake-hardware",))
    services = Services(DriverSettings(), db)
    batch = WriteBatch(db, in_thread=in_thread)
    with db.write() as conn:
        found = [nodes.insert(conn, node_row(provision_state=state, reservation=HOST,
                                             target_provision_state=states.ACTIVE,
                                             pending_action="deploy", pending_args={}))
                 for _ in range(count)]
    return [NodeTask(db, settings, node, services, batch=batch) for node in found]


def _stored(db: Database, node_id: int) -> Node:
    with db.read() as conn:
        node = nodes.get_by_id(conn, node_id)
    assert node is not None
    return node


def test_one_tick_of_many_tasks_is_one_commit_and_keeps_every_write(db: Database) -> None:
    tasks = _tasks(db, 30)
    commits = _commits(db)
    when = datetime.datetime(2026, 1, 2, 3, 4, 5)

    async def run(task: NodeTask, index: int) -> bool:
        # Writes of different shapes in one tick: alike columns share a statement,
        # JSON, NULLs and timestamps keep their types; later writes of a task win.
        task.save(deploy_step={"step": "deploy", "n": index}, last_error=None)
        if index % 3 == 0:
            task.set_internal(agent_url=f"http://10.0.0.{index}:9999")
        task.advance("done", deploy_step={}, inspection_started_at=when)
        return await task.release(power_state=POWER_OFF if index % 2 else None)

    async def main() -> list[bool]:
        return await asyncio.gather(*(run(task, i) for i, task in enumerate(tasks)))

    assert asyncio.run(main()) == [True] * len(tasks)
    assert commits[0] == 1
    for index, task in enumerate(tasks):
        node = _stored(db, task.node.id)
        assert (node.provision_state, node.target_provision_state) == (states.ACTIVE, None)
        assert (node.reservation, node.pending_action, node.pending_args) == (None, None, None)
        assert node.deploy_step == {} and node.last_error is None
        assert node.inspection_started_at == when
        assert node.power_state == (POWER_OFF if index % 2 else None)
        assert node.driver_internal_info == (
            {"agent_url": f"http://10.0.0.{index}:9999"} if index % 3 == 0 else {})
        assert node.revision == 1  # one UPDATE for the whole tick of this node


def test_a_node_taken_away_fails_only_its_task(db: Database) -> None:
    tasks = _tasks(db, 4)
    with db.write() as conn:
        assert nodes.update(conn, tasks[1].node.id, {"reservation": "other-host"})

    async def run(task: NodeTask) -> Any:
        task.save(last_error="step one")
        await asyncio.sleep(0)  # the tick ends: the batch is committed
        task.save(last_error="step two")
        return await task.release()

    async def main() -> list[Any]:
        return await asyncio.gather(*(run(task) for task in tasks), return_exceptions=True)

    outcomes = asyncio.run(main())
    assert isinstance(outcomes[1], LostReservation)
    assert outcomes[:1] + outcomes[2:] == [True, True, True]
    taken = _stored(db, tasks[1].node.id)
    assert (taken.reservation, taken.last_error) == ("other-host", None)
    for task in tasks[:1] + tasks[2:]:
        node = _stored(db, task.node.id)
        assert (node.reservation, node.last_error) == (None, "step two")


def test_a_failed_batch_is_retried_write_by_write(db: Database) -> None:
    tasks = _tasks(db, 5)
    with db.write() as conn:
        nodes.update(conn, tasks[4].node.id, {"name": "taken-name"})
    commits = _commits(db)

    async def run(task: NodeTask, index: int) -> Any:
        # One write breaks the unique node name: the tick's transaction rolls back, and
        # only that write fails once each is tried alone.
        task.save(last_error=f"written {index}",
                  **({"name": "taken-name"} if index == 3 else {}))
        return await task.release()

    async def main() -> list[Any]:
        return await asyncio.gather(*(run(task, i) for i, task in enumerate(tasks[:4])),
                                    return_exceptions=True)

    outcomes = asyncio.run(main())
    assert outcomes[:3] == [True, True, True]
    assert isinstance(outcomes[3], sa.exc.IntegrityError), outcomes
    assert commits[0] == 3  # the three writes that succeed alone
    for index, task in enumerate(tasks[:3]):
        node = _stored(db, task.node.id)
        assert (node.reservation, node.last_error) == (None, f"written {index}")
    failed = _stored(db, tasks[3].node.id)
    # Still held in its state: the conductor failing it (or recovery) moves it on.
    assert (failed.reservation, failed.last_error, failed.provision_state) == (
        HOST, None, states.DEPLOYING)
    with pytest.raises(sa.exc.IntegrityError):
        tasks[3].save(last_error="after the failure")


class _HeldCommit:
    """Holds the first write-batch commit inside its transaction until released, so that
    a test can make writes while a batch is in flight."""

    def __init__(self, db: Database):
        self.entered = threading.Event()
        self.release = threading.Event()
        # At its BEGIN: the batch's UPDATEs may run on the driver's cursor, past
        # SQLAlchemy's statement events.
        sa.event.listen(db.engine, "begin", self._hold)

    def _hold(self, *_args: object) -> None:
        if threading.current_thread().name.startswith("write-batch") \
                and not self.entered.is_set():
            self.entered.set()
            assert self.release.wait(30), "the test never released the commit"

    async def wait_entered(self) -> None:
        for _ in range(3000):
            if self.entered.is_set():
                return
            await asyncio.sleep(0.01)
        raise AssertionError("no batch commit started")


def test_writes_made_while_a_batch_commits_land_after_it_in_order(db: Database) -> None:
    tasks = _tasks(db, 3, in_thread=True)  # as ingot serve on PostgreSQL, on both
    held = _HeldCommit(db)
    commits = _commits(db)

    async def main() -> list[bool]:
        for index, task in enumerate(tasks):
            task.save(last_error=f"first {index}", deploy_step={"n": 1})
        await held.wait_entered()
        # The loop runs while the first batch is in flight: these writes accumulate, and
        # the database has none of this test's writes yet.
        for index, task in enumerate(tasks):
            task.save(last_error=f"second {index}")
        assert [_stored(db, task.node.id).last_error for task in tasks] == [None] * 3
        releases = [asyncio.ensure_future(task.release()) for task in tasks]
        await asyncio.sleep(0.05)
        assert not any(release.done() for release in releases)
        held.release.set()
        return list(await asyncio.gather(*releases))

    assert asyncio.run(main()) == [True] * 3
    assert commits[0] == 2  # the batch in flight, then everything made meanwhile
    for index, task in enumerate(tasks):
        node = _stored(db, task.node.id)
        # The second batch landed after the first: its writes are the ones kept.
        assert (node.last_error, node.deploy_step, node.reservation) == (
            f"second {index}", {"n": 1}, None)
        assert node.revision == 2


def test_a_failure_in_the_batch_in_flight_fails_only_its_tasks(db: Database) -> None:
    tasks = _tasks(db, 4, in_thread=True)
    with db.write() as conn:
        nodes.update(conn, tasks[3].node.id, {"name": "taken-name"})
    held = _HeldCommit(db)

    async def main() -> list[Any]:
        # In flight: task 0 breaks the unique name, task 1 writes fine.
        tasks[0].save(name="taken-name")
        tasks[1].save(last_error="in flight")
        await held.wait_entered()
        # Accumulating meanwhile: task 1 again, and task 2.
        tasks[1].save(deploy_step={"n": 2})
        tasks[2].save(last_error="next batch")
        releases = [asyncio.ensure_future(task.release()) for task in tasks[:3]]
        held.release.set()
        return list(await asyncio.gather(*releases, return_exceptions=True))

    outcomes = asyncio.run(main())
    assert isinstance(outcomes[0], sa.exc.IntegrityError), outcomes
    assert outcomes[1:] == [True, True]
    failed = _stored(db, tasks[0].node.id)
    assert (failed.reservation, failed.name) == (HOST, None)
    second = _stored(db, tasks[1].node.id)
    assert (second.reservation, second.last_error, second.deploy_step) == (
        None, "in flight", {"n": 2})
    assert (_stored(db, tasks[2].node.id).last_error, _stored(db, tasks[2].node.id)
            .reservation) == ("next batch", None)


def test_flush_waits_for_the_batch_in_flight_then_commits_the_rest(db: Database) -> None:
    tasks = _tasks(db, 2, in_thread=True)
    held = _HeldCommit(db)

    async def main() -> None:
        tasks[0].save(last_error="in flight")
        await held.wait_entered()
        tasks[1].save(last_error="pending")
        threading.Timer(0.1, held.release.set).start()
        tasks[1].flush()  # blocks until the batch in flight has landed
        assert [_stored(db, task.node.id).last_error for task in tasks] == [
            "in flight", "pending"]
        for task in tasks:
            assert await task.release()

    asyncio.run(main())
