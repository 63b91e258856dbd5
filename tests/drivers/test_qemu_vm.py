"""drivers/qemu_vm.py: the QEMU command line of a qemu-vm node."""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any

import pytest

from ingot.db.models import Node
from ingot.drivers import qemu_vm
from ingot.drivers.interfaces import InvalidParameter
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
    assert _option(argv, "-boot") == ["once=n,order=c"]


def test_no_forward_before_a_ramdisk_was_prepared(tmp_path: pathlib.Path) -> None:
    settings = DriverSettings(local_vm=LocalVmSettings(disk_paths=(tmp_path,)))
    node = _node({}, vm_disk=str(tmp_path / "disk.img"))
    argv = qemu_argv(node, "52:54:00:00:00:01", "disk", tmp_path, settings)
    assert "hostfwd" not in _option(argv, "-netdev")[0]
    assert _option(argv, "-boot") == ["c"]


def test_network_boot_once_unless_persistent(tmp_path: pathlib.Path) -> None:
    settings = DriverSettings(local_vm=LocalVmSettings(disk_paths=(tmp_path,)))
    node = _node({}, vm_disk=str(tmp_path / "disk.img"))
    once = qemu_argv(node, "52:54:00:00:00:01", "pxe", tmp_path, settings)
    assert _option(once, "-boot") == ["once=n,order=c"]  # a reboot from inside: the disk
    assert "-no-reboot" not in once
    always = qemu_argv(node, "52:54:00:00:00:01", "pxe", tmp_path, settings, persistent=True)
    assert _option(always, "-boot") == ["n"]


def test_second_disk_and_nic(tmp_path: pathlib.Path) -> None:
    settings = DriverSettings(local_vm=LocalVmSettings(disk_paths=(tmp_path,)))
    node = _node({}, vm_disk=str(tmp_path / "a.img"), vm_disk2=str(tmp_path / "b.img"),
                 vm_disk2_serial="ingot-second", vm_nic2_mac="52:54:00:AA:BB:CC")
    argv = qemu_argv(node, "52:54:00:00:00:01", "disk", tmp_path, settings)
    assert _option(argv, "-drive")[1] == f"file={tmp_path}/b.img,format=raw,if=none,id=d2"
    assert "virtio-blk-pci,drive=d2,serial=ingot-second" in _option(argv, "-device")
    assert _option(argv, "-netdev")[1] == "user,id=n1"
    assert "virtio-net-pci,netdev=n1,mac=52:54:00:aa:bb:cc" in _option(argv, "-device")


@pytest.mark.parametrize(("device", "persistent", "nic", "disk", "disk2"), [
    ("pxe", False, 0, 1, 2), ("pxe", True, 0, 1, 2), ("disk", False, 2, 0, 1)],
    ids=["pxe-once", "pxe-always", "disk"])
def test_uefi_boot_order_as_bootindex(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch,
                                      device: str, persistent: bool, nic: int, disk: int,
                                      disk2: int) -> None:
    # OVMF ignores -boot and would start a deployed ESP before the NIC: bootindex rules.
    monkeypatch.setattr(qemu_vm, "OVMF_VARS", tmp_path / "vars.fd")
    (tmp_path / "vars.fd").write_bytes(b"")
    settings = DriverSettings(local_vm=LocalVmSettings(disk_paths=(tmp_path,)))
    node = dataclasses.replace(
        _node({}, vm_disk=str(tmp_path / "a.img"), vm_disk2=str(tmp_path / "b.img"),
              vm_nic2_mac="52:54:00:aa:bb:cc"),
        properties={"capabilities": "boot_mode:uefi"})
    argv = qemu_argv(node, "52:54:00:00:00:01", device, tmp_path, settings,
                     persistent=persistent)
    assert _option(argv, "-boot") == []
    assert _option(argv, "-drive")[:2] == [f"file={tmp_path}/a.img,format=raw,if=none,id=d0",
                                           f"file={tmp_path}/b.img,format=raw,if=none,id=d2"]
    assert _option(argv, "-device") == [
        f"virtio-net-pci,netdev=n0,mac=52:54:00:00:00:01,bootindex={nic}",
        f"virtio-blk-pci,drive=d0,bootindex={disk}",
        f"virtio-blk-pci,drive=d2,bootindex={disk2}",
        "virtio-net-pci,netdev=n1,mac=52:54:00:aa:bb:cc"]  # not a boot NIC


@pytest.mark.parametrize(("info", "field"), [
    ({"vm_disk2": "relative.img"}, "vm_disk2"),
    ({"vm_disk2": "/elsewhere/b.img"}, "vm_disk2"),
    ({"vm_disk2_size": "big"}, "vm_disk2_size"),
    ({"vm_disk2_serial": "has space"}, "vm_disk2_serial"),
    ({"vm_nic2_mac": "not-a-mac"}, "vm_nic2_mac")])
def test_bad_second_devices_named(tmp_path: pathlib.Path, info: dict[str, str],
                                  field: str) -> None:
    settings = DriverSettings(local_vm=LocalVmSettings(disk_paths=(tmp_path,)))
    info = {"vm_disk2": str(tmp_path / "b.img"), **info}
    node = _node({}, vm_disk=str(tmp_path / "a.img"), **info)
    with pytest.raises(InvalidParameter, match=f"driver_info {field} "):
        qemu_argv(node, "52:54:00:00:00:01", "disk", tmp_path, settings)


@pytest.mark.parametrize(("accel", "capabilities", "machine"), [
    ("tcg", "", "pc,accel=tcg"), ("kvm", "", "pc,accel=kvm"),
    ("kvm", "boot_mode:uefi", "q35,accel=kvm")])
def test_accelerator_from_the_option(tmp_path: pathlib.Path, accel: str, capabilities: str,
                                     machine: str) -> None:
    settings = DriverSettings(local_vm=LocalVmSettings(disk_paths=(tmp_path,),
                                                       qemu_accel=accel))
    node = dataclasses.replace(_node({}, vm_disk=str(tmp_path / "a.img")),
                               properties={"capabilities": capabilities})
    argv = qemu_argv(node, "52:54:00:00:00:01", "disk", tmp_path, settings)
    assert _option(argv, "-machine") == [machine]


def test_kvm_without_a_usable_device_is_refused(tmp_path: pathlib.Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(qemu_vm, "KVM_DEVICE", str(tmp_path / "no-kvm"))
    settings = DriverSettings(local_vm=LocalVmSettings(disk_paths=(tmp_path,),
                                                       qemu_accel="kvm"))
    node = _node({}, vm_disk=str(tmp_path / "a.img"))
    with pytest.raises(InvalidParameter, match=r"qemu_accel is kvm, but /dev/kvm"):
        qemu_vm.QemuPower().validate(node, settings)
    qemu_vm.QemuPower().validate(node, dataclasses.replace(
        settings, local_vm=LocalVmSettings(disk_paths=(tmp_path,))))  # tcg: fine
