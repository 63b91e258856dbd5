"""Allocations: candidate filtering, backfill, the node link, and races for one node."""

from __future__ import annotations

import concurrent.futures
import pathlib
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from ingot.conductor import allocations as processing
from ingot.db import allocations, conductors, migrate
from ingot.db.engine import Database
from ingot.db.models import nodes, utcnow
from tests import factories
from tests.assertions import fault, snapshot
from tests.conftest import database_url
from tests.servers.ingot import IngotServer


@pytest.fixture
def api(ingot: IngotServer) -> Iterator[httpx.Client]:
    with ingot.client("1.60") as client:
        yield client


def add_node(server: IngotServer, **overrides: Any) -> dict[str, Any]:
    """A node arranged straight in the database: available and powered off unless told."""
    row = factories.node_row(**{"provision_state": "available", "power_state": "power off",
                                "name": factories.name("alloc"), **overrides})
    engine = sa.create_engine(server.db_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.insert(nodes).values(**row))
    finally:
        engine.dispose()
    return row


def settled(api: httpx.Client, ident: str, timeout: float = 15) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = api.get(f"/v1/allocations/{ident}").json()
        if body["state"] != "allocating" or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def test_an_allocation_gets_the_node_matching_class_traits_and_maintenance(
        api: httpx.Client, ingot: IngotServer) -> None:
    rc = factories.name("rc")
    add_node(ingot, resource_class=rc)  # no trait
    add_node(ingot, resource_class=rc, traits=["CUSTOM_GPU"], maintenance=True)
    add_node(ingot, resource_class=rc + "x", traits=["CUSTOM_GPU"])
    match = add_node(ingot, resource_class=rc, traits=["CUSTOM_GPU", "CUSTOM_X"])
    created = api.post("/v1/allocations", json={"resource_class": rc,
                                                "traits": ["CUSTOM_GPU"]})
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["state"], body["node_uuid"], body["last_error"]) == ("allocating", None, None)
    assert created.headers["Location"].endswith(f"/v1/allocations/{body['uuid']}")
    done = settled(api, body["uuid"])
    assert (done["state"], done["node_uuid"]) == ("active", match["uuid"])
    node = api.get(f"/v1/nodes/{match['uuid']}").json()
    assert node["allocation_uuid"] == node["instance_uuid"] == body["uuid"]
    assert api.get(f"/v1/nodes/{match['name']}/allocation").json() == done


def test_candidate_nodes_by_name_and_owner_narrow_the_choice(
        api: httpx.Client, ingot: IngotServer) -> None:
    rc = factories.name("rc")
    add_node(ingot, resource_class=rc, owner="p1")
    wanted = add_node(ingot, resource_class=rc, owner="p2")
    leased = add_node(ingot, resource_class=rc, owner="p1", lessee="p3")
    by_name = api.post("/v1/allocations", json={
        "resource_class": rc, "candidate_nodes": [wanted["name"]]}).json()
    assert by_name["candidate_nodes"] == [wanted["uuid"]]
    assert settled(api, by_name["uuid"])["node_uuid"] == wanted["uuid"]
    by_lessee = api.post("/v1/allocations", json={"resource_class": rc, "owner": "p3"}).json()
    assert by_lessee["owner"] == "p3"
    assert settled(api, by_lessee["uuid"])["node_uuid"] == leased["uuid"]


@pytest.mark.parametrize(("nodes_kwargs", "request_kwargs", "error"), [
    ({}, {"resource_class": "other"}, "no available nodes match the resource class other"),
    ({}, {"traits": ["CUSTOM_NONE"]}, "no suitable nodes have the requested traits"),
    ({"conductor_group": "nobody-serves"}, {}, "no live conductor serves"),
    ({"provision_state": "manageable"}, {"candidate_nodes": "self"},
     "none of the requested nodes are available"),
])
def test_an_allocation_without_a_suitable_node_ends_in_error(
        api: httpx.Client, ingot: IngotServer, nodes_kwargs: dict[str, Any],
        request_kwargs: dict[str, Any], error: str) -> None:
    rc = factories.name("rc")
    node = add_node(ingot, resource_class=rc, **nodes_kwargs)
    body = {"resource_class": rc, **request_kwargs}
    if body.get("candidate_nodes") == "self":
        body["candidate_nodes"] = [node["uuid"]]
    created = api.post("/v1/allocations", json=body).json()
    done = settled(api, created["uuid"])
    assert done["state"] == "error" and done["node_uuid"] is None
    assert error in done["last_error"]
    listed = api.get("/v1/allocations", params={"state": "error"}).json()["allocations"]
    assert created["uuid"] in [a["uuid"] for a in listed]
    assert api.get(f"/v1/nodes/{node['uuid']}").json()["allocation_uuid"] is None


def test_backfill_links_a_deployed_node_at_once(api: httpx.Client, ingot: IngotServer) -> None:
    rc = factories.name("rc")
    instance = str(uuid.uuid4())
    node = add_node(ingot, resource_class=rc, provision_state="active",
                    instance_uuid=instance, traits=["CUSTOM_A"])
    created = api.post("/v1/allocations", json={"node": node["name"], "traits": ["CUSTOM_A"]})
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["uuid"], body["state"], body["node_uuid"], body["resource_class"]) == (
        instance, "active", node["uuid"], rc)
    assert api.get(f"/v1/nodes/{node['uuid']}").json()["allocation_uuid"] == instance
    # An active node keeps its allocation unless it is in maintenance.
    refused = api.delete(f"/v1/allocations/{instance}")
    assert refused.status_code == 409 and "because the node is active" in fault(refused)
    assert api.put(f"/v1/nodes/{node['uuid']}/maintenance").status_code == 202
    assert api.delete(f"/v1/nodes/{node['uuid']}/allocation").status_code == 204
    shown = api.get(f"/v1/nodes/{node['uuid']}").json()
    assert shown["allocation_uuid"] is None and shown["instance_uuid"] is None


@pytest.mark.parametrize(("node_kwargs", "body", "status", "message"), [
    ({"provision_state": "available"}, {}, 400, 'must be in the "active" state'),
    ({}, {"resource_class": "other"}, 400, "does not match the requested resource class"),
    ({}, {"traits": ["CUSTOM_B"]}, 400, "does not match the requested traits"),
    ({}, {"candidate_nodes": "other"}, 400, "Candidate nodes must be empty or contain"),
    ({}, {"uuid": "9c6ae6c8-1c4c-4ff5-a05e-a6fe0d72c0f1"}, 409, "is associated with instance"),
])
def test_a_backfill_that_does_not_match_changes_nothing(
        api: httpx.Client, ingot: IngotServer, node_kwargs: dict[str, Any],
        body: dict[str, Any], status: int, message: str) -> None:
    other = add_node(ingot)
    node = add_node(ingot, **{"provision_state": "active", "instance_uuid": str(uuid.uuid4()),
                              "resource_class": "rc", **node_kwargs})
    if body.get("candidate_nodes") == "other":
        body = {"candidate_nodes": [other["uuid"]]}
    before = snapshot(ingot)
    answer = api.post("/v1/allocations", json={"node": node["uuid"], **body})
    assert answer.status_code == status and message in fault(answer)
    assert snapshot(ingot) == before


def test_patch_name_and_extra_and_delete_frees_the_node(
        api: httpx.Client, ingot: IngotServer) -> None:
    rc = factories.name("rc")
    node = add_node(ingot, resource_class=rc)
    name = factories.name("a")
    created = api.post("/v1/allocations", json={"resource_class": rc, "name": name}).json()
    assert settled(api, name)["state"] == "active"
    old = api.patch(f"/v1/allocations/{name}", json=[{"op": "add", "path": "/extra/k",
                                                      "value": "v"}],
                    headers={"X-OpenStack-Ironic-API-Version": "1.56"})
    assert old.status_code == 405
    patched = api.patch(f"/v1/allocations/{name}", json=[
        {"op": "add", "path": "/extra/k", "value": "v"},
        {"op": "replace", "path": "/name", "value": name + "-b"}])
    assert patched.status_code == 200, patched.text
    assert (patched.json()["extra"], patched.json()["name"]) == ({"k": "v"}, name + "-b")
    assert api.delete(f"/v1/allocations/{name}-b").status_code == 204
    assert api.get(f"/v1/allocations/{created['uuid']}").status_code == 404
    shown = api.get(f"/v1/nodes/{node['uuid']}").json()
    assert shown["allocation_uuid"] is None and shown["instance_uuid"] is None


def test_a_node_that_forgets_its_instance_forgets_its_allocation(
        api: httpx.Client, ingot: IngotServer) -> None:
    rc = factories.name("rc")
    node = add_node(ingot, resource_class=rc)
    created = api.post("/v1/allocations", json={"resource_class": rc}).json()
    assert settled(api, created["uuid"])["node_uuid"] == node["uuid"]
    removed = api.patch(f"/v1/nodes/{node['uuid']}",
                        json=[{"op": "remove", "path": "/instance_uuid"}])
    assert removed.status_code == 200 and removed.json()["allocation_uuid"] is None
    assert api.get(f"/v1/allocations/{created['uuid']}").status_code == 404


def test_versions_gate_allocations(api: httpx.Client) -> None:
    old = {"X-OpenStack-Ironic-API-Version": "1.51"}
    assert api.get("/v1/allocations", headers=old).status_code == 404
    assert api.post("/v1/allocations", json={"resource_class": "x"},
                    headers=old).status_code == 405
    before_owner = {"X-OpenStack-Ironic-API-Version": "1.59"}
    answer = api.post("/v1/allocations", json={"resource_class": "x", "owner": "p"},
                      headers=before_owner)
    assert answer.status_code == 406 and "owner" in fault(answer)
    listed = api.get("/v1/allocations", headers=before_owner).json()["allocations"]
    assert all("owner" not in a for a in listed)
    answer = api.post("/v1/allocations", json={"node": "n"},
                      headers={"X-OpenStack-Ironic-API-Version": "1.57"})
    assert answer.status_code == 400 and "node" in fault(answer)


BAD_CREATES = [
    ({"resource_class": "x", "colour": "red"}, "Unknown field(s) in allocation: colour"),
    ({}, "resource_class field is mandatory"),
    ({"resource_class": "x" * 81}, "resource_class"),
    ({"resource_class": "x", "traits": ["lower"]}, "Invalid trait 'lower'"),
    ({"resource_class": "x", "traits": "CUSTOM_A"}, "traits"),
    ({"resource_class": "x", "uuid": "nope"}, "Expected a UUID for uuid"),
    ({"resource_class": "x", "name": "has space"}, "Cannot use 'has space' as name"),
    ({"resource_class": "x", "extra": []}, "Expected an object for extra"),
    ({"resource_class": "x", "candidate_nodes": ["no-such-node"]},
     "Candidate node no-such-node could not be found"),
    ({"node": "no-such-node"}, "Node no-such-node could not be found"),
]


@pytest.mark.parametrize(("body", "message"), BAD_CREATES)
def test_bad_creates_name_the_field_and_change_nothing(
        api: httpx.Client, ingot: IngotServer, body: dict[str, Any], message: str) -> None:
    before = snapshot(ingot)
    answer = api.post("/v1/allocations", json=body)
    assert answer.status_code == 400 and message in fault(answer)
    assert snapshot(ingot) == before


def test_bad_patches_and_duplicates_are_refused(api: httpx.Client, ingot: IngotServer) -> None:
    name = factories.name("dup")
    created = api.post("/v1/allocations", json={"resource_class": "none", "name": name})
    assert created.status_code == 201
    assert settled(api, name)["state"] == "error"  # the conductor is done with it
    before = snapshot(ingot)
    again = api.post("/v1/allocations", json={"resource_class": "none", "name": name})
    assert again.status_code == 409 and name in fault(again)
    for ops, message in [
            ([{"op": "replace", "path": "/resource_class", "value": "y"}], "/resource_class"),
            ([{"op": "replace", "path": "/name", "value": "a b"}], "as name"),
            ([{"op": "replace", "path": "/extra", "value": 3}], "extra")]:
        answer = api.patch(f"/v1/allocations/{name}", json=ops)
        assert answer.status_code == 400 and message in fault(answer)
    assert api.get("/v1/allocations", params={"sort_key": "traits"}).status_code == 400
    assert snapshot(ingot) == before


def test_concurrent_requests_never_share_a_node(api: httpx.Client, ingot: IngotServer) -> None:
    rc = factories.name("rc")
    free = {add_node(ingot, resource_class=rc)["uuid"] for _ in range(4)}

    def create(_: int) -> str:
        with ingot.client("1.60") as client:
            return str(client.post("/v1/allocations", json={"resource_class": rc}).json()["uuid"])

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        created = list(pool.map(create, range(8)))
    done = [settled(api, ident) for ident in created]
    active = [a for a in done if a["state"] == "active"]
    assert len(active) == 4 and {a["node_uuid"] for a in active} == free
    assert all("no available nodes" in a["last_error"] for a in done if a not in active)
    for allocation in active:
        node = api.get(f"/v1/nodes/{allocation['node_uuid']}").json()
        assert node["allocation_uuid"] == node["instance_uuid"] == allocation["uuid"]


def test_a_node_without_a_power_state_is_no_candidate(tmp_path: pathlib.Path) -> None:
    """(Arranged without a server: its power sync would give the node a state.)"""
    db = Database(f"sqlite:///{tmp_path}/ingot.sqlite")
    migrate.upgrade(db)
    with db.write() as conn:
        conductors.register(conn, "c1", "", [""], ["fake-hardware"])
        conn.execute(sa.insert(nodes).values(**factories.node_row(
            provision_state="available", power_state=None, resource_class="rc")))
        allocations.insert(conn, {
            "uuid": str(uuid.uuid4()), "state": "allocating", "resource_class": "rc",
            "traits": [], "candidate_nodes": [], "extra": {}, "created_at": utcnow()})
    assert processing.process_pending(db, 60) == 1
    with db.read() as conn:
        [allocation] = allocations.list_allocations(conn, allocations.AllocationFilters())
    db.dispose()
    assert allocation.state == "error" and allocation.node_uuid is None
    assert "no available nodes match the resource class rc" in (allocation.last_error or "")


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql",
                                                            marks=pytest.mark.postgres)])
def test_conductors_racing_over_one_database_never_share_a_node(
        backend: str, tmp_path: pathlib.Path) -> None:
    """Several processing passes at once, each with its own engine (as separate
    conductors would have), over more allocations than nodes."""
    with database_url(backend, tmp_path) as url:
        setup = Database(url)
        migrate.upgrade(setup)
        with setup.write() as conn:
            conductors.register(conn, "c1", "", [""], ["fake-hardware"])
            for _ in range(5):
                conn.execute(sa.insert(nodes).values(**factories.node_row(
                    provision_state="available", power_state="power off",
                    resource_class="rc")))
            for _ in range(12):
                allocations.insert(conn, {
                    "uuid": str(uuid.uuid4()), "state": "allocating", "resource_class": "rc",
                    "traits": [], "candidate_nodes": [], "extra": {}, "created_at": utcnow()})
        start = threading.Barrier(4)

        def conductor(_: int) -> int:
            db = Database(url)
            try:
                start.wait(timeout=10)
                return sum(processing.process_pending(db, 60) for _ in range(3))
            finally:
                db.dispose()

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            list(pool.map(conductor, range(4)))
        with setup.read() as conn:
            result = allocations.list_allocations(conn, allocations.AllocationFilters())
            linked = {row.uuid: row.allocation_uuid for row in conn.execute(sa.select(nodes))}
        setup.dispose()
    active = [a for a in result if a.state == "active"]
    assert len(active) == 5 and len({a.node_uuid for a in active}) == 5
    assert [a.state for a in result].count("error") == 7
    assert {a.node_uuid: a.uuid for a in active} == linked


def test_a_json_suffix_names_the_allocation_up_to_1_90(api: httpx.Client) -> None:
    created = api.post("/v1/allocations", json={"resource_class": "none"}).json()
    path = f"/v1/allocations/{created['uuid']}.json"
    assert api.get(path, headers={"X-OpenStack-Ironic-API-Version": "1.90"}).json()[
        "uuid"] == created["uuid"]
    assert api.get(path, headers={"X-OpenStack-Ironic-API-Version": "1.91"}).status_code == 404
