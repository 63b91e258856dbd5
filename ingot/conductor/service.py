"""The conductor service: registers itself, claims pending work, runs it, and keeps
nodes from getting stuck when a conductor disappears or an agent never calls back."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import functools
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ingot.common import states
from ingot.conductor import allocations
from ingot.conductor.actions import ACTIONS
from ingot.conductor.power_sync import PowerSync
from ingot.conductor.settings import ConductorSettings
from ingot.conductor.task import LostReservation, NodeTask
from ingot.conductor.write_batch import WriteBatch
from ingot.db import conductors, history, nodes, notify
from ingot.db.engine import Database
from ingot.db.models import Node, utcnow
from ingot.drivers.services import Services

LOG = logging.getLogger(__name__)
_T = TypeVar("_T")

# States in which a node waits for its agent; a timeout there fails the operation.
_WAIT_STATES = states.AGENT_WAIT_STATES
# Where a heartbeat continues the operation (inspection continues on its inventory).
_HEARTBEAT_STATES = tuple(state for state in _WAIT_STATES if state != states.INSPECTWAIT)
# On PostgreSQL every new piece of work is notified (ingot/db/notify.py); the poll then
# only covers a notification lost with its connection.
_LISTENING_POLL_INTERVAL = 30.0


class ConductorService:
    def __init__(self, db: Database, settings: ConductorSettings, services: Services,
                 housekeeping: Sequence[Callable[[], object]] = (),
                 with_api: bool = False):
        """housekeeping: blocking chores run with the periodic checks (image cache
        expiry, for instance), in a thread. with_api: the process serves the API too
        (its write batches then commit off the loop on PostgreSQL)."""
        self.db = db
        self.settings = settings
        self.services = services
        self.housekeeping = tuple(housekeeping)
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(settings.workers)
        self._batch = WriteBatch(db, in_thread=with_api and not db.is_sqlite)
        self._claiming: asyncio.Future[Any] | None = None
        self._running: dict[int, asyncio.Task[None]] = {}
        self._loops: list[asyncio.Task[None]] = []
        self._stopping = False
        self._heartbeat_stop = threading.Event()
        self._heartbeat: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        with self.db.write() as conn:
            conductors.register(conn, self.settings.host, self.settings.group,
                                self.settings.groups, self.settings.hardware_types)
        # Whatever this host held before it restarted is no longer being worked on.
        self.recover([self.settings.host],
                     f"Conductor {self.settings.host} restarted while the operation ran")
        self._heartbeat_stop.clear()
        self._heartbeat = threading.Thread(target=self._heartbeat_loop,
                                           name="conductor-heartbeat", daemon=True)
        self._heartbeat.start()
        self._loops = [
            asyncio.create_task(self._claim_loop(), name="conductor-claim"),
            *([] if self.db.is_sqlite else
              [asyncio.create_task(notify.listen(self.db, self.wake), name="conductor-listen")]),
            asyncio.create_task(self._check_loop(), name="conductor-check"),
        ]
        if self.settings.sync_power_state_interval > 0:
            self._loops.append(asyncio.create_task(self._power_sync_loop(),
                                                   name="conductor-power-sync"))
        LOG.info("Conductor %s serving groups %s with hardware types %s",
                 self.settings.host, list(self.settings.groups),
                 list(self.settings.hardware_types))

    async def stop(self, timeout: float = 10.0) -> None:
        self._stopping = True
        for loop in self._loops:
            loop.cancel()
        running = list(self._running.values())
        if running:
            _done, pending = await asyncio.wait(running, timeout=timeout)
            for job in pending:
                job.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await asyncio.gather(*self._loops, return_exceptions=True)
        if self._claiming is not None:
            await asyncio.gather(self._claiming, return_exceptions=True)
        self._heartbeat_stop.set()
        if self._heartbeat is not None:
            await asyncio.to_thread(self._heartbeat.join)
        # Writes still in flight land before recovery reads what this host holds.
        self._batch.flush()
        self.recover([self.settings.host],
                     f"Conductor {self.settings.host} stopped while the operation ran")
        with self.db.write() as conn:
            conductors.unregister(conn, self.settings.host)

    def wake(self) -> None:
        """New work was recorded: look now instead of at the next poll."""
        self._wake.set()

    # --- claiming and running work ---------------------------------------------------

    async def _claim_loop(self) -> None:
        poll = self.settings.poll_interval if self.db.is_sqlite \
            else max(self.settings.poll_interval, _LISTENING_POLL_INTERVAL)
        while not self._stopping:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation
            # that races with the wake-up, and stop() would then wait forever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(poll):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.claim_once()
                await self._in_thread(allocations.process_pending, self.db,
                                      self.settings.heartbeat_timeout)
            except Exception:
                LOG.exception("Claiming work failed")

    async def claim_once(self) -> int:
        free = self.settings.workers - len(self._running)
        if free <= 0 or self._stopping:
            return 0
        claimed = await self._in_thread(self._claim, free)
        if self._stopped_meanwhile():  # stop() recovers them
            return 0
        self._log_runs(claimed)
        for node in claimed:
            job = asyncio.create_task(self._run(node), name=f"node-{node.uuid}")
            self._running[node.id] = job
            job.add_done_callback(functools.partial(self._finished, node.id))
        return len(claimed)

    def _log_runs(self, claimed: list[Node]) -> None:
        """Which conductor runs what, once per node as Ironic logs each transition, in
        one line per action of a claim: a line each cost as much CPU (formatting,
        redaction, the write) as the rest of a fake node's action. A claim takes no
        more nodes than there are free workers, so each starts at once."""
        if not claimed or not LOG.isEnabledFor(logging.INFO):
            return
        by_action: dict[str, list[str]] = {}
        for node in claimed:
            by_action.setdefault(node.pending_action or "", []).append(node.uuid)
        for action_name, uuids in by_action.items():
            LOG.info("Conductor %s runs %s for %d node(s): %s", self.settings.host,
                     action_name, len(uuids), " ".join(uuids))

    def _stopped_meanwhile(self) -> bool:
        return self._stopping

    def _claim(self, free: int) -> list[Node]:
        with self.db.guarded_write() as conn:  # one UPDATE, atomic on its own
            return nodes.claim_pending(conn, self.settings.host, self.settings.groups,
                                       self.settings.hardware_types, free)

    async def _in_thread(self, function: Callable[..., _T], *args: object) -> _T:
        """Run a blocking claim in a thread: the loop serves requests and running work
        meanwhile, and what arrives during the commit is claimed together by the next
        pass instead of one node per commit. stop() waits for it before recovering."""
        self._claiming = asyncio.ensure_future(asyncio.to_thread(function, *args))
        return await asyncio.shield(self._claiming)

    def _finished(self, node_id: int, _job: object = None) -> None:
        self._running.pop(node_id, None)
        # A slot came free, and work may have arrived for this node meanwhile.
        self._wake.set()

    async def _run(self, node: Node) -> None:
        action_name = node.pending_action or ""
        args = node.pending_args or {}
        async with self._slots:
            started = utcnow()
            task: NodeTask | None = None
            try:
                task = NodeTask(self.db, self.settings, node, self.services,
                                batch=self._batch)
                action = ACTIONS.get(action_name)
                if action is None:
                    raise RuntimeError(f"Unknown action {action_name!r}")
                await action(task, args)
                await task.release()
                if task.node.provision_state in _HEARTBEAT_STATES:
                    with self.db.write() as conn:
                        if nodes.requeue_heartbeat(conn, node.id, _HEARTBEAT_STATES, started):
                            self._wake.set()
            except LostReservation:
                LOG.warning("Lost the reservation of node %s during %s", node.uuid,
                            action_name)
            except asyncio.CancelledError:
                self._fail(node, task, f"Operation {action_name} was interrupted by conductor "
                                 f"{self.settings.host} shutting down")
                raise
            except Exception as exc:
                LOG.warning("%s of node %s failed: %s", action_name, node.uuid, exc,
                            exc_info=LOG.isEnabledFor(logging.DEBUG))
                self._fail(node, task, str(exc) or exc.__class__.__name__)

    def _fail(self, node: Node, task: NodeTask | None, message: str) -> None:
        """Release node, moving it to the failure state of whatever state it is in."""
        # What the task wrote before failing is recorded first, as it would have been
        # without batching; a write refused there (node taken away) is seen below.
        if task is not None:
            with contextlib.suppress(Exception):
                task.flush()
        with self.db.write() as conn:
            current = nodes.get_by_id(conn, node.id)
            if current is None or current.reservation != self.settings.host:
                return
            values = self._failure_values(current, message)
            if nodes.release(conn, current.id, self.settings.host, values):
                history.record(conn, current, message, event_type=current.provision_state,
                               error=True, conductor=self.settings.host,
                               max_entries=self.settings.node_history_max_entries)

    @staticmethod
    def _failure_values(node: Node, message: str) -> dict[str, object]:
        values: dict[str, object] = {"last_error": message, "pending_action": None,
                                     "pending_args": None, "target_power_state": None}
        if states.can(node.provision_state, "fail"):
            new_state = states.next_state(node.provision_state, "fail")
            values.update(provision_state=new_state,
                          target_provision_state=states.target_of(new_state),
                          provision_updated_at=utcnow())
        return values

    # --- recovery and timeouts -------------------------------------------------------

    def recover(self, hosts: list[str], reason: str) -> int:
        """Release nodes reserved by hosts that no longer work on them.

        Nodes in a state that cannot be resumed go to its failure state with reason as
        last_error; nodes waiting for an agent keep waiting (the next heartbeat
        continues them).
        """
        if not hosts:
            return 0
        with self.db.write() as conn:
            stale = nodes.ids_reserved_by(conn, hosts)
            for node in stale:
                if node.provision_state in states.STUCK_STATES:
                    new_state = states.STUCK_STATES[node.provision_state]
                    values: dict[str, object] = {
                        "provision_state": new_state,
                        "target_provision_state": states.target_of(new_state),
                        "provision_updated_at": utcnow(),
                        "last_error": f"{reason} (node was {node.provision_state}).",
                        "pending_action": None, "pending_args": None,
                    }
                else:
                    values = {"target_power_state": None} if node.pending_action == "power" \
                        else {}
                    values.update(pending_action=None, pending_args=None)
                if nodes.release(conn, node.id, node.reservation or "", values) \
                        and "last_error" in values:
                    history.record(conn, node, str(values["last_error"]),
                                   event_type="conductor", error=True,
                                   conductor=self.settings.host,
                                   max_entries=self.settings.node_history_max_entries)
                LOG.warning("Released node %s held by %s: %s", node.uuid, node.reservation,
                            reason)
        return len(stale)

    def _heartbeat_loop(self) -> None:
        """In a thread of its own: a conductor whose event loop is busy with hundreds of
        nodes is alive, and must not look dead to the others, who would fail its nodes."""
        while not self._heartbeat_stop.wait(self.settings.heartbeat_interval):
            try:
                with self.db.write() as conn:
                    conductors.touch(conn, self.settings.host)
            except Exception:
                LOG.exception("Conductor heartbeat failed")

    async def _check_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.check_interval)
            try:
                self.check_once()
                for chore in self.housekeeping:
                    await asyncio.to_thread(chore)
            except Exception:
                LOG.exception("Periodic checks failed")

    async def _power_sync_loop(self) -> None:
        sync = PowerSync(self.db, self.settings, self.services)
        while True:
            await asyncio.sleep(self.settings.sync_power_state_interval)
            try:
                await sync.sync_once()
            except Exception:
                LOG.exception("Power state sync failed")

    def check_once(self) -> None:
        with self.db.read() as conn:
            dead = conductors.dead_hostnames(conn, self.settings.heartbeat_timeout)
        dead = [host for host in dead if host != self.settings.host]
        self.recover(dead, "The conductor working on the node went offline")
        self.fail_timed_out_waits()

    def fail_timed_out_waits(self) -> int:
        timeout = self.settings.deploy_callback_timeout
        if timeout <= 0:
            return 0
        before = utcnow() - datetime.timedelta(seconds=timeout)
        failed = 0
        with self.db.write() as conn:
            for node in nodes.in_states_since(conn, _WAIT_STATES, before, self.settings.groups):
                new_state = states.next_state(node.provision_state, "fail")
                message = (f"Timeout reached while waiting for callback for node {node.uuid} "
                           f"in {node.provision_state} (after {timeout} s).")
                # The abort action then stops what still runs for it (its agent).
                done = nodes.update(
                    conn, node.id,
                    {"provision_state": new_state, "last_error": message,
                     "target_provision_state": states.target_of(new_state),
                     "provision_updated_at": utcnow(), "pending_action": "abort",
                     "pending_args": {}},
                    reservation=None, pending_action=None, provision_state=node.provision_state)
                failed += int(done)
                if done:
                    history.record(conn, node, message, event_type=node.provision_state,
                                   error=True, conductor=self.settings.host,
                                   max_entries=self.settings.node_history_max_entries)
                    LOG.warning("%s", message)
        if failed:
            self._wake.set()
        return failed
