"""Portgroups, volume connectors and chassis through the proxy: node-owned items are
created and routed at their node's site (an ingot site and the real Ironic one), lists
merge the sites, and a chassis goes to the default group's site or gets a 400 why."""

from __future__ import annotations

import secrets
import time
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


def _at(url: str, method: str, path: str, version: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, f"{url}{path}", headers={
        "X-OpenStack-Ironic-API-Version": version}, timeout=60, **kwargs)


@pytest.mark.parametrize(("collection", "version", "step"), [
    ("deploy_templates", "1.55", {"interface": "bios", "step": "apply_configuration",
                                  "priority": 150, "args": {"settings": []}}),
    ("runbooks", "1.92", {"interface": "bios", "step": "apply_configuration", "order": 150,
                          "args": {"settings": []}}),
])
def test_templates_and_runbooks_merge_and_route_by_name(
        proxy: ProxyServer, sites: Sites, collection: str, version: str,
        step: dict[str, Any]) -> None:
    path = f"/v1/{collection}"
    # Names must be traits before 1.112 (runbooks) and always (deploy templates).
    proxied, direct = (f"CUSTOM_PX_{secrets.token_hex(4).upper()}" for _ in range(2))
    with proxy.client(version) as client:
        created = client.post(path, json={"name": proxied, "steps": [step]})
        assert created.status_code == 201, created.text
        assert created.headers["Location"].startswith(f"{proxy.url}{path}/")
        made_here = created.json()["uuid"]
        # The default group's site holds it, the other ingot site does not.
        assert _at(sites.loc1.url, "GET", f"{path}/{made_here}", version).status_code == 200
        assert _at(sites.loc2.url, "GET", f"{path}/{made_here}", version).status_code == 404
        at_loc2 = _at(sites.loc2.url, "POST", path, version,
                      json={"name": direct, "steps": [step]})
        assert at_loc2.status_code == 201, at_loc2.text
        listed = client.get(path, params={"limit": 1000}).json()[collection]
        assert {made_here, at_loc2.json()["uuid"]} <= {item["uuid"] for item in listed}
        assert all(set(item) == {"uuid", "name", "links"} for item in listed)
        detailed = client.get(path, params={"limit": 1000, "detail": "True"}).json()
        assert {i["name"]: i["steps"][0]["step"] for i in detailed[collection]
                if i["name"] in (proxied, direct)} == {proxied: step["step"],
                                                       direct: step["step"]}
        # By name to the site that holds it: the patch lands at loc2.
        patched = client.patch(f"{path}/{direct}",
                               json=[{"op": "add", "path": "/extra/site", "value": "loc2"}])
        assert patched.status_code == 200, patched.text
        assert _at(sites.loc2.url, "GET", f"{path}/{direct}", version).json()["extra"] == \
            {"site": "loc2"}
        assert client.get(f"{path}/{proxied}").json()["uuid"] == made_here
        for name, site in ((direct, sites.loc2.url), (proxied, sites.loc1.url)):
            assert client.delete(f"{path}/{name}").status_code == 204
            assert _at(site, "GET", f"{path}/{name}", version).status_code == 404
        assert client.get(f"{path}/{direct}").status_code == 404


def _settled(client: httpx.Client, uuid: str) -> dict[str, Any]:
    """The allocation once its site's conductor has handled it (bounded)."""
    for _ in range(100):
        body: dict[str, Any] = client.get(f"/v1/allocations/{uuid}").json()
        if body["state"] != "allocating":
            return body
        time.sleep(0.1)
    raise AssertionError(f"allocation {uuid} still allocating: {body}")


def test_allocations_go_where_their_nodes_are(proxy: ProxyServer, sites: Sites) -> None:
    with proxy.client("1.60") as client:
        at_loc1, at_loc2 = _node(client, ""), _node(client, "grp1")
        rc = f"proxy-{secrets.token_hex(4)}"
        name = f"alloc-{secrets.token_hex(4)}"
        candidate = client.post("/v1/allocations", json={
            "name": name, "resource_class": rc, "candidate_nodes": [at_loc2]})
        assert candidate.status_code == 201, candidate.text
        uuid = candidate.json()["uuid"]
        assert _at(sites.loc2.url, "GET", f"/v1/allocations/{uuid}", "1.60").status_code == 200
        plain = client.post("/v1/allocations", json={"resource_class": rc})
        assert plain.status_code == 201, plain.text
        default_site = plain.json()["uuid"]
        assert _at(sites.loc1.url, "GET", f"/v1/allocations/{default_site}",
                   "1.60").status_code == 200
        # Nodes in enroll are no candidates: both end in error, each at its own site.
        assert _settled(client, uuid)["state"] == "error"
        assert _settled(client, default_site)["state"] == "error"
        listed = client.get("/v1/allocations", params={"limit": 1000}).json()["allocations"]
        assert {uuid, default_site} <= {a["uuid"] for a in listed}
        of_node = client.get("/v1/allocations", params={"node": at_loc2}).json()
        assert of_node == {"allocations": []}  # asked at loc2, which knows the node
        patched = client.patch(f"/v1/allocations/{name}",
                               json=[{"op": "add", "path": "/extra/at", "value": "loc2"}])
        assert patched.status_code == 200, patched.text
        assert _at(sites.loc2.url, "GET", f"/v1/allocations/{uuid}",
                   "1.60").json()["extra"] == {"at": "loc2"}
        spread = client.post("/v1/allocations", json={
            "resource_class": rc, "candidate_nodes": [at_loc1, at_loc2]})
        assert spread.status_code == 400
        assert "several sites" in fault(spread) and "loc1" in fault(spread) \
            and "loc2" in fault(spread)
        # A backfill goes to its node's site, which refuses a node that is not deployed.
        backfill = client.post("/v1/allocations", json={"node": at_loc2})
        assert backfill.status_code == 400, backfill.text
        assert _at(sites.loc2.url, "GET", "/v1/allocations", "1.60",
                   params={"node": at_loc2}).json() == {"allocations": []}
        unknown = client.post("/v1/allocations", json={"node": f"nowhere-{rc}"})
        assert unknown.status_code == 404 and "could not be found" in fault(unknown)
        for allocation, ident, site in ((name, uuid, sites.loc2.url),
                                        (default_site, default_site, sites.loc1.url)):
            assert client.delete(f"/v1/allocations/{allocation}").status_code == 204
            assert _at(site, "GET", f"/v1/allocations/{ident}", "1.60").status_code == 404
        assert client.get(f"/v1/allocations/{default_site}").status_code == 404


@pytest.mark.parametrize(("path", "body"), [
    ("/v1/deploy_templates", {"name": "CUSTOM_NOWHERE", "steps": []}),
    ("/v1/runbooks", {"name": "CUSTOM_NOWHERE", "steps": []}),
    ("/v1/allocations", {"resource_class": "nowhere"}),
])
def test_creates_without_a_default_group_are_a_400_saying_why(
        no_default_group: ProxyServer, path: str, body: dict[str, Any]) -> None:
    with no_default_group.client("1.92") as client:
        refused = client.post(path, json=body)
    assert refused.status_code == 400
    assert "default conductor group" in fault(refused) and "grp1" in fault(refused)


def test_runbook_traits_go_to_the_runbooks_site(proxy: ProxyServer, sites: Sites) -> None:
    name = f"CUSTOM_PXT_{secrets.token_hex(4).upper()}"
    step = {"interface": "bios", "step": "apply_configuration", "order": 1, "args": {}}
    made = _at(sites.loc2.url, "POST", "/v1/runbooks", "1.112",
               json={"name": name, "steps": [step]})
    assert made.status_code == 201, made.text
    with proxy.client("1.112") as client:
        replaced = client.put(f"/v1/runbooks/{name}/traits",
                              json={"traits": ["CUSTOM_A", "CUSTOM_B"]})
        assert replaced.status_code == 204, replaced.text
        added = client.put(f"/v1/runbooks/{name}/traits/CUSTOM_C")
        assert added.status_code == 204, added.text
        assert client.delete(f"/v1/runbooks/{name}/traits/CUSTOM_A").status_code == 204
        assert client.get(f"/v1/runbooks/{name}/traits").json() == \
            {"traits": ["CUSTOM_B", "CUSTOM_C"]}
        assert _at(sites.loc2.url, "GET", f"/v1/runbooks/{name}", "1.112").json()["traits"] \
            == ["CUSTOM_B", "CUSTOM_C"]
        assert client.delete(f"/v1/runbooks/{name}").status_code == 204
