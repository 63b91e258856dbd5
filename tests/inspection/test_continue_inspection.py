"""Inspection through the real API and conductor, the test playing the agent: the
node's "ramdisk" is a process that only waits, and the test posts the inventory an
agent would to /v1/continue_inspection. Bad inventories are refused and change nothing;
a good one fills the node's properties, ports and stored inventory; rules run on it;
an unknown machine enrolls itself."""

from __future__ import annotations

import shlex
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests import factories
from tests.inspection.inventories import GIB, inventory
from tests.servers.ingot import IngotServer
from tests.servers.process import free_port

HEADERS = {"X-OpenStack-Ironic-API-Version": "1.96"}  # inspection rules
# A "ramdisk" that boots and waits: the test is the agent.
WAITER = f"{shlex.quote(sys.executable)} -c 'import time; time.sleep(300)' {{node_uuid}}"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[IngotServer, httpx.Client]]:
    workdir = tmp_path_factory.mktemp("inspection")
    (workdir / "vms").mkdir()
    rules = workdir / "built-in.yaml"
    rules.write_text(
        "- description: big machines\n"
        "  conditions: [{op: gt, args: ['{inventory[cpu][count]}', 2]}]\n"
        "  actions: [{op: add-trait, args: [CUSTOM_BUILT_IN]}]\n")
    server = IngotServer(workdir / "ingot", options={
        "DEFAULT": {"enabled_hardware_types": "fake-hardware,local-vm"},
        "api": {"port": free_port()},
        "deploy": {"http_port": free_port()},
        "local_vm": {"disk_paths": workdir / "vms", "agent_command": WAITER},
        "conductor": {"check_provision_state_interval": 1},
        "inspector": {"add_ports": "all", "keep_ports": "present"},
        "auto_discovery": {"enabled": True, "driver": "fake-hardware"},
        "inspection_rules": {"built_in_rules": rules},
    }).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30, trust_env=False,
                          headers=HEADERS) as api:
            yield server, api
    finally:
        server.stop()


def wait_for(api: httpx.Client, uuid: str, wanted: tuple[str, ...]) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    node: dict[str, Any] = {}
    while time.monotonic() < deadline:
        node = api.get(f"/v1/nodes/{uuid}").json()
        if node["provision_state"] in wanted:
            return node
        time.sleep(0.1)
    raise AssertionError(f"node in {node.get('provision_state')}: {node.get('last_error')}")


def inspecting_node(site: tuple[IngotServer, httpx.Client], macs: list[str],
                    **properties: Any) -> str:
    server, api = site
    node = api.post("/v1/nodes", json={
        "driver": "local-vm", "properties": properties,
        "driver_info": {"vm_disk": str(server.workdir.parent / "vms" / f"{macs[0]}.img"),
                        "vm_disk_size": 1}})
    assert node.status_code == 201, node.text
    uuid: str = node.json()["uuid"]
    assert node.json()["inspect_interface"] == "agent"
    response = api.post("/v1/ports", json={"node_uuid": uuid, "address": macs[0]})
    assert response.status_code == 201
    for target, state in (("manage", "manageable"), ("inspect", "inspect wait")):
        response = api.put(f"/v1/nodes/{uuid}/states/provision", json={"target": target})
        assert response.status_code == 202, response.text
        wait_for(api, uuid, (state,))
    return uuid


def snapshot(api: httpx.Client, uuid: str) -> tuple[Any, ...]:
    node = api.get(f"/v1/nodes/{uuid}").json()
    ports = api.get("/v1/ports/detail", params={"node": uuid}).json()["ports"]
    return (node["provision_state"], node["properties"], node["traits"],
            sorted((p["address"], p["pxe_enabled"]) for p in ports),
            api.get(f"/v1/nodes/{uuid}/inventory").status_code)


def test_bad_inventories_change_nothing(site: tuple[IngotServer, httpx.Client]) -> None:
    _server, api = site
    macs = [factories.mac(), factories.mac()]
    uuid = inspecting_node(site, macs)
    before = snapshot(api, uuid)
    good = inventory(macs)
    missing_cpu = inventory(macs)
    del missing_cpu["inventory"]["cpu"]
    bad_disk = inventory(macs)
    bad_disk["inventory"]["disks"][0]["size"] = "big"
    no_interfaces = inventory(macs)
    no_interfaces["inventory"]["interfaces"] = []
    cases = [
        (missing_cpu, 400, "inventory/cpu"),
        (bad_disk, 400, "inventory/disks/0/size"),
        (no_interfaces, 400, "inventory/interfaces"),
        ({"root_disk": {}}, 400, "inventory"),
        ({**good, "agent_token": "not-the-token"}, 401, "agent token"),
        ({**good, "padding": "x" * (2 << 20)}, 413, ""),
    ]
    for body, status, field in cases:
        response = httpx.post(f"{api.base_url}/v1/continue_inspection", json=body,
                              timeout=30, trust_env=False)
        assert response.status_code == status, (field, response.text)
        assert field in response.json()["error_message"]
        assert snapshot(api, uuid) == before
    # Not JSON at all.
    response = httpx.post(f"{api.base_url}/v1/continue_inspection", content=b"{",
                          headers={"Content-Type": "application/json"}, trust_env=False)
    assert response.status_code == 400
    assert snapshot(api, uuid) == before


def test_node_not_inspecting_is_refused(site: tuple[IngotServer, httpx.Client]) -> None:
    _server, api = site
    macs = [factories.mac()]
    uuid = api.post("/v1/nodes", json={"driver": "fake-hardware"}).json()["uuid"]
    assert api.post("/v1/ports", json={"node_uuid": uuid, "address": macs[0]}
                    ).status_code == 201
    before = snapshot(api, uuid)
    response = httpx.post(f"{api.base_url}/v1/continue_inspection", json=inventory(macs),
                          trust_env=False)
    assert response.status_code == 409, response.text
    assert "enroll" in response.json()["error_message"]
    assert snapshot(api, uuid) == before


def test_inspection_fills_properties_ports_inventory_and_runs_rules(
        site: tuple[IngotServer, httpx.Client]) -> None:
    _server, api = site
    macs = [factories.mac(), factories.mac()]
    stale = factories.mac()
    rule = api.post("/v1/inspection_rules", json={
        "description": "uefi machines of vendor ingot",
        "priority": 50,
        "conditions": [{"op": "eq", "args": {"values": [
            "{inventory[system_vendor][manufacturer]}", "ingot"]}},
            {"op": "!is-empty", "args": ["{inventory[boot][current_boot_mode]}"]}],
        "actions": [{"op": "add-trait", "args": {"name": "CUSTOM_INGOT_UEFI"}},
                    {"op": "set-attribute", "args": {"path": "/extra/vendor",
                                                     "value": "{inventory[system_vendor]}"}},
                    {"op": "set-plugin-data", "args": ["seen_by", "rule"]}]})
    assert rule.status_code == 201, rule.text
    try:
        uuid = inspecting_node(site, macs, root_device={"name": "/dev/vdb"})
        assert api.post("/v1/ports", json={"node_uuid": uuid, "address": stale}
                        ).status_code == 201
        response = httpx.post(f"{api.base_url}/v1/continue_inspection",
                              json=inventory(macs, pxe=macs[1]), trust_env=False)
        assert response.status_code == 202, response.text
        assert response.json() == {"uuid": uuid}
        node = wait_for(api, uuid, ("manageable", "inspect failed"))
        assert node["provision_state"] == "manageable", node["last_error"]
        assert node["inspection_finished_at"] is not None
        assert node["power_state"] == "power off"
        properties = node["properties"]
        # local_gb: the hinted disk (10 GiB), less 1 GiB for partitioning.
        assert (properties["cpus"], properties["cpu_arch"], properties["memory_mb"],
                properties["local_gb"]) == (4, "x86_64", 8192, 9)
        assert properties["capabilities"] == "boot_mode:uefi"
        assert set(node["traits"]) == {"CUSTOM_INGOT_UEFI", "CUSTOM_BUILT_IN"}
        assert node["extra"]["vendor"]["product_name"] == "test machine"
        ports = api.get("/v1/ports/detail", params={"node": uuid}).json()["ports"]
        # add_ports=all, keep_ports=present: both NICs, the stale port gone; the boot
        # NIC alone PXE-enabled.
        assert sorted((p["address"], p["pxe_enabled"]) for p in ports) == \
            sorted([(macs[0], False), (macs[1], True)])
        stored = api.get(f"/v1/nodes/{uuid}/inventory")
        assert stored.status_code == 200
        body = stored.json()
        assert body["inventory"]["cpu"]["count"] == 4
        assert body["plugin_data"]["root_disk"]["name"] == "/dev/vdb"
        assert body["plugin_data"]["seen_by"] == "rule"
        assert body["plugin_data"]["rules_applied"] == ["built-in", rule.json()["uuid"]] \
            or body["plugin_data"]["rules_applied"] == [rule.json()["uuid"], "built-in"]
        # A second post finds the node no longer inspecting.
        again = httpx.post(f"{api.base_url}/v1/continue_inspection",
                           json=inventory(macs), trust_env=False)
        assert again.status_code == 409
    finally:
        api.delete(f"/v1/inspection_rules/{rule.json()['uuid']}")


def test_failing_rule_fails_inspection(site: tuple[IngotServer, httpx.Client]) -> None:
    _server, api = site
    macs = [factories.mac()]
    rule = api.post("/v1/inspection_rules", json={
        "conditions": [{"op": "lt", "args": {"values": ["{inventory[cpu][count]}", 8]}}],
        "actions": [{"op": "fail", "args": {"msg": "too few CPUs"}}]}).json()
    try:
        uuid = inspecting_node(site, macs)
        response = httpx.post(f"{api.base_url}/v1/continue_inspection",
                              json=inventory(macs), trust_env=False)
        assert response.status_code == 202
        node = wait_for(api, uuid, ("inspect failed",))
        assert "too few CPUs" in node["last_error"]
        assert "cpus" not in node["properties"] and node["traits"] == []
    finally:
        api.delete(f"/v1/inspection_rules/{rule['uuid']}")


def test_unknown_machine_enrolls_itself(site: tuple[IngotServer, httpx.Client]) -> None:
    _server, api = site
    macs = [factories.mac(), factories.mac()]
    rule = api.post("/v1/inspection_rules", json={
        "sensitive": True,
        "conditions": [{"op": "is-true", "args": ["{plugin_data[auto_discovered]}"]}],
        "actions": [{"op": "set-attribute", "args": ["/driver_info/ipmi_address",
                                                     "{inventory[bmc_address]}"]},
                    {"op": "set-attribute", "args": ["/driver_info/ipmi_password", "s3"]},
                    {"op": "add-trait", "args": ["CUSTOM_DISCOVERED"]}]}).json()
    assert rule["actions"] is None  # sensitive: never shown again
    try:
        response = httpx.post(f"{api.base_url}/v1/continue_inspection",
                              json=inventory(macs, pxe=macs[0]), trust_env=False)
        assert response.status_code == 202, response.text
        uuid = response.json()["uuid"]
        node = api.get(f"/v1/nodes/{uuid}").json()
        assert node["provision_state"] == "enroll" and node["driver"] == "fake-hardware"
        assert node["properties"]["cpus"] == 4 and node["properties"]["local_gb"] == 9
        assert "CUSTOM_DISCOVERED" in node["traits"]
        assert node["driver_info"]["ipmi_address"] == "0.0.0.0"
        assert node["driver_info"]["ipmi_password"] == "******"
        ports = api.get("/v1/ports/detail", params={"node": uuid}).json()["ports"]
        assert sorted(p["address"] for p in ports) == sorted(macs)
        inventory_body = api.get(f"/v1/nodes/{uuid}/inventory").json()
        assert inventory_body["plugin_data"]["auto_discovered"] is True
    finally:
        api.delete(f"/v1/inspection_rules/{rule['uuid']}")


def test_rules_api_refuses_bad_rules(site: tuple[IngotServer, httpx.Client]) -> None:
    _server, api = site
    before = api.get("/v1/inspection_rules").json()
    bad = [
        ({"actions": []}, "actions"),
        ({"actions": [{"op": "explode"}]}, "actions/0/op"),
        ({"actions": [{"op": "add-trait", "args": {}}]}, "missing required argument(s): "
                                                          "name"),
        ({"actions": [{"op": "set-attribute", "args": ["/provision_state", "active"]}]},
         "provision_state"),
        ({"conditions": [{"op": "matches", "args": ["x", "("]}],
          "actions": [{"op": "log", "args": ["hi"]}]}, "regex"),
        ({"priority": 10000, "actions": [{"op": "log", "args": ["hi"]}]}, "priority"),
    ]
    for body, field in bad:
        response = api.post("/v1/inspection_rules", json=body)
        assert response.status_code == 400, response.text
        assert field in response.json()["error_message"]
    assert api.get("/v1/inspection_rules").json() == before
    assert GIB  # the inventory helper's unit, shared with the other tests


def test_rules_read_back_as_written(site: tuple[IngotServer, httpx.Client]) -> None:
    """As Ironic: conditions and actions come back as given; fields narrows the view."""
    _server, api = site
    actions = [{"op": "set-attribute", "args": ["/driver", "fake-hardware"]}]
    conditions = [{"op": "eq", "args": ["{node.driver}", "local-vm"], "multiple": "all"}]
    rule = api.post("/v1/inspection_rules", json={"actions": actions,
                                                  "conditions": conditions,
                                                  "description": "as written"}).json()
    try:
        assert (rule["actions"], rule["conditions"]) == (actions, conditions)
        new_actions = [{"op": "add-trait", "args": ["CUSTOM_X"]}]
        patched = api.patch(f"/v1/inspection_rules/{rule['uuid']}", json=[
            {"op": "add", "path": "/actions", "value": new_actions}])
        assert patched.status_code == 200, patched.text
        assert patched.json()["actions"] == new_actions
        assert patched.json()["description"] == "as written"
        listed = api.get("/v1/inspection_rules", params={"fields": "uuid"}).json()
        mine = [r for r in listed["inspection_rules"] if r["uuid"] == rule["uuid"]]
        assert mine and set(mine[0]) == {"uuid", "links"}
        assert api.get("/v1/inspection_rules", params={"fields": "nope"}).status_code == 400
    finally:
        api.delete(f"/v1/inspection_rules/{rule['uuid']}")
