"""A fleet deploying one image through a real Squid pulls it from the origin once."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Iterator

import httpx
import pytest

from tests.deploy.nodes import sha256, vm_node, wait_for
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
    lines = squid.access_lines("/fleet.raw")
    # The agents' GETs, and the conductor's HEADs: it checks the image through the
    # node's proxies too, so it sees what the agent will see.
    assert sum(" GET " in line for line in lines) == 8
    assert sum(" HEAD " in line for line in lines) == 8
    assert squid.access_lines("/direct.raw") == []  # no_proxy went around Squid, both ways
    assert origin.bytes_served("/direct.raw") == len(image)
