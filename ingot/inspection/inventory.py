"""The inventory an agent posts to /v1/continue_inspection, checked before anything is
stored: the fields processing reads must be there and of the right type, so a bad
inventory is refused whole (400 naming the field) instead of half applied.

The shape is ironic-python-agent's (``hardware.list_hardware_info``): ``interfaces``
(``name``, ``mac_address``, ``ipv4_address``...), ``cpu`` (``count``,
``architecture``), ``memory`` (``physical_mb``, ``total``), ``disks`` (``name``,
``size`` in bytes, ``rotational``, ``model``, ``vendor``, ``serial``, ``wwn``, ``hctl``,
``by_path``), ``boot`` (``current_boot_mode``, ``pxe_interface``), ``system_vendor``,
``bmc_address``. Everything else of the body is plugin data (``root_disk``,
``boot_interface``, ``configuration``, ``error``...), stored as it came.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

_MAC = re.compile(r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$")
BOOT_MODES = ("bios", "uefi")


class InvalidInventory(ValueError):
    """The inventory lacks a field or has one of the wrong type; the message names it."""


@dataclasses.dataclass(frozen=True, slots=True)
class Received:
    inventory: dict[str, Any]
    plugin_data: dict[str, Any]
    # The agent's token if it sent one (ingot's agent, which got it at boot).
    agent_token: str | None


def normalize_mac(value: str) -> str:
    """aa:bb:cc:dd:ee:ff from the forms agents and PXE write (01-aa-bb-..., AA-BB-...)."""
    mac = value.strip().lower()
    if re.fullmatch(r"01-([0-9a-f]{2}-){5}[0-9a-f]{2}", mac):
        mac = mac[3:]
    return mac.replace("-", ":")


def _object(parent: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = parent.get(key)
    if not isinstance(value, dict):
        raise InvalidInventory(f"{where}{key} must be an object.")
    return value


def _int(parent: dict[str, Any], key: str, where: str, *, minimum: int = 0,
         required: bool = True) -> int | None:
    value = parent.get(key)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidInventory(f"{where}{key} must be an integer of at least {minimum}.")
    return value


def _str(parent: dict[str, Any], key: str, where: str, *, required: bool = False) -> None:
    value = parent.get(key)
    if value is None and not required:
        return
    if not isinstance(value, str) or (required and not value):
        raise InvalidInventory(f"{where}{key} must be a string.")


def check(body: dict[str, Any]) -> Received:
    """Split a continue_inspection body into its checked inventory and plugin data."""
    data = dict(body)
    token = data.pop("agent_token", None)
    if token is not None and not isinstance(token, str):
        raise InvalidInventory("agent_token must be a string.")
    inventory = data.pop("inventory", None)
    if not isinstance(inventory, dict):
        raise InvalidInventory("inventory must be an object.")
    _interfaces(inventory)
    cpu = _object(inventory, "cpu", "inventory/")
    _int(cpu, "count", "inventory/cpu/", minimum=1)
    _str(cpu, "architecture", "inventory/cpu/", required=True)
    memory = _object(inventory, "memory", "inventory/")
    physical = _int(memory, "physical_mb", "inventory/memory/", required=False)
    total = _int(memory, "total", "inventory/memory/", required=False)
    if not physical and not total:
        raise InvalidInventory("inventory/memory needs physical_mb or total.")
    _disks(inventory)
    boot = inventory.get("boot")
    if boot is not None:
        if not isinstance(boot, dict):
            raise InvalidInventory("inventory/boot must be an object.")
        mode = boot.get("current_boot_mode")
        if mode is not None and mode not in BOOT_MODES:
            raise InvalidInventory(f"inventory/boot/current_boot_mode must be one of "
                                   f"{', '.join(BOOT_MODES)}.")
        _str(boot, "pxe_interface", "inventory/boot/")
    vendor = inventory.get("system_vendor")
    if vendor is not None and not isinstance(vendor, dict):
        raise InvalidInventory("inventory/system_vendor must be an object.")
    for key in ("bmc_address", "bmc_v6address", "bmc_mac"):
        _str(inventory, key, "inventory/")
    return Received(inventory, data, token)


def _interfaces(inventory: dict[str, Any]) -> None:
    interfaces = inventory.get("interfaces")
    if not isinstance(interfaces, list) or not interfaces:
        raise InvalidInventory("inventory/interfaces must be a list of at least one "
                               "interface.")
    for index, interface in enumerate(interfaces):
        where = f"inventory/interfaces/{index}/"
        if not isinstance(interface, dict):
            raise InvalidInventory(f"inventory/interfaces/{index} must be an object.")
        _str(interface, "name", where)
        mac = interface.get("mac_address")
        if not isinstance(mac, str):
            raise InvalidInventory(f"{where}mac_address must be a string.")
        for key in ("ipv4_address", "ipv6_address"):
            _str(interface, key, where)


def _disks(inventory: dict[str, Any]) -> None:
    disks = inventory.get("disks")
    if not isinstance(disks, list):
        raise InvalidInventory("inventory/disks must be a list.")
    for index, disk in enumerate(disks):
        where = f"inventory/disks/{index}/"
        if not isinstance(disk, dict):
            raise InvalidInventory(f"inventory/disks/{index} must be an object.")
        _str(disk, "name", where, required=True)
        _int(disk, "size", where)
        for key in ("model", "vendor", "serial", "wwn", "hctl", "by_path"):
            _str(disk, key, where)


def valid_macs(inventory: dict[str, Any]) -> list[str]:
    """The interfaces' MACs that are MACs (agents report some odd ones, as Ironic
    ignores them), normalized, in inventory order."""
    found: list[str] = []
    for interface in inventory["interfaces"]:
        mac = normalize_mac(interface["mac_address"])
        if _MAC.match(mac) and mac != "00:00:00:00:00:00" and mac not in found:
            found.append(mac)
    return found


def pxe_mac(inventory: dict[str, Any], plugin_data: dict[str, Any]) -> str | None:
    """The MAC of the interface the machine booted from, if the agent says."""
    boot = inventory.get("boot") or {}
    for raw in (boot.get("pxe_interface"), plugin_data.get("boot_interface")):
        if isinstance(raw, str) and raw:
            mac = normalize_mac(raw)
            if _MAC.match(mac):
                return mac
            # Some agents name the interface instead of its MAC.
            for interface in inventory["interfaces"]:
                if interface.get("name") == raw:
                    return normalize_mac(interface["mac_address"])
    return None
