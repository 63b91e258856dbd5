"""Nodes that are a real QEMU machine (TCG) under libvirt: an ipmi node through
VirtualBMC (power and boot device over IPMI), then a redfish node through sushy-tools'
emulator with its libvirt driver (a deploy through virtual media with ingot's agent ISO,
ending in the deployed OS's first boot).

The ISO is ``ingot ramdisk build``'s kernel and initramfs made into an ISO whose kernel
command line carries the API URL as the machine sees it (10.0.2.2 on QEMU's user
network) and the host port forwarded to its agent. The emulator downloads the ISO from
ingot's HTTP root ([deploy] external_http_url: the host's loopback) and attaches it to
the domain; the agent writes the image (qcow2, fetched through ingot's HTTP root) and
the config drive; ingot ejects the CD and boots the disk, whose OS prints what it read
from its config drive on the serial console.
"""

from __future__ import annotations

import hashlib
import pathlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ingot.demo.os_image import BOOTED, OS_MARKER
from ingot.ramdisk import build, iso
from tests import factories
from tests.deploy.nodes import wait_for
from tests.servers.httproot import HttpRootServer
from tests.servers.ingot import IngotServer
from tests.servers.libvirt import Domain, default_pool, libvirt_daemon
from tests.servers.process import free_port
from tests.servers.qemu import os_disk, require_qemu
from tests.servers.redfish import PASSWORD, USERNAME, RedfishEmulator
from tests.servers.vbmc import PASSWORD as IPMI_PASSWORD
from tests.servers.vbmc import USERNAME as IPMI_USERNAME
from tests.servers.vbmc import VirtualBmc

pytestmark = pytest.mark.slow
DEPLOY_TIMEOUT = 600


def _sha256(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@pytest.fixture(scope="module")
def ports() -> dict[str, int]:
    return {"api": free_port(), "http": free_port(), "agent": free_port()}


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory, ports: dict[str, int]
           ) -> Iterator[HttpRootServer]:
    require_qemu()
    ramdisk = build.build(None, iso_append=None, progress=lambda line: print(line, flush=True))
    root = tmp_path_factory.mktemp("vmedia-origin")
    iso.make_iso(ramdisk.kernel, ramdisk.initramfs, root / "agent.iso",
                 f"ipa-api-url=http://10.0.2.2:{ports['api']} ipa-advertise-host=127.0.0.1 "
                 f"ipa-advertise-port={ports['agent']} console=ttyS0")
    shutil.copyfile(ramdisk.kernel, root / "vmlinuz")
    shutil.copyfile(ramdisk.initramfs, root / "initramfs")
    shutil.copyfile(os_disk(), root / "disk.img")
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(root / "disk.img"),
                    str(root / "disk.qcow2")], check=True, timeout=60)
    with HttpRootServer(root) as server:
        yield server


@pytest.fixture(scope="module")
def domain(tmp_path_factory: pytest.TempPathFactory, ports: dict[str, int]
           ) -> Iterator[Domain]:
    workdir = tmp_path_factory.mktemp("libvirt")
    with libvirt_daemon(workdir) as uri, default_pool(uri, workdir / "pool"), \
            Domain(uri, workdir, factories.mac(), ports["agent"]) as machine:
        yield machine


@pytest.fixture(scope="module")
def bmc(tmp_path_factory: pytest.TempPathFactory, domain: Domain) -> Iterator[RedfishEmulator]:
    with RedfishEmulator(tmp_path_factory.mktemp("sushy-libvirt"), libvirt_uri=domain.uri,
                         allowed=[domain.uuid]) as server:
        yield server


@pytest.fixture(scope="module")
def ingot(tmp_path_factory: pytest.TempPathFactory, ports: dict[str, int]
          ) -> Iterator[IngotServer]:
    server = IngotServer(tmp_path_factory.mktemp("vmedia-ingot"), options={
        "DEFAULT": {"enabled_hardware_types": "redfish,ipmi"},
        "api": {"port": ports["api"]},
        # The machine reaches the host as 10.0.2.2; the BMC emulator runs on the host.
        "deploy": {"http_port": ports["http"], "http_url": f"http://10.0.2.2:{ports['http']}",
                   "external_http_url": f"http://127.0.0.1:{ports['http']}"},
        "agent": {"image_download_source": "http"},
        "conductor": {"api_url": f"http://10.0.2.2:{ports['api']}",
                      "check_provision_state_interval": 2},
        "redfish": {"connection_attempts": 2, "connection_retry_interval": 1},
    }).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def ipmi_bmc(tmp_path_factory: pytest.TempPathFactory, domain: Domain) -> Iterator[VirtualBmc]:
    with VirtualBmc(tmp_path_factory.mktemp("vbmc"), domain.name, domain.uri) as server:
        yield server


def test_ipmi_power_and_boot_device(ingot: IngotServer, ipmi_bmc: VirtualBmc, domain: Domain,
                                    origin: HttpRootServer) -> None:
    """A deploy over IPMI up to the network boot: the boot device the BMC set in the
    domain, the machine powered on; then undeploying powers it off."""
    with ingot.client() as api:
        created = api.post("/v1/nodes", json={
            "driver": "ipmi", "automated_clean": False,
            "driver_info": {
                "ipmi_address": "127.0.0.1", "ipmi_port": ipmi_bmc.port,
                "ipmi_username": IPMI_USERNAME, "ipmi_password": IPMI_PASSWORD,
                "deploy_kernel": f"{origin.url}/vmlinuz",
                "deploy_kernel_checksum": _sha256(origin.root / "vmlinuz"),
                "deploy_ramdisk": f"{origin.url}/initramfs",
                "deploy_ramdisk_checksum": _sha256(origin.root / "initramfs")},
            "instance_info": {"image_source": f"{origin.url}/disk.qcow2",
                              "image_checksum": _sha256(origin.root / "disk.qcow2"),
                              "image_disk_format": "qcow2"}})
        assert created.status_code == 201, created.text
        node = created.json()["uuid"]
        assert created.json()["driver_info"]["ipmi_password"] == "******"
        port = api.post("/v1/ports", json={"node_uuid": node, "address": domain.mac})
        assert port.status_code == 201, port.text
        for target, state in (("manage", "manageable"), ("provide", "available")):
            assert api.put(f"/v1/nodes/{node}/states/provision",
                           json={"target": target}).status_code == 202
            shown = wait_for(api, node, (state, "enroll", "clean failed"), timeout=90)
            assert shown["provision_state"] == state, shown["last_error"]
        assert shown["power_state"] == "power off" and not domain.active()
        response = api.put(f"/v1/nodes/{node}/states/provision", json={"target": "active"})
        assert response.status_code == 202, response.text
        shown = wait_for(api, node, ("wait call-back", "deploy failed"), timeout=120)
        assert shown["provision_state"] == "wait call-back", shown["last_error"]
        assert shown["power_state"] == "power on" and domain.active()
        assert domain.boot_devices() == ["network"]
        response = api.put(f"/v1/nodes/{node}/states/provision", json={"target": "deleted"})
        assert response.status_code == 202, response.text
        shown = wait_for(api, node, ("available", "error"), timeout=120)
        assert shown["provision_state"] == "available", shown["last_error"]
        assert shown["power_state"] == "power off" and not domain.active()
        # The machine and its MAC go to the redfish node next.
        assert api.delete(f"/v1/nodes/{node}").status_code == 204
    assert IPMI_PASSWORD not in ingot.log()


def test_virtual_media_deploy_ends_in_the_deployed_os(
        ingot: IngotServer, bmc: RedfishEmulator, domain: Domain,
        origin: HttpRootServer) -> None:
    with ingot.client() as api:
        created = api.post("/v1/nodes", json={
            "driver": "redfish", "boot_interface": "redfish-virtual-media",
            "automated_clean": False,
            "driver_info": {
                "redfish_address": bmc.url,
                "redfish_system_id": f"/redfish/v1/Systems/{domain.uuid}",
                "redfish_username": USERNAME, "redfish_password": PASSWORD,
                "deploy_iso": f"{origin.url}/agent.iso",
                "deploy_iso_checksum": _sha256(origin.root / "agent.iso")},
            "instance_info": {"image_source": f"{origin.url}/disk.qcow2",
                              "image_checksum": _sha256(origin.root / "disk.qcow2"),
                              "image_disk_format": "qcow2"}})
        assert created.status_code == 201, created.text
        node = created.json()["uuid"]
        port = api.post("/v1/ports", json={"node_uuid": node, "address": domain.mac})
        assert port.status_code == 201, port.text
        for target, state in (("manage", "manageable"), ("provide", "available")):
            assert api.put(f"/v1/nodes/{node}/states/provision",
                           json={"target": target}).status_code == 202
            shown = wait_for(api, node, (state, "enroll", "clean failed"), timeout=60)
            assert shown["provision_state"] == state, shown["last_error"]
        started = time.monotonic()
        response = api.put(f"/v1/nodes/{node}/states/provision", json={
            "target": "active",
            "configdrive": {"meta_data": {"hostname": "ingot-vmedia-host"},
                            "user_data": "hello-over-redfish"}})
        assert response.status_code == 202, response.text
        heartbeat = None
        deadline = started + DEPLOY_TIMEOUT
        shown = {}
        while time.monotonic() < deadline:
            shown = api.get(f"/v1/nodes/{node}").json()
            if heartbeat is None and shown["driver_internal_info"].get("agent_url"):
                heartbeat = time.monotonic() - started
            if shown["provision_state"] in ("active", "deploy failed", "error"):
                break
            time.sleep(1)
        assert shown.get("provision_state") == "active", \
            f"{shown.get('provision_state')}: {shown.get('last_error')}\n" \
            f"{domain.serial()[-4000:]}\n{bmc.log()[-3000:]}"
        deployed = time.monotonic() - started
        assert heartbeat is not None, "active without the agent ever heartbeating"
        serial = domain.serial()
        assert "ingot-ramdisk: started" in serial
        # Ejected and booting from the disk, as the BMC reports it.
        system = bmc.system(domain.uuid)
        assert system["Boot"]["BootSourceOverrideTarget"] == "Hdd"
        cd = bmc.get(f"{system['VirtualMedia']['@odata.id']}/Cd").json()
        assert cd["Inserted"] is False, cd
        while f"{OS_MARKER} done" not in domain.serial():
            assert time.monotonic() < deadline, domain.serial()[-3000:]
            time.sleep(1)
        booted = time.monotonic() - started
        report = domain.serial().split(BOOTED)[-1]
        assert f"{OS_MARKER} hostname=ingot-vmedia-host" in report, report
        assert f"{OS_MARKER} user_data=hello-over-redfish" in report, report
        print(f"\nvirtual media: from deploy request (power on): first heartbeat "
              f"{heartbeat:.0f} s, active {deployed:.0f} s, OS report {booted:.0f} s")
        result: dict[str, Any] = shown
        assert result["power_state"] == "power on"
