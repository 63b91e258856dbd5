"""Node history (API 1.78): events recorded in the database, read through the API."""

from __future__ import annotations

import pathlib
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from oslo_config import cfg

from ingot import conf as ingot_conf
from ingot.conductor.settings import ConductorSettings
from ingot.db import history, nodes
from tests.assertions import fault
from tests.servers.ingot import IngotServer


@pytest.fixture
def events(ingot: IngotServer) -> Iterator[tuple[str, list[str]]]:
    with ingot.client() as api:
        created = api.post("/v1/nodes", json={"driver": "fake-hardware",
                                              "name": f"h-{uuid.uuid4().hex[:8]}"})
    assert created.status_code == 201
    node_uuid = created.json()["uuid"]
    engine = sa.create_engine(ingot.db_url)
    try:
        with engine.begin() as conn:
            node = nodes.get_by_uuid(conn, node_uuid)
            assert node is not None
            recorded = [
                history.record(conn, node, "power on went well", event_type="monitoring",
                               conductor="c1"),
                history.record(conn, node, "x" * 300 + " password=hunter2",
                               event_type="deploying", error=True, conductor="c1"),
            ]
    finally:
        engine.dispose()
    yield node_uuid, recorded


def _get(ingot: IngotServer, path: str, version: str = "1.78") -> httpx.Response:
    with ingot.client(version=version) as api:
        return api.get(path)


def test_history_lists_and_shows_events(ingot: IngotServer,
                                        events: tuple[str, list[str]]) -> None:
    node_uuid, (first, second) = events
    listed = _get(ingot, f"/v1/nodes/{node_uuid}/history")
    assert listed.status_code == 200
    items: list[dict[str, Any]] = listed.json()["history"]
    assert [item["uuid"] for item in items] == [first, second]
    assert set(items[0]) == {"uuid", "created_at", "severity", "event", "links"}
    assert items[0]["severity"] == "INFO" and items[1]["severity"] == "ERROR"
    # Ironic shows the first 251 characters and "..." (node.py, history get_all).
    assert len(items[1]["event"]) == 254 and items[1]["event"].endswith("...")
    assert items[0]["links"][0]["href"].endswith(f"/v1/nodes/{node_uuid}/history/{first}")

    detailed = _get(ingot, f"/v1/nodes/{node_uuid}/history?detail=true").json()["history"]
    assert detailed[1]["event_type"] == "deploying" and detailed[1]["conductor"] == "c1"
    assert "hunter2" not in detailed[1]["event"]  # secrets masked, as everywhere
    assert "project" not in detailed[1] and "state" not in detailed[1]  # 1.113, 1.115

    one = _get(ingot, f"/v1/nodes/{node_uuid}/history/{second}")
    assert one.status_code == 200
    assert one.json()["event_type"] == "deploying" and len(one.json()["event"]) > 300

    paged = _get(ingot, f"/v1/nodes/{node_uuid}/history?limit=1").json()
    assert [item["uuid"] for item in paged["history"]] == [first]
    assert f"marker={first}" in paged["next"]


@pytest.mark.parametrize("path,version,status,message", [
    ("/history", "1.77", 404, "could not be found"),
    ("/history?detail=maybe", "1.78", 400, "Expected a boolean for detail"),
    ("/history?sort_key=event", "1.78", 400, "sort_key"),
    ("/history?marker=" + str(uuid.UUID(int=1)), "1.78", 404, "could not be found"),
    (f"/history/{uuid.UUID(int=2)}", "1.78", 404, "Node history record"),
])
def test_bad_history_requests(ingot: IngotServer, events: tuple[str, list[str]], path: str,
                              version: str, status: int, message: str) -> None:
    response = _get(ingot, f"/v1/nodes/{events[0]}{path}", version)
    assert response.status_code == status
    assert message in fault(response)


def test_history_keeps_the_newest_entries_per_node(ingot: IngotServer) -> None:
    """[conductor] node_history_max_entries: with a cap of 3, five events recorded leave
    the three newest; another node's events are not touched."""
    with ingot.client() as api:
        created = [api.post("/v1/nodes", json={"driver": "fake-hardware"}) for _ in range(2)]
    assert [c.status_code for c in created] == [201, 201]
    capped, other = (c.json()["uuid"] for c in created)
    engine = sa.create_engine(ingot.db_url)
    try:
        with engine.begin() as conn:
            node, neighbour = nodes.get_by_uuid(conn, capped), nodes.get_by_uuid(conn, other)
            assert node is not None and neighbour is not None
            kept_aside = [history.record(conn, neighbour, f"other {i}", max_entries=3)
                          for i in range(2)]
        recorded = []
        for i in range(5):  # one transaction each, as conductors record
            with engine.begin() as conn:
                recorded.append(history.record(conn, node, f"event {i}", max_entries=3))
    finally:
        engine.dispose()
    listed = _get(ingot, f"/v1/nodes/{capped}/history?detail=true").json()["history"]
    assert [(e["uuid"], e["event"]) for e in listed] == \
        [(recorded[i], f"event {i}") for i in (2, 3, 4)]
    aside = _get(ingot, f"/v1/nodes/{other}/history").json()["history"]
    assert [e["uuid"] for e in aside] == kept_aside


def test_node_history_max_entries_reaches_the_conductor(tmp_path: pathlib.Path) -> None:
    def settings(ini: str) -> ConductorSettings:
        path = tmp_path / "ingot.conf"
        path.write_text(ini)
        conf = cfg.ConfigOpts()  # not the process's CONF: other tests read it
        for module in ingot_conf.modules():
            module.register(conf)
        conf(["--config-file", str(path)], default_config_files=[])
        return ConductorSettings.from_conf(conf)

    assert settings("").node_history_max_entries == 300  # Ironic's default
    assert settings("[conductor]\nnode_history_max_entries = 3\n").node_history_max_entries == 3
