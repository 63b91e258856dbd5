"""Bad requests get the right 4xx, a message naming the problem, and change nothing."""

from __future__ import annotations

import concurrent.futures
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
from tests.servers.ingot import IngotServer


@pytest.fixture
def api(ingot: IngotServer) -> Iterator[httpx.Client]:
    with ingot.client() as client:
        yield client


@pytest.fixture
def node(api: httpx.Client) -> dict[str, Any]:
    name = f"bad-{uuid.uuid4().hex[:8]}"
    created = api.post("/v1/nodes", json={"driver": "fake-hardware", "name": name,
                                          "extra": {"keep": "me"}})
    assert created.status_code == 201
    mac = factories.mac("52:54:02")
    port = api.post("/v1/ports", json={"address": mac, "node_uuid": created.json()["uuid"]})
    assert port.status_code == 201
    return {**created.json(), "mac": mac}


BAD_CREATES = [
    (b"{not json", 400, "Malformed JSON body"),
    (b"[1, 2]", 400, "Expected a JSON object"),
    (b'{"driver": "fake-hardware", "colour": "red"}', 400, "Unknown field(s) in node: colour"),
    (b'{"driver": "fake-hardware", "provision_state": "active"}', 400,
     "Cannot set provision_state"),
    (b'{"name": "x"}', 400, "Missing required field driver"),
    (b'{"driver": "fake-hardware", "name": 12}', 400, "Cannot use 12 as name"),
    (b'{"driver": "fake-hardware", "name": "has space"}', 400, "as name"),
    (b'{"driver": "fake-hardware", "properties": "big"}', 400,
     "Expected an object for properties"),
    (b'{"driver": "fake-hardware", "maintenance": "maybe"}', 400,
     "Expected a boolean for maintenance"),
    (b'{"driver": "fake-hardware", "uuid": "not-a-uuid"}', 400, "Expected a UUID for uuid"),
    (b'{"driver": "fake-hardware", "deploy_interface": "direct"}', 400,
     'Interface "direct" is not supported for deploy_interface'),
    (b'{"driver": "fake-hardware", "conductor_group": "no such group"}', 400,
     "Invalid conductor_group"),
    (b'{"driver": "fake-hardware", "conductor_group": "elsewhere"}', 400,
     "No valid host was found"),
    (b'{"driver": "ipmi"}', 400, "Driver ipmi is not enabled"),
]


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("body,status,message", BAD_CREATES)
def test_bad_node_creates(api: httpx.Client, body: bytes, status: int, message: str) -> None:
    response = api.post("/v1/nodes", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == status
    assert message in fault(response)


BAD_PATCHES = [
    ({"op": "replace", "path": "/provision_state", "value": "active"}, 400,
     "'/provision_state' is an internal attribute"),
    ({"op": "add", "path": "/colour", "value": "red"}, 400, "'/colour' is not a node field"),
    ({"op": "move", "from": "/extra", "path": "/properties"}, 400, "op must be one of"),
    ({"op": "add", "path": "extra/x", "value": 1}, 400, "invalid path"),
    ({"op": "remove", "path": "/extra/absent"}, 400, "Invalid patch"),
    ({"op": "add", "path": "/extra/a/b", "value": 1}, 400, "Invalid patch"),
    ({"op": "replace", "path": "/extra", "value": [1]}, 400, "Expected an object for extra"),
    ({"op": "replace", "path": "/driver", "value": "ipmi"}, 400, "Driver ipmi is not enabled"),
    ({"op": "add", "path": "/extra/x"}, 400, "needs a value"),
]


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("operation,status,message", BAD_PATCHES)
def test_bad_patches(api: httpx.Client, node: dict[str, Any], operation: dict[str, Any],
                     status: int, message: str) -> None:
    good = {"op": "add", "path": "/extra/new", "value": "not applied"}
    response = api.patch(f"/v1/nodes/{node['uuid']}", json=[good, operation])
    assert response.status_code == status
    assert message in fault(response)


@pytest.mark.usefixtures("unchanged")
def test_patch_body_must_be_a_list(api: httpx.Client, node: dict[str, Any]) -> None:
    response = api.patch(f"/v1/nodes/{node['uuid']}", json={"op": "add"})
    assert response.status_code == 400
    assert "non-empty JSON list" in fault(response)


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("header,status,message", [
    ("1.999", 406, "The supported version range is: [1.1, 1.115]"),
    ("2.0", 406, "major version is not supported"),
    ("one.two", 400, "Invalid value for x-openstack-ironic-api-version"),
])
def test_bad_microversions(ingot: IngotServer, header: str, status: int, message: str) -> None:
    response = httpx.get(f"{ingot.url}/v1/nodes",
                         headers={"X-OpenStack-Ironic-API-Version": header})
    assert response.status_code == status
    assert message in fault(response)
    assert response.headers["X-OpenStack-Ironic-API-Minimum-Version"] == "1.1"
    assert response.headers["X-OpenStack-Ironic-API-Maximum-Version"] == "1.115"


@pytest.mark.usefixtures("unchanged")
def test_field_newer_than_requested_version_is_406(ingot: IngotServer) -> None:
    with ingot.client(version="1.40") as old:
        response = old.post("/v1/nodes", json={"driver": "fake-hardware",
                                               "conductor_group": ""})
        assert response.status_code == 406
        assert "conductor_group" in fault(response)
        listed = old.get("/v1/nodes?fields=uuid,owner")
        assert listed.status_code == 406


def test_generic_version_header_is_honoured(ingot: IngotServer, node: dict[str, Any]) -> None:
    response = httpx.get(f"{ingot.url}/v1/nodes/{node['uuid']}",
                         headers={"OpenStack-API-Version": "baremetal 1.45"})
    assert response.status_code == 200
    assert response.headers["X-OpenStack-Ironic-API-Version"] == "1.45"
    assert "conductor_group" not in response.json()
    latest = httpx.get(f"{ingot.url}/v1/nodes/{node['uuid']}",
                       headers={"X-OpenStack-Ironic-API-Version": "latest"})
    assert latest.headers["X-OpenStack-Ironic-API-Version"] == "1.115"
    assert "network_data" in latest.json()


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("target,message", [
    ("active", 'The requested action "active" can not be performed on node'),
    ("provide", 'The requested action "provide" can not be performed on node'),
    ("fly", "Invalid provision state target 'fly'"),
])
def test_invalid_provision_transitions(api: httpx.Client, node: dict[str, Any], target: str,
                                       message: str) -> None:
    response = api.put(f"/v1/nodes/{node['uuid']}/states/provision", json={"target": target})
    assert response.status_code == 400
    assert message in fault(response)


@pytest.mark.usefixtures("unchanged")
def test_configdrive_only_with_deploy_targets(api: httpx.Client, node: dict[str, Any]) -> None:
    response = api.put(f"/v1/nodes/{node['uuid']}/states/provision",
                       json={"target": "manage", "configdrive": {"meta_data": {}}})
    assert response.status_code == 400
    assert "Adding a config drive is only supported" in fault(response)
    with_old_version = api.put(f"/v1/nodes/{node['uuid']}/states/provision",
                               json={"target": "active", "configdrive": {"meta_data": {}}},
                               headers={"X-OpenStack-Ironic-API-Version": "1.55"})
    # Ironic's answer: a 400 (not 406: the microversion itself is supported).
    assert with_old_version.status_code == 400
    assert fault(with_old_version) == ("Providing a JSON object for configdrive is only "
                                       "supported starting with API version 1.56.")
    vendor_data = api.put(f"/v1/nodes/{node['uuid']}/states/provision",
                          json={"target": "active",
                                "configdrive": {"meta_data": {}, "vendor_data": {}}},
                          headers={"X-OpenStack-Ironic-API-Version": "1.58"})
    assert vendor_data.status_code == 400
    assert "vendor_data needs API version 1.59" in fault(vendor_data)


@pytest.mark.usefixtures("unchanged")
def test_invalid_power_target(api: httpx.Client, node: dict[str, Any]) -> None:
    response = api.put(f"/v1/nodes/{node['uuid']}/states/power", json={"target": "warp"})
    assert response.status_code == 400
    assert "Invalid power state target 'warp'" in fault(response)


@pytest.mark.usefixtures("unchanged")
def test_duplicate_node_name_and_uuid(api: httpx.Client, node: dict[str, Any]) -> None:
    by_name = api.post("/v1/nodes", json={"driver": "fake-hardware", "name": node["name"]})
    assert by_name.status_code == 409
    assert f"A node with name {node['name']} already exists" in fault(by_name)
    by_uuid = api.post("/v1/nodes", json={"driver": "fake-hardware", "uuid": node["uuid"]})
    assert by_uuid.status_code == 409
    assert fault(by_uuid) == f"A node with UUID {node['uuid']} already exists."
    # The UUID is checked before the name, whichever the client chose.
    both = api.post("/v1/nodes", json={"driver": "fake-hardware", "uuid": node["uuid"],
                                       "name": node["name"]})
    assert fault(both) == f"A node with UUID {node['uuid']} already exists."
    renamed = api.patch(f"/v1/nodes/{node['uuid']}",
                        json=[{"op": "replace", "path": "/name", "value": node["name"]}])
    assert renamed.status_code == 200  # renaming to its own name is no conflict


def test_concurrent_creates_of_one_name_make_one_node(api: httpx.Client,
                                                      ingot: IngotServer) -> None:
    """Creates racing for a name: one node, every other request Ironic's 409, whether
    the check saw the winner's row or the unique index refused the insert."""
    name = f"race-{uuid.uuid4().hex[:8]}"

    def create(_: int) -> httpx.Response:
        with ingot.client() as client:
            return client.post("/v1/nodes", json={"driver": "fake-hardware", "name": name})

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(create, range(8)))
    assert sorted(r.status_code for r in responses) == [201] + [409] * 7
    for response in responses:
        if response.status_code == 409:
            assert fault(response) == f"A node with name {name} already exists."
            assert response.headers["X-OpenStack-Ironic-API-Version"] == "1.73"
    winner = next(r.json()["uuid"] for r in responses if r.status_code == 201)
    assert api.get(f"/v1/nodes/{name}").json()["uuid"] == winner


@pytest.mark.usefixtures("unchanged")
def test_duplicate_mac_in_any_notation(api: httpx.Client, node: dict[str, Any]) -> None:
    for notation in (node["mac"], node["mac"].upper(), node["mac"].replace(":", "-")):
        response = api.post("/v1/ports", json={"address": notation,
                                               "node_uuid": node["uuid"]})
        assert response.status_code == 409
        assert f"A port with MAC address {node['mac']} already exists" in fault(response)
    bad = api.post("/v1/ports", json={"address": "52:54:zz:00:00:00",
                                      "node_uuid": node["uuid"]})
    assert bad.status_code == 400
    assert "Expected a MAC address for address" in fault(bad)


@pytest.mark.usefixtures("unchanged")
def test_oversized_and_too_deep_bodies(api: httpx.Client, node: dict[str, Any]) -> None:
    big = {"driver": "fake-hardware", "extra": {"blob": "x" * (2 * 1024 * 1024)}}
    response = api.post("/v1/nodes", json=big)
    assert response.status_code == 413
    assert "exceeds the limit of 1048576 bytes" in fault(response)
    patch = [{"op": "add", "path": "/extra/blob", "value": "x" * (2 * 1024 * 1024)}]
    assert api.patch(f"/v1/nodes/{node['uuid']}", json=patch).status_code == 413
    deep: Any = "leaf"
    for _ in range(40):
        deep = {"d": deep}
    response = api.post("/v1/nodes", json={"driver": "fake-hardware", "extra": deep})
    assert response.status_code == 400
    assert "nests deeper than 25 levels" in fault(response)


@pytest.mark.usefixtures("unchanged")
def test_delete_and_retire_refused_where_ironic_refuses(api: httpx.Client,
                                                        ingot: IngotServer) -> None:
    created = api.post("/v1/nodes", json={"driver": "fake-hardware"}).json()
    uuid = created["uuid"]
    for target, state in (("manage", "manageable"), ("provide", "available")):
        api.put(f"/v1/nodes/{uuid}/states/provision", json={"target": target})
        _wait_state(api, uuid, state)
    before = snapshot(ingot)
    retire = [{"op": "replace", "path": "/retired", "value": True}]
    response = api.patch(f"/v1/nodes/{uuid}", json=retire)
    assert response.status_code == 409
    assert "'retired'" in fault(response) and '"available"' in fault(response)
    assert snapshot(ingot) == before
    api.put(f"/v1/nodes/{uuid}/states/provision", json={"target": "active"})
    _wait_state(api, uuid, "active")
    before = snapshot(ingot)
    response = api.delete(f"/v1/nodes/{uuid}")
    assert response.status_code == 409
    assert 'can not be deleted in provision state "active"' in fault(response)
    assert snapshot(ingot) == before
    api.put(f"/v1/nodes/{uuid}/states/provision", json={"target": "deleted"})
    _wait_state(api, uuid, "available")
    assert api.delete(f"/v1/nodes/{uuid}").status_code == 204


def _wait_state(api: httpx.Client, ident: str, state: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if api.get(f"/v1/nodes/{ident}").json()["provision_state"] == state:
            return
        time.sleep(0.05)
    raise AssertionError(f"node {ident} did not reach {state}")


@pytest.mark.usefixtures("unchanged")
def test_unknown_resources_and_methods(api: httpx.Client) -> None:
    missing = api.get("/v1/nodes/no-such-node")
    assert missing.status_code == 404
    assert fault(missing) == "Node no-such-node could not be found."
    unknown_path = api.get("/v1/flavours")
    assert unknown_path.status_code == 404
    assert "/v1/flavours" in fault(unknown_path)
    unsupported = api.get("/v1/events")
    assert unsupported.status_code == 404
    assert "does not implement the events resource" in fault(unsupported)
    method = api.post("/v1/drivers", json={})
    assert method.status_code == 405
    assert "Method POST is not allowed" in fault(method)


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("body", [{"target": {}}, {"target": []}, {"target": [1]},
                                  {"target": None}, {"target": 1},
                                  {"target": "power on", "timeout": True}])
def test_power_target_of_the_wrong_type(api: httpx.Client, node: dict[str, Any],
                                        body: dict[str, Any]) -> None:
    response = api.put(f"/v1/nodes/{node['uuid']}/states/power", json=body)
    assert response.status_code == 400, response.text
    assert ("target" if "timeout" not in body else "timeout") in fault(response)


NUL = "\x00"


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("method,path", [
    ("GET", "/v1/nodes/%00"), ("DELETE", "/v1/nodes/%00"), ("GET", "/v1/nodes/a%00b"),
    ("PATCH", "/v1/nodes/%00"), ("GET", "/v1/nodes/%00/states"),
    ("PUT", "/v1/nodes/%00/states/power"), ("GET", "/v1/conductors/%00"),
    ("GET", "/v1/ports/%00"), ("GET", "/v1/drivers/%00"), ("POST", "/v1/heartbeat/a%00b"),
])
def test_nul_in_a_path_names_nothing(api: httpx.Client, method: str, path: str) -> None:
    response = api.request(method, path, json={"target": "power on"})
    assert response.status_code == 404, response.text
    assert "could not be found" in fault(response)


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("path,name", [
    ("/v1/nodes?owner=a%00b", "owner"), ("/v1/nodes?conductor_group=%00", "conductor_group"),
    ("/v1/nodes/detail?description_contains=%00", "description_contains"),
    ("/v1/nodes?marker=%00", "marker"), ("/v1/ports?address=%00", "address"),
    ("/v1/lookup?node_uuid=%00", "node_uuid"), ("/v1/nodes?fields=uuid%00", "fields"),
])
def test_nul_in_a_query_parameter_is_a_400_naming_it(api: httpx.Client, path: str,
                                                     name: str) -> None:
    response = api.get(path)
    assert response.status_code == 400, response.text
    assert f"Query parameter '{name}' contains a NUL character" in fault(response)


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("body,field", [
    ({"driver": "fake-hardware", "description": f"a{NUL}b"}, "description"),
    ({"driver": "fake-hardware", "owner": NUL}, "owner"),
    ({"driver": "fake-hardware", "name": f"n{NUL}"}, "name"),
    ({"driver": "fake-hardware", "extra": {"k": ["ok", NUL]}}, "extra.k[1]"),
    ({"driver": "fake-hardware", "driver_info": {f"k{NUL}": 1}}, "A key of driver_info"),
])
def test_nul_in_a_json_field_is_a_400_naming_it(api: httpx.Client, body: dict[str, Any],
                                                field: str) -> None:
    response = api.post("/v1/nodes", json=body)
    assert response.status_code == 400, response.text
    assert f"{field} contains a NUL character" in fault(response)


@pytest.mark.usefixtures("unchanged")
def test_nul_in_patches_and_other_bodies(api: httpx.Client, node: dict[str, Any]) -> None:
    patched = api.patch(f"/v1/nodes/{node['uuid']}", json=[
        {"op": "add", "path": "/extra/ok", "value": "fine"},
        {"op": "replace", "path": "/owner", "value": f"x{NUL}"}])
    assert patched.status_code == 400, patched.text
    assert "/owner contains a NUL character" in fault(patched)
    port = api.post("/v1/ports", json={"address": factories.mac(), "node_uuid": node["uuid"],
                                       "extra": {"x": NUL}})
    assert port.status_code == 400
    assert "extra.x contains a NUL character" in fault(port)
    beat = api.post(f"/v1/heartbeat/{node['uuid']}", json={"callback_url": f"http://a{NUL}",
                                                            "agent_token": "t"})
    assert beat.status_code == 400
    assert "callback_url contains a NUL character" in fault(beat)


_PARTITION = {"image_source": "http://127.0.0.1:9/p.img", "image_checksum": "a" * 64,
              "kernel": "http://127.0.0.1:9/k", "ramdisk": "http://127.0.0.1:9/r",
              "root_gb": 10}
PARTITION_INFOS = [
    ({"image_source": "http://127.0.0.1:9/p.img", "image_checksum": "a" * 64,
      "image_type": "partition"}, "kernel"),
    ({"image_source": str(uuid.uuid4()), "image_type": "partition"}, "root_gb"),
    ({**_PARTITION, "root_gb": "ten"}, "root_gb"),
    ({**_PARTITION, "root_gb": 0}, "root_gb"),
    ({**_PARTITION, "swap_mb": -1}, "swap_mb"),
    ({**_PARTITION, "ephemeral_gb": "1.5"}, "ephemeral_gb"),
    ({**_PARTITION, "ephemeral_gb": 1, "ephemeral_format": "btrfs"}, "ephemeral_format"),
    ({**_PARTITION, "preserve_ephemeral": "maybe"}, "preserve_ephemeral"),
    ({**_PARTITION, "preserve_ephemeral": True}, "ephemeral_gb"),
    ({**_PARTITION, "capabilities": {"disk_label": "bsd"}}, "disk_label"),
    ({**_PARTITION, "capabilities": '{"disk_label": "msdos"', "ephemeral_gb": 1},
     "capabilities"),
    ({**_PARTITION, "deploy_boot_mode": "uefi", "capabilities": {"disk_label": "msdos"},
      "ephemeral_gb": 1, "swap_mb": 64}, "disk_label"),
]


@pytest.mark.parametrize("instance_info,field", PARTITION_INFOS)
def test_partition_images_are_a_400_naming_the_field(
        api: httpx.Client, ingot: IngotServer, instance_info: dict[str, Any],
        field: str) -> None:
    """A partition image the node cannot have: validate says why, deploy is a 400."""
    created = api.post("/v1/nodes", json={
        "driver": "local-vm", "deploy_interface": "direct", "instance_info": instance_info,
        "driver_info": {"vm_disk": str(ingot.workdir / "state" / "vms" / "p.img")}})
    assert created.status_code == 201, created.text
    node_uuid = created.json()["uuid"]
    validated = api.get(f"/v1/nodes/{node_uuid}/validate")
    assert validated.status_code == 200, validated.text
    deploy = validated.json()["deploy"]
    assert deploy["result"] is False and field in deploy["reason"], deploy
    engine = sa.create_engine(ingot.db_url)
    try:
        with engine.begin() as conn:
            conn.execute(nodes.update().where(nodes.c.uuid == node_uuid).values(
                provision_state="available", revision=nodes.c.revision + 1))
    finally:
        engine.dispose()
    before = snapshot(ingot)
    response = api.put(f"/v1/nodes/{node_uuid}/states/provision", json={"target": "active"})
    assert response.status_code == 400, response.text
    assert field in fault(response)
    assert snapshot(ingot) == before
