"""How a node looks in API responses at each microversion, with secrets masked."""

from __future__ import annotations

import datetime
from collections.abc import Collection, Iterable
from typing import Any

from ingot.api.errors import BadRequest, NotAcceptable
from ingot.common.redaction import MASK, redact, redact_text
from ingot.db.models import Node

# Minor version that introduced each versioned field (Ironic's VERSIONED_FIELDS).
FIELD_VERSIONS: dict[str, int] = {
    "driver_internal_info": 3, "name": 5, "inspection_finished_at": 6,
    "inspection_started_at": 6, "clean_step": 7, "raid_config": 12,
    "target_raid_config": 12, "network_interface": 20, "resource_class": 21,
    "boot_interface": 31, "console_interface": 31, "deploy_interface": 31,
    "inspect_interface": 31, "management_interface": 31, "power_interface": 31,
    "raid_interface": 31, "vendor_interface": 31, "storage_interface": 33,
    "traits": 37, "rescue_interface": 38, "bios_interface": 40, "fault": 42,
    "deploy_step": 44, "conductor_group": 46, "automated_clean": 47, "protected": 48,
    "protected_reason": 48, "conductor": 49, "owner": 50, "description": 51,
    "allocation_uuid": 52, "retired": 61, "retired_reason": 61, "lessee": 65,
    "network_data": 66,
}

# Every field of a node in Ironic's order; links/ports/states are added separately.
DETAIL_FIELDS = (
    "uuid", "created_at", "updated_at", "automated_clean", "bios_interface",
    "boot_interface", "clean_step", "conductor_group", "console_enabled",
    "console_interface", "deploy_interface", "deploy_step", "description", "driver",
    "driver_info", "driver_internal_info", "extra", "fault", "inspection_finished_at",
    "inspection_started_at", "inspect_interface", "instance_info", "instance_uuid",
    "last_error", "lessee", "maintenance", "maintenance_reason", "management_interface",
    "name", "network_data", "network_interface", "owner", "power_interface", "power_state",
    "properties", "protected", "protected_reason", "provision_state",
    "provision_updated_at", "raid_config", "raid_interface", "rescue_interface",
    "reservation", "resource_class", "retired", "retired_reason", "storage_interface",
    "target_power_state", "target_provision_state", "target_raid_config", "traits",
    "vendor_interface", "conductor", "allocation_uuid", "chassis_uuid",
)
LIST_FIELDS = ("uuid", "instance_uuid", "maintenance", "power_state", "provision_state",
               "name")
_ALL = frozenset(DETAIL_FIELDS)


def fields_at(minor: int, names: Iterable[str]) -> tuple[str, ...]:
    return tuple(name for name in names if FIELD_VERSIONS.get(name, 1) <= minor)


def parse_fields(raw: str | None, minor: int) -> tuple[str, ...] | None:
    """The ``fields`` query parameter: unknown names are a 400, too new ones a 406."""
    if raw is None:
        return None
    if minor < 8:
        raise NotAcceptable("The fields parameter needs API version 1.8 or later.")
    names = tuple(dict.fromkeys(name.strip() for name in raw.split(",") if name.strip()))
    unknown = [name for name in names if name not in _ALL]
    if unknown:
        raise BadRequest(f"Field(s) \"{', '.join(unknown)}\" are not valid.")
    too_new = [name for name in names if FIELD_VERSIONS.get(name, 1) > minor]
    if too_new:
        raise NotAcceptable(f"Field(s) \"{', '.join(too_new)}\" need a newer API version "
                            f"than 1.{minor}.")
    return names


def timestamp(value: datetime.datetime | None) -> str | None:
    return None if value is None else value.isoformat() + "+00:00"


def masked(info: dict[str, Any]) -> dict[str, Any]:
    """driver_info, instance_info, ... as every answer shows them (ingot.common.redaction)."""
    result: dict[str, Any] = redact(info) if info else {}
    return result


def internal_info_view(node: Node) -> dict[str, Any]:
    info = masked(node.driver_internal_info)
    if node.agent_url:
        info["agent_url"] = node.agent_url
    if node.agent_version:
        info["agent_version"] = node.agent_version
    if node.agent_last_heartbeat:
        info["agent_last_heartbeat"] = timestamp(node.agent_last_heartbeat)
    if node.agent_token:
        info["agent_secret_token"] = MASK
    if node.agent_progress:
        info["agent_progress"] = redact(node.agent_progress)
    return info


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
        "links": _links(base, "nodes", node.uuid),
    }


def _links(base: str, kind: str, ident: str, suffix: str = "") -> list[dict[str, str]]:
    return [{"href": f"{base}/v1/{kind}/{ident}{suffix}", "rel": "self"},
            {"href": f"{base}/{kind}/{ident}{suffix}", "rel": "bookmark"}]


def node_view(node: Node, minor: int, base: str, fields: Collection[str] | None = None,
              *, conductor: str | None = None, detail: bool = True) -> dict[str, Any]:
    """The node as the API shows it. fields limits the output (plus links)."""
    if fields is None:
        names = fields_at(minor, DETAIL_FIELDS if detail else LIST_FIELDS)
        full = detail
    else:
        names = tuple(fields)
        full = False
    out: dict[str, Any] = {}
    for name in names:
        out[name] = _value(node, name, conductor)
    out["links"] = _links(base, "nodes", node.uuid)
    if full:
        out["ports"] = _links(base, "nodes", node.uuid, "/ports")
        if minor >= 14:
            out["states"] = _links(base, "nodes", node.uuid, "/states")
        if minor >= 24:
            out["portgroups"] = _links(base, "nodes", node.uuid, "/portgroups")
        if minor >= 32:
            out["volume"] = _links(base, "nodes", node.uuid, "/volume")
    return out


def _value(node: Node, name: str, conductor: str | None) -> Any:
    if name == "driver_info":
        return masked(node.driver_info)
    if name == "instance_info":
        return masked(node.instance_info)
    if name == "driver_internal_info":
        return internal_info_view(node)
    if name in ("created_at", "updated_at", "provision_updated_at", "inspection_started_at",
                "inspection_finished_at"):
        return timestamp(getattr(node, name))
    if name in ("last_error", "maintenance_reason"):
        value = getattr(node, name)
        return redact_text(value) if isinstance(value, str) else value
    if name == "traits":
        return list(node.traits)
    if name == "conductor":
        return conductor
    if name in ("allocation_uuid", "chassis_uuid"):
        return None
    return getattr(node, name)


def states_view(node: Node, minor: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "console_enabled": node.console_enabled,
        "last_error": None if node.last_error is None else redact_text(node.last_error),
        "power_state": node.power_state, "provision_state": node.provision_state,
        "target_power_state": node.target_power_state,
        "target_provision_state": node.target_provision_state,
        "provision_updated_at": timestamp(node.provision_updated_at),
    }
    if minor >= 12:
        out["raid_config"] = node.raid_config
        out["target_raid_config"] = node.target_raid_config
    return out


def links(base: str, kind: str, ident: str, suffix: str = "") -> list[dict[str, str]]:
    return _links(base, kind, ident, suffix)
