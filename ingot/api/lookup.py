"""Finding the node a request names, and the 409s for a node that is busy."""

from __future__ import annotations

import sqlalchemy as sa

from ingot.api import validation
from ingot.api.errors import Conflict, NotFound
from ingot.db import nodes
from ingot.db.models import Node


def find_node(conn: sa.Connection, ident: str) -> Node:
    """The node named by UUID or by name; 404 if there is none."""
    node = (nodes.get_by_uuid(conn, ident) if validation.looks_like_uuid(ident)
            else nodes.get_by_name(conn, ident))
    if node is None:
        raise NotFound(f"Node {ident} could not be found.")
    return node


def without_json_suffix(ident: str, minor: int) -> str:
    """Up to API 1.90 Ironic reads ``<ident>.json`` as ``<ident>`` (a relic of format
    suffixes); from 1.91 the suffix is part of the name, which then is not found."""
    return ident.removesuffix(".json") if minor <= 90 else ident


def locked(node: Node) -> Conflict:
    return Conflict(f"Node {node.uuid} is locked by host {node.reservation}, please retry "
                    f"after the current operation is completed.")


def busy(node: Node) -> Conflict:
    if node.reservation:
        return locked(node)
    return Conflict(f"Node {node.uuid} has an operation in progress "
                    f"({node.pending_action}); retry once it is taken up.")
