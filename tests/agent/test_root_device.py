"""Root disk choice: Ironic's root device hints, else the smallest disk of 4 GiB or more."""

from __future__ import annotations

import pytest

from ingot.agent.disks import Disk
from ingot.agent.root_device import GiB, InvalidHints, NoRootDevice, choose

DISKS = [
    Disk("/dev/sda", 500 * GiB, model="Big Disk", vendor="ATA", serial="S1",
         wwn="0x5000c500a1b2c3d4", rotational=True, hctl="0:0:0:0",
         by_path="/dev/disk/by-path/pci-0000:00:1f.2-ata-1"),
    Disk("/dev/vda", 8 * GiB, serial="small-one", rotational=False),
    Disk("/dev/vdb", 20 * GiB, serial="data-disk", rotational=False),
    Disk("/dev/vdc", 2 * GiB, serial="tiny"),
]


def test_without_hints_the_smallest_disk_of_at_least_4_gib() -> None:
    assert choose(DISKS, None).name == "/dev/vda"
    assert choose(DISKS, {}).name == "/dev/vda"


def test_no_disk_large_enough() -> None:
    with pytest.raises(NoRootDevice, match=r"at least 4 GiB.*/dev/vdc"):
        choose([DISKS[3]], None)


@pytest.mark.parametrize(("hints", "expected"), [
    ({"serial": "data-disk"}, "/dev/vdb"),
    ({"serial": "DATA-DISK"}, "/dev/vdb"),
    ({"name": "/dev/vdb"}, "/dev/vdb"),
    ({"name": "vdb"}, "/dev/vdb"),
    ({"name": "s== /dev/sda"}, "/dev/sda"),
    ({"size": 20}, "/dev/vdb"),
    ({"size": "20"}, "/dev/vdb"),
    ({"size": ">= 100"}, "/dev/sda"),
    ({"size": "< 10", "rotational": False}, "/dev/vda"),
    ({"rotational": True}, "/dev/sda"),
    ({"rotational": "false", "size": "> 10"}, "/dev/vdb"),
    ({"model": "<in> big"}, "/dev/sda"),
    ({"serial": "<or> nope <or> data-disk"}, "/dev/vdb"),
    ({"serial": "s!= small-one", "rotational": False}, "/dev/vdb"),
    ({"wwn": "0x5000C500A1B2C3D4"}, "/dev/sda"),
    ({"vendor": "ata", "hctl": "0:0:0:0"}, "/dev/sda"),
    ({"by_path": "/dev/disk/by-path/pci-0000:00:1f.2-ata-1"}, "/dev/sda"),
    ({"size": 2}, "/dev/vdc"),  # hints may choose a disk below the 4 GiB default
])
def test_hints_choose(hints: dict[str, object], expected: str) -> None:
    assert choose(DISKS, hints).name == expected


def test_all_hints_must_match() -> None:
    with pytest.raises(NoRootDevice, match=r"no disk matches.*disks: /dev/sda"):
        choose(DISKS, {"serial": "data-disk", "size": 8})


@pytest.mark.parametrize(("hints", "message"), [
    ({"colour": "red"}, "unknown root device hint.*colour"),
    ({"size": "big"}, "size must be GiB"),
    ({"size": "=> 4"}, "size must be GiB"),
    ({"size": True}, "size must be GiB"),
    ({"rotational": "maybe"}, "rotational must be a boolean"),
    ({"serial": ""}, "serial must be a non-empty string"),
    ({"model": 5}, "model must be a non-empty string"),
])
def test_malformed_hints_are_named(hints: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidHints, match=message):
        choose(DISKS, hints)
