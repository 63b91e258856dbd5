"""Inventories as agents post them, for the tests."""

from __future__ import annotations

import copy
from typing import Any

GIB = 1 << 30
# GET /v1/nodes/{node}/inventory needs API 1.81.
INVENTORY = {"X-OpenStack-Ironic-API-Version": "1.81"}


def inventory(macs: list[str], *, pxe: str | None = None,
              disks: list[tuple[str, int]] | None = None) -> dict[str, Any]:
    """A two-NIC, two-disk machine shaped like ironic-python-agent's inventory."""
    return copy.deepcopy({
        "inventory": {
            "interfaces": [{"name": f"eth{i}", "mac_address": mac,
                            "ipv4_address": f"192.0.2.{10 + i}" if i == 0 else None,
                            "has_carrier": True}
                           for i, mac in enumerate(macs)],
            "cpu": {"count": 4, "architecture": "x86_64", "model_name": "Test CPU"},
            "memory": {"total": 8 * GIB - 200 * (1 << 20), "physical_mb": 8192},
            "disks": [{"name": name, "size": size, "rotational": False,
                       "model": "test disk", "serial": f"serial-{name[-3:]}"}
                      for name, size in (disks or [("/dev/vda", 20 * GIB),
                                                   ("/dev/vdb", 10 * GIB)])],
            "boot": {"current_boot_mode": "uefi", "pxe_interface": pxe},
            "system_vendor": {"manufacturer": "ingot", "product_name": "test machine",
                              "serial_number": "1234"},
            "bmc_address": "0.0.0.0",
        },
        "root_disk": {"name": "/dev/vdb"},
        "boot_interface": pxe,
        "configuration": {"collectors": ["default"], "managers": []},
        "error": None,
    })
