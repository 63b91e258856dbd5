"""Chassis, portgroups, VIFs and volume connectors/targets: what they do, and bad input
answered with Ironic's 4xx naming the field while the database stays unchanged."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from ingot.db import node_settings
from ingot.db.models import nodes
from tests import factories
from tests.assertions import created_body, fault, snapshot
from tests.servers.ingot import IngotServer

VERSION = "1.73"


@pytest.fixture
def api(ingot: IngotServer) -> Iterator[httpx.Client]:
    with ingot.client(version=VERSION) as client:
        yield client


@pytest.fixture
def world(api: httpx.Client) -> dict[str, Any]:
    """A chassis, a flat-network node in it, a portgroup with one port, a volume connector
    and a volume target."""
    chassis = created_body(api.post("/v1/chassis", json={"description": "rack 1"}))
    node = created_body(api.post("/v1/nodes", json={
        "driver": "fake-hardware", "name": f"r-{uuid.uuid4().hex[:8]}",
        "chassis_uuid": chassis["uuid"], "network_interface": "flat"}))
    group = created_body(api.post("/v1/portgroups", json={
        "node_uuid": node["uuid"], "name": f"pg-{uuid.uuid4().hex[:8]}",
        "address": factories.mac("52:54:03")}))
    port = created_body(api.post("/v1/ports", json={
        "node_uuid": node["uuid"], "address": factories.mac("52:54:04"),
        "portgroup_uuid": group["uuid"]}))
    connector = created_body(api.post("/v1/volume/connectors", json={
        "node_uuid": node["uuid"], "type": "iqn",
        "connector_id": f"iqn.2026-12.org.example:{uuid.uuid4().hex[:8]}"}))
    target = created_body(api.post("/v1/volume/targets", json={
        "node_uuid": node["uuid"], "volume_type": "iscsi", "boot_index": 0,
        "volume_id": str(uuid.uuid4())}))
    return {"chassis": chassis, "node": node, "portgroup": group, "port": port,
            "connector": connector, "target": target}


def test_resources_link_up(api: httpx.Client, world: dict[str, Any]) -> None:
    chassis, node, group, port = (world[k] for k in ("chassis", "node", "portgroup", "port"))
    assert node["chassis_uuid"] == chassis["uuid"]
    in_chassis = api.get(f"/v1/chassis/{chassis['uuid']}/nodes").json()["nodes"]
    assert [n["uuid"] for n in in_chassis] == [node["uuid"]]
    assert group["mode"] == "active-backup" and group["standalone_ports_supported"] is True
    assert port["portgroup_uuid"] == group["uuid"]
    members = api.get(f"/v1/portgroups/{group['name']}/ports").json()["ports"]
    assert [p["uuid"] for p in members] == [port["uuid"]]
    of_node = api.get(f"/v1/nodes/{node['uuid']}/portgroups").json()["portgroups"]
    assert [g["uuid"] for g in of_node] == [group["uuid"]]
    listed = api.get(f"/v1/nodes/{node['uuid']}/volume/targets").json()["targets"]
    assert [t["uuid"] for t in listed] == [world["target"]["uuid"]]
    # Older microversions do not know portgroups and their fields.
    with_old = api.get(f"/v1/portgroups/{group['uuid']}",
                       headers={"X-OpenStack-Ironic-API-Version": "1.22"})
    assert with_old.status_code == 404
    before_mode = api.get(f"/v1/portgroups/{group['uuid']}",
                          headers={"X-OpenStack-Ironic-API-Version": "1.25"}).json()
    assert "mode" not in before_mode and "properties" not in before_mode


def test_dynamic_portgroup_is_shown_from_1_111_and_read_only(
        ingot: IngotServer, world: dict[str, Any]) -> None:
    """API 1.111's dynamic_portgroup: false on a new portgroup, hidden before 1.111 (406
    when asked for), and, as in Ironic 39, written by no create or patch (400)."""
    group = world["portgroup"]["uuid"]
    with ingot.client(version="1.111") as new, ingot.client(version="1.110") as old:
        assert new.get(f"/v1/portgroups/{group}").json()["dynamic_portgroup"] is False
        listed = new.get("/v1/portgroups?fields=uuid,dynamic_portgroup").json()["portgroups"]
        assert {"uuid": group, "dynamic_portgroup": False} in \
            [{k: g[k] for k in ("uuid", "dynamic_portgroup")} for g in listed]
        assert "dynamic_portgroup" not in old.get(f"/v1/portgroups/{group}").json()
        too_old = old.get(f"/v1/portgroups/{group}?fields=dynamic_portgroup")
        assert too_old.status_code == 406 and "dynamic_portgroup" in fault(too_old)
        before = snapshot(ingot)
        created = new.post("/v1/portgroups", json={"node_uuid": world["node"]["uuid"],
                                                   "dynamic_portgroup": True})
        assert created.status_code == 400 and "dynamic_portgroup" in fault(created)
        patched = new.patch(f"/v1/portgroups/{group}", json=[
            {"op": "replace", "path": "/dynamic_portgroup", "value": True}])
        assert patched.status_code == 400 and "dynamic_portgroup" in fault(patched)
        assert snapshot(ingot) == before


def test_flat_network_records_vifs_on_the_portgroup(ingot: IngotServer, api: httpx.Client,
                                                    world: dict[str, Any]) -> None:
    node, group = world["node"]["uuid"], world["portgroup"]["uuid"]
    vif = str(uuid.uuid4())
    attached = api.post(f"/v1/nodes/{node}/vifs", json={"id": vif})
    assert attached.status_code == 204
    assert api.get(f"/v1/nodes/{node}/vifs").json() == {"vifs": [{"id": vif}]}
    info = api.get(f"/v1/portgroups/{group}").json()["internal_info"]
    assert info == {"tenant_vif_port_id": vif}
    again = api.post(f"/v1/nodes/{node}/vifs", json={"id": vif})
    assert again.status_code == 409 and vif in fault(again)
    before = snapshot(ingot)
    no_room = api.post(f"/v1/nodes/{node}/vifs", json={"id": "another"})
    assert no_room.status_code == 400
    assert "not enough free physical ports" in fault(no_room)
    assert snapshot(ingot) == before
    assert api.delete(f"/v1/nodes/{node}/vifs/{vif}").status_code == 204
    assert api.get(f"/v1/nodes/{node}/vifs").json() == {"vifs": []}
    gone = api.delete(f"/v1/nodes/{node}/vifs/{vif}")
    assert gone.status_code == 400 and "not attached" in fault(gone)


def _bad(world: dict[str, Any]) -> list[tuple[str, str, Any, int, str]]:
    node, chassis = world["node"], world["chassis"]
    group, port = world["portgroup"], world["port"]
    connector, target = world["connector"], world["target"]
    return [
        ("POST", "/v1/chassis", {"description": "x" * 256}, 400, "description"),
        ("POST", "/v1/chassis", {"colour": "red"}, 400, "Unknown field(s) in chassis: colour"),
        ("POST", "/v1/chassis", {"extra": [1]}, 400, "Expected an object for extra"),
        ("POST", "/v1/chassis", {"uuid": chassis["uuid"]}, 409, "already exists"),
        ("PATCH", f"/v1/chassis/{chassis['uuid']}",
         [{"op": "replace", "path": "/uuid", "value": str(uuid.uuid4())}], 400, "'/uuid'"),
        ("DELETE", f"/v1/chassis/{chassis['uuid']}", None, 400, "contains nodes"),
        ("GET", f"/v1/chassis/{uuid.uuid4()}", None, 404, "could not be found"),
        ("POST", "/v1/nodes", {"driver": "fake-hardware", "chassis_uuid": str(uuid.uuid4())},
         400, "Chassis"),
        ("PATCH", f"/v1/nodes/{node['uuid']}",
         [{"op": "replace", "path": "/chassis_uuid", "value": "nope"}], 400, "chassis_uuid"),
        ("POST", "/v1/portgroups", {"address": factories.mac("52:54:05")}, 400,
         "Missing required field node_uuid"),
        ("POST", "/v1/portgroups", {"node_uuid": node["uuid"], "address": "zz"}, 400,
         "MAC address for address"),
        ("POST", "/v1/portgroups", {"node_uuid": node["uuid"], "name": group["name"]}, 409,
         f"A portgroup with name {group['name']} already exists"),
        ("POST", "/v1/portgroups", {"node_uuid": node["uuid"], "address": group["address"]},
         409, "MAC address"),
        ("POST", "/v1/portgroups", {"node_uuid": str(uuid.uuid4())}, 404, "Node"),
        ("POST", "/v1/portgroups", {"node_uuid": node["uuid"], "category": "x"}, 406,
         "category"),
        ("PATCH", f"/v1/portgroups/{group['uuid']}",
         [{"op": "replace", "path": "/standalone_ports_supported", "value": "maybe"}], 400,
         "Expected a boolean for standalone_ports_supported"),
        ("PATCH", f"/v1/portgroups/{group['uuid']}",
         [{"op": "remove", "path": "/node_uuid"}], 400, "'/node_uuid' is mandatory"),
        ("DELETE", f"/v1/portgroups/{group['uuid']}", None, 400, "contains ports"),
        ("PATCH", f"/v1/ports/{port['uuid']}",
         [{"op": "replace", "path": "/portgroup_uuid", "value": str(uuid.uuid4())}], 400,
         "Portgroup"),
        ("POST", "/v1/volume/connectors", {"node_uuid": node["uuid"], "type": "iqn"}, 400,
         "Missing required field connector_id"),
        ("POST", "/v1/volume/connectors", {
            "node_uuid": node["uuid"], "type": "iqn", "connector_id": connector["connector_id"]},
         409, "already exists"),
        ("PATCH", f"/v1/volume/connectors/{connector['uuid']}",
         [{"op": "replace", "path": "/type", "value": 7}], 400, "Expected a string for type"),
        ("POST", "/v1/volume/targets", {
            "node_uuid": node["uuid"], "volume_type": "iscsi", "boot_index": "first",
            "volume_id": "v"}, 400, "Expected an integer for boot_index"),
        ("POST", "/v1/volume/targets", {
            "node_uuid": node["uuid"], "volume_type": "iscsi", "boot_index": 0,
            "volume_id": "v"}, 409, "boot index '0'"),
        ("GET", f"/v1/volume/targets/{target['uuid']}?fields=colour", None, 400, "colour"),
        ("POST", f"/v1/nodes/{node['uuid']}/vifs", {"port_uuid": port["uuid"]}, 400,
         "Missing required field id"),
        ("POST", f"/v1/nodes/{node['uuid']}/vifs", {"id": "v", "port_uuid": "nope"},
         400, "Expected a UUID for port_uuid"),
        ("POST", f"/v1/nodes/{node['uuid']}/vifs", {
            "id": "v", "port_uuid": port["uuid"], "portgroup_uuid": group["uuid"]}, 400,
         "Cannot specify both"),
    ]


def test_bad_input_changes_nothing(ingot: IngotServer, api: httpx.Client,
                                   world: dict[str, Any]) -> None:
    before = snapshot(ingot)
    for method, path, body, status, message in _bad(world):
        response = api.request(method, path, json=body)
        context = f"{method} {path} {body}: {response.status_code} {response.text}"
        assert response.status_code == status, context
        assert message in fault(response), context
    assert snapshot(ingot) == before


def test_volume_changes_need_the_node_off(ingot: IngotServer, api: httpx.Client,
                                          world: dict[str, Any]) -> None:
    # An active, powered-on node (set in the database: deploying is not the point here).
    engine = sa.create_engine(ingot.db_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.update(nodes).where(nodes.c.uuid == world["node"]["uuid"])
                         .values(provision_state="active", power_state="power on"))
    finally:
        engine.dispose()
    before = snapshot(ingot)
    refused = api.delete(f"/v1/volume/connectors/{world['connector']['uuid']}")
    assert refused.status_code == 400 and "volume connector deletion" in fault(refused)
    changed = api.patch(f"/v1/volume/targets/{world['target']['uuid']}",
                        json=[{"op": "add", "path": "/extra/a", "value": 1}])
    assert changed.status_code == 400 and "volume target update" in fault(changed)
    assert snapshot(ingot) == before


@pytest.fixture
def bios_and_firmware(ingot: IngotServer, world: dict[str, Any]) -> str:
    """The world's node with BIOS settings and firmware, as its interfaces record them."""
    engine = sa.create_engine(ingot.db_url)
    try:
        with engine.begin() as conn:
            node_id = conn.execute(sa.select(nodes.c.id).where(
                nodes.c.uuid == world["node"]["uuid"])).scalar_one()
            node_settings.replace_bios(conn, node_id, [
                {"name": "ProcVirtualization", "value": "Enabled",
                 "attribute_type": "Enumeration", "allowable_values": ["Enabled", "Disabled"]},
                {"name": "BootMode", "value": "Uefi", "read_only": True}])
            node_settings.replace_firmware(conn, node_id, [
                {"component": "bios", "initial_version": "1.0", "current_version": "1.2"}])
    finally:
        engine.dispose()
    return str(world["node"]["uuid"])


def test_bios_settings(api: httpx.Client, bios_and_firmware: str) -> None:
    node = bios_and_firmware
    listed = api.get(f"/v1/nodes/{node}/bios").json()["bios"]
    assert [(s["name"], s["value"]) for s in listed] == [("BootMode", "Uefi"),
                                                          ("ProcVirtualization", "Enabled")]
    assert set(listed[0]) == {"created_at", "updated_at", "name", "value", "links"}
    assert listed[0]["links"][0]["href"].endswith(f"/v1/nodes/{node}/bios/BootMode")
    one = api.get(f"/v1/nodes/{node}/bios/BootMode").json()
    assert one["BootMode"]["value"] == "Uefi"
    for path, status, message in [
            ("/bios/NoSuch", 404, "doesn't have a BIOS setting 'NoSuch'"),
            ("/bios?detail=true", 400, "?detail=true"),  # registry fields: 1.74
    ]:
        response = api.get(f"/v1/nodes/{node}{path}")
        assert (response.status_code, message in fault(response)) == (status, True)
    too_old = api.get(f"/v1/nodes/{node}/bios",
                      headers={"X-OpenStack-Ironic-API-Version": "1.39"})
    assert too_old.status_code == 404


def test_registry_fields_and_firmware(ingot: IngotServer, bios_and_firmware: str) -> None:
    node = bios_and_firmware
    with ingot.client(version="1.86") as api:
        detailed = api.get(f"/v1/nodes/{node}/bios?detail=true").json()["bios"]
        assert detailed[1]["allowable_values"] == ["Enabled", "Disabled"]
        assert detailed[0]["read_only"] is True
        firmware = api.get(f"/v1/nodes/{node}/firmware").json()["firmware"]
        assert [(c["component"], c["current_version"]) for c in firmware] == [("bios", "1.2")]
        assert "vendor" not in firmware[0]  # 1.114
        bad = api.get(f"/v1/nodes/{node}/firmware?fields=colour")
        assert bad.status_code == 400 and "colour" in fault(bad)
