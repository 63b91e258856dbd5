"""A list's sort_key naming a field the request's microversion does not have is a 406,
as from Ironic 39 (api/controllers/v1: node.py, port.py and portgroup.py check the sort
key as they check `fields`; deploy templates and runbooks check it against the node's
versioned fields). At the field's version the list sorts by it, or, for a field no list
sorts by, answers the 400 it answered before. Lists Ironic does not check (allocations,
chassis, volume) sort by any of their columns at every version."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.assertions import fault
from tests.servers.ingot import IngotServer


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _mac() -> str:
    digits = uuid.uuid4().hex[:6]
    return "52:54:05:" + ":".join(digits[i:i + 2] for i in range(0, 6, 2))


@pytest.fixture
def latest(ingot: IngotServer) -> Iterator[httpx.Client]:
    with ingot.client(version="1.111") as client:
        yield client


def _get(ingot: IngotServer, minor: int, path: str, **params: str) -> httpx.Response:
    with ingot.client(version=f"1.{minor}") as client:
        return client.get(path, params=params)


def _refused(response: httpx.Response, sort_key: str, minor: int) -> None:
    assert response.status_code == 406, response.text
    assert f'"{sort_key}"' in fault(response) and f"1.{minor}" in fault(response)


@pytest.fixture
def node(latest: httpx.Client) -> dict[str, Any]:
    created = latest.post("/v1/nodes", json={"driver": "fake-hardware",
                                             "name": _unique("sortv")})
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


def test_node_sort_keys(ingot: IngotServer, latest: httpx.Client) -> None:
    group = _unique("rc")
    for owner in ("b", "c", "a"):
        assert latest.post("/v1/nodes", json={"driver": "fake-hardware",
                                              "resource_class": group,
                                              "owner": owner}).status_code == 201
    _refused(_get(ingot, 49, "/v1/nodes", resource_class=group, sort_key="owner"), "owner", 50)
    listed = _get(ingot, 50, "/v1/nodes", resource_class=group, sort_key="owner",
                  fields="uuid,owner")
    assert listed.status_code == 200, listed.text
    assert [n["owner"] for n in listed.json()["nodes"]] == ["a", "b", "c"]
    # A field no node list sorts by: 406 before its version, the same 400 from then on.
    _refused(_get(ingot, 36, "/v1/nodes", sort_key="traits"), "traits", 37)
    assert _get(ingot, 37, "/v1/nodes", sort_key="traits").status_code == 400
    # Fields of the first version, and unknown names, answer as before at every version.
    assert _get(ingot, 1, "/v1/nodes", sort_key="provision_state").status_code == 200
    assert _get(ingot, 1, "/v1/nodes", sort_key="properties").status_code == 400
    assert _get(ingot, 1, "/v1/nodes", sort_key="nonsense").status_code == 400


def test_port_sort_keys(ingot: IngotServer, latest: httpx.Client,
                        node: dict[str, Any]) -> None:
    for smartnic, network in ((True, "b"), (False, "a")):
        assert latest.post("/v1/ports", json={
            "address": _mac(), "node_uuid": node["uuid"], "is_smartnic": smartnic,
            "physical_network": network}).status_code == 201
    path = f"/v1/nodes/{node['uuid']}/ports"
    _refused(_get(ingot, 52, path, sort_key="is_smartnic"), "is_smartnic", 53)
    listed = _get(ingot, 53, path, sort_key="is_smartnic", fields="uuid,is_smartnic")
    assert listed.status_code == 200, listed.text
    assert [p["is_smartnic"] for p in listed.json()["ports"]] == [False, True]
    _refused(_get(ingot, 33, path, sort_key="physical_network"), "physical_network", 34)
    listed = _get(ingot, 34, path, sort_key="physical_network", sort_dir="desc",
                  fields="uuid,physical_network")
    assert [p["physical_network"] for p in listed.json()["ports"]] == ["b", "a"]
    # Ironic does not check internal_info, which no list sorts by: a 400 at 1.17 too.
    assert _get(ingot, 17, path, sort_key="internal_info").status_code == 400
    assert _get(ingot, 1, path, sort_key="address").status_code == 200


def test_portgroup_sort_keys(ingot: IngotServer, latest: httpx.Client,
                             node: dict[str, Any]) -> None:
    for mode in ("balance-rr", "active-backup"):
        assert latest.post("/v1/portgroups", json={
            "node_uuid": node["uuid"], "address": _mac(), "mode": mode,
            "physical_network": mode}).status_code == 201
    path = f"/v1/nodes/{node['uuid']}/portgroups"
    _refused(_get(ingot, 110, path, sort_key="dynamic_portgroup"), "dynamic_portgroup", 111)
    listed = _get(ingot, 111, path, sort_key="dynamic_portgroup", fields="uuid,mode")
    assert listed.status_code == 200, listed.text
    assert len(listed.json()["portgroups"]) == 2
    _refused(_get(ingot, 25, path, sort_key="mode"), "mode", 26)
    listed = _get(ingot, 26, path, sort_key="mode", fields="uuid,mode")
    assert [g["mode"] for g in listed.json()["portgroups"]] == ["active-backup", "balance-rr"]
    _refused(_get(ingot, 25, path, sort_key="properties"), "properties", 26)
    assert _get(ingot, 26, path, sort_key="properties").status_code == 400
    # Ironic checks only those three: physical_network (1.102) sorts at 1.101 too.
    assert _get(ingot, 101, path, sort_key="physical_network").status_code == 200
    assert _get(ingot, 24, path, sort_key="address").status_code == 200


@pytest.mark.parametrize(("path", "sort_key", "since"), [
    ("/v1/deploy_templates", "shard", 82), ("/v1/runbooks", "health", 109)],
    ids=["deploy_templates", "runbooks"])
def test_lists_checked_against_node_fields(ingot: IngotServer, path: str, sort_key: str,
                                           since: int) -> None:
    _refused(_get(ingot, since - 1, path, sort_key=sort_key), sort_key, since)
    assert _get(ingot, since, path, sort_key=sort_key).status_code == 400
    assert _get(ingot, since - 1, path, sort_key="name").status_code == 200


def test_unchecked_lists_sort_at_every_version(ingot: IngotServer) -> None:
    # An allocation's owner is of API 1.60; Ironic sorts allocations by it before.
    assert _get(ingot, 52, "/v1/allocations", sort_key="owner").status_code == 200
    assert _get(ingot, 1, "/v1/chassis", sort_key="description").status_code == 200
