"""Which conductors are alive and what they serve, cached briefly for the API.

Node views show the conductor handling a node, and node creation needs a conductor
for the node's group and driver; reading the conductors table on every request would
cost a query per node GET, so the answer is kept for a couple of seconds.
"""

from __future__ import annotations

import time

from ingot.db import conductors
from ingot.db.engine import Database
from ingot.db.models import Conductor, Node, PartialNode


class ConductorDirectory:
    def __init__(self, db: Database, heartbeat_timeout: int, ttl: float = 2.0):
        self.db = db
        self.heartbeat_timeout = heartbeat_timeout
        self.ttl = ttl
        self._alive: list[Conductor] = []
        self._loaded_at = float("-inf")

    def invalidate(self) -> None:
        self._loaded_at = float("-inf")

    def alive(self) -> list[Conductor]:
        now = time.monotonic()
        if now - self._loaded_at > self.ttl:
            with self.db.read() as conn:
                rows = conductors.list_conductors(conn)
            self._alive = [c for c in rows if conductors.is_alive(c, self.heartbeat_timeout)]
            self._loaded_at = now
        return self._alive

    def serving(self, group: str, driver: str) -> list[Conductor]:
        return [c for c in self.alive() if group in c.groups and driver in c.hardware_types]

    def conductor_for(self, node: Node | PartialNode) -> str | None:
        candidates = self.serving(node.conductor_group, node.driver)
        for candidate in candidates:
            if candidate.hostname == node.conductor_affinity:
                return candidate.hostname
        return candidates[0].hostname if candidates else None

    def hardware_types(self) -> dict[str, list[str]]:
        """Hardware type -> hostnames of the alive conductors that have it."""
        result: dict[str, list[str]] = {}
        for conductor in self.alive():
            for name in conductor.hardware_types:
                result.setdefault(name, []).append(conductor.hostname)
        return result
