"""A qemu-vm node deployed through ingot's API network-boots real iPXE in QEMU.

With [pxe] ipxe_use_swift, the config ingot renders points the machine at Swift temp
URLs for its kernel and ramdisk; a node whose boot files are not in Swift still boots
from ingot's own HTTP root. The Debian kernel boots a busybox initramfs whose /init
posts /proc/cmdline to a callback URL on its command line.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests import factories
from tests.deploy.nodes import ABORT_IN_WAIT_CALL_BACK, provision, wait_for
from tests.deploy.qemu import (
    busybox_files,  # noqa: F401 - fixture
    new_disk,
    put_in_swift,
    serial,
    sha256,
    start_ingot,
)
from tests.servers.bootfiles import BootFiles
from tests.servers.httproot import HttpRootServer
from tests.servers.ingot import IngotServer
from tests.servers.swift import SwiftServer

pytestmark = pytest.mark.slow
BOOT_TIMEOUT = 150


@pytest.fixture(scope="module")
def files(busybox_files: BootFiles) -> BootFiles:  # noqa: F811
    return busybox_files


@pytest.fixture(scope="module")
def callbacks(tmp_path_factory: pytest.TempPathFactory, files: BootFiles
              ) -> Iterator[HttpRootServer]:
    """Receives the callbacks, and serves the boot files over plain HTTP too."""
    root = tmp_path_factory.mktemp("origin")
    shutil.copyfile(files.kernel, root / "vmlinuz")
    shutil.copyfile(files.initramfs, root / "initrd")
    with HttpRootServer(root) as server:
        yield server


@pytest.fixture(scope="module")
def in_swift(swift: SwiftServer, account_key: str, files: BootFiles) -> dict[str, str]:
    return put_in_swift(swift, "boot", files)


@pytest.fixture(scope="module")
def qemu_ingot(tmp_path_factory: pytest.TempPathFactory, swift: SwiftServer,
               account_key: str) -> Iterator[IngotServer]:
    server = start_ingot(tmp_path_factory.mktemp("qemu-node"),
                         DEFAULT={"enabled_hardware_types": "fake-hardware,local-vm,qemu-vm"},
                         pxe={"ipxe_use_swift": True}, swift=swift.swift_options())
    yield server
    server.stop()


def boot_node(api: httpx.Client, server: IngotServer, driver_info: dict[str, Any],
              callbacks: HttpRootServer, name: str) -> tuple[str, str]:
    callback = callbacks.callback_url(name)
    mac = factories.mac()
    disk = new_disk(server)
    created = api.post("/v1/nodes", json={
        "driver": "qemu-vm", "automated_clean": False,
        "driver_info": {"vm_disk": str(disk), "vm_disk_size": 64,
                        "kernel_append_params": f"console=ttyS0 ingot_callback={callback}",
                        **driver_info},
        # The deploy checks the image before booting; no agent ever downloads it here.
        "instance_info": {"image_source": f"{callbacks.url}/vmlinuz",
                          "image_checksum": "0" * 64}})
    assert created.status_code == 201, created.text
    node = created.json()["uuid"]
    assert api.post("/v1/ports", json={"node_uuid": node, "address": mac}).status_code == 201
    provision(api, node, "manage", ("manageable",))
    assert provision(api, node, "provide", ("available",))["provision_state"] == "available"
    response = api.put(f"/v1/nodes/{node}/states/provision", json={"target": "active"})
    assert response.status_code == 202, response.text
    return node, mac


def wait_callback(callbacks: HttpRootServer, name: str, server: IngotServer,
                  node: str) -> str:
    payload = callbacks.wait_callback(name, BOOT_TIMEOUT)
    if payload is None:
        pytest.fail(f"no callback within {BOOT_TIMEOUT} s; serial log:\n"
                    f"{serial(server, node)[-3000:] or '(none)'}")
    return payload.decode(errors="replace")


def abort_and_power_off(api: httpx.Client, server: IngotServer, node: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        response = api.put(f"/v1/nodes/{node}/states/provision", json={"target": "abort"},
                           headers=ABORT_IN_WAIT_CALL_BACK)
        if response.status_code == 202:
            break
        time.sleep(0.2)
    wait_for(api, node, ("deploy failed",))
    # The conductor powers it off after the API answered, then lets the node go.
    deadline = time.monotonic() + 30
    while (shown := api.get(f"/v1/nodes/{node}").json())["power_state"] != "power off" \
            or shown["reservation"] is not None:
        assert time.monotonic() < deadline, f"the machine was not powered off: {shown}"
        time.sleep(0.2)
    assert not (server.workdir / "state" / "local-vm" / f"{node}.pid").exists()


def test_boot_files_from_swift_temp_urls(qemu_ingot: IngotServer, swift: SwiftServer,
                                         callbacks: HttpRootServer, files: BootFiles,
                                         in_swift: dict[str, str]) -> None:
    with qemu_ingot.client() as api:
        node, mac = boot_node(api, qemu_ingot, {
            "deploy_kernel": f"swift://boot/{in_swift['kernel']}",
            "deploy_kernel_checksum": sha256(files.kernel),
            "deploy_ramdisk": f"swift://boot/{in_swift['ramdisk']}",
            "deploy_ramdisk_checksum": sha256(files.initramfs)}, callbacks, "s")
        cmdline = wait_callback(callbacks, "s", qemu_ingot, node)
        assert f"ipa-api-url=http://10.0.2.2:{qemu_ingot.port}" in cmdline
        assert f"BOOTIF={mac}" in cmdline
        http_root = qemu_ingot.workdir / "state" / "httpboot"
        config = (http_root / node / "config").read_text()
        assert "temp_url_sig=" in config  # the machine was sent to Swift...
        assert not (http_root / node / "deploy_kernel").exists()  # ...with nothing local
        log = swift.proxy_log()
        for name in in_swift.values():
            assert any(f"/boot/{name}" in line and "temp_url_sig" in line and " 200 " in line
                       for line in log.splitlines()), name
        shown = api.get(f"/v1/nodes/{node}").json()
        assert shown["provision_state"] == "wait call-back"
        assert "temp_url_sig=" not in qemu_ingot.log()
        abort_and_power_off(api, qemu_ingot, node)


def test_boot_files_not_in_swift_come_from_the_local_cache(
        qemu_ingot: IngotServer, callbacks: HttpRootServer, files: BootFiles) -> None:
    with qemu_ingot.client() as api:
        node, mac = boot_node(api, qemu_ingot, {
            "deploy_kernel": f"{callbacks.url}/vmlinuz",
            "deploy_kernel_checksum": sha256(files.kernel),
            "deploy_ramdisk": f"{callbacks.url}/initrd",
            "deploy_ramdisk_checksum": sha256(files.initramfs)}, callbacks, "l")
        cmdline = wait_callback(callbacks, "l", qemu_ingot, node)
        assert f"BOOTIF={mac}" in cmdline
        http_root = qemu_ingot.workdir / "state" / "httpboot"
        assert (http_root / node / "deploy_kernel").read_bytes() == files.kernel.read_bytes()
        assert "temp_url_sig" not in (http_root / node / "config").read_text()
        abort_and_power_off(api, qemu_ingot, node)
        deployed = provision(api, node, "deleted", ("available", "error", "clean failed"))
        assert deployed["provision_state"] == "available", deployed["last_error"]
        assert not (http_root / node).exists()  # undeploy removed the node's boot files


def test_deleted_node_boot_files_are_removed(qemu_ingot: IngotServer) -> None:
    """Boot files of a node deleted through the API go at the next periodic check."""
    with qemu_ingot.client() as api:
        node = api.post("/v1/nodes", json={"driver": "fake-hardware"}).json()["uuid"]
        http_root = qemu_ingot.workdir / "state" / "httpboot"
        (http_root / node).mkdir(parents=True)
        (http_root / node / "config").write_text("#!ipxe\n")
        keep = http_root / "not-a-node"
        keep.mkdir(exist_ok=True)
        assert api.delete(f"/v1/nodes/{node}").status_code == 204
    deadline = time.monotonic() + 60
    while (http_root / node).exists():
        assert time.monotonic() < deadline, "orphaned boot files were not removed"
        time.sleep(0.5)
    assert keep.exists()


def test_special_file_as_deploy_kernel_is_refused_naming_the_field(
        qemu_ingot: IngotServer) -> None:
    with qemu_ingot.client() as api:
        created = api.post("/v1/nodes", json={
            "driver": "qemu-vm", "driver_info": {
                "vm_disk": str(qemu_ingot.workdir.parent / "vms" / "never.img"),
                "deploy_kernel": "file:////proc/self/environ",
                "deploy_kernel_checksum": "0" * 64,
                "deploy_ramdisk": "http://127.0.0.1:9/initrd",
                "deploy_ramdisk_checksum": "0" * 64}})
        assert created.status_code == 201, created.text
        boot = api.get(f"/v1/nodes/{created.json()['uuid']}/validate").json()["boot"]
    assert boot["result"] is False
    assert boot["reason"] == ("driver_info deploy_kernel: /proc/self/environ is under /proc, "
                              "which file:// image sources may never use (special or system "
                              "files).")
