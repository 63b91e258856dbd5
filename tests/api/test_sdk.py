"""openstacksdk against a real `ingot serve`: discovery, nodes, ports, states, drivers."""

from __future__ import annotations

import uuid

import openstack
import pytest
from openstack import exceptions as sdk_exc

from tests import factories
from tests.servers.ingot import IngotServer


@pytest.fixture
def conn(ingot: IngotServer) -> openstack.connection.Connection:
    return openstack.connect(auth_type="none", baremetal_endpoint_override=ingot.url,
                             load_yaml_config=False, load_envvars=False)


def _name() -> str:
    return f"sdk-{uuid.uuid4().hex[:10]}"


def test_discovery_negotiates_ingot_max_version(conn: openstack.connection.Connection) -> None:
    versions = conn.baremetal.get_endpoint_data()
    assert versions is not None
    assert versions.min_microversion == (1, 1)
    assert versions.max_microversion == (1, 115)


def test_node_create_show_update_delete(conn: openstack.connection.Connection) -> None:
    name = _name()
    node = conn.baremetal.create_node(driver="fake-hardware", name=name,
                                      driver_info={"ipmi_password": "s3cret", "x": 1},
                                      properties={"cpus": 4}, resource_class="tiny")
    assert node.provision_state == "enroll"
    assert node.driver_info == {"ipmi_password": "******", "x": 1}
    assert node.boot_interface == "fake"
    by_name = conn.baremetal.get_node(name)
    by_uuid = conn.baremetal.get_node(node.id)
    assert by_name.id == by_uuid.id == node.id
    assert by_uuid.properties == {"cpus": 4}
    assert by_uuid.conductor == "test-conductor"

    updated = conn.baremetal.patch_node(node, [
        {"op": "add", "path": "/extra/rack", "value": "r1"},
        {"op": "replace", "path": "/properties/cpus", "value": 8},
        {"op": "add", "path": "/driver_info/ipmi_address", "value": "10.0.0.1"},
    ])
    assert updated.extra == {"rack": "r1"}
    assert updated.properties == {"cpus": 8}
    assert updated.driver_info["ipmi_address"] == "10.0.0.1"
    assert updated.driver_info["ipmi_password"] == "******"

    conn.baremetal.update_node(node, description="from sdk")
    assert conn.baremetal.get_node(node.id).description == "from sdk"

    conn.baremetal.delete_node(node, ignore_missing=False)
    with pytest.raises(sdk_exc.NotFoundException, match=f"Node {name} could not be found"):
        conn.baremetal.get_node(name)


def test_list_filters_fields_and_details(conn: openstack.connection.Connection) -> None:
    group = uuid.uuid4().hex[:8]
    created = [conn.baremetal.create_node(driver="fake-hardware", name=_name(),
                                          conductor_group="", resource_class=group)
               for _ in range(3)]
    conn.baremetal.set_node_maintenance(created[0], reason="broken fan")

    listed = list(conn.baremetal.nodes(resource_class=group))
    assert {n.id for n in listed} == {n.id for n in created}
    in_maintenance = list(conn.baremetal.nodes(resource_class=group, is_maintenance=True))
    assert [n.id for n in in_maintenance] == [created[0].id]
    detailed = list(conn.baremetal.nodes(resource_class=group, details=True))
    assert all(n.driver == "fake-hardware" for n in detailed)
    reasons = {n.id: n.maintenance_reason for n in detailed}
    assert reasons == {created[0].id: "broken fan", created[1].id: None, created[2].id: None}

    fields = list(conn.baremetal.nodes(resource_class=group, fields=["uuid", "name"]))
    assert {n.name for n in fields} == {n.name for n in created}
    assert all(n.provision_state is None for n in fields)

    paged = list(conn.baremetal.nodes(resource_class=group, limit=1, paginated=True))
    assert len(paged) == 3

    conn.baremetal.unset_node_maintenance(created[0])
    assert not conn.baremetal.get_node(created[0].id).is_maintenance
    for node in created:
        conn.baremetal.delete_node(node)


def test_ports(conn: openstack.connection.Connection) -> None:
    node = conn.baremetal.create_node(driver="fake-hardware", name=_name())
    mac = factories.mac("52:54:00")
    port = conn.baremetal.create_port(node_id=node.id, address=mac.upper(),
                                      pxe_enabled=False)
    assert port.address == mac
    assert port.is_pxe_enabled is False
    assert [p.id for p in conn.baremetal.ports(node=node.id)] == [port.id]
    assert [p.address for p in conn.baremetal.ports(address=mac, details=True)] == [mac]
    conn.baremetal.delete_port(port)
    assert list(conn.baremetal.ports(node=node.id)) == []
    conn.baremetal.delete_node(node)


def test_power_and_full_provisioning_cycle(conn: openstack.connection.Connection) -> None:
    node = conn.baremetal.create_node(driver="fake-hardware", name=_name())
    conn.baremetal.set_node_power_state(node, "power on", wait=True, timeout=30)
    assert conn.baremetal.get_node(node.id).power_state == "power on"

    node = conn.baremetal.set_node_provision_state(node, "manage", wait=True, timeout=30)
    assert node.provision_state == "manageable"
    node = conn.baremetal.set_node_provision_state(node, "provide", wait=True, timeout=30)
    assert node.provision_state == "available"

    validation = conn.baremetal.validate_node(node, required=("boot", "deploy", "power"))
    assert validation["deploy"].result is True

    configdrive: dict[str, object] = {"meta_data": {"hostname": "sdk-host"},
                                      "user_data": "#cloud-config\n"}
    node = conn.baremetal.set_node_provision_state(node, "active", config_drive=configdrive,
                                                   wait=True, timeout=30)
    assert node.provision_state == "active"
    assert node.instance_info["configdrive"] == "******"

    with pytest.raises(sdk_exc.BadRequestException, match="can not be performed"):
        conn.baremetal.set_node_provision_state(node, "provide")

    node = conn.baremetal.set_node_provision_state(node, "deleted", wait=True, timeout=30)
    assert node.provision_state == "available"
    assert node.instance_info == {}
    conn.baremetal.set_node_provision_state(node, "manage", wait=True, timeout=30)
    conn.baremetal.delete_node(node)


def test_drivers_and_conductors(conn: openstack.connection.Connection) -> None:
    drivers = {d.name: d for d in conn.baremetal.drivers()}
    assert drivers["fake-hardware"].hosts == ["test-conductor"]
    detail = conn.baremetal.get_driver("fake-hardware")
    assert detail.default_deploy_interface == "fake"
    conductors = list(conn.baremetal.conductors())
    assert [c.hostname for c in conductors] == ["test-conductor"]
    assert conductors[0].alive is True


def test_unretiring_forgets_the_reason_and_available_nodes_delete(
        conn: openstack.connection.Connection) -> None:
    node = conn.baremetal.create_node(driver="fake-hardware", name=_name())
    node = conn.baremetal.update_node(node, retired=True, retired_reason="end of warranty")
    assert (node.is_retired, node.retired_reason) == (True, "end of warranty")
    node = conn.baremetal.update_node(node, retired=False)
    assert (node.is_retired, node.retired_reason) == (False, None)
    conn.baremetal.set_node_provision_state(node, "manage", wait=True, timeout=30)
    conn.baremetal.set_node_provision_state(node, "provide", wait=True, timeout=30)
    conn.baremetal.delete_node(node)
    with pytest.raises(sdk_exc.NotFoundException):
        conn.baremetal.get_node(node.id)
