"""The inspection endpoints: /v1/continue_inspection, where an agent posts its
inventory, and GET /v1/nodes/{node}/inventory (API 1.81).

The inventory is checked whole before anything is written (400 naming the field);
then, in one transaction, it is stored and the node's conductor is asked to process it
(``pending_action`` continue_inspection), or, for a machine no node has and with
[auto_discovery] enabled, a node is enrolled for it.
"""

from __future__ import annotations

import functools
import hmac
import logging

from starlette.requests import Request
from starlette.responses import Response

from ingot.api import validation
from ingot.api.body import read_object
from ingot.api.context import context, version
from ingot.api.errors import (
    BadRequest,
    Conflict,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
)
from ingot.api.lookup import find_node
from ingot.api.responses import json_response
from ingot.common import states
from ingot.db import inspection as stored
from ingot.db import nodes
from ingot.drivers.hardware import default_interfaces
from ingot.inspection import discovery
from ingot.inspection.inventory import InvalidInventory, check, valid_macs
from ingot.inspection.process import InspectionFailed

LOG = logging.getLogger(__name__)

INVENTORY_MINOR = 81  # GET /v1/nodes/{node}/inventory


async def continue_inspection(request: Request) -> Response:
    ctx = context(request)
    body = await read_object(request, ctx.settings.max_body, ctx.settings.max_body_depth)
    try:
        received = check(body)
    except InvalidInventory as exc:
        raise BadRequest(str(exc)) from None
    node_uuid = request.query_params.get("node_uuid")
    if node_uuid is not None:
        node_uuid = validation.uuid_value("node_uuid", node_uuid)
    macs = valid_macs(received.inventory)
    if not macs and not node_uuid:
        raise BadRequest("No lookup information provided: no valid MAC address in "
                         "inventory/interfaces.")
    with ctx.db.write() as conn:
        if node_uuid:
            node = nodes.get_by_uuid(conn, node_uuid)
            matches = [node] if node else []
        else:
            matches = nodes.get_by_macs(conn, macs)
        if len(matches) > 1:
            raise Conflict(f"The MAC addresses {', '.join(macs)} belong to more than one "
                           f"node.")
        if not matches:
            if node_uuid:
                raise NotFound("Node could not be found.")
            enabled = ctx.settings.enabled_hardware_types
            try:
                new = discovery.enroll(
                    conn, received, ctx.inspection,
                    functools.partial(default_interfaces, enabled_names=enabled),
                    conductor_group=ctx.settings.default_conductor_group,
                    resource_class=ctx.settings.default_resource_class)
            except discovery.DiscoveryRefused as exc:
                LOG.info("Inventory from unknown MACs %s not enrolled: %s",
                         ", ".join(macs), exc)
                raise NotFound("Node could not be found.") from None
            except InspectionFailed as exc:
                raise BadRequest(f"Discovery refused: {exc}") from None
            return json_response({"uuid": new.uuid}, status=202)
        node = matches[0]
        if received.agent_token is not None and not (
                node.agent_token and hmac.compare_digest(node.agent_token.encode(),
                                                         received.agent_token.encode())):
            raise Unauthorized("Invalid or missing agent token received.")
        if node.provision_state != states.INSPECTWAIT:
            raise Conflict(f"Node {node.uuid} is not waiting for inspection data "
                           f"(provision state {node.provision_state}).")
        stored.store_inventory(conn, node.id, received.inventory, received.plugin_data)
        # Rolls the stored inventory back with it if the node moved meanwhile.
        if not nodes.update(conn, node.id, {"pending_action": "continue_inspection",
                                            "pending_args": {}},
                            provision_state=states.INSPECTWAIT, pending_action=None,
                            reservation=None):
            # A conductor holds the node for a moment (a late heartbeat, a timeout
            # check): 503, which agents retry (IPA on any 5xx).
            raise ServiceUnavailable(f"Node {node.uuid} is busy; post the inventory "
                                     f"again.")
    ctx.notify()
    return json_response({"uuid": node.uuid}, status=202)


async def get_inventory(request: Request) -> Response:
    if version(request).minor < INVENTORY_MINOR:
        raise NotFound(f"The inventory endpoint needs API version 1.{INVENTORY_MINOR} or "
                       f"later.")
    ctx = context(request)
    with ctx.db.read() as conn:
        node = find_node(conn, request.path_params["node"])
        found = stored.get_inventory(conn, node.id)
    if found is None:
        raise NotFound(f"Node {node.uuid} has no inventory: it was never inspected.")
    inventory, plugin_data = found
    return json_response({"inventory": inventory, "plugin_data": plugin_data})
