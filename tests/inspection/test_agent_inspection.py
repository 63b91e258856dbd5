"""Inspection with real agents on local-vm nodes: ingot's own agent (its "machine" is
the node's disk file and port MACs), and the stock ironic-python-agent from PyPI in a
network namespace over a loop device (tests/ipa/machine.py). Each posts its inventory;
the node ends manageable with its properties, ports and stored inventory."""

from __future__ import annotations

import os
import pathlib
import time
from typing import Any

import httpx

from tests import factories
from tests.inspection.inventories import INVENTORY
from tests.ipa import machine
from tests.ipa.test_agent_boots import (  # noqa: F401 - fixtures
    image,
    ingot_site,
    ipa_python,
    new_node,
    node_log,
    provision,
)

HEADERS = {"X-OpenStack-Ironic-API-Version": "1.73"}
DISK_MIB = 5 * 1024  # sparse: a root disk large enough for local_gb (4 GiB + spacing)


def _check_inspected(api: httpx.Client, uuid: str, node: dict[str, Any], mac: str,
                     disk_name: str) -> dict[str, Any]:
    assert node["provision_state"] == "manageable", node["last_error"]
    properties = node["properties"]
    assert properties["local_gb"] == 4
    assert properties["cpus"] >= 1 and properties["memory_mb"] > 0
    assert properties["cpu_arch"] == os.uname().machine
    assert properties["capabilities"].startswith("boot_mode:")
    assert node["inspection_started_at"] and node["inspection_finished_at"]
    ports = api.get("/v1/ports/detail", params={"node": uuid}).json()["ports"]
    assert [p["address"] for p in ports] == [mac]
    stored = api.get(f"/v1/nodes/{uuid}/inventory", headers=INVENTORY)
    assert stored.status_code == 200, stored.text
    body: dict[str, Any] = stored.json()
    assert [i["mac_address"] for i in body["inventory"]["interfaces"]] == [mac]
    assert body["plugin_data"]["root_disk"]["name"] == disk_name
    return body


def test_ingot_agent_inspects_then_deploys_without_reboot(
        tmp_path: pathlib.Path,
        image: tuple[pathlib.Path, bytes]) -> None:  # noqa: F811 - fixture
    """Fast track: the agent that posted the inventory stays up; cleaning and the deploy
    after it use it, so the node boots its ramdisk once."""
    server = ingot_site(tmp_path, image[0].parent, fast_track=True,
                        options={"inspector": {"add_ports": "all"}})
    try:
        with httpx.Client(base_url=server.url, timeout=30, trust_env=False,
                          headers=HEADERS) as api:
            mac = factories.mac()
            disk = tmp_path / "vms" / "node.img"
            uuid = new_node(api, image, disk, mac)
            assert api.patch(f"/v1/nodes/{uuid}", json=[
                {"op": "add", "path": "/driver_info/vm_disk_size", "value": DISK_MIB},
                {"op": "add", "path": "/properties/root_device",
                 "value": {"name": str(disk)}}]).status_code == 200
            provision(api, server, uuid, "manage", ("manageable",))
            node = provision(api, server, uuid, "inspect", ("manageable", "inspect failed"))
            body = _check_inspected(api, uuid, node, mac, str(disk))
            assert body["inventory"]["disks"][0]["size"] == DISK_MIB << 20
            # Fast track: the agent stays up (its log says why if it did not).
            assert node["power_state"] == "power on", \
                f"{node['last_error']}\n{node_log(server, uuid)[-3000:]}"
            # ... and heartbeats: then (not before) the next operation can use it.
            deadline = time.monotonic() + 60
            while not api.get(f"/v1/nodes/{uuid}").json()["driver_internal_info"].get(
                    "agent_url"):
                assert time.monotonic() < deadline, node_log(server, uuid)[-3000:]
                time.sleep(0.2)
            node = provision(api, server, uuid, "provide", ("available", "clean failed"))
            assert node["provision_state"] == "available", node["last_error"]
            node = provision(api, server, uuid, "active", ("active", "deploy failed"))
            assert node["provision_state"] == "active", node["last_error"]
            log = node_log(server, uuid)
            assert log.count("Posting the inventory") == 1
            assert log.count("Lookup found node") == 1, log[-3000:]
    finally:
        server.stop()


def test_ipa_inspection_fills_properties_ports_and_inventory(
        tmp_path: pathlib.Path, ipa_python: pathlib.Path,  # noqa: F811 - fixture
        image: tuple[pathlib.Path, bytes]) -> None:  # noqa: F811 - fixture
    machine.check_tools()
    mac = factories.mac()
    run_dir = tmp_path / "machine"
    run_dir.mkdir()
    (tmp_path / "vms").mkdir()
    with machine.machine(tmp_path / "vms" / "disk.img", DISK_MIB, mac) as box:
        command = machine.ipa_command(ipa_python, box, run_dir, auto_tls=False)
        server = ingot_site(tmp_path, image[0].parent, host_ip=box.host_ip,
                            agent_command=command)
        try:
            with httpx.Client(base_url=server.url, timeout=30, trust_env=False,
                              headers=HEADERS) as api:
                uuid = new_node(api, image, box.disk_file, mac)
                provision(api, server, uuid, "manage", ("manageable",))
                node = provision(api, server, uuid, "inspect",
                                 ("manageable", "inspect failed"))
                body = _check_inspected(api, uuid, node, mac, box.loop)
                # IPA's own plugin data is kept beside ingot's.
                assert "configuration" in body["plugin_data"]
                assert node["power_state"] == "power off"
        finally:
            server.stop()
