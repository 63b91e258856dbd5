"""A local agent that dies fails its node at once, saying why."""

from __future__ import annotations

import pathlib
import time
from collections.abc import Iterator

import pytest

from tests import factories
from tests.deploy.nodes import provision, wait_for
from tests.servers.ingot import IngotServer
from tests.servers.process import wait_until


@pytest.fixture(scope="module")
def dying_agents(workdir: pathlib.Path) -> Iterator[IngotServer]:
    """A server whose agents exit at start: their heartbeat interval is refused."""
    (workdir / "dying-vms").mkdir()
    server = IngotServer(workdir / "dying", options={
        "local_vm": {"disk_paths": workdir / "dying-vms", "agent_heartbeat_interval": 0},
        "conductor": {"deploy_callback_timeout": 600},
    }).start()
    yield server
    server.stop()


def test_agent_that_dies_at_start_fails_the_node_with_its_reason(
        dying_agents: IngotServer, workdir: pathlib.Path) -> None:
    with dying_agents.client() as api:
        disk = workdir / "dying-vms" / f"{factories.name('disk')}.img"
        node = api.post("/v1/nodes", json={
            "driver": "local-vm", "deploy_interface": "direct",
            "driver_info": {"vm_disk": str(disk), "vm_disk_size": 8}})
        assert node.status_code == 201, node.text
        uuid = node.json()["uuid"]
        assert provision(api, uuid, "manage", ("manageable",))["provision_state"] \
            == "manageable"
        started = time.monotonic()
        response = api.put(f"/v1/nodes/{uuid}/states/provision", json={"target": "provide"})
        assert response.status_code == 202, response.text
        failed = wait_for(api, uuid, ("clean failed", "available"), timeout=60)
        elapsed = time.monotonic() - started
    assert failed["provision_state"] == "clean failed"
    # Far sooner than the 600 s callback timeout: the death itself is noticed.
    assert elapsed < 30, elapsed
    error = failed["last_error"]
    assert f"The agent process of node {uuid} exited with code 2" in error, error
    assert "--heartbeat-interval: must be more than 0 seconds" in error, error
    assert "Timeout" not in error
    # The abort that follows powers the node off, which forgets the dead process.
    pid_file = dying_agents.workdir / "state" / "local-vm" / f"{uuid}.pid"
    wait_until(lambda: not pid_file.exists(), 10, "the abort after the agent's death")
