"""A node held by a conductor: its record, its driver, and writes guarded by the
reservation (a write fails if the reservation was taken away)."""

from __future__ import annotations

from typing import Any

from ingot.common import states
from ingot.conductor.settings import ConductorSettings
from ingot.db import nodes, ports
from ingot.db.engine import Database
from ingot.db.models import Node, utcnow
from ingot.drivers.hardware import driver_for
from ingot.drivers.interfaces import DriverSet
from ingot.drivers.services import Services


class LostReservation(RuntimeError):
    """Another party released or took the node while this conductor worked on it."""


class NodeTask:
    def __init__(self, db: Database, settings: ConductorSettings, node: Node,
                 services: Services):
        self.db = db
        self.settings = settings
        self.services = services
        self.host = settings.host
        self.node = node
        self.driver: DriverSet = driver_for(node)
        self._macs: list[str] | None = None
        self._pxe_macs: list[str] | None = None

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
        with self.db.write() as conn:
            if not nodes.update(conn, self.node.id, values, reservation=self.host):
                raise LostReservation(f"Node {self.node.uuid} is no longer reserved by "
                                      f"{self.host}")
        for name, value in values.items():
            setattr(self.node, name, value)

    def set_internal(self, **changes: Any) -> None:
        info = dict(self.node.driver_internal_info)
        for key, value in changes.items():
            if value is None:
                info.pop(key, None)
            else:
                info[key] = value
        self.save(driver_internal_info=info)

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

    def release(self, **values: Any) -> bool:
        """Finish: clear the pending work and drop the reservation in one UPDATE."""
        values = {"pending_action": None, "pending_args": None, **values}
        with self.db.write() as conn:
            released = nodes.release(conn, self.node.id, self.host, values)
        for name, value in values.items():
            setattr(self.node, name, value)
        return released
