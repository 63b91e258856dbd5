"""Partition images deployed to qemu-vm nodes by ingot's own ramdisk, booted from disk.

The image (tests/servers/partition_image.py) is a Debian root with GRUB and the test OS
kernel and initramfs in /boot. The agent partitions the virtio disk, writes the root
file system, swap, ephemeral and the config drive, then installs GRUB from the image
in a chroot; the machine then boots from its disk through GRUB and the OS prints the
config drive's hostname, and the marker files it finds on the ephemeral and root file
systems before writing its own. BIOS: MBR with ephemeral and swap, then a rebuild with
preserve_ephemeral on the same machine: the OS finds the first boot's marker on the
ephemeral partition and none on the new root. UEFI (OVMF): GPT with an EFI system
partition.
"""

from __future__ import annotations

import pathlib
import shutil
import time
from typing import Any

import httpx
import pytest

from ingot.demo.os_image import OS_MARKER
from ingot.ramdisk import build
from tests.deploy.nodes import wait_for
from tests.deploy.partitions import MIB, partitions, probe
from tests.deploy.qemu import (
    DEPLOY_TIMEOUT,
    agent_node,
    make_available,
    new_disk,
    os_reports,
    serial,
    sha256,
    wait_os_report,
    wait_power_off,
)
from tests.servers.httproot import HttpRootServer
from tests.servers.ingot import IngotServer
from tests.servers.partition_image import partition_image

pytestmark = pytest.mark.slow
GRUB_BOOT = "BOOT_IMAGE=/boot/vmlinuz-"


@pytest.fixture(scope="module")
def image(agent_origin: HttpRootServer) -> str:
    """The partition image's name on the origin."""
    shutil.copyfile(partition_image(), agent_origin.root / "root.qcow2")
    return "root.qcow2"


def _node(api: httpx.Client, server: IngotServer, origin: HttpRootServer,
          ramdisk: build.Ramdisk, image: str, boot_mode: str, **instance_info: Any
          ) -> tuple[str, pathlib.Path]:
    disk = new_disk(server, "part")
    node = agent_node(api, origin, ramdisk, {"vm_disk": str(disk)},
                      properties={"capabilities": f"boot_mode:{boot_mode}"},
                      instance_info={
                          "image_source": f"{origin.url}/{image}",
                          "image_checksum": sha256(origin.root / image),
                          "image_disk_format": "qcow2", "image_type": "partition",
                          "kernel": f"{origin.url}/vmlinuz",
                          "ramdisk": f"{origin.url}/initramfs", "root_gb": 1,
                          **instance_info})
    make_available(api, node)
    return node, disk


def _deploy_and_boot(api: httpx.Client, server: IngotServer, node: str, target: str,
                     hostname: str) -> tuple[float, str]:
    """Deploy (or rebuild) with a config drive naming hostname, then wait for the OS
    booted from disk to report it; seconds from the request, and the report."""
    started = time.monotonic()
    before = os_reports(server, node)
    grub_boots = serial(server, node).count(GRUB_BOOT)
    response = api.put(f"/v1/nodes/{node}/states/provision", json={
        "target": target, "configdrive": {"meta_data": {"hostname": hostname},
                                          "user_data": "partition-user-data"}})
    assert response.status_code == 202, response.text
    shown = wait_for(api, node, ("active", "deploy failed", "error"), timeout=DEPLOY_TIMEOUT)
    assert shown["provision_state"] == "active", \
        f"{shown['last_error']}\n{serial(server, node)[-4000:]}"
    report = wait_os_report(server, node, before, started + DEPLOY_TIMEOUT)
    assert f"{OS_MARKER} hostname={hostname}" in report, report
    assert f"{OS_MARKER} user_data=partition-user-data" in report, report
    # GRUB (from the image, installed by the agent) started the kernel.
    assert serial(server, node).count(GRUB_BOOT) > grub_boots
    wait_power_off(api, node)  # the OS powers off once it has reported
    return time.monotonic() - started, report


def test_bios_partition_image_with_swap_and_ephemeral_then_rebuild_keeping_ephemeral(
        agent_ingot: IngotServer, agent_origin: HttpRootServer, ramdisk: build.Ramdisk,
        image: str) -> None:
    with agent_ingot.client() as api:
        node, disk = _node(api, agent_ingot, agent_origin, ramdisk, image, "bios",
                           swap_mb=32, ephemeral_gb=1)
        seconds, report = _deploy_and_boot(api, agent_ingot, node, "active", "first-host")
        print(f"\nBIOS partition image: deploy to OS report {seconds:.0f} s")
        # A new disk: no marker anywhere yet; the OS leaves one on each.
        assert f"{OS_MARKER} ephemeral0 marker=none" in report, report
        assert f"{OS_MARKER} root marker=none" in report, report
        parts = partitions(disk)
        # MBR on BIOS: ephemeral, swap, root, then the config drive.
        assert [(p["type"], p["size"] * 512 // MIB) for p in parts[:3]] == \
            [("83", 1024), ("82", 32), ("83", 1024)], parts
        assert parts[2].get("bootable") is True
        assert probe(disk, parts[1]).get("TYPE") == "swap"
        assert probe(disk, parts[0]).get("LABEL") == "ephemeral0"

        # Rebuild on the same machine, keeping the ephemeral partition: the booted OS
        # finds the first boot's marker there, and a root with none (rewritten).
        patched = api.patch(f"/v1/nodes/{node}", json=[
            {"op": "add", "path": "/instance_info/preserve_ephemeral", "value": True}])
        assert patched.status_code == 200, patched.text
        seconds, report = _deploy_and_boot(api, agent_ingot, node, "rebuild",
                                           "rebuilt-host")
        print(f"BIOS rebuild with preserve_ephemeral: to OS report {seconds:.0f} s")
        assert f"{OS_MARKER} ephemeral0 marker=first-host" in report, report
        assert f"{OS_MARKER} root marker=none" in report, report
        assert [(p["type"], p["size"] * 512 // MIB) for p in partitions(disk)[:3]] == \
            [("83", 1024), ("82", 32), ("83", 1024)]


def test_uefi_partition_image_boots_through_grub_from_the_esp(
        agent_ingot: IngotServer, agent_origin: HttpRootServer, ramdisk: build.Ramdisk,
        image: str) -> None:
    with agent_ingot.client() as api:
        node, disk = _node(api, agent_ingot, agent_origin, ramdisk, image, "uefi")
        seconds, report = _deploy_and_boot(api, agent_ingot, node, "active", "uefi-host")
        print(f"\nUEFI partition image: deploy to OS report {seconds:.0f} s")
        parts = partitions(disk)
        assert parts[0]["type"] == "C12A7328-F81F-11D2-BA4B-00A0C93EC93B", parts
        esp = probe(disk, parts[0])
        assert esp.get("TYPE") == "vfat", esp
        assert f"{OS_MARKER} ephemeral0 not mounted" in report, report
