"""Portgroups, volume connectors and chassis through the proxy: node-owned items are
created and routed at their node's site (an ingot site and the real Ironic one), lists
merge the sites, and a chassis goes to the default group's site or gets a 400 why."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest

from tests import factories
from tests.proxy.servers import ProxyServer, Sites, proxy_sections
from tests.proxy.test_sdk import fault


def _node(client: httpx.Client, group: str) -> str:
    created = client.post("/v1/nodes", json={"driver": "fake-hardware",
                                             "conductor_group": group,
                                             "name": f"res-{secrets.token_hex(4)}"})
    assert created.status_code == 201, created.text
    return str(created.json()["uuid"])


def _direct(url: str, path: str) -> httpx.Response:
    return httpx.get(f"{url}{path}", headers={"X-OpenStack-Ironic-API-Version": "1.73"},
                     timeout=60)


def test_node_owned_resources_live_at_their_nodes_site(proxy: ProxyServer,
                                                       sites: Sites) -> None:
    with proxy.client() as client:
        placed: dict[str, dict[str, Any]] = {}
        for group, site in (("grp1", sites.loc2.url), ("grp3", sites.loc3.url)):
            node = _node(client, group)
            group_body = {"node_uuid": node, "name": f"pg-{secrets.token_hex(4)}",
                          "address": factories.mac("52:54:06")}
            portgroup = client.post("/v1/portgroups", json=group_body)
            assert portgroup.status_code == 201, portgroup.text
            connector = client.post("/v1/volume/connectors", json={
                "node_uuid": node, "type": "iqn",
                "connector_id": f"iqn.2026-12.org.example:{secrets.token_hex(4)}"})
            assert connector.status_code == 201, connector.text
            placed[site] = {"node": node, "portgroup": portgroup.json()["uuid"],
                            "name": group_body["name"], "connector": connector.json()["uuid"]}
        for site, item in placed.items():
            assert _direct(site, f"/v1/portgroups/{item['portgroup']}").status_code == 200
            by_name = client.get(f"/v1/portgroups/{item['name']}")
            assert by_name.status_code == 200 and by_name.json()["uuid"] == item["portgroup"]
            of_node = client.get(f"/v1/nodes/{item['node']}/portgroups").json()["portgroups"]
            assert [g["uuid"] for g in of_node] == [item["portgroup"]]
            renamed = client.patch(f"/v1/portgroups/{item['portgroup']}",
                                   json=[{"op": "add", "path": "/extra/at", "value": site}])
            assert renamed.status_code == 200, renamed.text
            assert renamed.json()["extra"] == {"at": site}
        merged = client.get("/v1/portgroups?limit=1000").json()["portgroups"]
        assert {i["portgroup"] for i in placed.values()} <= {g["uuid"] for g in merged}
        connectors = client.get("/v1/volume/connectors?limit=1000").json()["connectors"]
        assert {i["connector"] for i in placed.values()} <= {c["uuid"] for c in connectors}
        nodes = list(placed.values())
        cross = client.patch(f"/v1/portgroups/{nodes[0]['portgroup']}", json=[
            {"op": "replace", "path": "/node_uuid", "value": nodes[1]["node"]}])
        assert cross.status_code == 400 and "cannot move between sites" in fault(cross)
        missing = client.post("/v1/portgroups", json={"name": "no-node"})
        assert missing.status_code == 400 and "node_uuid" in fault(missing)
        for item in nodes:
            deleted = client.delete(f"/v1/volume/connectors/{item['connector']}")
            assert deleted.status_code == 204


def test_chassis_go_to_the_default_groups_site(proxy: ProxyServer, sites: Sites) -> None:
    with proxy.client() as client:
        created = client.post("/v1/chassis", json={"description": "rack at loc1"})
        assert created.status_code == 201, created.text
        uuid = created.json()["uuid"]
        assert _direct(sites.loc1.url, f"/v1/chassis/{uuid}").status_code == 200
        listed = client.get("/v1/chassis/detail?limit=1000").json()["chassis"]
        assert uuid in {c["uuid"] for c in listed}
        assert client.get(f"/v1/chassis/{uuid}/nodes").json() == {"nodes": []}
        assert client.delete(f"/v1/chassis/{uuid}").status_code == 204


@pytest.fixture
def no_default_group(sites: Sites, tmp_path: Any) -> Any:
    server = ProxyServer(tmp_path, proxy_sections(sites.urls(), groups="grp1:loc2"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_chassis_without_a_default_group_is_a_400_saying_why(
        no_default_group: ProxyServer) -> None:
    with no_default_group.client() as client:
        refused = client.post("/v1/chassis", json={"description": "nowhere"})
    assert refused.status_code == 400
    assert "default conductor group" in fault(refused) and "grp1" in fault(refused)
