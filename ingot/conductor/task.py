"""A node held by a conductor: its record, its driver, and writes guarded by the
reservation (a write fails if the reservation was taken away).

Writes are committed with the other tasks' in batches (conductor/write_batch.py): the
record in memory has them at once, the database in the order they were made, by the
time release() returns or flush() has run; a write that failed raises at the task's
next write or release.
"""

from __future__ import annotations

from typing import Any

from ingot.common import states
from ingot.conductor.settings import ConductorSettings
from ingot.conductor.write_batch import WriteBatch
from ingot.db import ports
from ingot.db.engine import Database
from ingot.db.models import Node, utcnow
from ingot.drivers.hardware import driver_for
from ingot.drivers.interfaces import DriverSet
from ingot.drivers.services import Services


class LostReservation(RuntimeError):
    """Another party released or took the node while this conductor worked on it."""


class NodeTask:
    def __init__(self, db: Database, settings: ConductorSettings, node: Node,
                 services: Services, batch: WriteBatch | None = None):
        self.db = db
        self.settings = settings
        self.services = services
        self.host = settings.host
        self.node = node
        self.driver: DriverSet = driver_for(node)
        self._macs: list[str] | None = None
        self._pxe_macs: list[str] | None = None
        self._batch = batch or WriteBatch(db)
        self._failure: BaseException | None = None

    @property
    def macs(self) -> list[str]:
        if self._macs is None:
            with self.db.read() as conn:
                self._macs = ports.macs(conn, self.node.id)
        return self._macs

    @property
    def pxe_macs(self) -> list[str]:
        if self._pxe_macs is None:
            with self.db.read() as conn:
                self._pxe_macs = ports.pxe_macs(conn, self.node.id)
        return self._pxe_macs

    def save(self, **values: Any) -> None:
        self._raise_failure()
        self._batch.update(self.node.id, self.host, values, self._written)
        for name, value in values.items():
            setattr(self.node, name, value)

    def flush(self) -> None:
        """Commit this task's writes (and the others' made so far) now: before reading
        or writing the node outside the task."""
        self._batch.flush()
        self._raise_failure()

    def _written(self, outcome: bool | BaseException) -> None:
        if outcome is True or self._failure is not None:
            return
        self._failure = outcome if isinstance(outcome, BaseException) else LostReservation(
            f"Node {self.node.uuid} is no longer reserved by {self.host}")

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    def set_internal(self, **changes: Any) -> None:
        self.save(driver_internal_info=self.internal_with(**changes))

    def internal_with(self, **changes: Any) -> dict[str, Any]:
        """driver_internal_info with changes merged (None removes a key), to save in
        one write with other columns."""
        info = dict(self.node.driver_internal_info)
        for key, value in changes.items():
            if value is None:
                info.pop(key, None)
            else:
                info[key] = value
        return info

    def advance(self, event: str, **values: Any) -> str:
        """Move the node along the state machine by event, with extra column values."""
        new_state = states.next_state(self.node.provision_state, event)
        target = states.target_of(new_state)
        if new_state in (states.CLEANING, states.CLEANWAIT) \
                and self.node.target_provision_state == states.MANAGEABLE:
            # Manual cleaning waits for its agent and resumes, and still ends manageable.
            target = states.MANAGEABLE
        self.save(provision_state=new_state, target_provision_state=target,
                  provision_updated_at=utcnow(), **values)
        return new_state

    async def release(self, **values: Any) -> bool:
        """Finish: clear the pending work and drop the reservation in one UPDATE, with
        the writes made before it; True once committed if the node still was the task's."""
        self._raise_failure()
        values = {"pending_action": None, "pending_args": None, **values}
        released = await self._batch.release(self.node.id, self.host, values)
        self._raise_failure()
        for name, value in values.items():
            setattr(self.node, name, value)
        return released
