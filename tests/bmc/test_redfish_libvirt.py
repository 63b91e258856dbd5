"""Nodes that are a real QEMU machine (TCG) under libvirt, one machine shared by four
deploys, each ending in the deployed OS's first boot, and an inspection:

* an ipmi node through VirtualBMC: power and boot device over IPMI, the machine booting
  ingot's iPXE script from the network (boot device pxe), an NMI over IPMI;
* redfish nodes with the ipxe boot interface, through sushy-tools' emulator with its
  libvirt driver, booting the agent through iPXE with the boot device set over Redfish:
  an agent inspection then a deploy of the same node, and a deploy of a fresh node
  after it (an operator's usual order: the machine is inspected, then deployed);
* a redfish node with redfish-virtual-media: the virtual CD an ISO ingot builds for the
  node of its deploy kernel and ramdisk.

The agent is ``ingot ramdisk build``'s kernel and initramfs. Its kernel command line
(from ingot's iPXE script, or on the node's ISO) carries the API URL as the machine sees
it (10.0.2.2 on QEMU's user network), and from the node's kernel_append_params the host
port forwarded to its agent. The emulator downloads the ISO from ingot's HTTP root
([deploy] external_http_url: the host's loopback) and attaches it to the domain; the
agent writes the image (qcow2, fetched through ingot's HTTP root) and the config drive;
ingot boots the disk, whose OS prints what it read from its config drive on the serial
console and powers off.
"""

from __future__ import annotations

import dataclasses
import hashlib
import pathlib
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from ingot.demo.os_image import BOOTED, OS_MARKER
from ingot.ramdisk import build
from tests import factories
from tests.deploy.nodes import wait_for
from tests.servers.httproot import HttpRootServer
from tests.servers.ingot import IngotServer
from tests.servers.libvirt import Domain, default_pool, libvirt_daemon
from tests.servers.process import free_port
from tests.servers.qemu import os_disk, require_qemu
from tests.servers.redfish import PASSWORD, RedfishEmulator
from tests.servers.vbmc import PASSWORD as IPMI_PASSWORD
from tests.servers.vbmc import USERNAME as IPMI_USERNAME
from tests.servers.vbmc import VirtualBmc

pytestmark = pytest.mark.slow
DEPLOY_TIMEOUT = 600
# Linux's words for an NMI nothing claimed (printed at KERN_EMERG, so even when quiet)
NMI_SEEN = "NMI received for unknown reason"


def _sha256(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@pytest.fixture(scope="module")
def ports() -> dict[str, int]:
    return {"api": free_port(), "http": free_port(), "agent": free_port()}


def _agent_params(ports: dict[str, int]) -> str:
    return (f"ipa-advertise-host=127.0.0.1 ipa-advertise-port={ports['agent']} "
            f"console=ttyS0")


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpRootServer]:
    require_qemu()
    ramdisk = build.build(None, iso_append=None, progress=lambda line: print(line, flush=True))
    root = tmp_path_factory.mktemp("vmedia-origin")
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
            Domain(uri, workdir, factories.mac(), ports["agent"],
                   f"http://10.0.2.2:{ports['http']}/boot.ipxe") as machine:
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


def _move(api: httpx.Client, node: str, target: str, state: str,
          timeout: float = 120) -> dict[str, Any]:
    assert api.put(f"/v1/nodes/{node}/states/provision",
                   json={"target": target}).status_code == 202
    shown = wait_for(api, node, (state, "enroll", "clean failed", "inspect failed"),
                     timeout=timeout)
    assert shown["provision_state"] == state, shown["last_error"]
    return shown


def _enroll(api: httpx.Client, domain: Domain, body: dict[str, Any],
            provide: bool = True) -> str:
    """A node for the machine, made manageable (its power off), then available."""
    created = api.post("/v1/nodes", json={"automated_clean": False, **body})
    assert created.status_code == 201, created.text
    node = str(created.json()["uuid"])
    port = api.post("/v1/ports", json={"node_uuid": node, "address": domain.mac})
    assert port.status_code == 201, port.text
    shown = _move(api, node, "manage", "manageable")
    assert shown["power_state"] == "power off" and not domain.active()
    if provide:
        _move(api, node, "provide", "available")
    return node


def _image(origin: HttpRootServer) -> dict[str, str]:
    return {"image_source": f"{origin.url}/disk.qcow2",
            "image_checksum": _sha256(origin.root / "disk.qcow2"),
            "image_disk_format": "qcow2"}


def _agent_files(origin: HttpRootServer, ports: dict[str, int]) -> dict[str, str]:
    return {"deploy_kernel": f"{origin.url}/vmlinuz",
            "deploy_kernel_checksum": _sha256(origin.root / "vmlinuz"),
            "deploy_ramdisk": f"{origin.url}/initramfs",
            "deploy_ramdisk_checksum": _sha256(origin.root / "initramfs"),
            "kernel_append_params": _agent_params(ports)}


@dataclasses.dataclass
class Deployed:
    power_on_to_heartbeat: float
    power_on_to_active: float
    power_on_to_os: float
    serial: str  # the console from the deploy request on
    nmi: bool  # an NMI was injected while the agent ran, and its kernel saw it

    def timings(self) -> str:
        return (f"power-on to first heartbeat {self.power_on_to_heartbeat:.0f} s, "
                f"active {self.power_on_to_active:.0f} s, OS report {self.power_on_to_os:.0f} s")


def _inject_nmi(api: httpx.Client, node: str) -> None:
    # A heartbeat may hold the node for a moment: that is a 409 to retry.
    for _ in range(60):
        response = api.put(f"/v1/nodes/{node}/management/inject_nmi", json={})
        if response.status_code != 409:
            break
        time.sleep(0.5)
    assert response.status_code == 204, response.text


def _listeners(port: int) -> str:
    """Who listens on a host port (QEMU's forward to the agent, or something else)."""
    found = subprocess.run(["ss", "-Hltnp", f"sport = :{port}"], capture_output=True,
                           text=True, timeout=10, check=False)
    return found.stdout.strip() or "nothing"


def _deploy(api: httpx.Client, node: str, domain: Domain, hostname: str, user_data: str,
            bmc_log: Callable[[], str], nmi: bool = False) -> Deployed:
    """Deploy with a config drive and wait for the OS's report of it; the timings."""
    since = len(domain.serial())
    response = api.put(f"/v1/nodes/{node}/states/provision", json={
        "target": "active",
        "configdrive": {"meta_data": {"hostname": hostname}, "user_data": user_data}})
    assert response.status_code == 202, response.text
    started = time.monotonic()
    deadline = started + DEPLOY_TIMEOUT
    powered = heartbeat = None
    injected = False
    shown: dict[str, Any] = {}
    while time.monotonic() < deadline:
        if powered is None and domain.active():
            powered = time.monotonic()
        shown = api.get(f"/v1/nodes/{node}").json()
        if heartbeat is None and shown["driver_internal_info"].get("agent_url"):
            heartbeat = time.monotonic()
        if nmi and not injected and "ingot-ramdisk: started" in domain.serial(since):
            _inject_nmi(api, node)
            injected = True
        if shown["provision_state"] in ("active", "deploy failed", "error"):
            break
        time.sleep(1)
    assert shown.get("provision_state") == "active", \
        f"{shown.get('provision_state')}: {shown.get('last_error')}\n" \
        f"{domain.serial(since)[-4000:]}\n{bmc_log()[-3000:]}\n" \
        f"listening on the agent's forwarded port: {_listeners(domain.agent_port)}"
    active = time.monotonic()
    assert powered is not None and heartbeat is not None, "active without the agent"
    assert shown["power_state"] == "power on"
    assert "ingot-ramdisk: started" in domain.serial(since)
    while f"{OS_MARKER} done" not in domain.serial(since):
        assert time.monotonic() < deadline, domain.serial(since)[-3000:]
        time.sleep(1)
    serial = domain.serial(since)
    report = serial.split(BOOTED)[-1]
    assert f"{OS_MARKER} hostname={hostname}" in report, report
    assert f"{OS_MARKER} user_data={user_data}" in report, report
    return Deployed(heartbeat - powered, active - powered, time.monotonic() - powered,
                    serial, injected and NMI_SEEN in serial)


def _undeploy_and_delete(api: httpx.Client, node: str, domain: Domain) -> None:
    """Undeploy (the machine off), then free the machine and its MAC for the next node."""
    response = api.put(f"/v1/nodes/{node}/states/provision", json={"target": "deleted"})
    assert response.status_code == 202, response.text
    shown = wait_for(api, node, ("available", "error"), timeout=120)
    assert shown["provision_state"] == "available", shown["last_error"]
    assert shown["power_state"] == "power off" and not domain.active()
    assert api.delete(f"/v1/nodes/{node}").status_code == 204


def test_ipmi_boot_device_and_ipxe_deploy(
        ingot: IngotServer, ipmi_bmc: VirtualBmc, domain: Domain, origin: HttpRootServer,
        ports: dict[str, int]) -> None:
    with ingot.client() as api:
        node = _enroll(api, domain, {
            "driver": "ipmi", "boot_interface": "ipxe",
            "driver_info": {
                "ipmi_address": "127.0.0.1", "ipmi_port": ipmi_bmc.port,
                "ipmi_username": IPMI_USERNAME, "ipmi_password": IPMI_PASSWORD,
                **_agent_files(origin, ports)},
            "instance_info": _image(origin)})
        shown = api.get(f"/v1/nodes/{node}").json()
        assert shown["driver_info"]["ipmi_password"] == "******"
        # Boot device over IPMI, read back from the BMC (VirtualBMC reports every
        # override as for the next boot only).
        path = f"/v1/nodes/{node}/management/boot_device"
        for device, libvirt_device in (("pxe", "network"), ("disk", "hd")):
            response = api.put(path, json={"boot_device": device, "persistent": True})
            assert response.status_code == 204, response.text
            assert domain.boot_devices() == [libvirt_device]
            assert api.get(path).json() == {"boot_device": device, "persistent": False}
        response = api.put(path, json={"boot_device": "usb"})
        assert response.status_code == 400 and "usb" in response.json()["error_message"]
        assert domain.boot_devices() == ["hd"]

        deployed = _deploy(api, node, domain, "ingot-ipmi-host", "hello-over-ipmi", nmi=True,
                           bmc_log=ipmi_bmc.log)
        # The disk was blank and there is no CD: the agent came from the network.
        assert deployed.nmi, deployed.serial[-3000:]
        assert domain.boot_devices() == ["hd"]
        print(f"\nipmi, iPXE: {deployed.timings()}")
        _undeploy_and_delete(api, node, domain)
    assert IPMI_PASSWORD not in ingot.log()


def test_virtual_media_deploy_ends_in_the_deployed_os(
        ingot: IngotServer, bmc: RedfishEmulator, domain: Domain, origin: HttpRootServer,
        ports: dict[str, int]) -> None:
    """No deploy_iso: ingot builds the node's ISO of its deploy kernel and ramdisk, the
    agent's parameters on its kernel command line."""
    with ingot.client() as api:
        node = _enroll(api, domain, {
            "driver": "redfish", "boot_interface": "redfish-virtual-media",
            "driver_info": bmc.driver_info(domain.uuid, **_agent_files(origin, ports)),
            "instance_info": _image(origin)})
        deployed = _deploy(api, node, domain, "ingot-vmedia-host", "hello-over-redfish",
                           bmc_log=bmc.log)
        # Ejected and booting from the disk, as the BMC reports it.
        system = bmc.system(domain.uuid)
        assert system["Boot"]["BootSourceOverrideTarget"] == "Hdd"
        cd = bmc.get(f"{system['VirtualMedia']['@odata.id']}/Cd").json()
        assert cd["Inserted"] is False, cd
        print(f"\nvirtual media: {deployed.timings()}")
        _undeploy_and_delete(api, node, domain)


def test_redfish_inspection_then_deploy_of_the_same_node(
        ingot: IngotServer, bmc: RedfishEmulator, domain: Domain, origin: HttpRootServer,
        ports: dict[str, int]) -> None:
    """Agent inspection boots the agent through iPXE, the boot device set over Redfish;
    the inspected node is then deployed to its OS's first boot (a new agent boot)."""
    with ingot.client() as api:
        node = _enroll(api, domain, {
            "driver": "redfish", "boot_interface": "ipxe",
            "driver_info": bmc.driver_info(domain.uuid, **_agent_files(origin, ports)),
            "instance_info": _image(origin)}, provide=False)
        since = len(domain.serial())
        started = time.monotonic()
        shown = _move(api, node, "inspect", "manageable", timeout=DEPLOY_TIMEOUT)
        inspected = time.monotonic() - started
        assert shown["inspect_interface"] == "agent"
        properties = shown["properties"]
        assert properties["cpu_arch"] == "x86_64" and properties["cpus"] == 1
        assert 900 <= properties["memory_mb"] <= 1024
        assert "Posting the inventory" in domain.serial(since)
        # No CD, and the disk held the last deploy's OS: the agent came from the network.
        system = bmc.system(domain.uuid)
        assert system["Boot"]["BootSourceOverrideTarget"] == "Pxe"
        assert bmc.get(f"{system['VirtualMedia']['@odata.id']}/Cd").json()["Inserted"] \
            is False
        # Inspection over, the agent's boot ends, its iPXE config with it.
        assert shown["power_state"] == "power off" and not domain.active()
        assert not (ingot.workdir / "state" / "httpboot" / node).exists()
        print(f"\nredfish, iPXE: inspection {inspected:.0f} s from its request")

        _move(api, node, "provide", "available")
        deployed = _deploy(api, node, domain, "ingot-inspected-host", "hello-after-inspection",
                           bmc_log=bmc.log)
        assert domain.device_boot_order()[0] == "hd"
        print(f"\nredfish, iPXE after inspection: {deployed.timings()}")
        _undeploy_and_delete(api, node, domain)
    assert PASSWORD not in ingot.log()


def test_redfish_ipxe_deploy_ends_in_the_deployed_os(
        ingot: IngotServer, bmc: RedfishEmulator, domain: Domain, origin: HttpRootServer,
        ports: dict[str, int]) -> None:
    """The agent booted through iPXE, the boot device set over Redfish, on a fresh node
    of the machine the last test inspected and deployed."""
    with ingot.client() as api:
        node = _enroll(api, domain, {
            "driver": "redfish", "boot_interface": "ipxe",
            "driver_info": bmc.driver_info(domain.uuid, **_agent_files(origin, ports)),
            "instance_info": _image(origin)})
        # Boot device over Redfish, read back from the domain's definition and the BMC.
        path = f"/v1/nodes/{node}/management/boot_device"
        response = api.put(path, json={"boot_device": "pxe", "persistent": True})
        assert response.status_code == 204, response.text
        # sushy-tools' libvirt driver sets it as the NIC's per-device boot order.
        assert domain.device_boot_order()[0] == "network" and domain.boot_devices() == []
        assert api.get(path).json()["boot_device"] == "pxe"
        assert bmc.system(domain.uuid)["Boot"]["BootSourceOverrideTarget"] == "Pxe"

        deployed = _deploy(api, node, domain, "ingot-redfish-ipxe-host",
                           "hello-over-redfish-ipxe", bmc_log=bmc.log)
        # No CD, and the disk held the last deploy's OS: the agent came from the network;
        # the deployed OS then booted from the disk, as the BMC and libvirt report it.
        system = bmc.system(domain.uuid)
        assert bmc.get(f"{system['VirtualMedia']['@odata.id']}/Cd").json()["Inserted"] \
            is False
        assert system["Boot"]["BootSourceOverrideTarget"] == "Hdd"
        assert domain.device_boot_order()[0] == "hd"
        print(f"\nredfish, iPXE: {deployed.timings()}")
        _undeploy_and_delete(api, node, domain)
