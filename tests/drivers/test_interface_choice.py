"""[DEFAULT] enabled_<kind>_interfaces and default_<kind>_interface pick a node's
interfaces as in Ironic; qemu-vm's boot device as the API reads and records it."""

from __future__ import annotations

from typing import Any

import pytest
from oslo_config import cfg

from ingot.conf import default
from ingot.db.models import Node
from ingot.drivers import hardware
from ingot.drivers.interfaces import InvalidParameter, Unsupported
from ingot.drivers.qemu_vm import QEMU_VM, QemuManagement
from ingot.drivers.settings import INTERFACE_KINDS, DriverSettings, InterfaceSettings
from tests import factories

FAKE = hardware.FAKE_HARDWARE


def test_options_become_settings() -> None:
    conf = cfg.ConfigOpts()
    default.register(conf)
    conf([], default_config_files=[])
    conf.set_override("enabled_raid_interfaces", ["no-raid"])
    conf.set_override("default_console_interface", "no-console")
    settings = InterfaceSettings.from_conf(conf, INTERFACE_KINDS)
    assert settings.allowed("raid") == ("no-raid",)
    assert settings.allowed("bios") is None  # unset: every implementation
    assert settings.default("console") == "no-console"


def test_enabled_lists_and_defaults_as_ironic() -> None:
    assert FAKE.enabled("raid") == ("fake", "no-raid")
    assert FAKE.default("raid") == "fake"
    only_no_raid = InterfaceSettings(enabled={"raid": ("no-raid", "agent")})
    assert FAKE.enabled("raid", only_no_raid) == ("no-raid",)
    assert FAKE.default("raid", only_no_raid) == "no-raid"
    with pytest.raises(InvalidParameter, match='"fake" is not supported for raid_interface'):
        FAKE.implementation("raid", "fake", only_no_raid)
    preferred = InterfaceSettings(defaults={"console": "no-console"})
    assert FAKE.implementation("console", None, preferred).name == "no-console"
    nothing = InterfaceSettings(enabled={"vendor": ("ipmitool",)})
    with pytest.raises(InvalidParameter, match="No default value found for vendor"):
        FAKE.implementation("vendor", None, nothing)
    absent_default = InterfaceSettings(defaults={"bios": "redfish"})
    assert FAKE.default("bios", absent_default) is None


def _node(**values: object) -> Node:
    row: dict[str, Any] = factories.node_row(driver="qemu-vm", **values)
    fields: dict[str, Any] = {k: row.get(k) for k in Node.__dataclass_fields__ if k != "id"}
    return Node(id=1, **fields)


def test_qemu_boot_device_is_recorded_for_its_next_start() -> None:
    management = QemuManagement()
    node = _node(driver_internal_info={})
    assert management.supported_boot_devices(node) == ("pxe", "disk")
    assert management.boot_device(node, DriverSettings()) == {"boot_device": "pxe",
                                                              "persistent": True}
    record = management.boot_device_record(node, "disk", False)
    node.driver_internal_info.update(record)
    assert management.boot_device(node, DriverSettings())["boot_device"] == "disk"
    with pytest.raises(InvalidParameter, match="Invalid boot device cdrom"):
        management.boot_device_record(node, "cdrom", False)
    with pytest.raises(Unsupported, match="does not support inject_nmi"):
        management.inject_nmi(node, DriverSettings())
    assert QEMU_VM.default("console") == "no-console"


def _fake_node(**values: object) -> Node:
    row: dict[str, Any] = factories.node_row(**values)
    fields: dict[str, Any] = {k: row.get(k) for k in Node.__dataclass_fields__ if k != "id"}
    return Node(id=1, **fields)


def test_driver_set_follows_the_nodes_interfaces() -> None:
    """Shared between nodes naming the same implementations; a node whose interface
    changed gets the new one, a node of an unknown type still fails."""
    first = hardware.driver_for(_fake_node())
    assert hardware.driver_for(_fake_node()) is first
    assert first.power.name == "fake" and first.others["raid"].name == "fake"
    changed = hardware.driver_for(_fake_node(raid_interface="no-raid"))
    assert changed.others["raid"].name == "no-raid" and changed is not first
    assert hardware.driver_for(_fake_node(raid_interface=None)).others["raid"].name == "fake"
    with pytest.raises(InvalidParameter, match='"no-such" is not supported'):
        hardware.driver_for(_fake_node(boot_interface="no-such"))
    with pytest.raises(InvalidParameter, match='Unknown hardware type "gone"'):
        hardware.driver_for(_fake_node(driver="gone"))
