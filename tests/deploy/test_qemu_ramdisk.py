"""qemu-vm nodes deployed end to end with ingot's own ramdisk (TCG, real iPXE), BIOS
and UEFI.

The ramdisk (``ingot ramdisk build``, cached under ~/.cache/ingot/ramdisk after the
first build on a machine) boots through iPXE, its agent looks the node up and
heartbeats, picks the node's virtio disk, writes the image and the config drive, and
powers the machine off; the conductor then boots it from that disk. The image is a small
OS built from Debian's packages (tests/servers/os_image.py) that prints the hostname and
user_data it reads from the config-2 partition on the serial console. It is sent as
qcow2, so the agent converts it with the ramdisk's qemu-img. Undeploying with cleaning
boots the ramdisk again, which erases the disk's metadata.

The UEFI machine (q35, OVMF, iPXE's EFI driver from ipxe-qemu) has two disks; its root
device hint (the second disk's serial) overrides the agent's default (the smallest), and
it gets a raw GPT image whose EFI system partition holds a standalone GRUB; the other
disk stays blank.
"""

from __future__ import annotations

import hashlib
import pathlib
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ingot.ramdisk import build
from tests import factories
from tests.deploy.nodes import wait_for
from tests.servers.httproot import HttpRootServer
from tests.servers.ingot import IngotServer
from tests.servers.os_image import OS_MARKER, os_image, uefi_os_image
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
    root = tmp_path_factory.mktemp("ramdisk-origin")
    (root / "vmlinuz").write_bytes(ramdisk.kernel.read_bytes())
    (root / "initramfs").write_bytes(ramdisk.initramfs.read_bytes())
    shutil.copyfile(os_image(), root / "disk.img")
    shutil.copyfile(uefi_os_image(), root / "uefi.img")
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(root / "disk.img"),
                    str(root / "disk.qcow2")], check=True, timeout=60)
    with HttpRootServer(root) as server:
        yield server


@pytest.fixture(scope="module")
def qemu_ingot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IngotServer]:
    workdir = tmp_path_factory.mktemp("qemu-ramdisk")
    (workdir / "vms").mkdir()
    api_port, http_port = free_port(), free_port()
    server = IngotServer(workdir / "ingot", options={
        "DEFAULT": {"enabled_hardware_types": "fake-hardware,qemu-vm"},
        "api": {"port": api_port},
        # What the machine sees: QEMU's user network maps 10.0.2.2 to the host; the
        # image comes through this conductor's HTTP root.
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


def _deploy_and_boot(api: httpx.Client, server: IngotServer, node: str, hostname: str
                     ) -> str:
    """Deploy with a config drive, wait for the OS's report; returns the serial log."""
    for target, state in (("manage", "manageable"), ("provide", "available")):
        assert api.put(f"/v1/nodes/{node}/states/provision",
                       json={"target": target}).status_code == 202
        wait_for(api, node, (state,))
    started = time.monotonic()
    response = api.put(f"/v1/nodes/{node}/states/provision", json={
        "target": "active",
        "configdrive": {"meta_data": {"hostname": hostname},
                        "user_data": "hello-from-user-data"}})
    assert response.status_code == 202, response.text
    heartbeat = None
    deadline = started + DEPLOY_TIMEOUT
    shown: dict[str, Any] = {}
    while time.monotonic() < deadline:
        shown = api.get(f"/v1/nodes/{node}").json()
        if heartbeat is None and shown["driver_internal_info"].get("agent_url"):
            heartbeat = time.monotonic() - started
        if shown["provision_state"] in ("active", "deploy failed", "error"):
            break
        time.sleep(2)
    serial = _serial(server, node)
    assert shown.get("provision_state") == "active", \
        f"{shown.get('provision_state')}: {shown.get('last_error')}\n{serial[-4000:]}"
    deployed = time.monotonic() - started
    assert heartbeat is not None, "active without the agent ever heartbeating"
    assert "ingot-ramdisk: started" in serial
    # Active: the machine was powered on from its own disk, into the deployed OS.
    while f"{OS_MARKER} done" not in _serial(server, node):
        assert time.monotonic() < deadline, _serial(server, node)[-3000:]
        time.sleep(1)
    booted = time.monotonic() - started
    serial = _serial(server, node)
    report = serial.split("ingot-test-os: booted from its disk")[-1]
    assert f"{OS_MARKER} hostname={hostname}" in report, report
    assert f"{OS_MARKER} user_data=hello-from-user-data" in report, report
    print(f"\nfrom deploy request: first heartbeat {heartbeat:.0f} s, active "
          f"{deployed:.0f} s, OS report {booted:.0f} s")
    return serial


def _node(api: httpx.Client, origin: HttpRootServer, ramdisk: build.Ramdisk,
          driver_info: dict[str, Any], **fields: Any) -> str:
    created = api.post("/v1/nodes", json={
        "driver": "qemu-vm", "automated_clean": False,
        "driver_info": {
            "vm_disk_size": 5 * 1024, "vm_memory": 1024,
            "deploy_kernel": f"{origin.url}/vmlinuz",
            "deploy_kernel_checksum": _sha256(ramdisk.kernel),
            "deploy_ramdisk": f"{origin.url}/initramfs",
            "deploy_ramdisk_checksum": _sha256(ramdisk.initramfs),
            "kernel_append_params": "console=ttyS0", **driver_info}, **fields})
    assert created.status_code == 201, created.text
    node = str(created.json()["uuid"])
    port = api.post("/v1/ports", json={"node_uuid": node, "address": factories.mac()})
    assert port.status_code == 201, port.text
    return node


def test_deploy_with_ingots_ramdisk_then_boot_the_os_with_its_config_drive(
        qemu_ingot: IngotServer, origin: HttpRootServer, ramdisk: build.Ramdisk) -> None:
    image = origin.root / "disk.img"
    disk = qemu_ingot.workdir.parent / "vms" / f"{factories.name('qemu')}.img"
    with qemu_ingot.client() as api:
        node = _node(api, origin, ramdisk, {"vm_disk": str(disk)}, instance_info={
            "image_source": f"{origin.url}/disk.qcow2",
            "image_checksum": _sha256(origin.root / "disk.qcow2"),
            "image_disk_format": "qcow2"})
        serial = _deploy_and_boot(api, qemu_ingot, node, "ingot-e2e-host")
        assert "Root disk /dev/vda" in serial
        with open(disk, "rb") as written:
            assert written.read(440) == image.read_bytes()[:440]

        # Undeploy with cleaning: the ramdisk boots again and wipes the disk's metadata.
        patched = api.patch(f"/v1/nodes/{node}", json=[
            {"op": "replace", "path": "/automated_clean", "value": True}])
        assert patched.status_code == 200, patched.text
        started = time.monotonic()
        response = api.put(f"/v1/nodes/{node}/states/provision", json={"target": "deleted"})
        assert response.status_code == 202, response.text
        shown = wait_for(api, node, ("available", "clean failed", "error"),
                         timeout=DEPLOY_TIMEOUT)
        assert shown["provision_state"] == "available", \
            f"{shown['last_error']}\n{_serial(qemu_ingot, node)[-3000:]}"
        print(f"undeploy with cleaning: {time.monotonic() - started:.0f} s")
        with open(disk, "rb") as wiped:
            assert wiped.read(512) == bytes(512)  # no boot code, no partition table


def test_uefi_two_disks_hinted_raw_gpt_image(
        qemu_ingot: IngotServer, origin: HttpRootServer, ramdisk: build.Ramdisk) -> None:
    image = origin.root / "uefi.img"
    vms = qemu_ingot.workdir.parent / "vms"
    first, second = vms / f"{factories.name('uefi')}.img", vms / f"{factories.name('uefi')}.img"
    with qemu_ingot.client() as api:
        node = _node(api, origin, ramdisk, {
            "vm_disk": str(first), "vm_disk2": str(second), "vm_disk2_size": 6 * 1024,
            "vm_disk2_serial": "ingot-second"},
            properties={"capabilities": "boot_mode:uefi",
                        "root_device": {"serial": "ingot-second"}},
            instance_info={"image_source": f"{origin.url}/uefi.img",
                           "image_checksum": _sha256(image), "image_disk_format": "raw"})
        serial = _deploy_and_boot(api, qemu_ingot, node, "ingot-uefi-host")
    # The hint, not the default (the smallest disk); the guest may name it vda or vdb.
    assert re.search(r"Root disk /dev/vd[ab] \(6 GiB, hints", serial), serial[-3000:]
    data = image.read_bytes()
    with open(second, "rb") as written:
        written_start = written.read(len(data))
    assert written_start[512:520] == b"EFI PART"  # a GPT (its headers updated for config-2)
    assert written_start[1 << 20:] == data[1 << 20:]  # the EFI system partition as sent
    with open(first, "rb") as untouched:
        assert untouched.read(1 << 20) == bytes(1 << 20)
