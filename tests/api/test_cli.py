"""The `baremetal` CLI (python-ironicclient) against a real `ingot serve`.

The CLI sends its own newest microversion without discovery; ingot answers 406 with
its range and the client negotiates down, as it does with an older Ironic.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from typing import Any

import pytest

from tests import factories
from tests.servers.ingot import IngotServer

BAREMETAL = os.path.join(os.path.dirname(sys.executable), "baremetal")


class Cli:
    def __init__(self, url: str):
        self.env = {**os.environ, "OS_ENDPOINT": url, "OS_AUTH_TYPE": "none",
                    "OS_CLOUD": "", "PYTHONWARNINGS": "ignore"}

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([BAREMETAL, *args], env=self.env, capture_output=True,
                                text=True, timeout=120)
        if check and result.returncode != 0:
            raise AssertionError(f"baremetal {' '.join(args)} failed:\n{result.stderr}")
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "-f", "json").stdout)


@pytest.fixture
def cli(ingot: IngotServer) -> Cli:
    return Cli(ingot.url)


def test_node_lifecycle_with_cli(cli: Cli) -> None:
    name = f"cli-{uuid.uuid4().hex[:8]}"
    rc = f"rc-{uuid.uuid4().hex[:6]}"
    created = cli.json("node", "create", "--driver", "fake-hardware", "--name", name,
                       "--resource-class", rc, "--driver-info", "ipmi_password=pw",
                       "--property", "cpus=2")
    assert created["provision_state"] == "enroll"
    assert created["driver_info"] == {"ipmi_password": "******"}

    listed = cli.json("node", "list", "--resource-class", rc)
    assert [n["name"] for n in listed] == [name]
    long = cli.json("node", "list", "--long", "--resource-class", rc)
    assert long[0]["driver"] == "fake-hardware"
    assert long[0]["conductor"] == "test-conductor"
    fields = cli.json("node", "list", "--fields", "uuid", "name", "resource_class",
                      "--resource-class", rc)
    assert fields == [{"uuid": created["uuid"], "name": name, "resource_class": rc}]
    assert cli.json("node", "list", "--resource-class", rc, "--provision-state",
                    "available") == []

    cli.run("node", "set", name, "--property", "memory_mb=1024", "--extra", "rack=a1",
            "--description", "cli node")
    cli.run("node", "unset", name, "--property", "cpus")
    shown = cli.json("node", "show", name)
    assert shown["properties"] == {"memory_mb": 1024}
    assert shown["extra"] == {"rack": "a1"}
    assert shown["description"] == "cli node"

    cli.run("node", "maintenance", "set", name, "--reason", "cabling")
    maint = cli.json("node", "list", "--maintenance", "--resource-class", rc)
    assert [n["name"] for n in maint] == [name]
    assert cli.json("node", "show", name)["maintenance_reason"] == "cabling"
    cli.run("node", "maintenance", "unset", name)
    assert cli.json("node", "show", name)["maintenance"] is False

    mac = factories.mac("52:54:01")
    port = cli.json("port", "create", mac, "--node", created["uuid"])
    assert port["address"] == mac
    ports = cli.json("port", "list", "--node", name)
    assert [p["address"] for p in ports] == [mac]

    cli.run("node", "power", "on", name, "--power-timeout", "30")
    assert cli.json("node", "show", name)["power_state"] == "power on"
    cli.run("node", "power", "off", name, "--power-timeout", "30")
    assert cli.json("node", "show", name)["power_state"] == "power off"

    cli.run("node", "manage", name, "--wait", "30")
    cli.run("node", "provide", name, "--wait", "30")
    validation = {row["Interface"]: row["Result"] for row in cli.json("node", "validate", name)}
    assert validation["deploy"] is True and validation["power"] is True
    configdrive = json.dumps({"meta_data": {"hostname": name}, "user_data": "#!/bin/sh\n"})
    cli.run("node", "deploy", name, "--config-drive", configdrive, "--wait", "30")
    active = cli.json("node", "show", name)
    assert active["provision_state"] == "active"
    assert active["instance_info"]["configdrive"] == "******"

    cli.run("node", "undeploy", name, "--wait", "30")
    assert cli.json("node", "show", name)["provision_state"] == "available"
    cli.run("port", "delete", port["uuid"])
    assert cli.json("port", "list", "--node", name) == []
    cli.run("node", "manage", name, "--wait", "30")
    cli.run("node", "delete", name)
    missing = cli.run("node", "show", name, check=False)
    assert f"Node {name} could not be found" in missing.stderr


def test_driver_list_with_cli(cli: Cli) -> None:
    drivers = cli.json("driver", "list")
    assert {"name": "fake-hardware", "hosts": "test-conductor"} in drivers


def test_cli_prints_ingot_error_message(cli: Cli) -> None:
    result = cli.run("node", "create", "--driver", "no-such-driver", check=False)
    assert result.returncode != 0
    assert "Driver no-such-driver is not enabled" in result.stderr
