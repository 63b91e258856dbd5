"""The `baremetal` CLI (python-ironicclient) through `ingot proxy`.

The CLI asks for its own newest microversion first; the proxy answers 406 with the
range every site supports and the CLI negotiates down, as with an older Ironic.
"""

from __future__ import annotations

import json

import pytest

from tests import factories
from tests.api.test_cli import Cli
from tests.proxy.servers import ProxyServer, Sites, proxy_sections
from tests.proxy.test_sdk import GROUP_SITE
from tests.servers.process import wait_until


def wait_for_state(proxy: ProxyServer, ident: str, state: str, timeout: float = 60) -> None:
    with proxy.client() as client:
        def reached() -> bool:
            node = client.get(f"/v1/nodes/{ident}?fields=provision_state,last_error").json()
            assert node["provision_state"] not in ("clean failed", "deploy failed"), node
            return bool(node["provision_state"] == state)
        wait_until(reached, timeout, f"node {ident} {state}", interval=0.2)


@pytest.mark.parametrize("group", ["grp1", "grp3"])
def test_node_lifecycle_at_each_site(cli: Cli, proxy: ProxyServer, group: str) -> None:
    name = factories.name("cli")
    created = cli.json("node", "create", "--driver", "fake-hardware", "--name", name,
                       "--conductor-group", group, "--driver-info", "ipmi_password=pw")
    assert created["conductor_group"] == group
    assert created["driver_info"] == {"ipmi_password": "******"}
    assert cli.json("node", "show", name)["conductor"] == f"{GROUP_SITE[group]}-conductor"

    cli.run("node", "set", name, "--property", "cpus=4", "--extra", "rack=b2")
    cli.run("node", "unset", created["uuid"], "--extra", "rack")
    shown = cli.json("node", "show", created["uuid"])
    assert (shown["name"], shown["properties"], shown["extra"]) == (name, {"cpus": 4}, {})

    mac = factories.mac("52:54:04")
    port = cli.json("port", "create", mac, "--node", created["uuid"])
    assert [p["address"] for p in cli.json("port", "list", "--node", name)] == [mac]
    assert cli.json("port", "show", port["uuid"])["node_uuid"] == created["uuid"]

    if group == "grp3":
        # The full provisioning cycle once, at the Ironic site (the SDK tests run it at
        # both kinds of site). The CLI's own --wait sleeps 10 s between polls of these
        # verbs, so the wait is a poll through the proxy instead.
        cli.run("node", "power", "on", name, "--power-timeout", "60")
        assert cli.json("node", "show", name)["power_state"] == "power on"
        cli.run("node", "manage", name, "--wait", "60")
        cli.run("node", "provide", created["uuid"])
        wait_for_state(proxy, name, "available")
        configdrive = json.dumps({"meta_data": {"hostname": name}})
        cli.run("node", "deploy", name, "--config-drive", configdrive)
        wait_for_state(proxy, created["uuid"], "active")
        assert cli.json("node", "show", name)["provision_state"] == "active"
        cli.run("node", "undeploy", created["uuid"])
        wait_for_state(proxy, name, "available")
        cli.run("node", "manage", name, "--wait", "60")

    cli.run("port", "delete", port["uuid"])
    assert cli.json("port", "list", "--node", name) == []
    cli.run("node", "delete", name)
    missing = cli.run("node", "show", name, check=False)
    assert missing.returncode != 0
    assert f"Node {name} could not be found" in missing.stderr


def test_cli_prints_proxy_errors(cli: Cli) -> None:
    result = cli.run("node", "create", "--driver", "fake-hardware", "--conductor-group",
                     "elsewhere", check=False)
    assert result.returncode != 0
    assert 'Conductor group "elsewhere" is not mapped to any site' in result.stderr
    site_error = cli.run("node", "create", "--driver", "no-such-driver", check=False)
    assert site_error.returncode != 0
    assert "no-such-driver" in site_error.stderr  # the site's message, relayed


def test_cli_lists_drivers_and_conductors_of_every_site(cli: Cli) -> None:
    drivers = {d["name"]: d["hosts"] for d in cli.json("driver", "list")}
    assert drivers["fake-hardware"] == "loc1-conductor, loc2-conductor, loc3-conductor"
    conductors = cli.json("conductor", "list")
    assert {c["hostname"]: c["conductor_group"] for c in conductors} == {
        "loc1-conductor": "", "loc2-conductor": "grp1", "loc3-conductor": "grp3"}


def test_proxy_serves_with_several_workers(sites: Sites,
                                           tmp_path_factory: pytest.TempPathFactory) -> None:
    """`ingot proxy --workers 2`: uvicorn's supervisor runs the workers on the bound port."""
    server = ProxyServer(tmp_path_factory.mktemp("proxy-workers"),
                         proxy_sections(sites.urls())).start(workers=2)
    try:
        with server.client() as client:
            for _ in range(4):
                answer = client.get("/v1/drivers")
                assert answer.status_code == 200, answer.text
                assert "fake-hardware" in {d["name"] for d in answer.json()["drivers"]}
        # Log lines start with time and PID: the supervisor listens, its workers answer.
        pids = {line.split()[2]: line for line in server.log().splitlines()
                if "listening on" in line or "GET /v1/drivers" in line}
        supervisor = [pid for pid, line in pids.items() if "listening on" in line]
        assert len(supervisor) == 1 and len(pids) >= 2, server.log()
    finally:
        server.stop()
