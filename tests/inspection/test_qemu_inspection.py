"""Inspection of a qemu-vm machine (TCG, real iPXE; two disks, two NICs) with ingot's
own ramdisk: the agent reads ipa-inspection-callback-url from its kernel command line, collects the
virtual hardware as /proc and /sys show it and posts it. With fast track the agent then
stays up, looks its node up and picks the root disk a deploy would write to: the one
inspection reported."""

from __future__ import annotations

import hashlib
import pathlib
import time
from collections.abc import Iterator

import pytest

from ingot.ramdisk import build
from tests import factories
from tests.deploy.nodes import wait_for
from tests.deploy.qemu import ramdisk  # noqa: F401 - fixture
from tests.inspection.inventories import INVENTORY
from tests.servers.httproot import HttpRootServer
from tests.servers.ingot import IngotServer
from tests.servers.process import free_port

pytestmark = pytest.mark.slow
INSPECT_TIMEOUT = 600  # TCG on two cores shared with other jobs


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, ramdisk: build.Ramdisk,  # noqa: F811
         ) -> Iterator[tuple[IngotServer, HttpRootServer]]:
    root = tmp_path_factory.mktemp("inspect-origin")
    (root / "vmlinuz").write_bytes(ramdisk.kernel.read_bytes())
    (root / "initramfs").write_bytes(ramdisk.initramfs.read_bytes())
    workdir = tmp_path_factory.mktemp("qemu-inspection")
    (workdir / "vms").mkdir()
    api_port = free_port()
    with HttpRootServer(root) as origin:
        server = IngotServer(workdir / "ingot", options={
            "DEFAULT": {"enabled_hardware_types": "fake-hardware,qemu-vm"},
            "api": {"port": api_port},
            "deploy": {"http_port": free_port(), "fast_track": True},
            "local_vm": {"disk_paths": workdir / "vms"},
            "conductor": {"api_url": f"http://10.0.2.2:{api_port}",
                          "check_provision_state_interval": 2},
            "inspector": {"add_ports": "all"},
        }).start()
        try:
            yield server, origin
        finally:
            server.stop()


def _text(path: pathlib.Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def _sha256(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_qemu_machine_inspected_by_ingots_agent(
        site: tuple[IngotServer, HttpRootServer], ramdisk: build.Ramdisk) -> None:  # noqa: F811
    server, origin = site
    disk = server.workdir.parent / "vms" / f"{factories.name('inspect')}.img"
    mac, mac2 = factories.mac(), factories.mac()
    with server.client() as api:
        created = api.post("/v1/nodes", json={
            "driver": "qemu-vm",
            "driver_info": {
                "vm_disk": str(disk), "vm_disk_size": 6 * 1024, "vm_memory": 1024,
                "deploy_kernel": f"{origin.url}/vmlinuz",
                "deploy_kernel_checksum": _sha256(ramdisk.kernel),
                "deploy_ramdisk": f"{origin.url}/initramfs",
                "deploy_ramdisk_checksum": _sha256(ramdisk.initramfs),
                "kernel_append_params": "console=ttyS0",
                "vm_disk2": str(disk.with_suffix(".2.img")), "vm_disk2_size": 8 * 1024,
                "vm_disk2_serial": "INSPECT2", "vm_nic2_mac": mac2},
            # The second disk, by its serial: what local_gb and a deploy must use.
            "properties": {"root_device": {"serial": "INSPECT2"}}})
        assert created.status_code == 201, created.text
        node = created.json()["uuid"]
        assert created.json()["inspect_interface"] == "agent"
        assert api.post("/v1/ports", json={"node_uuid": node, "address": mac}
                        ).status_code == 201
        for target, state in (("manage", ("manageable",)),
                              ("inspect", ("manageable", "inspect failed"))):
            assert api.put(f"/v1/nodes/{node}/states/provision",
                           json={"target": target}).status_code == 202
            shown = wait_for(api, node, state, timeout=INSPECT_TIMEOUT)
        serial = server.workdir / "state" / "local-vm" / f"{node}.serial"
        log = serial.read_text(errors="replace") if serial.exists() else ""
        assert shown["provision_state"] == "manageable", \
            f"{shown['last_error']}\n{log[-4000:]}"
        properties = shown["properties"]
        assert properties["cpu_arch"] == "x86_64" and properties["cpus"] >= 1
        assert 900 <= properties["memory_mb"] <= 1024
        assert properties["local_gb"] == 7  # the 8 GiB second disk, less 1
        assert properties["capabilities"] == "boot_mode:bios"
        # Fast track: the agent stays up. If not, whether ingot stopped QEMU (its
        # process log says "stopping process") or the machine powered itself off (the
        # agent exited 0: the serial log says "powering off").
        assert shown["power_state"] == "power on", \
            f"{shown['last_error']}\n{_text(serial.with_suffix('.log'))[-2000:]}\n" \
            f"{_text(serial)[-4000:]}"
        stored = api.get(f"/v1/nodes/{node}/inventory", headers=INVENTORY).json()
        assert [d["name"] for d in stored["inventory"]["disks"]] == ["/dev/vda", "/dev/vdb"]
        # Which of vda and vdb it is depends on the PCI order: the hint names its serial.
        root = stored["plugin_data"]["root_disk"]
        assert (root["serial"], root["size"]) == ("INSPECT2", 8 << 30)
        macs = [i["mac_address"] for i in stored["inventory"]["interfaces"]]
        assert sorted(macs) == sorted([mac, mac2])
        # iPXE's BOOTIF names the NIC it booted from: its port is the PXE one.
        assert stored["inventory"]["boot"]["pxe_interface"] == mac
        ports = api.get("/v1/ports/detail", params={"node": node}).json()["ports"]
        assert sorted((p["address"], p["pxe_enabled"]) for p in ports) == \
            sorted([(mac, True), (mac2, False)])
        assert "Posting the inventory" in log
        # The agent that stayed up chose its root disk, as at a deploy: the same one.
        deadline = time.monotonic() + INSPECT_TIMEOUT
        while "Root disk /dev/" not in log:
            assert time.monotonic() < deadline, log[-3000:]
            time.sleep(1)
            log = serial.read_text(errors="replace")
        chosen = log.split("Root disk ", 1)[1].split()[0]
        assert chosen == stored["plugin_data"]["root_disk"]["name"]
        assert api.put(f"/v1/nodes/{node}/states/power",
                       json={"target": "power off"}).status_code == 202
        deadline = time.monotonic() + 60
        while api.get(f"/v1/nodes/{node}").json()["power_state"] != "power off":
            assert time.monotonic() < deadline
            time.sleep(0.5)
