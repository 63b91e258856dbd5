"""`ingot api` with two `ingot conductor` processes sharing one PostgreSQL database."""

from __future__ import annotations

import pathlib
import time

import pytest

from tests.conftest import database_url
from tests.servers.ingot import IngotServer

pytestmark = pytest.mark.postgres


def test_two_conductors_share_the_work(tmp_path: pathlib.Path) -> None:
    with database_url("postgresql", tmp_path) as url:
        api = IngotServer(tmp_path / "api", db_url=url, command="api", host="api")
        # Small worker pools so that neither conductor can take every node at once.
        conductors = [IngotServer(tmp_path / host, db_url=url, command="conductor", host=host,
                                  options={"conductor": {"workers_pool_size": 4,
                                                         "poll_interval": 0.1}})
                      for host in ("c1", "c2")]
        api.start()
        for conductor in conductors:
            conductor.start()
        try:
            with api.client() as client:
                deadline = time.monotonic() + 30
                while len(client.get("/v1/conductors").json()["conductors"]) < 2:
                    assert time.monotonic() < deadline, "conductors never registered"
                    time.sleep(0.1)
                uuids = [client.post("/v1/nodes", json={"driver": "fake-hardware"}).json()[
                    "uuid"] for _ in range(40)]
                for target, state in (("manage", "manageable"), ("provide", "available"),
                                      ("active", "active")):
                    for uuid in uuids:
                        response = client.put(f"/v1/nodes/{uuid}/states/provision",
                                              json={"target": target})
                        assert response.status_code == 202, response.text
                    deadline = time.monotonic() + 60
                    while True:
                        listed = client.get("/v1/nodes", params={
                            "fields": "uuid,provision_state,conductor", "limit": 100}).json()
                        if all(n["provision_state"] == state for n in listed["nodes"]):
                            break
                        assert time.monotonic() < deadline, f"nodes did not all reach {state}"
                        time.sleep(0.1)
                detail = client.get("/v1/nodes/detail").json()["nodes"]
        finally:
            for server in (*conductors, api):
                server.stop()
    assert {node["conductor"] for node in detail} == {"c1", "c2"}
    assert all(node["reservation"] is None for node in detail)
