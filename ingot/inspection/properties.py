"""The node properties an inventory gives, as Ironic's inspection sets them: cpus,
cpu_arch, memory_mb, local_gb (the root disk, less 1 GiB for partitioning) and the
boot_mode capability.

The root disk is chosen by the agent's own rule (ingot/agent/root_device.py: the
node's root device hints, or the smallest disk of at least 4 GiB), so the disk
local_gb describes is the one a deploy will write to.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ingot.agent.disks import Disk
from ingot.agent.root_device import GiB, InvalidHints, NoRootDevice, choose

_DISK_FIELDS = ("model", "vendor", "serial", "wwn", "hctl", "by_path")


def inventory_disks(inventory: Mapping[str, Any]) -> list[Disk]:
    disks = []
    for raw in inventory["disks"]:
        strings = {key: str(raw.get(key) or "") for key in _DISK_FIELDS}
        disks.append(Disk(name=raw["name"], size=int(raw["size"]),
                          rotational=bool(raw.get("rotational", True)), **strings))
    # As the agent lists them: by name (root_device.choose takes the first match).
    return sorted(disks, key=lambda disk: disk.name)


def root_disk(inventory: Mapping[str, Any], hints: Any) -> tuple[Disk | None, str | None]:
    """The disk a deploy would use, or None and why not."""
    try:
        return choose(inventory_disks(inventory),
                      hints if isinstance(hints, Mapping) else None), None
    except (NoRootDevice, InvalidHints) as exc:
        return None, str(exc)


def parse_capabilities(value: Any) -> dict[str, str]:
    """Ironic's "key:value,key2:value2" capabilities string (a dict is taken as is)."""
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    found: dict[str, str] = {}
    for item in str(value or "").split(","):
        key, sep, val = item.partition(":")
        if sep and key.strip():
            found[key.strip()] = val.strip()
    return found


def format_capabilities(capabilities: Mapping[str, str]) -> str:
    return ",".join(f"{key}:{value}" for key, value in capabilities.items())


def from_inventory(inventory: Mapping[str, Any], properties: Mapping[str, Any], *,
                   partitioning_spacing: bool = True) -> tuple[dict[str, Any], Disk | None]:
    """The node's properties updated from the inventory, and the root disk chosen."""
    result = dict(properties)
    cpu, memory = inventory["cpu"], inventory["memory"]
    result["cpus"] = cpu["count"]
    result["cpu_arch"] = cpu["architecture"]
    result["memory_mb"] = memory.get("physical_mb") or memory["total"] // (1 << 20)
    disk, _reason = root_disk(inventory, properties.get("root_device"))
    if disk is None:
        result["local_gb"] = 0
    else:
        size = disk.size // GiB
        result["local_gb"] = max(size - 1, 0) if partitioning_spacing else size
    mode = (inventory.get("boot") or {}).get("current_boot_mode")
    if mode:
        capabilities = parse_capabilities(properties.get("capabilities"))
        capabilities["boot_mode"] = mode
        result["capabilities"] = format_capabilities(capabilities)
    return result, disk
