"""Finding the node a request names, and the 409s for a node that is busy."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import sqlalchemy as sa
from starlette.requests import Request

from ingot.api import validation
from ingot.api.errors import Conflict, NotFound
from ingot.api.middleware import JSON_SUFFIX
from ingot.db import nodes
from ingot.db.models import Node


def find_node(conn: sa.Connection, ident: str) -> Node:
    """The node named by UUID or by name; 404 if there is none."""
    node = (nodes.get_by_uuid(conn, ident) if validation.looks_like_uuid(ident)
            else nodes.get_by_name(conn, ident))
    if node is None:
        raise NotFound(f"Node {ident} could not be found.")
    return node


def json_suffix_taken(request: Request) -> bool:
    """Whether the request's path lost a ".json" (ingot.api.middleware: up to API 1.90
    Ironic reads <ident>.json as <ident>). Ironic then looks for a named resource that
    is not found again with the suffix: its name may end in .json."""
    return bool(request.scope["state"].get(JSON_SUFFIX))


# Ironic's conductor retries a locked node before answering 409 ([conductor]
# node_locked_retry_attempts = 3, node_locked_retry_interval = 1 s): a request right
# after another one on the same node waits for it the same way.
BUSY_WAIT = 3.0
_BUSY_POLL = 0.05


async def until_idle(read: Callable[[], Node | None]) -> None:
    """Return once the node read() gives has no reservation nor pending action (or is
    gone), or after BUSY_WAIT; the caller then decides with what it reads."""
    deadline = time.monotonic() + BUSY_WAIT
    while time.monotonic() < deadline:
        node = read()
        if node is None or not (node.reservation or node.pending_action):
            return
        await asyncio.sleep(_BUSY_POLL)


def locked(node: Node) -> Conflict:
    return Conflict(f"Node {node.uuid} is locked by host {node.reservation}, please retry "
                    f"after the current operation is completed.")


def busy(node: Node) -> Conflict:
    if node.reservation:
        return locked(node)
    return Conflict(f"Node {node.uuid} has an operation in progress "
                    f"({node.pending_action}); retry once it is taken up.")
