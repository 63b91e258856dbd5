"""Disks and NICs read from a /sys laid out as the kernel does."""

from __future__ import annotations

import os
import pathlib

from ingot.agent.disks import Disk, list_disks
from ingot.agent.nics import Nic, physical_nics


def _disk(sys_block: pathlib.Path, name: str, sectors: int, **files: str) -> pathlib.Path:
    path = sys_block / name
    (path / "queue").mkdir(parents=True)
    (path / "device").mkdir()
    (path / "size").write_text(f"{sectors}\n")
    (path / "removable").write_text(files.pop("removable", "0") + "\n")
    (path / "queue" / "rotational").write_text(files.pop("rotational", "1") + "\n")
    for relative, text in files.items():
        target = path / relative.replace("__", "/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text + "\n")
    return path


def test_disks_with_their_properties(tmp_path: pathlib.Path) -> None:
    sys_block, dev = tmp_path / "block", tmp_path / "dev"
    _disk(sys_block, "vda", 16777216, serial="root-disk", rotational="0")
    sda = _disk(sys_block, "sda", 2 * 16777216, device__model="QEMU HARDDISK   ",
                device__vendor="ATA", wwid="naa.5000c500")
    (sda / "device" / "scsi_device" / "2:0:0:0").mkdir(parents=True)
    for skipped in ("loop0", "sr0", "ram0", "dm-0"):
        _disk(sys_block, skipped, 1024)
    _disk(sys_block, "sdb", 1024, removable="1")  # a USB stick
    _disk(sys_block, "vdb", 0)  # no medium
    (dev / "disk" / "by-path").mkdir(parents=True)
    os.symlink("../../vda", dev / "disk" / "by-path" / "pci-0000:00:04.0")

    assert list_disks(sys_block, dev) == [
        Disk("/dev/sda", 16 << 30, model="QEMU HARDDISK", vendor="ATA", wwn="naa.5000c500",
             rotational=True, hctl="2:0:0:0"),
        Disk("/dev/vda", 8 << 30, serial="root-disk", rotational=False,
             by_path=str(dev / "disk" / "by-path" / "pci-0000:00:04.0")),
    ]


def test_physical_nics_only(tmp_path: pathlib.Path) -> None:
    for name, mac, physical in (("lo", "00:00:00:00:00:00", False),
                                ("eth0", "52:54:00:AA:BB:01", True),
                                ("veth1", "52:54:00:aa:bb:02", False),
                                ("eth1", "52:54:00:aa:bb:03", True)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "address").write_text(mac + "\n")
        if physical:
            (tmp_path / name / "device").mkdir()
    assert physical_nics(tmp_path) == [Nic("eth0", "52:54:00:aa:bb:01"),
                                       Nic("eth1", "52:54:00:aa:bb:03")]
