"""The ramdisk deploy interface on the generic hardware types, as in Ironic: a redfish
node (sushy-tools' emulator, fake driver: the BMC keeps power and boot override, nothing
boots) deploys a ramdisk instance through the API: its iPXE config boots the instance's
kernel and ramdisk, the BMC is told to network boot persistently and powers on; undeploy
powers off and removes the config. An ipmi node takes the interface too; a boot
interface that cannot boot over iPXE (redfish-virtual-media) is a 400 naming it. The
instance booting for real: test_qemu_ramdisk_instance.py (qemu-vm).
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests import factories
from tests.deploy.nodes import provision, wait_for
from tests.servers.httproot import HttpRootServer
from tests.servers.ingot import IngotServer
from tests.servers.redfish import RedfishEmulator

SYSTEM = str(uuid.uuid4())
POWER_WAIT = 40


@pytest.fixture(scope="module")
def bmc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedfishEmulator]:
    fake = [{"uuid": SYSTEM, "name": "ramdisk", "power_state": "Off",
             "nics": [{"mac": factories.mac(), "ip": "192.0.2.10"}]}]
    with RedfishEmulator(tmp_path_factory.mktemp("sushy-ramdisk"), fake_systems=fake) as server:
        yield server


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpRootServer]:
    root = tmp_path_factory.mktemp("instance-files")
    (root / "vmlinuz").write_bytes(b"kernel" * 100)
    (root / "initrd").write_bytes(b"ramdisk" * 100)
    with HttpRootServer(root) as server:
        yield server


@pytest.fixture(scope="module")
def ingot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IngotServer]:
    server = IngotServer(tmp_path_factory.mktemp("ramdisk-types"), options={
        "DEFAULT": {"enabled_hardware_types": "fake-hardware,ipmi,redfish"},
        "redfish": {"connection_attempts": 2, "connection_retry_interval": 0.5,
                    "connect_timeout": 2},
        "conductor": {"power_state_change_timeout": POWER_WAIT},
    }).start()
    yield server
    server.stop()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _instance_info(files: HttpRootServer) -> dict[str, Any]:
    return {"kernel": f"{files.url}/vmlinuz",
            "kernel_checksum": _sha256((files.root / "vmlinuz").read_bytes()),
            "ramdisk": f"{files.url}/initrd",
            "ramdisk_checksum": _sha256((files.root / "initrd").read_bytes()),
            "kernel_append_params": "console=ttyS0 ramdisk-instance"}


def _redfish_info(bmc: RedfishEmulator, files: HttpRootServer) -> dict[str, Any]:
    # The deploy ramdisk is never booted by a ramdisk deploy, but the ipxe boot
    # interface validates it as for any deploy.
    return bmc.driver_info(
        SYSTEM, deploy_kernel=f"{files.url}/vmlinuz",
        deploy_kernel_checksum=_sha256((files.root / "vmlinuz").read_bytes()),
        deploy_ramdisk=f"{files.url}/initrd",
        deploy_ramdisk_checksum=_sha256((files.root / "initrd").read_bytes()))


def _power(api: httpx.Client, node: str, state: str) -> None:
    deadline = time.monotonic() + POWER_WAIT + 10
    while (shown := api.get(f"/v1/nodes/{node}").json())["power_state"] != state:
        assert time.monotonic() < deadline, shown
        time.sleep(0.3)


def test_redfish_node_deploys_and_undeploys_a_ramdisk_instance(
        ingot: IngotServer, bmc: RedfishEmulator, files: HttpRootServer) -> None:
    with ingot.client() as api:
        created = api.post("/v1/nodes", json={
            "driver": "redfish", "boot_interface": "ipxe", "deploy_interface": "ramdisk",
            "automated_clean": False, "driver_info": _redfish_info(bmc, files),
            "instance_info": _instance_info(files)})
        assert created.status_code == 201, created.text
        node = created.json()["uuid"]
        assert api.post("/v1/ports", json={"node_uuid": node, "address": factories.mac()}
                        ).status_code == 201
        validated = api.get(f"/v1/nodes/{node}/validate").json()
        assert validated["deploy"] == {"result": True}, validated
        provision(api, node, "manage", ("manageable",))
        assert provision(api, node, "provide", ("available",))["provision_state"] == \
            "available"
        response = api.put(f"/v1/nodes/{node}/states/provision", json={"target": "active"})
        assert response.status_code == 202, response.text
        shown = wait_for(api, node, ("active", "deploy failed"), timeout=POWER_WAIT + 20)
        assert shown["provision_state"] == "active", shown["last_error"]
        config = (ingot.workdir / "state" / "httpboot" / node / "config").read_text()
        assert f"/{node}/kernel console=ttyS0 ramdisk-instance initrd=ramdisk" in config
        assert f"/{node}/ramdisk" in config and "ipa-api-url" not in config
        boot = bmc.system(SYSTEM)["Boot"]
        assert (boot["BootSourceOverrideTarget"], boot["BootSourceOverrideEnabled"]) == \
            ("Pxe", "Continuous"), boot
        _power(api, node, "power on")
        assert bmc.system(SYSTEM)["PowerState"] == "On"

        response = api.put(f"/v1/nodes/{node}/states/provision", json={"target": "deleted"})
        assert response.status_code == 202, response.text
        done = wait_for(api, node, ("available", "error"), timeout=POWER_WAIT + 20)
        assert done["provision_state"] == "available", done["last_error"]
        assert bmc.system(SYSTEM)["PowerState"] == "Off"
        assert not (ingot.workdir / "state" / "httpboot" / node).exists()


def test_virtual_media_boot_cannot_carry_a_ramdisk_instance(
        ingot: IngotServer, bmc: RedfishEmulator, files: HttpRootServer) -> None:
    with ingot.client() as api:
        created = api.post("/v1/nodes", json={
            "driver": "redfish", "boot_interface": "redfish-virtual-media",
            "deploy_interface": "ramdisk", "driver_info": _redfish_info(bmc, files),
            "instance_info": _instance_info(files)})
        assert created.status_code == 201, created.text
        node = created.json()["uuid"]
        deploy = api.get(f"/v1/nodes/{node}/validate").json()["deploy"]
        assert deploy["result"] is False
        assert "boot_interface 'redfish-virtual-media'" in deploy["reason"], deploy


def test_ipmi_node_takes_the_ramdisk_deploy_interface(
        ingot: IngotServer, files: HttpRootServer) -> None:
    with ingot.client() as api:
        created = api.post("/v1/nodes", json={
            "driver": "ipmi", "deploy_interface": "ramdisk",
            "driver_info": {"ipmi_address": "127.0.0.1"},
            "instance_info": {"boot_iso": f"{files.url}/x.iso"}})
        assert created.status_code == 201, created.text
        node = created.json()
        assert (node["deploy_interface"], node["boot_interface"]) == ("ramdisk", "ipxe")
        deploy = api.get(f"/v1/nodes/{node['uuid']}/validate").json()["deploy"]
        # The ISO takes the place of kernel and ramdisk; like them it needs a checksum.
        assert deploy == {"result": False, "reason": "instance_info boot_iso_checksum is "
                          "required for a boot_iso that is not a Glance image."}, deploy
        patched = api.patch(f"/v1/nodes/{node['uuid']}", json=[
            {"op": "add", "path": "/instance_info/boot_iso_checksum", "value": "0" * 64}])
        assert patched.status_code == 200, patched.text
        deploy = api.get(f"/v1/nodes/{node['uuid']}/validate").json()["deploy"]
        assert deploy == {"result": True}, deploy
