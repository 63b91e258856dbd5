"""Processing allocations: each one in state allocating gets a node or an error.

Any conductor may process any allocation (it only writes rows): the node is taken
with a conditional UPDATE (db/allocations.py ``link``), so conductors racing for one
node, or for one allocation, never give a node two allocations.
"""

from __future__ import annotations

import datetime
import logging
import random

import sqlalchemy as sa

from ingot.db import allocations, conductors
from ingot.db.engine import Database
from ingot.db.models import Allocation, Node, utcnow

LOG = logging.getLogger(__name__)

# How long an allocation whose every candidate is busy (reserved by a conductor, or
# changing under it) keeps being retried before it fails, as Ironic retries locked nodes.
RETRY_SECONDS = 30.0
BATCH = 20


def process_pending(db: Database, heartbeat_timeout: int) -> int:
    """One pass over the allocations waiting for a node; how many were finished."""
    with db.read() as conn:
        waiting = allocations.pending(conn, BATCH)
        served = _served(conn, heartbeat_timeout) if waiting else {}
    return sum(_process(db, allocation, served) for allocation in waiting)


def _served(conn: sa.Connection, heartbeat_timeout: int) -> dict[str, set[str]]:
    """conductor group -> hardware types some live conductor of the group runs."""
    result: dict[str, set[str]] = {}
    now = utcnow()
    for conductor in conductors.list_conductors(conn):
        if conductors.is_alive(conductor, heartbeat_timeout, now):
            for group in conductor.groups:
                result.setdefault(group, set()).update(conductor.hardware_types)
    return result


def _suitable(node: Node, allocation: Allocation, served: dict[str, set[str]]) -> bool:
    return (set(allocation.traits) <= set(node.traits)
            and node.driver in served.get(node.conductor_group, ()))


def _process(db: Database, allocation: Allocation, served: dict[str, set[str]]) -> bool:
    with db.write() as conn:
        if not allocations.hold(conn, allocation.id):
            return False  # another conductor finished it, or it was deleted
        found = allocations.candidates(conn, allocation)
        error = _no_candidate_error(allocation, found, served)
        if error is None:
            nodes = [node for node in found if _suitable(node, allocation, served)]
            # Parallel allocations should not all try the nodes in the same order; a
            # node named as the allocation goes first (Ironic's rule).
            random.shuffle(nodes)
            nodes.sort(key=lambda node: node.name != allocation.name or not node.name)
            try:
                for node in nodes:
                    if allocations.link(conn, allocation, node, node_state="available"):
                        LOG.info("Allocation %s got node %s", allocation.uuid, node.uuid)
                        return True
            except allocations.Finished:
                return False
            age = utcnow() - allocation.created_at
            if age < datetime.timedelta(seconds=RETRY_SECONDS):
                return False  # every candidate was busy: the next pass tries again
            error = f"could not reserve any of {len(nodes)} suitable nodes"
        message = f"Failed to process allocation {allocation.uuid}: {error}."
        if allocations.update(conn, allocation.id, {"state": allocations.ERROR,
                                                    "last_error": message},
                              state=allocations.ALLOCATING):
            LOG.warning("%s", message)
        return True


def _no_candidate_error(allocation: Allocation, found: list[Node],
                        served: dict[str, set[str]]) -> str | None:
    if not found:
        return ("none of the requested nodes are available and match the resource class "
                f"{allocation.resource_class}" if allocation.candidate_nodes else
                f"no available nodes match the resource class {allocation.resource_class}")
    with_traits = [node for node in found if set(allocation.traits) <= set(node.traits)]
    if not with_traits:
        return f"no suitable nodes have the requested traits {', '.join(allocation.traits)}"
    if not any(node.driver in served.get(node.conductor_group, ()) for node in with_traits):
        return ("no live conductor serves the conductor group and hardware type of any "
                "matching node")
    return None
