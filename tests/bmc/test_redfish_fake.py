"""The redfish hardware type against sushy-tools' emulator with its fake driver (systems
that keep their power state and boot override; nothing boots): the API-level flows.

The fake driver applies a power change 1 to 11 s after the request, as real BMCs take
their time; ingot waits for the state it asked for.
"""

from __future__ import annotations

import contextlib
import hashlib
import pathlib
import sqlite3
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from ingot.db.models import nodes
from tests import factories
from tests.assertions import fault, snapshot
from tests.deploy.nodes import wait_for
from tests.inspection.inventories import inventory
from tests.servers.httproot import HttpRootServer
from tests.servers.ingot import IngotServer
from tests.servers.origin import Fault, Origin
from tests.servers.process import free_port
from tests.servers.redfish import PASSWORD, USERNAME, RedfishEmulator

SYSTEMS = [str(uuid.uuid4()) for _ in range(15)]
POWER_WAIT = 40


@pytest.fixture(scope="module")
def bmc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedfishEmulator]:
    fake = [{"uuid": system, "name": f"fake-{n}", "power_state": "Off",
             "nics": [{"mac": factories.mac(), "ip": "192.0.2.10"}]}
            for n, system in enumerate(SYSTEMS)]
    with RedfishEmulator(tmp_path_factory.mktemp("sushy-fake"), fake_systems=fake) as server:
        yield server


@pytest.fixture(scope="module")
def tls_bmc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedfishEmulator]:
    fake = [{"uuid": SYSTEMS[0], "name": "tls", "power_state": "On", "nics": []}]
    with RedfishEmulator(tmp_path_factory.mktemp("sushy-tls"), fake_systems=fake,
                         tls=True) as server:
        yield server


@pytest.fixture(scope="module")
def boot_files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpRootServer]:
    root = tmp_path_factory.mktemp("boot-files")
    (root / "vmlinuz").write_bytes(b"kernel" * 100)
    (root / "initramfs").write_bytes(b"ramdisk" * 100)
    (root / "agent.iso").write_bytes(b"iso" * 1000)
    with HttpRootServer(root) as server:
        yield server


@pytest.fixture(scope="module")
def ingot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IngotServer]:
    server = IngotServer(tmp_path_factory.mktemp("redfish-ingot"), options={
        "DEFAULT": {"enabled_hardware_types": "fake-hardware,redfish"},
        "redfish": {"connection_attempts": 2, "connection_retry_interval": 0.5,
                    "connect_timeout": 2},
        "conductor": {"power_state_change_timeout": POWER_WAIT},
    }).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def syncing_ingot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IngotServer]:
    server = IngotServer(tmp_path_factory.mktemp("redfish-sync"), options={
        "DEFAULT": {"enabled_hardware_types": "redfish"},
        "redfish": {"connection_attempts": 1, "connect_timeout": 2},
        "conductor": {"sync_power_state_interval": 1, "power_state_sync_max_retries": 2},
    }).start()
    yield server
    server.stop()


def _create(api: httpx.Client, driver_info: dict[str, Any], **fields: Any) -> str:
    created = api.post("/v1/nodes", json={"driver": "redfish", "driver_info": driver_info,
                                          **fields})
    assert created.status_code == 201, created.text
    return str(created.json()["uuid"])


def _wait_power(api: httpx.Client, node: str, state: str) -> dict[str, Any]:
    deadline = time.monotonic() + POWER_WAIT + 10
    shown: dict[str, Any] = {}
    while time.monotonic() < deadline:
        shown = api.get(f"/v1/nodes/{node}").json()
        if shown["target_power_state"] is None and (shown["power_state"] == state
                                                     or shown["last_error"]):
            return shown
        time.sleep(0.2)
    raise AssertionError(f"power state {shown.get('power_state')}: {shown.get('last_error')}")


def _manage(api: httpx.Client, node: str) -> dict[str, Any]:
    response = api.put(f"/v1/nodes/{node}/states/provision", json={"target": "manage"})
    assert response.status_code == 202, response.text
    return wait_for(api, node, ("manageable", "enroll"), timeout=30)


def test_power_through_the_bmc(ingot: IngotServer, bmc: RedfishEmulator) -> None:
    with ingot.client() as api:
        node = _create(api, bmc.driver_info(SYSTEMS[0]))
        managed = _manage(api, node)
        assert managed["provision_state"] == "manageable", managed["last_error"]
        assert managed["power_state"] == "power off"
        for target, body, reached, emulated in (
                ("power on", {}, "power on", "On"),
                ("power off", {}, "power off", "Off"),
                ("soft rebooting", {}, "power on", "On"),  # from off: just on
                ("soft power off", {"timeout": 30}, "power off", "Off")):
            response = api.put(f"/v1/nodes/{node}/states/power",
                               json={"target": target, **body})
            assert response.status_code == 202, response.text
            shown = _wait_power(api, node, reached)
            assert shown["power_state"] == reached, shown["last_error"]
            assert shown["last_error"] is None
            assert bmc.system(SYSTEMS[0])["PowerState"] == emulated


@pytest.mark.parametrize(("driver_info", "field"), [
    ({"redfish_password": PASSWORD}, "redfish_address"),
    ({"redfish_address": "ftp://127.0.0.1/"}, "redfish_address"),
    ({"redfish_address": "127.0.0.1:99999"}, "redfish_address"),
    ({"redfish_address": "http://127.0.0.1", "redfish_auth_type": "kerberos"},
     "redfish_auth_type"),
    ({"redfish_address": "http://127.0.0.1", "redfish_verify_ca": "/nonexistent/ca.pem"},
     "redfish_verify_ca"),
    ({"redfish_address": "http://127.0.0.1", "redfish_system_id": ""}, "redfish_system_id"),
])
def test_bad_driver_info_is_a_400_naming_the_field(
        ingot: IngotServer, driver_info: dict[str, Any], field: str) -> None:
    with ingot.client() as api:
        node = _create(api, driver_info)
        validated = api.get(f"/v1/nodes/{node}/validate").json()
        for kind in ("power", "management"):
            assert validated[kind]["result"] is False
            assert field in validated[kind]["reason"]
        response = api.put(f"/v1/nodes/{node}/states/power", json={"target": "power on"})
        assert response.status_code == 400, response.text
        assert field in response.json()["error_message"]
        shown = api.get(f"/v1/nodes/{node}").json()
        assert shown["target_power_state"] is None and shown["power_state"] is None


def test_the_password_is_masked(ingot: IngotServer, bmc: RedfishEmulator) -> None:
    with ingot.client() as api:
        node = _create(api, bmc.driver_info(SYSTEMS[1]))
        shown = api.get(f"/v1/nodes/{node}").json()
        assert shown["driver_info"]["redfish_password"] == "******"
        assert shown["driver_info"]["redfish_username"] == USERNAME
        listed = api.get("/v1/nodes/detail").text
        assert PASSWORD not in listed
        assert _manage(api, node)["provision_state"] == "manageable"
    assert PASSWORD not in ingot.log()


def test_refused_password_is_a_clear_last_error_and_nothing_is_lost(
        ingot: IngotServer, bmc: RedfishEmulator) -> None:
    with ingot.client() as api:
        node = _create(api, bmc.driver_info(SYSTEMS[2], redfish_password="wrong-Pw-42"))
        failed = _manage(api, node)
        assert failed["provision_state"] == "enroll"
        assert "refused the credentials" in failed["last_error"]
        assert "wrong-Pw-42" not in failed["last_error"]
        assert failed["driver_info"]["redfish_address"] == bmc.url
        # The operator fixes the password; the node is as it was and now manageable.
        patched = api.patch(f"/v1/nodes/{node}", json=[
            {"op": "replace", "path": "/driver_info/redfish_password", "value": PASSWORD}])
        assert patched.status_code == 200, patched.text
        managed = _manage(api, node)
        assert managed["provision_state"] == "manageable", managed["last_error"]
        assert managed["last_error"] is None
    assert "wrong-Pw-42" not in ingot.log()


def test_bmc_down_is_a_clear_last_error(ingot: IngotServer, bmc: RedfishEmulator) -> None:
    with ingot.client() as api:
        down = f"http://127.0.0.1:{free_port()}"
        node = _create(api, {**bmc.driver_info(SYSTEMS[2]), "redfish_address": down})
        failed = _manage(api, node)
        assert failed["provision_state"] == "enroll"
        assert f"Redfish BMC {down} cannot be reached" in failed["last_error"]
        response = api.put(f"/v1/nodes/{node}/states/power", json={"target": "power on"})
        assert response.status_code == 202
        shown = _wait_power(api, node, "power on")
        assert "cannot be reached" in shown["last_error"]
        assert shown["power_state"] is None and shown["provision_state"] == "enroll"


def test_tls_verification(ingot: IngotServer, tls_bmc: RedfishEmulator) -> None:
    assert tls_bmc.ca is not None
    with ingot.client() as api:
        node = _create(api, tls_bmc.driver_info(SYSTEMS[0]))
        failed = _manage(api, node)
        assert failed["provision_state"] == "enroll"
        assert "TLS verification of its certificate failed" in failed["last_error"]
        patched = api.patch(f"/v1/nodes/{node}", json=[
            {"op": "add", "path": "/driver_info/redfish_verify_ca",
             "value": str(tls_bmc.ca)}])
        assert patched.status_code == 200, patched.text
        managed = _manage(api, node)
        assert managed["provision_state"] == "manageable", managed["last_error"]
        assert managed["power_state"] == "power on"


def _sha256(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _slot(bmc: RedfishEmulator, system: str, slot: str) -> dict[str, Any]:
    """The system's virtual media slot (Cd, Floppy) as the BMC reports it."""
    response = bmc.get(f"{bmc.system(system)['VirtualMedia']['@odata.id']}/{slot}")
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def _deploy_ramdisk(boot_files: HttpRootServer) -> dict[str, str]:
    """driver_info naming boot_files' deploy kernel and ramdisk."""
    root = boot_files.root
    return {"deploy_kernel": f"{boot_files.url}/vmlinuz",
            "deploy_kernel_checksum": _sha256(root / "vmlinuz"),
            "deploy_ramdisk": f"{boot_files.url}/initramfs",
            "deploy_ramdisk_checksum": _sha256(root / "initramfs")}


def _image(boot_files: HttpRootServer) -> dict[str, str]:
    """instance_info naming an image of boot_files (nothing boots it here)."""
    return {"image_source": f"{boot_files.url}/vmlinuz",
            "image_checksum": _sha256(boot_files.root / "vmlinuz")}


def _deploy_to_call_back(api: httpx.Client, node: str) -> dict[str, Any]:
    """Manage, provide and deploy the node: it waits for an agent that never calls back."""
    assert _manage(api, node)["provision_state"] == "manageable"
    response = api.put(f"/v1/nodes/{node}/states/provision", json={"target": "provide"})
    assert response.status_code == 202
    assert wait_for(api, node, ("available",), timeout=30)
    response = api.put(f"/v1/nodes/{node}/states/provision", json={"target": "active"})
    assert response.status_code == 202, response.text
    shown = wait_for(api, node, ("wait call-back", "deploy failed"), timeout=POWER_WAIT + 20)
    assert shown["provision_state"] == "wait call-back", shown["last_error"]
    return shown


def _abort_deploy(api: httpx.Client, node: str) -> None:
    """Abort the deploy waiting for its call-back: the node is available again."""
    response = api.put(f"/v1/nodes/{node}/states/provision", json={"target": "deleted"})
    assert response.status_code == 202, response.text
    done = wait_for(api, node, ("available", "deploy failed", "error"),
                    timeout=POWER_WAIT + 20)
    assert done["provision_state"] == "available", done["last_error"]


def _inspect_to_wait(api: httpx.Client, node: str) -> None:
    """Manage the node and start an agent inspection: it waits for the agent."""
    assert _manage(api, node)["provision_state"] == "manageable"
    response = api.put(f"/v1/nodes/{node}/states/provision", json={"target": "inspect"})
    assert response.status_code == 202, response.text
    shown = wait_for(api, node, ("inspect wait", "inspect failed"), timeout=POWER_WAIT + 20)
    assert shown["provision_state"] == "inspect wait", shown["last_error"]


def test_virtual_media_deploy_inserts_boots_once_and_ejects(
        ingot: IngotServer, bmc: RedfishEmulator, boot_files: HttpRootServer) -> None:
    root = boot_files.root
    with ingot.client() as api:
        node = _create(api, {
            **bmc.driver_info(SYSTEMS[5]),
            "deploy_iso": f"{boot_files.url}/agent.iso",
            "deploy_iso_checksum": _sha256(root / "agent.iso")},
            automated_clean=False, boot_interface="redfish-virtual-media",
            instance_info=_image(boot_files))
        assert api.get(f"/v1/nodes/{node}/validate").json()["boot"]["result"] is True
        _deploy_to_call_back(api, node)
        cd = _slot(bmc, SYSTEMS[5], "Cd")
        # The emulator fetched the ISO from ingot's HTTP root.
        assert cd["Inserted"] is True and cd["Image"].endswith(f"/{node}/deploy.iso"), cd
        system = bmc.system(SYSTEMS[5])
        assert system["Boot"]["BootSourceOverrideTarget"] == "Cd"
        assert system["PowerState"] == "On"
        _abort_deploy(api, node)
        assert _slot(bmc, SYSTEMS[5], "Cd")["Inserted"] is False
        assert not (ingot.workdir / "state" / "httpboot" / node / "deploy.iso").exists()


def test_ipxe_deploy_sets_pxe_and_powers_on(
        ingot: IngotServer, bmc: RedfishEmulator, boot_files: HttpRootServer) -> None:
    with ingot.client() as api:
        node = _create(api, {**bmc.driver_info(SYSTEMS[3]), **_deploy_ramdisk(boot_files)},
                       automated_clean=False, boot_interface="ipxe",
                       instance_info=_image(boot_files))
        port = api.post("/v1/ports", json={"node_uuid": node, "address": factories.mac()})
        assert port.status_code == 201, port.text
        shown = _deploy_to_call_back(api, node)
        system = bmc.system(SYSTEMS[3])
        assert system["Boot"]["BootSourceOverrideTarget"] == "Pxe"
        assert system["PowerState"] == "On"
        assert shown["power_state"] == "power on"
        # Nothing will heartbeat: abort powers the server off.
        _abort_deploy(api, node)
        assert bmc.system(SYSTEMS[3])["PowerState"] == "Off"


def _until(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.3)
    raise AssertionError(what)


def test_power_state_sync(syncing_ingot: IngotServer, bmc: RedfishEmulator) -> None:
    with syncing_ingot.client() as api:
        node = _create(api, bmc.driver_info(SYSTEMS[4]))
        assert _manage(api, node)["power_state"] == "power off"

        def show() -> dict[str, Any]:
            result: dict[str, Any] = api.get(f"/v1/nodes/{node}").json()
            return result

        def history() -> list[dict[str, Any]]:
            # Read from the database: the API serves history from 1.78, not advertised yet.
            with contextlib.closing(sqlite3.connect(syncing_ingot.db_url.removeprefix(
                    "sqlite:///"))) as db:
                rows = db.execute("SELECT severity, event FROM node_history JOIN nodes ON "
                                  "nodes.id = node_history.node_id WHERE nodes.uuid = ? "
                                  "ORDER BY node_history.id", (node,)).fetchall()
            return [{"severity": severity, "event": event} for severity, event in rows]

        # Switched on behind ingot's back: the sync records it, in the node's history too.
        bmc.reset(SYSTEMS[4], "On")
        _until(lambda: show()["power_state"] == "power on", 30, "power on never synced")
        changed = [e for e in history() if "changed outside ingot" in e["event"]]
        assert len(changed) == 1 and changed[0]["severity"] == "INFO", history()

        # The BMC stops answering: after 2 failed reads the node goes to maintenance.
        down = f"http://127.0.0.1:{free_port()}"
        patched = api.patch(f"/v1/nodes/{node}", json=[
            {"op": "replace", "path": "/driver_info/redfish_address", "value": down}])
        assert patched.status_code == 200, patched.text
        shown = _until(lambda: (lambda n: n if n["maintenance"] else None)(show()), 30,
                       "never put in maintenance")
        assert shown["fault"] == "power failure"
        assert "max retries exceeded" in shown["maintenance_reason"]
        assert "cannot be reached" in shown["last_error"]
        assert shown["power_state"] == "power on"  # the last state known is kept
        errors = [e for e in history() if e["severity"] == "ERROR"]
        assert errors and "cannot be reached" in errors[-1]["event"]
        # As Ironic: no virtual media change for a node in maintenance for a power failure.
        vmedia, v189 = f"/v1/nodes/{node}/vmedia", {"X-OpenStack-Ironic-API-Version": "1.89"}
        for verb, answer in (
                ("attach", api.post(vmedia, headers=v189, json={
                    "device_type": "cdrom", "image_url": "http://127.0.0.1/a.iso"})),
                ("detach", api.delete(vmedia, headers=v189))):
            assert answer.status_code == 503, answer.text
            assert fault(answer) == (f"Unable to {verb} virtual media for node {node} due "
                                     f"to power failure state")
        assert show()["last_error"] == shown["last_error"]

        # The BMC is back: the next read ends the maintenance for the power failure.
        patched = api.patch(f"/v1/nodes/{node}", json=[
            {"op": "replace", "path": "/driver_info/redfish_address", "value": bmc.url}])
        assert patched.status_code == 200, patched.text
        shown = _until(lambda: (lambda n: None if n["maintenance"] else n)(show()), 30,
                       "maintenance never ended")
        assert shown["fault"] is None and shown["maintenance_reason"] is None
        assert any("maintenance for a power failure is over" in e["event"]
                   for e in history())


def test_boot_mode_secure_boot_and_supported_devices(
        ingot: IngotServer, bmc: RedfishEmulator) -> None:
    with ingot.client("1.76") as api:
        node = _create(api, bmc.driver_info(SYSTEMS[6]))
        assert _manage(api, node)["provision_state"] == "manageable"
        supported = api.get(f"/v1/nodes/{node}/management/boot_device/supported").json()
        assert {"pxe", "disk", "cdrom"} <= set(supported["supported_boot_devices"])
        for mode, emulated in (("bios", "Legacy"), ("uefi", "UEFI")):
            response = api.put(f"/v1/nodes/{node}/states/boot_mode", json={"target": mode})
            assert response.status_code == 202, response.text
            shown = _until(lambda m=mode: (lambda n: n if n["boot_mode"] == m
                                           or n["last_error"] else None)(
                api.get(f"/v1/nodes/{node}").json()), 30, "boot mode never set")
            assert shown["boot_mode"] == mode, shown["last_error"]
            assert bmc.system(SYSTEMS[6])["Boot"]["BootSourceOverrideMode"] == emulated
        response = api.put(f"/v1/nodes/{node}/states/secure_boot", json={"target": True})
        assert response.status_code == 202, response.text
        shown = _until(lambda: (lambda n: n if n["secure_boot"] or n["last_error"] else None)(
            api.get(f"/v1/nodes/{node}").json()), 30, "secure boot never set")
        assert shown["secure_boot"] is True, shown["last_error"]
        secure = bmc.get(bmc.system(SYSTEMS[6])["SecureBoot"]["@odata.id"]).json()
        assert secure["SecureBootEnable"] is True


def test_boot_device_and_nmi_are_asked_of_the_bmc(
        ingot: IngotServer, bmc: RedfishEmulator) -> None:
    """The management endpoints answer synchronously from the BMC, as Ironic's."""
    with ingot.client("1.29") as api:
        node = _create(api, bmc.driver_info(SYSTEMS[7]))
        path = f"/v1/nodes/{node}/management/boot_device"
        # The emulator keeps the target but always reports the override Continuous.
        for device, persistent, target in (("pxe", True, "Pxe"), ("cdrom", False, "Cd")):
            response = api.put(path, json={"boot_device": device, "persistent": persistent})
            assert response.status_code == 204, response.text
            assert bmc.system(SYSTEMS[7])["Boot"]["BootSourceOverrideTarget"] == target
            assert api.get(path).json() == {"boot_device": device, "persistent": True}
        response = api.put(path, json={"boot_device": "floppy"})
        assert response.status_code == 400 and "floppy" in response.json()["error_message"]
        assert bmc.system(SYSTEMS[7])["Boot"]["BootSourceOverrideTarget"] == "Cd"
        # The fake driver's systems cannot take an NMI: the BMC's refusal, not a 500.
        response = api.put(f"/v1/nodes/{node}/management/inject_nmi", json={})
        assert response.status_code == 503, response.text
        assert f"Redfish BMC {bmc.url}" in response.json()["error_message"]
        down = f"http://127.0.0.1:{free_port()}"
        patched = api.patch(f"/v1/nodes/{node}", json=[
            {"op": "replace", "path": "/driver_info/redfish_address", "value": down}])
        assert patched.status_code == 200, patched.text
        response = api.get(path)
        assert response.status_code == 503
        assert "cannot be reached" in response.json()["error_message"]
        assert PASSWORD not in response.text


def test_agent_inspection_boots_the_ramdisk_through_the_bmc(
        ingot: IngotServer, bmc: RedfishEmulator, boot_files: HttpRootServer) -> None:
    """Inspection sets the boot device and powers on over Redfish (nothing boots here;
    tests/bmc/test_redfish_libvirt.py has a machine answer); abort powers it off."""
    with ingot.client() as api:
        node = _create(api, {**bmc.driver_info(SYSTEMS[8]),
                             **_deploy_ramdisk(boot_files)}, boot_interface="ipxe")
        assert api.get(f"/v1/nodes/{node}").json()["inspect_interface"] == "agent"
        port = api.post("/v1/ports", json={"node_uuid": node, "address": factories.mac()})
        assert port.status_code == 201, port.text
        _inspect_to_wait(api, node)
        system = bmc.system(SYSTEMS[8])
        assert system["Boot"]["BootSourceOverrideTarget"] == "Pxe"
        assert system["PowerState"] == "On"
        response = api.put(f"/v1/nodes/{node}/states/provision", json={"target": "abort"})
        assert response.status_code == 202, response.text
        _until(lambda: bmc.system(SYSTEMS[8])["PowerState"] == "Off", POWER_WAIT + 20,
               "an aborted inspection left the server on")
        assert api.get(f"/v1/nodes/{node}").json()["provision_state"] == "inspect failed"


def test_inspection_end_removes_the_nodes_ipxe_config(
        ingot: IngotServer, bmc: RedfishEmulator, boot_files: HttpRootServer) -> None:
    """The inventory posted, the inspection's boot ends: the server off and the node's
    iPXE config and MAC link gone, as a deploy's cleanup leaves them."""
    http_root = ingot.workdir / "state" / "httpboot"
    mac = factories.mac()
    with ingot.client() as api:
        node = _create(api, {**bmc.driver_info(SYSTEMS[12]),
                             **_deploy_ramdisk(boot_files)}, boot_interface="ipxe")
        port = api.post("/v1/ports", json={"node_uuid": node, "address": mac})
        assert port.status_code == 201, port.text
        _inspect_to_wait(api, node)
        link = http_root / "pxelinux.cfg" / mac.replace(":", "-")
        assert "ipa-inspection-callback-url" in link.read_text()
        assert (http_root / node / "deploy_kernel").is_file()
        for _ in range(20):  # 503 while a conductor holds the node a moment
            posted = httpx.post(f"{api.base_url}/v1/continue_inspection",
                                json=inventory([mac], pxe=mac), timeout=30, trust_env=False)
            if posted.status_code != 503:
                break
            time.sleep(0.5)
        assert posted.status_code == 202, posted.text
        shown = wait_for(api, node, ("manageable", "inspect failed"), timeout=POWER_WAIT + 20)
        assert shown["provision_state"] == "manageable", shown["last_error"]
        assert shown["power_state"] == "power off"
        assert bmc.system(SYSTEMS[12])["PowerState"] == "Off"
        assert not link.is_symlink() and not (http_root / node).exists()


def test_virtual_media_builds_a_per_node_iso_with_the_kernel_parameters(
        ingot: IngotServer, bmc: RedfishEmulator, boot_files: HttpRootServer) -> None:
    """Without a deploy_iso, the node's deploy kernel and ramdisk become an ISO whose
    command line carries the agent's parameters, as no iPXE script can here."""
    with ingot.client() as api:
        node = _create(api, bmc.driver_info(SYSTEMS[9]), automated_clean=False,
                       boot_interface="redfish-virtual-media", instance_info=_image(boot_files))
        boot = api.get(f"/v1/nodes/{node}/validate").json()["boot"]
        assert boot["result"] is False and "deploy_iso" in boot["reason"]
        patched = api.patch(f"/v1/nodes/{node}", json=[
            {"op": "add", "path": f"/driver_info/{field}", "value": value}
            for field, value in (
                *_deploy_ramdisk(boot_files).items(),
                ("kernel_append_params", "console=ttyS0 ingot.test=vmedia"))])
        assert patched.status_code == 200, patched.text
        assert api.get(f"/v1/nodes/{node}/validate").json()["boot"]["result"] is True
        _deploy_to_call_back(api, node)
        assert _slot(bmc, SYSTEMS[9], "Cd")["Image"].endswith(f"/{node}/deploy.iso")
        built = (ingot.workdir / "state" / "httpboot" / node / "deploy.iso").read_bytes()
        assert b"console=ttyS0 ingot.test=vmedia ipa-api-url=http" in built
        assert b"kernel" * 100 in built and b"ramdisk" * 100 in built
        _abort_deploy(api, node)
        assert not (ingot.workdir / "state" / "httpboot" / node).exists()


def _settled(server: IngotServer, node: str) -> dict[str, Any]:
    """The node once a conductor has carried out what the API recorded for it."""
    engine = sa.create_engine(server.db_url)
    query = sa.select(nodes.c.pending_action, nodes.c.reservation).where(
        nodes.c.uuid == node)
    try:
        def idle() -> bool:
            with engine.connect() as conn:
                row = conn.execute(query).one()
            return row.pending_action is None and row.reservation is None
        _until(idle, POWER_WAIT + 20, f"node {node} never settled")
    finally:
        engine.dispose()
    with server.client() as api:
        shown: dict[str, Any] = api.get(f"/v1/nodes/{node}").json()
    return shown


def _slots(api: httpx.Client, node: str) -> dict[str, dict[str, Any]]:
    """The node's virtual media (API 1.93) by its first media type."""
    listed = api.get(f"/v1/nodes/{node}/vmedia")
    assert listed.status_code == 200, listed.text
    return {media["media_types"][0]: media for media in listed.json()}


SIG = "vmedia-Sig-42"


def test_virtual_media_attach_list_detach_through_the_bmc(
        ingot: IngotServer, bmc: RedfishEmulator, boot_files: HttpRootServer) -> None:
    """API 1.89/1.93 on a redfish node: a CD the BMC fetches itself (http), a USB stick
    the conductor serves (local, the default), listed from the BMC, then detached."""
    system = SYSTEMS[10]
    served = ingot.workdir / "state" / "httpboot" / "virtual_media"
    with ingot.client("1.93") as api:
        node = _create(api, bmc.driver_info(system))
        path = f"/v1/nodes/{node}/vmedia"
        assert {kind: (media["media_types"], media["inserted"])
                for kind, media in _slots(api, node).items()} == {
            "CD": (["CD", "DVD"], False), "Floppy": (["Floppy", "USBStick"], False)}

        signed = f"{boot_files.url}/agent.iso?temp_url_sig={SIG}&temp_url_expires=4102444800"
        attached = api.post(path, json={"device_type": "cdrom", "image_url": signed,
                                        "image_download_source": "http"})
        assert attached.status_code == 204, attached.text
        assert _settled(ingot, node)["last_error"] is None
        assert _slot(bmc, system, "Cd")["Image"] == signed  # fetched by the BMC itself
        cd = _slots(api, node)["CD"]
        assert cd["inserted"] is True
        assert cd["image"] == signed.replace(SIG, "******"), cd

        attached = api.post(path, json={"device_type": "disk",
                                        "image_url": f"{boot_files.url}/initramfs"})
        assert attached.status_code == 204, attached.text
        assert _settled(ingot, node)["last_error"] is None
        stick = _slot(bmc, system, "Floppy")
        published = served / node / "disk.img"
        assert stick["Inserted"] is True
        assert stick["Image"].endswith(f"/virtual_media/{node}/disk.img"), stick
        assert published.read_bytes() == (boot_files.root / "initramfs").read_bytes()
        assert _slots(api, node)["Floppy"]["image"] == stick["Image"]

        detached = api.delete(path, params={"device_types": "cdrom"})
        assert detached.status_code == 204, detached.text
        assert _settled(ingot, node)["last_error"] is None
        shown = _slots(api, node)
        assert (shown["CD"]["inserted"], shown["Floppy"]["inserted"]) == (False, True)
        assert published.exists()

        assert api.delete(path).status_code == 204
        assert _settled(ingot, node)["last_error"] is None
        assert not any(media["inserted"] for media in _slots(api, node).values())
        assert not (served / node).exists()
    assert SIG not in ingot.log()


def test_a_bmc_server_error_on_insert_is_retried(ingot: IngotServer,
                                                bmc: RedfishEmulator) -> None:
    """As Ironic: the BMC answers InsertMedia with a server error (here a 502, as its
    fetch of the image got a 503), the insert is tried again 3 s later, and works."""
    system = SYSTEMS[13]
    with Origin() as origin, ingot.client("1.93") as api:
        image = origin.add("/flaky.iso", b"iso" * 1000, Fault(statuses=[503]))
        node = _create(api, bmc.driver_info(system))
        attached = api.post(f"/v1/nodes/{node}/vmedia", json={
            "device_type": "cdrom", "image_url": image, "image_download_source": "http"})
        assert attached.status_code == 204, attached.text
        assert _settled(ingot, node)["last_error"] is None
        assert [hit.status for hit in origin.hits_for("/flaky.iso")] == [503, 200]
        cd = _slot(bmc, system, "Cd")
        assert (cd["Inserted"], cd["Image"]) == (True, image)


def test_deleting_a_node_removes_the_images_served_for_it(
        ingot: IngotServer, bmc: RedfishEmulator, boot_files: HttpRootServer) -> None:
    """A node deleted with its virtual media still attached: what the conductor served
    its BMC (image_download_source local) goes with it."""
    system = SYSTEMS[14]
    served = ingot.workdir / "state" / "httpboot" / "virtual_media"
    with ingot.client("1.93") as api:
        node = _create(api, bmc.driver_info(system))
        for device, image in (("cdrom", "agent.iso"), ("disk", "initramfs")):
            attached = api.post(f"/v1/nodes/{node}/vmedia", json={
                "device_type": device, "image_url": f"{boot_files.url}/{image}"})
            assert attached.status_code == 204, attached.text
            assert _settled(ingot, node)["last_error"] is None
        assert sorted(p.name for p in (served / node).iterdir()) == ["cdrom.iso", "disk.img"]
        assert api.delete(f"/v1/nodes/{node}").status_code == 204
        assert not (served / node).exists()
        assert _slot(bmc, system, "Cd")["Inserted"] is True  # the BMC is left as it is


def test_virtual_media_errors_are_clear_and_change_nothing(
        ingot: IngotServer, bmc: RedfishEmulator, boot_files: HttpRootServer) -> None:
    system = SYSTEMS[11]
    iso = f"{boot_files.url}/agent.iso"
    with ingot.client("1.93") as api:
        node = _create(api, bmc.driver_info(system))
        path = f"/v1/nodes/{node}/vmedia"
        before = snapshot(ingot)
        for body, field in (
                ({"device_type": "usb", "image_url": iso}, "device_type"),
                ({"device_type": "cdrom", "image_url": "nfs://127.0.0.1/export/a.iso"},
                 "image_download_source")):
            refused = api.post(path, json=body)
            assert refused.status_code == 400 and field in fault(refused), refused.text
        refused = api.delete(path, params={"device_types": "cdrom,usb"})
        assert refused.status_code == 400 and "usb" in fault(refused), refused.text
        assert snapshot(ingot) == before
        assert _slot(bmc, system, "Cd")["Inserted"] is False

        # An image the conductor cannot download: nothing reaches the BMC.
        missing = f"{boot_files.url}/no-such.iso"
        assert api.post(path, json={"device_type": "cdrom",
                                    "image_url": missing}).status_code == 204
        error = _settled(ingot, node)["last_error"]
        assert error.startswith("Could not attach virtual media cdrom: Cannot download "
                                f"image_url {missing}"), error
        assert "HTTP 404" in error
        assert _slot(bmc, system, "Cd")["Inserted"] is False
        # One the BMC cannot fetch: its refusal, in the node's last_error.
        assert api.post(path, json={"device_type": "cdrom", "image_url": missing,
                                    "image_download_source": "http"}).status_code == 204
        error = _settled(ingot, node)["last_error"]
        assert "Could not attach virtual media cdrom" in error and "404" in error, error
        assert not (ingot.workdir / "state" / "httpboot" / "virtual_media" / node).exists()

        # The BMC is down: 503 when listing, a clear last_error for attach and detach.
        down = f"http://127.0.0.1:{free_port()}"
        patched = api.patch(f"/v1/nodes/{node}", json=[
            {"op": "replace", "path": "/driver_info/redfish_address", "value": down}])
        assert patched.status_code == 200, patched.text
        listed = api.get(path)
        assert listed.status_code == 503, listed.text
        assert f"Redfish BMC {down} cannot be reached" in fault(listed)
        attach = {"device_type": "cdrom", "image_url": iso, "image_download_source": "http"}
        assert api.post(path, json=attach).status_code == 204
        error = _settled(ingot, node)["last_error"]
        assert error.startswith("Could not attach virtual media cdrom: Redfish BMC "
                                f"{down} cannot be reached"), error
        assert api.delete(path).status_code == 204
        error = _settled(ingot, node)["last_error"]
        assert error.startswith("Could not detach virtual media (all devices): Redfish BMC "
                                f"{down} cannot be reached"), error
        shown = api.get(f"/v1/nodes/{node}").json()
        assert shown["provision_state"] == "enroll" and shown["maintenance"] is False
        assert PASSWORD not in str(shown) and PASSWORD not in ingot.log()

        # Unusable driver_info is a 400 naming the field before anything is recorded.
        patched = api.patch(f"/v1/nodes/{node}", json=[
            {"op": "replace", "path": "/driver_info/redfish_address", "value": "ftp://x/"}])
        assert patched.status_code == 200, patched.text
        for answer in (api.get(path), api.delete(path),
                       api.post(path, json={"device_type": "cdrom", "image_url": iso})):
            assert answer.status_code == 400 and "redfish_address" in fault(answer), \
                answer.text
