"""A conductor killed mid-deploy: after restart nothing stays stuck."""

from __future__ import annotations

import contextlib
import os
import pathlib
import signal
import time

from tests.deploy.nodes import sha256, vm_node, wait_for
from tests.servers.ingot import IngotServer
from tests.servers.origin import Fault, Origin


def test_killed_conductor_restarts_and_the_deploy_ends(tmp_path: pathlib.Path,
                                                       origin: Origin) -> None:
    (tmp_path / "vms").mkdir()
    server = IngotServer(tmp_path / "ingot", options={
        "local_vm": {"disk_paths": tmp_path / "vms", "agent_heartbeat_interval": 0.5},
        "conductor": {"check_provision_state_interval": 1},
    }).start()
    try:
        image = os.urandom(16 << 20)
        url = origin.add("/restart.raw", image, Fault(delay=0.02))  # about 5 s to send
        with server.client() as api:
            uuid, disk = vm_node(api, tmp_path, url, sha256(image))
            assert api.put(f"/v1/nodes/{uuid}/states/provision",
                           json={"target": "active"}).status_code == 202
            deadline = time.monotonic() + 30
            while not origin.hits_for("/restart.raw"):
                assert time.monotonic() < deadline, "the agent never started downloading"
                time.sleep(0.05)
        assert server.process is not None
        os.kill(server.process.pid, signal.SIGKILL)  # no chance to clean up
        server.process.popen.wait(10)
        time.sleep(1)  # the agent keeps writing and fails to heartbeat meanwhile
        server.start()
        with server.client() as api:
            node = wait_for(api, uuid, ("active", "deploy failed"), timeout=90)
        if node["provision_state"] == "active":
            assert disk.read_bytes()[:len(image)] == image
        else:  # the kill hit while the conductor held the node: failed, and says why
            assert "restarted" in node["last_error"]
        assert node["reservation"] is None
    finally:
        server.stop()
        run_dir = server.workdir / "state" / "local-vm"
        for pid_file in run_dir.glob("*.pid"):
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.killpg(int(pid_file.read_text()), signal.SIGTERM)
