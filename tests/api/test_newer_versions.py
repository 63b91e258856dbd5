"""API 1.74-1.115 on nodes: the range advertised, each new field and endpoint gated by
its version as Ironic 39 gates it, and bad input refused naming the field with the
database unchanged (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.assertions import fault, snapshot
from tests.servers.ingot import IngotServer
from tests.servers.process import wait_until

LATEST = "1.115"


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def api(ingot: IngotServer) -> Iterator[httpx.Client]:
    with ingot.client(version=LATEST) as client:
        yield client


def test_discovery_advertises_ironic_39s_range(ingot: IngotServer) -> None:
    root = httpx.get(f"{ingot.url}/").json()["default_version"]
    assert (root["min_version"], root["version"]) == ("1.1", LATEST)
    with ingot.client(version=LATEST) as client:
        v1 = client.get("/v1")
        assert v1.json()["version"]["version"] == LATEST
        assert "shards" in v1.json()
        assert v1.headers["X-OpenStack-Ironic-API-Maximum-Version"] == LATEST
        assert v1.headers["X-OpenStack-Request-Id"].startswith("req-")
    with ingot.client(version="1.81") as old:
        assert "shards" not in old.get("/v1").json()


NEW_FIELDS = {"boot_mode": 75, "secure_boot": 75, "shard": 82, "parent_node": 83,
              "firmware_interface": 86, "service_step": 87, "disable_power_off": 95,
              "instance_name": 104, "health": 109}


def test_new_fields_appear_at_their_version(ingot: IngotServer, node: dict[str, Any]) -> None:
    for field, minor in NEW_FIELDS.items():
        with ingot.client(version=f"1.{minor - 1}") as old:
            shown = old.get(f"/v1/nodes/{node['uuid']}").json()
            assert field not in shown
            assert old.get(f"/v1/nodes/{node['uuid']}?fields={field}").status_code == 406
        with ingot.client(version=f"1.{minor}") as new:
            assert field in new.get(f"/v1/nodes/{node['uuid']}").json()
            only = new.get(f"/v1/nodes/{node['uuid']}?fields={field}").json()
            assert set(only) == {field, "links"}
    assert node["firmware_interface"] == "fake"
    assert node["disable_power_off"] is False
    assert node["service_step"] == {}
    assert node["health"] is None
    with ingot.client(version="1.75") as client:
        states = client.get(f"/v1/nodes/{node['uuid']}/states").json()
        assert {"boot_mode", "secure_boot"} <= set(states)


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("field,value,minor", [
    ("shard", "s1", 81), ("parent_node", "x", 82), ("firmware_interface", "fake", 85),
    ("disable_power_off", True, 94), ("instance_name", "i", 103)])
def test_too_new_fields_are_406(ingot: IngotServer, node: dict[str, Any], field: str,
                                value: Any, minor: int) -> None:
    with ingot.client(version=f"1.{minor}") as old:
        created = old.post("/v1/nodes", json={"driver": "fake-hardware", field: value})
        assert created.status_code == 406
        assert field in fault(created)
        patched = old.patch(f"/v1/nodes/{node['uuid']}",
                            json=[{"op": "add", "path": f"/{field}", "value": value}])
        assert patched.status_code == 406
        assert field in fault(patched)


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("field,value,message", [
    ("shard", "s" * 256, "shard is longer than 255"),
    ("shard", 7, "Expected a string for shard"),
    ("parent_node", "no-such-node", "parent_node 'no-such-node'"),
    ("parent_node", "x" * 37, "parent_node is longer than 36"),
    ("firmware_interface", "bogus", 'Interface "bogus" is not supported for '
                                    'firmware_interface'),
    ("disable_power_off", "maybe", "Expected a boolean for disable_power_off"),
    ("instance_name", "", "instance_name must not be empty"),
    ("instance_name", "i" * 256, "instance_name is longer than 255"),
    ("boot_mode", 5, "Expected a string for boot_mode"),
    ("secure_boot", "perhaps", "Expected a boolean for secure_boot"),
    ("health", "OK", "Cannot set health"),
    ("service_step", {}, "Cannot set service_step"),
])
def test_bad_new_field_values(api: httpx.Client, field: str, value: Any, message: str) -> None:
    created = api.post("/v1/nodes", json={"driver": "fake-hardware", field: value})
    assert created.status_code == 400
    assert message in fault(created)


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("field,value,message", [
    ("parent_node", "no-such-node", "parent_node 'no-such-node'"),
    ("instance_name", "", "instance_name must not be empty"),
    ("boot_mode", "uefi", "'/boot_mode' is an internal attribute"),
    ("health", "OK", "'/health' is an internal attribute"),
    ("disable_power_off", [], "Expected a boolean for disable_power_off"),
])
def test_bad_new_field_patches(api: httpx.Client, node: dict[str, Any], field: str, value: Any,
                               message: str) -> None:
    response = api.patch(f"/v1/nodes/{node['uuid']}",
                         json=[{"op": "add", "path": "/extra/new", "value": 1},
                               {"op": "add", "path": f"/{field}", "value": value}])
    assert response.status_code == 400
    assert message in fault(response)


def test_parent_children_and_shards(api: httpx.Client, ingot: IngotServer) -> None:
    shard = _name("shard")
    parent = api.post("/v1/nodes", json={"driver": "fake-hardware", "name": _name("parent"),
                                         "shard": shard}).json()
    child = api.post("/v1/nodes", json={"driver": "fake-hardware", "parent_node":
                                        parent["name"], "shard": shard}).json()
    assert child["parent_node"] == parent["uuid"]  # a name is stored as the UUID
    listed = {n["uuid"] for n in api.get(f"/v1/nodes?shard={shard}").json()["nodes"]}
    assert listed == {parent["uuid"]}  # children are listed only on request
    every = api.get(f"/v1/nodes?shard={shard},other&include_children=true").json()["nodes"]
    assert {n["uuid"] for n in every} == {parent["uuid"], child["uuid"]}
    by_parent = api.get(f"/v1/nodes?parent_node={parent['uuid']}").json()["nodes"]
    assert [n["uuid"] for n in by_parent] == [child["uuid"]]
    children = api.get(f"/v1/nodes/{parent['name']}/children").json()
    assert children["children"] == [child["uuid"]]
    shards = {s["name"]: s["count"] for s in api.get("/v1/shards").json()["shards"]}
    assert shards[shard] == 2
    unsharded = api.get("/v1/nodes?sharded=false&fields=uuid,shard").json()["nodes"]
    assert all(n["shard"] is None for n in unsharded)
    with ingot.client(version="1.82") as old:
        assert old.get(f"/v1/nodes/{parent['uuid']}/children").status_code == 404
        assert old.get(f"/v1/nodes?parent_node={parent['uuid']}").status_code == 406
        assert old.get("/v1/shards").status_code == 200
    with ingot.client(version="1.81") as older:
        assert older.get("/v1/shards").status_code == 404
        assert older.get(f"/v1/nodes?shard={shard}").status_code == 406
    removed = api.patch(f"/v1/nodes/{child['uuid']}",
                        json=[{"op": "remove", "path": "/parent_node"}])
    assert removed.json()["parent_node"] is None
    for created in (child, parent):
        assert api.delete(f"/v1/nodes/{created['uuid']}").status_code == 204


def test_instance_name_follows_display_name(api: httpx.Client, ingot: IngotServer,
                                            node: dict[str, Any]) -> None:
    uuid_ = node["uuid"]
    api.patch(f"/v1/nodes/{uuid_}", json=[{"op": "add", "path": "/instance_info",
                                           "value": {"display_name": "vm-1"}}])
    assert api.get(f"/v1/nodes/{uuid_}").json()["instance_name"] == "vm-1"
    found = api.get("/v1/nodes?instance_name=vm-1&fields=uuid").json()["nodes"]
    assert [n["uuid"] for n in found] == [uuid_]
    api.patch(f"/v1/nodes/{uuid_}", json=[{"op": "replace", "path": "/instance_name",
                                           "value": "explicit"}])
    api.patch(f"/v1/nodes/{uuid_}", json=[{"op": "replace", "path": "/instance_info",
                                           "value": {"display_name": "vm-2"}}])
    assert api.get(f"/v1/nodes/{uuid_}").json()["instance_name"] == "explicit"
    with ingot.client(version="1.103") as old:
        assert old.get("/v1/nodes?instance_name=vm-1").status_code == 406


def test_disable_power_off_is_kept(api: httpx.Client, node: dict[str, Any]) -> None:
    set_ = api.patch(f"/v1/nodes/{node['uuid']}",
                     json=[{"op": "replace", "path": "/disable_power_off", "value": True}])
    assert set_.json()["disable_power_off"] is True
    reset = api.patch(f"/v1/nodes/{node['uuid']}",
                      json=[{"op": "remove", "path": "/disable_power_off"}])
    assert reset.json()["disable_power_off"] is False


def _provision(client: httpx.Client, uuid_: str, **body: Any) -> httpx.Response:
    return client.put(f"/v1/nodes/{uuid_}/states/provision", json=body)


def _set_state(ingot: IngotServer, uuid_: str, state: str) -> None:
    """Put the node in a state the fake driver never stops in (a wait or a hold)."""
    engine = sa.create_engine(ingot.db_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE nodes SET provision_state = :s WHERE uuid = :u"),
                         {"s": state, "u": uuid_})
    finally:
        engine.dispose()


@pytest.mark.usefixtures("unchanged")
def test_new_verbs_are_gated(ingot: IngotServer, node: dict[str, Any]) -> None:
    uuid_ = node["uuid"]
    with ingot.client(version="1.84") as old:
        assert _provision(old, uuid_, target="unhold").status_code == 406
    with ingot.client(version="1.86") as old:
        refused = _provision(old, uuid_, target="service", service_steps=[
            {"interface": "deploy", "step": "noop"}])
        assert refused.status_code == 406
    with ingot.client(version=LATEST) as api:
        wrong_state = _provision(api, uuid_, target="unhold")
        assert wrong_state.status_code == 400
        assert "\"unhold\" can not be performed" in fault(wrong_state)
        no_steps = _provision(api, uuid_, target="service")
        assert no_steps.status_code == 400
        assert "\"service_steps\" is required" in fault(no_steps)
        misplaced = _provision(api, uuid_, target="manage", service_steps=[])
        assert misplaced.status_code == 400
        assert "service_steps" in fault(misplaced)
        ramdisk = _provision(api, uuid_, target="manage", disable_ramdisk=True)
        assert ramdisk.status_code == 400
        assert "disable_ramdisk" in fault(ramdisk)
    with ingot.client(version="1.107") as old:
        early = _provision(old, uuid_, target="service", disable_ramdisk=True,
                           service_steps=[{"interface": "deploy", "step": "noop"}])
        assert early.status_code == 406


def test_abort_in_wait_call_back_needs_1_110(ingot: IngotServer, api: httpx.Client,
                                             node: dict[str, Any]) -> None:
    uuid_ = node["uuid"]
    _set_state(ingot, uuid_, "wait call-back")
    with ingot.client(version="1.109") as old:
        assert _provision(old, uuid_, target="abort").status_code == 406
    assert _provision(api, uuid_, target="abort").status_code == 202
    shown = api.get(f"/v1/nodes/{uuid_}").json()
    assert shown["provision_state"] == "deploy failed"


def test_unhold_resumes_waiting(ingot: IngotServer, api: httpx.Client,
                                node: dict[str, Any]) -> None:
    uuid_ = node["uuid"]
    _set_state(ingot, uuid_, "clean hold")
    assert _provision(api, uuid_, target="unhold").status_code == 202
    assert api.get(f"/v1/nodes/{uuid_}").json()["provision_state"] == "clean wait"


def _reach(api: httpx.Client, uuid_: str, state: str) -> None:
    def there() -> bool:
        shown = api.get(f"/v1/nodes/{uuid_}").json()
        assert not shown["last_error"], shown["last_error"]
        return bool(shown["provision_state"] == state)
    wait_until(there, 60, f"node {uuid_} in {state}", interval=0.1)


def test_service_runs_on_an_active_node(api: httpx.Client, node: dict[str, Any]) -> None:
    uuid_ = node["uuid"]
    for target, state in (("manage", "manageable"), ("provide", "available"),
                          ("active", "active")):
        assert _provision(api, uuid_, target=target).status_code == 202
        _reach(api, uuid_, state)
    steps = [{"interface": "deploy", "step": "noop", "args": {}}]
    assert _provision(api, uuid_, target="service", service_steps=steps).status_code == 202
    _reach(api, uuid_, "active")
    shown = api.get(f"/v1/nodes/{uuid_}").json()
    assert shown["service_step"] == {}
    assert shown["target_provision_state"] is None


PORT_FIELDS = {"name": 88, "description": 97, "vendor": 100, "category": 101,
               "available_for_dynamic_portgroup": 111}


def _mac() -> str:
    digits = uuid.uuid4().hex[:6]
    return "52:54:03:" + ":".join(digits[i:i + 2] for i in range(0, 6, 2))


def test_port_fields_of_1_88_to_1_111(ingot: IngotServer, api: httpx.Client,
                                      node: dict[str, Any]) -> None:
    name = _name("port")
    created = api.post("/v1/ports", json={
        "address": _mac(), "node_uuid": node["uuid"], "name": name, "description": "uplink",
        "vendor": "acme", "category": "data", "available_for_dynamic_portgroup": False})
    assert created.status_code == 201, created.text
    port = created.json()
    assert (port["name"], port["vendor"], port["category"]) == (name, "acme", "data")
    assert port["available_for_dynamic_portgroup"] is False
    assert api.get(f"/v1/ports/{name}").json()["uuid"] == port["uuid"]
    for field, minor in PORT_FIELDS.items():
        with ingot.client(version=f"1.{minor - 1}") as old:
            assert field not in old.get(f"/v1/ports/{port['uuid']}").json()
            assert old.get(f"/v1/ports/{port['uuid']}?fields={field}").status_code == 406
            refused = old.post("/v1/ports", json={"address": _mac(), "node_uuid": node["uuid"],
                                                  field: port[field]})
            assert refused.status_code == 406
            assert field in fault(refused)
    renamed = api.patch(f"/v1/ports/{port['uuid']}",
                        json=[{"op": "replace", "path": "/name", "value": name + "-b"},
                              {"op": "remove", "path": "/available_for_dynamic_portgroup"}])
    assert renamed.json()["name"] == name + "-b"
    assert renamed.json()["available_for_dynamic_portgroup"] is True
    assert api.delete(f"/v1/ports/{port['uuid']}").status_code == 204


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("field,value,message", [
    ("name", "has space", "as name"),
    ("description", "d" * 256, "description is longer than 255"),
    ("vendor", "v" * 33, "vendor is longer than 32"),
    ("category", 5, "Expected a string for category"),
    ("available_for_dynamic_portgroup", "maybe",
     "Expected a boolean for available_for_dynamic_portgroup"),
])
def test_bad_port_field_values(api: httpx.Client, node: dict[str, Any], field: str,
                               value: Any, message: str) -> None:
    refused = api.post("/v1/ports", json={"address": _mac(), "node_uuid": node["uuid"],
                                          field: value})
    assert refused.status_code == 400
    assert message in fault(refused)


def test_port_names_are_unique(ingot: IngotServer, api: httpx.Client,
                               node: dict[str, Any]) -> None:
    name = _name("dup")
    first = api.post("/v1/ports", json={"address": _mac(), "node_uuid": node["uuid"],
                                        "name": name})
    assert first.status_code == 201
    before = snapshot(ingot)
    again = api.post("/v1/ports", json={"address": _mac(), "node_uuid": node["uuid"],
                                        "name": name})
    assert again.status_code == 409
    assert f"A port with name {name} already exists" in fault(again)
    assert snapshot(ingot) == before
    other = api.post("/v1/ports", json={"address": _mac(), "node_uuid": node["uuid"]}).json()
    before = snapshot(ingot)
    clash = api.patch(f"/v1/ports/{other['uuid']}",
                      json=[{"op": "add", "path": "/name", "value": name}])
    assert clash.status_code == 409
    assert snapshot(ingot) == before
