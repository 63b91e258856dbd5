"""Listings across the three sites: sorted, paged with small limits so pages span sites,
with next links, plain UUID markers, filters, openstacksdk and the baremetal CLI."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import openstack
import pytest

from tests.api.test_cli import Cli
from tests.proxy.servers import ProxyServer, Sites, proxy_sections
from tests.proxy.test_sdk import fault

GROUPS = ("", "grp1", "grp2", "grp3")
PER_GROUP = 5
SITE_ORDER = ("loc1", "loc2", "loc3")  # the proxy breaks ties by site name


@pytest.fixture(scope="module")
def tag(proxy: ProxyServer) -> str:
    """A resource class shared by this module's 20 nodes only: 10 at loc1, 5 at each
    other site, random names so that every sort interleaves the sites."""
    value = f"list-{secrets.token_hex(4)}"
    with proxy.client() as client:
        for index in range(PER_GROUP * len(GROUPS)):
            # Few descriptions: ties across and within sites. (No NULLs: Ironic 39's own
            # paging loses nodes after a marker whose sort value is NULL.)
            description = ("alpha", "beta", "gamma")[(index // 2) % 3]
            body = {"driver": "fake-hardware", "resource_class": value,
                    "conductor_group": GROUPS[index % len(GROUPS)],
                    "name": f"{value}-{secrets.token_hex(4)}", "description": description}
            created = client.post("/v1/nodes", json=body)
            assert created.status_code == 201, created.text
            if index % 3 == 0:
                assert client.put(f"/v1/nodes/{created.json()['uuid']}/maintenance",
                                  json={"reason": "sorting"}).status_code == 202
    return value


@pytest.fixture(scope="module")
def small_pages(sites: Sites, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[ProxyServer]:
    """A proxy answering at most 4 items at once: the CLI then follows next links."""
    server = ProxyServer(tmp_path_factory.mktemp("proxy-small"),
                         proxy_sections(sites.urls(), options={"api": {"max_limit": 4}}))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def direct(sites: Sites, query: str) -> dict[str, list[dict[str, Any]]]:
    """Each site's own detailed listing, asked directly."""
    out = {}
    for name, url in sites.urls().items():
        response = httpx.get(f"{url}/v1/nodes/detail?{query}", timeout=30,
                             headers={"X-OpenStack-Ironic-API-Version": "1.73"})
        assert response.status_code == 200, response.text
        out[name] = response.json()["nodes"]
    return out


def expected(sites: Sites, tag: str, sort_key: str | None, sort_dir: str) -> list[str]:
    """The merged order: by sort value, ties by site name, each site in its own order."""
    query = f"resource_class={tag}&sort_dir={sort_dir}" + \
        (f"&sort_key={sort_key}" if sort_key else "")
    per_site = direct(sites, query)
    ordered = [node for site in SITE_ORDER for node in per_site[site]]
    if sort_key is not None:
        def key(node: dict[str, Any]) -> tuple[bool, Any]:
            # NULLs first in ascending order, as the sites sort them.
            return (node[sort_key] is not None, node[sort_key] or "")

        # A stable sort keeps site name order among equal values, in either direction.
        ordered.sort(key=key, reverse=sort_dir == "desc")
    return [node["uuid"] for node in ordered]


def site_of(sites: Sites, tag: str) -> dict[str, str]:
    return {node["uuid"]: site for site, nodes in direct(sites, f"resource_class={tag}").items()
            for node in nodes}


def walk(client: httpx.Client, url: str, key: str = "nodes"
         ) -> tuple[list[dict[str, Any]], list[list[str]]]:
    """Follow next links verbatim; the items and the UUIDs of each page."""
    items: list[dict[str, Any]] = []
    pages: list[list[str]] = []
    next_url: str | None = url
    while next_url:
        response = client.get(next_url)
        assert response.status_code == 200, response.text
        assert "X-Ingot-Missing-Sites" not in response.headers
        body = response.json()
        items += body[key]
        pages.append([item.get("uuid", item.get("hostname")) for item in body[key]])
        next_url = body.get("next")
        assert len(pages) < 100, "endless paging"
    return items, pages


@pytest.mark.parametrize("sort_key,sort_dir", [
    ("name", "asc"), ("name", "desc"), ("uuid", "desc"), ("description", "asc"),
    ("description", "desc"), ("driver", "asc"), ("created_at", "desc"), (None, "asc"),
])
def test_pages_across_sites_are_in_merged_order(proxy: ProxyServer, sites: Sites, tag: str,
                                                sort_key: str | None, sort_dir: str) -> None:
    want = expected(sites, tag, sort_key, sort_dir)
    assert len(want) == PER_GROUP * len(GROUPS)
    url = f"/v1/nodes?resource_class={tag}&limit=3&sort_dir={sort_dir}" + \
        (f"&sort_key={sort_key}" if sort_key else "")
    with proxy.client() as client:
        items, pages = walk(client, url)
    got = [item["uuid"] for item in items]
    assert got == want  # no duplicates, no gaps, the merged order
    assert all(len(page) == 3 for page in pages[:-1])
    where = site_of(sites, tag)
    if sort_key is not None:
        assert any(len({where[uuid] for uuid in page}) > 1 for page in pages)
    # Plain listings stay plain even when sorted by a field they do not show.
    assert set(items[0]) == {"uuid", "instance_uuid", "maintenance", "power_state",
                             "provision_state", "name", "links"}
    assert all(link["href"].startswith(proxy.url) for link in items[0]["links"])


def test_detail_and_fields_listings(proxy: ProxyServer, sites: Sites, tag: str) -> None:
    want = expected(sites, tag, "name", "desc")
    with proxy.client() as client:
        detailed, _ = walk(client, f"/v1/nodes/detail?resource_class={tag}&limit=4"
                                   f"&sort_key=name&sort_dir=desc")
        assert [n["uuid"] for n in detailed] == want
        assert all(n["driver"] == "fake-hardware" for n in detailed)
        named, _ = walk(client, f"/v1/nodes?resource_class={tag}&limit=4&sort_key=name"
                                f"&sort_dir=desc&fields=name")
        assert [set(n) for n in named] == [{"name", "links"}] * len(want)
        by_uuid = {n["uuid"]: n["name"] for n in detailed}
        assert [n["name"] for n in named] == [by_uuid[u] for u in want]


@pytest.mark.parametrize("sort_key,sort_dir", [("name", "asc"), ("name", "desc"),
                                               (None, "asc")])
def test_plain_uuid_marker_continues_the_merged_order(proxy: ProxyServer, sites: Sites,
                                                      tag: str, sort_key: str | None,
                                                      sort_dir: str) -> None:
    want = expected(sites, tag, sort_key, sort_dir)
    sort = f"&sort_key={sort_key}&sort_dir={sort_dir}" if sort_key else ""
    with proxy.client() as client:
        for index in (0, 4, 9, 13, len(want) - 2, len(want) - 1):
            response = client.get(f"/v1/nodes?resource_class={tag}&limit=5{sort}"
                                  f"&marker={want[index]}")
            assert response.status_code == 200, response.text
            body = response.json()
            assert [n["uuid"] for n in body["nodes"]] == want[index + 1:index + 6]
            assert ("next" in body) == (index + 6 < len(want))
        stale = client.get(f"/v1/nodes?resource_class={tag}&limit=5{sort}"
                           f"&marker=11111111-2222-3333-4444-555555555555")
        assert stale.status_code == 404


def test_sdk_pages_across_sites(proxy: ProxyServer, sites: Sites, tag: str) -> None:
    conn = openstack.connect(auth_type="none", baremetal_endpoint_override=proxy.url,
                             load_yaml_config=False, load_envvars=False)
    want = expected(sites, tag, None, "asc")
    assert [n.id for n in conn.baremetal.nodes(resource_class=tag, limit=3)] == want
    detailed = list(conn.baremetal.nodes(resource_class=tag, details=True, limit=7))
    assert [n.id for n in detailed] == want
    assert {n.conductor_group for n in detailed} == set(GROUPS)
    in_maintenance = [n.id for n in conn.baremetal.nodes(resource_class=tag,
                                                         is_maintenance=True, limit=2)]
    assert in_maintenance == [uuid for uuid in want
                              if uuid in {n.id for n in detailed if n.is_maintenance}]
    assert [n.id for n in conn.baremetal.nodes(resource_class=tag, conductor_group="grp3")] \
        == direct_uuids(sites, "loc3", tag)


def direct_uuids(sites: Sites, site: str, tag: str) -> list[str]:
    return [n["uuid"] for n in direct(sites, f"resource_class={tag}")[site]]


def test_cli_follows_next_links(small_pages: ProxyServer, sites: Sites, tag: str) -> None:
    cli = Cli(small_pages.url)
    want = expected(sites, tag, None, "asc")
    listed = cli.json("node", "list", "--resource-class", tag, "--limit", "0")
    assert [n["uuid"] for n in listed] == want
    first_page = cli.json("node", "list", "--resource-class", tag)
    assert [n["uuid"] for n in first_page] == want[:4]  # max_limit of this proxy
    after = cli.json("node", "list", "--resource-class", tag, "--marker", want[6],
                     "--limit", "5")
    assert [n["uuid"] for n in after] == want[7:12]
    long = cli.json("node", "list", "--resource-class", tag, "--limit", "0", "--long")
    assert {n["conductor_group"] for n in long} == set(GROUPS)


def test_conductor_group_filter_asks_its_site_only(proxy: ProxyServer, sites: Sites,
                                                   tag: str) -> None:
    with proxy.client() as client:
        grp1 = client.get(f"/v1/nodes?resource_class={tag}&conductor_group=grp1").json()
        assert [n["uuid"] for n in grp1["nodes"]] == direct_uuids(sites, "loc2", tag)
        nowhere = client.get(f"/v1/nodes?resource_class={tag}&conductor_group=nowhere")
        assert nowhere.status_code == 200
        assert nowhere.json() == {"nodes": []}


def test_bad_paging_parameters_are_client_errors(proxy: ProxyServer, tag: str) -> None:
    with proxy.client() as client:
        sideways = client.get("/v1/nodes?sort_dir=sideways")
        assert sideways.status_code == 400
        assert "Invalid sort direction: sideways" in fault(sideways)
        assert client.get("/v1/nodes?limit=0").status_code == 400
        assert client.get("/v1/nodes?limit=many").status_code == 400
        garbage = client.get("/v1/nodes?marker=ingot~garbage")
        assert garbage.status_code == 400
        assert "Invalid marker" in fault(garbage)
        first = client.get(f"/v1/nodes?resource_class={tag}&limit=2&sort_key=name").json()
        token = first["next"].split("marker=")[1]
        other_sort = client.get(f"/v1/nodes?resource_class={tag}&limit=2&sort_key=uuid"
                                f"&marker={token}")
        assert other_sort.status_code == 400
        assert "continues a listing sorted by name:asc" in fault(other_sort)
        unsortable = client.get("/v1/nodes?sort_key=driver_info")
        assert unsortable.status_code == 400  # the sites' own answer, relayed
        assert "driver_info" in fault(unsortable)


def test_conductors_paged_across_sites(proxy: ProxyServer) -> None:
    with proxy.client() as client:
        items, pages = walk(client, "/v1/conductors?limit=1&sort_key=hostname",
                            key="conductors")
        assert [c["hostname"] for c in items] == ["loc1-conductor", "loc2-conductor",
                                                 "loc3-conductor"]
        assert len(pages) >= 3


def test_ports_listed_across_sites(proxy: ProxyServer, sites: Sites, tag: str) -> None:
    with proxy.client() as client:
        nodes = client.get(f"/v1/nodes?resource_class={tag}&conductor_group=grp3&limit=1")
        node = nodes.json()["nodes"][0]["uuid"]
        macs = []
        for group in ("grp1", "grp3", ""):
            listed = client.get(f"/v1/nodes?resource_class={tag}&conductor_group={group}"
                                f"&limit=1").json()["nodes"][0]["uuid"]
            mac = "52:54:03" + "".join(f":{b:02x}" for b in secrets.token_bytes(3))
            created = client.post("/v1/ports", json={"address": mac, "node_uuid": listed})
            assert created.status_code == 201, created.text
            macs.append(mac)
        everything, _ = walk(client, "/v1/ports?limit=2&sort_key=address", key="ports")
        addresses = [p["address"] for p in everything]
        assert addresses == sorted(addresses)
        assert set(macs) <= set(addresses)
        assert len(addresses) == len(set(addresses))
        of_node = client.get(f"/v1/nodes/{node}/ports").json()["ports"]
        assert [p["address"] for p in of_node] == [macs[1]]
        missing = client.post("/v1/ports", json={"address": macs[0]})
        assert missing.status_code == 400
        assert "node_uuid" in fault(missing)
