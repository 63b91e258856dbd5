"""drivers/qemu_vm.py: the QEMU command line of a qemu-vm node."""

from __future__ import annotations

import pathlib
from typing import Any

from ingot.db.models import Node
from ingot.drivers.qemu_vm import AGENT_PORT, qemu_argv
from ingot.drivers.settings import DriverSettings, Endpoints, LocalVmSettings
from tests.factories import node_row


def _node(driver_internal_info: dict[str, Any], **driver_info: object) -> Node:
    row = node_row(driver="qemu-vm", driver_info=driver_info,
                   driver_internal_info=driver_internal_info)
    values: dict[str, Any] = {key: row.get(key) for key in Node.__dataclass_fields__
                              if key != "id"}
    return Node(id=1, **values)


def _option(argv: list[str], name: str) -> list[str]:
    return [argv[i + 1] for i, word in enumerate(argv) if word == name]


def test_agent_port_forwarded_and_serial_log_appended(tmp_path: pathlib.Path) -> None:
    settings = DriverSettings(local_vm=LocalVmSettings(disk_paths=(tmp_path,)),
                              endpoints=Endpoints(http_url="http://10.0.2.2:8080"))
    node = _node({"qemu_agent_port": 40123}, vm_disk=str(tmp_path / "a,b.img"))
    argv = qemu_argv(node, "52:54:00:00:00:01", "pxe", tmp_path / "run", settings)
    netdev, = _option(argv, "-netdev")
    assert netdev.startswith("user,id=n0,bootfile=http://10.0.2.2:8080/boot.ipxe")
    assert netdev.endswith(f",hostfwd=tcp:127.0.0.1:40123-:{AGENT_PORT}")
    chardev, = _option(argv, "-chardev")
    assert ",append=on," in chardev  # the ramdisk's log survives the reboot to disk
    assert chardev.endswith(f"path={tmp_path / 'run' / node.uuid}.serial")
    assert _option(argv, "-serial") == ["chardev:serial0"]
    drive, = _option(argv, "-drive")
    assert f"file={tmp_path}/a,,b.img," in drive  # QEMU's comma is doubled
    assert _option(argv, "-boot") == ["n"]


def test_no_forward_before_a_ramdisk_was_prepared(tmp_path: pathlib.Path) -> None:
    settings = DriverSettings(local_vm=LocalVmSettings(disk_paths=(tmp_path,)))
    node = _node({}, vm_disk=str(tmp_path / "disk.img"))
    argv = qemu_argv(node, "52:54:00:00:00:01", "disk", tmp_path, settings)
    assert "hostfwd" not in _option(argv, "-netdev")[0]
    assert _option(argv, "-boot") == ["c"]
