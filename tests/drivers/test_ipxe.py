"""drivers/ipxe.py checks without a boot: the boot files' references and the boot mode."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import pytest

from ingot.db.models import Node
from ingot.drivers.interfaces import InvalidParameter, MissingParameter
from ingot.drivers.ipxe import IpxeBootInterface, boot_mode
from ingot.drivers.settings import AgentSettings, DriverSettings
from tests.factories import node_row

DIGEST = hashlib.sha256(b"kernel").hexdigest()
FILES = {"deploy_kernel": "http://boot.example.com/k", "deploy_kernel_checksum": DIGEST,
         "deploy_ramdisk": str(uuid.uuid4())}  # a Glance image needs no checksum


def _node(driver_info: dict[str, Any], **values: Any) -> Node:
    row = node_row(driver="qemu-vm", driver_info=driver_info, **values)
    fields: dict[str, Any] = {key: row.get(key) for key in Node.__dataclass_fields__
                              if key != "id"}
    return Node(id=1, **fields)


def test_boot_files_are_checked_naming_the_field() -> None:
    boot, settings = IpxeBootInterface(), DriverSettings()
    boot.validate(_node(FILES), settings)
    with pytest.raises(MissingParameter, match="driver_info is missing deploy_ramdisk"):
        boot.validate(_node({**FILES, "deploy_ramdisk": ""}), settings)
    without = {key: value for key, value in FILES.items() if key != "deploy_kernel_checksum"}
    with pytest.raises(MissingParameter, match="driver_info deploy_kernel_checksum is "
                                               "required for a deploy_kernel that is not a "
                                               "Glance image"):
        boot.validate(_node(without), settings)
    with pytest.raises(InvalidParameter, match=r"driver_info deploy_ramdisk: .*'ftp'"):
        boot.validate(_node({**FILES, "deploy_ramdisk": "ftp://boot.example.com/r"}),
                      settings)


def test_md5_boot_file_checksums_follow_the_agent_setting() -> None:
    md5 = {**FILES, "deploy_kernel_checksum": hashlib.md5(b"kernel").hexdigest()}
    with pytest.raises(InvalidParameter, match="MD5"):
        IpxeBootInterface().validate(_node(md5), DriverSettings())
    allowed = DriverSettings(agent=AgentSettings(allow_md5=True))
    IpxeBootInterface().validate(_node(md5), allowed)


@pytest.mark.parametrize(("instance_info", "capabilities", "mode"), [
    ({}, "", "bios"),
    ({}, "cpu_vt:true, boot_mode:uefi", "uefi"),
    ({"deploy_boot_mode": "bios"}, "boot_mode:uefi", "bios"),  # the deploy's choice wins
])
def test_boot_mode(instance_info: dict[str, Any], capabilities: str, mode: str) -> None:
    node = _node(FILES, instance_info=instance_info,
                 properties={"capabilities": capabilities})
    assert boot_mode(node) == mode


def test_unknown_boot_mode_is_refused() -> None:
    with pytest.raises(InvalidParameter, match="boot mode 'legacy' is not bios or uefi"):
        boot_mode(_node(FILES, instance_info={"deploy_boot_mode": "legacy"}))
