"""Direct deploys onto local-vm nodes through the real API, agent and HTTP origin."""

from __future__ import annotations

import os
import pathlib
import subprocess
import time
from typing import Any

import httpx
import pytest

from tests.assertions import fault
from tests.deploy.nodes import (
    ABORT_IN_WAIT_CALL_BACK,
    deploy,
    provision,
    sha256,
    vm_node,
    wait_for,
)
from tests.servers.ingot import IngotServer
from tests.servers.origin import Fault, Origin

MIB = 1 << 20


def gpt_image(path: pathlib.Path, size_mib: int = 8) -> bytes:
    """A raw disk image with a GPT and one partition: something undeploy must wipe."""
    with open(path, "wb") as f:
        f.write(os.urandom(size_mib * MIB))
    subprocess.run(["sfdisk", "--quiet", str(path)], input="label: gpt\n,,L\n", text=True,
                   check=True, capture_output=True)
    return path.read_bytes()


def qcow2_of(raw: pathlib.Path, target: pathlib.Path, *extra: str) -> bytes:
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", *extra, str(raw),
                    str(target)], check=True, capture_output=True)
    return target.read_bytes()


@pytest.fixture(scope="module")
def images(workdir: pathlib.Path, origin: Origin) -> dict[str, Any]:
    raw_path = workdir / "disk.raw"
    raw = gpt_image(raw_path)
    qcow2 = qcow2_of(raw_path, workdir / "disk.qcow2")
    base = workdir / "base.raw"
    base.write_bytes(b"\0" * MIB)
    subprocess.run(["qemu-img", "create", "-f", "qcow2", "-b", str(base), "-F", "raw",
                    str(workdir / "backed.qcow2"), "8M"], check=True, capture_output=True)
    backed = (workdir / "backed.qcow2").read_bytes()
    return {
        "raw": raw, "raw_url": origin.add("/disk.raw", raw),
        "qcow2": qcow2, "qcow2_url": origin.add("/disk.qcow2", qcow2),
        "backed": backed, "backed_url": origin.add("/backed.qcow2", backed),
    }


def test_raw_deploy_then_undeploy_wipes_metadata(api: httpx.Client, workdir: pathlib.Path,
                                                 images: dict[str, Any]) -> None:
    raw = images["raw"]
    uuid, disk = vm_node(api, workdir, images["raw_url"], sha256(raw))
    node = deploy(api, uuid)
    assert node["provision_state"] == "active", node["last_error"]
    assert sha256(disk.read_bytes()[:len(raw)]) == sha256(raw)
    info = node["driver_internal_info"]
    assert info["agent_progress"]["bytes_done"] == len(raw)
    assert info["agent_progress"]["digest_verified"] is True
    assert info["local_vm_boot_device"] == "disk"
    assert node["power_state"] == "power on"

    node = provision(api, uuid, "deleted", ("available", "clean failed", "error"))
    assert node["provision_state"] == "available", node["last_error"]
    content = disk.read_bytes()
    assert content[:MIB] == b"\0" * MIB and content[-MIB:] == b"\0" * MIB
    dump = subprocess.run(["sfdisk", "--dump", str(disk)], capture_output=True, text=True)
    assert dump.returncode != 0  # no partition table left
    assert node["power_state"] == "power off"


def test_qcow2_deploy_is_converted(api: httpx.Client, workdir: pathlib.Path,
                                   images: dict[str, Any]) -> None:
    uuid, disk = vm_node(api, workdir, images["qcow2_url"], sha256(images["qcow2"]),
                         disk_format="qcow2")
    node = deploy(api, uuid)
    assert node["provision_state"] == "active", node["last_error"]
    assert disk.read_bytes()[:len(images["raw"])] == images["raw"]


def test_checksum_mismatch_fails_the_deploy(api: httpx.Client, workdir: pathlib.Path,
                                            images: dict[str, Any]) -> None:
    uuid, _disk = vm_node(api, workdir, images["raw_url"], sha256(b"something else"))
    node = deploy(api, uuid)
    assert node["provision_state"] == "deploy failed"
    assert "mismatch" in node["last_error"].lower()
    # A failed deploy powers the node off: its agent does not run on.
    assert node["power_state"] == "power off"
    assert node["driver_internal_info"]["local_vm_power"] == "power off"


def test_missing_image_fails_at_once(api: httpx.Client, workdir: pathlib.Path,
                                     origin: Origin) -> None:
    uuid, _disk = vm_node(api, workdir, f"{origin.url}/no-such.img", sha256(b"x"))
    started = time.monotonic()
    node = deploy(api, uuid)
    assert node["provision_state"] == "deploy failed"
    assert "404" in node["last_error"]
    assert len(origin.hits_for("/no-such.img")) == 1  # a 404 is not retried
    assert time.monotonic() - started < 20


def test_wrong_disk_format_is_refused(api: httpx.Client, workdir: pathlib.Path,
                                      images: dict[str, Any]) -> None:
    declared_raw = vm_node(api, workdir, images["qcow2_url"], sha256(images["qcow2"]),
                           disk_format="raw")[0]
    declared_qcow2 = vm_node(api, workdir, images["raw_url"], sha256(images["raw"]),
                             disk_format="qcow2")[0]
    for uuid in (declared_raw, declared_qcow2):
        node = deploy(api, uuid)
        assert node["provision_state"] == "deploy failed"
        assert "format" in node["last_error"].lower()


def test_qcow2_with_backing_file_leaves_disk_untouched(api: httpx.Client,
                                                       workdir: pathlib.Path,
                                                       images: dict[str, Any]) -> None:
    uuid, disk = vm_node(api, workdir, images["backed_url"], sha256(images["backed"]),
                         disk_format="qcow2")
    pattern = os.urandom(32 * MIB)
    disk.write_bytes(pattern)
    node = deploy(api, uuid)
    assert node["provision_state"] == "deploy failed"
    assert "backing" in node["last_error"].lower()
    assert disk.read_bytes() == pattern


def test_dropped_connection_resumes(api: httpx.Client, workdir: pathlib.Path,
                                    origin: Origin, images: dict[str, Any]) -> None:
    raw = images["raw"]
    url = origin.add("/flaky.raw", raw, Fault(drop_after=3 * MIB, drops=1))
    uuid, disk = vm_node(api, workdir, url, sha256(raw))
    node = deploy(api, uuid)
    assert node["provision_state"] == "active", node["last_error"]
    assert disk.read_bytes()[:len(raw)] == raw
    ranged = [hit for hit in origin.hits_for("/flaky.raw") if "range" in hit.headers]
    assert ranged and ranged[0].headers["range"] == f"bytes={3 * MIB}-"
    assert origin.bytes_served("/flaky.raw") < 2 * len(raw)


def test_abort_in_wait_call_back(api: httpx.Client, server: IngotServer,
                                 workdir: pathlib.Path, origin: Origin) -> None:
    slow = os.urandom(16 * MIB)
    url = origin.add("/slow.raw", slow, Fault(delay=0.05))
    uuid, _disk = vm_node(api, workdir, url, sha256(slow))
    api.put(f"/v1/nodes/{uuid}/states/provision", json={"target": "active"})
    deadline = time.monotonic() + 30
    while not origin.hits_for("/slow.raw"):
        assert time.monotonic() < deadline, "the agent never started downloading"
        time.sleep(0.1)
    response = None
    while time.monotonic() < deadline:
        response = api.put(f"/v1/nodes/{uuid}/states/provision", json={"target": "abort"},
                           headers=ABORT_IN_WAIT_CALL_BACK)
        if response.status_code == 202:
            break
        time.sleep(0.1)  # the conductor holds the node while it handles a heartbeat
    assert response is not None and response.status_code == 202, response.text if response else ""
    node = wait_for(api, uuid, ("deploy failed",))
    assert "aborted" in node["last_error"]
    pid_file = server.workdir / "state" / "local-vm" / f"{uuid}.pid"
    deadline = time.monotonic() + 20
    while pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not pid_file.exists()  # the agent was powered off


@pytest.mark.parametrize("driver_info,field", [
    ({"image_http_proxy": "ftp://proxy:21"}, "image_http_proxy"),
    ({"image_https_proxy": "proxy:notaport"}, "image_https_proxy"),
    ({"image_http_proxy": "proxy:3128", "image_no_proxy": "a..b"}, "image_no_proxy"),
    ({"image_http_proxy": "proxy:3128", "image_no_proxy": "10.0.0.0/99"}, "image_no_proxy"),
])
def test_invalid_proxy_settings_are_refused(api: httpx.Client, workdir: pathlib.Path,
                                            images: dict[str, Any],
                                            driver_info: dict[str, str], field: str) -> None:
    uuid, _disk = vm_node(api, workdir, images["raw_url"], sha256(images["raw"]))
    assert api.patch(f"/v1/nodes/{uuid}", json=[
        {"op": "add", "path": f"/driver_info/{key}", "value": value}
        for key, value in driver_info.items()]).status_code == 200
    validation = api.get(f"/v1/nodes/{uuid}/validate").json()
    assert validation["deploy"]["result"] is False
    assert field in validation["deploy"]["reason"]
    response = api.put(f"/v1/nodes/{uuid}/states/provision", json={"target": "active"})
    assert response.status_code == 400
    assert field in fault(response)
    assert api.get(f"/v1/nodes/{uuid}").json()["provision_state"] == "available"


def test_host_port_proxy_without_scheme_is_accepted(api: httpx.Client, workdir: pathlib.Path,
                                                     images: dict[str, Any]) -> None:
    uuid, _disk = vm_node(api, workdir, images["raw_url"], sha256(images["raw"]),
                          image_http_proxy="proxy.example.com:3128",
                          image_no_proxy="127.0.0.0/8,.example.com,[::1]:8080")
    assert api.get(f"/v1/nodes/{uuid}/validate").json()["deploy"] == {"result": True}


def test_deploy_template_steps_run_around_the_agent_deploy(
        api: httpx.Client, workdir: pathlib.Path, images: dict[str, Any]) -> None:
    """A template's steps run by priority around the driver's own deploy step, which
    waits for the real agent; node.deploy_step shows it meanwhile."""
    trait = "CUSTOM_" + os.urandom(4).hex().upper()
    assert api.post("/v1/deploy_templates", headers={"X-OpenStack-Ironic-API-Version": "1.55"},
                    json={"name": trait, "steps": [
                        {"interface": "raid", "step": "apply_configuration", "priority": 10,
                         "args": {"raid_config": {"logical_disks": []}}},
                        {"interface": "bios", "step": "apply_configuration", "priority": 150,
                         "args": {"settings": []}}]}).status_code == 201
    uuid, disk = vm_node(api, workdir, images["raw_url"], sha256(images["raw"]))
    assert api.put(f"/v1/nodes/{uuid}/traits", json={"traits": [trait]}).status_code == 204
    patched = api.patch(f"/v1/nodes/{uuid}", json=[
        {"op": "replace", "path": "/bios_interface", "value": "fake"},
        {"op": "replace", "path": "/raid_interface", "value": "fake"},
        {"op": "add", "path": "/instance_info/traits", "value": [trait]}])
    assert patched.status_code == 200, patched.text
    response = api.put(f"/v1/nodes/{uuid}/states/provision", json={"target": "active"})
    assert response.status_code == 202, response.text
    waiting = set()
    deadline = time.monotonic() + 60
    while (node := api.get(f"/v1/nodes/{uuid}").json())["provision_state"] not in (
            "active", "deploy failed") and time.monotonic() < deadline:
        if node["provision_state"] == "wait call-back":
            step = node["deploy_step"]
            waiting.add((step.get("interface"), step.get("step"), step.get("priority")))
        time.sleep(0.1)
    assert node["provision_state"] == "active", node["last_error"]
    assert waiting == {("deploy", "deploy", 100)}
    assert sha256(disk.read_bytes()[:len(images["raw"])]) == sha256(images["raw"])
    ran = node["driver_internal_info"]["fake_deploy_steps"]
    # BIOS first with the node still off; RAID last, once the instance was powered on.
    assert [(step["step"], step["power_state"]) for step in ran] == [
        ("bios.apply_configuration", "power off"), ("raid.apply_configuration", "power on")]
    assert node["deploy_step"] == {}
