"""How a node looks in API responses at each microversion, with secrets masked."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from ingot.api.fields import links, timestamp
from ingot.api.node_fields import NODE
from ingot.common import states
from ingot.common.redaction import redact, redact_text
from ingot.db.models import Node, PartialNode

# What an agent reads from its lookup (IPA: root device hints and disk erasure
# settings). The image, its URLs and the config drive reach it in its commands; the
# lookup needs no login, so it shows nothing else.
_AGENT_INSTANCE_INFO = ("root_device", "capabilities", "image_type", "deploy_boot_mode")
_AGENT_INTERNAL_INFO = ("agent_enable_ata_secure_erase", "agent_continue_if_ata_erase_failed",
                        "agent_enable_nvme_secure_erase",
                        "agent_continue_if_secure_erase_failed", "agent_erase_skip_read_only",
                        "disk_erasure_concurrency")


def lookup_view(node: Node, base: str) -> dict[str, Any]:
    """The node as GET /v1/lookup shows it to an agent (no login)."""
    return {
        "uuid": node.uuid,
        "properties": redact(node.properties),
        "instance_info": redact({key: node.instance_info[key] for key in _AGENT_INSTANCE_INFO
                                 if key in node.instance_info}),
        "driver_internal_info": redact({key: node.driver_internal_info[key]
                                        for key in _AGENT_INTERNAL_INFO
                                        if key in node.driver_internal_info}),
        "links": links(base, "nodes", node.uuid),
    }


def provision_state_at(state: str, minor: int) -> str | None:
    """The state's name at an older version, as Ironic renames them: before 1.2
    `available` was no state at all, before 1.39 `inspect wait` was `inspecting`."""
    if minor < 2 and state == states.AVAILABLE:
        return None
    if minor < 39 and state == states.INSPECTWAIT:
        return states.INSPECTING
    return state


def node_view(node: Node | PartialNode, minor: int, base: str,
              fields: Collection[str] | None = None, *, conductor: str | None = None,
              detail: bool = True) -> dict[str, Any]:
    """The node as the API shows it. fields limits the output (plus links)."""
    names = NODE.names_at(minor, detail) if fields is None else tuple(fields)
    out = NODE.view(node, names)
    if "provision_state" in out:
        out["provision_state"] = provision_state_at(node.provision_state, minor)
    if "conductor" in out:
        out["conductor"] = conductor
    out["links"] = links(base, "nodes", node.uuid)
    if fields is None and detail:
        out["ports"] = links(base, "nodes", node.uuid, "/ports")
        if minor >= 14:
            out["states"] = links(base, "nodes", node.uuid, "/states")
        if minor >= 24:
            out["portgroups"] = links(base, "nodes", node.uuid, "/portgroups")
        if minor >= 32:
            out["volume"] = links(base, "nodes", node.uuid, "/volume")
    return out


def states_view(node: Node, minor: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "console_enabled": node.console_enabled,
        "last_error": None if node.last_error is None else redact_text(node.last_error),
        "power_state": node.power_state,
        "provision_state": provision_state_at(node.provision_state, minor),
        "target_power_state": node.target_power_state,
        "target_provision_state": node.target_provision_state,
        "provision_updated_at": timestamp(node.provision_updated_at),
    }
    if minor >= 12:
        out["raid_config"] = node.raid_config
        out["target_raid_config"] = node.target_raid_config
    if minor >= 75:
        out["boot_mode"] = node.boot_mode
        out["secure_boot"] = node.secure_boot
    return out
