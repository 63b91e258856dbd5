"""Sites that stop, hang or lose nodes behind the proxy's back: the others keep answering,
the missing site is named, and the proxy recovers when the site does."""

from __future__ import annotations

import pathlib
import socket
import time

import httpx
import openstack

from tests import factories
from tests.proxy.servers import ProxyServer, Sites, proxy_sections
from tests.proxy.stub_site import stub_site
from tests.proxy.test_sdk import fault
from tests.servers.ingot import INGOT
from tests.servers.process import Process, free_port, wait_until

MISSING = "X-Ingot-Missing-Sites"
HANG = 30.0  # seconds a stub site holds every request but discovery


def test_stopped_site_is_left_out_named_and_rejoins(proxy: ProxyServer, sites: Sites) -> None:
    tag = factories.name("down")
    nodes = {}
    with proxy.client() as client:
        for group, site in (("", "loc1"), ("grp1", "loc2"), ("grp3", "loc3")):
            created = client.post("/v1/nodes", json={
                "driver": "fake-hardware", "name": factories.name(site),
                "conductor_group": group, "resource_class": tag})
            assert created.status_code == 201, created.text
            nodes[site] = created.json()
        live = {nodes["loc1"]["uuid"], nodes["loc3"]["uuid"]}

        sites.loc2.stop()
        try:
            listed = client.get(f"/v1/nodes?resource_class={tag}")
            assert listed.status_code == 200
            assert listed.headers[MISSING] == "loc2"
            assert {n["uuid"] for n in listed.json()["nodes"]} == live
            paged = client.get(f"/v1/nodes/detail?resource_class={tag}&limit=1"
                               f"&sort_key=name")
            assert paged.headers[MISSING] == "loc2"
            assert paged.json()["nodes"][0]["uuid"] in live
            assert "no answer from site(s) loc2" in proxy.log()

            conn = openstack.connect(auth_type="none", baremetal_endpoint_override=proxy.url,
                                     load_yaml_config=False, load_envvars=False)
            assert {n.id for n in conn.baremetal.nodes(resource_class=tag)} == live
            for site in ("loc1", "loc3"):
                node = nodes[site]
                conn.baremetal.update_node(node["name"], description="still here")
                conn.baremetal.set_node_power_state(node["uuid"], "power on", wait=True,
                                                    timeout=60)
                shown = conn.baremetal.get_node(node["name"])
                assert (shown.description, shown.power_state) == ("still here", "power on")

            unreachable = client.get(f"/v1/nodes/{nodes['loc2']['uuid']}")
            assert unreachable.status_code == 503
            assert "loc2" in fault(unreachable)
            refused = client.post("/v1/nodes", json={"driver": "fake-hardware",
                                                     "conductor_group": "grp1"})
            assert refused.status_code == 503
            assert "Site loc2" in fault(refused)
            # Discovery still answers, from the sites that are up.
            assert client.get("/v1").status_code == 200
            data = conn.baremetal.get_endpoint_data()
            assert data is not None and data.max_microversion == (1, 115)
        finally:
            sites.loc2.start()

        def rejoined() -> bool:
            response = client.get(f"/v1/nodes?resource_class={tag}")
            return MISSING not in response.headers and \
                {n["uuid"] for n in response.json()["nodes"]} == live | {nodes["loc2"]["uuid"]}
        wait_until(rejoined, 20, "loc2 back in listings", interval=0.2)
        assert client.get(f"/v1/nodes/{nodes['loc2']['name']}").status_code == 200
        assert "Site loc2 answers again" in proxy.log()


def test_node_deleted_behind_the_proxys_back(proxy: ProxyServer, sites: Sites) -> None:
    name = factories.name("stale")
    headers = {"X-OpenStack-Ironic-API-Version": "1.73"}
    with proxy.client() as client:
        created = client.post("/v1/nodes", json={"driver": "fake-hardware", "name": name,
                                                 "conductor_group": "grp1"}).json()
        assert client.get(f"/v1/nodes/{name}").status_code == 200  # cached at loc2

        # Deleted at its site, and a node of the same name created at another one.
        assert httpx.delete(f"{sites.loc2.url}/v1/nodes/{created['uuid']}",
                            headers=headers).status_code == 204
        again = httpx.post(f"{sites.loc3.url}/v1/nodes", headers=headers, json={
            "driver": "fake-hardware", "name": name, "conductor_group": "grp3"}).json()
        shown = client.get(f"/v1/nodes/{name}")
        assert shown.status_code == 200
        assert shown.json()["uuid"] == again["uuid"]
        assert f"Site loc2 answered 404 for node {created['uuid']}: cache entry dropped" \
            in proxy.log()
        gone = client.get(f"/v1/nodes/{created['uuid']}")
        assert gone.status_code == 404
        assert fault(gone) == f"Node {created['uuid']} could not be found."

        # A node the proxy only saw in a listing is cached too.
        seen = httpx.post(f"{sites.loc1.url}/v1/nodes", headers=headers, json={
            "driver": "fake-hardware", "name": factories.name("listed")}).json()
        listed = client.get("/v1/nodes?conductor_group=&limit=1000").json()["nodes"]
        assert seen["uuid"] in {n["uuid"] for n in listed}
        assert httpx.delete(f"{sites.loc1.url}/v1/nodes/{seen['uuid']}",
                            headers=headers).status_code == 204
        assert client.get(f"/v1/nodes/{seen['name']}").status_code == 404
        assert f"Site loc1 answered 404 for node {seen['uuid']}: cache entry dropped" \
            in proxy.log()

        # Deleted once more behind the proxy's back: 404, for actions too.
        assert httpx.delete(f"{sites.loc3.url}/v1/nodes/{again['uuid']}",
                            headers=headers).status_code == 204
        missing = client.get(f"/v1/nodes/{name}")
        assert missing.status_code == 404
        assert fault(missing) == f"Node {name} could not be found."
        power = client.put(f"/v1/nodes/{again['uuid']}/states/power",
                           json={"target": "power on"})
        assert power.status_code == 404


def test_version_range_follows_the_sites_that_answer(sites: Sites, tmp_path: pathlib.Path
                                                     ) -> None:
    port = free_port()
    sections = proxy_sections({"loc3": sites.loc3.url, "old": f"http://127.0.0.1:{port}"},
                              groups="grp3:loc3,grp7:old")
    server = ProxyServer(tmp_path / "versions", sections)
    try:
        with stub_site(max_version="1.60", delay=HANG, port=port):
            server.start()
            with server.client(version="1.61") as client:
                # Ironic goes to 1.115, the old site to 1.60: the proxy offers both.
                assert client.get("/v1").status_code == 406
                assert client.get("/").json()["default_version"]["version"] == "1.60"
        # The old site stopped: it leaves the range once a probe misses it.
        with server.client(version="1.61") as client:
            wait_until(lambda: client.get("/v1").status_code == 200, 15, "range widened")
            assert client.get("/").json()["default_version"]["version"] == "1.115"
        with stub_site(max_version="1.60", delay=HANG, port=port), \
                server.client() as client:
            def narrowed() -> bool:
                return bool(client.get("/").json()["default_version"]["version"] == "1.60")
            wait_until(narrowed, 15, "the old site back in the range")
        assert "Site old answers again" in server.log()
    finally:
        server.stop()


def test_dead_and_hung_sites_never_hold_the_others(sites: Sites, tmp_path: pathlib.Path
                                                   ) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{unused.getsockname()[1]}"  # nothing listens there
    assert httpx.post(f"{sites.loc1.url}/v1/nodes", json={"driver": "fake-hardware"},
                      timeout=30).status_code == 201
    with stub_site(delay=HANG) as slow:
        urls = {"loc1": sites.loc1.url, "dead": dead, "slow": slow}
        # Down sites are probed again only after 30 s here, so the second listing
        # below surely finds the slow site still marked down.
        sections = proxy_sections(urls, groups="_:loc1,grp8:dead,grp9:slow",
                                  options={"proxy": {"site_timeout": 1,
                                                     "down_probe_interval": 30}})
        server = ProxyServer(tmp_path / "partial", sections).start()
        strict_sections = proxy_sections(urls, groups="_:loc1,grp8:dead,grp9:slow",
                                         options={"proxy": {"site_timeout": 1,
                                                            "partial_listings": "false"}})
        strict = ProxyServer(tmp_path / "strict", strict_sections).start()
        try:
            with server.client() as client:
                started = time.monotonic()
                listed = client.get("/v1/nodes?limit=5")
                elapsed = time.monotonic() - started
                assert listed.status_code == 200
                assert listed.headers[MISSING] == "dead,slow"
                assert listed.json()["nodes"]  # loc1's
                assert elapsed < 3, f"the slow site held the listing for {elapsed:.1f} s"
                log = server.log()
                assert "slow (no answer within 1 s)" in log
                assert "Site dead is down" in log
                # The slow site is skipped while down, so the next answer is immediate.
                started = time.monotonic()
                again = client.get("/v1/nodes?limit=5")
                assert again.headers[MISSING] == "dead,slow"
                assert time.monotonic() - started < 0.9
                # Only loc1 and the slow site are up at discovery time: 1.1-1.115.
                assert again.headers["X-OpenStack-Ironic-API-Maximum-Version"] == "1.115"
            with strict.client() as client:
                refused = client.get("/v1/nodes")
                assert refused.status_code == 503
                assert refused.headers[MISSING].startswith("dead")
                assert "The listing would be incomplete: site(s) dead" in fault(refused)
        finally:
            server.stop()
            strict.stop()


def test_no_site_answering_is_a_503(tmp_path: pathlib.Path) -> None:
    sections = proxy_sections({"loc1": f"http://127.0.0.1:{free_port()}"}, groups="_:loc1")
    server = ProxyServer(tmp_path / "alone", sections)
    # Nothing ever answered discovery: even / is a 503, which ProxyServer.start's
    # readiness check would wait for in vain.
    server.process = Process([INGOT, "proxy", "--config-file", str(server.config)],
                             str(server.workdir / "proxy.log"))
    try:
        def answers() -> bool:
            try:
                return httpx.get(server.url + "/v1/nodes", timeout=1).status_code == 503
            except httpx.HTTPError:
                return False
        wait_until(answers, 30, "the proxy's 503")
        response = httpx.get(server.url + "/v1/nodes", timeout=5)
        assert "No site behind this proxy has answered version discovery" in fault(response)
    finally:
        server.stop()
