"""qemu-vm nodes deployed end to end with ingot's own ramdisk (TCG, real iPXE), UEFI.

The ramdisk (``ingot ramdisk build``, cached under ~/.cache/ingot/ramdisk after the
first build on a machine) boots through iPXE, its agent looks the node up and
heartbeats, picks the node's virtio disk, writes the image and the config drive, and
powers the machine off; the conductor then boots it from that disk. The image is a small
OS built from Debian's packages (ingot/demo/os_image.py) that prints the hostname and
user_data it reads from the config-2 partition on the serial console.

The BIOS deploy, of the same OS sent as qcow2 (the agent converts it with the ramdisk's
qemu-img) onto the machine's only disk, and its undeploy with cleaning (the ramdisk
boots again and erases the disk's metadata) are `ingot demo --qemu`'s
(tests/deploy/test_demo_qemu.py). The UEFI machine (q35, OVMF, iPXE's EFI driver from
ipxe-qemu) has two disks; its root device hint (the second disk's serial) overrides the
agent's default (the smallest), and it gets a raw GPT image whose EFI system partition
holds a standalone GRUB; the other disk stays blank. Its undeploy with cleaning network
boots the ramdisk again past that EFI system partition and erases the disk's metadata.

The ramdisk build, the origin serving it and the ingot are those of tests/deploy/qemu.py,
shared with test_qemu_partition.py.
"""
from __future__ import annotations

import re
import shutil
import time
from typing import Any

import httpx
import pytest

from ingot.demo.os_image import OS_MARKER
from ingot.ramdisk import build
from tests.deploy.nodes import wait_for
from tests.deploy.qemu import (
    DEPLOY_TIMEOUT,
    agent_node,
    make_available,
    new_disk,
    serial,
    sha256,
    wait_os_report,
)
from tests.servers.httproot import HttpRootServer
from tests.servers.ingot import IngotServer
from tests.servers.qemu import os_disk

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def images(agent_origin: HttpRootServer) -> HttpRootServer:
    """The whole-disk image on the shared origin: uefi.img."""
    shutil.copyfile(os_disk("uefi"), agent_origin.root / "uefi.img")
    return agent_origin


def _deploy_and_boot(api: httpx.Client, server: IngotServer, node: str, hostname: str
                     ) -> str:
    """Deploy with a config drive, wait for the OS's report; returns the serial log."""
    make_available(api, node)
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
    assert shown.get("provision_state") == "active", \
        f"{shown.get('provision_state')}: {shown.get('last_error')}\n" \
        f"{serial(server, node)[-4000:]}"
    deployed = time.monotonic() - started
    assert heartbeat is not None, "active without the agent ever heartbeating"
    assert "ingot-ramdisk: started" in serial(server, node)
    # Active: the machine was powered on from its own disk, into the deployed OS.
    report = wait_os_report(server, node, 0, deadline)
    booted = time.monotonic() - started
    assert f"{OS_MARKER} hostname={hostname}" in report, report
    assert f"{OS_MARKER} user_data=hello-from-user-data" in report, report
    print(f"\nfrom deploy request: first heartbeat {heartbeat:.0f} s, active "
          f"{deployed:.0f} s, OS report {booted:.0f} s")
    return serial(server, node)


def test_uefi_two_disks_hinted_raw_gpt_image(
        agent_ingot: IngotServer, images: HttpRootServer, ramdisk: build.Ramdisk) -> None:
    qemu_ingot, origin = agent_ingot, images
    image = origin.root / "uefi.img"
    first, second = new_disk(qemu_ingot, "uefi"), new_disk(qemu_ingot, "uefi")
    with qemu_ingot.client() as api:
        node = agent_node(api, origin, ramdisk, {
            "vm_disk": str(first), "vm_disk2": str(second), "vm_disk2_size": 6 * 1024,
            "vm_disk2_serial": "ingot-second"},
            properties={"capabilities": "boot_mode:uefi",
                        "root_device": {"serial": "ingot-second"}},
            instance_info={"image_source": f"{origin.url}/uefi.img",
                           "image_checksum": sha256(image), "image_disk_format": "raw"})
        log = _deploy_and_boot(api, qemu_ingot, node, "ingot-uefi-host")
    # The hint, not the default (the smallest disk); the guest may name it vda or vdb.
    assert re.search(r"Root disk /dev/vd[ab] \(6 GiB, hints", log), log[-3000:]
    data = image.read_bytes()
    with open(second, "rb") as written:
        written_start = written.read(len(data))
    assert written_start[512:520] == b"EFI PART"  # a GPT (its headers updated for config-2)
    assert written_start[1 << 20:] == data[1 << 20:]  # the EFI system partition as sent
    with open(first, "rb") as untouched:
        assert untouched.read(1 << 20) == bytes(1 << 20)

    # Undeploy with cleaning: the machine must network boot the ramdisk again although
    # its disk now holds an EFI system partition, which OVMF would otherwise start first.
    with qemu_ingot.client() as api:
        patched = api.patch(f"/v1/nodes/{node}", json=[
            {"op": "replace", "path": "/automated_clean", "value": True}])
        assert patched.status_code == 200, patched.text
        started = time.monotonic()
        response = api.put(f"/v1/nodes/{node}/states/provision", json={"target": "deleted"})
        assert response.status_code == 202, response.text
        shown = wait_for(api, node, ("available", "clean failed", "error"),
                         timeout=DEPLOY_TIMEOUT)
        log = serial(qemu_ingot, node)
        assert shown["provision_state"] == "available", \
            f"{shown['last_error']}\n{log[-4000:]}"
    print(f"undeploy with cleaning: {time.monotonic() - started:.0f} s")
    assert log.count("ingot-ramdisk: started") == 2, log[-4000:]  # deploy, then clean
    with open(second, "rb") as wiped:
        assert wiped.read(1 << 20) == bytes(1 << 20)  # no boot code, no GPT header
