"""Auto-discovery ([auto_discovery] enabled, as Ironic's): a machine whose MACs match no
node and that posts an inventory becomes a node in ``enroll`` with the
[auto_discovery] driver, its ports and properties from the inventory; the inspection
rules then run on it, and may set its driver and credentials."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import sqlalchemy as sa

from ingot.common import states
from ingot.db import inspection as stored
from ingot.db import nodes
from ingot.db.models import Node, utcnow
from ingot.inspection.inventory import Received, valid_macs
from ingot.inspection.process import InterfacesFor, process
from ingot.inspection.settings import InspectionSettings

LOG = logging.getLogger(__name__)


class DiscoveryRefused(RuntimeError):
    """Discovery is off or not configured; the machine stays unknown."""


def enroll(conn: sa.Connection, received: Received, settings: InspectionSettings,
           interfaces_for: InterfacesFor, *, conductor_group: str,
           resource_class: str | None) -> Node:
    """Create the node, store its inventory and process it, in the caller's
    transaction. Raises DiscoveryRefused, or InspectionFailed (nothing is created)."""
    if not settings.discovery_enabled or not settings.discovery_driver:
        raise DiscoveryRefused("auto-discovery is disabled")
    driver = settings.discovery_driver
    try:
        interfaces = interfaces_for(driver)
    except ValueError as exc:
        raise DiscoveryRefused(f"[auto_discovery] driver {driver}: {exc}") from None
    now = utcnow()
    node = nodes.insert(conn, {
        "uuid": str(uuid.uuid4()), "driver": driver, "driver_info": {},
        "driver_internal_info": {}, "instance_info": {}, "properties": {}, "extra": {},
        "network_data": {}, "traits": [], "provision_state": states.ENROLL,
        "maintenance": False, "console_enabled": False, "clean_step": {},
        "deploy_step": {}, "raid_config": {}, "target_raid_config": {}, "protected": False,
        "retired": False, "revision": 0, "created_at": now,
        "conductor_group": conductor_group, "resource_class": resource_class,
        "inspection_started_at": now, **interfaces,
    })
    # Ironic's (and ironic-inspector's) flag for nodes found this way.
    plugin_data: dict[str, Any] = {**received.plugin_data, "auto_discovered": True}
    stored.store_inventory(conn, node.id, received.inventory, plugin_data)
    values = process(conn, node, settings, interfaces_for)
    values["inspection_finished_at"] = utcnow()
    nodes.update(conn, node.id, values)
    LOG.info("Enrolled discovered node %s (driver %s, MACs %s)", node.uuid,
             values.get("driver", driver), ", ".join(valid_macs(received.inventory)))
    found = nodes.get_by_id(conn, node.id)
    assert found is not None
    return found
