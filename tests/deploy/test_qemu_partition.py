"""Partition images deployed to qemu-vm nodes by ingot's own ramdisk, booted from disk.

The image (tests/servers/partition_image.py) is a Debian root with GRUB and the test OS
kernel and initramfs in /boot. The agent partitions the virtio disk, writes the root
file system, swap, ephemeral and the config drive, then installs GRUB from the image
in a chroot; the machine then boots from its disk through GRUB and the OS prints the
config drive's hostname. BIOS: MBR with ephemeral and swap. UEFI (OVMF): GPT with an
EFI system partition. (Rebuilds with preserve_ephemeral: test_partition_images.py, on
local-vm, where they take seconds instead of minutes of TCG.)
"""

from __future__ import annotations

import hashlib
import pathlib
import shutil
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ingot.ramdisk import build
from tests import factories
from tests.deploy.nodes import provision, wait_for
from tests.deploy.partitions import MIB, partitions, probe
from tests.servers.httproot import HttpRootServer
from tests.servers.ingot import IngotServer
from tests.servers.os_image import OS_MARKER
from tests.servers.partition_image import partition_image
from tests.servers.process import free_port
from tests.servers.qemu import require_qemu

pytestmark = pytest.mark.slow
DEPLOY_TIMEOUT = 600


@pytest.fixture(scope="module")
def ramdisk() -> build.Ramdisk:
    require_qemu()
    return build.build(None, iso_append=None, progress=lambda line: print(line, flush=True))


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory, ramdisk: build.Ramdisk
           ) -> Iterator[HttpRootServer]:
    root = tmp_path_factory.mktemp("partition-origin")
    shutil.copyfile(ramdisk.kernel, root / "vmlinuz")
    shutil.copyfile(ramdisk.initramfs, root / "initramfs")
    shutil.copyfile(partition_image(), root / "root.qcow2")
    with HttpRootServer(root) as server:
        yield server


@pytest.fixture(scope="module")
def qemu_ingot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IngotServer]:
    workdir = tmp_path_factory.mktemp("qemu-partition")
    (workdir / "vms").mkdir()
    api_port, http_port = free_port(), free_port()
    server = IngotServer(workdir / "ingot", options={
        "DEFAULT": {"enabled_hardware_types": "fake-hardware,qemu-vm"},
        "api": {"port": api_port},
        "deploy": {"http_port": http_port, "http_url": f"http://10.0.2.2:{http_port}"},
        "agent": {"image_download_source": "http"},
        "local_vm": {"disk_paths": workdir / "vms"},
        "conductor": {"api_url": f"http://10.0.2.2:{api_port}",
                      "check_provision_state_interval": 2},
    }).start()
    yield server
    server.stop()


def _sha256(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _serial(server: IngotServer, node: str) -> str:
    path = server.workdir / "state" / "local-vm" / f"{node}.serial"
    return path.read_text(errors="replace") if path.exists() else ""


def _node(api: httpx.Client, server: IngotServer, origin: HttpRootServer,
          ramdisk: build.Ramdisk, boot_mode: str, **instance_info: Any
          ) -> tuple[str, pathlib.Path]:
    disk = server.workdir.parent / "vms" / f"{factories.name('qemu')}.img"
    image = origin.root / "root.qcow2"
    created = api.post("/v1/nodes", json={
        "driver": "qemu-vm", "automated_clean": False,
        "properties": {"capabilities": f"boot_mode:{boot_mode}"},
        "driver_info": {
            "vm_disk": str(disk), "vm_disk_size": 5 * 1024, "vm_memory": 1024,
            "deploy_kernel": f"{origin.url}/vmlinuz",
            "deploy_kernel_checksum": _sha256(ramdisk.kernel),
            "deploy_ramdisk": f"{origin.url}/initramfs",
            "deploy_ramdisk_checksum": _sha256(ramdisk.initramfs),
            "kernel_append_params": "console=ttyS0"},
        "instance_info": {"image_source": f"{origin.url}/root.qcow2",
                          "image_checksum": _sha256(image), "image_disk_format": "qcow2",
                          "image_type": "partition", "kernel": f"{origin.url}/vmlinuz",
                          "ramdisk": f"{origin.url}/initramfs", "root_gb": 1,
                          **instance_info}})
    assert created.status_code == 201, created.text
    node = created.json()["uuid"]
    assert api.post("/v1/ports", json={"node_uuid": node, "address": factories.mac()}
                    ).status_code == 201
    provision(api, node, "manage", ("manageable",))
    assert provision(api, node, "provide", ("available",))["provision_state"] == "available"
    return node, disk


def _deploy_and_boot(api: httpx.Client, server: IngotServer, node: str, target: str,
                     hostname: str) -> float:
    """Deploy (or rebuild), then wait for the OS booted from disk to report; seconds
    from the request to the report."""
    started = time.monotonic()
    before = _serial(server, node).count(f"{OS_MARKER} done")
    body: dict[str, Any] = {"target": target}
    if target == "active":
        body["configdrive"] = {"meta_data": {"hostname": hostname},
                               "user_data": "partition-user-data"}
    response = api.put(f"/v1/nodes/{node}/states/provision", json=body)
    assert response.status_code == 202, response.text
    shown = wait_for(api, node, ("active", "deploy failed", "error"), timeout=DEPLOY_TIMEOUT)
    assert shown["provision_state"] == "active", \
        f"{shown['last_error']}\n{_serial(server, node)[-4000:]}"
    deadline = started + DEPLOY_TIMEOUT
    while _serial(server, node).count(f"{OS_MARKER} done") <= before:
        assert time.monotonic() < deadline, _serial(server, node)[-4000:]
        time.sleep(1)
    report = _serial(server, node).split("ingot-test-os: booted from its disk")[-1]
    assert f"{OS_MARKER} hostname={hostname}" in report, report
    assert f"{OS_MARKER} user_data=partition-user-data" in report, report
    # The OS powers off once it has reported.
    deadline = time.monotonic() + 60
    while api.get(f"/v1/nodes/{node}").json()["power_state"] != "power off":
        assert time.monotonic() < deadline, "the OS did not power off"
        time.sleep(1)
    return time.monotonic() - started


def test_bios_partition_image_boots_through_grub_with_swap_and_ephemeral(
        qemu_ingot: IngotServer, origin: HttpRootServer, ramdisk: build.Ramdisk) -> None:
    with qemu_ingot.client() as api:
        node, disk = _node(api, qemu_ingot, origin, ramdisk, "bios", swap_mb=32,
                           ephemeral_gb=1)
        seconds = _deploy_and_boot(api, qemu_ingot, node, "active", "bios-part-host")
        # GRUB (from the image, installed by the agent) started the kernel.
        assert "BOOT_IMAGE=/boot/vmlinuz-" in _serial(qemu_ingot, node)
        parts = partitions(disk)
        # MBR on BIOS: ephemeral, swap, root, then the config drive.
        assert [(p["type"], p["size"] * 512 // MIB) for p in parts[:3]] == \
            [("83", 1024), ("82", 32), ("83", 1024)], parts
        assert parts[2].get("bootable") is True
        assert probe(disk, parts[1]).get("TYPE") == "swap"
        assert probe(disk, parts[0]).get("LABEL") == "ephemeral0"
        print(f"\nBIOS partition image: deploy to OS report {seconds:.0f} s")


def test_uefi_partition_image_boots_through_grub_from_the_esp(
        qemu_ingot: IngotServer, origin: HttpRootServer, ramdisk: build.Ramdisk) -> None:
    with qemu_ingot.client() as api:
        node, disk = _node(api, qemu_ingot, origin, ramdisk, "uefi")
        seconds = _deploy_and_boot(api, qemu_ingot, node, "active", "uefi-part-host")
        parts = partitions(disk)
        assert parts[0]["type"] == "C12A7328-F81F-11D2-BA4B-00A0C93EC93B", parts
        esp = probe(disk, parts[0])
        assert esp.get("TYPE") == "vfat", esp
        assert "BOOT_IMAGE=/boot/vmlinuz-" in _serial(qemu_ingot, node)
        print(f"\nUEFI partition image: deploy to OS report {seconds:.0f} s")
