"""Processing a stored inventory: the node's properties, ports and traits from it, then
the inspection rules; all in the caller's database transaction, so an inspection is
applied whole or not at all."""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa

from ingot.db import inspection as stored
from ingot.db import ports as db_ports
from ingot.db.models import InspectionRule, Node, ports, utcnow
from ingot.inspection import properties as props
from ingot.inspection import rules as rule_engine
from ingot.inspection.inventory import valid_macs
from ingot.inspection.ports import plan
from ingot.inspection.settings import InspectionSettings

LOG = logging.getLogger(__name__)

# Node fields rules may read besides those they may set.
_READABLE = ("uuid", "name", "traits", "provision_state", "conductor_group")

# driver -> the interface columns of that hardware type's defaults (or ValueError).
InterfacesFor = Callable[[str], dict[str, str | None]]


class InspectionFailed(RuntimeError):
    """Processing cannot complete (a rule failed, no inventory); nothing was written."""


def operator_rules(rows: Sequence[InspectionRule]) -> list[rule_engine.Rule]:
    """The stored rules (kept as the operator wrote them), normalized to run."""
    found = []
    for row in rows:
        try:
            checked = rule_engine.check_rule({
                "description": row.description, "priority": row.priority,
                "sensitive": row.sensitive, "conditions": row.conditions,
                "actions": row.actions})
        except rule_engine.InvalidRule as exc:
            raise InspectionFailed(f"Inspection rule {row.uuid} cannot run: {exc}") from None
        found.append(dataclasses.replace(checked, uuid=row.uuid))
    return found


def _node_fields(node: Node) -> dict[str, Any]:
    names = (*rule_engine.SETTABLE, *_READABLE)
    return {name: getattr(node, name) for name in names}


def _apply_ports(conn: sa.Connection, node: Node, inventory: dict[str, Any],
                 plugin_data: dict[str, Any], settings: InspectionSettings) -> None:
    existing = db_ports.list_ports(conn, db_ports.PortFilters(node_id=node.id))
    addresses = list(plugin_data["macs"])
    taken = set(conn.execute(sa.select(ports.c.address)
                             .where(ports.c.address.in_(addresses),
                                    ports.c.node_id != node.id)).scalars())
    changes = plan(inventory, plugin_data, existing, taken, settings)
    for port_id in changes.delete:
        db_ports.delete(conn, port_id)
    for port_id, pxe_enabled in changes.update:
        db_ports.update(conn, port_id, {"pxe_enabled": pxe_enabled})
    for address, pxe_enabled in changes.create:
        db_ports.insert(conn, {
            "uuid": str(uuid.uuid4()), "address": address, "node_id": node.id,
            "extra": {}, "internal_info": {}, "local_link_connection": {},
            "pxe_enabled": pxe_enabled, "physical_network": None, "is_smartnic": False,
            "created_at": utcnow()})
    for address in changes.elsewhere:
        LOG.warning("Inspection of node %s: MAC %s is a port of another node; not adding "
                    "it", node.uuid, address)


def process(conn: sa.Connection, node: Node, settings: InspectionSettings,
            interfaces_for: InterfacesFor) -> dict[str, Any]:
    """Apply the node's stored inventory; the node column values to write (the caller
    writes them, with its own guard on the node's row)."""
    found = stored.get_inventory(conn, node.id)
    if found is None:
        raise InspectionFailed(f"Node {node.uuid} has no inventory to process.")
    inventory, plugin_data = found
    plugin_data = dict(plugin_data)
    properties, disk = props.from_inventory(
        inventory, node.properties, partitioning_spacing=settings.disk_partitioning_spacing)
    plugin_data["macs"] = valid_macs(inventory)
    if disk is not None:
        plugin_data["root_disk"] = dataclasses.asdict(disk)
    fields = _node_fields(node)
    fields["properties"] = properties
    target = rule_engine.Target(fields, list(node.traits), inventory, plugin_data,
                                changed={"properties"})
    chosen = rule_engine.ordered(settings.built_in_rules,
                                 operator_rules(stored.list_rules(conn)))
    try:
        ran = rule_engine.apply(chosen, target)
    except rule_engine.RuleFailed as exc:
        raise InspectionFailed(f"Inspection rule failed: {exc}") from None
    values: dict[str, Any] = {name: target.node[name] for name in target.changed
                              if name != "traits"}
    if "traits" in target.changed:
        values["traits"] = target.traits
    if values.get("driver", node.driver) != node.driver:
        try:
            values.update(interfaces_for(values["driver"]))
        except ValueError as exc:
            raise InspectionFailed(f"Inspection rule set driver {values['driver']!r}: "
                                   f"{exc}") from None
    plugin_data["rules_applied"] = ran
    _apply_ports(conn, node, inventory, target.plugin_data, settings)
    stored.store_inventory(conn, node.id, inventory, target.plugin_data)
    return values
