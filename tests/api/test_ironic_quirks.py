"""Behaviour Ironic's own API suite (ironic-tempest-plugin) relies on, checked here
directly: paths without /v1 and with a .json suffix, identifiers that are neither a
UUID nor a name, traits before 1.37, node protection, ports' physical networks in a
portgroup, volume records of a powered-on node, and changing a node's hardware type."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests import factories
from tests.assertions import created_body, fault, snapshot
from tests.servers.ingot import IngotServer
from tests.servers.process import wait_until

VERSION = "1.90"


@pytest.fixture
def api(ingot: IngotServer) -> Iterator[httpx.Client]:
    with ingot.client(version=VERSION) as client:
        yield client


def _node(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    return created_body(api.post("/v1/nodes", json={
        "driver": "fake-hardware", "name": f"q-{uuid.uuid4().hex[:8]}", **fields}))


def _at(version: str) -> dict[str, str]:
    return {"X-OpenStack-Ironic-API-Version": version}


def test_a_path_without_the_version_is_v1(api: httpx.Client, ingot: IngotServer) -> None:
    node = _node(api)
    # Whole URLs: httpx would read a relative //nodes as a host name.
    for path in (f"{ingot.url}/nodes/{node['uuid']}", f"{ingot.url}//nodes/{node['uuid']}",
                 f"{ingot.url}/v1/nodes/{node['uuid']}"):
        answer = api.get(path)
        assert answer.status_code == 200, (path, answer.text)
        assert answer.json()["uuid"] == node["uuid"]
    assert api.get("/drivers/fake-hardware/properties").status_code == 200
    listed = api.get("/ports/detail", params={"node": node["uuid"]})
    assert listed.status_code == 200 and listed.json() == {"ports": []}
    assert api.get("/nosuchthing").status_code == 404
    # The root document stays the root, /v1 the version document.
    assert "versions" in api.get("/").json()
    assert api.get("/v1").json()["id"] == "v1"


def test_a_json_suffix_is_stripped_before_1_91(api: httpx.Client) -> None:
    node = _node(api)
    path = f"/v1/nodes/{node['uuid']}.json"
    assert api.get(path).json()["uuid"] == node["uuid"]
    assert api.patch(path, json=[{"op": "add", "path": "/extra/a", "value": "b"}]
                     ).json()["extra"] == {"a": "b"}
    newer = api.get(path, headers=_at("1.91"))
    assert newer.status_code == 404, newer.text
    group = created_body(api.post("/v1/portgroups", json={"node_uuid": node["uuid"]}))
    assert api.get(f"/v1/portgroups/{group['uuid']}.json").json()["uuid"] == group["uuid"]
    assert api.delete(f"/v1/portgroups/{group['uuid']}.json").status_code == 204
    assert api.delete(path).status_code == 204
    assert api.get(f"/v1/nodes/{node['uuid']}").status_code == 404


def test_v1_links_every_resource_of_the_version(api: httpx.Client) -> None:
    old = api.get("/v1", headers=_at("1.1")).json()
    assert {"chassis", "nodes", "ports", "drivers"} <= set(old)
    assert not {"portgroups", "volume", "allocations", "deploy_templates"} & set(old)
    new = api.get("/v1", headers=_at("1.96")).json()
    for name in ("chassis", "portgroups", "volume", "allocations", "deploy_templates",
                 "inspection_rules", "continue_inspection"):
        assert new[name][0]["href"].endswith(f"/v1/{name}/"), name


def test_a_malformed_identifier_is_a_400_naming_it(api: httpx.Client,
                                                    ingot: IngotServer) -> None:
    node = _node(api)
    mac = factories.mac("52:54:07")
    port = created_body(api.post("/v1/ports", json={"node_uuid": node["uuid"], "address": mac}))
    before = snapshot(ingot)
    bad = [
        ("get", f"/v1/ports/{mac}", "port_ident"),
        ("get", "/v1/ports/malformed:uuid", "port_ident"),
        ("patch", f"/v1/ports/{mac}", "port_ident"),
        ("delete", f"/v1/ports/{mac}", "port_uuid"),
        ("delete", "/v1/ports/a-name", "port_uuid"),
        ("get", "/v1/chassis/not-a-uuid", "chassis_uuid"),
        ("get", "/v1/portgroups/a:b", "portgroup_ident"),
        ("get", "/v1/volume/connectors/fake_volume_connector", "connector_uuid"),
        ("delete", "/v1/volume/targets/fake_volume_target", "target_uuid"),
    ]
    for method, path, name in bad:
        kwargs: dict[str, Any] = {"json": [{"op": "add", "path": "/extra/a", "value": 1}]
                                  } if method == "patch" else {}
        answer = api.request(method.upper(), path, **kwargs)
        assert answer.status_code == 400, (path, answer.text)
        assert name in fault(answer), (path, fault(answer))
    assert api.get(f"/v1/ports/{port['uuid']}").status_code == 200
    assert snapshot(ingot) == before


def test_a_port_on_a_missing_node_is_a_400(api: httpx.Client, ingot: IngotServer) -> None:
    node = _node(api)
    port = created_body(api.post("/v1/ports", json={"node_uuid": node["uuid"],
                                                    "address": factories.mac("52:54:08")}))
    before = snapshot(ingot)
    missing = str(uuid.uuid4())
    created = api.post("/v1/ports", json={"node_uuid": missing,
                                          "address": factories.mac("52:54:08")})
    assert created.status_code == 400 and missing in fault(created), created.text
    moved = api.patch(f"/v1/ports/{port['uuid']}",
                      json=[{"op": "replace", "path": "/node_uuid", "value": missing}])
    assert moved.status_code == 400 and missing in fault(moved), moved.text
    assert snapshot(ingot) == before


def test_a_portgroup_keeps_one_physical_network(api: httpx.Client, ingot: IngotServer) -> None:
    node = _node(api)
    group = created_body(api.post("/v1/portgroups", json={"node_uuid": node["uuid"]}))

    def port(**fields: Any) -> httpx.Response:
        return api.post("/v1/ports", json={"node_uuid": node["uuid"],
                                           "address": factories.mac("52:54:09"), **fields})

    first = created_body(port(portgroup_uuid=group["uuid"], physical_network="physnet1"))
    second = created_body(port(portgroup_uuid=group["uuid"], physical_network="physnet1"))
    outside = created_body(port(physical_network="physnet2"))
    before = snapshot(ingot)
    clash = port(portgroup_uuid=group["uuid"], physical_network="physnet2")
    assert clash.status_code == 409, clash.text
    assert "physnet1" in fault(clash) and group["uuid"] in fault(clash)
    joining = api.patch(f"/v1/ports/{outside['uuid']}", json=[
        {"op": "replace", "path": "/portgroup_uuid", "value": group["uuid"]}])
    assert joining.status_code == 409, joining.text
    renamed = api.patch(f"/v1/ports/{second['uuid']}", json=[
        {"op": "replace", "path": "/physical_network", "value": "physnet2"}])
    assert renamed.status_code == 409, renamed.text
    assert snapshot(ingot) == before
    # The only member may change its network: no other member disagrees.
    assert api.delete(f"/v1/ports/{second['uuid']}").status_code == 204
    alone = api.patch(f"/v1/ports/{first['uuid']}", json=[
        {"op": "replace", "path": "/physical_network", "value": "physnet3"}])
    assert alone.status_code == 200 and alone.json()["physical_network"] == "physnet3"


def test_traits_before_1_37_answer_as_ironic(api: httpx.Client, ingot: IngotServer) -> None:
    node = _node(api)
    traits = f"/v1/nodes/{node['uuid']}/traits"
    before = snapshot(ingot)
    assert api.get(traits, headers=_at("1.36")).status_code == 406
    assert api.put(traits, json={"traits": ["CUSTOM_A"]},
                   headers=_at("1.36")).status_code == 405
    assert api.put(f"{traits}/CUSTOM_A", headers=_at("1.36")).status_code == 405
    assert api.delete(traits, headers=_at("1.36")).status_code == 404
    assert snapshot(ingot) == before


def test_a_node_holds_at_most_50_traits(api: httpx.Client, ingot: IngotServer) -> None:
    node = _node(api)
    traits = f"/v1/nodes/{node['uuid']}/traits"
    fifty = [f"CUSTOM_T{i}" for i in range(50)]
    assert api.put(traits, json={"traits": fifty}).status_code == 204
    before = snapshot(ingot)
    more = api.put(f"{traits}/CUSTOM_T50")
    assert more.status_code == 400 and "(51 vs. 50)" in fault(more), more.text
    too_many = api.put(traits, json={"traits": [*fifty, "CUSTOM_T50"]})
    assert too_many.status_code == 400 and "(51 vs. 50)" in fault(too_many)
    assert snapshot(ingot) == before
    assert sorted(api.get(traits).json()["traits"]) == sorted(fifty)


def _in_state(api: httpx.Client, path: str, state: str) -> bool:
    return bool(api.get(path).json()["provision_state"] == state)


def _moved(api: httpx.Client, node: dict[str, Any], *targets: str) -> None:
    reached = {"manage": "manageable", "provide": "available", "active": "active"}
    path = f"/v1/nodes/{node['uuid']}"
    for target in targets:
        answer = api.put(f"{path}/states/provision", json={"target": target})
        assert answer.status_code == 202, answer.text
        wait_until(functools.partial(_in_state, api, path, reached[target]), 30,
                   f"node {reached[target]}")


def _deployed(api: httpx.Client) -> dict[str, Any]:
    node = _node(api, deploy_interface="fake", network_interface="noop")
    _moved(api, node, "manage", "provide", "active")
    return node


def test_protection_as_ironic(api: httpx.Client, ingot: IngotServer) -> None:
    available = _node(api)
    before = snapshot(ingot)
    early = api.patch(f"/v1/nodes/{available['uuid']}",
                      json=[{"op": "replace", "path": "/protected", "value": True}])
    assert early.status_code == 409 and "'enroll'" in fault(early), early.text
    assert snapshot(ingot) == before
    node = _deployed(api)
    path = f"/v1/nodes/{node['uuid']}"
    reason = api.patch(path, json=[{"op": "add", "path": "/protected_reason", "value": "r"}])
    assert reason.status_code == 400 and "protected_reason" in fault(reason)
    protected = api.patch(path, json=[
        {"op": "replace", "path": "/protected", "value": True},
        {"op": "add", "path": "/protected_reason", "value": "reason!"},
        {"op": "replace", "path": "/maintenance", "value": True}]).json()
    assert (protected["protected"], protected["protected_reason"]) == (True, "reason!")
    refused = api.delete(path)
    assert refused.status_code == 403 and "is protected" in fault(refused), refused.text
    cleared = api.patch(path, json=[{"op": "replace", "path": "/protected", "value": False}])
    assert (cleared.json()["protected"], cleared.json()["protected_reason"]) == (False, None)
    assert api.delete(path).status_code == 204


def test_volume_records_of_a_powered_on_available_node_stay(
        api: httpx.Client, ingot: IngotServer) -> None:
    node = _node(api)
    _moved(api, node, "manage", "provide")
    connector = created_body(api.post("/v1/volume/connectors", json={
        "node_uuid": node["uuid"], "type": "iqn",
        "connector_id": f"iqn.2026-12.org.example:{uuid.uuid4().hex[:8]}"}))
    path = f"/v1/nodes/{node['uuid']}"
    assert api.put(f"{path}/states/power", json={"target": "power on"}).status_code == 202
    wait_until(lambda: api.get(path).json()["power_state"] == "power on", 30, "power on")
    before = snapshot(ingot)
    refused = api.delete(f"/v1/volume/connectors/{connector['uuid']}")
    assert refused.status_code == 400, refused.text
    assert "volume connector deletion" in fault(refused)
    assert snapshot(ingot) == before


def test_console_by_ironics_older_path(api: httpx.Client) -> None:
    node = _node(api)
    answer = api.get(f"/v1/nodes/states/console/{node['uuid']}")
    assert answer.status_code == 200, answer.text
    assert {"console_enabled", "console_info"} <= set(answer.json())


def test_removed_interface_takes_the_default(api: httpx.Client) -> None:
    node = _node(api, console_interface="no-console")
    path = f"/v1/nodes/{node['uuid']}"
    for field in ("boot_interface", "console_interface"):
        patched = api.patch(path, json=[{"op": "remove", "path": f"/{field}"}])
        assert patched.status_code == 200, patched.text
        assert patched.json()[field] == "fake"


def test_a_new_hardware_type_keeps_the_interfaces_unless_reset(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    server = IngotServer(tmp_path_factory.mktemp("ipmi-enabled"), options={
        "DEFAULT": {"enabled_hardware_types": "fake-hardware,ipmi"}}).start()
    try:
        with server.client(version="1.45") as api:
            node = _node(api)
            path = f"/v1/nodes/{node['uuid']}"
            to_ipmi = [{"op": "replace", "path": "/driver", "value": "ipmi"}]
            before = snapshot(server)
            kept = api.patch(path, json=to_ipmi)
            assert kept.status_code == 400 and "ipmi" in fault(kept), kept.text
            alone = api.patch(path, params={"reset_interfaces": "true"},
                              json=[{"op": "add", "path": "/extra/a", "value": 1}])
            assert alone.status_code == 400 and "reset_interfaces" in fault(alone)
            assert api.patch(path, params={"reset_interfaces": "true"}, json=to_ipmi,
                             headers=_at("1.44")).status_code == 406
            assert snapshot(server) == before
            reset = api.patch(path, params={"reset_interfaces": "true"}, json=to_ipmi)
            assert reset.status_code == 200, reset.text
            assert reset.json()["driver"] == "ipmi"
            assert reset.json()["power_interface"] == "ipmitool"
            assert reset.json()["boot_interface"] != "fake"
    finally:
        server.stop()


def test_heartbeat_may_name_its_node_in_the_body(api: httpx.Client,
                                                 ingot: IngotServer) -> None:
    node = _node(api)
    body = {"node_ident": node["uuid"], "callback_url": "http://127.0.0.1:9999",
            "agent_token": "not-the-token"}
    before = snapshot(ingot)
    assert api.post("/v1/heartbeat", json=body, headers=_at("1.21")).status_code == 404
    # The route exists from 1.22: a wrong token is refused as on /v1/heartbeat/{node}.
    assert api.post("/v1/heartbeat", json=body).status_code == 401
    nameless = api.post("/v1/heartbeat", json={k: v for k, v in body.items()
                                               if k != "node_ident"})
    assert nameless.status_code == 400 and "node_ident" in fault(nameless)
    both = api.post(f"/v1/heartbeat/{node['uuid']}", json=body)
    assert both.status_code == 400 and "node_ident" in fault(both)
    assert snapshot(ingot) == before


def test_list_filters_as_ironic(api: httpx.Client) -> None:
    node = _node(api)
    group = created_body(api.post("/v1/portgroups", json={"node_uuid": node["uuid"]}))
    old = api.get("/v1/ports", params={"portgroup": group["uuid"]}, headers=_at("1.23"))
    assert old.status_code == 406, old.text
    assert api.get(f"/v1/portgroups/{group['uuid']}/ports",
                   headers=_at("1.23")).status_code == 404
    assert api.get("/v1/ports", params={"portgroup": group["uuid"]}).json() == {"ports": []}
    fault_filter = api.get("/v1/nodes", params={"fault": "somefake"})
    assert fault_filter.status_code == 400 and "somefake" in fault(fault_filter)
    assert api.get("/v1/nodes", params={"fault": "power failure"}).status_code == 200
    # A new node has no conductor of its own yet: it is the one the directory picks.
    conductor = api.get(f"/v1/nodes/{node['uuid']}").json()["conductor"]
    assert conductor
    mine = api.get("/v1/nodes", params={"conductor": conductor, "limit": 1000}).json()
    assert node["uuid"] in [n["uuid"] for n in mine["nodes"]]
    other = api.get("/v1/nodes", params={"conductor": "elsewhere"}).json()
    assert other["nodes"] == []


def test_available_had_no_name_before_1_2(api: httpx.Client) -> None:
    node = created_body(api.post("/v1/nodes", json={"driver": "fake-hardware"},
                                 headers=_at("1.1")))
    assert node["provision_state"] is None
    path = f"/v1/nodes/{node['uuid']}"
    assert api.get(path).json()["provision_state"] == "available"
    assert api.get(f"{path}/states", headers=_at("1.1")).json()["provision_state"] is None
    assert api.delete(path).status_code == 204


def test_a_rule_may_name_its_attribute_by_placeholder(api: httpx.Client) -> None:
    headers = _at("1.96")
    templated = [{"op": "set-attribute", "args": ["{{ /properties/cpu_model }}", "x"]}]
    rule = api.post("/v1/inspection_rules", json={"actions": templated}, headers=headers)
    assert rule.status_code == 201, rule.text
    try:
        assert rule.json()["actions"] == templated
    finally:
        api.delete(f"/v1/inspection_rules/{rule.json()['uuid']}", headers=headers)
    fixed = [{"op": "set-attribute", "args": ["/provision_state", "active"]}]
    refused = api.post("/v1/inspection_rules", json={"actions": fixed}, headers=headers)
    assert refused.status_code == 400 and "provision_state" in fault(refused)


def test_a_port_may_name_its_node_by_node_ident(api: httpx.Client,
                                                ingot: IngotServer) -> None:
    node = _node(api)
    # A group no conductor serves: patching does not ask for one, as in Ironic.
    group = f"g{uuid.uuid4().hex[:6]}"
    assert api.patch(f"/v1/nodes/{node['uuid']}", json=[
        {"op": "replace", "path": "/conductor_group", "value": group}]).status_code == 200
    mac = factories.mac("52:54:0a")
    before = snapshot(ingot)
    old = api.post("/v1/ports", json={"node_ident": node["name"], "address": mac},
                   headers=_at("1.93"))
    assert old.status_code == 406, old.text
    both = api.post("/v1/ports", json={"node_ident": node["name"], "address": mac,
                                       "node_uuid": node["uuid"]}, headers=_at("1.94"))
    assert both.status_code == 400 and "node_ident" in fault(both)
    missing = api.post("/v1/ports", json={"node_ident": "nobody-here", "address": mac},
                       headers=_at("1.94"))
    assert missing.status_code == 400 and "nobody-here" in fault(missing)
    assert snapshot(ingot) == before
    port = created_body(api.post("/v1/ports", json={"node_ident": node["name"], "address": mac},
                                 headers=_at("1.94")))
    assert port["node_uuid"] == node["uuid"]
    # Ports filtered by their node's conductor group, alone.
    listed = api.get("/v1/ports", params={"conductor_groups": f"other,{group.upper()}"})
    assert [p["uuid"] for p in listed.json()["ports"]] == [port["uuid"]]
    mixed = api.get("/v1/ports", params={"conductor_groups": group,
                                         "node": node["uuid"]})
    assert mixed.status_code == 400 and "conductor_groups" in fault(mixed)


def test_portgroups_filter_by_shard_and_conductor_group(api: httpx.Client) -> None:
    node = _node(api)
    shard, group = f"s{uuid.uuid4().hex[:6]}", f"g{uuid.uuid4().hex[:6]}"
    assert api.patch(f"/v1/nodes/{node['uuid']}", json=[
        {"op": "add", "path": "/shard", "value": shard},
        {"op": "replace", "path": "/conductor_group", "value": group}],
        headers=_at("1.106")).status_code == 200
    portgroup = created_body(api.post("/v1/portgroups", json={"node_uuid": node["uuid"]}))
    created_body(api.post("/v1/portgroups", json={"node_uuid": _node(api)["uuid"]}))
    by_shard = api.get("/v1/portgroups", params={"shard": f"{shard},other"},
                       headers=_at("1.106"))
    assert [p["uuid"] for p in by_shard.json()["portgroups"]] == [portgroup["uuid"]]
    assert api.get("/v1/portgroups", params={"shard": shard},
                   headers=_at("1.105")).status_code == 406
    by_group = api.get("/v1/portgroups", params={"conductor_groups": group.upper()})
    assert [p["uuid"] for p in by_group.json()["portgroups"]] == [portgroup["uuid"]]
    both = api.get("/v1/portgroups", params={"conductor_groups": group, "node": node["uuid"]})
    assert both.status_code == 400 and "simultaneously" in fault(both)


def test_vmedia_other_methods_as_ironic(api: httpx.Client) -> None:
    node = _node(api)
    path = f"/v1/nodes/{node['uuid']}/vmedia"
    assert api.put(path, json={}, headers=_at("1.88")).status_code == 404
    assert api.put(path, json={}, headers=_at("1.89")).status_code == 405


def test_a_volume_change_waits_for_the_nodes_power_request(api: httpx.Client) -> None:
    """As Ironic's conductor retries a locked node: a change right after a power
    request applies once the conductor has done it, not a 409 or a 400."""
    node = _node(api)
    connector = created_body(api.post("/v1/volume/connectors", json={
        "node_uuid": node["uuid"], "type": "iqn",
        "connector_id": f"iqn.2026-12.org.example:{uuid.uuid4().hex[:8]}"}))
    path = f"/v1/volume/connectors/{connector['uuid']}"
    for _ in range(3):
        assert api.put(f"/v1/nodes/{node['uuid']}/states/power",
                       json={"target": "power off"}).status_code == 202
        changed = api.patch(path, json=[{"op": "add", "path": "/extra/n", "value": 1}])
        assert changed.status_code == 200, changed.text
    assert api.put(f"/v1/nodes/{node['uuid']}/states/power",
                   json={"target": "power off"}).status_code == 202
    assert api.delete(path).status_code == 204


def test_a_name_ending_in_json_is_still_found_before_1_91(api: httpx.Client) -> None:
    """The suffix comes off the path, then, as Ironic, the name is looked up again with
    it when nothing has the shorter name."""
    name = f"a-{uuid.uuid4().hex[:8]}.json"
    allocation = created_body(api.post("/v1/allocations", json={"resource_class": "none",
                                                                "name": name}))
    assert api.get(f"/v1/allocations/{name}").json()["uuid"] == allocation["uuid"]
    node = _node(api)
    group = created_body(api.post("/v1/portgroups", json={"node_uuid": node["uuid"],
                                                          "name": name}))
    assert api.get(f"/v1/portgroups/{name}").json()["uuid"] == group["uuid"]
    shorter = created_body(api.post("/v1/portgroups", json={"node_uuid": node["uuid"],
                                                            "name": name.removesuffix(".json")}))
    assert api.get(f"/v1/portgroups/{name}").json()["uuid"] == shorter["uuid"]
    assert api.get(f"/v1/portgroups/{name}", headers=_at("1.91")).json()[
        "uuid"] == group["uuid"]
    assert api.delete(f"/v1/allocations/{allocation['uuid']}").status_code == 204


def test_power_requests_in_a_row_wait_for_each_other(api: httpx.Client) -> None:
    node = _node(api)
    path = f"/v1/nodes/{node['uuid']}/states/power"
    for target in ("power on", "rebooting", "power off", "power on"):
        answer = api.put(path, json={"target": target})
        assert answer.status_code == 202, (target, answer.text)
    wait_until(lambda: api.get(f"/v1/nodes/{node['uuid']}").json()["power_state"]
               == "power on", 30, "power on")
