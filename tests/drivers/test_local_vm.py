"""drivers/local_vm.py: which disk files a local-vm node may use, from its settings."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest

from ingot.db.models import Node
from ingot.drivers.interfaces import InvalidParameter, MissingParameter
from ingot.drivers.local_vm import disk_path, disk_size_mib, ensure_disk
from ingot.drivers.settings import DriverSettings, LocalVmSettings
from tests.factories import node_row


def _node(**driver_info: object) -> Node:
    row = node_row(driver="local-vm", driver_info=driver_info)
    values: dict[str, Any] = {key: row.get(key) for key in Node.__dataclass_fields__
                              if key != "id"}
    return Node(id=1, **values)


def _settings(allowed: pathlib.Path) -> DriverSettings:
    return DriverSettings(local_vm=LocalVmSettings(disk_paths=(allowed,),
                                                   default_disk_size=2))


def test_a_disk_inside_disk_paths_is_created_sparse(tmp_path: pathlib.Path) -> None:
    settings = _settings(tmp_path / "vms")
    disk = ensure_disk(_node(vm_disk=str(tmp_path / "vms" / "a" / "disk.img")), settings)
    assert disk.stat().st_size == 2 * 1024 * 1024
    assert disk.stat().st_blocks == 0  # sparse: nothing written yet


@pytest.mark.parametrize("where", ["outside", "escaping link"])
def test_a_disk_outside_disk_paths_is_refused(tmp_path: pathlib.Path, where: str) -> None:
    allowed = tmp_path / "vms"
    allowed.mkdir()
    disk = tmp_path / "elsewhere.img"
    if where == "escaping link":
        (allowed / "link.img").symlink_to(disk)
        disk = allowed / "link.img"
    with pytest.raises(InvalidParameter, match="outside the directories allowed"):
        disk_path(_node(vm_disk=str(disk)), _settings(allowed))


def test_disk_fields_are_checked(tmp_path: pathlib.Path) -> None:
    settings = _settings(tmp_path)
    with pytest.raises(MissingParameter, match="missing vm_disk"):
        disk_path(_node(), settings)
    with pytest.raises(InvalidParameter, match="must be an absolute path"):
        disk_path(_node(vm_disk="disk.img"), settings)
    with pytest.raises(InvalidParameter, match="vm_disk_size must be a number"):
        disk_size_mib(_node(vm_disk_size="big"), settings)
    assert disk_size_mib(_node(), settings) == 2
