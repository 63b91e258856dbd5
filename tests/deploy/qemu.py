"""Shared by the tests that boot qemu-vm machines (TCG, real iPXE) through ingot's API:
an ingot whose machines see the host's loopback as 10.0.2.2, the build of ingot's own
ramdisk, the busybox boot files, the machine's serial log and the waits on it.

tests/deploy/conftest.py makes the fixtures here package-wide, so the deploy modules that
boot ingot's ramdisk (test_qemu_partition.py, test_qemu_ramdisk.py) share one build, one
origin serving it and one ingot; modules elsewhere import the fixtures they use.
"""

from __future__ import annotations

import hashlib
import pathlib
import shutil
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ingot.demo.os_image import BOOTED, OS_MARKER
from ingot.ramdisk import build
from tests import factories
from tests.deploy.nodes import provision
from tests.servers.bootfiles import BootFiles, boot_files
from tests.servers.httproot import HttpRootServer
from tests.servers.ingot import IngotServer
from tests.servers.process import free_port
from tests.servers.qemu import require_qemu
from tests.servers.swift import SwiftServer

DEPLOY_TIMEOUT = 600  # TCG on two cores shared with other jobs


def start_ingot(workdir: pathlib.Path, **sections: dict[str, Any]) -> IngotServer:
    """A started ingot with qemu-vm enabled, its VM disks under workdir/vms and its API
    and HTTP root as a machine on QEMU's user network reaches them; ``sections`` add
    or override options."""
    (workdir / "vms").mkdir(parents=True, exist_ok=True)
    api_port, http_port = free_port(), free_port()
    options: dict[str, dict[str, Any]] = {
        "DEFAULT": {"enabled_hardware_types": "fake-hardware,qemu-vm"},
        "api": {"port": api_port},
        "deploy": {"http_port": http_port, "http_url": f"http://10.0.2.2:{http_port}"},
        "local_vm": {"disk_paths": workdir / "vms"},
        "conductor": {"api_url": f"http://10.0.2.2:{api_port}",
                      "check_provision_state_interval": 2},
    }
    for section, values in sections.items():
        options[section] = {**options.get(section, {}), **values}
    return IngotServer(workdir / "ingot", options=options).start()


def new_disk(server: IngotServer, prefix: str = "qemu") -> pathlib.Path:
    """A fresh disk file path where the server's local_vm disk_paths allow it."""
    return server.workdir.parent / "vms" / f"{factories.name(prefix)}.img"


def sha256(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def serial(server: IngotServer, node: str) -> str:
    """The machine's serial console so far (every boot of it, appended)."""
    path = server.workdir / "state" / "local-vm" / f"{node}.serial"
    return path.read_text(errors="replace") if path.exists() else ""


def os_reports(server: IngotServer, node: str) -> int:
    """How many times the test OS (ingot/demo/os_image.py) finished its report."""
    return serial(server, node).count(f"{OS_MARKER} done")


def wait_os_report(server: IngotServer, node: str, before: int, deadline: float) -> str:
    """Wait for one more report of the test OS than ``before``; the latest one, from
    its first line on."""
    while os_reports(server, node) <= before:
        assert time.monotonic() < deadline, serial(server, node)[-4000:]
        time.sleep(1)
    return serial(server, node).split(BOOTED)[-1]


def wait_power_off(api: httpx.Client, node: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while api.get(f"/v1/nodes/{node}").json()["power_state"] != "power off":
        assert time.monotonic() < deadline, "the machine did not power off"
        time.sleep(1)


def make_available(api: httpx.Client, node: str) -> None:
    """Give the node a port, then manage and provide it (no cleaning: nothing boots)."""
    port = api.post("/v1/ports", json={"node_uuid": node, "address": factories.mac()})
    assert port.status_code == 201, port.text
    provision(api, node, "manage", ("manageable",))
    assert provision(api, node, "provide", ("available",))["provision_state"] == "available"


def put_in_swift(swift: SwiftServer, container: str, files: BootFiles) -> dict[str, str]:
    """The kernel and initramfs as objects of container: {"kernel": name, "ramdisk": name}."""
    connection = swift.connection()
    connection.put_container(container)
    names = {"kernel": f"vmlinuz-{uuid.uuid4().hex[:8]}",
             "ramdisk": f"initrd-{uuid.uuid4().hex[:8]}"}
    connection.put_object(container, names["kernel"], files.kernel.read_bytes())
    connection.put_object(container, names["ramdisk"], files.initramfs.read_bytes())
    connection.close()
    return names


@pytest.fixture(scope="session")
def ramdisk() -> build.Ramdisk:
    """ingot's own deploy ramdisk (``ingot ramdisk build``, cached)."""
    require_qemu()
    return build.build(None, iso_append=None, progress=lambda line: print(line, flush=True))


@pytest.fixture(scope="session")
def busybox_files() -> BootFiles:
    """The Debian kernel and the busybox initramfs whose /init posts /proc/cmdline to
    the ingot_callback URL on its command line, then powers off."""
    require_qemu()
    return boot_files()


@pytest.fixture(scope="package")
def agent_origin(tmp_path_factory: pytest.TempPathFactory, ramdisk: build.Ramdisk
                 ) -> Iterator[HttpRootServer]:
    """Serves the ramdisk as vmlinuz and initramfs; tests add their images to its root."""
    root = tmp_path_factory.mktemp("agent-origin")
    shutil.copyfile(ramdisk.kernel, root / "vmlinuz")
    shutil.copyfile(ramdisk.initramfs, root / "initramfs")
    with HttpRootServer(root) as server:
        yield server


@pytest.fixture(scope="package")
def agent_ingot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IngotServer]:
    """An ingot whose machines boot ingot's ramdisk and download images from its HTTP
    root (so the agent converts qcow2 itself)."""
    server = start_ingot(tmp_path_factory.mktemp("qemu-agent"),
                         agent={"image_download_source": "http"})
    yield server
    server.stop()


def agent_node(api: httpx.Client, origin: HttpRootServer, ramdisk: build.Ramdisk,
               driver_info: dict[str, Any], **fields: Any) -> str:
    """A qemu-vm node (5 GiB disk, 1 GiB memory) that boots the ramdisk from origin."""
    created = api.post("/v1/nodes", json={
        "driver": "qemu-vm", "automated_clean": False,
        "driver_info": {
            "vm_disk_size": 5 * 1024, "vm_memory": 1024,
            "deploy_kernel": f"{origin.url}/vmlinuz",
            "deploy_kernel_checksum": sha256(ramdisk.kernel),
            "deploy_ramdisk": f"{origin.url}/initramfs",
            "deploy_ramdisk_checksum": sha256(ramdisk.initramfs),
            "kernel_append_params": "console=ttyS0", **driver_info}, **fields})
    assert created.status_code == 201, created.text
    return str(created.json()["uuid"])
