"""A fleet deploying one image through a real Squid pulls it from the origin once."""

from __future__ import annotations

import configparser
import os
import pathlib
import socket
from collections.abc import Iterator

import httpx
import pytest

from tests.deploy.nodes import deploy, sha256, vm_node, wait_for
from tests.servers.ingot import IngotServer
from tests.servers.origin import Origin
from tests.servers.squid import Squid


@pytest.fixture(scope="module")
def squid() -> Iterator[Squid]:
    with Squid() as running:
        yield running


def test_eight_nodes_one_origin_fetch_and_no_proxy_bypass(
        api: httpx.Client, workdir: pathlib.Path, origin: Origin, squid: Squid) -> None:
    image = os.urandom(12 << 20)
    url = origin.add("/fleet.raw", image)
    proxy = f"127.0.0.1:{squid.port}"  # host:port without a scheme, as operators write it
    fleet = [vm_node(api, workdir, url, sha256(image), image_http_proxy=proxy)[0]
             for _ in range(8)]
    direct_url = origin.add("/direct.raw", image)
    bypass, _disk = vm_node(api, workdir, direct_url, sha256(image),
                            image_http_proxy=proxy, image_no_proxy="127.0.0.0/8")
    for uuid in [*fleet, bypass]:
        response = api.put(f"/v1/nodes/{uuid}/states/provision", json={"target": "active"})
        assert response.status_code == 202
    for uuid in [*fleet, bypass]:
        node = wait_for(api, uuid, ("active", "deploy failed"), timeout=120)
        assert node["provision_state"] == "active", node["last_error"]

    assert origin.bytes_served("/fleet.raw") == len(image)  # Squid fetched it once
    lines = squid.logged("/fleet.raw", count=8)
    # The agents' GETs only: the node's proxies are the agent's, the conductor's HEADs
    # go direct (a proxy may be reachable only from the nodes' network).
    assert sum(" GET " in line for line in lines) == 8
    assert sum(" HEAD " in line for line in lines) == 0
    assert sum(hit.path == "/fleet.raw" for hit in origin.hits_for("/fleet.raw")) >= 9
    assert squid.access_lines("/direct.raw") == []  # no_proxy went around Squid, both ways
    assert origin.bytes_served("/direct.raw") == len(image)


def conductor_http_port(server: IngotServer) -> int:
    config = configparser.ConfigParser(interpolation=None)
    config.read(server.config)
    return int(config["deploy"]["http_port"])


def test_proxy_reachable_only_by_the_nodes_does_not_fail_the_conductor(
        api: httpx.Client, server: IngotServer, workdir: pathlib.Path,
        origin: Origin) -> None:
    image = os.urandom(2 << 20)
    url = origin.add("/nodes-only-proxy.raw", image)
    # Nothing listens at that proxy here; the conductor fetches the image into its
    # cache without it, and the agent reaches the conductor's HTTP root directly.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead_proxy = f"127.0.0.1:{sock.getsockname()[1]}"
    uuid, disk = vm_node(api, workdir, url, sha256(image), image_http_proxy=dead_proxy,
                         image_no_proxy=f"127.0.0.1:{conductor_http_port(server)}",
                         image_download_source="http")
    node = deploy(api, uuid)
    assert node["provision_state"] == "active", node["last_error"]
    assert disk.read_bytes()[:len(image)] == image


def test_failed_head_names_the_image_url_redacted(api: httpx.Client,
                                                  workdir: pathlib.Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://deployer:hunter2@127.0.0.1:{port}/gone.raw?temp_url_sig=abc123"
    uuid, _disk = vm_node(api, workdir, url, "0" * 64)
    node = deploy(api, uuid)
    assert node["provision_state"] == "deploy failed"
    error = node["last_error"]
    assert (f"HEAD http://******@127.0.0.1:{port}/gone.raw?temp_url_sig=****** failed: "
            f"ConnectError") in error, error
    assert "hunter2" not in error and "abc123" not in error
