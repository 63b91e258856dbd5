"""qemu-vm nodes deployed with the ``ramdisk`` deploy interface: one boots its
instance's kernel and ramdisk from Swift temporary URLs, and again after a reboot past
the first URLs' lifetime (the conductor re-renders the config before they expire);
others (BIOS, and UEFI under OVMF) boot their instance from an ISO (instance_info
boot_iso) that iPXE sanboots from ingot's HTTP root.

The instance is the Debian kernel and the busybox initramfs of tests/servers/bootfiles.py
(tests/deploy/qemu.py's busybox_files), whose /init posts /proc/cmdline to the callback
URL on its command line and powers off.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ingot.ramdisk import iso
from tests.deploy.nodes import provision, wait_for
from tests.deploy.qemu import (
    make_available,
    new_disk,
    put_in_swift,
    serial,
    sha256,
    start_ingot,
    wait_power_off,
)
from tests.servers.bootfiles import BootFiles
from tests.servers.httproot import HttpRootServer
from tests.servers.ingot import IngotServer
from tests.servers.swift import SwiftServer

pytestmark = pytest.mark.slow
BOOT_TIMEOUT = 150
URL_LIFETIME = 30  # [glance] swift_temp_url_duration: short, so a reboot outlives it


@pytest.fixture(scope="module")
def callbacks(tmp_path_factory: pytest.TempPathFactory, busybox_files: BootFiles
              ) -> Iterator[HttpRootServer]:
    """Receives the callbacks, and serves the boot files over plain HTTP too."""
    root = tmp_path_factory.mktemp("callbacks")
    shutil.copyfile(busybox_files.kernel, root / "vmlinuz")
    shutil.copyfile(busybox_files.initramfs, root / "initrd")
    with HttpRootServer(root) as server:
        yield server


@pytest.fixture(scope="module")
def in_swift(swift: SwiftServer, account_key: str, busybox_files: BootFiles
             ) -> dict[str, str]:
    return put_in_swift(swift, "instances", busybox_files)


@pytest.fixture(scope="module")
def qemu_ingot(tmp_path_factory: pytest.TempPathFactory, swift: SwiftServer,
               account_key: str) -> Iterator[IngotServer]:
    server = start_ingot(tmp_path_factory.mktemp("qemu-ramdisk-instance"),
                         pxe={"ipxe_use_swift": True},
                         glance={"swift_temp_url_duration": URL_LIFETIME,
                                 "swift_temp_url_reuse_margin": 1},
                         swift=swift.swift_options())
    yield server
    server.stop()


def _boots(callbacks: HttpRootServer, name: str, count: int, server: IngotServer,
           node: str) -> None:
    deadline = time.monotonic() + BOOT_TIMEOUT
    while len(callbacks.callbacks.get(name, [])) < count:
        if time.monotonic() > deadline:
            pytest.fail(f"boot {count} made no callback in {BOOT_TIMEOUT} s:\n"
                        f"{serial(server, node)[-3000:]}")
        time.sleep(1)


def _ramdisk_node(api: httpx.Client, server: IngotServer, callbacks: HttpRootServer,
                  files: BootFiles, instance_info: dict[str, Any],
                  boot_mode: str = "bios") -> str:
    """An available qemu-vm node with the ramdisk deploy interface (its deploy kernel
    and ramdisk, which the ipxe boot interface asks for, are never booted)."""
    created = api.post("/v1/nodes", json={
        "driver": "qemu-vm", "deploy_interface": "ramdisk", "automated_clean": False,
        "driver_info": {"vm_disk": str(new_disk(server)), "vm_disk_size": 16,
                        "deploy_kernel": f"{callbacks.url}/vmlinuz",
                        "deploy_kernel_checksum": sha256(files.kernel),
                        "deploy_ramdisk": f"{callbacks.url}/initrd",
                        "deploy_ramdisk_checksum": sha256(files.initramfs)},
        "properties": {"capabilities": f"boot_mode:{boot_mode}"},
        "instance_info": instance_info})
    assert created.status_code == 201, created.text
    node = str(created.json()["uuid"])
    make_available(api, node)
    return node


def test_ramdisk_instance_boots_from_swift_and_again_after_its_urls_expired(
        qemu_ingot: IngotServer, swift: SwiftServer, callbacks: HttpRootServer,
        busybox_files: BootFiles, in_swift: dict[str, str]) -> None:
    config_path = qemu_ingot.workdir / "state" / "httpboot"
    with qemu_ingot.client() as api:
        kernel_ref = f"swift://instances/{in_swift['kernel']}"
        ramdisk_ref = f"swift://instances/{in_swift['ramdisk']}"
        node = _ramdisk_node(api, qemu_ingot, callbacks, busybox_files, {
            "kernel": kernel_ref, "kernel_checksum": sha256(busybox_files.kernel),
            "ramdisk": ramdisk_ref, "ramdisk_checksum": sha256(busybox_files.initramfs),
            "kernel_append_params":
                f"console=ttyS0 ingot_callback={callbacks.callback_url('ri')}"})
        deployed = provision(api, node, "active", ("active", "deploy failed"))
        assert deployed["provision_state"] == "active", deployed["last_error"]
        first = deployed["driver_internal_info"]["instance_boot_urls"]
        config = (config_path / node / "config").read_text()
        assert config.count("temp_url_sig=") == 2, config
        assert not (config_path / node / "kernel").exists()  # nothing served locally
        _boots(callbacks, "ri", 1, qemu_ingot, node)
        assert "ingot_callback=" in callbacks.callbacks["ri"][0].decode()
        wait_power_off(api, node)

        # Past the first URLs' lifetime the machine boots again, from renewed URLs.
        while time.time() < first["expires"] + 2:
            time.sleep(1)
        kernel_url = re.search(r"(http\S+temp_url_sig=\S+)", config)
        assert kernel_url is not None
        expired = httpx.get(kernel_url.group(1).replace("10.0.2.2", "127.0.0.1"))
        assert expired.status_code == 401, "the first temporary URL still works"
        renewed = api.get(f"/v1/nodes/{node}").json()["driver_internal_info"]
        assert renewed["instance_boot_urls"]["expires"] > time.time(), renewed
        assert (config_path / node / "config").read_text() != config
        assert api.put(f"/v1/nodes/{node}/states/power",
                       json={"target": "power on"}).status_code == 202
        _boots(callbacks, "ri", 2, qemu_ingot, node)
        wait_power_off(api, node)

        undeployed = provision(api, node, "deleted", ("available", "error"))
        assert undeployed["provision_state"] == "available", undeployed["last_error"]
        assert not (config_path / node).exists()
        wait_for(api, node, ("available",))


@pytest.mark.parametrize("boot_mode", ["bios", "uefi"])
def test_ramdisk_instance_boots_its_iso_through_sanboot(
        qemu_ingot: IngotServer, callbacks: HttpRootServer, busybox_files: BootFiles,
        boot_mode: str) -> None:
    """instance_info boot_iso: a BIOS/UEFI ISO (grub-mkrescue) of the same kernel and
    initramfs whose GRUB passes the callback URL. ingot caches it and serves it from its
    HTTP root; iPXE sanboots it there, reading it by range requests."""
    name = f"iso-{boot_mode}"
    image = callbacks.root / f"{name}.iso"
    iso.make_iso(busybox_files.kernel, busybox_files.initramfs, image,
                 f"console=ttyS0 ingot_callback={callbacks.callback_url(name)}")
    config_path = qemu_ingot.workdir / "state" / "httpboot"
    with qemu_ingot.client() as api:
        node = _ramdisk_node(api, qemu_ingot, callbacks, busybox_files, {
            "boot_iso": f"{callbacks.url}/{name}.iso", "boot_iso_checksum": sha256(image)},
            boot_mode)
        deployed = provision(api, node, "active", ("active", "deploy failed"))
        assert deployed["provision_state"] == "active", deployed["last_error"]
        config = (config_path / node / "config").read_text()
        assert re.search(rf"sanboot --no-describe http://10\.0\.2\.2:\d+/{node}/boot_iso ",
                         config), config
        assert (config_path / node / "boot_iso").read_bytes() == image.read_bytes()
        _boots(callbacks, name, 1, qemu_ingot, node)
        cmdline = callbacks.callbacks[name][0].decode()
        assert "BOOT_IMAGE=/boot/vmlinuz" in cmdline, cmdline  # GRUB from the ISO
        wait_power_off(api, node)
        undeployed = provision(api, node, "deleted", ("available", "error"))
        assert undeployed["provision_state"] == "available", undeployed["last_error"]
        assert not (config_path / node).exists()
