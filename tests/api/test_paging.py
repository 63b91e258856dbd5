"""Listing past the 1000-node page limit with both clients, and keyset paging order."""

from __future__ import annotations

import concurrent.futures
import pathlib
from collections.abc import Iterator

import httpx
import openstack
import pytest

from tests.api.test_cli import Cli
from tests.conftest import running_ingot
from tests.servers.ingot import IngotServer

COUNT = 1005


@pytest.fixture(scope="module")
def crowded(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[IngotServer]:
    """A server of its own holding COUNT nodes."""
    workdir: pathlib.Path = tmp_path_factory.mktemp(f"paging-{backend}")
    with running_ingot(backend, workdir) as server:
        def create(index: int) -> None:
            with server.client() as client:
                for i in range(index, COUNT, 8):
                    body = {"driver": "fake-hardware", "name": f"node-{i:04d}",
                            "resource_class": "even" if i % 2 == 0 else "odd"}
                    created = client.post("/v1/nodes", json=body).raise_for_status()
                    if i % 3 == 0:  # something to sort by maintenance
                        client.put(f"/v1/nodes/{created.json()['uuid']}/maintenance"
                                   ).raise_for_status()

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(create, range(8)))
        yield server


def test_cli_stops_at_max_limit_and_follows_next_with_limit_zero(crowded: IngotServer) -> None:
    cli = Cli(crowded.url)
    first_page = cli.run("node", "list", "-f", "value", "-c", "uuid").stdout.split()
    assert len(first_page) == 1000
    everything = cli.run("node", "list", "--limit", "0", "-f", "value", "-c", "uuid").stdout
    assert len(set(everything.split())) == COUNT


def test_sdk_follows_next_links(crowded: IngotServer) -> None:
    conn = openstack.connect(auth_type="none", baremetal_endpoint_override=crowded.url,
                             load_yaml_config=False, load_envvars=False)
    names = [node.name for node in conn.baremetal.nodes()]
    assert len(names) == COUNT
    assert len(set(names)) == COUNT


@pytest.mark.parametrize("sort_key,sort_dir", [("name", "desc"), ("resource_class", "asc"),
                                               ("created_at", "asc"), ("maintenance", "desc")])
def test_small_pages_cover_everything_in_order(crowded: IngotServer, sort_key: str,
                                               sort_dir: str) -> None:
    seen: list[dict[str, str]] = []
    url: str | None = (f"/v1/nodes?limit=97&sort_key={sort_key}&sort_dir={sort_dir}"
                       f"&fields=uuid,name,{sort_key}")
    with crowded.client() as client:
        while url:
            page = client.get(url).raise_for_status().json()
            seen.extend(page["nodes"])
            url = page.get("next")
            assert url is None or url.startswith(crowded.url)
            if url:
                assert "limit=97" in url and f"sort_key={sort_key}" in url
                url = url.removeprefix(crowded.url)
    assert len({n["uuid"] for n in seen}) == COUNT
    keys = [n[sort_key] for n in seen]
    assert keys == sorted(keys, reverse=sort_dir == "desc")


def test_marker_of_unknown_node_is_404(crowded: IngotServer) -> None:
    with crowded.client() as client:
        response = client.get("/v1/nodes?marker=8b0c3a86-7d6b-4a2b-9d5c-2f0f7b6d1e11")
    assert response.status_code == 404
    assert "could not be found" in response.json()["error_message"]


def test_limit_must_be_positive(crowded: IngotServer) -> None:
    response = httpx.get(f"{crowded.url}/v1/nodes?limit=-1")
    assert response.status_code == 400
    assert "Limit must be positive" in response.json()["error_message"]
