"""openstacksdk through `ingot proxy` in front of two ingot sites and a real Ironic:
discovery, routing by conductor group, node and port operations at every site."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import openstack
import pytest
from openstack import exceptions as sdk_exc

from tests import factories
from tests.proxy.servers import ProxyServer, Sites

# Where each conductor group lives (ironic-proxy's README mapping plus grp3 on Ironic).
GROUP_SITE = {"": "loc1", "grp2": "loc1", "grp1": "loc2", "grp3": "loc3"}

Conn = openstack.connection.Connection


def holders(sites: Sites, node_uuid: str) -> list[str]:
    """The sites that hold the node, asked directly."""
    found = []
    for name, url in sites.urls().items():
        response = httpx.get(f"{url}/v1/nodes/{node_uuid}", timeout=30,
                             headers={"X-OpenStack-Ironic-API-Version": "1.73"})
        assert response.status_code in (200, 404), response.text
        if response.status_code == 200:
            found.append(name)
    return found


def fault(response: httpx.Response) -> str:
    return str(json.loads(response.json()["error_message"])["faultstring"])


def test_discovery_is_the_intersection_of_the_sites(conn: Conn, proxy: ProxyServer,
                                                    sites: Sites) -> None:
    data = conn.baremetal.get_endpoint_data()
    assert data is not None
    assert (data.min_microversion, data.max_microversion) == ((1, 1), (1, 115))
    # ingot's range is Ironic 39's, so the intersection is the whole of it.
    ironic = httpx.get(sites.loc3.url + "/", timeout=30).json()["default_version"]
    assert ironic["version"] == "1.115"

    too_new = httpx.get(proxy.url + "/v1/nodes", timeout=30,
                        headers={"X-OpenStack-Ironic-API-Version": "1.116"})
    assert too_new.status_code == 406
    assert too_new.headers["X-OpenStack-Ironic-API-Maximum-Version"] == "1.115"
    assert "The supported version range is: [1.1, 1.115]" in fault(too_new)
    generic = httpx.get(proxy.url + "/v1/nodes", timeout=30,
                        headers={"OpenStack-API-Version": "baremetal 1.120"})
    assert generic.status_code == 406
    latest = httpx.get(proxy.url + "/v1/nodes?limit=1", timeout=30,
                       headers={"X-OpenStack-Ironic-API-Version": "latest"})
    assert latest.status_code == 200
    assert latest.headers["X-OpenStack-Ironic-API-Version"] == "1.115"


def test_create_is_routed_by_conductor_group(conn: Conn, sites: Sites) -> None:
    for group, site in GROUP_SITE.items():
        node = conn.baremetal.create_node(driver="fake-hardware", name=factories.name("grp"),
                                          conductor_group=group)
        assert node.conductor_group == group
        assert holders(sites, node.id) == [site]
    default = conn.baremetal.create_node(driver="fake-hardware")  # no group: the default
    assert holders(sites, default.id) == ["loc1"]


def test_unknown_group_is_a_400_naming_it(conn: Conn) -> None:
    with pytest.raises(sdk_exc.BadRequestException,
                       match='Conductor group "nowhere" is not mapped to any site'):
        conn.baremetal.create_node(driver="fake-hardware", conductor_group="nowhere")


@pytest.mark.parametrize("group", sorted(GROUP_SITE))
def test_show_patch_delete_by_name_and_uuid(conn: Conn, group: str) -> None:
    name = factories.name("crud")
    node = conn.baremetal.create_node(driver="fake-hardware", name=name,
                                      conductor_group=group, driver_info={"password": "x"})
    by_name, by_uuid = conn.baremetal.get_node(name), conn.baremetal.get_node(node.id)
    assert by_name.id == by_uuid.id == node.id
    assert by_uuid.driver_info == {"password": "******"}

    patched = conn.baremetal.patch_node(name, [{"op": "add", "path": "/extra/rack",
                                               "value": "r7"}])
    assert patched.extra == {"rack": "r7"}
    conn.baremetal.update_node(node.id, description=f"in {group or 'default'}")
    assert conn.baremetal.get_node(name).description == f"in {group or 'default'}"
    renamed = factories.name("renamed")
    conn.baremetal.update_node(node.id, name=renamed)
    assert conn.baremetal.get_node(renamed).id == node.id
    with pytest.raises(sdk_exc.NotFoundException):
        conn.baremetal.get_node(name)

    conn.baremetal.set_node_maintenance(renamed, reason="cabling")
    assert conn.baremetal.get_node(node.id).maintenance_reason == "cabling"
    conn.baremetal.unset_node_maintenance(node.id)
    conn.baremetal.add_node_trait(renamed, "CUSTOM_PROXY")
    assert conn.baremetal.get_node(node.id).traits == ["CUSTOM_PROXY"]

    conn.baremetal.delete_node(renamed, ignore_missing=False)
    with pytest.raises(sdk_exc.NotFoundException, match=f"Node {renamed} could not be found"):
        conn.baremetal.get_node(renamed)


def test_moving_a_node_to_another_site_is_refused(conn: Conn, sites: Sites) -> None:
    node = conn.baremetal.create_node(driver="fake-hardware", conductor_group="")
    # grp2 is served by the same site: allowed.
    assert conn.baremetal.patch_node(node, [{"op": "replace", "path": "/conductor_group",
                                             "value": "grp2"}]).conductor_group == "grp2"
    with pytest.raises(sdk_exc.BadRequestException, match="nodes cannot move between sites"):
        conn.baremetal.patch_node(node, [{"op": "replace", "path": "/conductor_group",
                                          "value": "grp3"}])
    assert holders(sites, node.id) == ["loc1"]


@pytest.mark.parametrize("group", ["grp1", "grp3"])
def test_provisioning_at_ingot_and_ironic_sites(conn: Conn, group: str) -> None:
    name = factories.name("prov")
    node = conn.baremetal.create_node(driver="fake-hardware", name=name,
                                      conductor_group=group)
    conn.baremetal.set_node_power_state(name, "power on", wait=True, timeout=60)
    assert conn.baremetal.get_node(node.id).power_state == "power on"
    conn.baremetal.set_node_provision_state(name, "manage", wait=True, timeout=60)
    conn.baremetal.set_node_provision_state(node.id, "provide", wait=True, timeout=60)
    active = conn.baremetal.set_node_provision_state(name, "active", wait=True, timeout=60)
    assert active.provision_state == "active"
    assert conn.baremetal.get_node(node.id).provision_state == "active"
    conn.baremetal.set_node_provision_state(node.id, "deleted", wait=True, timeout=60)
    assert conn.baremetal.get_node(name).provision_state == "available"


def test_ports_follow_their_node(conn: Conn, sites: Sites) -> None:
    created = {}
    for group, site in (("grp2", "loc1"), ("grp1", "loc2"), ("grp3", "loc3")):
        node = conn.baremetal.create_node(driver="fake-hardware", name=factories.name("pn"),
                                          conductor_group=group)
        port = conn.baremetal.create_port(node_id=node.id, address=factories.mac("52:54:02"))
        created[site] = (node, port)
        direct = httpx.get(f"{sites.urls()[site]}/v1/ports/{port.id}", timeout=30)
        assert direct.status_code == 200
        assert [p.id for p in conn.baremetal.ports(node=node.name)] == [port.id]
        assert [p.id for p in conn.baremetal.ports(node_uuid=node.id)] == [port.id]

    everywhere = {p.id for p in conn.baremetal.ports(details=True, limit=2)}
    assert {port.id for _, port in created.values()} <= everywhere

    node, port = created["loc3"]
    shown = conn.baremetal.get_port(port.id)
    assert shown.node_id == node.id
    conn.baremetal.patch_port(port, [{"op": "add", "path": "/extra/slot", "value": "2"}])
    assert conn.baremetal.get_port(port.id).extra == {"slot": "2"}
    other_node, _ = created["loc1"]
    with pytest.raises(sdk_exc.BadRequestException, match="ports cannot move between sites"):
        conn.baremetal.patch_port(port, [{"op": "replace", "path": "/node_uuid",
                                          "value": other_node.id}])
    conn.baremetal.delete_port(port, ignore_missing=False)
    with pytest.raises(sdk_exc.NotFoundException):
        conn.baremetal.get_port(port.id)


def test_drivers_and_conductors_of_every_site(conn: Conn, proxy: ProxyServer) -> None:
    drivers = {d.name: d for d in conn.baremetal.drivers()}
    assert set(drivers["fake-hardware"].hosts) == {"loc1-conductor", "loc2-conductor",
                                                   "loc3-conductor"}
    assert conn.baremetal.get_driver("fake-hardware").hosts == [
        "loc1-conductor", "loc2-conductor", "loc3-conductor"]
    conductors = {c.hostname: c.conductor_group for c in conn.baremetal.conductors()}
    assert conductors == {"loc1-conductor": "", "loc2-conductor": "grp1",
                          "loc3-conductor": "grp3"}
    assert conn.baremetal.get_conductor("loc3-conductor").conductor_group == "grp3"
    properties = httpx.get(f"{proxy.url}/v1/drivers/fake-hardware/properties", timeout=30)
    assert properties.status_code == 200
    assert isinstance(properties.json(), dict)


def test_microversion_and_request_id_reach_the_site(proxy: ProxyServer,
                                                    sites: Sites) -> None:
    with proxy.client(version="1.10") as old, proxy.client(version="1.73") as new:
        # Before 1.11 nodes are created available, from 1.11 in enroll.
        body = {"driver": "fake-hardware"}
        assert old.post("/v1/nodes", json=body).json()["provision_state"] == "available"
        created = new.post("/v1/nodes", json={**body, "conductor_group": "grp3"}).json()
        assert created["provision_state"] == "enroll"
        # Ironic shows conductor_group from 1.46 on.
        assert "conductor_group" not in old.get(f"/v1/nodes/{created['uuid']}").json()
        request_id = f"req-{uuid.uuid4()}"
        shown = new.get(f"/v1/nodes/{created['uuid']}",
                        headers={"X-OpenStack-Request-Id": request_id})
        assert shown.status_code == 200
        assert shown.headers["X-OpenStack-Request-Id"] == request_id
    # Ironic logs the caller's id as the global request id of its own request.
    deadline = time.monotonic() + 10
    while request_id not in sites.loc3.log() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert request_id in sites.loc3.log()


def test_links_point_at_the_proxy(proxy: ProxyServer) -> None:
    with proxy.client() as client:
        created = client.post("/v1/nodes", json={"driver": "fake-hardware",
                                                 "conductor_group": "grp3"})
        assert created.headers["Location"].startswith(proxy.url + "/v1/nodes/")
        node = client.get(f"/v1/nodes/{created.json()['uuid']}").json()
        hrefs = [link["href"] for key in ("links", "ports", "states")
                 for link in node[key]]
        assert hrefs and all(href.startswith(proxy.url + "/") for href in hrefs)


def test_unrouted_resource_is_an_ironic_shaped_404(proxy: ProxyServer) -> None:
    with proxy.client() as client:
        response = client.get("/v1/lookup")
        assert response.status_code == 404
        assert fault(response) == "The ingot proxy does not route the lookup resource."
        missing = client.get(f"/v1/nodes/{uuid.uuid4()}")
        assert missing.status_code == 404
        assert "could not be found" in fault(missing)
