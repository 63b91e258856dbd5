"""The `ingot agent` process against a real `ingot serve`: lookup, token, heartbeats,
the command API, prepare_image with progress, cleaning, power off."""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import secrets
import ssl
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from ingot.agent.service import EXIT_REBOOT
from ingot.db.models import nodes, utcnow
from tests.servers.ingot import INGOT, IngotServer
from tests.servers.origin import Fault, Origin
from tests.servers.process import Process, free_port, wait_until

IMAGE = os.urandom(8 << 20)


@pytest.fixture(scope="module")
def ingot_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IngotServer]:
    workdir = tmp_path_factory.mktemp("agent-ingot")
    server = IngotServer(workdir, db_url=f"sqlite:///{workdir}/ingot.sqlite").start()
    try:
        yield server
    finally:
        server.stop()


def waiting_node(server: IngotServer, mac: str, token: str | None = None) -> str:
    """A node in "wait call-back" with a port for ``mac``, as a deploy leaves it."""
    with server.client() as client:
        node = client.post("/v1/nodes", json={"driver": "fake-hardware"})
        assert node.status_code == 201, node.text
        uuid: str = node.json()["uuid"]
        port = client.post("/v1/ports", json={"node_uuid": uuid, "address": mac})
        assert port.status_code == 201, port.text
    values: dict[str, Any] = {"provision_state": "wait call-back",
                              "target_provision_state": "active",
                              "provision_updated_at": utcnow(),
                              "revision": nodes.c.revision + 1}
    if token is not None:  # a token the conductor generated and gave the agent
        values["agent_token"] = token
    engine = sa.create_engine(server.db_url)
    with engine.begin() as conn:
        conn.execute(nodes.update().where(nodes.c.uuid == uuid).values(**values))
    engine.dispose()
    return uuid


def start_agent(server: IngotServer, tmp_path: pathlib.Path, mac: str, target: pathlib.Path,
                token: str | None = None, tls: bool = False) -> tuple[Process, str]:
    port = free_port()
    agent = Process([INGOT, "agent", "--api-url", server.url, "--mac", mac,
                     "--target", str(target), "--listen", f"127.0.0.1:{port}",
                     "--heartbeat-interval", "0.5", "--lookup-timeout", "20",
                     "--retry-interval", "0.05", *(() if tls else ("--no-tls",))],
                    str(tmp_path / "agent.log"),
                    env={"INGOT_AGENT_TOKEN": token} if token else None)
    return agent, f"{'https' if tls else 'http'}://127.0.0.1:{port}"


def stored_verify_ca(server: IngotServer, uuid: str) -> str | None:
    engine = sa.create_engine(server.db_url)
    with engine.begin() as conn:
        ca: str | None = conn.execute(
            sa.select(nodes.c.agent_verify_ca).where(nodes.c.uuid == uuid)).scalar_one()
    engine.dispose()
    return ca


def internal_info(server: IngotServer, uuid: str) -> dict[str, Any]:
    with server.client() as client:
        info: dict[str, Any] = client.get(f"/v1/nodes/{uuid}").json()["driver_internal_info"]
    return info


def wait_for_heartbeat(server: IngotServer, uuid: str, agent: Process) -> dict[str, Any]:
    def beaten() -> bool:
        assert agent.alive(), agent.log()
        return "agent_last_heartbeat" in internal_info(server, uuid)
    wait_until(beaten, 30, "the agent's first heartbeat", interval=0.1)
    return internal_info(server, uuid)


def test_lookup_token_heartbeats_and_refused_wrong_token(
        ingot_server: IngotServer, tmp_path: pathlib.Path) -> None:
    mac = "52:54:00:aa:00:01"
    uuid = waiting_node(ingot_server, mac)
    agent, agent_url = start_agent(ingot_server, tmp_path, mac, tmp_path / "disk.img",
                                   tls=True)
    try:
        info = wait_for_heartbeat(ingot_server, uuid, agent)
        # Heartbeats are only accepted with the token, so the lookup issued it to us.
        assert info["agent_url"] == agent_url and agent_url.startswith("https://")
        assert info["agent_secret_token"] == "******"
        first = info["agent_last_heartbeat"]
        wait_until(lambda: internal_info(ingot_server, uuid)["agent_last_heartbeat"] != first,
                   10, "a second heartbeat", interval=0.1)

        # Auto TLS: a self-signed certificate, whose CA came with the heartbeats.
        ca = stored_verify_ca(ingot_server, uuid)
        assert ca and ca.startswith("-----BEGIN CERTIFICATE-----")
        with httpx.Client(base_url=agent_url, timeout=10) as client, \
                pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            client.get("/v1/status")
        with httpx.Client(base_url=agent_url, timeout=10,
                          verify=ssl.create_default_context(cadata=ca)) as client:
            status = client.get("/v1/status")
            assert status.status_code == 200 and "started_at" in status.json()
            for params in ({}, {"agent_token": "wrong"}):
                listed = client.get("/v1/commands/", params=params)
                assert listed.status_code == 401
                assert listed.json()["faultcode"] == "Client"
                posted = client.post("/v1/commands/", params=params,
                                     json={"name": "standby.power_off", "params": {}})
                assert posted.status_code == 401
        assert agent.alive()  # the refused power_off did not run
        agent.stop()
        assert agent.popen.returncode == 0
    finally:
        agent.stop()


def run_command(client: httpx.Client, token: str, name: str, params: dict[str, Any],
                wait: bool = False) -> dict[str, Any]:
    response = client.post("/v1/commands/", json={"name": name, "params": params},
                           params={"agent_token": token, "wait": str(wait).lower()})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_prepare_image_writes_and_reports_progress(
        ingot_server: IngotServer, origin: Origin, tmp_path: pathlib.Path) -> None:
    mac = "52:54:00:aa:00:02"
    token = secrets.token_urlsafe(32)
    uuid = waiting_node(ingot_server, mac, token)
    target = tmp_path / "disk.img"
    agent, agent_url = start_agent(ingot_server, tmp_path, mac, target, token)
    # About two seconds on the wire, so progress can be watched while it runs.
    url = origin.add("/disk.raw", IMAGE, Fault(delay=0.015)) + "?temp_url_sig=SECRETSIG"
    image_info = {"id": "disk.raw", "urls": [url], "disk_format": "raw",
                  "stream_raw_images": True, "os_hash_algo": "sha256",
                  "os_hash_value": hashlib.sha256(IMAGE).hexdigest().upper()}
    try:
        wait_for_heartbeat(ingot_server, uuid, agent)
        with httpx.Client(base_url=agent_url, timeout=30) as client:
            started = run_command(client, token, "standby.prepare_image",
                                  {"image_info": image_info})
            assert started["command_status"] == "RUNNING"
            assert started["command_name"] == "standby.prepare_image"
            assert "SECRETSIG" not in json.dumps(started)
            assert started["command_params"]["image_info"]["os_hash_value"] == \
                image_info["os_hash_value"]
            busy = client.post("/v1/commands/", params={"agent_token": token},
                               json={"name": "standby.sync", "params": {}})
            assert busy.status_code == 409

            running_progress: list[dict[str, Any]] = []
            node_progress: list[dict[str, Any]] = []
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                result = client.get(f"/v1/commands/{started['id']}",
                                    params={"agent_token": token}).json()
                if result["command_status"] != "RUNNING":
                    break
                progress = (result["command_result"] or {}).get("progress") or {}
                if 0 < (progress.get("bytes_done") or 0) < len(IMAGE):
                    running_progress.append(progress)
                seen = internal_info(ingot_server, uuid).get("agent_progress") or {}
                if 0 < (seen.get("bytes_done") or 0) < len(IMAGE):
                    node_progress.append(seen)
                time.sleep(0.05)
            assert result["command_status"] == "SUCCEEDED", result
            assert result["command_result"]["result"].startswith(
                "prepare_image: image (disk.raw) written to device")
            assert running_progress and running_progress[-1]["bytes_total"] == len(IMAGE)
            assert running_progress[-1]["bytes_per_second"] > 0
            assert node_progress, "no partial progress reached the node through heartbeats"
            assert target.read_bytes() == IMAGE

            def final_progress() -> bool:
                seen = internal_info(ingot_server, uuid).get("agent_progress") or {}
                return seen.get("stage") == "done"
            wait_until(final_progress, 10, "final progress in a heartbeat", interval=0.1)
            done = internal_info(ingot_server, uuid)["agent_progress"]
            assert (done["bytes_done"], done["bytes_total"]) == (len(IMAGE), len(IMAGE))

            listed = client.get("/v1/commands/", params={"agent_token": token}).json()
            assert [c["id"] for c in listed["commands"]] == [started["id"]]
            uuids = run_command(client, token, "standby.get_partition_uuids", {})
            assert uuids["command_status"] == "SUCCEEDED"
            assert uuids["command_result"]["root uuid"].startswith("0x")

            steps = run_command(client, token, "clean.get_clean_steps",
                                {"node": {}, "ports": []})
            manager_steps = next(iter(steps["command_result"]["clean_steps"].values()))
            assert [s["step"] for s in manager_steps] == ["erase_devices_metadata"]
            erased = run_command(client, token, "clean.execute_clean_step",
                                 {"step": manager_steps[0], "node": {}, "ports": [],
                                  "clean_version": steps["command_result"]
                                  ["hardware_manager_version"]}, wait=True)
            assert erased["command_status"] == "SUCCEEDED", erased
            assert target.read_bytes()[:1 << 20] == bytes(1 << 20)

            off = run_command(client, token, "standby.power_off", {})
            assert off["command_status"] in ("RUNNING", "SUCCEEDED")
        agent.popen.wait(timeout=15)
        assert agent.popen.returncode == 0
        log = agent.log()
        assert token not in log and "SECRETSIG" not in log
    except subprocess.TimeoutExpired:
        pytest.fail(f"the agent did not stop after power_off:\n{agent.log()}")
    finally:
        agent.stop()


def test_run_image_ends_the_agent_for_a_reboot(
        ingot_server: IngotServer, tmp_path: pathlib.Path) -> None:
    """The exit code tells the ramdisk's /init to reboot rather than power off."""
    mac = "52:54:00:aa:00:09"
    token = secrets.token_urlsafe(32)
    uuid = waiting_node(ingot_server, mac, token)
    agent, agent_url = start_agent(ingot_server, tmp_path, mac, tmp_path / "disk.img", token)
    try:
        wait_for_heartbeat(ingot_server, uuid, agent)
        with httpx.Client(base_url=agent_url, timeout=30) as client:
            reboot = run_command(client, token, "standby.run_image", {})
            assert reboot["command_status"] in ("RUNNING", "SUCCEEDED")
        agent.popen.wait(timeout=15)
        assert agent.popen.returncode == EXIT_REBOOT
    finally:
        agent.stop()
