"""Three boots of one node with a real agent, through the real API: cleaning on provide,
a deploy with a config drive, cleaning on undeploy.

With the stock ironic-python-agent from PyPI (its default auto TLS, and TLS off), in a
network namespace whose veth carries the node's port MAC, writing to a loop device; the
local-vm driver "boots" it by running it ([local_vm] agent_command) and powers off by
killing it. And with ingot's own agent, the default of local-vm nodes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pathlib
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests import factories
from tests.configdrive.disks import find_labelled, make_disk, partitions, read_range
from tests.configdrive.isofiles import read_file
from tests.ipa import machine
from tests.servers import venvs
from tests.servers.ingot import IngotServer
from tests.servers.process import free_port, unavailable

IPA_STARTS = "Starting ironic-python-agent version"
MIB = 1 << 20
DISK_MIB = 112  # the image, and IPA's 64 MiB config drive partition at the end
IMAGE_MIB = 24


@pytest.fixture(scope="module")
def ipa_python() -> pathlib.Path:
    try:
        venv = venvs.ensure("ironic-python-agent", [machine.IPA_REQUIREMENT])
    except venvs.InstallFailed as exc:
        unavailable(f"ironic-python-agent could not be installed: {exc}")
    return venv / "bin" / "python"


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> tuple[pathlib.Path, bytes]:
    """A whole-disk raw image: an MBR and one partition of random data."""
    path = tmp_path_factory.mktemp("ipa-image") / "disk.raw"
    make_disk(path, IMAGE_MIB * MIB, "start=2048, type=83\n", label="dos")
    with open(path, "r+b") as disk:
        disk.seek(MIB)
        disk.write(os.urandom(8 * MIB))
    return path, path.read_bytes()


def ingot_site(workdir: pathlib.Path, image_dir: pathlib.Path, *, host_ip: str = "127.0.0.1",
               agent_command: str = "", fast_track: bool = False,
               options: dict[str, dict[str, Any]] | None = None) -> IngotServer:
    (workdir / "vms").mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = IngotServer(workdir / "ingot", options={
        "api": {"host_ip": host_ip, "port": port,
                # The agent's periodic heartbeats come every 0.3-0.6 of this.
                "ramdisk_heartbeat_timeout": 5},
        # Metadata erasure only, as devstack configures Ironic: a full erase_devices
        # (IPA priority 10) would shred the whole disk at every cleaning.
        "deploy": {"http_port": free_port(), "erase_devices_priority": 0,
                   "fast_track": fast_track},
        "local_vm": {"disk_paths": workdir / "vms", "agent_heartbeat_interval": 0.5,
                     "agent_command": agent_command},
        "conductor": {"check_provision_state_interval": 1, "deploy_callback_timeout": 120,
                      "file_url_allowed_paths": image_dir},
        **(options or {}),
    })
    server.url = f"http://{host_ip}:{port}"
    return server.start()


def new_node(api: httpx.Client, image: tuple[pathlib.Path, bytes], disk: pathlib.Path,
             mac: str, **driver_info: Any) -> str:
    path, data = image
    node = api.post("/v1/nodes", json={
        "driver": "local-vm", "deploy_interface": "direct",
        "driver_info": {"vm_disk": str(disk), "vm_disk_size": DISK_MIB, **driver_info},
        "instance_info": {"image_source": path.as_uri(), "image_os_hash_algo": "sha256",
                          "image_os_hash_value": hashlib.sha256(data).hexdigest(),
                          "image_disk_format": "raw"},
    })
    assert node.status_code == 201, node.text
    uuid: str = node.json()["uuid"]
    assert api.post("/v1/ports", json={"node_uuid": uuid, "address": mac}).status_code == 201
    return uuid


def provision(api: httpx.Client, server: IngotServer, uuid: str, target: str,
              states: tuple[str, ...], agent_urls: set[str] | None = None,
              **body: Any) -> dict[str, Any]:
    """Move the node to target and wait; agent_urls collects the agent URLs seen."""
    response = api.put(f"/v1/nodes/{uuid}/states/provision", json={"target": target, **body})
    assert response.status_code == 202, response.text
    deadline = time.monotonic() + 120
    node: dict[str, Any] = {}
    while time.monotonic() < deadline:
        node = api.get(f"/v1/nodes/{uuid}").json()
        if node["provision_state"] in states:
            return node
        if agent_urls is not None and node["driver_internal_info"].get("agent_url"):
            agent_urls.add(node["driver_internal_info"]["agent_url"])
        log = node_log(server, uuid)
        # An agent that cannot start would leave the node waiting for the timeout.
        assert " CRITICAL ironic-python-agent " not in log and "usage: " not in log, log[-5000:]
        time.sleep(0.2)
    raise AssertionError(f"node stuck in {node.get('provision_state')}: "
                         f"{node.get('last_error')}\n{node_log(server, uuid)[-5000:]}")


def node_log(server: IngotServer, uuid: str) -> str:
    path = server.workdir / "state" / "local-vm" / f"{uuid}.log"
    return path.read_text(errors="replace") if path.exists() else ""


def three_boots(api: httpx.Client, server: IngotServer, uuid: str, disk: pathlib.Path,
                image: bytes, flush_marker: str, boot_marker: str) -> set[str]:
    """The three boots, asserting what each leaves on the disk; returns the agent URLs
    the node had."""
    urls: set[str] = set()
    # Boot 1: automated cleaning on provide, with the steps the agent offers.
    node = provision(api, server, uuid, "manage", ("manageable",))
    assert node["provision_state"] == "manageable"
    node = provision(api, server, uuid, "provide", ("available", "clean failed"), urls)
    assert node["provision_state"] == "available", node["last_error"]
    assert node["driver_internal_info"]["hardware_manager_version"]

    # Boot 2: deploy with a config drive.
    meta = {"hostname": "ipa-node", "public_keys": {"k": "ssh-ed25519 AAAA"}}
    user_data = "#cloud-config\nruncmd: [echo booted]\n"
    node = provision(api, server, uuid, "active", ("active", "deploy failed"), urls,
                     configdrive={"meta_data": meta, "user_data": user_data})
    assert node["provision_state"] == "active", node["last_error"]
    assert node["power_state"] == "power on"
    written = disk.read_bytes()
    # The image's data, whole (the partition table around it gains the config drive).
    assert hashlib.sha256(written[MIB:len(image)]).hexdigest() == \
        hashlib.sha256(image[MIB:]).hexdigest()
    assert partitions(disk)[0]["offset"] == MIB
    drives = find_labelled(disk)
    assert len(drives) == 1, partitions(disk)
    iso = read_range(disk, drives[0]["offset"], drives[0]["bytes"])
    landed = json.loads(read_file(iso, "/openstack/latest/meta_data.json"))
    assert landed["hostname"] == "ipa-node" and landed["uuid"] == uuid
    assert landed["public_keys"] == meta["public_keys"]
    assert read_file(iso, "/openstack/latest/user_data").decode() == user_data
    # The agent flushed its writes before the power went.
    log = node_log(server, uuid)
    deploy_boot = log[log.rindex(boot_marker):]
    assert flush_marker in deploy_boot, deploy_boot[-3000:]
    flushed = deploy_boot.index(flush_marker)
    power_off = deploy_boot.find("ingot: stopping process")
    assert power_off == -1 or flushed < power_off, deploy_boot[-3000:]

    # Boot 3: cleaning on undeploy wipes the disk.
    node = provision(api, server, uuid, "deleted", ("available", "clean failed"), urls)
    assert node["provision_state"] == "available", node["last_error"]
    assert node["instance_info"] == {}
    wiped = disk.read_bytes()
    # erase_devices_metadata: no partition table (MBR signature, GPT header) is left,
    # so no config drive either.
    assert wiped[510:512] != b"\x55\xaa" and wiped[512:520] != b"EFI PART"
    table = subprocess.run(["sfdisk", "--json", str(disk)], capture_output=True, text=True,
                           check=False, env={"PATH": machine.SBIN})
    assert table.returncode != 0 and "does not contain a recognized partition table" in \
        table.stderr, table.stdout
    assert node_log(server, uuid).count(boot_marker) == 3
    return urls


@contextlib.contextmanager
def ipa_site(tmp_path: pathlib.Path, ipa_python: pathlib.Path,
             image: tuple[pathlib.Path, bytes], auto_tls: bool, fast_track: bool = False
             ) -> Iterator[tuple[IngotServer, httpx.Client, machine.Machine, str]]:
    """An ingot site whose local-vm node boots the stock IPA on a machine of its own."""
    machine.check_tools()
    mac = factories.mac()
    run_dir = tmp_path / "machine"
    run_dir.mkdir()
    (tmp_path / "vms").mkdir()
    with machine.machine(tmp_path / "vms" / "disk.img", DISK_MIB, mac) as box:
        server = ingot_site(tmp_path, image[0].parent, host_ip=box.host_ip,
                            agent_command=machine.ipa_command(ipa_python, box, run_dir,
                                                              auto_tls),
                            fast_track=fast_track)
        try:
            with httpx.Client(base_url=server.url, timeout=30, trust_env=False,
                              headers={"X-OpenStack-Ironic-API-Version": "1.73"}) as api:
                # IPA's standby.power_off would power off this host: flush with
                # standby.sync and power off out of band, as Ironic does with this flag.
                uuid = new_node(api, image, box.disk_file, mac,
                                deploy_forces_oob_reboot=True)
                yield server, api, box, uuid
        finally:
            server.stop()


@pytest.mark.parametrize("auto_tls", [True, False], ids=["auto-tls", "tls-off"])
def test_stock_ipa_three_boots(tmp_path: pathlib.Path, ipa_python: pathlib.Path,
                               image: tuple[pathlib.Path, bytes], auto_tls: bool) -> None:
    with ipa_site(tmp_path, ipa_python, image, auto_tls) as (server, api, box, uuid):
        urls = three_boots(api, server, uuid, box.disk_file, image[1],
                           flush_marker="Synchronous command sync completed",
                           boot_marker=IPA_STARTS)
    # The conductor drove the agent at the address and with the scheme it advertised:
    # https with IPA's self-signed certificate, verified against the CA it sent.
    assert urls == {f"{'https' if auto_tls else 'http'}://{box.ip}:9999"}
    generated = node_log(server, uuid).count("Generating TLS parameters automatically")
    assert generated == (3 if auto_tls else 0)


def test_stock_ipa_fast_track(tmp_path: pathlib.Path, ipa_python: pathlib.Path,
                              image: tuple[pathlib.Path, bytes]) -> None:
    """The agent that cleaned the node writes the image: no second boot."""
    with ipa_site(tmp_path, ipa_python, image, True, fast_track=True) as \
            (server, api, box, uuid):
        provision(api, server, uuid, "manage", ("manageable",))
        node = provision(api, server, uuid, "provide", ("available", "clean failed"))
        assert node["provision_state"] == "available", node["last_error"]
        assert node["power_state"] == "power on"  # the agent was left running
        node = provision(api, server, uuid, "active", ("active", "deploy failed"))
        assert node["provision_state"] == "active", node["last_error"]
        written = box.disk_file.read_bytes()
        assert hashlib.sha256(written[:len(image[1])]).hexdigest() == \
            hashlib.sha256(image[1]).hexdigest()
        log = node_log(server, uuid)
    assert log.count(IPA_STARTS) == 1
    assert log.index("Synchronous command sync completed") < log.index(
        "ingot: stopping process")


def test_ingot_agent_three_boots(tmp_path: pathlib.Path,
                                 image: tuple[pathlib.Path, bytes]) -> None:
    server = ingot_site(tmp_path, image[0].parent)
    try:
        with server.client() as api:
            disk = tmp_path / "vms" / "disk.img"
            uuid = new_node(api, image, disk, factories.mac())
            urls = three_boots(api, server, uuid, disk, image[1],
                               flush_marker="Command standby.power_off succeeded",
                               boot_marker="Lookup found node")
    finally:
        server.stop()
    assert urls and all(url.startswith("https://127.0.0.1:") for url in urls)
    # A new agent (its own port) on each boot, with its own token.
    assert len(urls) >= 2


def test_ingot_agent_fast_track_and_manual_cleaning(
        tmp_path: pathlib.Path, image: tuple[pathlib.Path, bytes]) -> None:
    """One boot of ingot's agent serves a manual cleaning, the automated cleaning of
    provide and the deploy; manual cleaning takes the steps the agent offers."""
    server = ingot_site(tmp_path, image[0].parent, fast_track=True)
    try:
        with server.client() as api:
            disk = tmp_path / "vms" / "disk.img"
            uuid = new_node(api, image, disk, factories.mac())
            provision(api, server, uuid, "manage", ("manageable",))
            node = provision(api, server, uuid, "clean", ("manageable", "clean failed"),
                             clean_steps=[{"interface": "deploy",
                                           "step": "erase_devices_metadata"}])
            assert node["provision_state"] == "manageable", node["last_error"]
            assert node["power_state"] == "power on"
            node = provision(api, server, uuid, "provide", ("available", "clean failed"))
            assert node["provision_state"] == "available", node["last_error"]
            node = provision(api, server, uuid, "active", ("active", "deploy failed"))
            assert node["provision_state"] == "active", node["last_error"]
            assert disk.read_bytes()[:len(image[1])] == image[1]
            assert node_log(server, uuid).count("Lookup found node") == 1

            # A step the agent does not offer fails the manual cleaning, saying which
            # steps it does offer.
            node = provision(api, server, uuid, "deleted", ("available", "clean failed"))
            assert node["provision_state"] == "available", node["last_error"]
            provision(api, server, uuid, "manage", ("manageable",))
            node = provision(api, server, uuid, "clean", ("manageable", "clean failed"),
                             clean_steps=[{"interface": "deploy", "step": "erase_devices"}])
            assert node["provision_state"] == "clean failed"
            assert "deploy.erase_devices is not offered by the agent; it offers " \
                "deploy.erase_devices_metadata" in node["last_error"], node["last_error"]
    finally:
        server.stop()


def test_ingot_agent_power_interface_reboots_into_the_instance(
        tmp_path: pathlib.Path, image: tuple[pathlib.Path, bytes]) -> None:
    """Ironic's ``agent`` power interface: a machine ingot cannot power on, running its
    agent under fast track, is deployed by that agent, which flushes (standby.sync) and
    reboots into what it wrote (standby.run_image): no power on or off from ingot."""
    server = ingot_site(tmp_path, image[0].parent, fast_track=True)
    try:
        with server.client() as api:
            disk = tmp_path / "vms" / "disk.img"
            uuid = new_node(api, image, disk, factories.mac())
            refused = api.patch(f"/v1/nodes/{uuid}", json=[
                {"op": "replace", "path": "/power_interface", "value": "agent"}])
            assert refused.status_code == 200, refused.text
            # No agent runs yet: the interface cannot be used.
            validated = api.get(f"/v1/nodes/{uuid}/validate").json()["power"]
            assert validated["result"] is False
            assert "Agent seems offline" in validated["reason"], validated
            assert api.patch(f"/v1/nodes/{uuid}", json=[
                {"op": "replace", "path": "/power_interface", "value": "local-vm"}]
                ).status_code == 200
            # Cleaning boots the agent the usual way; fast track leaves it running.
            provision(api, server, uuid, "manage", ("manageable",))
            node = provision(api, server, uuid, "provide", ("available", "clean failed"))
            assert node["provision_state"] == "available", node["last_error"]
            assert api.patch(f"/v1/nodes/{uuid}", json=[
                {"op": "replace", "path": "/power_interface", "value": "agent"}]
                ).status_code == 200
            assert api.get(f"/v1/nodes/{uuid}/validate").json()["power"]["result"] is True

            node = provision(api, server, uuid, "active", ("active", "deploy failed"))
            assert node["provision_state"] == "active", node["last_error"]
            assert disk.read_bytes()[:len(image[1])] == image[1]
            log = node_log(server, uuid)
            # One boot; the agent flushed, then rebooted the machine itself.
            assert log.count("Lookup found node") == 1
            synced = log.index("Command standby.sync succeeded")
            rebooted = log.index("Command standby.run_image succeeded")
            assert synced < rebooted < log.index("Agent stopped, the machine to reboot")
            assert "standby.power_off" not in log
            # The rebooted machine's agent is gone, and forgotten.
            assert "agent_url" not in node["driver_internal_info"]
            # Powering on is not something this interface can do.
            assert api.put(f"/v1/nodes/{uuid}/states/power",
                           json={"target": "power on"}).status_code == 400
    finally:
        server.stop()
