"""Power state sync as Ironic's conductor does it: read each idle node's power state from
its BMC, record a change made outside ingot, and after [conductor]
power_state_sync_max_retries failed reads in a row put the node in maintenance with
fault "power failure"; a later successful read takes it out again. Every change is an
event in the node's history.

Unlike Ironic's default (force_power_state_during_sync), ingot records the state the
BMC reports and never powers a node back: a server someone switched on or off by hand
is left as they left it.
"""

from __future__ import annotations

import asyncio
import logging

from ingot.common import states
from ingot.common.faults import POWER_FAILURE
from ingot.conductor.settings import ConductorSettings
from ingot.conductor.task import NodeTask
from ingot.db import history, nodes
from ingot.db.engine import Database
from ingot.db.models import Node
from ingot.drivers.interfaces import DriverError, InvalidParameter
from ingot.drivers.services import Services

LOG = logging.getLogger(__name__)
EVENT_TYPE = "power sync"
# Where nothing is under way: deploys, cleaning and agents' waits power nodes themselves.
SYNCED_STATES = (states.MANAGEABLE, states.AVAILABLE, states.ACTIVE, states.ERROR,
                 states.RESCUE, states.DEPLOYFAIL, states.CLEANFAIL, states.INSPECTFAIL,
                 states.RESCUEFAIL, states.ADOPTFAIL, states.UNRESCUEFAIL)
_PARALLEL = 8


class PowerSync:
    def __init__(self, db: Database, settings: ConductorSettings, services: Services):
        self.db = db
        self.settings = settings
        self.services = services
        self.failures: dict[str, int] = {}  # node UUID -> failed reads in a row

    async def sync_once(self) -> None:
        with self.db.read() as conn:
            found = nodes.for_power_sync(conn, self.settings.groups,
                                         self.settings.hardware_types, SYNCED_STATES,
                                         POWER_FAILURE)
        slots = asyncio.Semaphore(_PARALLEL)

        async def one(node: Node) -> None:
            async with slots:
                try:
                    await self._sync(node)
                except Exception:
                    LOG.exception("Power state sync of node %s failed", node.uuid)
        await asyncio.gather(*(one(node) for node in found))
        known = {node.uuid for node in found}
        for gone in set(self.failures) - known:
            del self.failures[gone]

    async def _sync(self, node: Node) -> None:
        task = NodeTask(self.db, self.settings, node, self.services)
        if not task.driver.power.power_sync:
            return
        try:
            actual = await task.driver.power.get_power_state(task)
        except (DriverError, InvalidParameter) as exc:
            self._failed(node, str(exc))
            return
        self.failures.pop(node.uuid, None)
        values: dict[str, object] = {}
        events = []
        if node.maintenance and node.fault == POWER_FAILURE:
            values.update(maintenance=False, maintenance_reason=None, fault=None)
            events.append(f"Power state of node {node.uuid} can be read again ({actual}): "
                          f"maintenance for a power failure is over.")
        if actual != node.power_state:
            values["power_state"] = actual
            events.append(f"Power state of node {node.uuid} changed outside ingot: the BMC "
                          f"reports {actual}, ingot had {node.power_state}.")
        if values:
            self._write(node, values, events, error=False)

    def _failed(self, node: Node, message: str) -> None:
        count = self.failures.get(node.uuid, 0) + 1
        self.failures[node.uuid] = count
        LOG.warning("Reading the power state of node %s failed (%d of %d): %s", node.uuid,
                    count, self.settings.power_state_sync_max_retries, message)
        if count < self.settings.power_state_sync_max_retries or node.maintenance:
            return
        reason = (f"During sync_power_state, max retries exceeded for node {node.uuid}: "
                  f"its power state could not be read {count} times in a row. Switched to "
                  f"maintenance. Error: {message}")
        self._write(node, {"maintenance": True, "maintenance_reason": reason,
                           "fault": POWER_FAILURE, "last_error": reason}, [reason],
                    error=True)

    def _write(self, node: Node, values: dict[str, object], events: list[str], *,
               error: bool) -> None:
        with self.db.write() as conn:
            # Only if nothing started on the node since it was read.
            if not nodes.update(conn, node.id, values, reservation=None, pending_action=None,
                                revision=node.revision):
                return
            for event in events:
                history.record(conn, node, event, event_type=EVENT_TYPE, error=error,
                               conductor=self.settings.host,
                               max_entries=self.settings.node_history_max_entries)
        for event in events:
            LOG.warning("%s", event)
