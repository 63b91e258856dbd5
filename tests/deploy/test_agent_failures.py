"""An agent that dies or answers nonsense fails its node at once, saying why."""

from __future__ import annotations

import http.server
import os
import pathlib
import signal
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa

from ingot.db.models import nodes, utcnow
from tests import factories
from tests.deploy.nodes import provision, sha256, vm_node, wait_for
from tests.servers.ingot import IngotServer
from tests.servers.origin import Fault, Origin
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


class _BadGateway(http.server.BaseHTTPRequestHandler):
    """What answers at an agent's address when something else stands there."""

    requests: list[str] = []

    def do_POST(self) -> None:
        _BadGateway.requests.append(self.path)
        self.send_response(502)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(b"<html><body>502 Bad Gateway</body></html>")

    do_GET = do_POST

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def bad_gateway() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _BadGateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_non_json_answer_of_the_agent_is_a_clear_last_error(
        server: IngotServer, api: httpx.Client, workdir: pathlib.Path,
        bad_gateway: str) -> None:
    disk = workdir / "vms" / f"{factories.name('disk')}.img"
    node = api.post("/v1/nodes", json={
        "driver": "local-vm", "deploy_interface": "direct",
        "driver_info": {"vm_disk": str(disk), "vm_disk_size": 8}}).json()
    token = "t-" + factories.name("token")
    # A node waiting for its agent, its deploy planned, as the conductor leaves it.
    engine = sa.create_engine(server.db_url)
    with engine.begin() as conn:
        conn.execute(nodes.update().where(nodes.c.uuid == node["uuid"]).values(
            provision_state="wait call-back", target_provision_state="active",
            provision_updated_at=utcnow(), agent_token=token, revision=nodes.c.revision + 1,
            driver_internal_info={"agent_image_info": {
                "id": "x", "urls": ["http://127.0.0.1:9/x.raw"], "disk_format": "raw"}}))
    engine.dispose()
    _BadGateway.requests.clear()
    beat = api.post(f"/v1/heartbeat/{node['uuid']}",
                    json={"callback_url": bad_gateway, "agent_token": token})
    assert beat.status_code == 202, beat.text
    failed = wait_for(api, node["uuid"], ("deploy failed",), timeout=30)
    assert failed["last_error"] == (f"The agent at {bad_gateway} answered HTTP 502 with a "
                                    f"non-JSON body")
    # The token went where IPA reads it, and nowhere into the error.
    assert _BadGateway.requests and all("agent_token=" in path
                                        for path in _BadGateway.requests)
    assert token not in failed["last_error"]


def test_agent_that_died_while_the_conductor_was_down_fails_the_node(
        tmp_path: pathlib.Path, origin: Origin) -> None:
    (tmp_path / "vms").mkdir()
    server = IngotServer(tmp_path / "ingot", options={
        "local_vm": {"disk_paths": tmp_path / "vms", "agent_heartbeat_interval": 0.5},
        "conductor": {"check_provision_state_interval": 1, "deploy_callback_timeout": 600},
    }).start()
    try:
        image = os.urandom(16 << 20)
        url = origin.add("/orphan.raw", image, Fault(delay=0.05))  # slow: still running
        with server.client() as api:
            uuid, _disk = vm_node(api, tmp_path, url, sha256(image))
            assert api.put(f"/v1/nodes/{uuid}/states/provision",
                           json={"target": "active"}).status_code == 202
            wait_until(lambda: bool(origin.hits_for("/orphan.raw")), 30,
                       "the agent's download")
            # The conductor has let the node go: it waits for the agent's next call.
            wait_for(api, uuid, ("wait call-back",), timeout=30)
        assert server.process is not None
        os.kill(server.process.pid, signal.SIGKILL)  # no watcher left for its agent
        server.process.popen.wait(10)
        pid_file = server.workdir / "state" / "local-vm" / f"{uuid}.pid"
        agent = int(pid_file.read_text())
        os.killpg(agent, signal.SIGKILL)
        wait_until(lambda: not pathlib.Path(f"/proc/{agent}").exists()
                   or "State:\tZ" in pathlib.Path(f"/proc/{agent}/status").read_text(),
                   10, "the agent's end")
        server.start()
        started = time.monotonic()
        with server.client() as api:
            failed = wait_for(api, uuid, ("deploy failed", "active"), timeout=60)
        assert failed["provision_state"] == "deploy failed"
        assert time.monotonic() - started < 30
        assert (f"The agent process of node {uuid} ended while no conductor watched it"
                in failed["last_error"]), failed["last_error"]
        wait_until(lambda: not pid_file.exists(), 10, "the abort after the agent's end")
    finally:
        server.stop()
