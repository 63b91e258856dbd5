"""A qemu-vm node deployed with the ``ramdisk`` deploy interface boots its instance's
kernel and ramdisk from Swift temporary URLs, and again after a reboot past the first
URLs' lifetime: the conductor re-renders the config before they expire.

The instance is the Debian kernel and the busybox initramfs of tests/servers/bootfiles.py,
whose /init posts /proc/cmdline to the callback URL on its command line and powers off.
"""

from __future__ import annotations

import hashlib
import pathlib
import re
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests import factories
from tests.deploy.nodes import provision, wait_for
from tests.servers.bootfiles import BootFiles, boot_files
from tests.servers.httproot import HttpRootServer
from tests.servers.ingot import IngotServer
from tests.servers.process import free_port
from tests.servers.qemu import require_qemu
from tests.servers.swift import SwiftServer

pytestmark = pytest.mark.slow
BOOT_TIMEOUT = 150
URL_LIFETIME = 30  # [glance] swift_temp_url_duration: short, so a reboot outlives it


@pytest.fixture(scope="module")
def files() -> BootFiles:
    require_qemu()
    return boot_files()


@pytest.fixture(scope="module")
def callbacks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpRootServer]:
    with HttpRootServer(tmp_path_factory.mktemp("callbacks")) as server:
        yield server


@pytest.fixture(scope="module")
def in_swift(swift: SwiftServer, account_key: str, files: BootFiles) -> dict[str, str]:
    connection = swift.connection()
    connection.put_container("instances")
    names = {"kernel": f"vmlinuz-{uuid.uuid4().hex[:8]}",
             "ramdisk": f"initrd-{uuid.uuid4().hex[:8]}"}
    connection.put_object("instances", names["kernel"], files.kernel.read_bytes())
    connection.put_object("instances", names["ramdisk"], files.initramfs.read_bytes())
    connection.close()
    return names


@pytest.fixture(scope="module")
def qemu_ingot(tmp_path_factory: pytest.TempPathFactory, swift: SwiftServer,
               account_key: str) -> Iterator[IngotServer]:
    workdir = tmp_path_factory.mktemp("qemu-ramdisk-instance")
    (workdir / "vms").mkdir()
    api_port, http_port = free_port(), free_port()
    server = IngotServer(workdir / "ingot", options={
        "DEFAULT": {"enabled_hardware_types": "fake-hardware,qemu-vm"},
        "api": {"port": api_port},
        "deploy": {"http_port": http_port, "http_url": f"http://10.0.2.2:{http_port}"},
        "pxe": {"ipxe_use_swift": True},
        "glance": {"swift_temp_url_duration": URL_LIFETIME,
                   "swift_temp_url_reuse_margin": 1},
        "local_vm": {"disk_paths": workdir / "vms"},
        "conductor": {"api_url": f"http://10.0.2.2:{api_port}",
                      "check_provision_state_interval": 2},
        "swift": swift.swift_options(),
    }).start()
    yield server
    server.stop()


def _sha256(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _boots(callbacks: HttpRootServer, name: str, count: int, server: IngotServer,
           node: str) -> None:
    deadline = time.monotonic() + BOOT_TIMEOUT
    while len(callbacks.callbacks.get(name, [])) < count:
        if time.monotonic() > deadline:
            serial = server.workdir / "state" / "local-vm" / f"{node}.serial"
            text = serial.read_text(errors="replace")[-3000:] if serial.exists() else ""
            pytest.fail(f"boot {count} made no callback in {BOOT_TIMEOUT} s:\n{text}")
        time.sleep(1)


def _power_off(api: httpx.Client, node: str) -> None:
    deadline = time.monotonic() + 60
    while api.get(f"/v1/nodes/{node}").json()["power_state"] != "power off":
        assert time.monotonic() < deadline, "the instance did not power off"
        time.sleep(1)


def test_ramdisk_instance_boots_from_swift_and_again_after_its_urls_expired(
        qemu_ingot: IngotServer, swift: SwiftServer, callbacks: HttpRootServer,
        files: BootFiles, in_swift: dict[str, str]) -> None:
    config_path = qemu_ingot.workdir / "state" / "httpboot"
    with qemu_ingot.client() as api:
        refused = api.post("/v1/nodes", json={
            "driver": "qemu-vm", "deploy_interface": "ramdisk",
            "instance_info": {"boot_iso": "http://example.com/x.iso"}})
        assert refused.status_code == 201
        validated = api.get(f"/v1/nodes/{refused.json()['uuid']}/validate").json()
        assert "boot_iso" in validated["deploy"]["reason"], validated["deploy"]

        disk = qemu_ingot.workdir.parent / "vms" / f"{factories.name('qemu')}.img"
        kernel_ref = f"swift://instances/{in_swift['kernel']}"
        ramdisk_ref = f"swift://instances/{in_swift['ramdisk']}"
        created = api.post("/v1/nodes", json={
            "driver": "qemu-vm", "deploy_interface": "ramdisk", "automated_clean": False,
            "driver_info": {"vm_disk": str(disk), "vm_disk_size": 16,
                            "deploy_kernel": kernel_ref,
                            "deploy_kernel_checksum": _sha256(files.kernel),
                            "deploy_ramdisk": ramdisk_ref,
                            "deploy_ramdisk_checksum": _sha256(files.initramfs)},
            "instance_info": {
                "kernel": kernel_ref, "kernel_checksum": _sha256(files.kernel),
                "ramdisk": ramdisk_ref, "ramdisk_checksum": _sha256(files.initramfs),
                "kernel_append_params":
                    f"console=ttyS0 ingot_callback={callbacks.callback_url('ri')}"}})
        assert created.status_code == 201, created.text
        node = created.json()["uuid"]
        assert api.post("/v1/ports", json={"node_uuid": node, "address": factories.mac()}
                        ).status_code == 201
        provision(api, node, "manage", ("manageable",))
        assert provision(api, node, "provide", ("available",))["provision_state"] == \
            "available"
        deployed = provision(api, node, "active", ("active", "deploy failed"))
        assert deployed["provision_state"] == "active", deployed["last_error"]
        first = deployed["driver_internal_info"]["instance_boot_urls"]
        config = (config_path / node / "config").read_text()
        assert config.count("temp_url_sig=") == 2, config
        assert not (config_path / node / "kernel").exists()  # nothing served locally
        _boots(callbacks, "ri", 1, qemu_ingot, node)
        assert "ingot_callback=" in callbacks.callbacks["ri"][0].decode()
        _power_off(api, node)

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
        _power_off(api, node)

        undeployed = provision(api, node, "deleted", ("available", "error"))
        assert undeployed["provision_state"] == "available", undeployed["last_error"]
        assert not (config_path / node).exists()
        wait_for(api, node, ("available",))
